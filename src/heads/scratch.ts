/**
 * Reusable float buffers for the heads' intermediate arrays. A fresh multi-megabyte Float32Array per call is
 * memory the allocator maps and the kernel faults in page by page; on small VMs (Firecracker and the like, where
 * serverless functions run) that first touch cost ~5–30 µs a page, a few tens of ms per extract. Each buffer
 * belongs to one call site (`key`) and is valid until that site asks again — callers never return one to users.
 */
const buffers = new Map<unknown, Float32Array>();

/** A buffer of at least `n` floats for `key` (contents unspecified), as a view of exactly `n`. */
export function scratch(key: unknown, n: number): Float32Array {
  let b = buffers.get(key);
  if (!b || b.length < n) {
    b = new Float32Array(Math.max(n, b ? Math.ceil(b.length * 1.5) : 0));
    buffers.set(key, b);
  }
  return b.subarray(0, n);
}

/**
 * Reusable float buffers for the heads' intermediate arrays. A fresh multi-megabyte Float32Array per call is
 * memory the allocator maps and the kernel faults in page by page; on small VMs (Firecracker and the like, where
 * serverless functions run) that first touch cost ~5–30 µs a page, a few tens of ms per extract. Each buffer
 * belongs to one call site (`key`) and is valid until that site asks again — callers never return one to users.
 * Only buffers up to RETAINED_MAX floats are kept: a long text's arrays (hundreds of MB at thousands of words) are
 * allocated fresh and left to the garbage collector, so one long call does not pin its memory for good.
 */
const buffers = new Map<unknown, Float32Array>();

/** 8 MiB: the span hidden layer of a ~56-word text (words × 12 widths × 3,072 floats at base size). */
export const RETAINED_MAX = 1 << 21;

/** A buffer of `n` floats for `key` (contents unspecified). */
export function scratch(key: unknown, n: number): Float32Array {
  if (n > RETAINED_MAX) return new Float32Array(n);
  let b = buffers.get(key);
  if (!b || b.length < n) {
    b = new Float32Array(Math.min(RETAINED_MAX, Math.max(n, b ? Math.ceil(b.length * 1.5) : 0)));
    buffers.set(key, b);
  }
  return b.subarray(0, n);
}

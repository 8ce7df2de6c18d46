/**
 * C[M, N] = A[M, K]·B[N, K]ᵀ on the WebAssembly linear kernel: B is packed into panels (as a Linear weight with
 * no bias) inside WebAssembly memory for this one call, so any two row-major matrices can use the tiled kernel and
 * the thread pool. Worth it from a few hundred thousand multiply-adds; the caller decides (`../matmul.ts`). B (the
few field vectors, in the heads) must fit the memory whole.
 */
import { runLinear } from "./pool.js";
import { f32View, Region, type KernelVariant } from "./runtime.js";
import { WASM_PANEL } from "./kernels.js";
import { ioBlockRows } from "./linear.js";

const io = new Region();

export const align64 = (bytes: number) => ((bytes + 63) >> 6) << 6;

export function wasmMatmulTransB(v: KernelVariant, a: Float32Array, b: Float32Array, M: number, K: number, N: number, out?: Float32Array): Float32Array {
  // A's rows go through in blocks (ioBlockRows), so a long text does not grow the memory for good.
  const rowsOfA = (ptr: number, m0: number, n: number) => f32View(ptr, n * K).set(a.subarray(m0 * K, (m0 + n) * K));
  return wasmRowsTimesTransB(v, M, K, b, N, Math.min(M, ioBlockRows(K + N)), rowsOfA, out);
}

/**
 * C[M, N] = A·Bᵀ with A's rows written into WebAssembly memory `block` at a time by `rowsInto(ptr, m0, n)` (rows
 * [m0, m0 + n), row stride K): B is packed once, each block runs on the linear kernel (threads when a pool runs).
 * `wasmMatmulTransB` copies A's rows in; the span scores (./spanDots.ts) compute them there instead.
 */
export function wasmRowsTimesTransB(
  v: KernelVariant,
  M: number,
  K: number,
  b: Float32Array,
  N: number,
  block: number,
  rowsInto: (ptr: number, m0: number, n: number) => void,
  out?: Float32Array,
): Float32Array {
  const c = out ?? new Float32Array(M * N);
  if (M === 0 || N === 0) return c;
  const aBytes = align64(block * K * 4);
  const bBytes = align64(N * K * 4);
  const packedBytes = align64(Math.ceil(N / WASM_PANEL) * WASM_PANEL * K * 4);
  const base = io.get(aBytes + bBytes + packedBytes + block * N * 4);
  const aPtr = base, bPtr = base + aBytes, packed = bPtr + bBytes, cPtr = packed + packedBytes;
  f32View(bPtr, N * K).set(b.subarray(0, N * K));
  v.exports.packRows(bPtr, K, N, K, packed);
  for (let m0 = 0; m0 < M; m0 += block) {
    const n = Math.min(block, M - m0);
    rowsInto(aPtr, m0, n);
    runLinear(v, aPtr, K, n, K, packed, 0, cPtr, N, N, Math.ceil(N / v.tileWidth));
    c.set(f32View(cPtr, n * N), m0 * N);
  }
  return c;
}

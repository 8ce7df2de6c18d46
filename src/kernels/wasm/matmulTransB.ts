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

const align64 = (bytes: number) => ((bytes + 63) >> 6) << 6;

export function wasmMatmulTransB(v: KernelVariant, a: Float32Array, b: Float32Array, M: number, K: number, N: number, out?: Float32Array): Float32Array {
  const c = out ?? new Float32Array(M * N);
  if (M === 0 || N === 0) return c;
  // B packed once; A's rows go through in blocks (ioBlockRows), so a long text does not grow the memory for good.
  const block = Math.min(M, ioBlockRows(K + N));
  const aBytes = align64(block * K * 4);
  const bBytes = align64(N * K * 4);
  const packedBytes = align64(Math.ceil(N / WASM_PANEL) * WASM_PANEL * K * 4);
  const base = io.get(aBytes + bBytes + packedBytes + block * N * 4);
  const aPtr = base, bPtr = base + aBytes, packed = bPtr + bBytes, cPtr = packed + packedBytes;
  f32View(bPtr, N * K).set(b.subarray(0, N * K));
  v.exports.packRows(bPtr, K, N, K, packed);
  for (let m0 = 0; m0 < M; m0 += block) {
    const n = Math.min(block, M - m0);
    f32View(aPtr, n * K).set(a.subarray(m0 * K, (m0 + n) * K));
    runLinear(v, aPtr, K, n, K, packed, 0, cPtr, N, N, Math.ceil(N / v.tileWidth));
    c.set(f32View(cPtr, n * N), m0 * N);
  }
  return c;
}

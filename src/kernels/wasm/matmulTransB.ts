/**
 * C[M, N] = A[M, K]·B[N, K]ᵀ on the WebAssembly linear kernel: B is packed into panels (as a Linear weight with
 * no bias) inside WebAssembly memory for this one call, so any two row-major matrices can use the tiled kernel and
 * the thread pool. Worth it from a few hundred thousand multiply-adds; the caller decides (`../matmul.ts`).
 */
import { runLinear } from "./pool.js";
import { f32View, Region, type KernelVariant } from "./runtime.js";
import { WASM_PANEL } from "./kernels.js";

const io = new Region();

const align64 = (bytes: number) => ((bytes + 63) >> 6) << 6;

export function wasmMatmulTransB(v: KernelVariant, a: Float32Array, b: Float32Array, M: number, K: number, N: number, out?: Float32Array): Float32Array {
  const c = out ?? new Float32Array(M * N);
  if (M === 0 || N === 0) return c;
  const aBytes = align64(M * K * 4);
  const bBytes = align64(N * K * 4);
  const packedBytes = align64(Math.ceil(N / WASM_PANEL) * WASM_PANEL * K * 4);
  const base = io.get(aBytes + bBytes + packedBytes + M * N * 4);
  const aPtr = base, bPtr = base + aBytes, packed = bPtr + bBytes, cPtr = packed + packedBytes;
  f32View(aPtr, M * K).set(a.subarray(0, M * K));
  f32View(bPtr, N * K).set(b.subarray(0, N * K));
  v.exports.packRows(bPtr, K, N, K, packed);
  runLinear(v, aPtr, K, M, K, packed, 0, cPtr, N, N, Math.ceil(N / v.tileWidth));
  c.set(f32View(cPtr, M * N));
  return c;
}

/**
 * Wᵀ applied to float rows on the WebAssembly kernel `transposed` (./transposedKernel.ts), for a layer packed in
 * WebAssembly memory — float32 panels (./linear.ts) or int8 panels (./int8.ts) — without a transposed copy:
 * u[r, k] = Σ_n a[r, n]·W[n, k], float32 products and sums in order of n, a = x (float32) or f32(x·scale[n])
 * (int8, W = q). The rows go into WebAssembly memory with their columns padded to whole panels; the kernel sums
 * the inputs k below a multiple of 8 over whole panels, split over the threads; what it leaves (the last K mod 8
 * inputs, and a float32 layer's last partial panel, whose padding is not guaranteed zero) is summed here from the
 * same panels in the same order. The same bits as the references (../matmul.ts, ../int8.ts `transposedTimes`).
 */
import type { PackedLinear } from "../matmul.js";
import type { Int8Linear } from "../int8.js";
import { packedAt } from "./int8.js";
import { I8_PANEL } from "./int8Kernels.js";
import { WASM_PANEL } from "./kernels.js";
import { runTransposed, wasmPoolThreads } from "./pool.js";
import { f32View, i8View, Region, wasmRuntime, type KernelVariant } from "./runtime.js";

const region = new Region();

export function wasmTransposedTimes(v: KernelVariant, layer: PackedLinear, x: Float32Array, rows: number, out: Float32Array): Float32Array {
  const N = layer.outFeatures;
  const K = layer.inFeatures;
  const int8 = (layer as Int8Linear).wasmInt8;
  const panels = Math.ceil(N / WASM_PANEL); // = I8_PANEL
  const N16 = panels * WASM_PANEL;
  // Features the kernel sums: whole panels (an int8 layer's padding is zeros; a float32 layer's last partial
  // panel is left to the loop below).
  const Nw = int8 ? N16 : Math.floor(N / WASM_PANEL) * WASM_PANEL;
  const K8 = K & ~7;
  const aBytes = rows * N16 * 4;
  const uBytes = (rows * K8 * 4 + 63) & ~63;
  const gatherBytes = N16 * 32; // one thread's W[n, k…k+7] for every n (a multiple of 64)
  const ap = region.get(aBytes + uBytes + wasmPoolThreads() * gatherBytes);
  const up = ap + aBytes;
  const a = f32View(ap, rows * N16);
  a.fill(0);
  if (int8) {
    const scales = f32View(int8.scales, N);
    for (let r = 0; r < rows; r++) for (let n = 0; n < N; n++) a[r * N16 + n] = x[r * N + n] * scales[n];
  } else {
    for (let r = 0; r < rows; r++) a.set(x.subarray(r * N, r * N + N), r * N16);
  }
  const w = int8 ? int8.w : layer.wasm!.w;
  if (K8 > 0 && Nw > 0) runTransposed(v, ap, N16, rows, Nw, w, int8 ? int8.Kp * I8_PANEL : K * WASM_PANEL * 4, up, K8, K8 >> 3, !int8, up + uBytes, gatherBytes);
  else f32View(up, rows * K8).fill(0);
  const u = f32View(up, rows * K8);
  for (let r = 0; r < rows; r++) out.set(u.subarray(r * K8, r * K8 + K8), r * K);
  // W[n, k] from the panels
  let at: (n: number, k: number) => number;
  if (int8) {
    const q = i8View(int8.w, panels * int8.Kp * I8_PANEL);
    const quads = wasmRuntime()!.int8Quads;
    at = (n, k) => q[packedAt(quads, int8.Kp, n, k)];
  } else {
    const f = f32View(w, panels * K * WASM_PANEL);
    at = (n, k) => f[(Math.floor(n / WASM_PANEL) * K + k) * WASM_PANEL + (n % WASM_PANEL)];
  }
  for (let r = 0; r < rows; r++) {
    const o = r * K;
    out.fill(0, o + K8, o + K);
    for (let n = 0; n < N; n++) {
      const an = a[r * N16 + n];
      // the kernel's columns: the features it did not sum, after the ones it did; the last K mod 8: every feature
      if (n >= Nw) for (let k = 0; k < K8; k++) out[o + k] = Math.fround(out[o + k] + Math.fround(an * at(n, k)));
      for (let k = K8; k < K; k++) out[o + k] = Math.fround(out[o + k] + Math.fround(an * at(n, k)));
    }
  }
  return out;
}

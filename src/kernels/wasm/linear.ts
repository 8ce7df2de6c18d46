/**
 * Linear layers on the WebAssembly kernels: weights packed straight into WebAssembly memory at load (panels of 16
 * output features, see ./kernels.ts), and `linear()` on ordinary Float32Arrays by copying the activations in and
 * out (O(rows·(K + N)) next to the O(rows·K·N) product). The encoder avoids even that copy by keeping its
 * activations in WebAssembly memory and calling `linearAt`.
 */
import type { PackedLinear } from "../matmul.js";
import { runLinear } from "./pool.js";
import { f32View, Region, wasmAlloc, type KernelVariant } from "./runtime.js";
import { WASM_PANEL } from "./kernels.js";
import { linearInt8At } from "./int8.js";
import type { Int8Linear } from "../int8.js";

/** Where a layer's weights live in WebAssembly memory (byte addresses; bias 0 = none). */
export interface WasmPacked {
  readonly w: number;
  readonly bias: number;
}

/**
 * Pack `weight [N, K]` (+ bias) into WebAssembly memory, writing each panel in order (sixteen strided reads, one
 * sequential run of writes per k). Panel rows past N stay zero: fresh WebAssembly memory is zeroed.
 */
export function packWasm(weight: Float32Array, N: number, K: number, bias: Float32Array | null): WasmPacked {
  const panels = Math.ceil(N / WASM_PANEL);
  const w = wasmAlloc(panels * K * WASM_PANEL * 4);
  const b = bias ? wasmAlloc(panels * WASM_PANEL * 4) : 0;
  const dst = f32View(w, panels * K * WASM_PANEL);
  const full = Math.floor(N / WASM_PANEL);
  let o = 0;
  for (let p = 0; p < full; p++) {
    const r = p * WASM_PANEL * K;
    for (let k = 0; k < K; k++, o += 16) {
      const q = r + k;
      dst[o] = weight[q]; dst[o + 1] = weight[q + K]; dst[o + 2] = weight[q + 2 * K]; dst[o + 3] = weight[q + 3 * K];
      dst[o + 4] = weight[q + 4 * K]; dst[o + 5] = weight[q + 5 * K]; dst[o + 6] = weight[q + 6 * K]; dst[o + 7] = weight[q + 7 * K];
      dst[o + 8] = weight[q + 8 * K]; dst[o + 9] = weight[q + 9 * K]; dst[o + 10] = weight[q + 10 * K]; dst[o + 11] = weight[q + 11 * K];
      dst[o + 12] = weight[q + 12 * K]; dst[o + 13] = weight[q + 13 * K]; dst[o + 14] = weight[q + 14 * K]; dst[o + 15] = weight[q + 15 * K];
    }
  }
  // The last, partial panel.
  for (let n = full * WASM_PANEL; n < N; n++) {
    const base = full * K * WASM_PANEL + (n % WASM_PANEL);
    for (let k = 0; k < K; k++) dst[base + k * WASM_PANEL] = weight[n * K + k];
  }
  if (bias) f32View(b, N).set(bias);
  return { w, bias: b };
}

/** Unpack back to `[N, K]` (for the JS kernels when the backend changes after loading). */
export function unpackWasm(p: WasmPacked, N: number, K: number): Float32Array {
  const src = f32View(p.w, Math.ceil(N / WASM_PANEL) * K * WASM_PANEL);
  const out = new Float32Array(N * K);
  for (let n = 0; n < N; n++) {
    const base = Math.floor(n / WASM_PANEL) * K * WASM_PANEL + (n % WASM_PANEL);
    for (let k = 0; k < K; k++) out[n * K + k] = src[base + k * WASM_PANEL];
  }
  return out;
}

/**
 * y (row stride ldy) = x (row stride ldx) · Wᵀ + b, pointers into WebAssembly memory; threads when a pool runs.
 * int8 layers packed for WebAssembly (./int8.ts) run the int8 kernel.
 */
export function linearAt(v: KernelVariant, x: number, ldx: number, rows: number, layer: PackedLinear, y: number, ldy: number, gelu = false): void {
  const i8 = layer as Int8Linear;
  if (i8.wasmInt8) return linearInt8At(v, x, ldx, rows, i8, y, ldy, gelu);
  const p = layer.wasm!;
  const N = layer.outFeatures;
  runLinear(v, x, ldx, rows, layer.inFeatures, p.w, p.bias, y, ldy, N, Math.ceil(N / v.tileWidth), gelu);
}

const io = new Region();

/**
 * Bytes of activations (input + output rows) copied into WebAssembly memory per kernel call. WebAssembly memory is
 * never given back, so a long text's rows go through in blocks rather than growing it by their whole size.
 */
export const IO_BLOCK_BYTES = 8 << 20;

/** Rows per block when each row takes `floatsPerRow` floats of the I/O region (at least 1). */
export function ioBlockRows(floatsPerRow: number): number {
  return Math.max(1, Math.floor(IO_BLOCK_BYTES / (4 * Math.max(1, floatsPerRow))));
}

/** linear() on Float32Arrays through WebAssembly memory, in blocks of rows. */
export function wasmLinear(v: KernelVariant, x: Float32Array, rows: number, layer: PackedLinear, out?: Float32Array): Float32Array {
  const K = layer.inFeatures;
  const N = layer.outFeatures;
  if (x.length < rows * K) throw new RangeError(`linear: input has ${x.length} values, expected ${rows}×${K}`);
  const y = out ?? new Float32Array(rows * N);
  if (rows === 0) return y;
  const block = Math.min(rows, ioBlockRows(K + N));
  const xBytes = ((block * K * 4 + 63) >> 6) << 6;
  const base = io.get(xBytes + block * N * 4);
  for (let r0 = 0; r0 < rows; r0 += block) {
    const n = Math.min(block, rows - r0);
    f32View(base, n * K).set(x.subarray(r0 * K, (r0 + n) * K));
    linearAt(v, base, K, n, layer, base + xBytes, N);
    y.set(f32View(base + xBytes, n * N), r0 * N);
  }
  return y;
}

/**
 * int8 linear layers on the WebAssembly kernels (./int8Kernels.ts): weights packed into WebAssembly memory at load
 * (int8 panels, half the bytes of an i16 layout), activations quantized per row in WebAssembly, exact i32 sums, the
 * reference's double-precision rescale — outputs identical to `linearInt8Reference` (../int8.ts).
 */
import type { Int8Linear, Int8Rows } from "../int8.js";
import { I8_PANEL } from "./int8Kernels.js";
import { runLinearI8 } from "./pool.js";
import { f32View, i16View, i32View, i8View, Region, wasmAlloc, wasmRuntime, type KernelVariant } from "./runtime.js";

/** Where an int8 layer lives in WebAssembly memory (byte addresses); scales and bias padded to whole panels. */
export interface WasmInt8Packed {
  readonly w: number;
  readonly scales: number;
  /** Always set: zeros for a layer without bias (the reference adds 0 too). */
  readonly bias: number;
  /** K rounded up to even (pairs layout) or to a multiple of 4 (quads). */
  readonly Kp: number;
}

/** Row stride of packed int8 weights and quantized activations for K inputs, in the runtime's int8 layout. */
function paddedK(K: number): number {
  return wasmRuntime()!.int8Quads ? (K + 3) & ~3 : (K + 1) & ~1;
}

/**
 * Byte offset of W[n, k] in the packed panels (layouts in ./int8Kernels.ts): both keep g = 2 (pairs) or 4 (quads)
 * consecutive inputs of a feature side by side, four features to a group and four groups to a block of g inputs.
 */
export function packedAt(quads: boolean, Kp: number, n: number, k: number): number {
  const s = quads ? 2 : 1; // log2 g
  return (n >> 4) * Kp * I8_PANEL + (k >> s) * (16 << s) + ((n & 15) >> 2) * (4 << s) + ((n & 3) << s) + (k & ((1 << s) - 1));
}

/** Pack int8 weights `[N, K]` (+ bias) into WebAssembly memory (layout in ./int8Kernels.ts). */
export function packWasmInt8(m: Int8Rows, bias: Float32Array | null): WasmInt8Packed {
  const N = m.rows;
  const K = m.cols;
  const quads = wasmRuntime()!.int8Quads;
  const Kp = paddedK(K);
  const panels = Math.ceil(N / I8_PANEL);
  const w = wasmAlloc(panels * Kp * I8_PANEL);
  // quads: the column sums Σk W[n, k] (i32) follow the scales
  const scales = wasmAlloc(panels * I8_PANEL * 4 * (quads ? 2 : 1));
  const b = wasmAlloc(panels * I8_PANEL * 4);
  const dst = i8View(w, panels * Kp * I8_PANEL);
  const src = m.q;
  // packedAt(n, k) = packedAt(n, 0) + (k >> s)·(16 << s) + (k & (g − 1)), hoisted per row
  const s = quads ? 2 : 1;
  const block = 16 << s;
  const within = (1 << s) - 1;
  const g = 1 << s;
  if (K % g === 0 && src.byteOffset % g === 0) {
    // A row's g bytes for one group are adjacent in both layouts: move them as one 32-bit (quads) or 16-bit
    // (pairs) word (~3× faster than byte by byte; every base below is a multiple of g, and w of 64).
    const words = src.length / g;
    const from = quads ? new Int32Array(src.buffer, src.byteOffset, words) : new Int16Array(src.buffer, src.byteOffset, words);
    const to = quads ? i32View(w, (panels * Kp * I8_PANEL) / 4) : i16View(w, (panels * Kp * I8_PANEL) / 2);
    const step = 16; // words from one group of g inputs to the next within a panel: (16 << s) bytes / g
    for (let n = 0; n < N; n++) {
      const row = (n * K) / g;
      const base = packedAt(quads, Kp, n, 0) / g;
      for (let k = 0; k < K / g; k++) to[base + k * step] = from[row + k];
    }
  } else {
    for (let n = 0; n < N; n++) {
      const row = n * K;
      const base = packedAt(quads, Kp, n, 0);
      for (let k = 0; k < K; k++) dst[base + (k >> s) * block + (k & within)] = src[row + k];
    }
  }
  f32View(scales, N).set(m.scales.subarray(0, N));
  if (quads) {
    const sums = i32View(scales + panels * I8_PANEL * 4, N);
    for (let n = 0; n < N; n++) {
      let t = 0;
      for (let k = 0; k < K; k++) t += src[n * K + k];
      sums[n] = t;
    }
  }
  if (bias) f32View(b, N).set(bias);
  return { w, scales, bias: b, Kp };
}

/** The row-major int8 weights back from the panels (for the reference kernel). */
export function unpackWasmInt8(p: WasmInt8Packed, N: number, K: number): Int8Rows {
  const src = i8View(p.w, Math.ceil(N / I8_PANEL) * p.Kp * I8_PANEL);
  const quads = wasmRuntime()!.int8Quads;
  const q = new Int8Array(N * K);
  for (let n = 0; n < N; n++) for (let k = 0; k < K; k++) q[n * K + k] = src[packedAt(quads, p.Kp, n, k)];
  return { rows: N, cols: K, q, scales: f32View(p.scales, N).slice() };
}

const scratch = new Region();

/**
 * y (row stride ldy) = int8 linear of x (row stride ldx), pointers into WebAssembly memory. The activations are
 * quantized on this thread into a reused scratch region, the product is split over the pool's threads.
 */
export function linearInt8At(v: KernelVariant, x: number, ldx: number, rows: number, layer: Int8Linear, y: number, ldy: number, gelu = false): void {
  const p = layer.wasmInt8!;
  const K = layer.inFeatures;
  const qBytes = ((rows * p.Kp * 2 + 63) >> 6) << 6;
  const q = scratch.get(qBytes + rows * 4);
  const sx = q + qBytes;
  v.exports.quantRows(x, ldx, rows, K, p.Kp, q, sx);
  runLinearI8(v, q, sx, rows, p.Kp, p.w, p.scales, p.bias, y, ldy, layer.outFeatures, Math.ceil(layer.outFeatures / I8_PANEL), gelu);
}

const quantRegion = new Region();

/** Floats per block of rows copied in for `quantW8` (1 MiB of input, kept in WebAssembly memory for the process
 * like every scratch region; the block's int8 output follows it). */
const QUANT_BLOCK = 1 << 18;

/**
 * `quantizeRows` (../int8.ts) on the WebAssembly kernel `quantW8`: blocks of rows are copied into WebAssembly
 * memory, quantized there and copied out. The same bytes as the reference. Returns the first row holding a
 * non-finite value (its scale comes back NaN; the caller reports it), or −1.
 */
export function wasmQuantizeRows(v: KernelVariant, src: Float32Array, rows: number, cols: number, q: Int8Array, scales: Float32Array): number {
  const blockRows = Math.max(1, Math.floor(QUANT_BLOCK / Math.max(cols, 1)));
  const n0 = Math.min(rows, blockRows);
  const inBytes = (n0 * cols * 4 + 63) & ~63;
  const qBytes = (n0 * cols + 63) & ~63;
  const base = quantRegion.get(inBytes + qBytes + n0 * 4);
  const qP = base + inBytes;
  const sP = qP + qBytes;
  for (let r0 = 0; r0 < rows; r0 += blockRows) {
    const n = Math.min(blockRows, rows - r0);
    f32View(base, n * cols).set(src.subarray(r0 * cols, (r0 + n) * cols));
    v.exports.quantW8(base, n, cols, qP, sP);
    q.set(i8View(qP, n * cols), r0 * cols);
    const s = f32View(sP, n);
    for (let r = 0; r < n; r++) if (s[r] !== s[r]) return r0 + r;
    scales.set(s, r0);
  }
  return -1;
}

/**
 * int8 linear layers (plain-TypeScript reference; a WebAssembly SIMD kernel can replace it via `setInt8Backend`).
 *
 * THE int8 LAYOUT (one place; the checkpoint format, the loader and every kernel follow it):
 *   - Weights: symmetric, per output channel (= per row of the PyTorch `[out, in]` matrix):
 *       scale[n] = max_k |W[n, k]| / 127   (1 for an all-zero row, so every scale is a positive finite float32)
 *       q[n, k]  = clamp(roundHalfEven(W[n, k] / scale[n]), −127, 127)        (−128 never occurs)
 *     stored row-major `[N, K]` as Int8Array (exactly the safetensors/PyTorch layout, so an int8 checkpoint is
 *     used without a copy), scales `[N]` as Float32Array. Row-major is the neutral layout a SIMD kernel repacks
 *     from at load (e.g. into 4-row panels of 8-value groups for `i32x4.dot_i16x8_s`).
 *   - Activations: quantized per row at run time with the same rule (dynamic, symmetric):
 *       sx[m] = f32(max_k |x[m, k]| / 127),  qx[m, k] = roundHalfEven(f32(x[m, k] · f32(1 / sx[m])))
 *       (a multiply by the float32 inverse; an all-zero row, or one whose inverse overflows: qx = 0)
 *   - Product: acc[m, n] = Σ_k qx[m, k] · q[n, k] computed EXACTLY as an integer (|acc| ≤ K · 127², below 2³¹ for
 *     K < 133,000, so int32 accumulation never overflows), then ONE float rescale per output:
 *       y[m, n] = acc · (sx[m] · scale[n]) + bias[n]     (double precision here, rounded to float32 on store).
 *
 * The same per-row rule quantizes embedding tables (`Int8Rows`): row r ≈ q[r, ·] · scale[r], dequantized on lookup.
 *
 * Under a WebAssembly backend ("auto"/"wasm"/"wasm-relaxed" when SIMD is there) `int8Linear` also packs the layer
 * into WebAssembly memory and the default kernel runs it there (./wasm/int8.ts): same quantization, same exact
 * sums, same double-precision rescale, so outputs are identical to `linearInt8Reference`.
 */
import type { PackedLinear } from "./matmul.js";
import { roundHalfEven } from "./activations.js";
import { activeVariant } from "./backend.js";
import { packWasmInt8, unpackWasmInt8, wasmQuantizeRows, type WasmInt8Packed } from "./wasm/int8.js";
import { wasmTransposedTimes } from "./wasm/transposed.js";
import { wasmLinear } from "./wasm/linear.js";

/** A matrix `[rows, cols]` stored int8 with one scale per row (value ≈ q · scale[row]). */
export interface Int8Rows {
  readonly rows: number;
  readonly cols: number;
  /** Row-major `[rows, cols]`, values in [−127, 127]. */
  readonly q: Int8Array;
  /** `[rows]`, positive and finite. */
  readonly scales: Float32Array;
}

/** max |src[o … o + n)|, NaN when a value is NaN (it compares false, so it is caught separately). */
function rowAbsMax(src: Float32Array, o: number, n: number): number {
  let amax = 0;
  for (let k = 0; k < n; k++) {
    const a = Math.abs(src[o + k]);
    if (a > amax) amax = a;
    else if (a !== a) amax = NaN;
  }
  return amax;
}

/**
 * The per-row rule with `limit` = 127 (int8) or 32767 (int16): scale = fround(amax / limit), q = roundHalfEven(x /
 * scale) clamped to ±limit. A non-finite row throws a RangeError naming `name`; a row whose float32 scale
 * underflows to 0 gets scale 1 and zeros.
 */
function quantizeRowsTo(name: string, limit: number, src: Float32Array, rows: number, cols: number, q: Int8Array | Int16Array, scales: Float32Array): void {
  for (let r = 0; r < rows; r++) {
    const o = r * cols;
    const amax = rowAbsMax(src, o, cols);
    if (!Number.isFinite(amax)) throw new RangeError(`${name}: row ${r} holds a non-finite value`);
    const scale = amax > 0 ? Math.fround(amax / limit) : 1;
    scales[r] = scale > 0 ? scale : 1;
    if (!(scale > 0)) {
      q.fill(0, o, o + cols);
      continue;
    }
    // min/max rather than a conditional chain: ~2× faster in V8 here (the clamp only bites for subnormal scales)
    for (let k = 0; k < cols; k++) q[o + k] = Math.min(Math.max(roundHalfEven(src[o + k] / scale), -limit), limit);
  }
}

/**
 * Quantize `rows` rows of `cols` values (row-major) with the per-row rule above. `src` may be a view into a file
 * buffer: nothing keeps a reference to it. Written into `q` and `scales` when given (views into a larger result).
 */
export function quantizeRows(src: Float32Array, rows: number, cols: number, q: Int8Array = new Int8Array(rows * cols), scales: Float32Array = new Float32Array(rows)): Int8Rows {
  if (src.length < rows * cols) throw new RangeError(`quantizeRows: ${src.length} values, expected ${rows}×${cols}`);
  if (q.length < rows * cols || scales.length < rows) throw new RangeError(`quantizeRows: output holds ${q.length} values and ${scales.length} scales, expected ${rows}×${cols} and ${rows}`);
  // Under a WebAssembly backend large matrices (weights at load) take the SIMD kernel: same bytes, ~6× faster.
  const v = rows * cols >= 1 << 14 ? activeVariant() : null;
  if (v) {
    const bad = wasmQuantizeRows(v, src, rows, cols, q, scales);
    if (bad >= 0) throw new RangeError(`quantizeRows: row ${bad} holds a non-finite value`);
  } else quantizeRowsTo("quantizeRows", 127, src, rows, cols, q, scales);
  return { rows, cols, q, scales };
}

/**
 * The per-row rule at 16 bits (scale = fround(amax / 32767), q = roundHalfEven(x / scale) in [−32767, 32767]):
 * the int8 encoder's position tables (src/model/deberta.ts), whose error is then ~1e-5 of each row's largest value.
 */
export function quantizeRows16(src: Float32Array, rows: number, cols: number, q: Int16Array, scales: Float32Array): void {
  quantizeRowsTo("quantizeRows16", 32767, src, rows, cols, q, scales);
}

/** Back to float32 (tests, and tensors a checkpoint stores int8 but the model needs as floats). */
export function dequantizeRows(m: Int8Rows, out: Float32Array = new Float32Array(m.rows * m.cols)): Float32Array {
  for (let r = 0; r < m.rows; r++) {
    const s = m.scales[r];
    const o = r * m.cols;
    for (let k = 0; k < m.cols; k++) out[o + k] = m.q[o + k] * s;
  }
  return out;
}

/** Row `r` of an int8 table, dequantized into `dst` at `offset` (embedding lookup). */
export function dequantizeRow(m: Int8Rows, r: number, dst: Float32Array, offset: number): void {
  const s = m.scales[r];
  const o = r * m.cols;
  for (let k = 0; k < m.cols; k++) dst[offset + k] = m.q[o + k] * s;
}

/** A Linear layer whose weights are int8; `linear()` dispatches on the `int8` field before anything else. */
export interface Int8Linear extends PackedLinear {
  readonly int8: Int8Rows;
  /** The same weights packed for the WebAssembly int8 kernel (set when packed under a wasm backend). */
  readonly wasmInt8?: WasmInt8Packed;
}

const NO_PACKED = new Float32Array(0);

/** Wrap int8 weights `[N, K]` (+ optional float bias `[N]`) as a layer `linear()` runs. */
export function int8Linear(weights: Int8Rows, bias: Float32Array | null = null): Int8Linear {
  if (bias && bias.length !== weights.rows) throw new RangeError(`int8Linear: bias has ${bias.length} values, expected ${weights.rows}`);
  // `packed` stays empty: no float copy of the weights exists.
  const base = { outFeatures: weights.rows, inFeatures: weights.cols, packed: NO_PACKED, bias };
  if (!activeVariant()) return { ...base, int8: weights };
  // Under a wasm backend the weights live in WebAssembly memory only; the row-major copy (the reference kernel's,
  // e.g. after a switch to "js") is rebuilt from the panels on first use instead of being kept twice.
  const wasmInt8 = packWasmInt8(weights, bias);
  const { rows: N, cols: K } = weights;
  let rows: Int8Rows | null = null;
  return {
    ...base,
    wasmInt8,
    get int8() {
      return (rows ??= unpackWasmInt8(wasmInt8, N, K));
    },
  };
}

/** Is `layer` an int8 layer? (`in`, not a read: a wasm-packed layer's `int8` is a getter that unpacks.) */
export function isInt8(layer: PackedLinear): layer is Int8Linear {
  return "int8" in layer;
}

/** Activation scratch, grown on demand and reused across calls (no per-call allocation once warm). */
let qxScratch = new Int8Array(0);
let sxScratch = new Float32Array(0);

/** Quantize activations `x [rows, K]` per row into `qx`/`sx` (the rule in the header). */
export function quantizeActivations(x: Float32Array, rows: number, K: number, qx: Int8Array, sx: Float32Array): void {
  for (let m = 0; m < rows; m++) {
    const o = m * K;
    const amax = rowAbsMax(x, o, K);
    // NaN/Infinity in the activations would poison every output: keep it visible rather than silently clamp it.
    if (!Number.isFinite(amax)) {
      sx[m] = NaN;
      qx.fill(0, o, o + K);
      continue;
    }
    const s = Math.fround(amax / 127);
    sx[m] = s;
    // A multiply by the float32 inverse instead of a division per value (what the SIMD kernel can afford).
    const inv = Math.fround(1 / s);
    if (!Number.isFinite(inv)) {
      qx.fill(0, o, o + K);
      continue;
    }
    for (let k = 0; k < K; k++) {
      const v = roundHalfEven(Math.fround(x[o + k] * inv));
      qx[o + k] = v > 127 ? 127 : v < -127 ? -127 : v;
    }
  }
}

/** y[M, N] = x[M, K] · Wᵀ + b with int8 weights, activations quantized per row, exact integer sums. */
export function linearInt8Reference(x: Float32Array, rows: number, layer: Int8Linear, out?: Float32Array): Float32Array {
  const K = layer.inFeatures;
  const N = layer.outFeatures;
  if (x.length < rows * K) throw new RangeError(`linear: input has ${x.length} values, expected ${rows}×${K}`);
  const y = out ?? new Float32Array(rows * N);
  if (qxScratch.length < rows * K) qxScratch = new Int8Array(rows * K);
  if (sxScratch.length < rows) sxScratch = new Float32Array(rows);
  const qx = qxScratch;
  const sx = sxScratch;
  quantizeActivations(x, rows, K, qx, sx);
  const { q: w, scales } = layer.int8;
  const bias = layer.bias;
  // 2 rows × 2 output channels per pass: each loaded weight feeds two rows. Products are ≤ 127² and sums stay far
  // below 2⁵³, so the JS-number accumulation is exact (the `| 0` keeps V8 on int32 arithmetic).
  let m = 0;
  for (; m + 2 <= rows; m += 2) {
    const x0 = m * K;
    const x1 = x0 + K;
    const s0 = sx[m];
    const s1 = sx[m + 1];
    let n = 0;
    for (; n + 2 <= N; n += 2) {
      const w0 = n * K;
      const w1 = w0 + K;
      let a00 = 0, a01 = 0, a10 = 0, a11 = 0;
      for (let k = 0; k < K; k++) {
        const p = qx[x0 + k];
        const r = qx[x1 + k];
        const u = w[w0 + k];
        const v = w[w1 + k];
        a00 = (a00 + p * u) | 0;
        a01 = (a01 + p * v) | 0;
        a10 = (a10 + r * u) | 0;
        a11 = (a11 + r * v) | 0;
      }
      const b0 = bias ? bias[n] : 0;
      const b1 = bias ? bias[n + 1] : 0;
      y[m * N + n] = a00 * (s0 * scales[n]) + b0;
      y[m * N + n + 1] = a01 * (s0 * scales[n + 1]) + b1;
      y[(m + 1) * N + n] = a10 * (s1 * scales[n]) + b0;
      y[(m + 1) * N + n + 1] = a11 * (s1 * scales[n + 1]) + b1;
    }
    for (; n < N; n++) {
      const w0 = n * K;
      let a0 = 0, a1 = 0;
      for (let k = 0; k < K; k++) {
        const u = w[w0 + k];
        a0 = (a0 + qx[x0 + k] * u) | 0;
        a1 = (a1 + qx[x1 + k] * u) | 0;
      }
      const b = bias ? bias[n] : 0;
      y[m * N + n] = a0 * (s0 * scales[n]) + b;
      y[(m + 1) * N + n] = a1 * (s1 * scales[n]) + b;
    }
  }
  for (; m < rows; m++) {
    const x0 = m * K;
    const s0 = sx[m];
    for (let n = 0; n < N; n++) {
      const w0 = n * K;
      let a = 0;
      for (let k = 0; k < K; k++) a = (a + qx[x0 + k] * w[w0 + k]) | 0;
      y[m * N + n] = a * (s0 * scales[n]) + (bias ? bias[n] : 0);
    }
  }
  return y;
}

/** Signature of an int8 linear implementation (the slot a WebAssembly SIMD kernel plugs into). */
export type Int8LinearKernel = (x: Float32Array, rows: number, layer: Int8Linear, out?: Float32Array) => Float32Array;

/** The default: the WebAssembly kernel for layers packed for it while a wasm backend is active, else the reference. */
export function linearInt8Auto(x: Float32Array, rows: number, layer: Int8Linear, out?: Float32Array): Float32Array {
  const v = layer.wasmInt8 ? activeVariant() : null;
  // wasmLinear copies through WebAssembly memory and dispatches int8-packed layers to the int8 kernel.
  return v ? wasmLinear(v, x, rows, layer, out) : linearInt8Reference(x, rows, layer, out);
}

let int8Backend: Int8LinearKernel = linearInt8Auto;

/**
 * Route int8 layers to another kernel; `null` restores the default (`linearInt8Auto`: WebAssembly where the layer
 * was packed for it and a wasm backend is active, else the reference). Layers keep the layout documented here.
 */
export function setInt8Backend(kernel: Int8LinearKernel | null): void {
  int8Backend = kernel ?? linearInt8Auto;
}

/**
 * Whether int8 layers run the default kernel. The WebAssembly encoder forward calls the WebAssembly int8 kernel
 * directly (its activations never leave WebAssembly memory), so it only runs int8 layers while this holds: a
 * kernel set with `setInt8Backend` is always honoured (the encoder then takes the js forward).
 */
export function int8KernelIsDefault(): boolean {
  return int8Backend === linearInt8Auto;
}

/** The int8 kernel in use (what `linear()` calls for an int8 layer). */
export function linearInt8(x: Float32Array, rows: number, layer: Int8Linear, out?: Float32Array): Float32Array {
  return int8Backend(x, rows, layer, out);
}

/**
 * Wᵀ applied to each row of `x [rows, N]` for an int8 layer W `[N, K]` (≈ q·scale per row), into `u [rows, K]`:
 *   u[r, k] = Σ_n f32(x[r, n]·scale[n])·q[n, k]
 * with float32 products and sums in order of n, starting from +0 (no activation quantization: the float rows are
 * used as they are) — the int8 case of `transposedTimes` (./matmul.ts), which checks the sizes and adds any LoRA
 * deltas. From the int8 weights themselves, no float32 copy of Wᵀ (9 MiB at base size for span scoring's W₂). On
 * the WebAssembly kernels for a layer packed there: the same bits.
 */
export function int8TransposedTimes(layer: Int8Linear, x: Float32Array, rows: number, u: Float32Array): Float32Array {
  const N = layer.outFeatures;
  const K = layer.inFeatures;
  const v = layer.wasmInt8 ? activeVariant() : null;
  if (v) return wasmTransposedTimes(v, layer, x, rows, u);
  const { q, scales } = layer.int8;
  u.fill(0, 0, rows * K);
  for (let r = 0; r < rows; r++) {
    const o = r * K;
    for (let n = 0; n < N; n++) {
      const a = Math.fround(x[r * N + n] * scales[n]);
      const w = n * K;
      for (let k = 0; k < K; k++) u[o + k] = Math.fround(u[o + k] + Math.fround(a * q[w + k]));
    }
  }
  return u;
}

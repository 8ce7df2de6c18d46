/**
 * Matrix products on row-major Float32Array.
 *
 * Linear layers (`y = x·Wᵀ + b`, W stored `[out, in]` as in PyTorch) pack their weights once at load into
 * panels, then `linear()` runs a register-blocked micro-kernel over them. A faster backend (threads, WASM SIMD,
 * int8, GPU) can slot in behind these same functions; this file stays the readable reference.
 *
 * Packed layout (PANEL = 4 output features per panel, zero-padded at the end):
 *   packed[(p·K + k)·PANEL + j] = W[p·PANEL + j, k]
 * so the inner loop over k reads one contiguous run of PANEL weights per step, and a 4-row × 4-column tile of the
 * output stays in 16 local accumulators.
 *
 * The reference arithmetic, shared by every product here and by the WebAssembly kernels (./wasm/kernels.ts):
 * float32 throughout, as PyTorch computes. An output starts from its bias (or 0); k runs in blocks of
 * REFERENCE_BLOCK = 256 terms; each block is summed from zero in k order, every product and every partial sum
 * rounded to float32 (`Math.fround`; rounding a double sum or product of two floats once to float32 gives exactly
 * the float32 operation), and the block's sum is then added to the output. The block sums keep the float32 error
 * growing with 256 + K/256 terms rather than K. Because the plain-SIMD kernel performs these same operations in
 * this same order, its results equal this file's bit for bit, in every engine; relaxed SIMD's fused multiply-add
 * skips the product's rounding, so its last bits differ.
 */

import { int8TransposedTimes, isInt8, linearInt8 } from "./int8.js";
import { activeVariant } from "./backend.js";
import { packWasm, unpackWasm, wasmLinear, type WasmPacked } from "./wasm/linear.js";
import { wasmMatmulTransB } from "./wasm/matmulTransB.js";
import { wasmTransposedTimes } from "./wasm/transposed.js";

/** Output features per packed panel. */
export const PANEL = 4;

/** A Linear layer's weights, packed once at load time. */
export interface PackedLinear {
  /** Output features (N). */
  readonly outFeatures: number;
  /** Input features (K). */
  readonly inFeatures: number;
  /** Panel-packed weights, `ceil(N / PANEL) · K · PANEL` values (layout above). */
  readonly packed: Float32Array;
  /** Bias `[N]`, or null. */
  readonly bias: Float32Array | null;
  /**
   * Low-rank deltas added at run time (unmerged LoRA adapters, src/adapters/): `y += s·(x·Aᵀ)·Bᵀ` for each. A layer
   * with deltas is a shallow copy of the base layer sharing its packed weights, so the base stays untouched.
   */
  readonly deltas?: readonly LowRankDelta[];
  /**
   * The weights in WebAssembly memory when packed under a wasm backend (then `packed` above is derived from
   * them on first use only, for the JS kernels).
   */
  readonly wasm?: WasmPacked;
}

/**
 * The same layer (sharing its weights) with other run-time deltas. Copied by property descriptor: a wasm-packed
 * layer's `packed` is a getter that builds the JS panels, which a spread would evaluate.
 */
export function withDeltas(layer: PackedLinear, deltas: readonly LowRankDelta[] | undefined): PackedLinear {
  const out = Object.defineProperties({}, Object.getOwnPropertyDescriptors(layer)) as { deltas?: readonly LowRankDelta[] };
  if (deltas === undefined) delete out.deltas;
  else Object.defineProperty(out, "deltas", { value: deltas, enumerable: true, configurable: true });
  return out as PackedLinear;
}

/** `s·B·A` as two thin matrices: A `[rank, in]`, B `[out, rank]` (row-major, PyTorch Linear layout). */
export interface LowRankDelta {
  readonly rank: number;
  readonly a: Float32Array;
  readonly b: Float32Array;
  readonly scale: number;
}

/** Terms per block of the two-level float32 sums (see the top of this file). */
export const REFERENCE_BLOCK = 256;

let allocate: (n: number) => Float32Array = (n) => new Float32Array(n);

/** Where packed weights are allocated (the thread pool puts them in shared memory); `null` restores the default. */
export function setPackedAllocator(fn: ((n: number) => Float32Array) | null): void {
  allocate = fn ?? ((n) => new Float32Array(n));
}

/** Pack a PyTorch Linear weight `[out, in]` (+ optional bias `[out]`). */
export function packLinear(weight: Float32Array, outFeatures: number, inFeatures: number, bias: Float32Array | null = null): PackedLinear {
  if (weight.length !== outFeatures * inFeatures) {
    throw new RangeError(`packLinear: weight has ${weight.length} values, expected ${outFeatures}×${inFeatures}`);
  }
  if (bias && bias.length !== outFeatures) throw new RangeError(`packLinear: bias has ${bias.length} values, expected ${outFeatures}`);
  if (activeVariant()) return packLinearWasm(weight, outFeatures, inFeatures, bias);
  return { outFeatures, inFeatures, packed: packPanels(weight, outFeatures, inFeatures), bias };
}

/** A float layer's weight back as PyTorch's `[out, in]` (from WebAssembly memory or the JS panels). */
export function unpackLinear(layer: PackedLinear): Float32Array {
  const N = layer.outFeatures;
  const K = layer.inFeatures;
  if (layer.wasm) return unpackWasm(layer.wasm, N, K);
  const out = new Float32Array(N * K);
  const p = layer.packed;
  for (let n = 0; n < N; n++) {
    const base = Math.floor(n / PANEL) * K * PANEL + (n % PANEL);
    for (let k = 0; k < K; k++) out[n * K + k] = p[base + k * PANEL];
  }
  return out;
}

function packPanels(weight: Float32Array, outFeatures: number, inFeatures: number): Float32Array {
  const K = inFeatures;
  const panels = Math.ceil(outFeatures / PANEL);
  const packed = allocate(panels * K * PANEL);
  for (let n = 0; n < outFeatures; n++) {
    const base = Math.floor(n / PANEL) * K * PANEL + (n % PANEL);
    for (let k = 0; k < K; k++) packed[base + k * PANEL] = weight[n * K + k];
  }
  return packed;
}

/** Weights in WebAssembly memory only; the JS panel layout is rebuilt from them if a JS kernel ever asks. */
function packLinearWasm(weight: Float32Array, outFeatures: number, inFeatures: number, bias: Float32Array | null): PackedLinear {
  const wasm = packWasm(weight, outFeatures, inFeatures, bias);
  let panels: Float32Array | null = null;
  return {
    outFeatures,
    inFeatures,
    bias: bias ? bias.slice() : null,
    wasm,
    get packed() {
      return (panels ??= packPanels(unpackWasm(wasm, outFeatures, inFeatures), outFeatures, inFeatures));
    },
  };
}

/** Signature of a linear-layer implementation (the slot a faster backend plugs into). */
export type LinearKernel = (x: Float32Array, rows: number, layer: PackedLinear, out?: Float32Array) => Float32Array;

let backend: LinearKernel | null = null;

/**
 * Route every `linear()` call to another implementation (a WASM/threaded/GPU backend, or a reference kernel in a
 * benchmark); `null` restores the built-in kernel. Backends receive the same packed layers.
 */
export function setLinearBackend(kernel: LinearKernel | null): void {
  backend = kernel;
}

/** y[M, N] = x[M, K] · Wᵀ + b (+ the layer's low-rank deltas). `out` may be passed to reuse a buffer of length M·N. */
export function linear(x: Float32Array, rows: number, layer: PackedLinear, out?: Float32Array): Float32Array {
  const y = linearBase(x, rows, layer, out);
  if (layer.deltas) for (const d of layer.deltas) addLowRank(x, rows, layer.inFeatures, layer.outFeatures, d, y);
  return y;
}

/** y[M, N] += s·(x[M, K]·Aᵀ)·Bᵀ, the rank-r path of an unmerged LoRA layer (r ≪ K, N: cheap next to W). */
export function addLowRank(x: Float32Array, rows: number, K: number, N: number, d: LowRankDelta, y: Float32Array): void {
  const r = d.rank;
  const t = new Float32Array(r);
  for (let m = 0; m < rows; m++) {
    const xo = m * K;
    for (let j = 0; j < r; j++) {
      let s = 0;
      const ao = j * K;
      for (let k = 0; k < K; k++) s += x[xo + k] * d.a[ao + k];
      t[j] = s;
    }
    const yo = m * N;
    for (let n = 0; n < N; n++) {
      let s = 0;
      const bo = n * r;
      for (let j = 0; j < r; j++) s += t[j] * d.b[bo + j];
      y[yo + n] += d.scale * s;
    }
  }
}

/** u[M, K] += s·(v[M, N]·B)·A: the rank-r delta's part of Wᵀ applied to v (see `transposedTimes`). */
export function addLowRankTransposed(v: Float32Array, rows: number, N: number, K: number, d: LowRankDelta, u: Float32Array): void {
  const r = d.rank;
  const t = new Float64Array(r);
  for (let m = 0; m < rows; m++) {
    t.fill(0);
    for (let n = 0; n < N; n++) {
      const vn = v[m * N + n];
      for (let j = 0; j < r; j++) t[j] += vn * d.b[n * r + j];
    }
    const uo = m * K;
    for (let k = 0; k < K; k++) {
      let s = 0;
      for (let j = 0; j < r; j++) s += t[j] * d.a[j * K + k];
      u[uo + k] += d.scale * s;
    }
  }
}

/**
 * The layer transposed, applied to each row of `x [rows, N]` (N = out features): `u [rows, K]` = x·W for W
 * `[N, K]`, so u[r] = Wᵀ·x[r] — what the factored span scores need (../heads/spanRep.ts) — read from the packed
 * weights as they are, no transposed copy:
 *   u[r, k] = Σ_n f32(x[r, n]·W[n, k]), float32 products and sums in order of n from +0,
 * then each LoRA delta's s·(x·B)·A (`addLowRankTransposed`). int8 layers: `int8TransposedTimes` (./int8.ts).
 * The WebAssembly kernel (./wasm/transposed.ts) computes the same bits for a layer packed there. No bias: the
 * transpose of an affine map has none.
 */
export function transposedTimes(layer: PackedLinear, x: Float32Array, rows: number, out?: Float32Array): Float32Array {
  const N = layer.outFeatures;
  const K = layer.inFeatures;
  if (x.length < rows * N) throw new RangeError(`transposedTimes: input has ${x.length} values, expected ${rows}×${N}`);
  if (out && out.length < rows * K) throw new RangeError(`transposedTimes: output holds ${out.length} values, expected ${rows}×${K}`);
  const u = out ?? new Float32Array(rows * K);
  const v = layer.wasm ? activeVariant() : null;
  if (isInt8(layer)) int8TransposedTimes(layer, x, rows, u);
  else if (v) wasmTransposedTimes(v, layer, x, rows, u);
  else {
    const p = layer.packed; // packed[(⌊n/4⌋·K + k)·4 + n mod 4] = W[n, k]
    u.fill(0, 0, rows * K);
    for (let r = 0; r < rows; r++) {
      const o = r * K;
      for (let n = 0; n < N; n++) {
        const a = x[r * N + n];
        const base = Math.floor(n / PANEL) * K * PANEL + (n % PANEL);
        for (let k = 0; k < K; k++) u[o + k] = Math.fround(u[o + k] + Math.fround(a * p[base + k * PANEL]));
      }
    }
  }
  for (const d of layer.deltas ?? []) addLowRankTransposed(x, rows, N, K, d, u);
  return u;
}

function linearBase(x: Float32Array, rows: number, layer: PackedLinear, out?: Float32Array): Float32Array {
  // int8 layers (src/kernels/int8.ts) carry no float weights: they always take the int8 kernel.
  if (isInt8(layer)) return linearInt8(x, rows, layer, out);
  if (backend) return backend(x, rows, layer, out);
  if (layer.wasm) {
    const v = activeVariant();
    if (v) return wasmLinear(v, x, rows, layer, out);
  }
  const K = layer.inFeatures;
  const N = layer.outFeatures;
  if (x.length < rows * K) throw new RangeError(`linear: input has ${x.length} values, expected ${rows}×${K}`);
  const y = out ?? new Float32Array(rows * N);
  linearPanels(x, rows, K, N, layer.packed, layer.bias, y, 0, Math.ceil(N / PANEL));
  return y;
}

/**
 * The micro-kernel: output panels [p0, p1) of y[rows, N] = x[rows, K] · Wᵀ + b over the packed weights, in the
 * reference arithmetic (top of this file). Self-contained (no references outside its body, PANEL = 4 and the
 * block depth written out) so a thread pool can run its source on disjoint panel ranges of the same output.
 */
export function linearPanels(
  x: Float32Array,
  rows: number,
  K: number,
  N: number,
  p: Float32Array,
  bias: Float32Array | null,
  y: Float32Array,
  p0: number,
  p1: number,
): void {
  const KC = 256; // k block (REFERENCE_BLOCK)
  const f = Math.fround;
  // Add one block's sums to up to 4 outputs (fewer in the last, partial panel): onto the bias for the first
  // block, else onto the running sums already in y.
  const fold4 = (o: number, n0: number, first: boolean, c0: number, c1: number, c2: number, c3: number): void => {
    const left = N - n0;
    const at = (j: number) => (first ? (bias ? bias[n0 + j] : 0) : y[o + j]);
    y[o] = f(c0 + at(0));
    if (left > 1) y[o + 1] = f(c1 + at(1));
    if (left > 2) y[o + 2] = f(c2 + at(2));
    if (left > 3) y[o + 3] = f(c3 + at(3));
  };
  let m = 0;
  // 4 rows at a time: each weight loaded once feeds 4 rows.
  for (; m + 4 <= rows; m += 4) {
    const x0 = m * K;
    const x1 = x0 + K;
    const x2 = x1 + K;
    const x3 = x2 + K;
    for (let pn = p0; pn < p1; pn++) {
      const n0 = pn * 4;
      let k0 = 0;
      do {
        const k1 = Math.min(K, k0 + KC);
        let c00 = 0, c01 = 0, c02 = 0, c03 = 0;
        let c10 = 0, c11 = 0, c12 = 0, c13 = 0;
        let c20 = 0, c21 = 0, c22 = 0, c23 = 0;
        let c30 = 0, c31 = 0, c32 = 0, c33 = 0;
        let wo = (pn * K + k0) * 4;
        for (let k = k0; k < k1; k++, wo += 4) {
          const w0 = p[wo], w1 = p[wo + 1], w2 = p[wo + 2], w3 = p[wo + 3];
          let a = x[x0 + k];
          c00 = f(c00 + f(a * w0)); c01 = f(c01 + f(a * w1)); c02 = f(c02 + f(a * w2)); c03 = f(c03 + f(a * w3));
          a = x[x1 + k];
          c10 = f(c10 + f(a * w0)); c11 = f(c11 + f(a * w1)); c12 = f(c12 + f(a * w2)); c13 = f(c13 + f(a * w3));
          a = x[x2 + k];
          c20 = f(c20 + f(a * w0)); c21 = f(c21 + f(a * w1)); c22 = f(c22 + f(a * w2)); c23 = f(c23 + f(a * w3));
          a = x[x3 + k];
          c30 = f(c30 + f(a * w0)); c31 = f(c31 + f(a * w1)); c32 = f(c32 + f(a * w2)); c33 = f(c33 + f(a * w3));
        }
        const first = k0 === 0;
        fold4(m * N + n0, n0, first, c00, c01, c02, c03);
        fold4((m + 1) * N + n0, n0, first, c10, c11, c12, c13);
        fold4((m + 2) * N + n0, n0, first, c20, c21, c22, c23);
        fold4((m + 3) * N + n0, n0, first, c30, c31, c32, c33);
        k0 += KC;
      } while (k0 < K);
    }
  }
  // Remaining rows one at a time.
  for (; m < rows; m++) {
    const x0 = m * K;
    for (let pn = p0; pn < p1; pn++) {
      const n0 = pn * 4;
      let k0 = 0;
      do {
        const k1 = Math.min(K, k0 + KC);
        let c0 = 0, c1 = 0, c2 = 0, c3 = 0;
        let wo = (pn * K + k0) * 4;
        for (let k = k0; k < k1; k++, wo += 4) {
          const a = x[x0 + k];
          c0 = f(c0 + f(a * p[wo])); c1 = f(c1 + f(a * p[wo + 1])); c2 = f(c2 + f(a * p[wo + 2])); c3 = f(c3 + f(a * p[wo + 3]));
        }
        fold4(m * N + n0, n0, k0 === 0, c0, c1, c2, c3);
        k0 += KC;
      } while (k0 < K);
    }
  }
}

/**
 * Products this large (multiply-adds) go to the WebAssembly kernel when it is active: below, copying and packing B
 * cost more than they save.
 */
const WASM_MATMUL_MIN = 1 << 18;

/**
 * C[M, N] = A[M, K] · B[N, K]ᵀ (both operands row-major; e.g. Q·Kᵀ): on the WebAssembly kernels when they are
 * active and the product is large, else `matmulTransBReference`.
 */
export function matmulTransB(a: Float32Array, b: Float32Array, M: number, K: number, N: number, out?: Float32Array): Float32Array {
  if (M * N * K >= WASM_MATMUL_MIN) {
    const v = activeVariant();
    if (v) return wasmMatmulTransB(v, a, b, M, K, N, out);
  }
  return matmulTransBReference(a, b, M, K, N, out);
}

/** The plain-TS C = A·Bᵀ in the reference arithmetic: four columns of C per pass over a block of A's row. */
export function matmulTransBReference(a: Float32Array, b: Float32Array, M: number, K: number, N: number, out?: Float32Array): Float32Array {
  const c = out ?? new Float32Array(M * N);
  const f = Math.fround;
  for (let m = 0; m < M; m++) {
    const ao = m * K;
    const co = m * N;
    let n = 0;
    for (; n + 4 <= N; n += 4) {
      const b0 = n * K, b1 = b0 + K, b2 = b1 + K, b3 = b2 + K;
      let t0 = 0, t1 = 0, t2 = 0, t3 = 0;
      let k0 = 0;
      do {
        const k1 = Math.min(K, k0 + REFERENCE_BLOCK);
        let s0 = 0, s1 = 0, s2 = 0, s3 = 0;
        for (let k = k0; k < k1; k++) {
          const av = a[ao + k];
          s0 = f(s0 + f(av * b[b0 + k])); s1 = f(s1 + f(av * b[b1 + k])); s2 = f(s2 + f(av * b[b2 + k])); s3 = f(s3 + f(av * b[b3 + k]));
        }
        t0 = f(s0 + t0); t1 = f(s1 + t1); t2 = f(s2 + t2); t3 = f(s3 + t3);
        k0 += REFERENCE_BLOCK;
      } while (k0 < K);
      c[co + n] = t0; c[co + n + 1] = t1; c[co + n + 2] = t2; c[co + n + 3] = t3;
    }
    for (; n < N; n++) {
      const bo = n * K;
      let t = 0;
      let k0 = 0;
      do {
        const k1 = Math.min(K, k0 + REFERENCE_BLOCK);
        let s = 0;
        for (let k = k0; k < k1; k++) s = f(s + f(a[ao + k] * b[bo + k]));
        t = f(s + t);
        k0 += REFERENCE_BLOCK;
      } while (k0 < K);
      c[co + n] = t;
    }
  }
  return c;
}

/**
 * C[M, N] = A[M, K] · B[K, N] (e.g. attention probabilities · V), in the reference arithmetic: B is read row by
 * row (contiguous), one block of k at a time summed into a row of block sums, then added to C's row.
 */
export function matmul(a: Float32Array, b: Float32Array, M: number, K: number, N: number, out?: Float32Array): Float32Array {
  const c = out ?? new Float32Array(M * N);
  c.fill(0, 0, M * N);
  const f = Math.fround;
  const block = new Float32Array(N); // a Float32Array element store rounds to float32
  for (let m = 0; m < M; m++) {
    const co = m * N;
    let k0 = 0;
    do {
      const k1 = Math.min(K, k0 + REFERENCE_BLOCK);
      block.fill(0);
      for (let k = k0; k < k1; k++) {
        const av = a[m * K + k];
        const bo = k * N;
        for (let n = 0; n < N; n++) block[n] += f(av * b[bo + n]);
      }
      for (let n = 0; n < N; n++) c[co + n] += block[n];
      k0 += REFERENCE_BLOCK;
    } while (k0 < K);
  }
  return c;
}

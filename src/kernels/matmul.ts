/**
 * Matrix products on row-major Float32Array.
 *
 * Linear layers (`y = x·Wᵀ + b`, W stored `[out, in]` as in PyTorch) pack their weights once at load into a
 * layout chosen for the inner loop, then `linear()` runs against the packed form. A faster backend (threads,
 * WASM SIMD, int8, GPU) can slot in behind these same functions; this file stays the readable reference.
 */

/** A Linear layer's weights, packed once at load time. */
export interface PackedLinear {
  /** Output features (N). */
  readonly outFeatures: number;
  /** Input features (K). */
  readonly inFeatures: number;
  /** Packed weights (layout private to this module). */
  readonly packed: Float32Array;
  /** Bias `[N]`, or null. */
  readonly bias: Float32Array | null;
}

/** Pack a PyTorch Linear weight `[out, in]` (+ optional bias `[out]`). */
export function packLinear(weight: Float32Array, outFeatures: number, inFeatures: number, bias: Float32Array | null = null): PackedLinear {
  if (weight.length !== outFeatures * inFeatures) {
    throw new RangeError(`packLinear: weight has ${weight.length} values, expected ${outFeatures}×${inFeatures}`);
  }
  if (bias && bias.length !== outFeatures) throw new RangeError(`packLinear: bias has ${bias.length} values, expected ${outFeatures}`);
  // Reference layout: transpose to [in, out] so the inner loop streams one contiguous output row.
  const packed = new Float32Array(outFeatures * inFeatures);
  for (let n = 0; n < outFeatures; n++) {
    for (let k = 0; k < inFeatures; k++) packed[k * outFeatures + n] = weight[n * inFeatures + k];
  }
  return { outFeatures, inFeatures, packed, bias };
}

/** y[M, N] = x[M, K] · Wᵀ + b. `out` may be passed to reuse a buffer of length M·N. */
export function linear(x: Float32Array, rows: number, layer: PackedLinear, out?: Float32Array): Float32Array {
  const K = layer.inFeatures;
  const N = layer.outFeatures;
  const y = out ?? new Float32Array(rows * N);
  const w = layer.packed;
  for (let m = 0; m < rows; m++) {
    const yo = m * N;
    if (layer.bias) y.set(layer.bias, yo);
    else y.fill(0, yo, yo + N);
    for (let k = 0; k < K; k++) {
      const a = x[m * K + k];
      if (a === 0) continue;
      const wo = k * N;
      for (let n = 0; n < N; n++) y[yo + n] += a * w[wo + n];
    }
  }
  return y;
}

/** C[M, N] = A[M, K] · B[N, K]ᵀ (both operands row-major; e.g. Q·Kᵀ). */
export function matmulTransB(a: Float32Array, b: Float32Array, M: number, K: number, N: number, out?: Float32Array): Float32Array {
  const c = out ?? new Float32Array(M * N);
  for (let m = 0; m < M; m++) {
    for (let n = 0; n < N; n++) {
      let s = 0;
      for (let k = 0; k < K; k++) s += a[m * K + k] * b[n * K + k];
      c[m * N + n] = s;
    }
  }
  return c;
}

/** C[M, N] = A[M, K] · B[K, N] (e.g. attention probabilities · V). */
export function matmul(a: Float32Array, b: Float32Array, M: number, K: number, N: number, out?: Float32Array): Float32Array {
  const c = out ?? new Float32Array(M * N);
  c.fill(0, 0, M * N);
  for (let m = 0; m < M; m++) {
    for (let k = 0; k < K; k++) {
      const av = a[m * K + k];
      if (av === 0) continue;
      for (let n = 0; n < N; n++) c[m * N + n] += av * b[k * N + n];
    }
  }
  return c;
}

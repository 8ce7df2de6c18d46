/**
 * Layer normalisation over the last axis (biased variance, like PyTorch). In place allowed (out === x).
 * Mean and variance are float64 sums taken four ways (element i into partial sum i mod 4), combined as
 * (s₀ + s₂) + (s₁ + s₃): the order of the WebAssembly kernel's two f64x2 accumulators (./wasm/elementwise.ts), so
 * both give the same bits, and four short dependency chains instead of one long one.
 */
export function layerNorm(
  x: Float32Array,
  rows: number,
  dim: number,
  gamma: Float32Array,
  beta: Float32Array,
  eps: number,
  out: Float32Array = new Float32Array(rows * dim),
): Float32Array {
  for (let r = 0; r < rows; r++) {
    const o = r * dim;
    const mean = sum4(x, o, dim, false, 0) / dim;
    const variance = sum4(x, o, dim, true, mean) / dim;
    const inv = 1 / Math.sqrt(variance + eps);
    for (let i = 0; i < dim; i++) out[o + i] = (x[o + i] - mean) * inv * gamma[i] + beta[i];
  }
  return out;
}

/** Σ x[o + i], or (`squares`) Σ (x[o + i] − center)², in the four-way order above. */
function sum4(x: Float32Array, o: number, dim: number, squares: boolean, center: number): number {
  const s = [0, 0, 0, 0];
  for (let i = 0; i < dim; i++) {
    const d = x[o + i] - center;
    s[i & 3] += squares ? d * d : x[o + i];
  }
  return s[0] + s[2] + (s[1] + s[3]);
}

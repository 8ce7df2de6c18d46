/** Elementwise activations and row softmax. All work in place and return their argument. */

/** 1.5·2⁵²: a double in [2⁵², 2⁵³) has no fraction bits, so adding it rounds to an integer the IEEE way. */
const ROUNDER = 6755399441055744;

/**
 * Round to nearest, ties to even (what `f32x4.nearest` and numpy do), so every backend rounds alike. Below 2⁵¹ in
 * magnitude by adding and subtracting 1.5·2⁵² (the addition's own rounding is round-half-even, and the constant
 * is even), branch-free: `Math.round` took ~7 ns in V8 and made int8 quantization at load ~15 ns per weight.
 * Larger magnitudes (and NaN) take Math.round with a tie fix. A zero from the fast path is +0 (Math.round gave −0
 * for −0.5 ≤ v < 0; every caller stores or multiplies it, where the sign cannot show).
 */
export function roundHalfEven(v: number): number {
  if (Math.abs(v) < 2251799813685248) return v + ROUNDER - ROUNDER;
  const r = Math.round(v);
  return r - v === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** erf(x) to ~1e-7 relative (Abramowitz–Stegun 7.1.26 is too coarse for 1e-4 parity through 12 layers). */
export function erf(x: number): number {
  // W. J. Cody's rational approximations, double precision.
  const ax = Math.abs(x);
  let r: number;
  if (ax < 0.5) {
    const t = x * x;
    const num = (((0.1857777061846031526730 * t + 3.161123743870565596947) * t + 113.8641541510501556495) * t + 377.4852376853020208137) * t + 3209.377589138469472562;
    const den = (((t + 23.60129095234412093499) * t + 244.0246379344441733056) * t + 1282.616526077372275645) * t + 2844.236833439170622273;
    return (x * num) / den;
  }
  if (ax < 4) {
    const p = [0.5641884969886700891, 8.883149794388375941, 66.11919063714162948, 298.6351381974001311, 881.952221241769090, 1712.047612634070583, 2051.078377826071465, 1230.339354797997253, 2.153115354744038463e-8];
    const q = [15.74492611070983473, 117.6939508913124993, 537.1811018620098575, 1621.389574566690189, 3290.799235733459627, 4362.619090143247158, 3439.367674143721637, 1230.339354803749420];
    let n = p[8] * ax;
    let d = ax;
    for (let i = 0; i < 7; i++) {
      n = (n + p[i]) * ax;
      d = (d + q[i]) * ax;
    }
    r = Math.exp(-ax * ax) * ((n + p[7]) / (d + q[7]));
  } else {
    const z = 1 / (ax * ax);
    const p = [3.05326634961232344e-1, 3.60344899949804439e-1, 1.25781726111229246e-1, 1.60837851487422766e-2, 6.58749161529837803e-4, 1.63153871373020978e-2];
    const q = [2.56852019228982242, 1.87295284992346725, 5.27905102951428412e-1, 6.05183413124413191e-2, 2.33520497626869185e-3];
    let n = p[5] * z;
    let d = z;
    for (let i = 0; i < 4; i++) {
      n = (n + p[i]) * z;
      d = (d + q[i]) * z;
    }
    const rr = (z * (n + p[4])) / (d + q[4]);
    r = Math.exp(-ax * ax) / ax * (0.5641895835477562869 - rr);
  }
  return x < 0 ? r - 1 : 1 - r;
}

/**
 * erf for GELU: x·P(x²)/Q(x²) on x clamped to ±ERF_GELU_CLAMP, a rational fit (degrees 5/5) good to 1.9e-8
 * absolute everywhere — below half a float32 ulp of GELU's 1 + erf — with one division and no exp, so the
 * WebAssembly GELU (./wasm/gelu.ts) runs the same float64 operations two lanes at a time and agrees bit for bit.
 * Monotone, odd, and below 1 at the clamp (erf(3.925) = 1 − 8e-9).
 */
export const ERF_GELU_CLAMP = 3.925;
export const ERF_GELU_P: readonly number[] = [1.128379145763658, 0.19059262654622353, 0.0527690776796941, 0.003772485679523741, 0.0002848394591860293, 2.0460005278057285e-6];
export const ERF_GELU_Q: readonly number[] = [1.0, 0.5022410481110261, 0.11418219167108701, 0.014983066232032683, 0.0011638374929326708, 3.8047284222794216e-5];

export function erfForGelu(x: number): number {
  const c = Math.min(Math.max(x, -ERF_GELU_CLAMP), ERF_GELU_CLAMP);
  const t = c * c;
  const P = ERF_GELU_P;
  const Q = ERF_GELU_Q;
  let num = P[5];
  let den = Q[5];
  for (let i = 4; i >= 0; i--) {
    num = num * t + P[i];
    den = den * t + Q[i];
  }
  return (c * num) / den;
}

/** GELU with the erf form, x·½(1 + erf(x/√2)), as PyTorch's default (not the tanh approximation). */
export function geluErf(x: Float32Array): Float32Array {
  for (let i = 0; i < x.length; i++) {
    const v = x[i];
    x[i] = 0.5 * v * (1 + erfForGelu(v * Math.SQRT1_2));
  }
  return x;
}

export function relu(x: Float32Array): Float32Array {
  for (let i = 0; i < x.length; i++) if (x[i] < 0) x[i] = 0;
  return x;
}

export function sigmoid(v: number): number {
  return 1 / (1 + Math.exp(-v));
}

export function sigmoidInPlace(x: Float32Array): Float32Array {
  for (let i = 0; i < x.length; i++) x[i] = sigmoid(x[i]);
  return x;
}

/** Softmax of each row of x[rows, cols], in place, with max subtraction for stability. */
export function softmaxRows(x: Float32Array, rows: number, cols: number): Float32Array {
  for (let r = 0; r < rows; r++) {
    const o = r * cols;
    let max = -Infinity;
    for (let c = 0; c < cols; c++) if (x[o + c] > max) max = x[o + c];
    let sum = 0;
    for (let c = 0; c < cols; c++) {
      const e = Math.exp(x[o + c] - max);
      x[o + c] = e;
      sum += e;
    }
    const inv = 1 / sum;
    for (let c = 0; c < cols; c++) x[o + c] *= inv;
  }
  return x;
}

/**
 * Softmax of each row of x[rows, cols] in place over a pair mask: entry (r, c) takes part when
 * `rowMask[r] && colMask[c]` (offsets `rowOffset`/`colOffset` into the masks); the others get probability 0.
 * A row with no entry taking part becomes uniform, which is what filling masked scores with float32's minimum
 * before a plain softmax gives (transformers ≥ 4.47 attention on padding rows).
 */
export function softmaxRowsMasked(
  x: Float32Array,
  rows: number,
  cols: number,
  rowMask: ArrayLike<number>,
  colMask: ArrayLike<number>,
  rowOffset = 0,
  colOffset = 0,
): Float32Array {
  for (let r = 0; r < rows; r++) {
    const o = r * cols;
    if (!rowMask[rowOffset + r]) {
      x.fill(1 / cols, o, o + cols);
      continue;
    }
    let max = -Infinity;
    for (let c = 0; c < cols; c++) if (colMask[colOffset + c] && x[o + c] > max) max = x[o + c];
    if (max === -Infinity) {
      x.fill(1 / cols, o, o + cols);
      continue;
    }
    // Four float32 partial sums (column c goes to c mod 4, masked columns add 0), added in double, as the
    // WebAssembly kernel's four lanes do; normalised by the float32 reciprocal.
    const f = Math.fround;
    const part = [0, 0, 0, 0];
    for (let c = 0; c < cols; c++) {
      const e = colMask[colOffset + c] ? expf(f(x[o + c] - max)) : 0;
      x[o + c] = e;
      part[c & 3] = f(part[c & 3] + e);
    }
    const inv = f(1 / (part[0] + part[1] + part[2] + part[3]));
    for (let c = 0; c < cols; c++) x[o + c] = f(x[o + c] * inv);
  }
  return x;
}

const F32_LOG2E = Math.fround(Math.LOG2E);
const LN2_HI = Math.fround(0.693359375);
const LN2_LO = Math.fround(-2.12194440e-4);
const EXP_POLY = [1.9875691500e-4, 1.3981999507e-3, 8.3334519073e-3, 4.1665795894e-2, 1.6666665459e-1, 5.0000001201e-1].map(Math.fround);

/**
 * exp(x) of a float32 x in float32 arithmetic, every step rounded (Cephes' expf: x = n·ln2 + r with n an integer
 * and |r| ≤ ln2/2, a degree-6 polynomial in r, times 2ⁿ): within ~2 float32 ulps of the true value; exactly 0
 * below −87 (and for NaN). The attention softmax's exponential, written out so the WebAssembly kernel (expQuad in
 * ./wasm/kernels.ts) computes the same operations and both give the same bits.
 */
export function expf(x: number): number {
  if (!(x >= -87)) return 0;
  const f = Math.fround;
  x = Math.min(x, 88);
  const n = roundHalfEven(f(x * F32_LOG2E)); // WebAssembly's `nearest`
  const r = f(f(x - f(n * LN2_HI)) - f(n * LN2_LO));
  let p = EXP_POLY[0];
  for (let i = 1; i < EXP_POLY.length; i++) p = f(f(p * r) + EXP_POLY[i]);
  p = f(f(f(p * f(r * r)) + r) + 1);
  return f(p * 2 ** n);
}

/** a += b elementwise (residual connections). */
export function addInPlace(a: Float32Array, b: Float32Array): Float32Array {
  for (let i = 0; i < a.length; i++) a[i] += b[i];
  return a;
}

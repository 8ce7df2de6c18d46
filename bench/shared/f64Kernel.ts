/**
 * The plain-TypeScript linear kernel as issue 7 measured it (~3.5 GFLOP/s): 4×4 register tiles over the reference's
 * packed panels, sums in float64 rounded to float32 on store. The engine's reference kernel (src/kernels/matmul.ts)
 * now rounds every product and sum to float32 so that the WebAssembly kernels reproduce it bit for bit, which V8
 * runs ~2.5× slower (each rounding is a pair of conversions); this copy stays as the benches' "today's plain-TS
 * kernel" baseline, so speed ratios against it mean what they meant when the issue was filed. Not used by the engine.
 */
export function linearPanelsF64(
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
  // Write up to 4 outputs (fewer in the last, partial panel), adding the bias.
  const store4 = (o: number, n0: number, c0: number, c1: number, c2: number, c3: number): void => {
    const left = N - n0;
    if (bias) {
      c0 += bias[n0];
      if (left > 1) c1 += bias[n0 + 1];
      if (left > 2) c2 += bias[n0 + 2];
      if (left > 3) c3 += bias[n0 + 3];
    }
    y[o] = c0;
    if (left > 1) y[o + 1] = c1;
    if (left > 2) y[o + 2] = c2;
    if (left > 3) y[o + 3] = c3;
  };
  let m = 0;
  // 4 rows at a time: each weight loaded once feeds 4 rows.
  for (; m + 4 <= rows; m += 4) {
    const x0 = m * K;
    const x1 = x0 + K;
    const x2 = x1 + K;
    const x3 = x2 + K;
    for (let pn = p0; pn < p1; pn++) {
      let c00 = 0, c01 = 0, c02 = 0, c03 = 0;
      let c10 = 0, c11 = 0, c12 = 0, c13 = 0;
      let c20 = 0, c21 = 0, c22 = 0, c23 = 0;
      let c30 = 0, c31 = 0, c32 = 0, c33 = 0;
      let wo = pn * K * 4;
      for (let k = 0; k < K; k++, wo += 4) {
        const w0 = p[wo], w1 = p[wo + 1], w2 = p[wo + 2], w3 = p[wo + 3];
        let a = x[x0 + k];
        c00 += a * w0; c01 += a * w1; c02 += a * w2; c03 += a * w3;
        a = x[x1 + k];
        c10 += a * w0; c11 += a * w1; c12 += a * w2; c13 += a * w3;
        a = x[x2 + k];
        c20 += a * w0; c21 += a * w1; c22 += a * w2; c23 += a * w3;
        a = x[x3 + k];
        c30 += a * w0; c31 += a * w1; c32 += a * w2; c33 += a * w3;
      }
      const n0 = pn * 4;
      store4(m * N + n0, n0, c00, c01, c02, c03);
      store4((m + 1) * N + n0, n0, c10, c11, c12, c13);
      store4((m + 2) * N + n0, n0, c20, c21, c22, c23);
      store4((m + 3) * N + n0, n0, c30, c31, c32, c33);
    }
  }
  // Remaining rows one at a time.
  for (; m < rows; m++) {
    const x0 = m * K;
    for (let pn = p0; pn < p1; pn++) {
      let c0 = 0, c1 = 0, c2 = 0, c3 = 0;
      let wo = pn * K * 4;
      for (let k = 0; k < K; k++, wo += 4) {
        const a = x[x0 + k];
        c0 += a * p[wo]; c1 += a * p[wo + 1]; c2 += a * p[wo + 2]; c3 += a * p[wo + 3];
      }
      const n0 = pn * 4;
      store4(m * N + n0, n0, c0, c1, c2, c3);
    }
  }
}

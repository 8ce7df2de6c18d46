/**
 * The reference arithmetic (src/kernels/matmul.ts) written as plainly as possible, to hold the kernels to:
 * y[m, n] = bias[n] (or 0); then for each block of 256 k's in turn, the float32 sum of its products in k order
 * from zero, added onto y[m, n] in float32. `w` is `[N, K]` (a PyTorch Linear weight, or Bᵀ).
 */
export function float32Sums(x: Float32Array, M: number, w: Float32Array, N: number, K: number, b: Float32Array | null): Float32Array {
  const f = Math.fround;
  const block = 256;
  const y = new Float32Array(M * N);
  for (let m = 0; m < M; m++) {
    for (let n = 0; n < N; n++) {
      let acc = b ? b[n] : 0;
      for (let c0 = 0; c0 === 0 || c0 < K; c0 += block) {
        let s = 0;
        for (let k = c0; k < Math.min(c0 + block, K); k++) s = f(s + f(x[m * K + k] * w[n * K + k]));
        acc = f(acc + s);
      }
      y[m * N + n] = acc;
    }
  }
  return y;
}

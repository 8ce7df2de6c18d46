/**
 * Kernels against plain double-precision references on seeded random data, including sizes off the blocking, and
 * the products against the reference arithmetic's plain statement (float32, blocks of 256 k's).
 */
import { describe, expect, it } from "vitest";
import { erf, erfForGelu, expf, geluErf, layerNorm, linear, matmul, matmulTransB, matmulTransBReference, packLinear, setBackend, softmaxRows, softmaxRowsMasked } from "../src/kernels/index.js";
import { randFloats as rand, signedRng as rng } from "./helpers/prng.js";
import { float32Sums } from "./helpers/float32Sums.js";


function expectClose(actual: Float32Array, expected: Float64Array, tol: number): void {
  expect(actual.length).toBe(expected.length);
  let worst = 0;
  for (let i = 0; i < expected.length; i++) worst = Math.max(worst, Math.abs(actual[i] - expected[i]) / (1 + Math.abs(expected[i])));
  expect(worst).toBeLessThan(tol);
}

const SIZES = [1, 3, 4, 5, 7, 13, 65, 129];

describe("linear", () => {
  for (const M of [1, 3, 4, 9]) {
    for (const K of [1, 7, 64]) {
      for (const N of [1, 3, 4, 5, 13, 65]) {
        it(`M=${M} K=${K} N=${N}`, () => {
          const r = rng(M * 1000 + K * 10 + N);
          const x = rand(M * K, r);
          const w = rand(N * K, r);
          const b = rand(N, r);
          const ref = new Float64Array(M * N);
          for (let m = 0; m < M; m++) for (let n = 0; n < N; n++) {
            let s = b[n];
            for (let k = 0; k < K; k++) s += x[m * K + k] * w[n * K + k];
            ref[m * N + n] = s;
          }
          expectClose(linear(x, M, packLinear(w, N, K, b)), ref, 1e-6);
          const noBias = ref.map((v, i) => v - b[i % N]);
          const out = new Float32Array(M * N).fill(123); // reused buffer: every value must be overwritten
          expect(linear(x, M, packLinear(w, N, K), out)).toBe(out);
          expectClose(out, noBias, 1e-6);
        });
      }
    }
  }

  it("rejects inconsistent shapes", () => {
    expect(() => packLinear(new Float32Array(6), 4, 2)).toThrow(RangeError);
    expect(() => packLinear(new Float32Array(8), 4, 2, new Float32Array(3))).toThrow(RangeError);
    expect(() => linear(new Float32Array(3), 2, packLinear(new Float32Array(8), 4, 2))).toThrow(RangeError);
  });
});

describe("matmul / matmulTransB", () => {
  for (const M of [1, 5]) for (const K of [1, 16, 33]) for (const N of SIZES.slice(0, 6)) {
    it(`M=${M} K=${K} N=${N}`, () => {
      const r = rng(M * 7 + K * 131 + N);
      const a = rand(M * K, r);
      const b = rand(K * N, r);
      const bt = rand(N * K, r);
      const ref = new Float64Array(M * N);
      const refT = new Float64Array(M * N);
      for (let m = 0; m < M; m++) for (let n = 0; n < N; n++) {
        let s = 0;
        let t = 0;
        for (let k = 0; k < K; k++) {
          s += a[m * K + k] * b[k * N + n];
          t += a[m * K + k] * bt[n * K + k];
        }
        ref[m * N + n] = s;
        refT[m * N + n] = t;
      }
      expectClose(matmul(a, b, M, K, N, new Float32Array(M * N).fill(9)), ref, 1e-6);
      expectClose(matmulTransB(a, bt, M, K, N), refT, 1e-6);
    });
  }
});

describe("the reference arithmetic", () => {
  // K past one and two blocks of 256, odd sizes: every product's float32 result is the plain statement's, bit
  // for bit (a float64 accumulator, or one block over all K, fails this at once).
  it("linear, matmulTransB and matmul sum float32 products in blocks of 256, onto the bias", () => {
    setBackend("js");
    try {
      for (const [M, K, N] of [[1, 1, 1], [5, 7, 3], [6, 256, 9], [3, 257, 5], [9, 300, 6], [2, 520, 13], [4, 0, 3]]) {
        const r = rng(M * 1009 + K * 13 + N);
        const x = rand(M * K, r).map((v) => v * 8);
        const w = rand(N * K, r);
        const b = rand(N, r);
        const wt = new Float32Array(K * N);
        for (let n = 0; n < N; n++) for (let k = 0; k < K; k++) wt[k * N + n] = w[n * K + k];
        const want = float32Sums(x, M, w, N, K, null);
        expect(linear(x, M, packLinear(w, N, K, b)), `linear ${M}×${K}×${N}`).toEqual(float32Sums(x, M, w, N, K, b));
        expect(linear(x, M, packLinear(w, N, K)), `linear ${M}×${K}×${N}`).toEqual(want);
        expect(matmulTransBReference(x, w, M, K, N), `A·Bᵀ ${M}×${K}×${N}`).toEqual(want);
        expect(matmul(x, wt, M, K, N), `A·B ${M}×${K}×${N}`).toEqual(want);
      }
    } finally {
      setBackend("auto");
    }
  });

  it("expf is within 2 float32 ulps of exp on [−87, 88], exactly 0 below −87 and for NaN, and 1 at 0", () => {
    const r = rng(7);
    let worst = 0;
    const xs = [-87, -86.99, -50, -1e-7, 0, 1e-7, 0.5, Math.LN2 / 2, 1, 10, 87.9, 88];
    for (let i = 0; i < 200_000; i++) xs.push(Math.fround(-87 + 175 * (r() * 0.5 + 0.5)));
    for (const x of xs) {
      const want = Math.exp(Math.fround(x));
      const ulp = 2 ** (Math.floor(Math.log2(want)) - 23);
      worst = Math.max(worst, Math.abs(expf(Math.fround(x)) - want) / ulp);
      expect(Math.fround(expf(Math.fround(x)))).toBe(expf(Math.fround(x))); // a float32 value
    }
    expect(worst).toBeLessThanOrEqual(2);
    expect(expf(0)).toBe(1);
    for (const x of [-87.01, -100, -Infinity, Number.NaN]) expect(expf(x)).toBe(0);
  });
});

describe("layerNorm, gelu, softmax", () => {
  it.each(SIZES)("layerNorm dim %i (in place too)", (dim) => {
    const r = rng(dim);
    const rows = 3;
    const x = rand(rows * dim, r).map((v) => v * 5 + 2);
    const g = rand(dim, r);
    const b = rand(dim, r);
    const ref = new Float64Array(rows * dim);
    for (let i = 0; i < rows; i++) {
      const row = Array.from(x.subarray(i * dim, (i + 1) * dim));
      const mean = row.reduce((s, v) => s + v, 0) / dim;
      const variance = row.reduce((s, v) => s + (v - mean) ** 2, 0) / dim;
      row.forEach((v, j) => (ref[i * dim + j] = ((v - mean) / Math.sqrt(variance + 1e-7)) * g[j] + b[j]));
    }
    expectClose(layerNorm(x, rows, dim, g, b, 1e-7), ref, 1e-5);
    expectClose(layerNorm(x, rows, dim, g, b, 1e-7, x), ref, 1e-5);
  });

  it("erf matches known values and is odd", () => {
    const known: [number, number][] = [[0, 0], [0.5, 0.5204998778130465], [1, 0.8427007929497149], [2, 0.9953222650189527], [3.5, 0.9999992569016276], [5, 0.9999999999984626]];
    for (const [x, v] of known) {
      expect(erf(x)).toBeCloseTo(v, 14);
      expect(erf(-x)).toBeCloseTo(-v, 14);
    }
  });

  it("GELU's rational erf is within 2e-8 of erf, odd and monotone, from 0 to past its clamp", () => {
    let worst = 0;
    let prev = -Infinity;
    for (let i = -60000; i <= 60000; i++) {
      const x = i * 1e-4; // −6 … 6
      const e = erfForGelu(x);
      worst = Math.max(worst, Math.abs(e - erf(x)));
      expect(erfForGelu(-x)).toBe(-e);
      expect(e).toBeGreaterThanOrEqual(prev);
      expect(Math.abs(e)).toBeLessThan(1);
      prev = e;
    }
    expect(worst).toBeLessThan(2e-8);
    expect(worst).toBeGreaterThan(0); // an approximation, not erf itself
  });

  it("geluErf is x·Φ(x)", () => {
    const x = Float32Array.from([-3, -1, -0.1, 0, 0.1, 1, 3]);
    const ref = Float64Array.from(x, (v) => 0.5 * v * (1 + erf(v / Math.SQRT2)));
    expectClose(geluErf(x.slice()), ref, 1e-7);
  });

  it("softmaxRows sums to one, is stable for large inputs, and is uniform over equal (masked) rows", () => {
    const x = Float32Array.from([1, 2, 3, 1000, 1001, 1002, -3.4e38, -3.4e38, -3.4e38]);
    softmaxRows(x, 3, 3);
    const e = [Math.exp(-2), Math.exp(-1), 1];
    const s = e[0] + e[1] + e[2];
    expectClose(x.subarray(0, 3), Float64Array.from(e, (v) => v / s), 1e-6);
    expectClose(x.subarray(3, 6), Float64Array.from(e, (v) => v / s), 1e-6);
    expectClose(x.subarray(6), Float64Array.from([1 / 3, 1 / 3, 1 / 3]), 1e-6);
  });
});

describe("softmaxRowsMasked", () => {
  it("equals a plain softmax with masked scores at float32 min, for any mask", () => {
    const r = rng(99);
    for (const cols of [1, 2, 5, 17]) {
      const rows = 6;
      const x = rand(rows * cols, r).map((v) => v * 20);
      const rowMask = Array.from({ length: rows + 1 }, (_, i) => (i % 3 === 2 ? 0 : 1));
      const colMask = Array.from({ length: cols + 1 }, (_, i) => (i % 4 === 3 ? 0 : 1));
      const filled = x.map((v, i) => (rowMask[1 + Math.floor(i / cols)] && colMask[1 + (i % cols)] ? v : -3.4028234663852886e38));
      const expected = Float64Array.from(softmaxRows(filled, rows, cols));
      expectClose(softmaxRowsMasked(x, rows, cols, rowMask, colMask, 1, 1), expected, 1e-6);
    }
  });

  it("a fully masked row is uniform and masked keys get exactly 0", () => {
    const x = Float32Array.from([5, 1, 2, 3]);
    softmaxRowsMasked(x, 2, 2, [1, 0], [1, 0]);
    expect(Array.from(x)).toEqual([1, 0, 0.5, 0.5]);
  });
});

describe("linear backend slot", () => {
  it("routes linear() to a plugged-in kernel and back", async () => {
    const { setLinearBackend } = await import("../src/kernels/index.js");
    const layer = packLinear(Float32Array.from([1, 2, 3, 4]), 2, 2);
    const x = Float32Array.from([1, 1]);
    setLinearBackend((_x, rows, l) => new Float32Array(rows * l.outFeatures).fill(7));
    try {
      expect(Array.from(linear(x, 1, layer))).toEqual([7, 7]);
    } finally {
      setLinearBackend(null);
    }
    expect(Array.from(linear(x, 1, layer))).toEqual([3, 7]);
  });
});

/**
 * The WebAssembly kernels held to the plain-TypeScript reference: linear layers on odd sizes (tails of rows,
 * partial tiles, with and without bias) for every variant this runtime offers (plain SIMD always; relaxed SIMD
 * when the engine has it — run `node --experimental-wasm-relaxed-simd` on Node 20), and the attention kernel
 * against the encoder's JS attention arithmetic. Plain SIMD performs the reference's float32 operations in the
 * reference's order, so it must give the same bits; relaxed SIMD's fused multiply-add only close ones.
 */
import { afterAll, describe, expect, it } from "vitest";
import { backendInfo, firstNonFinite, firstNonFiniteReference, linear, linearPanels, matmul, matmulTransB, matmulTransBReference, packLinear, transposedTimes, unpackLinear, withDeltas, REFERENCE_BLOCK, setBackend, softmaxRowsMasked, type ActiveBackend } from "../src/kernels/index.js";
import { buildKernelModule, PLAIN_SHAPE, RELAXED_SHAPE, RELAXED_TALL_SHAPE } from "../src/kernels/wasm/kernels.js";
import { f32View, i32View, u8View, wasmAlloc, wasmRuntime } from "../src/kernels/wasm/runtime.js";
import { activeVariant } from "../src/kernels/backend.js";
import { startWasmPool, stopWasmPool, wasmPoolThreads } from "../src/kernels/wasm/pool.js";
import { AttnParam, ATTN_PARAM_WORDS, attentionScratchBytes } from "../src/kernels/wasm/kernels.js";
import { ioBlockRows, packWasm } from "../src/kernels/wasm/linear.js";
import { randFloats as rand, signedRng as rng } from "./helpers/prng.js";
import { float32Sums } from "./helpers/float32Sums.js";


/** Largest |a − b| / (1 + |b|). */
function relErr(a: Float32Array, b: Float32Array): number {
  expect(a.length).toBe(b.length);
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]) / (1 + Math.abs(b[i])));
  return worst;
}

/** The JS reference kernel on the same weights (itself held to float32Sums below). */
function reference(x: Float32Array, M: number, w: Float32Array, N: number, K: number, b: Float32Array | null): Float32Array {
  setBackend("js");
  const layer = packLinear(w, N, K, b);
  const y = new Float32Array(M * N);
  linearPanels(x, M, K, N, layer.packed, layer.bias, y, 0, Math.ceil(N / 4));
  return y;
}

const variants: ActiveBackend[] = ["wasm", ...(wasmRuntime()?.relaxed ? (["wasm-relaxed"] as const) : [])];
const SIZES = [1, 3, 5, 7, 13, 17, 65, 100];

afterAll(() => {
  stopWasmPool();
  setBackend("auto");
});

describe("WebAssembly runtime", () => {
  it("has SIMD on this runtime, compiles in well under a second of work, and says what it found", () => {
    const info = backendInfo();
    expect(info.simd).toBe(true);
    expect(info.sharedMemory).toBe(true);
    // relaxed SIMD is optional; when present its probe decided fused or not
    if (!info.relaxedSimd) expect(info.fusedMultiplyAdd).toBe(false);
  });

  it("sums in the reference's blocks (the kernel's k depth is REFERENCE_BLOCK)", () => {
    expect(PLAIN_SHAPE.kc).toBe(REFERENCE_BLOCK);
    expect(RELAXED_SHAPE.kc).toBe(REFERENCE_BLOCK);
  });

  it("every tile shape gives the reference's bits (plain mul + add): 2×16, 6×8 and 5×8 with rows left over in pairs and singly, 4×8, 1×16", () => {
    const rt = wasmRuntime()!;
    expect(RELAXED_TALL_SHAPE.kc).toBe(REFERENCE_BLOCK);
    const shapes = [PLAIN_SHAPE, { ...RELAXED_TALL_SHAPE, fma: false }, { ...RELAXED_TALL_SHAPE, rows: 5, fma: false }, { ...PLAIN_SHAPE, rows: 4, vecs: 2 }, { ...PLAIN_SHAPE, rows: 1 }];
    const kernels = shapes.map((shape) => {
      const module = new WebAssembly.Module(buildKernelModule(shape, { min: 1, max: 65536, shared: rt.shared }));
      return { shape, linear: new WebAssembly.Instance(module, { env: { memory: rt.memory } }).exports.linear as (...a: number[]) => void };
    });
    // Row counts around every tile height and past the 128-row block; N past a panel with a ragged tile; K past one k block.
    for (const [M, N, K] of [[1, 5, 3], [7, 21, 300], [8, 16, 17], [9, 33, 520], [13, 7, 100], [131, 40, 260]]) {
      const r = rng(M * 7 + N * 3 + K);
      const x = rand(M * K, r);
      const w = rand(N * K, r);
      const bias = rand(N, r);
      const want = float32Sums(x, M, w, N, K, bias);
      const p = packWasm(w, N, K, bias);
      const xp = wasmAlloc(M * K * 4);
      const yp = wasmAlloc(M * N * 4);
      f32View(xp, M * K).set(x);
      for (const { shape, linear } of kernels) {
        f32View(yp, M * N).fill(Number.NaN);
        linear(xp, K, M, K, p.w, p.bias, yp, N, N, 0, Math.ceil(N / (4 * shape.vecs)));
        expect(f32View(yp, M * N).slice(), `${shape.rows}×${4 * shape.vecs} M=${M} N=${N} K=${K}`).toEqual(want);
      }
    }
  });

  it("emits a module that validates, for shared and unshared memory", () => {
    expect(WebAssembly.validate(buildKernelModule(PLAIN_SHAPE, { min: 1, max: 10, shared: true }))).toBe(true);
    expect(WebAssembly.validate(buildKernelModule(PLAIN_SHAPE, { min: 1, max: 10, shared: false }))).toBe(true);
  });
});

for (const variant of variants) {
  describe(`linear on ${variant}`, () => {
    it("matches the JS kernel on odd sizes, with and without bias (and K past one cache block)", () => {
      let worst = 0;
      for (const M of SIZES) {
        for (const K of [1, 3, 17, 100, 300, 520]) {
          for (const N of SIZES) {
            const r = rng(M * 10007 + K * 101 + N);
            const x = rand(M * K, r);
            const w = rand(N * K, r);
            const b = rand(N, r);
            for (const bias of [b, null]) {
              const ref = reference(x, M, w, N, K, bias);
              expect(setBackend(variant)).toBe(variant);
              const layer = packLinear(w, N, K, bias);
              expect(layer.wasm).toBeDefined();
              const out = new Float32Array(M * N).fill(Number.NaN); // every value must be written
              expect(linear(x, M, layer, out)).toBe(out);
              expect(ref).toEqual(float32Sums(x, M, w, N, K, bias));
              // fused multiply-add rounds each product away: a difference growing like √K
              worst = Math.max(worst, relErr(out, ref) / Math.sqrt(K));
              if (variant === "wasm") expect(out).toEqual(ref);
              // The lazily derived JS layout gives the reference back exactly.
              const js = new Float32Array(M * N);
              linearPanels(x, M, K, N, layer.packed, layer.bias, js, 0, Math.ceil(N / 4));
              expect(js).toEqual(ref);
            }
          }
        }
      }
      expect(worst).toBeLessThan(1e-6);
    });

    it("computes A·Bᵀ (matmulTransB) like the JS reference on odd sizes, large enough to take the WebAssembly path", () => {
      for (const [M, K, N] of [[700, 401, 3], [97, 1024, 17], [513, 300, 51], [64, 4096, 1], [5, 3, 5]]) {
        const r = rng(M * 31 + K * 7 + N);
        const a = rand(M * K, r);
        const b = rand(N * K, r);
        setBackend("js");
        const ref = matmulTransB(a, b, M, K, N);
        expect(ref).toEqual(matmulTransBReference(a, b, M, K, N));
        setBackend(variant);
        const out = new Float32Array(M * N).fill(Number.NaN);
        expect(matmulTransB(a, b, M, K, N, out)).toBe(out);
        expect(ref).toEqual(float32Sums(a, M, b, N, K, null));
        expect(relErr(out, ref) / Math.sqrt(K)).toBeLessThan(1e-6);
        // Large products run the WebAssembly kernel, tiny ones the reference: plain SIMD equals it either way.
        if (variant === "wasm") expect(out).toEqual(ref);
      }
    });

    it("gives packed weights back unchanged (unpackLinear), from WebAssembly memory and from the JS panels", () => {
      const r = rng(99);
      for (const [N, K] of [[1, 1], [17, 5], [33, 70]]) {
        const w = rand(N * K, r);
        setBackend(variant);
        expect(unpackLinear(packLinear(w, N, K))).toEqual(w);
        setBackend("js");
        expect(unpackLinear(packLinear(w, N, K))).toEqual(w);
      }
    });

    it("runs inputs larger than one I/O block in blocks of rows: same results, memory grown by at most a block", () => {
      setBackend(variant);
      const K = 64, N = 48;
      const M = ioBlockRows(K + N) * 2 + 37; // two whole blocks and a ragged one
      const r = rng(123);
      const x = rand(M * K, r);
      const layer = packLinear(rand(N * K, r), N, K, rand(N, r));
      const b = rand(N * K, r);
      const before = wasmRuntime()!.memory.buffer.byteLength;
      const y = linear(x, M, layer);
      const c = matmulTransB(x, b, M, K, N);
      const grown = wasmRuntime()!.memory.buffer.byteLength - before;
      expect(grown).toBeLessThan(M * (K + N) * 4); // not the whole input and output
      // Rows are independent: the blocked results equal one-row calls of the same kernel across block edges.
      const bLayer = packLinear(b, N, K);
      for (const m of [0, ioBlockRows(K + N) - 1, ioBlockRows(K + N), M - 1]) {
        const row = x.subarray(m * K, (m + 1) * K);
        expect(y.subarray(m * N, (m + 1) * N)).toEqual(linear(row, 1, layer));
        expect(c.subarray(m * N, (m + 1) * N)).toEqual(linear(row, 1, bLayer));
      }
    });

    it("does not write past the output rows", () => {
      setBackend(variant);
      const M = 5, K = 9, N = 21;
      const r = rng(7);
      const layer = packLinear(rand(N * K, r), N, K, rand(N, r));
      const big = new Float32Array(M * N + 8).fill(42);
      linear(rand(M * K, r), M, layer, big.subarray(0, M * N));
      expect(Array.from(big.subarray(M * N))).toEqual(new Array(8).fill(42));
    });
  });
}

describe("Wᵀ·x from float32 panels (transposedTimes, the factored span scores' u = W₂ᵀ·v)", () => {
  it("is x·W in float64 within float32 rounding (reference), with LoRA deltas added", () => {
    setBackend("js");
    const r = rng(41);
    for (const [rows, N, K] of [[1, 1, 1], [3, 17, 9], [5, 40, 23]]) {
      const w = rand(N * K, r);
      const x = rand(rows * N, r);
      const rank = 2;
      const delta = { rank, a: rand(rank * K, r), b: rand(N * rank, r), scale: 0.5 };
      for (const deltas of [undefined, [delta]]) {
        const layer = withDeltas(packLinear(w, N, K), deltas);
        expect(layer.wasm).toBeUndefined();
        const got = transposedTimes(layer, x, rows);
        for (let m = 0; m < rows; m++) {
          for (let k = 0; k < K; k++) {
            let want = 0;
            let mag = 0;
            for (let n = 0; n < N; n++) {
              let wnk = w[n * K + k];
              if (deltas) for (let j = 0; j < rank; j++) wnk += delta.scale * delta.b[n * rank + j] * delta.a[j * K + k];
              want += x[m * N + n] * wnk;
              mag += Math.abs(x[m * N + n] * wnk);
            }
            expect(Math.abs(got[m * K + k] - want), `rows=${rows} N=${N} K=${K} deltas=${!!deltas}`).toBeLessThanOrEqual(mag * (N + 4) * 2 ** -23);
          }
        }
      }
    }
    setBackend("auto");
  });

  it("WebAssembly equals the reference bit for bit: K mod 8, a partial last panel, rows mod 4, NaN and huge rows, deltas, threads", async () => {
    const r = rng(43);
    let cases = 0;
    for (const rows of [1, 3, 4, 5, 9]) {
      for (const N of [1, 5, 16, 17, 33]) {
        for (const K of [1, 7, 8, 9, 23, 64]) {
          const w = rand(N * K, r);
          const x = rand(rows * N, r, 3);
          if (rows > 1) x.fill(0, N, 2 * N);
          if (rows > 2) for (let n = 0; n < N; n++) x[2 * N + n] *= 1e30;
          if (rows > 3) x[3 * N + (N >> 1)] = NaN;
          const delta = cases % 3 === 0 ? [{ rank: 2, a: rand(2 * K, r), b: rand(N * 2, r), scale: 0.25 }] : undefined;
          setBackend("js");
          const want = transposedTimes(withDeltas(packLinear(w, N, K), delta), x, rows);
          setBackend("wasm");
          const packed = withDeltas(packLinear(w, N, K), delta);
          expect(packed.wasm).toBeDefined();
          const got = transposedTimes(packed, x, rows);
          const at = got.findIndex((g, i) => !Object.is(g, want[i]));
          expect(at, `rows=${rows} N=${N} K=${K} at ${at}: ${got[at]} vs ${want[at]}`).toBe(-1);
          if (K >= 8 && N >= 16) expect(Number.isFinite(got[0]) && got[0] !== 0).toBe(true);
          cases++;
        }
      }
    }
    expect(cases).toBe(5 * 5 * 6);
    // Large enough to split over threads: 1, 2 and 3 give the reference's bits.
    const [rows, N, K] = [7, 333, 301];
    const w = rand(N * K, r);
    const x = rand(rows * N, r);
    setBackend("js");
    const want = transposedTimes(packLinear(w, N, K), x, rows);
    setBackend("wasm");
    const packed = packLinear(w, N, K);
    for (const threads of [1, 2, 3]) {
      await startWasmPool(threads);
      const got = transposedTimes(packed, x, rows);
      expect(got.findIndex((g, i) => !Object.is(g, want[i])), `${threads} threads`).toBe(-1);
    }
    stopWasmPool();
    setBackend("auto");
  });
});

describe("load-time weight check", () => {
  it("finds the first NaN/±∞ like the plain loop, at any position (blocks, chunk edges, tails), and passes extreme finite values", () => {
    setBackend("wasm");
    const n = (1 << 20) + 37; // past one copied chunk, with a ragged tail
    const x = new Float32Array(n);
    const r = rng(5);
    for (let i = 0; i < n; i++) x[i] = r() * 5;
    x[3] = -0;
    x[100] = 3.4028234663852886e38;
    x[101] = -3.4028234663852886e38;
    x[102] = 1e-45; // subnormal
    expect(firstNonFinite(x)).toBe(-1);
    expect(firstNonFiniteReference(x)).toBe(-1);
    for (const at of [0, 15, 16, 4095, 4096, (1 << 20) - 1, 1 << 20, n - 1]) {
      for (const bad of [Number.NaN, Infinity, -Infinity]) {
        const y = x.slice();
        y[at] = bad;
        y[Math.min(n - 1, at + 7)] = Number.NaN; // a later one must not win
        expect(firstNonFinite(y)).toBe(at);
        expect(firstNonFiniteReference(y)).toBe(at);
      }
    }
    expect(firstNonFinite(new Float32Array(0))).toBe(-1);
    setBackend("auto");
  });
});

describe("threads over shared WebAssembly memory", () => {
  it("linear gives bit-identical results with 1 and 3 threads, on uneven splits", async () => {
    setBackend("wasm");
    for (const [M, K, N] of [[7, 64, 130], [128, 96, 257], [1, 3, 5], [33, 200, 1000]]) {
      const r = rng(M + K + N);
      const layer = packLinear(rand(N * K, r), N, K, rand(N, r));
      const x = rand(M * K, r);
      stopWasmPool();
      const single = linear(x, M, layer);
      await startWasmPool(3);
      expect(wasmPoolThreads()).toBe(3);
      expect(linear(x, M, layer)).toEqual(single);
    }
    stopWasmPool();
  });
});

/**
 * The encoder's attention for one batch of heads, written with the JS kernels exactly as src/model/deberta.ts
 * does, against the WebAssembly `attention` export.
 */
describe("attention kernel", () => {
  const cases = [
    { L: 1, d: 8, heads: 1, batch: 1, npos: 16 },
    { L: 5, d: 4, heads: 2, batch: 2, npos: 16 },
    { L: 13, d: 16, heads: 3, batch: 1, npos: 24 },
    { L: 37, d: 20, heads: 2, batch: 2, npos: 40 },
    { L: 70, d: 64, heads: 2, batch: 1, npos: 512 },
  ];
  for (const { L, d, heads, batch, npos } of cases) {
    for (const threads of [1, 2]) {
      it(`L=${L} d=${d} heads=${heads} batch=${batch}, ${threads} thread(s)`, async () => {
        setBackend("wasm");
        if (threads > 1) await startWasmPool(threads);
        else stopWasmPool();
        const r = rng(L * 31 + d);
        const H = heads * d;
        const rows = batch * L;
        const qkv = rand(rows * 3 * H, r);
        const posKey = Array.from({ length: heads }, () => rand(npos * d, r));
        const posQuery = Array.from({ length: heads }, () => rand(npos * d, r));
        const mask = Uint8Array.from({ length: rows }, (_, i) => (i % L === L - 1 && L > 2 ? 0 : 1));
        // relative index by δ = i − j, clamped into [0, npos): a made-up but monotone bucketing
        const relIdx = Int32Array.from({ length: 2 * L - 1 }, (_, t) => Math.min(Math.max(Math.round((t - (L - 1)) / 2) + npos / 2, 0), npos - 1));
        const cMin = Math.min(...relIdx), cMax = Math.max(...relIdx);
        const invScale = Math.fround(1 / Math.sqrt(3 * d)); // a float32 parameter of the kernel

        // JS reference
        const ref = new Float32Array(rows * H);
        const refProbs = new Float32Array(batch * heads * L * L);
        const nc = cMax - cMin + 1;
        for (let b = 0; b < batch; b++) {
          for (let h = 0; h < heads; h++) {
            const take = (off: number) => {
              const o = new Float32Array(L * d);
              for (let i = 0; i < L; i++) for (let c = 0; c < d; c++) o[i * d + c] = qkv[(b * L + i) * 3 * H + off + h * d + c];
              return o;
            };
            const qh = take(0), kh = take(H), vh = take(2 * H);
            const scores = matmulTransB(qh, kh, L, d, L);
            const c2p = matmulTransB(qh, posKey[h].subarray(cMin * d, (cMax + 1) * d), L, d, nc);
            const p2c = matmulTransB(kh, posQuery[h].subarray(cMin * d, (cMax + 1) * d), L, d, nc);
            for (let i = 0; i < L; i++) {
              for (let j = 0; j < L; j++) {
                const c = relIdx[i - j + L - 1] - cMin;
                const rel = (c2p[i * nc + c] + p2c[j * nc + c]) * invScale;
                scores[i * L + j] = scores[i * L + j] * invScale + rel;
              }
            }
            softmaxRowsMasked(scores, L, L, mask, mask, b * L, b * L);
            refProbs.set(scores, (b * heads + h) * L * L);
            const ctx = matmul(scores, vh, L, L, d);
            for (let i = 0; i < L; i++) for (let c = 0; c < d; c++) ref[(b * L + i) * H + h * d + c] = ctx[i * d + c];
          }
        }

        // WebAssembly
        const v = activeVariant()!;
        const cBase = cMin & ~15;
        const ldc = Math.min(Math.ceil((cMax + 1) / 16) * 16, Math.ceil(npos / 16) * 16) - cBase;
        const scratchBytes = attentionScratchBytes(L, d, ldc);
        const pkBytes = Math.ceil(npos / 16) * 16 * d * 4;
        const base = wasmAlloc(rows * 3 * H * 4 + rows * H * 4 + 2 * heads * pkBytes + 4 * (2 * L - 1) + rows + 8 * heads + 4 * ATTN_PARAM_WORDS + 2 * batch * heads * L * L * 4 + threads * scratchBytes + heads * (2 * pkBytes + 2 * npos * d * 4) + 64 * 64);
        let at = base;
        const take = (bytes: number) => {
          const p = at;
          at += Math.ceil(bytes / 64) * 64;
          return p;
        };
        const qkvP = take(rows * 3 * H * 4), ctxP = take(rows * H * 4), relP = take(4 * (2 * L - 1)), maskP = take(rows);
        const pkT = take(4 * heads), pqT = take(4 * heads), params = take(4 * ATTN_PARAM_WORDS);
        const probsP = take(batch * heads * L * L * 4), relOutP = take(batch * heads * L * L * 4);
        const scratch = take(threads * scratchBytes);
        f32View(qkvP, qkv.length).set(qkv);
        i32View(relP, relIdx.length).set(relIdx.map((c) => c - cBase));
        u8View(maskP, rows).set(mask);
        for (let h = 0; h < heads; h++) {
          const pk = take(pkBytes), pq = take(pkBytes);
          const srcK = take(npos * d * 4), srcQ = take(npos * d * 4);
          f32View(srcK, npos * d).set(posKey[h]);
          f32View(srcQ, npos * d).set(posQuery[h]);
          v.exports.packRows(srcK, d, npos, d, pk);
          v.exports.packRows(srcQ, d, npos, d, pq);
          i32View(pkT + 4 * h, 1)[0] = pk;
          i32View(pqT + 4 * h, 1)[0] = pq;
        }
        const P = i32View(params, ATTN_PARAM_WORDS);
        const PF = f32View(params, ATTN_PARAM_WORDS);
        Object.assign(P, { [AttnParam.qkv]: qkvP, [AttnParam.ldqkv]: 3 * H, [AttnParam.L]: L, [AttnParam.d]: d, [AttnParam.heads]: heads });
        P[AttnParam.pkTable] = pkT;
        P[AttnParam.pqTable] = pqT;
        P[AttnParam.npos] = npos;
        P[AttnParam.cBase] = cBase;
        P[AttnParam.ldc] = ldc;
        P[AttnParam.relIdx] = relP;
        P[AttnParam.mask] = maskP;
        PF[AttnParam.invScale] = invScale;
        P[AttnParam.flags] = 3;
        P[AttnParam.ctx] = ctxP;
        P[AttnParam.ldctx] = H;
        P[AttnParam.relOut] = relOutP;
        P[AttnParam.probsOut] = probsP;
        const { runAttention } = await import("../src/kernels/wasm/pool.js");
        runAttention(v, params, batch * heads, scratch, scratchBytes);
        const ctx = f32View(ctxP, rows * H).slice();
        // The same float32 operations in the same order (products, softmax's exponentials and sums): the same
        // bits. Padding rows (mask 0) are uniform over all columns in both.
        expect(f32View(probsP, refProbs.length).slice()).toEqual(refProbs);
        expect(ctx).toEqual(ref);
        stopWasmPool();
      });
    }
  }
});

describe("element-wise kernels match the TypeScript reference bit for bit", () => {
  it("GELU (both signs, past the erf clamp, ±0, ±∞, NaN, odd column ranges) on a column range", async () => {
    const { geluErf } = await import("../src/kernels/index.js");
    const v = wasmRuntime()!.plain;
    const rows = 3, cols = 700;
    const r = rng(11);
    const data = Float32Array.from({ length: rows * cols }, (_, i) => (i % 7 === 0 ? r() * 12 : i % 3 === 0 ? r() * 0.6 : r() * 5));
    // specials in both lanes of a pair and in each pair of a quad (the kernel's clamp must keep NaN, as Math.max does)
    [NaN, Infinity, -Infinity, 0, -0, 1e30, -1e30, NaN].forEach((x, j) => (data[cols + 9 + j] = x));
    const p = wasmAlloc(data.length * 4);
    // ranges of 4q, 4q + 1, 4q + 2 and 4q + 3 columns: quads only, an odd last column, a last pair, both
    for (const n1 of [649, 650, 651, 652]) {
      f32View(p, data.length).set(data);
      v.exports.gelu(p, cols, rows, 5, n1);
      const got = f32View(p, data.length).slice();
      const want = data.slice();
      for (let m = 0; m < rows; m++) geluErf(want.subarray(m * cols + 5, m * cols + n1));
      expect(got, `columns [5, ${n1})`).toEqual(want);
    }
  });

  it.each([37, 38, 39, 40, 768])("residual add + layer norm, with and without the residual, on a row range (dim %i)", async (dim) => {
    const { addInPlace, layerNorm } = await import("../src/kernels/index.js");
    const v = wasmRuntime()!.plain;
    const rows = 6;
    const r = rng(12 + dim);
    const a = rand(rows * dim, r), b = rand(rows * dim, r), gamma = rand(dim, r), beta = rand(dim, r);
    const take = (x: Float32Array) => {
      const p = wasmAlloc(x.length * 4);
      f32View(p, x.length).set(x);
      return p;
    };
    const pa = take(a), pb = take(b), pg = take(gamma), pbeta = take(beta);
    v.exports.addNorm(pa, pb, rows, dim, pg, pbeta, 1e-7, 1, 5);
    const want = a.slice();
    addInPlace(want.subarray(dim, 5 * dim), b.subarray(dim, 5 * dim));
    layerNorm(want.subarray(dim, 5 * dim), 4, dim, gamma, beta, 1e-7, want.subarray(dim, 5 * dim));
    expect(f32View(pa, a.length).slice()).toEqual(want);
    v.exports.addNorm(pa, 0, rows, dim, pg, pbeta, 1e-5, 0, rows);
    layerNorm(want, rows, dim, gamma, beta, 1e-5, want);
    expect(f32View(pa, a.length).slice()).toEqual(want);
  });
});

describe("the encoder on the wasm backend with threads", () => {
  it("gives bit-identical hidden states with 1, 2 and 3 threads (padded batch, golden inputs)", async () => {
    const { readFileSync } = await import("node:fs");
    const { parseEncoderConfig } = await import("../src/model/config.js");
    const { encode, loadDebertaEncoder } = await import("../src/model/deberta.js");
    const { readSafetensorsFile } = await import("../src/model/safetensors.js");
    const fix = new URL("./fixtures/", import.meta.url).pathname;
    setBackend("wasm");
    const config = parseEncoderConfig(readFileSync(`${fix}tiny-count_lstm_v2/encoder_config/config.json`, "utf8"));
    const enc = loadDebertaEncoder(await readSafetensorsFile(`${fix}tiny-count_lstm_v2/model.safetensors`), config);
    const golden = await readSafetensorsFile(`${fix}golden/encoder.safetensors`);
    const meta = JSON.parse(readFileSync(`${fix}golden/encoder.json`, "utf8")) as { runs: { name: string; batch: number; length: number }[] };
    for (const run of meta.runs) {
      const ids = golden.ints(`${run.name}.input_ids`, [run.batch, run.length]);
      const mask = golden.ints(`${run.name}.attention_mask`, [run.batch, run.length]);
      stopWasmPool();
      const one = encode(enc, ids, mask, run.batch, run.length);
      for (const threads of [2, 3]) {
        await startWasmPool(threads);
        expect(encode(enc, ids, mask, run.batch, run.length)).toEqual(one);
      }
    }
    stopWasmPool();
  });
});

describe("pool start in a plain Node process", () => {
  it("keeps the process alive until the workers are ready (top-level await startThreads(2) finishes)", async () => {
    const { build } = await import("esbuild");
    const { mkdtempSync, writeFileSync } = await import("node:fs");
    const { tmpdir } = await import("node:os");
    const { join } = await import("node:path");
    const { spawnSync } = await import("node:child_process");
    const dir = mkdtempSync(join(tmpdir(), "gliner2-pool-"));
    await build({ entryPoints: [new URL("../src/kernels/index.ts", import.meta.url).pathname], bundle: true, format: "esm", platform: "node", outfile: join(dir, "kernels.mjs"), logLevel: "silent" });
    writeFileSync(join(dir, "main.mjs"), `import { setBackend, startThreads, threadCount, stopThreads } from "./kernels.mjs";\nsetBackend("wasm");\nawait startThreads(2);\nconsole.log("threads=" + threadCount());\nstopThreads();\n`);
    const r = spawnSync(process.execPath, [join(dir, "main.mjs")], { encoding: "utf8", timeout: 60_000 });
    expect(r.stdout.trim()).toBe("threads=2");
    expect(r.status).toBe(0);
  });
});

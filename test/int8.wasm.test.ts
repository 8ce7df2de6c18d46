/**
 * The WebAssembly int8 kernel (src/kernels/wasm/int8*.ts) held to the plain-TS reference `linearInt8Reference`:
 * bit-identical outputs on odd sizes (with and without bias, zero rows, ties, huge and tiny magnitudes,
 * non-finite rows), with strides and on several threads; and a whole int8 model on every golden case giving the
 * same numbers with the wasm int8 kernel as with the reference kernel.
 */
import { readFileSync } from "node:fs";
import { afterAll, describe, expect, it, vi } from "vitest";
import { GLiNER2 } from "../src/gliner2.js";
import { runBatch } from "../src/engine.js";
import {
  int8Linear,
  int8KernelIsDefault,
  transposedTimes,
  linear,
  linearInt8Auto,
  linearInt8Reference,
  quantizeRows,
  setBackend,
  setInt8Backend,
  type Int8Linear,
} from "../src/kernels/index.js";
import { DEFAULT_INT8_PLAN, type Int8Plan } from "../src/int8/plan.js";
import { activeVariant } from "../src/kernels/backend.js";
import { linearAt } from "../src/kernels/wasm/linear.js";
import { startWasmPool, stopWasmPool } from "../src/kernels/wasm/pool.js";
import { f32View, wasmAlloc, wasmRuntime } from "../src/kernels/wasm/runtime.js";
import { parseEncoderConfig } from "../src/model/config.js";
import { encode, loadDebertaEncoder, type EncoderTrace } from "../src/model/deberta.js";
import { readSafetensorsFile } from "../src/model/safetensors.js";
import { setLoadPolicy } from "../src/model/weights.js";
import { buildPrompt } from "../src/schema/prompt.js";
import { prepareText, splitWords } from "../src/text/words.js";
import { mapCall } from "./helpers/callDsl.js";
import { checkpointDir, goldenCheckpoints, listGoldenCases, readGoldenCase } from "./helpers/golden.js";
import { randFloats as rand, signedRng as rng } from "./helpers/prng.js";


/** Index of the first element where a and b differ (Object.is: NaN equals NaN, 0 differs from −0), or −1. */
function firstDiff(a: Float32Array, b: Float32Array): number {
  expect(a.length).toBe(b.length);
  for (let i = 0; i < a.length; i++) if (!Object.is(a[i], b[i])) return i;
  return -1;
}

const SIZES = [1, 3, 5, 7, 13, 17, 65, 100];

afterAll(() => {
  stopWasmPool();
  setInt8Backend(null);
  setBackend("auto");
});

describe("WebAssembly int8 linear", () => {
  it("runs on this runtime, packs int8 layers under the wasm backend only, and is the default int8 kernel", () => {
    expect(wasmRuntime()).not.toBeNull();
    setBackend("js");
    const w = quantizeRows(rand(6 * 5, rng(1)), 6, 5);
    expect((int8Linear(w) as Int8Linear).wasmInt8).toBeUndefined();
    expect(setBackend("wasm")).toBe("wasm");
    const packed = int8Linear(w) as Int8Linear;
    expect(packed.wasmInt8).toBeDefined();
    expect(int8KernelIsDefault()).toBe(true);
    // The row-major copy is not kept; it comes back from the panels, exactly, when the reference asks for it.
    expect(Object.getOwnPropertyDescriptor(packed, "int8")?.get).toBeDefined();
    expect(Array.from(packed.int8.q)).toEqual(Array.from(w.q));
    expect(Array.from(packed.int8.scales)).toEqual(Array.from(w.scales));
  });

  it("packs the same panels from word-aligned weights (moved a word at a time) and from a misaligned view (byte by byte)", () => {
    setBackend("wasm");
    const r = rng(61);
    for (const [N, K] of [[21, 24], [5, 8], [33, 100], [17, 9]]) {
      const w = quantizeRows(rand(N * K, r), N, K);
      const shifted = new Int8Array(N * K + 1);
      shifted.set(w.q, 1);
      const misaligned = { ...w, q: shifted.subarray(1) };
      expect(misaligned.q.byteOffset % 2).toBe(1);
      const a = int8Linear(w) as Int8Linear;
      const b = int8Linear(misaligned) as Int8Linear;
      expect(Array.from(a.int8.q), `N=${N} K=${K}`).toEqual(Array.from(w.q));
      expect(Array.from(b.int8.q), `N=${N} K=${K} misaligned`).toEqual(Array.from(w.q));
      const x = rand(3 * K, r);
      expect(firstDiff(linear(x, 3, a), linear(x, 3, b))).toBe(-1);
      expect(firstDiff(linear(x, 3, a), linearInt8Reference(x, 3, a))).toBe(-1);
    }
    setBackend("auto");
  });

  it("equals linearInt8Reference bit for bit on odd sizes, with and without bias, zero rows and extreme magnitudes", () => {
    setBackend("wasm");
    const r = rng(7);
    let cases = 0;
    let nonzero = 0;
    for (const M of SIZES) {
      for (const N of SIZES) {
        for (const K of SIZES) {
          const w = rand(N * K, r);
          if (N > 2) w.fill(0, K, 2 * K); // an all-zero weight row (scale 1, q 0)
          const layerW = quantizeRows(w, N, K);
          const x = rand(M * K, r, 3);
          if (M > 1) x.fill(0, 0, K); // an all-zero activation row
          if (M > 2) for (let k = 0; k < K; k++) x[2 * K + k] *= 1e30; // huge
          if (M > 3) for (let k = 0; k < K; k++) x[3 * K + k] *= 1e-30; // tiny (still normal after scaling)
          if (M > 4) for (let k = 0; k < K; k++) x[4 * K + k] = ((k % 11) - 5) * 0.5 * (k === 0 ? 2 : 1); // exact ties x/s = n + ½
          for (const bias of [null, rand(N, r)]) {
            const layer = int8Linear(layerW, bias);
            const got = linear(x, M, layer);
            const want = linearInt8Reference(x, M, layer);
            const at = firstDiff(got, want);
            expect(at, `M=${M} N=${N} K=${K} bias=${bias !== null} at ${at}: ${got[at]} vs ${want[at]}`).toBe(-1);
            cases++;
            nonzero += want.some((v) => v !== 0) ? 1 : 0;
          }
        }
      }
    }
    expect(cases).toBe(2 * SIZES.length ** 3);
    expect(nonzero).toBeGreaterThan(cases * 0.9);
  });

  it("rounds ties to even like the reference (and the reference's rule is ties-to-even)", () => {
    setBackend("wasm");
    // amax 127 → scale exactly 1, so x/s is x: ties at ±0.5, ±1.5, ±2.5 …
    const x = Float32Array.from([127, 0.5, 1.5, 2.5, -0.5, -1.5, -2.5, 3.5]);
    const K = x.length;
    const eye = new Float32Array(K * K);
    for (let k = 0; k < K; k++) eye[k * K + k] = 1;
    const layer = int8Linear(quantizeRows(eye, K, K));
    const got = linear(x, 1, layer);
    // identity weights (q = 127, scale 1/127): y = q(x) · 1 · (1/127 · 127) ≈ q(x)
    expect(Array.from(got, Math.round)).toEqual([127, 0, 2, 2, 0, -2, -2, 4]);
    expect(firstDiff(got, linearInt8Reference(x, 1, layer))).toBe(-1);
  });

  it("propagates a non-finite activation row as NaN, like the reference, and keeps subnormal rows", () => {
    setBackend("wasm");
    const layer = int8Linear(quantizeRows(Float32Array.from([1, 2, 3, 4, 5, 6]), 2, 3), Float32Array.from([0.5, -0.25]));
    const x = Float32Array.from([1, Infinity, 1, 1, 2, 3, NaN, 1, 0, -Infinity, 0, 0, 1e-42, 0, -3e-43]);
    const got = linear(x, 5, layer);
    expect(firstDiff(got, linearInt8Reference(x, 5, layer))).toBe(-1);
    expect(Number.isNaN(got[0]) && Number.isNaN(got[4]) && Number.isNaN(got[6])).toBe(true);
    expect(got[2]).toBeCloseTo(14.5, 1);
    // K = 9: the non-finite values in the four-lane part of the row, and in the tail
    const r = rng(21);
    const wide = int8Linear(quantizeRows(rand(5 * 9, r), 5, 9), rand(5, r));
    const xw = rand(5 * 9, r, 2);
    xw[2] = NaN;
    xw[9 + 5] = -Infinity;
    xw[18 + 8] = NaN;
    xw[27 + 3] = 1e-42;
    const gw = linear(xw, 5, wide);
    expect(firstDiff(gw, linearInt8Reference(xw, 5, wide))).toBe(-1);
    expect(gw.slice(0, 15).every(Number.isNaN)).toBe(true);
    expect(gw.slice(15).every(Number.isFinite)).toBe(true);
  });

  it("reads and writes with row strides (the encoder's pointer path) and leaves other columns alone", () => {
    const v = activeVariant() ?? (setBackend("wasm"), activeVariant())!;
    const r = rng(3);
    const [M, N, K, ldx, ldy] = [9, 21, 19, 23, 30];
    const layer = int8Linear(quantizeRows(rand(N * K, r), N, K), rand(N, r)) as Int8Linear;
    const x = rand(M * K, r, 2);
    const xp = wasmAlloc(M * ldx * 4);
    const yp = wasmAlloc(M * ldy * 4);
    const xs = f32View(xp, M * ldx);
    for (let m = 0; m < M; m++) xs.set(x.subarray(m * K, (m + 1) * K), m * ldx);
    f32View(yp, M * ldy).fill(7);
    linearAt(v, xp, ldx, M, layer, yp, ldy);
    const want = linearInt8Reference(x, M, layer);
    const ys = f32View(yp, M * ldy);
    for (let m = 0; m < M; m++) {
      expect(firstDiff(ys.slice(m * ldy, m * ldy + N), want.slice(m * N, (m + 1) * N))).toBe(-1);
      expect(Array.from(ys.slice(m * ldy + N, (m + 1) * ldy)).every((y) => y === 7)).toBe(true);
    }
  });

  it("gives the same bits on 1, 2 and 3 threads (uneven panel splits)", async () => {
    setBackend("wasm");
    const r = rng(9);
    const [M, N, K] = [67, 333, 301];
    const layer = int8Linear(quantizeRows(rand(N * K, r), N, K), rand(N, r));
    const x = rand(M * K, r);
    const want = linearInt8Reference(x, M, layer);
    for (const threads of [1, 2, 3]) {
      await startWasmPool(threads);
      expect(firstDiff(linear(x, M, layer), want), `${threads} threads`).toBe(-1);
    }
    stopWasmPool();
  });
});

describe("int8 quantization of weights on the WebAssembly kernel (quantW8)", () => {
  function special(src: Float32Array, rows: number, cols: number): void {
    src.fill(0, 0, cols); // a zero row
    if (rows > 1) for (let k = 0; k < cols; k++) src[cols + k] = (k % 2 ? -1 : 1) * 1e-44; // subnormal: amax / 127 underflows
    if (rows > 2) {
      src[2 * cols] = 127; // scale exactly 1, ties x.5 in the row
      for (let k = 1; k < cols; k++) src[2 * cols + k] = ((k % 9) - 4) + 0.5;
    }
    if (rows > 3) for (let k = 0; k < cols; k++) src[3 * cols + k] *= 3e37; // near the float32 limit
    if (rows > 4) src.fill(-0, 4 * cols, 5 * cols);
    if (rows > 5) for (let k = 0; k < cols; k++) src[5 * cols + k] = k === cols - 1 ? 1e-39 : -1e-41; // a subnormal scale: the clamp bites
  }

  it("gives the reference's bytes and scales: odd widths, zero/subnormal/tie/huge/−0 rows, more than one block of rows", () => {
    const r = rng(51);
    let cases = 0;
    for (const cols of [1, 3, 4, 5, 17, 768]) {
      for (const rows of [Math.ceil(16384 / cols) + 3, ...(cols === 768 ? [1500] : [])]) {
        const src = rand(rows * cols, r, 0.2);
        special(src, rows, cols);
        setBackend("js");
        const want = quantizeRows(src, rows, cols);
        setBackend("wasm");
        const got = quantizeRows(src, rows, cols);
        expect(firstDiff(got.scales, want.scales), `scales cols=${cols} rows=${rows}`).toBe(-1);
        const at = got.q.findIndex((x, i) => x !== want.q[i]);
        expect(at, `cols=${cols} rows=${rows} at ${at}: ${got.q[at]} vs ${want.q[at]}`).toBe(-1);
        expect(want.q.some((x) => x === 127 || x === -127)).toBe(true);
        cases++;
      }
    }
    expect(cases).toBe(7);
    setBackend("auto");
  });

  it("names the first non-finite row like the reference (NaN, ∞, in the vector part and in the tail)", () => {
    const r = rng(53);
    const [rows, cols] = [40, 1023];
    for (const [row, col, value] of [[7, 5, NaN], [12, 1022, Infinity], [39, 0, -Infinity]] as const) {
      const src = rand(rows * cols, r);
      src[row * cols + col] = value;
      if (row < 39) src[39 * cols] = NaN; // a later bad row must not be the one named
      for (const backend of ["js", "wasm"] as const) {
        setBackend(backend);
        expect(() => quantizeRows(src, rows, cols), `${backend} ${value}`).toThrow(new RegExp(`quantizeRows: row ${row} holds a non-finite value`));
      }
    }
    setBackend("auto");
  });
});

describe("Wᵀ·x from int8 weights (transposedTimes of an int8 layer, the factored span scores' u = W₂ᵀ·v)", () => {
  /** The float64 value Σ_n x[r, n]·scale[n]·q[n, k] and the sum of |terms| (for a float32 rounding bound). */
  function exact(w: { q: Int8Array; scales: Float32Array }, x: Float32Array, rows: number, N: number, K: number) {
    const val = new Float64Array(rows * K);
    const mag = new Float64Array(rows * K);
    for (let r = 0; r < rows; r++) {
      for (let n = 0; n < N; n++) {
        for (let k = 0; k < K; k++) {
          const t = x[r * N + n] * w.scales[n] * w.q[n * K + k];
          val[r * K + k] += t;
          mag[r * K + k] += Math.abs(t);
        }
      }
    }
    return { val, mag };
  }

  it("is Wᵀ·x of the dequantized weights within float32 rounding (reference)", () => {
    setBackend("js");
    const r = rng(31);
    for (const [rows, N, K] of [[1, 1, 1], [3, 17, 9], [5, 40, 23], [2, 64, 128]]) {
      const w = quantizeRows(rand(N * K, r), N, K);
      const layer = int8Linear(w);
      expect((layer as Int8Linear).wasmInt8).toBeUndefined();
      const x = rand(rows * N, r, 2);
      const got = transposedTimes(layer, x, rows);
      const { val, mag } = exact(w, x, rows, N, K);
      for (let i = 0; i < rows * K; i++) expect(Math.abs(got[i] - val[i]), `rows=${rows} N=${N} K=${K} at ${i}`).toBeLessThanOrEqual(mag[i] * N * 2 ** -23 + 1e-30);
    }
    setBackend("auto");
  });

  it("WebAssembly equals the reference bit for bit: odd sizes (K mod 8, N mod 16, rows mod 4), zero, huge, non-finite rows", () => {
    const r = rng(33);
    let cases = 0;
    for (const rows of [1, 3, 4, 5, 9]) {
      for (const N of [1, 5, 16, 17, 33]) {
        for (const K of [1, 7, 8, 9, 23, 64, 100]) {
          const w = quantizeRows(rand(N * K, r), N, K);
          const x = rand(rows * N, r, 3);
          if (rows > 1) x.fill(0, N, 2 * N); // a zero row
          if (rows > 2) for (let n = 0; n < N; n++) x[2 * N + n] *= 1e30; // huge: products overflow to ±∞ in some columns
          if (rows > 3) x[3 * N + (N >> 1)] = NaN;
          if (rows > 4) x[4 * N] = -Infinity;
          setBackend("js");
          const want = transposedTimes(int8Linear(w), x, rows);
          setBackend("wasm");
          const packed = int8Linear(w) as Int8Linear;
          expect(packed.wasmInt8).toBeDefined();
          const got = transposedTimes(packed, x, rows);
          const at = firstDiff(got, want);
          expect(at, `rows=${rows} N=${N} K=${K} at ${at}: ${got[at]} vs ${want[at]}`).toBe(-1);
          // The kernel's own part (k below a multiple of 8) is not all zeros or all NaN: it did the work.
          if (K >= 8) expect(Number.isFinite(got[0]) && got[0] !== 0).toBe(true);
          cases++;
        }
      }
    }
    expect(cases).toBe(5 * 5 * 7);
    setBackend("auto");
  });

  it("refuses an input or output of the wrong size, naming both sizes", () => {
    const layer = int8Linear(quantizeRows(rand(4 * 6, rng(1)), 4, 6)); // N = 4 outputs, K = 6 inputs
    expect(() => transposedTimes(layer, new Float32Array(7), 2)).toThrow(/transposedTimes: input has 7 values, expected 2×4/);
    expect(() => transposedTimes(layer, new Float32Array(8), 2, new Float32Array(11))).toThrow(/output holds 11 values, expected 2×6/);
    expect(transposedTimes(layer, new Float32Array(8), 2, new Float32Array(12)).length).toBe(12);
  });

  it("gives the same bits on 1, 2 and 3 threads (chunks of 8 inputs split unevenly)", async () => {
    const r = rng(35);
    const [rows, N, K] = [7, 333, 301];
    const w = quantizeRows(rand(N * K, r), N, K);
    const x = rand(rows * N, r);
    setBackend("js");
    const want = transposedTimes(int8Linear(w), x, rows);
    setBackend("wasm");
    const packed = int8Linear(w);
    for (const threads of [1, 2, 3]) {
      await startWasmPool(threads);
      expect(firstDiff(transposedTimes(packed, x, rows), want), `${threads} threads`).toBe(-1);
    }
    stopWasmPool();
    setBackend("auto");
  });
});

describe("an int8 model on the golden cases: wasm int8 kernel vs the reference kernel", () => {
  for (const ckpt of goldenCheckpoints()) {
    it(ckpt, async () => {
      const model = await GLiNER2.fromPretrained(checkpointDir(ckpt), { quantize: "int8", backend: "wasm", offThread: false });
      expect((model.model.encoder.layers[0].query as Int8Linear).wasmInt8).toBeDefined();
      // int8 layers no longer keep the encoder off the WebAssembly forward (its position tables were built).
      expect(model.model.encoder.layers.every((l) => l.posTables !== undefined)).toBe(true);
      // Both kernels through linear() (a kernel set by hand sends the encoder to the js forward, so the only
      // difference between the two runs is the int8 kernel).
      const run = (kernel: typeof linearInt8Reference, item: Parameters<typeof runBatch>[1][number]) => {
        setInt8Backend(kernel);
        try {
          return runBatch(model.model, [item])[0];
        } finally {
          setInt8Backend(null);
        }
      };
      let compared = 0;
      for (const ref of listGoldenCases(ckpt)) {
        const c = readGoldenCase(ref);
        const call = mapCall(c);
        const item = { words: splitWords(prepareText(c.texts[0])).map((w) => w.text), prompt: buildPrompt(call.schemaFor(0)) };
        const viaWasm = run((x, rows, layer, out) => linearInt8Auto(x, rows, layer, out), item);
        const viaRef = run(linearInt8Reference, item);
        expect(viaWasm.wordEmbeddings, ref.name).toEqual(viaRef.wordEmbeddings);
        viaWasm.schemas.forEach((s, i) => {
          expect(s.countLogits, ref.name).toEqual(viaRef.schemas[i].countLogits);
          expect(s.spanScores, ref.name).toEqual(viaRef.schemas[i].spanScores);
          expect(s.clsLogits, ref.name).toEqual(viaRef.schemas[i].clsLogits);
        });
        // The default path: the whole encoder forward in WebAssembly with the int8 kernel. Its float work
        // (attention's products and softmax, GELU, layer norms) is the reference's arithmetic in the reference's
        // order, so it gives the js forward's bits too.
        const wasmForward = runBatch(model.model, [item])[0];
        expect(wasmForward.wordEmbeddings, ref.name).toEqual(viaRef.wordEmbeddings);
        wasmForward.schemas.forEach((s, i) => expect(s.spanScores, ref.name).toEqual(viaRef.schemas[i].spanScores));
        compared++;
      }
      expect(compared).toBe(listGoldenCases(ckpt).length);
    });
  }
});

/**
 * The tiny-count_lstm_v2 encoder loaded under the wasm backend with `plan` (null: float32), and the golden encoder
 * runs (ids and mask of each) to feed it.
 */
async function tinyEncoderAndRuns(plan: Int8Plan | null) {
  setBackend("wasm");
  const fix = new URL("./fixtures/", import.meta.url).pathname;
  const config = parseEncoderConfig(readFileSync(`${fix}tiny-count_lstm_v2/encoder_config/config.json`, "utf8"));
  const st = await readSafetensorsFile(`${fix}tiny-count_lstm_v2/model.safetensors`);
  setLoadPolicy(st, { plan, copyFloats: false });
  const enc = loadDebertaEncoder(st, config);
  const golden = await readSafetensorsFile(`${fix}golden/encoder.safetensors`);
  const meta = JSON.parse(readFileSync(`${fix}golden/encoder.json`, "utf8")) as { runs: { name: string; batch: number; length: number }[] };
  const runs = meta.runs.map((run) => ({
    ...run,
    ids: golden.ints(`${run.name}.input_ids`, [run.batch, run.length]),
    mask: golden.ints(`${run.name}.attention_mask`, [run.batch, run.length]),
  }));
  return { config, enc, runs };
}

describe("the int8 encoder on the WebAssembly forward with threads", () => {
  it("gives bit-identical hidden states with 1, 2 and 3 threads (int8 panels and GELU split over threads)", async () => {
    const { enc, runs } = await tinyEncoderAndRuns(DEFAULT_INT8_PLAN);
    expect((enc.layers[0].intermediate as Int8Linear).wasmInt8).toBeDefined();
    for (const { ids, mask, ...run } of runs) {
      stopWasmPool();
      const one = encode(enc, ids, mask, run.batch, run.length);
      expect(one.every(Number.isFinite)).toBe(true);
      for (const threads of [2, 3]) {
        await startWasmPool(threads);
        expect(encode(enc, ids, mask, run.batch, run.length), `${run.name}, ${threads} threads`).toEqual(one);
      }
    }
    stopWasmPool();
  });
});

describe("int16 position tables of int8 layers", () => {
  it("quantizeRows16: per-row scale amax/32767, ties to even, zero rows, non-finite rows refused", async () => {
    const { quantizeRows16 } = await import("../src/kernels/index.js");
    const q = new Int16Array(9);
    const s = new Float32Array(3);
    // row 0: amax 32767·2⁻⁴ (scale exactly 2⁻⁴); 2.5 and 3.5 steps are ties; row 1 all zeros; row 2 tiny values
    const src = Float32Array.from([2047.9375, 2.5 / 16, 3.5 / 16, 0, 0, 0, 1e-30, -2e-30, 0]);
    quantizeRows16(src, 3, 3, q, s);
    expect(s[0]).toBe(2 ** -4);
    expect(Array.from(q.subarray(0, 3))).toEqual([32767, 2, 4]);
    expect([s[1], ...q.subarray(3, 6)]).toEqual([1, 0, 0, 0]);
    expect(s[2]).toBe(Math.fround(Math.fround(2e-30) / 32767));
    expect(q[7]).toBe(-32767);
    expect(Math.abs(q[6] * s[2] - src[6])).toBeLessThanOrEqual(s[2] / 2);
    expect(() => quantizeRows16(Float32Array.from([1, NaN, 0]), 1, 3, q, s)).toThrow(/row 0 holds a non-finite value/);
  });

  it("the wasm forward's int16 tables give the js forward's layer-0 relative attention (all 512 rows in use at L300)", async () => {
    const { config, enc: int8, runs } = await tinyEncoderAndRuns(DEFAULT_INT8_PLAN);
    const { enc: f32 } = await tinyEncoderAndRuns(null);
    expect(int8.layers.every((l) => l.posTables?.int16 === true)).toBe(true);
    expect(f32.layers.every((l) => l.posTables?.int16 === false)).toBe(true);
    for (const { ids, mask, ...run } of runs) {
      const traced = (backend: "wasm" | "js") => {
        setBackend(backend);
        const trace: EncoderTrace = { hiddenStates: [] };
        encode(int8, ids, mask, run.batch, run.length, trace);
        return trace.layer0RelAtt!;
      };
      const wasm = traced("wasm");
      const js = traced("js");
      setBackend("wasm");
      let worst = 0;
      let largest = 0;
      const L = run.length;
      for (let i = 0; i < js.length; i++) {
        // [batch·heads, L, L]: only pairs of real tokens are computed by both forwards
        const b = Math.floor(i / (L * L * config.numHeads));
        if (!mask[b * L + (Math.floor(i / L) % L)] || !mask[b * L + (i % L)]) continue;
        worst = Math.max(worst, Math.abs(wasm[i] - js[i]));
        largest = Math.max(largest, Math.abs(js[i]));
      }
      // Same tables, the same int8 Q/K and the same float32 sums: the same bits.
      expect(largest, run.name).toBeGreaterThan(1);
      expect(worst, run.name).toBe(0);
    }
  });
});

describe("the int8 kernel's layout", () => {
  it("is the relaxed-dot (quads) kernel exactly where its instruction is exact and the engine is V8 13.6+, or as $GLINER2_INT8_KERNEL says", () => {
    const rt = wasmRuntime()!;
    const forced = process.env.GLINER2_INT8_KERNEL;
    const [major, minor] = process.versions.v8.split(".").map(Number);
    if (forced === "pairs") expect(rt.int8Quads).toBe(false);
    else if (forced !== "quads" && major * 100 + minor < 1306) expect(rt.int8Quads).toBe(false);
    // Node 20's relaxed SIMD is behind a flag, and its dot product gave twice the sum: never quads there.
    if (process.versions.node.startsWith("20.")) expect(rt.int8Quads).toBe(false);
    if (process.versions.node.startsWith("24.") && forced !== "pairs") expect(rt.int8Quads).toBe(true);
    console.log(`node ${process.version} (V8 ${process.versions.v8}): int8 kernel ${rt.int8Quads ? "quads (relaxed dot)" : "pairs (i16 dot)"}`);
  });

  it("says so once when $GLINER2_INT8_KERNEL holds something else, and still starts the kernels", async () => {
    const saved = process.env.GLINER2_INT8_KERNEL;
    const warn = vi.spyOn(console, "warn").mockImplementation(() => {});
    process.env.GLINER2_INT8_KERNEL = 'quad"s\n';
    try {
      vi.resetModules(); // a fresh runtime module reads the variable again
      const fresh = await import("../src/kernels/wasm/runtime.js");
      const rt = fresh.wasmRuntime();
      expect(rt).not.toBeNull();
      fresh.wasmRuntime();
      expect(warn).toHaveBeenCalledTimes(1);
      expect(String(warn.mock.calls[0][0])).toContain('is "quad\\"s\\n", not "pairs" or "quads"'); // the value JSON-escaped
    } finally {
      warn.mockRestore();
      if (saved === undefined) delete process.env.GLINER2_INT8_KERNEL;
      else process.env.GLINER2_INT8_KERNEL = saved;
      vi.resetModules();
    }
  });
});

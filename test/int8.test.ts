/**
 * int8: the kernel against a double-precision reference (odd sizes, exact integer sums, error bound), the
 * per-row quantizer, the quantize → save → load round trip, what loading keeps in memory, typed errors for bad
 * int8 checkpoints, and the accuracy of int8 against float32 on every golden case (README "int8").
 */
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { loadModel, readCheckpointDir } from "../src/checkpoint.js";
import { GLiNER2 } from "../src/gliner2.js";
import { SafetensorsError } from "../src/errors.js";
import { quantizeCheckpoint, quantizeCheckpointFiles } from "../src/int8/checkpoint.js";
import { DEFAULT_INT8_PLAN, INT8_FORMAT, INT8_METADATA_KEY } from "../src/int8/plan.js";
import {
  dequantizeRows,
  int8Linear,
  isInt8,
  linear,
  linearInt8Reference,
  packLinear,
  quantizeRows,
  setBackend,
  setInt8Backend,
  setLinearBackend,
  type Int8Rows,
} from "../src/kernels/index.js";
import { quantizeActivations } from "../src/kernels/int8.js";
import { roundHalfEven } from "../src/kernels/activations.js";
import { encode } from "../src/model/deberta.js";
import { openSafetensorsFile, parseSafetensors, type DType } from "../src/model/safetensors.js";
import { quantizeInChunks } from "../src/model/weights.js";
import { writeSafetensorsBuffer, type TensorToWrite } from "../src/model/safetensorsWriter.js";
import { runBatch } from "../src/engine.js";
import { buildPrompt } from "../src/schema/prompt.js";
import { prepareText, splitWords } from "../src/text/words.js";
import { mapCall } from "./helpers/callDsl.js";
import { runCliInProcess } from "./helpers/runCli.js";
import { checkpointDir, FIXTURES_DIR, goldenCheckpoints, listGoldenCases, readGoldenCase } from "./helpers/golden.js";
import { compareCase, type CaseAccuracy } from "./helpers/int8Accuracy.js";
import { randFloats as rand, rng as makeRng, signedRng as rng } from "./helpers/prng.js";


/** The quantizer written out independently: scale = fround(max|row| / 127), q = nearest, ties to even. */
function referenceQuantize(row: Float32Array): { q: number[]; s: number } {
  let amax = 0;
  for (const v of row) amax = Math.max(amax, Math.abs(v));
  const s = Math.fround(amax / 127);
  const q = Array.from(row, (v) => {
    if (s === 0) return 0;
    const t = v / s;
    const f = Math.floor(t);
    const r = t - f < 0.5 ? f : t - f > 0.5 ? f + 1 : f % 2 === 0 ? f : f + 1;
    return Math.max(-127, Math.min(127, r));
  });
  return { q, s };
}

describe("int8 kernel", () => {
  for (const M of [1, 2, 3, 5]) {
    for (const K of [1, 7, 33, 300]) {
      for (const N of [1, 2, 3, 5, 17]) {
        it(`M=${M} K=${K} N=${N}: exact integer sums, one rescale, and within the quantization error bound`, () => {
          const r = rng(M * 7919 + K * 31 + N);
          const x = rand(M * K, r, 3);
          const w = rand(N * K, r, 0.5);
          const b = rand(N, r);
          if (N > 2) w.fill(0, K, 2 * K); // an all-zero weight row
          if (M > 2) x.fill(0, 2 * K, 3 * K); // an all-zero activation row
          const qw = quantizeRows(w, N, K);
          const layer = int8Linear(qw, b);
          const y = linear(x, M, layer);
          for (let m = 0; m < M; m++) {
            const xa = referenceQuantize(x.subarray(m * K, (m + 1) * K));
            for (let n = 0; n < N; n++) {
              const wa = referenceQuantize(w.subarray(n * K, (n + 1) * K));
              // The kernel's weights are the reference quantizer's (a zero row has scale 1 and q = 0).
              expect(qw.scales[n]).toBe(wa.s === 0 ? 1 : wa.s);
              let acc = 0;
              let exact = b[n];
              let bound = 0;
              for (let k = 0; k < K; k++) {
                acc += xa.q[k] * wa.q[k];
                const xv = x[m * K + k];
                const wv = w[n * K + k];
                exact += xv * wv;
                bound += Math.abs(xv) * (qw.scales[n] / 2) + Math.abs(wv) * (xa.s / 2) + (xa.s / 2) * (qw.scales[n] / 2);
              }
              const expected = Math.fround(acc * (xa.s * qw.scales[n]) + b[n]);
              expect(y[m * N + n]).toBe(expected);
              expect(Math.abs(y[m * N + n] - exact)).toBeLessThanOrEqual(bound + 1e-6 * (1 + Math.abs(exact)));
            }
          }
        });
      }
    }
  }

  it("accumulates exactly where float32 sums would not: big partial sums that cancel", () => {
    // q·q = 127² for 2000 terms, then 9 terms of 127·1, then −127² for 2000 terms: the exact sum is 9·127 = 1143;
    // a float32 accumulator (ulp 4 around 3.2e7) would return a multiple of 4.
    const K = 4009;
    const x = new Float32Array(K).fill(1);
    const w = new Float32Array(K);
    w.fill(1, 0, 2000);
    w.fill(1 / 127, 2000, 2009);
    w.fill(-1, 2009);
    const qw = quantizeRows(w, 1, K);
    expect(Array.from(qw.q.subarray(1998, 2011))).toEqual([127, 127, 1, 1, 1, 1, 1, 1, 1, 1, 1, -127, -127]);
    const qx = new Int8Array(K);
    const sx = new Float32Array(1);
    quantizeActivations(x, 1, K, qx, sx);
    const y = linearInt8Reference(x, 1, int8Linear(qw));
    expect(y[0]).toBe(Math.fround(1143 * (sx[0] * qw.scales[0])));
    let f32 = 0;
    for (let k = 0; k < K; k++) f32 = Math.fround(f32 + qx[k] * qw.q[k]);
    expect(f32).not.toBe(1143); // the trap is real
  });

  it("propagates a non-finite activation row as NaN instead of hiding it", () => {
    const layer = int8Linear(quantizeRows(Float32Array.from([1, 2, 3, 4]), 2, 2));
    const y = linear(Float32Array.from([1, Infinity, 1, 1, NaN, 1]), 3, layer);
    expect(Number.isNaN(y[0]) && Number.isNaN(y[1])).toBe(true);
    expect(y[2]).toBeCloseTo(3, 1);
    expect(y[3]).toBeCloseTo(7, 1);
    expect(Number.isNaN(y[4]) && Number.isNaN(y[5])).toBe(true);
  });

  it("linear() sends int8 layers to the int8 slot only, float layers to the float backend only", () => {
    const r = rng(5);
    const q = int8Linear(quantizeRows(rand(6 * 4, r), 6, 4));
    const f = packLinear(rand(6 * 4, r), 6, 4);
    const x = rand(3 * 4, r);
    const seen: string[] = [];
    setInt8Backend((xx, rows, layer, out) => (seen.push("int8"), linearInt8Reference(xx, rows, layer, out)));
    setLinearBackend((_x, rows, layer) => (seen.push(isInt8(layer) ? "WRONG" : "f32"), new Float32Array(rows * layer.outFeatures)));
    try {
      expect(Array.from(linear(x, 3, q))).toEqual(Array.from(linearInt8Reference(x, 3, q)));
      linear(x, 3, f);
    } finally {
      setInt8Backend(null);
      setLinearBackend(null);
    }
    expect(seen).toEqual(["int8", "f32"]);
  });
});

describe("per-row quantizer", () => {
  it("round-trips within half a step, maps each row's extreme to ±127, rounds ties to even", () => {
    const r = rng(11);
    const rows = 9;
    const cols = 131;
    const src = rand(rows * cols, r, 4);
    src.fill(0, 3 * cols, 4 * cols); // zero row
    src[5 * cols + 7] = 1e-42; // a subnormal-only row: its scale underflows
    src.fill(0, 5 * cols, 5 * cols + 7);
    src.fill(0, 5 * cols + 8, 6 * cols);
    const m = quantizeRows(src, rows, cols);
    const back = dequantizeRows(m);
    for (let i = 0; i < rows; i++) {
      const s = m.scales[i];
      expect(s > 0 && Number.isFinite(s)).toBe(true);
      let peak = 0;
      for (let k = 0; k < cols; k++) {
        const j = i * cols + k;
        expect(Math.abs(m.q[j])).toBeLessThanOrEqual(127);
        expect(Math.abs(back[j] - src[j])).toBeLessThanOrEqual(s / 2 + 1e-7 * Math.abs(src[j]) + 1e-30);
        peak = Math.max(peak, Math.abs(m.q[j]));
      }
      if (i !== 3 && i !== 5) expect(peak).toBe(127);
    }
    expect(Array.from(m.q.subarray(3 * cols, 4 * cols)).every((v) => v === 0)).toBe(true);
    // Scale exactly 1: 2.5 → 2, 3.5 → 4, −2.5 → −2, −0.5 → 0.
    const ties = quantizeRows(Float32Array.from([127, 2.5, 3.5, -2.5, -0.5]), 1, 5);
    expect(ties.scales[0]).toBe(1);
    expect(Array.from(ties.q)).toEqual([127, 2, 4, -2, 0]);
    expect([0.5, 1.5, -1.5, 2.4999].map(roundHalfEven)).toEqual([0, 2, -2, 2]);
  });

  it("roundHalfEven is round-to-nearest-even at every magnitude: ties, near-ties, 2⁵¹ and past it, NaN, ±∞", () => {
    // The rule written plainly: floor, the exact remainder (exact below 2⁵² in magnitude), ties to the even side.
    const spec = (v: number) => {
      if (!Number.isFinite(v) || Math.abs(v) >= 2 ** 52) return v;
      const f = Math.floor(v);
      const d = v - f;
      return d < 0.5 ? f : d > 0.5 ? f + 1 : f % 2 === 0 ? f : f + 1;
    };
    const values = [0, -0, 0.5, -0.5, 1.5, -1.5, 2.5, -2.5, 0.49999999999999994, -0.49999999999999994, 127.5, -127.5, 32766.5, 32767.5, 2 ** 51 - 0.5, 2 ** 51 - 1.5, -(2 ** 51) + 0.5, 2 ** 51, 2 ** 51 + 0.5, 2 ** 51 + 1.5, -(2 ** 51) - 0.5, 2 ** 52 - 0.5, 2 ** 52 + 1, 1e300, -1e300, Number.MIN_VALUE, -Number.MIN_VALUE];
    const r = makeRng(17);
    for (let i = 0; i < 20000; i++) {
      const scale = 2 ** (r.int(60) - 8);
      values.push((r.next() * 2 - 1) * scale, (r.int(2000) - 1000) + 0.5, Math.fround((r.next() * 2 - 1) * 300));
    }
    for (const v of values) expect(roundHalfEven(v), `roundHalfEven(${v})`).toBe(spec(v) + 0); // +0: a zero result is +0
    expect(roundHalfEven(NaN)).toBeNaN();
    expect(roundHalfEven(Infinity)).toBe(Infinity);
    expect(roundHalfEven(-Infinity)).toBe(-Infinity);
  });

  it("refuses non-finite weights", () => {
    expect(() => quantizeRows(Float32Array.from([1, NaN]), 1, 2)).toThrow(/non-finite/);
  });
});

// ---------------------------------------------------------------------------------------------------------------

const work = mkdtempSync(join(tmpdir(), "gliner2-int8-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** Every typed array reachable from `root`. */
function typedArrays(root: unknown): ArrayBufferView[] {
  const out: ArrayBufferView[] = [];
  const seen = new Set<unknown>();
  const walk = (v: unknown) => {
    if (v === null || typeof v !== "object" || seen.has(v)) return;
    seen.add(v);
    if (ArrayBuffer.isView(v)) return void out.push(v);
    for (const child of Object.values(v as object)) walk(child);
  };
  walk(root);
  return out;
}

describe("int8 checkpoints", () => {
  const ckpt = "tiny-count_lstm_v2";
  const out = join(work, "int8");

  it("gliner2 quantize's library function writes the released layout at ≈ ¼ of the float32 size", async () => {
    const stats = await quantizeCheckpoint(checkpointDir(ckpt), out);
    for (const f of ["config.json", "encoder_config/config.json", "tokenizer.json", "tokenizer_config.json", "model.safetensors"]) {
      expect(statSync(join(out, f)).isFile(), f).toBe(true);
    }
    const f32Size = statSync(join(checkpointDir(ckpt), "model.safetensors")).size;
    const size = statSync(join(out, "model.safetensors")).size;
    expect(stats.bytesOut).toBe(size);
    // The tiny checkpoint has proportionally more small float tensors (norms, biases) than a base one.
    expect(size / f32Size).toBeGreaterThan(0.25);
    expect(size / f32Size).toBeLessThan(0.32);
    const st = parseSafetensors(readFileSync(join(out, "model.safetensors")));
    expect(st.metadata[INT8_METADATA_KEY]).toBe(INT8_FORMAT);
    expect(JSON.parse(st.metadata[`${INT8_METADATA_KEY}.plan`])).toEqual(DEFAULT_INT8_PLAN);
    const name = "encoder.encoder.layer.1.intermediate.dense.weight";
    expect(st.info(name).dtype).toBe("I8");
    expect(st.info(`${name}.scale`)).toMatchObject({ dtype: "F32", shape: [128] });
    expect(st.info("encoder.embeddings.word_embeddings.weight").dtype).toBe("I8");
    expect(st.info("encoder.encoder.layer.1.intermediate.dense.bias").dtype).toBe("F32");
    expect(st.info("count_embed.pos_embedding.weight").dtype).toBe("F32");
    // Every I8 tensor has its scale; nothing else is I8.
    const i8 = st.names().filter((n) => st.info(n).dtype === "I8");
    expect(i8.length).toBe(stats.quantized);
    for (const n of i8) expect(st.has(`${n}.scale`)).toBe(true);
  });

  it("refuses to overwrite without overwrite/--force, and to write into the source folder", async () => {
    await expect(quantizeCheckpoint(checkpointDir(ckpt), out)).rejects.toThrow(/already exists/);
    await expect(quantizeCheckpoint(checkpointDir(ckpt), checkpointDir(ckpt), { overwrite: true })).rejects.toThrow(/is the source checkpoint folder/);
  });

  it("loads as int8 without an option and gives exactly the outputs of quantizing at load", async () => {
    const saved = await GLiNER2.fromPretrained(out, { offThread: false });
    const atLoad = await GLiNER2.fromPretrained(checkpointDir(ckpt), { quantize: "int8", offThread: false });
    expect(isInt8(saved.model.encoder.layers[0].query)).toBe(true);
    expect(isInt8(saved.model.heads.countPred.layers[0])).toBe(true);
    expect(saved.model.encoder.wordEmbeddings instanceof Float32Array).toBe(false);
    for (const ref of listGoldenCases(ckpt)) {
      const c = readGoldenCase(ref);
      const call = mapCall(c);
      expect(await call.run(saved), ref.name).toEqual(await call.run(atLoad));
      const t = 0;
      const item = { words: splitWords(prepareText(c.texts[t])).map((w) => w.text), prompt: buildPrompt(call.schemaFor(t)) };
      const [a] = runBatch(saved.model, [item]);
      const [b] = runBatch(atLoad.model, [item]);
      expect(a.wordEmbeddings).toEqual(b.wordEmbeddings);
      a.schemas.forEach((s, i) => {
        expect(s.countLogits).toEqual(b.schemas[i].countLogits);
        expect(s.spanScores).toEqual(b.schemas[i].spanScores);
        expect(s.clsLogits).toEqual(b.schemas[i].clsLogits);
      });
    }
  });

  it("quantizing at load keeps nothing that points into the float32 file; an int8 file is used in place", async () => {
    const f32Files = await readCheckpointDir(checkpointDir(ckpt));
    const f32Buffer = (f32Files.weights as Uint8Array).buffer;
    const q = loadModel(f32Files, { quantize: "int8" });
    const arrays = typedArrays({ encoder: q.encoder, heads: q.heads });
    expect(arrays.length).toBeGreaterThan(50);
    expect(arrays.filter((a) => a.buffer === f32Buffer).length).toBe(0);
    // Control: the float path does view the file (biases, norms), so the check above can fail.
    const f = loadModel(f32Files);
    expect(typedArrays({ encoder: f.encoder, heads: f.heads }).some((a) => a.buffer === f32Buffer)).toBe(true);

    const int8Files = await readCheckpointDir(out);
    const i8Buffer = (int8Files.weights as Uint8Array).buffer;
    // On the js backend the int8 tensors are used in place; on the wasm backend linear layers are packed from the
    // file into WebAssembly memory at load (their row-major copy is rebuilt only if asked for), tables stay in place.
    setBackend("js");
    try {
      const m = loadModel(int8Files);
      expect((m.encoder.layers[0].intermediate as { int8: Int8Rows }).int8.q.buffer).toBe(i8Buffer);
    } finally {
      setBackend("auto");
    }
    const w = loadModel(int8Files);
    expect((w.encoder.wordEmbeddings as Int8Rows).q.buffer).toBe(i8Buffer);
  });

  it("streaming quantize-at-load (local folder, tensors read one chunk at a time) equals the in-memory path", async () => {
    const streamed = await GLiNER2.fromPretrained(checkpointDir(ckpt), { quantize: "int8", offThread: false });
    const inMemory = GLiNER2.fromFiles(await readCheckpointDir(checkpointDir(ckpt)), { quantize: "int8" });
    const weightsOf = (m: GLiNER2) => typedArrays({ encoder: m.model.encoder, heads: m.model.heads }).map((a) => Array.from(a as Float32Array));
    expect(weightsOf(streamed)).toEqual(weightsOf(inMemory));
    // Chunked quantization of a lazily read tensor (7 rows per chunk here) equals quantizing it whole.
    const { file, close } = await openSafetensorsFile(join(checkpointDir(ckpt), "model.safetensors"));
    try {
      const name = "encoder.embeddings.word_embeddings.weight";
      const [rows, cols] = file.info(name).shape;
      const chunked = quantizeInChunks(file, name, rows, cols, 7 * cols + 3);
      const whole = quantizeRows(file.f32(name), rows, cols);
      expect(Buffer.from(chunked.q.buffer).equals(Buffer.from(whole.q.buffer))).toBe(true);
      expect(Array.from(chunked.scales)).toEqual(Array.from(whole.scales));
      expect(Array.from(file.f32Range(name, 5 * cols + 1, 3))).toEqual(Array.from(file.f32(name).subarray(5 * cols + 1, 5 * cols + 4)));
      expect(() => file.f32Range(name, rows * cols - 1, 2)).toThrow(/outside/);
    } finally {
      close();
    }
    await expect(openSafetensorsFile(join(work, "nope.safetensors"))).rejects.toThrow(/nope\.safetensors: cannot read file \(ENOENT\)/);
    // A file opened lazily is validated like one read whole: a truncated data area, a header longer than the file.
    const bytes = readFileSync(join(checkpointDir(ckpt), "model.safetensors"));
    const cut = join(work, "cut.safetensors");
    writeFileSync(cut, bytes.subarray(0, bytes.length - 10));
    await expect(openSafetensorsFile(cut)).rejects.toThrow(/cut\.safetensors \(tensor ".*"\): data_offsets .* run past the .*-byte data area \(truncated file\?\)/);
    writeFileSync(cut, bytes.subarray(0, 100));
    await expect(openSafetensorsFile(cut)).rejects.toThrow(/cut\.safetensors: header length \d+ bytes runs past the end of the 100-byte file/);
  });

  it("in-memory quantization (browsers) gives the same bytes as the folder writer", async () => {
    const files = await readCheckpointDir(checkpointDir(ckpt));
    const mem = quantizeCheckpointFiles(files);
    expect(Buffer.from(mem.weights as Uint8Array).equals(readFileSync(join(out, "model.safetensors")))).toBe(true);
  });

  it("int8-embeddings: only the embedding table is int8, the rest float", async () => {
    const m = await GLiNER2.fromPretrained(checkpointDir(ckpt), { quantize: "int8-embeddings", offThread: false });
    expect(m.model.encoder.wordEmbeddings instanceof Float32Array).toBe(false);
    expect(isInt8(m.model.encoder.layers[0].query)).toBe(false);
    expect(isInt8(m.model.heads.classifier.layers[0])).toBe(false);
  });

  it("rejects a bad quantize option before loading anything", async () => {
    await expect(GLiNER2.fromPretrained(checkpointDir(ckpt), { quantize: "int4" as never, offThread: false })).rejects.toThrow(/quantize: must be "none", "int8"/);
    await expect(GLiNER2.fromPretrained(checkpointDir(ckpt), { quantize: { encoder: 1 } as never })).rejects.toThrow(/plan.encoder must be a boolean/);
  });
});

describe("gliner2 quantize (CLI, in process)", () => {
  const cli = runCliInProcess;
  const dest = join(work, "cli-int8");

  it("writes an int8 checkpoint that `extract --model` uses, same result as --quantize int8 on the float one", async () => {
    const q = await cli(["quantize", checkpointDir("tiny-count_lstm"), dest]);
    expect(q.code, q.stderr).toBe(0);
    expect(q.stdout).toBe(`${dest}\n`);
    expect(q.stderr).toMatch(/^quantized \d+ tensors, copied \d+: [\d.]+ MB → [\d.]+ MB\n$/);
    const text = "Maria Lopez joined Northwind Traders in Seattle.";
    const a = await cli(["extract", "--model", dest, "--entities", "person,company,location", "--include-confidence", text]);
    const b = await cli(["extract", "--model", checkpointDir("tiny-count_lstm"), "--quantize", "int8", "--entities", "person,company,location", "--include-confidence", text]);
    expect(a.code, a.stderr).toBe(0);
    expect(a.stdout).toBe(b.stdout);
    expect(JSON.parse(a.stdout)).toHaveProperty("entities");
  });

  it("usage errors: wrong argument count, bad --quantize, existing output without --force", async () => {
    const one = await cli(["quantize", checkpointDir("tiny-count_lstm")]);
    expect(one.code).toBe(2);
    expect(one.stderr).toMatch(/expected IN and OUT, got 1 argument/);
    const bad = await cli(["extract", "--model", checkpointDir("tiny-count_lstm"), "--quantize", "int4", "--entities", "a", "x"]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--quantize must be int8, int8-embeddings or none, got "int4"/);
    const again = await cli(["quantize", checkpointDir("tiny-count_lstm"), dest]);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/already exists \(pass overwrite \/ --force/);
    expect((await cli(["quantize", "--force", checkpointDir("tiny-count_lstm"), dest])).code).toBe(0);
    expect((await cli(["help", "quantize"])).stdout).toMatch(/^Usage: gliner2 quantize /);
  });
});

describe("bad int8 checkpoints: typed errors naming the tensor and the file", () => {
  const W = "encoder.encoder.layer.0.attention.self.query_proj.weight";
  const S = `${W}.scale`;

  /** The tiny int8 checkpoint with `edit` applied to its tensor list, loaded from memory. */
  async function loadEdited(edit: (tensors: Map<string, TensorToWrite>) => void): Promise<unknown> {
    const files = await readCheckpointDir(checkpointDir("tiny-count_lstm"));
    const int8 = quantizeCheckpointFiles(files);
    const st = parseSafetensors(int8.weights as Uint8Array);
    const tensors = new Map<string, TensorToWrite>();
    for (const n of st.names()) {
      const info = st.info(n);
      tensors.set(n, { name: n, dtype: info.dtype, shape: info.shape, bytes: st.raw(n).slice() });
    }
    edit(tensors);
    const weights = writeSafetensorsBuffer([...tensors.values()]);
    try {
      loadModel({ ...int8, weights, source: "/models/bad" });
    } catch (e) {
      return e;
    }
    return null;
  }
  const f32Bytes = (values: number[]) => new Uint8Array(Float32Array.from(values).buffer);
  const setScale = (t: Map<string, TensorToWrite>, value: number) => {
    const s = t.get(S)!;
    const data = new Float32Array(s.bytes.slice().buffer);
    data[5] = value;
    t.set(S, { ...s, bytes: new Uint8Array(data.buffer) });
  };

  const cases: [string, (t: Map<string, TensorToWrite>) => void, RegExp, string][] = [
    ["missing scale", (t) => void t.delete(S), /scale tensor ".*query_proj\.weight\.scale" \(F32 \[64\]\) is missing/, W],
    ["scale of the wrong shape", (t) => t.set(S, { name: S, dtype: "F32", shape: [63], bytes: f32Bytes(new Array(63).fill(0.01)) }), /shape \[63\], expected \[64\]/, S],
    ["integer scale", (t) => t.set(S, { name: S, dtype: "I32" as DType, shape: [64], bytes: new Uint8Array(256) }), /must be floating point/, S],
    ["NaN scale", (t) => setScale(t, NaN), /row 5 is NaN/, S],
    ["zero scale", (t) => setScale(t, 0), /row 5 is 0;/, S],
    ["negative scale", (t) => setScale(t, -0.5), /row 5 is -0.5/, S],
    ["infinite scale", (t) => setScale(t, Infinity), /row 5 is Infinity/, S],
    ["I8 weight of the wrong shape", (t) => {
      const w = t.get(W)!;
      t.set(W, { ...w, shape: [32, 128] });
      t.set(S, { name: S, dtype: "F32", shape: [32], bytes: f32Bytes(new Array(32).fill(0.01)) });
    }, /has shape \[32, 128\].*expected \[64, 64\]/, W],
    ["−128 in the int8 data", (t) => {
      const w = t.get(W)!;
      const bytes = w.bytes.slice();
      bytes[77] = 0x80;
      t.set(W, { ...w, bytes });
    }, /value −128 at element 77/, W],
    ["a stray scale next to a float weight", (t) => {
      const b = "encoder.encoder.layer.0.attention.self.query_proj.bias";
      t.set(`${b}.scale`, { name: `${b}.scale`, dtype: "F32", shape: [64], bytes: f32Bytes(new Array(64).fill(1)) });
    }, /has a scale tensor ".*bias\.scale" but is stored F32, not I8/, "encoder.encoder.layer.0.attention.self.query_proj.bias"],
  ];
  for (const [what, edit, message, tensor] of cases) {
    it(what, async () => {
      const err = await loadEdited(edit);
      expect(err).toBeInstanceOf(Error);
      expect((err as Error).name).toMatch(/SafetensorsError|WeightsError/);
      expect((err as Error).message).toMatch(message);
      expect((err as { tensor?: string }).tensor).toBe(tensor);
      if (err instanceof SafetensorsError) expect(err.file).toBe("/models/bad/model.safetensors");
    });
  }
});

// ---------------------------------------------------------------------------------------------------------------
// Accuracy against float32 (measured; the README table is this test's output). Tolerances are the measured
// maxima on these fixtures rounded up by ~25 %: the tiny random checkpoints amplify errors (query/key weights at
// 3× the usual scale make attention sharp), so they are a stress test, not an estimate for released weights.

const TOL = {
  /** Relative RMS error of the encoder's last hidden state (golden encoder runs, tiny-count_lstm_v2). */
  encoderRelRms: 0.08,
  countLogit: 1.25,
  clsLogit: 1.3,
};

describe("int8 accuracy vs float32", () => {
  it("encoder output on the golden encoder runs: relative RMS error within the documented tolerance", async () => {
    const f = await GLiNER2.fromPretrained(checkpointDir("tiny-count_lstm_v2"), { offThread: false });
    const q = await GLiNER2.fromPretrained(checkpointDir("tiny-count_lstm_v2"), { quantize: "int8", offThread: false });
    const golden = parseSafetensors(readFileSync(`${FIXTURES_DIR}golden/encoder.safetensors`));
    const report: string[] = [];
    for (const run of ["L7", "L64", "L300"]) {
      const ids = Int32Array.from(golden.ints(`${run}.input_ids`));
      const mask = Uint8Array.from(golden.ints(`${run}.attention_mask`));
      const a = encode(f.model.encoder, ids, mask, 1, ids.length);
      const b = encode(q.model.encoder, ids, mask, 1, ids.length);
      let num = 0;
      let den = 0;
      for (let i = 0; i < a.length; i++) {
        num += (a[i] - b[i]) ** 2;
        den += a[i] ** 2;
      }
      const rel = Math.sqrt(num / den);
      report.push(`${run}: ${rel.toExponential(2)}`);
      expect(rel, run).toBeLessThan(TOL.encoderRelRms);
      expect(rel, `${run}: int8 must differ from float at all`).toBeGreaterThan(1e-4);
    }
    console.log(`int8 encoder output relative RMS error: ${report.join(", ")}`);
  });

  const results: CaseAccuracy[] = [];
  for (const ckpt of goldenCheckpoints()) {
    describe(ckpt, async () => {
      const f32 = await GLiNER2.fromPretrained(checkpointDir(ckpt), { offThread: false });
      const int8 = await GLiNER2.fromPretrained(checkpointDir(ckpt), { quantize: "int8", offThread: false });
      for (const ref of listGoldenCases(ckpt)) {
        it(ref.name, async () => {
          const r = await compareCase(f32, int8, ref);
          results.push(r);
          expect(r.countLogit).toBeLessThan(TOL.countLogit);
          expect(r.clsLogit).toBeLessThan(TOL.clsLogit);
          // A decision further from flipping than int8's own error on that case must be kept. Margins of
          // classifications and counts are logit gaps (§2.4); compare them with twice the logit error.
          const logitErr = Math.max(r.countLogit, r.clsLogit, r.spanLogit);
          if (r.minMargin !== null && r.minMargin > 2 * logitErr) expect(r.flip, ref.name).toBeNull();
        });
      }
    });
  }

  it("prints the README table", () => {
    expect(results.length).toBe(listGoldenCases().length);
    const fmt = (v: number) => (v === 0 ? "0" : v.toExponential(1));
    const lines = [
      "| checkpoint | case | min margin | decisions kept | count logit err | class logit err | span prob err | span logit err |",
      "|---|---|---|---|---|---|---|---|",
    ];
    for (const r of results) {
      const kept = r.kept ? "yes" : `**no** (${r.countFlips > 0 ? `${r.countFlips} count flip(s); ` : ""}${r.flip!.slice(0, 60).replace(/\|/g, "\\|")})`;
      lines.push(`| ${r.checkpoint} | ${r.name} | ${r.minMargin === null ? "–" : fmt(r.minMargin)} | ${kept} | ${fmt(r.countLogit)} | ${fmt(r.clsLogit)} | ${fmt(r.spanProb)} | ${fmt(r.spanLogit)} |`);
    }
    const kept = results.filter((r) => r.kept).length;
    console.log(`${lines.join("\n")}\n\nint8 kept every decision in ${kept} of ${results.length} golden cases`);
  });
});

/**
 * Heads against the official tensors: from the recorded encoder-side inputs (word and special-token embeddings)
 * every head output must match what the official code computed.
 */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { WeightsError } from "../src/errors.js";
import { classifierLogits, countEmbed, countLogits, loadHeads, predictCount, spanRep, spanScores } from "../src/heads/index.js";
import { parseEncoderConfig, parseExtractorConfig } from "../src/model/config.js";
import { parseSafetensors, readSafetensorsFile } from "../src/model/safetensors.js";
import { checkpointDir, goldenCheckpoints, listGoldenCases, openGoldenTensors, readGoldenCase } from "./helpers/golden.js";
import { maxAbsDiff } from "./helpers/compare.js";

const TOL = 1e-4;

interface DecodingSchema {
  index: number;
  kind: "span" | "classification";
  count?: number;
  labels?: string[];
}


for (const ckpt of goldenCheckpoints()) {
  describe(`heads of ${ckpt} vs every golden case`, async () => {
    const dir = checkpointDir(ckpt);
    const cfg = parseExtractorConfig(readFileSync(`${dir}/config.json`, "utf8"));
    const enc = parseEncoderConfig(readFileSync(`${dir}/encoder_config/config.json`, "utf8"));
    const H = enc.hiddenSize;
    const K = cfg.maxWidth;
    const heads = loadHeads(await readSafetensorsFile(`${dir}/model.safetensors`), { hidden: H, maxWidth: K, countingLayer: cfg.countingLayer });
    const worst = { spanRep: 0, count: 0, struct: 0, scores: 0, cls: 0 };

    for (const ref of listGoldenCases(ckpt)) {
      it(ref.name, async () => {
        const c = readGoldenCase(ref);
        const t = await openGoldenTensors(ref);
        const decoding = c.decoding as { text: number; schemas: DecodingSchema[] }[];
        for (const { text: ti, schemas } of decoding) {
          const wordEmb = t.f32(`text${ti}.word_embeddings`);
          const W = wordEmb.length / H;
          const rep = spanRep(heads, wordEmb, W);
          const mask = t.tensor(`text${ti}.span_mask`).data as Uint8Array;
          const valid = (i: number) => mask[Math.floor(i / H)] === 0;
          worst.spanRep = Math.max(worst.spanRep, maxAbsDiff(rep, t.f32(`text${ti}.span_rep`), valid));
          for (const s of schemas) {
            const special = t.f32(`text${ti}.schema${s.index}.special_embeddings`);
            const n = special.length / H - 1;
            if (s.kind === "classification") {
              const logits = classifierLogits(heads, special.subarray(H), n);
              worst.cls = Math.max(worst.cls, maxAbsDiff(logits, t.f32(`text${ti}.schema${s.index}.cls_logits`)));
              continue;
            }
            const logits = countLogits(heads, special.subarray(0, H));
            worst.count = Math.max(worst.count, maxAbsDiff(logits, t.f32(`text${ti}.schema${s.index}.count_logits`)));
            expect(predictCount(logits)).toBe(s.count);
            if (!s.count) continue;
            const proj = countEmbed(heads, special.subarray(H), n, s.count);
            worst.struct = Math.max(worst.struct, maxAbsDiff(proj, t.f32(`text${ti}.schema${s.index}.struct_proj`)));
            const scores = spanScores(rep, W, K, proj, s.count, n, H);
            const validScore = (i: number) => mask[i % (W * K)] === 0;
            worst.scores = Math.max(worst.scores, maxAbsDiff(scores, t.f32(`text${ti}.schema${s.index}.span_scores`), validScore));
          }
        }
        for (const v of Object.values(worst)) expect(v).toBeLessThan(TOL);
      });
    }

    it("reports the largest errors seen", () => {
      console.log(`${ckpt} heads max abs error:`, JSON.stringify(worst));
      expect(worst.spanRep).toBeGreaterThan(0); // the comparison really ran on non-identical float paths
    });
  });
}

describe("head weights that do not fit", () => {
  const bytes = readFileSync(`${checkpointDir("tiny-count_lstm_v2")}/model.safetensors`);

  /** Rewrite the checkpoint without `drop`, or with `resize` given a different first dimension. */
  function variant(opts: { drop?: string; resize?: string }): Uint8Array {
    const st = parseSafetensors(bytes, "model.safetensors");
    const header: Record<string, unknown> = {};
    const chunks: Uint8Array[] = [];
    let offset = 0;
    for (const name of st.names()) {
      if (name === opts.drop) continue;
      const info = st.info(name);
      let data = new Uint8Array(st.f32(name).slice().buffer);
      let shape = [...info.shape];
      if (name === opts.resize) {
        shape = [shape[0] - 1, ...shape.slice(1)];
        data = data.subarray(0, (data.length / info.shape[0]) * shape[0]);
      }
      header[name] = { dtype: "F32", shape, data_offsets: [offset, offset + data.length] };
      chunks.push(data);
      offset += data.length;
    }
    const json = new TextEncoder().encode(JSON.stringify(header));
    const out = new Uint8Array(8 + json.length + offset);
    new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
    out.set(json, 8);
    let o = 8 + json.length;
    for (const c of chunks) {
      out.set(c, o);
      o += c.length;
    }
    return out;
  }

  const load = (b: Uint8Array, countingLayer: "count_lstm" | "count_lstm_v2" = "count_lstm_v2") =>
    loadHeads(parseSafetensors(b, "model.safetensors"), { hidden: 64, maxWidth: 8, countingLayer });

  it.each([
    ["span_rep.span_rep_layer.project_start.3.weight", /missing from model\.safetensors/],
    ["count_embed.gru.weight_hh_l0", /missing/],
    ["count_embed.transformer.out_projector.4.bias", /missing/],
    ["classifier.2.weight", /missing/],
  ])("a missing %s is named", (name, pattern) => {
    let err: unknown;
    try {
      load(variant({ drop: name }));
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(WeightsError);
    expect((err as WeightsError).tensor).toBe(name);
    expect((err as Error).message).toMatch(pattern);
  });

  it("a wrongly shaped tensor is named with both shapes", () => {
    expect(() => load(variant({ resize: "count_pred.2.weight" }))).toThrow(/count_pred\.2\.weight.*\[19, 128\].*expected \[20, 128\]/);
  });

  it("a v1 checkpoint loaded as count_lstm_v2 says what is missing", () => {
    const v1 = readFileSync(`${checkpointDir("tiny-count_lstm")}/model.safetensors`);
    expect(() => load(v1, "count_lstm_v2")).toThrow(/count_embed\.transformer\.in_projector\.weight.*count_lstm_v2/);
  });
});

describe("factored span scoring (no span representations)", () => {
  it("equals scoring the span representations, for few and many fields, with and without WebAssembly kernels", async () => {
    const { spanHalves, spanScoresFast } = await import("../src/heads/index.js");
    const { spanScoresFromHalves, factoredPays } = await import("../src/heads/spanRep.js");
    const { setBackend } = await import("../src/kernels/index.js");
    const dir = checkpointDir("tiny-count_lstm_v2");
    const cfg = parseExtractorConfig(readFileSync(`${dir}/config.json`, "utf8"));
    const H = parseEncoderConfig(readFileSync(`${dir}/encoder_config/config.json`, "utf8")).hiddenSize;
    let seed = 7;
    const rand = (n: number) => Float32Array.from({ length: n }, () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648) * 2 - 1);
    const scored: Record<string, Float32Array[]> = {};
    for (const backend of ["js", "wasm"] as const) {
      setBackend(backend); // weights are packed for the active kernels
      const heads = loadHeads(await readSafetensorsFile(`${dir}/model.safetensors`), { hidden: H, maxWidth: cfg.maxWidth, countingLayer: cfg.countingLayer });
      const W = 13;
      seed = 7; // the same words and fields for both backends
      const words = rand(W * H);
      const halves = spanHalves(heads, words, W);
      const rep = spanRep(heads, words, W);
      scored[backend] = [];
      for (const [count, F] of [[1, 1], [1, 3], [4, 5], [20, 7]]) {
        const fieldVectors = rand(count * F * H);
        const direct = spanScores(rep, W, cfg.maxWidth, fieldVectors, count, F, H);
        const factored = spanScoresFromHalves(heads.spanRep, halves, fieldVectors, count * F);
        expect(maxAbsDiff(factored, direct), `${backend} count ${count} F ${F}`).toBeLessThan(2e-6);
        scored[backend].push(factored);
        // The dispatching entry point gives one of the two, whichever it picks.
        expect(maxAbsDiff(spanScoresFast(heads, halves, () => rep, W, fieldVectors, count, F), direct)).toBeLessThan(2e-6);
      }
    }
    // The WebAssembly path (hidden layer filled and multiplied in WebAssembly memory, block by block) gives the
    // reference's bits.
    scored.wasm.forEach((x, i) => expect(x, `case ${i}`).toEqual(scored.js[i]));
    setBackend("auto");
    // The cost model picks the factored form for a handful of fields and the direct one for very many.
    expect(factoredPays(700, 3072, 768, 5)).toBe(true);
    expect(factoredPays(700, 3072, 768, 500)).toBe(false);
  });

  it("int8 heads: scores from the int8 out_project itself (no float Wᵀ), the same bits on both kernels, close to the float heads", async () => {
    const { spanHalves } = await import("../src/heads/index.js");
    const { fillSpanHidden, spanScoresFromHalves } = await import("../src/heads/spanRep.js");
    const { dequantizeRows, isInt8, setBackend, unpackLinear } = await import("../src/kernels/index.js");
    const { setLoadPolicy } = await import("../src/model/weights.js");
    const dir = checkpointDir("tiny-count_lstm");
    const cfg = parseExtractorConfig(readFileSync(`${dir}/config.json`, "utf8"));
    const H = parseEncoderConfig(readFileSync(`${dir}/encoder_config/config.json`, "utf8")).hiddenSize;
    let seed = 5;
    const rand = (n: number) => Float32Array.from({ length: n }, () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648) * 2 - 1);
    const scored: Record<string, Float32Array[]> = {};
    for (const backend of ["js", "wasm"] as const) {
      setBackend(backend);
      for (const int8 of [false, true]) {
        const st = await readSafetensorsFile(`${dir}/model.safetensors`);
        if (int8) setLoadPolicy(st, { plan: { encoder: false, embeddings: false, heads: true }, copyFloats: false });
        const heads = loadHeads(st, { hidden: H, maxWidth: cfg.maxWidth, countingLayer: cfg.countingLayer });
        expect(isInt8(heads.spanRep.outSecond)).toBe(int8);
        seed = 5;
        const W = 11;
        const halves = spanHalves(heads, rand(W * H), W);
        const out = heads.spanRep.outSecond;
        // What the scores are, in float64 from the layer's own weights (dequantized q·scale for int8):
        // sigmoid(Σ_j hidden[s, j]·Σ_h W[h, j]·v[h] + Σ_h b[h]·v[h]).
        const Wd = isInt8(out) ? dequantizeRows(out.int8) : unpackLinear(out);
        const hidden = fillSpanHidden(halves, cfg.maxWidth, out.inFeatures);
        const spans = W * cfg.maxWidth;
        scored[`${backend} ${int8}`] = [1, 4, 9].map((fields) => {
          const v = rand(fields * H);
          const got = spanScoresFromHalves(heads.spanRep, halves, v, fields).slice();
          let worst = 0;
          for (let f = 0; f < fields; f++) {
            const u = new Float64Array(out.inFeatures);
            let c = 0;
            for (let h = 0; h < H; h++) {
              c += (out.bias ? out.bias[h] : 0) * v[f * H + h];
              for (let j = 0; j < out.inFeatures; j++) u[j] += Wd[h * out.inFeatures + j] * v[f * H + h];
            }
            for (let sp = 0; sp < spans; sp++) {
              let z = c;
              for (let j = 0; j < out.inFeatures; j++) z += hidden[sp * out.inFeatures + j] * u[j];
              worst = Math.max(worst, Math.abs(got[f * spans + sp] - 1 / (1 + Math.exp(-z))));
            }
          }
          expect(worst, `${backend} int8 ${int8} fields ${fields}`).toBeLessThan(2e-6);
          return got;
        });
      }
    }
    setBackend("auto");
    scored["wasm true"].forEach((x, i) => expect(x, `fields case ${i}`).toEqual(scored["js true"][i]));
    scored["wasm false"].forEach((x, i) => expect(x, `fields case ${i}`).toEqual(scored["js false"][i]));
    // int8 heads are not the float heads (the test would prove nothing if they were)
    scored["js true"].forEach((x, i) => expect(maxAbsDiff(x, scored["js false"][i])).toBeGreaterThan(1e-4));
  });

  it("the WebAssembly span dots equal filling the hidden layer in JavaScript and the reference A·Bᵀ, on odd sizes past one block", async () => {
    const { fillSpanHidden } = await import("../src/heads/spanRep.js");
    const { matmulTransBReference, setBackend } = await import("../src/kernels/index.js");
    const { activeVariant } = await import("../src/kernels/backend.js");
    const { wasmSpanDots } = await import("../src/kernels/wasm/spanDots.js");
    setBackend("wasm");
    const v = activeVariant()!;
    let seed = 11;
    const rand = (n: number) => Float32Array.from({ length: n }, () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648) * 2 - 1);
    // inner not a multiple of 4 (the kernel's tail), spans past one 256-span block, K > W (every span of some
    // words runs past the end), specials in the halves (relu: NaN and −0 give +0)
    for (const [W, K, inner, fields] of [[1, 1, 4, 1], [5, 12, 7, 3], [30, 12, 37, 17], [3, 8, 9, 2], [40, 7, 64, 33]]) {
      const start = rand(W * inner);
      const end = rand(W * inner);
      start[0] = Number.NaN;
      end[1] = -0;
      start[1] = -0;
      if (W * inner > 5) end[5] = -start[5];
      const u = rand(fields * inner);
      const halves = { start, end, W };
      const hidden = fillSpanHidden(halves, K, inner);
      const want = matmulTransBReference(hidden, u, W * K, inner, fields);
      expect(wasmSpanDots(v, start, end, W, K, inner, u, fields), `W ${W} K ${K} inner ${inner} fields ${fields}`).toEqual(want);
    }
    setBackend("auto");
  });
});

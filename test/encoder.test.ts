import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { backendInfo, setBackend } from "../src/kernels/index.js";
import { parseEncoderConfig } from "../src/model/config.js";
import { encode, loadDebertaEncoder, relativePositions, type EncoderTrace } from "../src/model/deberta.js";
import { parseSafetensors, readSafetensorsFile } from "../src/model/safetensors.js";
import { writeSafetensors } from "../bench/safetensorsWriter.js";
import { encoderConfig, randomTensors } from "../bench/shared/baseCheckpoint.js";
import { rng } from "./helpers/prng.js";
import { maxAbsDiff } from "./helpers/compare.js";

const FIX = new URL("./fixtures/", import.meta.url).pathname;
const TOL = 1e-4;

interface Run {
  name: string;
  batch: number;
  length: number;
  real_lengths: number[];
}


/** Last hidden states per run and backend, for the cross-backend check at the end. */
const outputs: Record<string, Record<string, Float32Array>> = {};
const realMasks: Record<string, ArrayLike<number>> = {};
let hidden = 0;

// Every backend this runtime has, each held to the golden tensors (plain TS is the reference).
for (const backend of ["js", "wasm", "wasm-relaxed"] as const)
describe(`DeBERTa-v3 encoder vs golden/encoder.safetensors (${backend} backend)`, async () => {
  const active = setBackend(backend);
  const ckpt = `${FIX}tiny-count_lstm_v2/`;
  const config = parseEncoderConfig(readFileSync(`${ckpt}encoder_config/config.json`, "utf8"));
  const enc = loadDebertaEncoder(await readSafetensorsFile(`${ckpt}model.safetensors`), config);
  it(`runs on ${backend}`, () => {
    // wasm-relaxed falls back to plain wasm where the engine lacks relaxed SIMD
    expect(active).toBe(backend === "wasm-relaxed" && active === "wasm" ? "wasm" : backend);
    if (backend !== "js") expect(enc.layers[0].posTables).toBeDefined();
  });
  const golden = await readSafetensorsFile(`${FIX}golden/encoder.safetensors`);
  const meta = JSON.parse(readFileSync(`${FIX}golden/encoder.json`, "utf8")) as { runs: Run[] };
  const H = config.hiddenSize;
  const heads = config.numHeads;

  it("normalised relative embeddings", () => {
    expect(maxAbsDiff(enc.relEmbeddings, golden.f32("rel_embeddings_normed"))).toBeLessThan(TOL);
  });

  for (const run of meta.runs) {
    describe(run.name, () => {
      const { batch: B, length: L } = run;
      const ids = golden.ints(`${run.name}.input_ids`, [B, L]);
      const mask = golden.ints(`${run.name}.attention_mask`, [B, L]);
      const trace: EncoderTrace = { hiddenStates: [] };
      const out = encode(enc, ids, mask, B, L, trace);
      (outputs[run.name] ??= {})[backend] = out;
      realMasks[run.name] = mask;
      hidden = H;
      const realToken = (t: number) => mask[t] === 1;
      const realRow = (i: number) => realToken(Math.floor(i / H));

      it("relative position buckets are identical", () => {
        expect(Array.from(relativePositions(L, config))).toEqual(golden.ints(`${run.name}.relative_pos`, [1, L, L]));
      });

      it("every layer's hidden states within 1e-4 at real positions", () => {
        expect(trace.hiddenStates.length).toBe(config.numLayers + 1);
        trace.hiddenStates.forEach((hs, l) => {
          expect(maxAbsDiff(hs, golden.f32(`${run.name}.hidden_states.${l}`), realRow)).toBeLessThan(TOL);
        });
        expect(maxAbsDiff(out, golden.f32(`${run.name}.last_hidden_state`), realRow)).toBeLessThan(TOL);
      });

      it("layer-0 attention bias and probabilities within 1e-4 for real query/key pairs", () => {
        // [B·heads, L, L]: element (b, h, i, j) is meaningful when tokens i and j of row b are real.
        const pair = (idx: number) => {
          const j = idx % L;
          const i = Math.floor(idx / L) % L;
          const b = Math.floor(idx / (L * L * heads));
          return mask[b * L + i] === 1 && mask[b * L + j] === 1;
        };
        expect(maxAbsDiff(trace.layer0RelAtt!, golden.f32(`${run.name}.layer0.rel_att`), pair)).toBeLessThan(TOL);
        expect(maxAbsDiff(trace.layer0Probs!, golden.f32(`${run.name}.layer0.attention_probs`), pair)).toBeLessThan(TOL);
      });
    });
  }
});

describe("backends agree", () => {
  // Plain SIMD performs the reference's float32 operations in the reference's order (src/kernels/matmul.ts):
  // every hidden state is the same bits. Relaxed SIMD's fused multiply-add skips the products' rounding; on these
  // tiny fixtures the layer-0 relative-position bias reaches |28| (one float32 step 1.9e-6), so its last hidden
  // states differ from the reference's by up to ~1.5e-5.
  it("wasm gives the js backend's last hidden states bit for bit on every golden run; wasm-relaxed within 2e-5", () => {
    setBackend("auto");
    const runs = Object.keys(outputs);
    expect(runs.length).toBeGreaterThan(0);
    for (const name of runs) {
      const { js, wasm, "wasm-relaxed": relaxed } = outputs[name];
      const mask = realMasks[name];
      const real = (i: number) => mask[Math.floor(i / hidden)] === 1;
      const relaxedErr = maxAbsDiff(relaxed, js, real);
      console.log(`${name}: max |wasm − js| = ${maxAbsDiff(wasm, js).toExponential(2)}, |wasm-relaxed − js| = ${relaxedErr.toExponential(2)}`);
      expect(wasm).toEqual(js);
      // a fusing engine really ran the other kernel
      if (backendInfo().fusedMultiplyAdd) expect(relaxedErr).toBeGreaterThan(0);
      expect(relaxedErr).toBeLessThan(2e-5);
    }
  });
});

describe("backends agree on a wider random encoder", () => {
  // Hidden 256, FFN 1024, 3 layers, 4 heads: the benches' seeded random checkpoint (bench/shared) scaled down, 160
  // tokens with padding: sums past one 256-term block (K = 1024), as at gliner2-base shapes.
  it("wasm gives the js backend's last hidden states bit for bit; wasm-relaxed within 1e-5", () => {
    const shape = { hidden: 256, intermediate: 1024, layers: 3, heads: 4, vocab: 500, buckets: 64 };
    const H = shape.hidden;
    const bytes = writeSafetensors(randomTensors({ seed: 4242, heads: false, shape }));
    const config = parseEncoderConfig(JSON.stringify(encoderConfig(shape)));
    const r = rng(4242);
    const B = 2, L = 160;
    const ids = Int32Array.from({ length: B * L }, () => 1 + r.int(shape.vocab - 1));
    const mask = Int32Array.from({ length: B * L }, (_, i) => (i < L || i % L < 121 ? 1 : 0));
    const out: Record<string, Float32Array> = {};
    for (const backend of ["js", "wasm", "wasm-relaxed"] as const) {
      setBackend(backend);
      const enc = loadDebertaEncoder(parseSafetensors(bytes), config);
      if (backend !== "js") expect(enc.layers[0].posTables).toBeDefined(); // packed for the WebAssembly forward
      out[backend] = encode(enc, ids, mask, B, L);
    }
    setBackend("auto");
    const real = (i: number) => mask[Math.floor(i / H)] === 1;
    const relaxed = maxAbsDiff(out["wasm-relaxed"], out.js, real);
    console.log(`wider encoder: max |wasm − js| = ${maxAbsDiff(out.wasm, out.js).toExponential(2)}, |wasm-relaxed − js| = ${relaxed.toExponential(2)}`);
    expect(out.wasm).toEqual(out.js);
    if (backendInfo().fusedMultiplyAdd) expect(relaxed).toBeGreaterThan(0);
    expect(relaxed).toBeLessThan(1e-5);
  });
});

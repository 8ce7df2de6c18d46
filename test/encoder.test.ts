import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { parseEncoderConfig } from "../src/model/config.js";
import { encode, loadDebertaEncoder, relativePositions, type EncoderTrace } from "../src/model/deberta.js";
import { readSafetensorsFile } from "../src/model/safetensors.js";
import { maxAbsDiff } from "./helpers/compare.js";

const FIX = new URL("./fixtures/", import.meta.url).pathname;
const TOL = 1e-4;

interface Run {
  name: string;
  batch: number;
  length: number;
  real_lengths: number[];
}


describe("DeBERTa-v3 encoder vs golden/encoder.safetensors", async () => {
  const ckpt = `${FIX}tiny-count_lstm_v2/`;
  const config = parseEncoderConfig(readFileSync(`${ckpt}encoder_config/config.json`, "utf8"));
  const enc = loadDebertaEncoder(await readSafetensorsFile(`${ckpt}model.safetensors`), config);
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

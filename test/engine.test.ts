/**
 * The tensor pipeline end to end: from the recorded prompt and words of every golden case, batched exactly as
 * the official call batched them, `runBatch` must reproduce every recorded tensor — encoder output at real
 * positions, pooled embeddings, span representations, counts, count embeddings, span scores, class logits.
 */
import { describe, expect, it } from "vitest";
import { loadModel, readCheckpointDir } from "../src/checkpoint.js";
import { runBatch, type EngineItem, type Gliner2Model } from "../src/engine.js";
import { encode } from "../src/model/deberta.js";
import type { PromptPlan, SchemaPlan } from "../src/schema/plan.js";
import { checkpointDir, goldenCheckpoints, listGoldenCases, openGoldenTensors, readGoldenCase, type PreparedText } from "./helpers/golden.js";
import { maxAbsDiff } from "./helpers/compare.js";

const TOL = 1e-4;

interface DecodingSchema {
  index: number;
  kind: "span" | "classification";
  task_type: string;
  name: string;
  count?: number;
  field_names?: string[];
  labels?: string[];
}

/** The engine only needs each schema's kind and its field/label list; decoding details are tested elsewhere. */
function promptFrom(p: PreparedText, schemas: DecodingSchema[]): PromptPlan {
  const plans: SchemaPlan[] = p.schema_tokens_list.map((_, s) => {
    const d = schemas.find((x) => x.index === s);
    if (d?.kind === "classification") {
      // Labels from the prompt itself: the official decoder may look up another task's labels (finding 2).
      const tokens = p.schema_tokens_list[s];
      const labels = tokens.flatMap((tok, i) => (tok === "[L]" ? [tokens[i + 1]] : []));
      return { kind: "classification", taskType: "classifications", name: d.name, labels, multiLabel: false, clsThreshold: 0.5, classAct: "auto" };
    }
    return { kind: "span", taskType: "entities", name: d?.name ?? `schema${s}`, fieldNames: d?.field_names ?? [], targets: [] };
  });
  return { schemaTokens: p.schema_tokens_list, prefixTokens: p.prefix_tokens, plans };
}


for (const ckpt of goldenCheckpoints()) {
  describe(`engine on ${ckpt}: recorded prompts → every recorded tensor`, async () => {
    const model: Gliner2Model = loadModel(await readCheckpointDir(checkpointDir(ckpt)));
    const H = model.encoder.config.hiddenSize;
    const K = model.config.maxWidth;
    const worst: Record<string, number> = {};
    const perCase: Record<string, number> = {};
    let current = "";
    const note = (key: string, v: number) => {
      worst[key] = Math.max(worst[key] ?? 0, v);
      perCase[current] = Math.max(perCase[current] ?? 0, v);
      expect(v, key).toBeLessThan(TOL);
    };

    for (const ref of listGoldenCases(ckpt)) {
      it(ref.name, async () => {
        const c = readGoldenCase(ref);
        const t = await openGoldenTensors(ref);
        current = ref.name;
        const decoding = c.decoding as { text: number; schemas: DecodingSchema[] }[];
        const byCall = new Map<number, PreparedText[]>();
        for (const p of c.texts_prepared) byCall.set(p.encoder_call, [...(byCall.get(p.encoder_call) ?? []), p]);
        for (const [call, texts] of byCall) {
          texts.sort((a, b) => a.batch_row - b.batch_row);
          const items: EngineItem[] = texts.map((p) => ({
            words: p.words.map((w) => w[0]),
            prompt: promptFrom(p, decoding.find((d) => d.text === p.index)?.schemas ?? []),
          }));
          const out = runBatch(model, items);
          const ids = t.ints(`encoder.call${call}.input_ids`);
          const [B, L] = t.info(`encoder.call${call}.input_ids`).shape;
          // The encoder alone on the recorded ids and mask: last hidden state at every real position.
          const mask = t.ints(`encoder.call${call}.attention_mask`);
          const hidden = encode(model.encoder, ids, mask, B, L);
          note("last_hidden_state", maxAbsDiff(hidden, t.f32(`encoder.call${call}.last_hidden_state`), (i) => mask[Math.floor(i / H)] === 1));
          texts.forEach((p, b) => {
            const r = out[b];
            expect(Array.from(r.inputIds)).toEqual(ids.slice(b * L, b * L + r.inputIds.length));
            expect(r.tokens).toEqual(p.subword_tokens);
            const ti = p.index;
            if (!t.has(`text${ti}.word_embeddings`)) return; // extraction of this text failed officially
            note("word_embeddings", maxAbsDiff(r.wordEmbeddings, t.f32(`text${ti}.word_embeddings`)));
            const W = r.wordEmbeddings.length / H;
            const spanMask = t.tensor(`text${ti}.span_mask`).data as Uint8Array;
            const schemas = decoding.find((d) => d.text === ti)?.schemas ?? [];
            if (r.spanRep) note("span_rep", maxAbsDiff(r.spanRep, t.f32(`text${ti}.span_rep`), (i) => spanMask[Math.floor(i / H)] === 0));
            for (const d of schemas) {
              const s = r.schemas[d.index];
              const key = `text${ti}.schema${d.index}`;
              note("special_embeddings", maxAbsDiff(r.specialEmbeddings[d.index], t.f32(`${key}.special_embeddings`)));
              if (d.kind === "classification") {
                note("cls_logits", maxAbsDiff(s.clsLogits!, t.f32(`${key}.cls_logits`)));
                continue;
              }
              note("count_logits", maxAbsDiff(s.countLogits!, t.f32(`${key}.count_logits`)));
              expect(s.count, `${key} count`).toBe(d.count);
              if (!d.count) continue;
              note("struct_proj", maxAbsDiff(s.structProj!, t.f32(`${key}.struct_proj`)));
              note("span_scores", maxAbsDiff(s.spanScores!, t.f32(`${key}.span_scores`), (i) => spanMask[i % (W * K)] === 0));
            }
          });
        }
      });
    }

    it("reports the largest errors", () => {
      console.log(`${ckpt} engine max abs error per tensor:`, JSON.stringify(worst));
      console.log(`${ckpt} max abs error per case (all tensors):\n${Object.entries(perCase).map(([k, v]) => `  ${k} ${v.toExponential(1)}`).join("\n")}`);
      expect(Object.keys(worst).length).toBeGreaterThan(5);
    });
  });
}

describe("batching", () => {
  it("padding a text into a batch does not change its results", async () => {
    const model = loadModel(await readCheckpointDir(checkpointDir("tiny-count_lstm_v2")));
    const c = readGoldenCase(listGoldenCases("tiny-count_lstm_v2").find((r) => r.name === "long_text")!);
    const p = c.texts_prepared[0];
    const item: EngineItem = { words: p.words.map((w) => w[0]), prompt: promptFrom(p, (c.decoding as { schemas: DecodingSchema[] }[])[0].schemas) };
    const short: EngineItem = { words: ["hi", "."], prompt: item.prompt };
    const [alone] = runBatch(model, [short]);
    const [, batched] = runBatch(model, [item, short]);
    expect(maxAbsDiff(batched.wordEmbeddings, alone.wordEmbeddings)).toBeLessThan(1e-5);
    batched.schemas.forEach((s, i) => {
      expect(s.count).toBe(alone.schemas[i].count);
      if (s.spanScores) expect(maxAbsDiff(s.spanScores, alone.schemas[i].spanScores!)).toBeLessThan(1e-5);
    });
  });
});

import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { InputError } from "../src/errors.js";
import { assembleInputs } from "../src/text/inputs.js";
import { loadTokenizer, loadTokenizerFromDir } from "../src/text/tokenizer.js";
import { checkpointDir, goldenCheckpoints, listGoldenCases, openGoldenTensors, readGoldenCase } from "./helpers/golden.js";

/** Rows `positions` of row `b` of a [B, L, H] tensor. */
function gather(hidden: Float32Array, L: number, H: number, b: number, positions: readonly number[]): Float32Array {
  const out = new Float32Array(positions.length * H);
  positions.forEach((p, r) => out.set(hidden.subarray((b * L + p) * H, (b * L + p + 1) * H), r * H));
  return out;
}

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

describe("assembleInputs reproduces the official combined sequence on every golden case", () => {
  for (const ck of goldenCheckpoints()) {
    describe(ck, async () => {
      const tok = await loadTokenizerFromDir(checkpointDir(ck));
      for (const ref of listGoldenCases(ck)) {
        it(ref.name, async () => {
          const golden = readGoldenCase(ref);
          const st = await openGoldenTensors(ref);
          let rowsCompared = 0;
          for (const tp of golden.texts_prepared) {
            const a = assembleInputs(tok, tp.schema_tokens_list, tp.prefix_tokens, tp.words.map((w) => w[0]));
            expect(a.tokens).toEqual(tp.subword_tokens);
            expect(Array.from(a.ids)).toEqual(tp.input_ids);
            expect(a.mapped).toEqual(tp.mapped_indices);
            expect(a.emptyTextElements).toEqual([]);
            expect(a.textFirstSubword.length).toBe(tp.prefix_tokens.length + tp.words.length);
            expect(a.schemaSpecialPositions.length).toBe(tp.schema_tokens_list.length);

            // The encoder row of this text holds exactly our ids, then padding.
            const call = `encoder.call${tp.encoder_call}`;
            const [, L, H] = st.info(`${call}.last_hidden_state`).shape;
            const rowIds = st.ints(`${call}.input_ids`).slice(tp.batch_row * L, (tp.batch_row + 1) * L);
            expect(rowIds.slice(0, a.ids.length)).toEqual(Array.from(a.ids));
            expect(rowIds.slice(a.ids.length).every((id) => id === 0)).toBe(true);

            // Our positions select the very rows the official engine copied.
            const hidden = st.f32(`${call}.last_hidden_state`);
            const wordName = `text${tp.index}.word_embeddings`;
            if (st.has(wordName)) {
              expect(maxAbsDiff(gather(hidden, L, H, tp.batch_row, a.textFirstSubword), st.f32(wordName))).toBe(0);
              rowsCompared += a.textFirstSubword.length;
            }
            a.schemaSpecialPositions.forEach((pos, s) => {
              const name = `text${tp.index}.schema${s}.special_embeddings`;
              if (!st.has(name)) return;
              expect(maxAbsDiff(gather(hidden, L, H, tp.batch_row, pos), st.f32(name))).toBe(0);
              expect(pos.map((p) => a.tokens[p])[0]).toBe("[P]");
              rowsCompared += pos.length;
            });
          }
          expect(rowsCompared).toBeGreaterThan(0);
        });
      }
    });
  }
});

describe("assembleInputs structure", () => {
  const tok = loadTokenizer(readFileSync(`${checkpointDir("tiny-count_lstm")}tokenizer.json`, "utf8"));
  const ent = ["(", "[P]", "entities", "(", "[E]", "person", ")", ")"];
  const cls = ["(", "[P]", "topic", "(", "[L]", "a", "[L]", "b", ")", ")"];

  it("puts [SEP_STRUCT] between schemas only and [SEP_TEXT] before the text", () => {
    const a = assembleInputs(tok, [ent, cls], ["(", "x:"], ["hi", "."]);
    const seps = a.tokens.flatMap((t, p) => (t === "[SEP_STRUCT]" || t === "[SEP_TEXT]" ? [[t, p, ...a.mapped[p]]] : []));
    const sepStruct = a.tokens.indexOf("[SEP_STRUCT]");
    const sepText = a.tokens.indexOf("[SEP_TEXT]");
    expect(seps).toEqual([
      ["[SEP_STRUCT]", sepStruct, "schema", 8, 0],
      ["[SEP_TEXT]", sepText, "sep", 19, 2],
    ]);
    // Text elements: prefix then words, element indices continue after [SEP_TEXT], schema index = #schemas.
    expect(a.textFirstSubword.map((p) => a.mapped[p])).toEqual([
      ["text", 20, 2],
      ["text", 21, 2],
      ["text", 22, 2],
      ["text", 23, 2],
    ]);
    expect(a.schemaSpecialPositions.map((ps) => ps.map((p) => a.tokens[p]))).toEqual([
      ["[P]", "[E]"],
      ["[P]", "[L]", "[L]"],
    ]);
  });

  it("starts at [SEP_TEXT] when there is no schema", () => {
    const a = assembleInputs(tok, [], [], ["hello"]);
    expect(a.tokens[0]).toBe("[SEP_TEXT]");
    expect(a.mapped[0]).toEqual(["sep", 0, 0]);
    expect(a.schemaSpecialPositions).toEqual([]);
    expect(a.textFirstSubword).toEqual([1]);
  });

  it("keeps one row per word when a word tokenises to nothing (official code would shift later words)", () => {
    // The released tokenizer's normalizer deletes control characters; emulate it with a Replace normalizer.
    const j = JSON.parse(readFileSync(`${checkpointDir("tiny-count_lstm")}tokenizer.json`, "utf8"));
    j.normalizer.normalizers.unshift({ type: "Replace", pattern: { Regex: "[\\u0001-\\u0008]" }, content: "" });
    const t = loadTokenizer(j);
    expect(t.tokenize("\u0001").tokens).toEqual([]);
    const a = assembleInputs(t, [ent], [], ["\u0001", "hello", "\u0002", "world", "\u0003"]);
    // The sequence is exactly the official one: nothing for the empty words.
    expect(a.tokens.slice(a.tokens.indexOf("[SEP_TEXT]") + 1)).toEqual([...t.tokenize("hello").tokens, ...t.tokenize("world").tokens]);
    expect(a.emptyTextElements).toEqual([0, 2, 4]);
    const hello = a.tokens.indexOf("[SEP_TEXT]") + 1;
    const world = hello + t.tokenize("hello").tokens.length;
    // Empty words borrow the next word's first subword; the last one borrows the last subword.
    expect(a.textFirstSubword).toEqual([hello, hello, world, world, a.tokens.length - 1]);
  });

  it("refuses prompts that would break the official segmentation", () => {
    expect(() => assembleInputs(tok, [["(", "[P]", "[SEP_TEXT]", ")"]], [], ["a"])).toThrow(InputError);
    expect(() => assembleInputs(tok, [["(", "[P]", "[SEP_STRUCT]", ")"]], [], ["a"])).toThrow(/schemaTokens\[0\]\[2\]/);
    expect(() => assembleInputs(tok, [ent], ["[SEP_TEXT]"], ["a"])).toThrow(/prefixTokens\[0\]/);
    expect(() => assembleInputs(tok, [ent], [], ["a", "[SEP_TEXT]"])).toThrow(/words\[1\]/);
    expect(() => assembleInputs(tok, [["(", "[P]", "entities", "(", "[E]", "a [E] b", ")", ")"]], [], ["a"])).toThrow(
      /schemaTokens\[0\]\[5\]: "a \[E\] b" contains the GLiNER2 marker "\[E\]"/,
    );
    // [DESCRIPTION] inside the prompt element is how descriptions are written: allowed.
    const a = assembleInputs(tok, [["(", "[P]", "entities [DESCRIPTION] person: a human", "(", "[E]", "person", ")", ")"]], [], ["a"]);
    expect(a.schemaSpecialPositions[0].length).toBe(2);
  });

  it("rejects arguments of the wrong type with an InputError naming them", () => {
    expect(() => assembleInputs(tok, "x" as never, [], [])).toThrow(/schemaTokens: expected an array/);
    expect(() => assembleInputs(tok, [["(", 3 as never]], [], [])).toThrow(/schemaTokens\[0\]\[1\]: expected a string, got number/);
    expect(() => assembleInputs(tok, [], null as never, [])).toThrow(/prefixTokens: expected an array of strings, got null/);
    expect(() => assembleInputs(tok, [], [], [undefined as never])).toThrow(/words\[0\]: expected a string, got undefined/);
  });
});

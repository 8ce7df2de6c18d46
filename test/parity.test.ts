/**
 * Every golden case through the public API, end to end (text → words → prompt → tokens → encoder → heads →
 * decoding → formatted output), compared with what official HEAD (v1.3.3) returns for the same call
 * (`test/fixtures/golden_head/`, FIXTURES.md §7.1): decisions identical, confidences within 1e-4, key order
 * included. The prompt and words are HEAD's too.
 *
 * Documented exceptions (README "Deliberate differences"), each applied only where its condition holds:
 * - empty results keep their shape: HEAD's `entities: {}` (count 0) is every requested type empty here, and a
 *   structure's `{}` is `[]`;
 * - a field description containing "::" is kept whole (HEAD keeps only its last part, `json_spec_parsing`): the
 *   prompt differs there, so that case asserts the decided prompt and output shape instead;
 * - with a raw schema dict HEAD orders structure fields in Python set order, we in declared order (finding 9), and
 *   files a relation with nothing found as a top-level `name: []`, we under relation_extraction;
 * - values reaching onto the "." the clean-up appended are cut back to the user's text (a value that was only
 *   that "." is removed).
 * Batched calls give the same results as one text at a time.
 */
import { describe, expect, it } from "vitest";
import { GLiNER2 } from "../src/gliner2.js";
import { buildPrompt } from "../src/schema/prompt.js";
import { prepareText, splitWords } from "../src/text/words.js";
import { mapCall } from "./helpers/callDsl.js";
import { checkpointDir, codePointLength, goldenCheckpoints, headRawDictRelations, listGoldenCases, readGoldenCase, readHeadOutput } from "./helpers/golden.js";

const CONF_TOL = 1e-4;
let worstConfidence = 0;

interface Ctx {
  /** The text had a "." appended by the clean-up. */
  readonly appended: boolean;
  /** A raw schema dict: HEAD orders structure fields in Python set order (finding 9), we in declared order. */
  readonly setOrder?: boolean;
}

const isEmpty = (v: unknown) => v === null || (Array.isArray(v) && v.length === 0);

/** Deep equality with numbers (confidences) within CONF_TOL and integers exact; key order checked too. */
function expectClose(actual: unknown, expected: unknown, path: string, ctx: Ctx = { appended: false }): void {
  if (typeof expected === "number") {
    expect(typeof actual, path).toBe("number");
    if (Number.isInteger(expected) && Number.isInteger(actual)) return void expect(actual, path).toBe(expected);
    const err = Math.abs((actual as number) - expected);
    worstConfidence = Math.max(worstConfidence, err);
    expect(err, `${path}: ${String(actual)} vs ${expected}`).toBeLessThanOrEqual(CONF_TOL);
    return;
  }
  if (typeof expected === "string" && ctx.appended && expected.endsWith(".") && actual !== expected) {
    // Decision: a value reaching onto the appended "." is cut back to the user's text; one that was only the "."
    // is removed (a str value is null).
    if (expected === ".") return void expect(actual, path).toBeNull();
    return void expect(actual, path).toBe(expected.slice(0, -1).replace(/\s+$/u, ""));
  }
  if (expected === null || typeof expected !== "object") return void expect(actual, path).toStrictEqual(expected);
  if (Array.isArray(expected)) {
    expect(Array.isArray(actual), `${path} is an array`).toBe(true);
    let exp = expected as unknown[];
    if (ctx.appended && (actual as unknown[]).length < exp.length) {
      // Decision: a value that was only the appended "." is removed.
      // (A relation whose head or tail was only that "." is dropped.)
      const onlyDot = (v: unknown): boolean => v === "." || (typeof v === "object" && v !== null && (v as { text?: unknown }).text === ".");
      exp = exp.filter((e) => !onlyDot(e) && !(Array.isArray(e) && e.some(onlyDot)) && !(typeof e === "object" && e !== null && (onlyDot((e as { head?: unknown }).head) || onlyDot((e as { tail?: unknown }).tail))));
    }
    expect((actual as unknown[]).length, `${path}.length`).toBe(exp.length);
    exp.forEach((e, i) => expectClose((actual as unknown[])[i], e, `${path}[${i}]`, ctx));
    return;
  }
  const a = actual as Record<string, unknown>;
  if (Object.keys(expected).length === 0 && actual !== null && typeof actual === "object") {
    // Decision (finding 5): HEAD's {} for "nothing found" keeps its type's shape here: a structure → [], entities →
    // every requested type empty.
    if (Array.isArray(actual)) return void expect(actual, path).toEqual([]);
    for (const [k, v] of Object.entries(a)) expect(isEmpty(v), `${path}.${k} is empty`).toBe(true);
    return;
  }
  if (ctx.setOrder) expect(Object.keys(a).sort(), `${path} keys`).toEqual(Object.keys(expected).sort());
  else expect(Object.keys(a), `${path} keys`).toEqual(Object.keys(expected));
  for (const [k, v] of Object.entries(expected)) expectClose(a[k], v, `${path}.${k}`, ctx);
}

const BATCH_METHODS = new Set(["batch_extract", "batch_extract_entities"]);

/**
 * Cases whose prompt differs from HEAD's by a documented decision: the official outputs do not apply, so the test
 * asserts the decided prompt and output shape instead.
 */
const PROMPT_DECISIONS: Record<string, (prompt: string[][], recorded: string[][], output: unknown) => void> = {
  // A description containing "::" is kept whole; HEAD keeps only its last part (`what is bad :: or annoying`).
  json_spec_parsing: (prompt, recorded, output) => {
    const differing = prompt.flat().filter((t, i) => t !== recorded.flat()[i]);
    expect(prompt.flat().length).toBe(recorded.flat().length);
    expect(differing.length).toBe(1);
    expect(differing[0]).toContain("::");
    const review = (output as { review: Record<string, unknown>[] }).review;
    for (const instance of review) {
      expect(Array.isArray(instance.features)).toBe(true); // list, as HEAD
      for (const v of instance.features as string[]) expect(["quiet", "easy to clean", "heavy", "cheap"]).toContain(v);
    }
  },
};

for (const ckpt of goldenCheckpoints()) {
  describe(`public API on ${ckpt}: every golden case against official HEAD`, async () => {
    // In-thread: the test reads the model object itself.
    const model = await GLiNER2.fromPretrained(checkpointDir(ckpt), { offThread: false });

    for (const ref of listGoldenCases(ckpt)) {
      it(ref.name, async () => {
        const c = readGoldenCase(ref);
        const head = readHeadOutput(ref);
        expect(head.error).toBeNull();
        const call = mapCall(c);
        const isBatch = BATCH_METHODS.has((c.call as { method: string }).method);
        const got = await call.run(model);
        const outputs = (isBatch ? got : [got]) as unknown[];
        const expected = (isBatch ? head.output : [head.output]) as unknown[];
        expect(outputs.length).toBe(c.texts.length);

        for (const p of head.texts_prepared) {
          const t = p.index;
          // Text clean-up, words (offsets in code points into the original text) and prompt are HEAD's.
          const text = prepareText(c.texts[t]);
          expect(text).toBe(p.text);
          const words = splitWords(text);
          expect(words.map((w) => [w.text, codePointLength(text.slice(0, w.start)), codePointLength(text.slice(0, w.end))])).toEqual(p.words);
          const prompt = buildPrompt(call.schemaFor(t));
          const decided = PROMPT_DECISIONS[ref.name];
          if (decided) {
            decided(prompt.schemaTokens as string[][], p.schema_tokens_list, outputs[t]);
            continue;
          }
          expect(prompt.schemaTokens).toEqual(p.schema_tokens_list);
          expect(prompt.prefixTokens).toEqual(p.prefix_tokens);
          expect(prompt.plans.map((pl) => pl.taskType)).toEqual(p.task_types);
          const rawDict = (c.call as { schema_dict?: unknown }).schema_dict !== undefined;
          const want = rawDict ? headRawDictRelations(expected[t], call.schemaFor(t).relations.map((r) => r.name)) : expected[t];
          expectClose(outputs[t], want, `${ref.name}.text${t}`, {
            appended: text !== c.texts[t],
            setOrder: rawDict,
          });
        }

        if (isBatch) {
          // One text at a time gives the same results as the padded batch.
          for (let t = 0; t < c.texts.length; t++) {
            const alone = await model.extract(c.texts[t], call.schemaFor(t), { ...call.options, batchSize: undefined });
            expectClose(alone, outputs[t], `${ref.name}.alone${t}`);
          }
        }
      });
    }

    it("reports the largest confidence difference", () => {
      console.log(`${ckpt}: largest confidence difference vs official HEAD: ${worstConfidence.toExponential(2)}`);
      expect(worstConfidence).toBeLessThan(CONF_TOL);
    });
  });
}

/** The public API's own checks and behaviours that the golden cases do not reach. */
import { describe, expect, it } from "vitest";
import { InputError, SchemaError } from "../src/errors.js";
import { GLiNER2 } from "../src/gliner2.js";
import { checkpointDir } from "./helpers/golden.js";

describe("GLiNER2 API", async () => {
  const model = await GLiNER2.fromPretrained(checkpointDir("tiny-count_lstm_v2"));
  const text = "Tim Cook leads Apple in Cupertino, and İstanbul 😀 hosts the summit.";

  const inputError = async (p: Promise<unknown>, argument: string, message: RegExp) => {
    const err = await p.then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(InputError);
    expect((err as InputError).argument).toBe(argument);
    expect((err as Error).message).toMatch(message);
  };

  it("rejects bad texts and options with the argument named", async () => {
    await inputError(model.extractEntities(42 as never, ["person"]), "text", /must be a string, got number/);
    await inputError(model.batchExtract(["ok", null as never], model.createSchema().entities(["a"])), "texts[1]", /got null/);
    await inputError(model.extractEntities(text, ["person"], { threshold: 1.2 }), "threshold", /\[0, 1\]/);
    await inputError(model.batchExtractEntities([text], ["person"], { batchSize: 0 }), "batchSize", /positive integer/);
    await inputError(model.extractEntities(text, ["person"], { spanSelection: "longest" as never }), "spanSelection", /"first" or "best"/);
    await inputError(model.batchExtract([text, text], [model.createSchema().entities(["a"])]), "schemas", /1 schemas for 2 texts/);
  });

  it("a text too long for the token limit is refused with its index", async () => {
    const small = await GLiNER2.fromPretrained(checkpointDir("tiny-count_lstm_v2"), { maxTokens: 40 });
    await inputError(small.batchExtractEntities(["short.", "word ".repeat(100)], ["person"]), "texts[1]", /over the 40-token limit/);
  });

  it("schema errors are typed", async () => {
    await expect(model.classifyText(text, { sentiment: [] })).rejects.toBeInstanceOf(SchemaError);
  });

  it("character offsets slice the input text, even after İ and emoji", async () => {
    const out = (await model.extractEntities(text, ["person", "place", "event"], { includeSpans: true, threshold: 0.05 })) as {
      entities: Record<string, { text: string; start: number; end: number }[]>;
    };
    const spans = Object.values(out.entities).flat();
    expect(spans.length).toBeGreaterThan(0);
    for (const s of spans) expect(text.slice(s.start, s.end)).toBe(s.text);
  });

  it("spanSelection 'best' picks a span at least as confident as 'first'; a str entity is the best by default (HEAD)", async () => {
    const opts = { includeConfidence: true, threshold: 0.05 } as const;
    const types = { person: { dtype: "str" }, place: {} } as const;
    type Out = { entities: { person: { confidence: number } | null } };
    const first = (await model.extractEntities(text, types, { ...opts, spanSelection: "first" })) as Out;
    const best = (await model.extractEntities(text, types, { ...opts, spanSelection: "best" })) as Out;
    const official = (await model.extractEntities(text, types, opts)) as Out;
    expect(first.entities.person).not.toBeNull();
    expect(best.entities.person!.confidence).toBeGreaterThan(first.entities.person!.confidence);
    expect(official).toEqual(best);
  });

  it("results do not depend on batch size", async () => {
    const texts = [text, "Short one.", "Maria moved from Lisbon to Berlin in 2019 to join Siemens as an engineer."];
    const schema = model.createSchema().entities(["person", "city"]).classification("topic", ["travel", "work"]).relations(["works_for"]);
    const one = await model.batchExtract(texts, schema, { batchSize: 1, includeConfidence: true });
    const all = await model.batchExtract(texts, schema, { batchSize: 3, includeConfidence: true });
    // Same structure and strings; numbers within float32 noise of padding.
    const numbers: [number, number][] = [];
    const strip = (a: unknown, b: unknown): unknown => {
      if (typeof a === "number" && typeof b === "number") {
        numbers.push([a, b]);
        return 0;
      }
      if (Array.isArray(a) && Array.isArray(b)) return a.map((x, i) => strip(x, b[i]));
      if (a && b && typeof a === "object" && typeof b === "object") {
        return Object.fromEntries(Object.entries(a).map(([k, v]) => [k, strip(v, (b as Record<string, unknown>)[k])]));
      }
      return a;
    };
    expect(strip(all, one)).toEqual(strip(one, all));
    expect(numbers.length).toBeGreaterThan(0);
    for (const [a, b] of numbers) expect(Math.abs(a - b)).toBeLessThan(1e-5);
  });
});

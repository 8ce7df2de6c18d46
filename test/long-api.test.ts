/**
 * Long documents beyond the fixtures: windows, batching (counted, not timed), streaming, bad options, and a
 * 20,000-word document (test/long-cli.test.ts).
 */
import { describe, expect, it, vi } from "vitest";
import { InputError } from "../src/errors.js";
import { GLiNER2 } from "../src/gliner2.js";
import { countChunks, iterateChunks, splitIntoChunks } from "../src/long/index.js";
import { splitWords } from "../src/text/words.js";
import { checkpointDir } from "./helpers/golden.js";
import { syntheticDocument } from "./helpers/longText.js";

describe("windows", () => {
  it("hold chunkSize words, start every chunkSize - chunkOverlap words, and the last ends at the last word", () => {
    for (const [n, size, overlap] of [[1, 5, 0], [5, 5, 1], [6, 5, 1], [41, 40, 10], [100, 7, 3], [317, 48, 12], [1000, 384, 64]]) {
      const text = Array.from({ length: n }, (_, i) => `w${i}`).join(" ");
      const chunks = splitIntoChunks(text, { chunkSize: size, chunkOverlap: overlap });
      expect(chunks.length, `${n}/${size}/${overlap}`).toBe(countChunks(n, { chunkSize: size, chunkOverlap: overlap }));
      chunks.forEach((c, i) => {
        expect(c.startWord).toBe(i * (size - overlap));
        expect(c.endWord).toBe(Math.min(c.startWord + size, n));
        expect(text.slice(c.startChar, c.endChar)).toBe(c.text);
        expect(c.text.split(" ")).toEqual(Array.from({ length: c.endWord - c.startWord }, (_, k) => `w${c.startWord + k}`));
      });
      expect(chunks.at(-1)!.endWord).toBe(n);
      expect(chunks.at(-2)?.endWord ?? 0).toBeLessThan(n);
    }
  });

  it("use the engine's words (URLs, e-mails, punctuation, İ) and keep inner whitespace; no words → one chunk", () => {
    const text = "  Zoë flew to İzmir.\n\nSee https://x.io/a, or mail a@b.co!  ";
    const words = splitWords(text);
    const chunks = splitIntoChunks(text, { chunkSize: 4, chunkOverlap: 1 });
    expect(chunks.map((c) => c.text)).toEqual(["Zoë flew to İzmir", "İzmir.\n\nSee https://x.io/a,", "https://x.io/a, or mail a@b.co", "a@b.co!"]);
    expect(chunks.at(-1)!.endWord).toBe(words.length);
    expect(splitIntoChunks(" \n ", { chunkSize: 4, chunkOverlap: 1 })).toEqual([{ text: " \n ", startChar: 0, endChar: 3, startWord: 0, endWord: 0 }]);
    expect(splitIntoChunks("", { chunkSize: 4, chunkOverlap: 1 })).toEqual([{ text: "", startChar: 0, endChar: 0, startWord: 0, endWord: 0 }]);
  });

  it("reject bad sizes with an InputError naming the option", () => {
    const bad: [object, RegExp][] = [
      [{ chunkSize: 0, chunkOverlap: 0 }, /chunkSize: must be a positive integer/],
      [{ chunkSize: 2.5, chunkOverlap: 0 }, /chunkSize/],
      [{ chunkSize: 10, chunkOverlap: -1 }, /chunkOverlap: must be a non-negative integer/],
      [{ chunkSize: 10, chunkOverlap: 10 }, /chunkOverlap: must be smaller than chunkSize \(10\), got 10/],
      [{ chunkSize: "10", chunkOverlap: 1 }, /chunkSize/],
    ];
    for (const [opts, msg] of bad) {
      expect(() => [...iterateChunks("a b c", opts as never)]).toThrow(InputError);
      expect(() => [...iterateChunks("a b c", opts as never)]).toThrow(msg);
    }
  });
});

describe("long-document API", async () => {
  // In-thread: a test spies on the model's own batchExtract.
  const model = await GLiNER2.fromPretrained(checkpointDir("tiny-count_lstm_v2"), { offThread: false });
  const schema = model
    .createSchema()
    .entities({ person: {}, place: { dtype: "str" } })
    .classification("topic", ["politics", "business", "health"])
    .classification("tags", ["money", "travel", "science"], { multiLabel: true, clsThreshold: 0.3 })
    .relations(["works_for"])
    .structure("meeting")
    .field("who", { dtype: "str" })
    .field("where", { dtype: "list" });
  const docs = [syntheticDocument(300, 1), syntheticDocument(90, 2), "", syntheticDocument(500, 3)];
  const opts = { chunkSize: 96, chunkOverlap: 16, includeConfidence: true, includeSpans: true, threshold: 0.6 } as const;

  it("sends chunks of every document to the encoder batchSize at a time; results do not depend on the batch size", async () => {
    const spy = vi.spyOn(model, "batchExtract");
    const total = docs.reduce((n, d) => n + countChunks(splitWords(d).length, opts), 0);
    const byBatch = new Map<number, unknown[]>();
    for (const batchSize of [1, 5, 64]) {
      spy.mockClear();
      byBatch.set(batchSize, await model.batchExtractLong(docs, schema, { ...opts, batchSize }));
      const sizes = spy.mock.calls.map((c) => (c[0] as string[]).length);
      expect(sizes.reduce((a, b) => a + b, 0)).toBe(total);
      expect(sizes.length).toBe(Math.ceil(total / batchSize));
      expect(Math.max(...sizes)).toBe(Math.min(batchSize, total));
      for (const c of spy.mock.calls) expect(c[2]).toMatchObject({ includeConfidence: true, includeSpans: true, maxLen: 96, batchSize });
    }
    spy.mockRestore();
    expect(total).toBeGreaterThan(10);
    const strip = (v: unknown): unknown => JSON.parse(JSON.stringify(v, (_, x) => (typeof x === "number" && !Number.isInteger(x) ? Math.round(x * 1e4) : x)));
    expect(strip(byBatch.get(1))).toEqual(strip(byBatch.get(64)));
    expect(strip(byBatch.get(5))).toEqual(strip(byBatch.get(64)));
  });

  it("streams: an async document source gives the same results in order, each as soon as it is complete", async () => {
    const all = await model.batchExtractLong(docs, schema, { ...opts, batchSize: 4 });
    let pulled = 0;
    async function* source() {
      for (const text of docs) {
        pulled++;
        yield { text, schema };
      }
    }
    const got: unknown[] = [];
    const pulledWhenYielded: number[] = [];
    for await (const r of model.streamExtractLong(source(), { ...opts, batchSize: 4 })) {
      got.push(r);
      pulledWhenYielded.push(pulled);
    }
    expect(got).toEqual(all);
    // The first document's result came out before the last document was read.
    expect(pulledWhenYielded[0]).toBeLessThan(docs.length);
  });

  it("merged results: offsets slice the document, entities in position order without overlaps, one label per task", async () => {
    const [out] = (await model.batchExtractLong([docs[0]], schema, opts)) as Record<string, any>[];
    const text = docs[0];
    const spans: { text: string; start: number; end: number }[] = [];
    const walk = (v: unknown) => {
      if (Array.isArray(v)) return v.forEach(walk);
      if (v === null || typeof v !== "object") return;
      const o = v as Record<string, unknown>;
      if (typeof o.text === "string" && typeof o.start === "number") spans.push(o as never);
      Object.values(o).forEach(walk);
    };
    walk(out);
    expect(spans.length).toBeGreaterThan(10);
    for (const s of spans) expect(text.slice(s.start, s.end)).toBe(s.text);
    const people = out.entities.person as { start: number; end: number }[];
    for (let i = 1; i < people.length; i++) expect(people[i].start).toBeGreaterThanOrEqual(people[i - 1].end);
    expect(Object.keys(out)).toEqual(["meeting", "entities", "topic", "tags", "relation_extraction"]);
    expect(["politics", "business", "health"]).toContain(out.topic.label);
    expect(new Set(out.tags.map((t: { label: string }) => t.label)).size).toBe(out.tags.length);
    // Without flags: plain strings, relations as {head, tail} texts (official long-document shape).
    const [plain] = (await model.batchExtractLong([docs[0]], schema, { chunkSize: 96, chunkOverlap: 16, threshold: 0.6 })) as Record<string, any>[];
    expect(plain.entities.person).toEqual(people.map((p: any) => p.text));
    expect(typeof plain.topic).toBe("string");
    for (const r of plain.relation_extraction.works_for) expect(Object.keys(r)).toEqual(["head", "tail"]);
  });

  it("a document shorter than one chunk gives plain extract's decisions (entities ordered by position)", async () => {
    const text = "Amara Osei of Redwood Research met Tomas Berg in Oslo to discuss the budget.";
    const ents = { person: {}, organization: {}, city: { dtype: "str" } } as const;
    const long = (await model.extractEntitiesLong(text, ents, { includeSpans: true, includeConfidence: true })) as any;
    const plain = (await model.extractEntities(text, ents, { includeSpans: true, includeConfidence: true })) as any;
    const byStart = (a: any, b: any) => a.start - b.start;
    expect(long.entities.person).toEqual([...plain.entities.person].sort(byStart));
    expect(long.entities.organization).toEqual([...plain.entities.organization].sort(byStart));
    expect(long.entities.city).toEqual(plain.entities.city);
  });

  it("maxLen keeps only the first N words of each text (official max_len)", async () => {
    const text = docs[1];
    const words = splitWords(text);
    const n = 20;
    const cut = (await model.extractEntities(text, ["person", "place"], { maxLen: n, includeSpans: true, threshold: 0.3 })) as { entities: Record<string, { end: number }[]> };
    const all = Object.values(cut.entities).flat();
    expect(all.length).toBeGreaterThan(0);
    for (const s of all) expect(s.end).toBeLessThanOrEqual(words[n - 1].end);
    const full = (await model.extractEntities(text, ["person", "place"], { includeSpans: true, threshold: 0.3 })) as typeof cut;
    expect(Math.max(...Object.values(full.entities).flat().map((s) => s.end))).toBeGreaterThan(words[n - 1].end);
    for (const bad of [0, -1, 2.5, "3"]) await expect(model.extract(text, schema, { maxLen: bad as never })).rejects.toThrow(/maxLen/);
  });

  it("rejects bad input with typed errors before any work", async () => {
    const spy = vi.spyOn(model, "batchExtract");
    await expect(model.extractLong(42 as never, schema)).rejects.toThrow(/text: must be a string/);
    await expect(model.batchExtractLong(["a", null as never], schema)).rejects.toThrow(/texts\[1\]: must be a string/);
    await expect(model.batchExtractLong(["a", "b"], [schema])).rejects.toThrow(/schemas: has 1 schemas for 2 texts/);
    await expect(model.extractLong("a", schema, { formatResults: false })).rejects.toThrow(/formatResults/);
    await expect(model.extractLong("a", schema, { chunkSize: 8, chunkOverlap: 8 })).rejects.toThrow(InputError);
    await expect(model.extractLong("a", schema, { overlapPolicy: "bogus" as never })).rejects.toThrow(/overlapPolicy/);
    await expect(model.extractLong("a", { entities: ["x", ""] })).rejects.toThrow(/entities/);
    expect(spy).not.toHaveBeenCalled();
    spy.mockRestore();
    expect(await model.batchExtractLong([], schema)).toEqual([]);
  });
});

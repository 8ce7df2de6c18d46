/**
 * `gliner2 serve` beyond the official client's fields: LoRA adapters loaded at start-up and chosen per request
 * (`"adapter"`), and long documents (`"long"`, `"chunk_size"`, `"chunk_overlap"`). Every answer must equal the
 * library's direct output byte for byte; requests with different adapters or windows are never combined into
 * one model call; bad values are 422.
 */
import { request as httpRequest } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GLiNER2 } from "../src/gliner2.js";
import { createBatcher, type BatchModel } from "../src/serve/batcher.js";
import { startServer, type GlinerServer } from "../src/serve/server.js";
import type { Schema } from "../src/schema/schema.js";
import { FIXTURES_DIR, checkpointDir } from "./helpers/golden.js";
import { syntheticDocument } from "./helpers/longText.js";

const CK = "tiny-count_lstm_v2";
const DIR = checkpointDir(CK);
const ADAPTERS = ["enc_r4", "heads_r4", "mix_r2"];
const adapterDir = (name: string) => `${FIXTURES_DIR}lora/adapters/${CK}/${name}`;
const TEXTS = [
  "Maria Lopez moved from Lisbon to Berlin in 2019 to join Siemens as a senior engineer.",
  "Tim Cook announced the new iPhone at Apple Park in Cupertino on Tuesday.",
  "The pasta was cold and the waiter ignored us, never again.",
];
const SCHEMA = {
  entities: ["person", "company", "city"],
  classifications: { sentiment: { labels: ["positive", "negative"] } },
  structures: { event: ["who", "where::str"] },
  relations: ["works_for"],
};

interface Reply {
  status: number;
  text: string;
  json: any; // eslint-disable-line @typescript-eslint/no-explicit-any
}

function post(url: string, body: unknown, path = "/gliner-2", method = "POST"): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(new URL(path, url), { method, headers: { "Content-Type": "application/json" } }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c) => chunks.push(c));
      res.on("end", () => {
        const text = Buffer.concat(chunks).toString("utf8");
        let json: unknown;
        try {
          json = JSON.parse(text);
        } catch {
          json = undefined;
        }
        resolve({ status: res.statusCode ?? 0, text, json });
      });
    });
    req.on("error", reject);
    if (body !== undefined) req.write(JSON.stringify(body));
    req.end();
  });
}
const get = (url: string, path: string) => post(url, undefined, path, "GET");

const payload = (text: string | string[], extra: Record<string, unknown> = {}, schema: unknown = SCHEMA, task = "schema") => ({
  task,
  text,
  schema,
  threshold: 0.3,
  include_confidence: true,
  include_spans: false,
  format_results: true,
  ...extra,
});

describe("serve: adapters", () => {
  let local: GLiNER2;
  let server: GlinerServer;

  beforeAll(async () => {
    local = await GLiNER2.fromPretrained(DIR, { offThread: false });
    for (const name of ADAPTERS) await local.loadAdapter(adapterDir(name), { name, activate: false });
    server = await startServer({ model: DIR, port: 0, log: null, adapters: Object.fromEntries(ADAPTERS.map((n) => [n, adapterDir(n)])) });
    await server.ready;
  });
  afterAll(async () => {
    await server?.drain();
  });

  const opts = { threshold: 0.3, includeConfidence: true } as const;

  it("answers each adapter's request exactly as the library with that adapter; base requests stay the base model's", async () => {
    const base = await local.batchExtract(TEXTS, SCHEMA, { ...opts, adapter: null });
    const outputs = new Set<string>([JSON.stringify(base)]);
    for (const name of ADAPTERS) {
      const want = await local.batchExtract(TEXTS, SCHEMA, { ...opts, adapter: name });
      const r = await post(server.url, payload(TEXTS, { adapter: name }));
      expect(r.status, r.text).toBe(200);
      expect(r.text, name).toBe(JSON.stringify({ result: want }));
      const single = await post(server.url, payload(TEXTS[0], { adapter: name }));
      expect(single.text, `${name} single`).toBe(JSON.stringify({ result: want[0] }));
      // entity-type tasks go through the same route
      const ents = await post(server.url, payload(TEXTS[1], { adapter: name, include_spans: true }, ["person", "company"], "extract_entities"));
      expect(ents.text).toBe(JSON.stringify({ result: await local.extractEntities(TEXTS[1], ["person", "company"], { ...opts, includeSpans: true, adapter: name }) }));
      outputs.add(JSON.stringify(want));
    }
    // The adapters really change the answer (else this test could not tell them apart).
    expect(outputs.size).toBe(ADAPTERS.length + 1);
    // Without "adapter", and with "adapter": null, the base model answers.
    expect((await post(server.url, payload(TEXTS))).text).toBe(JSON.stringify({ result: base }));
    expect((await post(server.url, payload(TEXTS, { adapter: null }))).text).toBe(JSON.stringify({ result: base }));
  });

  it("never combines requests with different adapters into one model call, and routes each answer back", async () => {
    const before = Number(/gliner2_batch_size_count (\d+)/.exec((await get(server.url, "/metrics")).text)![1]);
    const names = [undefined, ...ADAPTERS];
    const jobs = Array.from({ length: 24 }, (_, i) => ({ adapter: names[i % names.length], text: `${TEXTS[i % 3]} Ref ${i}.` }));
    const replies = await Promise.all(jobs.map((j) => post(server.url, payload(j.text, j.adapter === undefined ? {} : { adapter: j.adapter }))));
    for (let i = 0; i < jobs.length; i++) {
      const want = await local.extract(jobs[i].text, SCHEMA, { ...opts, adapter: jobs[i].adapter ?? null });
      expect(replies[i].text, `request ${i} (${jobs[i].adapter})`).toBe(JSON.stringify({ result: want }));
    }
    const metrics = (await get(server.url, "/metrics")).text;
    const batches = Number(/gliner2_batch_size_count (\d+)/.exec(metrics)![1]) - before;
    // Four adapters (base included) among 24 requests: at least 4 calls, and some requests were combined.
    expect(batches).toBeGreaterThanOrEqual(4);
    expect(batches).toBeLessThan(24);
    for (const name of ADAPTERS) expect(Number(new RegExp(`gliner2_adapter_requests_total\\{adapter="${name}"\\} (\\d+)`).exec(metrics)?.[1])).toBeGreaterThanOrEqual(6);
  });

  it("groups by adapter in the batcher itself: one model call per adapter, each with its own adapter", async () => {
    const calls: { n: number; adapter: unknown }[] = [];
    const fake: BatchModel = {
      batchExtract: async (texts, _s, o) => {
        calls.push({ n: texts.length, adapter: o.adapter });
        return texts.map((t) => ({ t, adapter: o.adapter ?? "default" }) as never);
      },
      batchExtractLong: async () => [],
    };
    const b = createBatcher(fake, { maxBatch: 16, maxBatchTokens: 1e6, windowMs: 5, maxQueue: 100 });
    const schema = {} as Schema;
    const mk = (t: string, adapter?: string | null) => b.push({ texts: [t], schema, options: adapter === undefined ? {} : { adapter }, tokens: [1] })!.promise;
    const results = await Promise.all([mk("a", "x"), mk("b"), mk("c", "y"), mk("d", "x"), mk("e", null), mk("f"), mk("g", "y")]);
    expect(results.map((r) => (r[0] as unknown as { adapter: string }).adapter)).toEqual(["x", "default", "y", "x", "default", "default", "y"]);
    // x, (model default), y, null: four groups, each in one call ("absent" and null are kept apart).
    expect(calls).toEqual([
      { n: 2, adapter: "x" },
      { n: 2, adapter: undefined },
      { n: 2, adapter: "y" },
      { n: 1, adapter: null },
    ]);
  });

  it("refuses an unknown or malformed adapter with 422 naming it and the loaded ones", async () => {
    const unknown = await post(server.url, payload(TEXTS[0], { adapter: "legal" }));
    expect(unknown.status).toBe(422);
    expect(unknown.json.detail).toBe('adapter: no adapter named "legal" is loaded on this server (loaded: enc_r4, heads_r4, mix_r2)');
    for (const bad of [3, "", "../x", "a b", { name: "x" }, "x".repeat(200)]) {
      const r = await post(server.url, payload(TEXTS[0], { adapter: bad }));
      expect(r.status, JSON.stringify(bad)).toBe(422);
      expect(r.json.detail).toMatch(/^adapter: must be the name of a loaded adapter/);
    }
    // Still serving, still the base model by default.
    expect((await post(server.url, payload(TEXTS[2]))).text).toBe(JSON.stringify({ result: await local.extract(TEXTS[2], SCHEMA, { ...opts, adapter: null }) }));
  });

  it("is ready only once the adapters are loaded; a failed adapter fails start-up; names are checked", async () => {
    // The adapter comes from an http folder URL whose weights are held back until we release them.
    const { createServer } = await import("node:http");
    const { readFile } = await import("node:fs/promises");
    let release!: () => void;
    const released = new Promise<void>((r) => (release = r));
    let asked = 0;
    const files = createServer((req, res) => {
      const name = (req.url ?? "").split("/").pop()!;
      asked++;
      void (async () => {
        if (name === "adapter_weights.safetensors") await released;
        const body = await readFile(`${adapterDir("heads_r4")}/${name}`).catch(() => null);
        res.writeHead(body ? 200 : 404, { "Content-Length": body ? body.length : 0 });
        res.end(body ?? undefined);
      })();
    });
    await new Promise<void>((r) => files.listen(0, "127.0.0.1", r));
    const url = `http://127.0.0.1:${(files.address() as { port: number }).port}/heads`;
    const model = await GLiNER2.fromPretrained(DIR);
    try {
      const s = await startServer({ model, port: 0, log: null, adapters: { heads: url } });
      while (asked < 2) await new Promise((r) => setTimeout(r, 5)); // the config was read, the weights are pending
      const early = await get(s.url, "/readyz");
      expect([early.status, early.json]).toEqual([503, { status: "loading" }]);
      const refused = await post(s.url, payload(TEXTS[0], { adapter: "heads" }));
      expect(refused.status).toBe(503);
      expect(refused.json.detail).toMatch(/still loading/);
      release();
      await s.ready;
      const late = await get(s.url, "/readyz");
      expect([late.status, late.json]).toEqual([200, { status: "ready" }]);
      expect(model.adapterNames).toEqual(["heads"]);
      expect(model.activeAdapter).toBeNull();
      const r = await post(s.url, payload(TEXTS[0], { adapter: "heads" }));
      expect(r.text).toBe(JSON.stringify({ result: await local.extract(TEXTS[0], SCHEMA, { ...opts, adapter: "heads_r4" }) }));
      await s.drain();
    } finally {
      release();
      await model.dispose();
      await new Promise((r) => files.close(r));
    }
    const failing = await startServer({ model: DIR, port: 0, log: null, adapters: { gone: `${FIXTURES_DIR}lora/adapters/${CK}/no-such-adapter` } });
    await expect(failing.ready).rejects.toThrow(/no-such-adapter: adapter folder not found/);
    const r = await get(failing.url, "/readyz");
    expect([r.status, r.json]).toEqual([503, { status: "loading" }]);
    expect((await post(failing.url, payload("x"))).status).toBe(503);
    await failing.drain();
    await expect(startServer({ model: DIR, port: 0, log: null, adapters: { "bad name": adapterDir("enc_r4") } })).rejects.toThrow(/adapter names are/);
  });
});

describe("serve: long documents", () => {
  let local: GLiNER2;
  let server: GlinerServer;
  const logs: Record<string, unknown>[] = [];
  const DOCS = [syntheticDocument(260, 3), syntheticDocument(90, 7), "Tina Kotek visited Portland."];

  beforeAll(async () => {
    local = await GLiNER2.fromPretrained(DIR, { offThread: false });
    await local.loadAdapter(adapterDir("mix_r2"), { name: "mix", activate: false });
    server = await startServer({ model: DIR, port: 0, log: (e) => logs.push(e), adapters: { mix: adapterDir("mix_r2") } });
    await server.ready;
  });
  afterAll(async () => {
    await server?.drain();
  });

  it("answers long-document requests exactly as batchExtractLong, with the windows asked for", async () => {
    const cases: [Record<string, unknown>, Record<string, unknown>][] = [
      [{ long: true }, {}],
      [{ chunk_size: 48, chunk_overlap: 12 }, { chunkSize: 48, chunkOverlap: 12 }],
      [{ long: true, chunk_size: 100, include_spans: true }, { chunkSize: 100, includeSpans: true }],
      [{ chunk_size: 32, chunk_overlap: 0, include_confidence: false, adapter: "mix" }, { chunkSize: 32, chunkOverlap: 0, includeConfidence: false, adapter: "mix" }],
    ];
    const seen = new Set<string>();
    for (const [body, o] of cases) {
      const want = await local.batchExtractLong(DOCS, SCHEMA, { threshold: 0.3, includeConfidence: true, adapter: null, ...o });
      const r = await post(server.url, payload(DOCS, body));
      expect(r.status, r.text).toBe(200);
      expect(r.text, JSON.stringify(body)).toBe(JSON.stringify({ result: want }));
      const single = await post(server.url, payload(DOCS[0], body));
      expect(single.text).toBe(JSON.stringify({ result: want[0] }));
      seen.add(JSON.stringify(want[0]));
    }
    // Windows and adapter matter for this document (the cases are not all the same answer).
    expect(seen.size).toBeGreaterThanOrEqual(3);
    // The long answer is the merged one, not plain extraction of the whole text.
    const plain = await local.extract(DOCS[0], SCHEMA, { threshold: 0.3, includeConfidence: true });
    const merged = (await post(server.url, payload(DOCS[0], { chunk_size: 48, chunk_overlap: 12 }))).text;
    expect(merged).not.toBe(JSON.stringify({ result: plain }));
    // An entity task through the long route.
    const ents = await post(server.url, payload(DOCS, { chunk_size: 64, chunk_overlap: 16, include_spans: true }, ["person", "city"], "extract_entities"));
    expect(ents.text).toBe(JSON.stringify({ result: await local.batchExtractEntitiesLong(DOCS, ["person", "city"], { threshold: 0.3, includeConfidence: true, includeSpans: true, chunkSize: 64, chunkOverlap: 16 }) }));
    // Request logs say which adapter and windows a request used.
    expect(logs.filter((l) => l.msg === "request" && l.adapter === "mix")).toContainEqual(expect.objectContaining({ status: 200, texts: 3, long: { chunkSize: 32, chunkOverlap: 0 } }));
    expect(logs).toContainEqual(expect.objectContaining({ msg: "adapter loaded", adapter: "mix" }));
    const metrics = (await get(server.url, "/metrics")).text;
    expect(Number(/gliner2_long_requests_total (\d+)/.exec(metrics)?.[1])).toBe(10);
    expect(Number(/gliner2_long_documents_total (\d+)/.exec(metrics)?.[1])).toBe(4 * 4 + 1 + 3);
  });

  it("keeps concurrent long and plain requests (and different windows) apart", async () => {
    const bodies = [{}, { long: true }, { chunk_size: 48, chunk_overlap: 12 }, { chunk_size: 48, chunk_overlap: 8 }, { long: true, adapter: "mix" }, { adapter: "mix" }];
    const jobs = Array.from({ length: 18 }, (_, i) => ({ body: bodies[i % bodies.length], doc: DOCS[i % 3] }));
    const replies = await Promise.all(jobs.map((j) => post(server.url, payload(j.doc, j.body))));
    for (let i = 0; i < jobs.length; i++) {
      const b = jobs[i].body as { long?: boolean; chunk_size?: number; chunk_overlap?: number; adapter?: string };
      const o = { threshold: 0.3, includeConfidence: true, adapter: b.adapter ?? null };
      const want =
        b.long || b.chunk_size
          ? await local.extractLong(jobs[i].doc, SCHEMA, { ...o, chunkSize: b.chunk_size, chunkOverlap: b.chunk_overlap })
          : await local.extract(jobs[i].doc, SCHEMA, o);
      expect(replies[i].text, `request ${i}: ${JSON.stringify(b)}`).toBe(JSON.stringify({ result: want }));
    }
  });

  it("refuses bad long-document options with 422 naming the field", async () => {
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ long: "yes" }, /^long: must be a boolean/],
      [{ chunk_size: 0 }, /^chunk_size: must be an integer ≥ 1 \(words\), got 0/],
      [{ chunk_size: 2.5 }, /^chunk_size: must be an integer/],
      [{ chunk_size: "100" }, /^chunk_size: must be an integer/],
      [{ long: true, chunk_overlap: -1 }, /^chunk_overlap: must be an integer ≥ 0/],
      [{ chunk_size: 10, chunk_overlap: 10 }, /^chunk_overlap: must be smaller than chunk_size \(10\), got 10$/],
      [{ chunk_size: 32 }, /^chunk_overlap: must be smaller than chunk_size \(32\), got 64 \(the default\)/],
      [{ long: false, chunk_size: 100 }, /^chunk_size: applies to long documents only, but "long" is false/],
      [{ long: true, format_results: false }, /^format_results: .*not supported with long documents/],
      [{ long: true, chunk: 100 }, /^unknown field "chunk" \(this server accepts: .*adapter, long, chunk_size, chunk_overlap\)/],
    ];
    for (const [extra, detail] of cases) {
      const r = await post(server.url, payload(DOCS[2], extra));
      expect(r.status, JSON.stringify(extra)).toBe(422);
      expect(r.json.detail).toMatch(detail);
    }
    // Windows too long for the model name the window size (the library's index is a window's, not a text's).
    const huge = await post(server.url, payload(["short one", "word ".repeat(5000)], { chunk_size: 5000, chunk_overlap: 0 }));
    expect(huge.status).toBe(422);
    expect(huge.json.detail).toMatch(/^chunk_size: a window of 5000 words is \d+ tokens with the prompt, over this model's 4096-token limit; use a smaller chunk_size$/);
    // long: false is an ordinary request.
    expect((await post(server.url, payload(DOCS[2], { long: false }))).text).toBe(JSON.stringify({ result: await local.extract(DOCS[2], SCHEMA, { threshold: 0.3, includeConfidence: true }) }));
  });
});

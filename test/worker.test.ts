/**
 * The off-thread model (src/worker/): `fromPretrained` loads the checkpoint in a worker thread by default and
 * returns a GLiNER2 whose async methods are forwarded there. Results must be byte-identical to the in-thread
 * model, typed errors must arrive as the same class with the same fields, loading works from a folder, a hub
 * repo id (with progress callbacks crossing back) and in-memory files, and the caller's event loop keeps
 * running its timers while the worker encodes.
 */
import { readFileSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Gliner2Error, InputError, SchemaError } from "../src/errors.js";
import { GLiNER2 } from "../src/gliner2.js";
import { checkpointDir } from "./helpers/golden.js";
import { startHubServer } from "./helpers/hubServer.js";

const DIR = checkpointDir("tiny-count_lstm_v2");
const TEXT = "Maria Lopez moved from Lisbon to Berlin in 2019 to join Siemens as a senior engineer; she earns 90k EUR.";

/** Settle a promise into its value or its error (for comparing both sides' outcomes). */
async function outcome(p: Promise<unknown>): Promise<{ ok: unknown } | { err: unknown }> {
  try {
    return { ok: await p };
  } catch (e) {
    return { err: e };
  }
}

function errorShape(e: unknown): Record<string, unknown> {
  const err = e as Error & Record<string, unknown>;
  return { ctor: err.constructor.name, name: err.name, message: err.message, fields: { ...err } };
}

describe("off-thread GLiNER2", () => {
  let remote: GLiNER2;
  let local: GLiNER2;

  beforeAll(async () => {
    expect(process.env.GLINER2_WORKER_ENTRY).toMatch(/worker\.js$/);
    [remote, local] = await Promise.all([GLiNER2.fromPretrained(DIR), GLiNER2.fromPretrained(DIR, { offThread: false })]);
  });
  afterAll(async () => {
    await remote?.dispose();
  });

  it("is the default, and is still a GLiNER2", () => {
    expect((remote as unknown as { offThread?: boolean }).offThread).toBe(true);
    expect((local as unknown as { offThread?: boolean }).offThread).toBeUndefined();
    expect(remote).toBeInstanceOf(GLiNER2);
    expect(remote.maxTokens).toBe(local.maxTokens);
    // Sync helpers run on the caller's side.
    expect(remote.createSchema().entities(["a"]).build()).toEqual(local.createSchema().entities(["a"]).build());
    expect(() => remote.model).toThrow(/worker thread.*offThread: false/);
  });

  it("gives byte-identical results for every public method", async () => {
    const builder = () => local.createSchema().entities({ person: "a human", city: "" }).classification("topic", ["work", "travel"]).structure("job").field("company", { dtype: "str" }).field("salary");
    const calls: [string, unknown[]][] = [
      ["extractEntities", [TEXT, ["person", "city", "company"], { includeConfidence: true, includeSpans: true, threshold: 0.2 }]],
      ["classifyText", [TEXT, { topic: ["work", "travel", "food"], mood: { labels: ["happy", "sad"], multi_label: true } }, { includeConfidence: true }]],
      ["extractJson", [TEXT, { job: ["company::str", "salary", "city::[Lisbon|Berlin]::str"] }, { includeSpans: true, threshold: 0.1 }]],
      ["extractRelations", [TEXT, ["works_for", "lives_in"], { formatResults: false, threshold: 0.1 }]],
      ["extract", [TEXT, builder(), { includeConfidence: true, includeSpans: true, threshold: 0.1 }]],
      ["extract", [TEXT, { entities: ["person"], relations: ["works_for"], structures: { job: ["company"] } }]],
      ["batchExtractEntities", [[TEXT, "Paris is in France.", ""], ["person", "city", "country"], { batchSize: 2, includeConfidence: true }]],
      ["batchClassifyText", [[TEXT, "I love pizza."], { topic: ["work", "food"] }]],
      ["batchExtractJson", [[TEXT, "Bob works at IBM."], { job: ["company", "person"] }, { threshold: 0.05 }]],
      ["batchExtractRelations", [[TEXT, "Bob works at IBM."], ["works_for"], { includeSpans: true, threshold: 0.05 }]],
      ["batchExtract", [[TEXT, "Bob works at IBM."], [builder(), { entities: ["company"] }], { includeConfidence: true }]],
    ];
    let nonEmpty = 0;
    for (const [method, args] of calls) {
      const call = (m: GLiNER2) => (m as unknown as Record<string, (...a: unknown[]) => Promise<unknown>>)[method](...args);
      const [r, l] = await Promise.all([call(remote), call(local)]);
      expect(JSON.stringify(r), method).toBe(JSON.stringify(l));
      if (JSON.stringify(l).match(/"(text|label|confidence)"/)) nonEmpty++;
    }
    expect(nonEmpty).toBeGreaterThan(5);
  });

  it("loads, selects, merges and unloads LoRA adapters through the proxy, with the same results and state as in-thread", async () => {
    const ad = (name: string) => `${DIR.replace(/tiny-count_lstm_v2\/?$/, "")}lora/adapters/tiny-count_lstm_v2/${name}`;
    const [r, l] = await Promise.all([GLiNER2.fromPretrained(DIR), GLiNER2.fromPretrained(DIR, { offThread: false })]);
    try {
      const state = (m: GLiNER2) => ({ has: m.hasAdapter, active: m.activeAdapter, names: m.adapterNames, config: m.adapterConfig });
      const run = (m: GLiNER2, adapter?: string | null) => m.extractEntities(TEXT, ["person", "city"], { includeConfidence: true, threshold: 0.1, adapter });
      for (const m of [r, l]) {
        expect(await m.loadAdapter(ad("enc_r4"))).toBe(m); // returns the object the caller holds
        await m.loadAdapter(ad("mix_r2"), { name: "mix", activate: false });
      }
      expect(state(r)).toEqual(state(l));
      expect(state(r)).toMatchObject({ has: true, active: "default", names: ["default", "mix"] });
      expect(await run(r)).toEqual(await run(l));
      expect(await run(r, "mix")).toEqual(await run(l, "mix"));
      expect(await run(r, null)).toEqual(await run(l, null));
      // Sync methods check against the mirrored state and throw the in-thread error.
      expect(() => r.setActiveAdapter("nope")).toThrow(InputError);
      r.setActiveAdapter("mix");
      l.setActiveAdapter("mix");
      expect(state(r)).toEqual(state(l));
      expect(await run(r)).toEqual(await run(l));
      r.unloadAdapter("mix");
      l.unloadAdapter("mix");
      expect(state(r)).toEqual(state(l));
      expect(state(r)).toMatchObject({ has: false, active: null, names: ["default"] });
      for (const m of [r, l]) await m.mergeAdapter("default");
      expect(state(r)).toEqual(state(l));
      expect(await run(r)).toEqual(await run(l));
    } finally {
      await r.dispose();
    }
  });

  it("serves concurrent calls and routes each result to its caller", async () => {
    const texts = Array.from({ length: 12 }, (_, i) => `${["Anna", "Bob", "Chen"][i % 3]} flew to ${["Rome", "Oslo", "Lima", "Kyiv"][i % 4]} on day ${i}.`);
    const remoteAll = await Promise.all(texts.map((t) => remote.extractEntities(t, ["person", "city"], { includeSpans: true, threshold: 0.1 })));
    const localAll = [];
    for (const t of texts) localAll.push(await local.extractEntities(t, ["person", "city"], { includeSpans: true, threshold: 0.1 }));
    expect(JSON.stringify(remoteAll)).toBe(JSON.stringify(localAll));
  });

  it("rebuilds typed errors with their class and fields", async () => {
    const cases: ((m: GLiNER2) => Promise<unknown>)[] = [
      (m) => m.extractEntities(42 as never, ["person"]),
      (m) => m.extractEntities(TEXT, ["person"], { threshold: 2 }),
      (m) => m.classifyText(TEXT, { sentiment: [] }),
      (m) => m.extractJson(TEXT, { job: [{ name: "x", dtype: "bogus" } as never] }),
      (m) => m.batchExtract([TEXT, TEXT], [{ entities: ["a"] }]),
      (m) => m.extract(TEXT, { entities: ["a"], nonsense: 1 } as never),
    ];
    for (const c of cases) {
      const [r, l] = await Promise.all([outcome(c(remote)), outcome(c(local))]);
      expect("err" in l, c.toString()).toBe(true);
      expect("err" in r).toBe(true);
      const re = (r as { err: unknown }).err;
      const le = (l as { err: unknown }).err;
      expect(errorShape(re)).toEqual(errorShape(le));
      expect(re).toBeInstanceOf(Gliner2Error);
      expect(Object.getPrototypeOf(re)).toBe(Object.getPrototypeOf(le));
    }
    const e = (await outcome(remote.classifyText(TEXT, { sentiment: [] }))) as { err: SchemaError };
    expect(e.err).toBeInstanceOf(SchemaError);
    expect(e.err.path).toBe("classifications.sentiment.labels");
    expect(e.err.stack).toContain("SchemaError");
  });

  it("reports load errors from the worker as the in-thread load does", async () => {
    const missing = join(tmpdir(), "gliner2-no-such-checkpoint");
    const [r, l] = await Promise.all([outcome(GLiNER2.fromPretrained(missing)), outcome(GLiNER2.fromPretrained(missing, { offThread: false }))]);
    expect((r as { err: unknown }).err).toBeInstanceOf(InputError);
    expect(errorShape((r as { err: unknown }).err)).toEqual(errorShape((l as { err: unknown }).err));
    await expect(GLiNER2.fromPretrained(DIR, { offThread: "sometimes" as never })).rejects.toThrow(/offThread: must be true, false or "auto"/);
    await expect(GLiNER2.fromPretrained(DIR, { threads: 0 })).rejects.toBeInstanceOf(InputError);
  });

  it("loads from in-memory files, copying or transferring the weights", async () => {
    const files = {
      config: readFileSync(join(DIR, "config.json"), "utf8"),
      encoderConfig: readFileSync(join(DIR, "encoder_config", "config.json"), "utf8"),
      tokenizer: readFileSync(join(DIR, "tokenizer.json"), "utf8"),
      weights: new Uint8Array(readFileSync(join(DIR, "model.safetensors"))),
    };
    const copied = await GLiNER2.fromPretrained(files);
    expect(files.weights.byteLength).toBeGreaterThan(0); // still ours
    const moved = await GLiNER2.fromPretrained({ ...files, weights: files.weights.slice() }, { transferWeights: true });
    const expected = JSON.stringify(await local.extractEntities(TEXT, ["person", "city"], { includeConfidence: true }));
    for (const m of [copied, moved]) {
      expect((m as unknown as { offThread?: boolean }).offThread).toBe(true);
      expect(JSON.stringify(await m.extractEntities(TEXT, ["person", "city"], { includeConfidence: true }))).toBe(expected);
      await m.dispose();
    }
    const transferred = new Uint8Array(readFileSync(join(DIR, "model.safetensors")));
    const m = await GLiNER2.fromPretrained({ ...files, weights: transferred }, { transferWeights: true });
    expect(transferred.byteLength).toBe(0); // detached: moved, not copied
    await m.dispose();
  });

  it("downloads a hub repo in the worker, with progress callbacks crossing back", async () => {
    const hub = await startHubServer();
    const cache = mkdtempSync(join(tmpdir(), "gliner2-worker-cache-"));
    try {
      const progress: string[] = [];
      const m = await GLiNER2.fromPretrained(hub.repo, { endpoint: hub.endpoint, cacheDir: cache, onProgress: (p) => progress.push(p.file) });
      expect((m as unknown as { offThread?: boolean }).offThread).toBe(true);
      expect(progress).toContain("model.safetensors");
      expect(JSON.stringify(await m.extractEntities(TEXT, ["person"]))).toBe(JSON.stringify(await local.extractEntities(TEXT, ["person"])));
      await m.dispose();
    } finally {
      await hub.close();
      rmSync(cache, { recursive: true, force: true });
    }
  });

  it("runs the linear-layer thread pool inside the worker with the same results", async () => {
    const m = await GLiNER2.fromPretrained(DIR, { threads: 2 });
    const schema = { entities: ["person", "city"], classifications: { topic: { labels: ["work", "travel"] } }, relations: ["works_for"] };
    expect(JSON.stringify(await m.extract(TEXT, schema, { includeConfidence: true }))).toBe(JSON.stringify(await local.extract(TEXT, schema, { includeConfidence: true })));
    await m.dispose();
  });

  it("a custom fetch keeps the load in this thread (auto) or is refused (offThread: true)", async () => {
    const hub = await startHubServer();
    const cache = mkdtempSync(join(tmpdir(), "gliner2-worker-fetch-"));
    try {
      let calls = 0;
      const counting: typeof fetch = (input, init) => {
        calls++;
        return fetch(input, init);
      };
      const m = await GLiNER2.fromPretrained(hub.repo, { endpoint: hub.endpoint, cacheDir: cache, fetch: counting });
      expect((m as unknown as { offThread?: boolean }).offThread).toBeUndefined();
      expect(calls).toBeGreaterThan(0);
      await expect(GLiNER2.fromPretrained(hub.repo, { endpoint: hub.endpoint, cacheDir: cache, fetch: counting, offThread: true })).rejects.toThrow(/custom fetch/);
    } finally {
      await hub.close();
      rmSync(cache, { recursive: true, force: true });
    }
  });

  it("after dispose, calls fail with a clear error", async () => {
    const m = await GLiNER2.fromPretrained(DIR);
    await m.dispose();
    await expect(m.extractEntities(TEXT, ["person"])).rejects.toThrow(/disposed/);
  });

});

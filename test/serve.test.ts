/**
 * `gliner2 serve` (src/serve/): the hosted-API protocol on a loopback port with the tiny checkpoint. Every task
 * form, single and batch, with and without confidences/spans/formatting, must answer `{"result": …}` byte for
 * byte equal to the library called directly; every error status is produced and checked; batching routes each
 * result to its request; SIGTERM drains. The built CLI is driven end to end as well.
 */
import { spawn } from "node:child_process";
import { request as httpRequest } from "node:http";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GLiNER2 } from "../src/gliner2.js";
import { keyMatcher, startServer, type GlinerServer } from "../src/serve/server.js";
import { checkpointDir } from "./helpers/golden.js";
import { startHubServer } from "./helpers/hubServer.js";
import { buildInto, repoRoot } from "./runtimes/build.js";

const DIR = checkpointDir("tiny-count_lstm_v2");
const KEY = "test-key-0123";
const TEXTS = [
  "Maria Lopez moved from Lisbon to Berlin in 2019 to join Siemens as a senior engineer.",
  "Tim Cook announced the new iPhone at Apple Park in Cupertino on Tuesday.",
  "The pasta was cold and the waiter ignored us, never again.",
  "",
];

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  json: any; // eslint-disable-line @typescript-eslint/no-explicit-any
}

/** One HTTP request with Node's client (fetch hides some headers and refuses some methods). */
function call(url: string, opts: { method?: string; path?: string; body?: string | Buffer; headers?: Record<string, string> } = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const u = new URL(opts.path ?? "/gliner-2", url);
    const req = httpRequest(u, { method: opts.method ?? "POST", headers: { "Content-Type": "application/json", ...opts.headers } }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c) => chunks.push(c));
      res.on("end", () => {
        const text = Buffer.concat(chunks).toString("utf8");
        let json: unknown = undefined;
        try {
          json = JSON.parse(text);
        } catch {
          // not JSON (metrics)
        }
        resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json });
      });
    });
    req.on("error", reject);
    if (opts.body !== undefined) req.write(opts.body);
    req.end();
  });
}

const api = (url: string, body: unknown, key: string | null = KEY, extra: Record<string, string> = {}) =>
  call(url, { body: JSON.stringify(body), headers: { ...(key === null ? {} : { "X-API-Key": key }), ...extra } });

/** The body the official client sends (every field present). */
function payload(task: string, text: string | string[], schema: unknown, o: { threshold?: number; conf?: boolean; spans?: boolean; format?: boolean } = {}) {
  return { task, text, schema, threshold: o.threshold ?? 0.5, include_confidence: o.conf ?? false, include_spans: o.spans ?? false, format_results: o.format ?? true };
}

describe("gliner2 serve", () => {
  let local: GLiNER2;
  let server: GlinerServer;
  const logs: Record<string, unknown>[] = [];

  beforeAll(async () => {
    local = await GLiNER2.fromPretrained(DIR, { offThread: false });
    server = await startServer({ model: DIR, port: 0, apiKeys: [KEY, "second-key"], maxBody: 64 * 1024, log: (e) => logs.push(e) });
    await server.ready;
  });
  afterAll(async () => {
    await server?.drain();
  });

  /** What the library gives for the same request (the classify_text task is named "classification"). */
  async function expected(task: string, texts: string[], schema: any, o: { threshold?: number; conf?: boolean; spans?: boolean; format?: boolean }) {
    const opts = { threshold: o.threshold ?? 0.5, includeConfidence: o.conf ?? false, includeSpans: o.spans ?? false, formatResults: o.format ?? true };
    switch (task) {
      case "extract_entities":
        return local.batchExtractEntities(texts, schema, opts);
      case "classify_text":
        return local.batchClassifyText(texts, { classification: schema.categories }, opts);
      case "extract_json":
        return local.batchExtractJson(texts, schema, opts);
      default:
        return local.batchExtract(texts, schema, opts);
    }
  }

  const CASES: [string, unknown][] = [
    ["extract_entities", ["person", "company", "city", "product"]],
    ["classify_text", { categories: ["work", "tech", "food"] }],
    ["extract_json", { job: ["company::str", "role", "city::[Lisbon|Berlin|Cupertino]::str"] }],
    [
      "schema",
      {
        entities: ["person", "company"],
        entity_dtype: "list",
        classifications: { sentiment: { labels: ["positive", "negative"], multi_label: false, cls_threshold: 0.5 } },
        structures: { event: ["who", "where::str"] },
        relations: ["works_for"],
      },
    ],
  ];

  it("answers every task form, single and batch, exactly as the library", async () => {
    let nonTrivial = 0;
    for (const [task, schema] of CASES) {
      for (const o of [{}, { conf: true }, { spans: true, threshold: 0.2 }, { conf: true, spans: true, threshold: 0.1 }, { format: false, threshold: 0.3 }]) {
        const batch = await api(server.url, payload(task, TEXTS, schema, o));
        expect(batch.status, batch.text).toBe(200);
        const want = await expected(task, TEXTS, schema, o);
        expect(batch.text, `${task} batch ${JSON.stringify(o)}`).toBe(JSON.stringify({ result: want }));
        const single = await api(server.url, payload(task, TEXTS[1], schema, o));
        expect(single.status).toBe(200);
        expect(single.text, `${task} single ${JSON.stringify(o)}`).toBe(JSON.stringify({ result: want[1] }));
        if (/"(text|label|confidence)"|"[a-z]+":"[a-z]/.test(single.text)) nonTrivial++;
      }
    }
    expect(nonTrivial).toBeGreaterThan(8);
    // The classify_text result is keyed "classification", which the official client re-keys to its task name.
    const c = await api(server.url, payload("classify_text", TEXTS[0], { categories: ["work", "food"] }));
    expect(Object.keys(c.json.result)).toEqual(["classification"]);
    // An empty batch is an empty list.
    expect((await api(server.url, payload("extract_entities", [], ["person"]))).text).toBe('{"result":[]}');
  });

  it("batches concurrent requests and routes every result back to its request", async () => {
    const before = await call(server.url, { method: "GET", path: "/metrics" });
    const batchesBefore = Number(/gliner2_batch_size_count (\d+)/.exec(before.text)![1]);
    const jobs = Array.from({ length: 24 }, (_, i) => {
      const [task, schema] = CASES[i % CASES.length];
      const o = [{}, { conf: true }, { spans: true, conf: true }][i % 3];
      const text = `${TEXTS[i % 3]} Ref ${i}.`;
      return { task, schema, o, text };
    });
    const replies = await Promise.all(jobs.map((j) => api(server.url, payload(j.task, j.text, j.schema, j.o))));
    for (let i = 0; i < jobs.length; i++) {
      const j = jobs[i];
      expect(replies[i].status).toBe(200);
      expect(replies[i].text).toBe(JSON.stringify({ result: (await expected(j.task, [j.text], j.schema, j.o))[0] }));
    }
    const after = await call(server.url, { method: "GET", path: "/metrics" });
    const batches = Number(/gliner2_batch_size_count (\d+)/.exec(after.text)![1]) - batchesBefore;
    // 24 requests in fewer model calls: requests with the same options were combined.
    expect(batches).toBeGreaterThan(0);
    expect(batches).toBeLessThan(24);
  });

  it("checks the API key, in constant time, against every configured key", async () => {
    const missing = await api(server.url, payload("extract_entities", "x", ["a"]), null);
    expect(missing.status).toBe(401);
    expect(missing.json).toEqual({ detail: "Invalid or missing API key" });
    expect((await api(server.url, payload("extract_entities", "x", ["a"]), "wrong")).status).toBe(401);
    expect((await api(server.url, payload("extract_entities", "x", ["a"]), KEY + "x")).status).toBe(401);
    expect((await api(server.url, payload("extract_entities", "x", ["a"]), "second-key")).status).toBe(200);
    const crypto = await import("node:crypto");
    const m = keyMatcher(crypto, ["a", "bb", "a-much-longer-key"]);
    expect([m("a"), m("bb"), m("a-much-longer-key"), m("b"), m(""), m(undefined), m("a-much-longer-kez")]).toEqual([true, true, true, false, false, false, false]);
  });

  it("answers 400, 404, 405, 413 and 422 with a detail", async () => {
    const bad = await call(server.url, { body: "{not json", headers: { "X-API-Key": KEY } });
    expect(bad.status).toBe(400);
    expect(bad.json.detail).toMatch(/not valid JSON/);
    const cases: [unknown, RegExp][] = [
      [[1, 2], /must be a JSON object/],
      [{ ...payload("extract_entities", "x", ["a"]), colour: "red" }, /unknown field "colour"/],
      [{ ...payload("extract_entities", "x", ["a"]), adapter: "legal" }, /^adapter: no adapter named "legal" is loaded on this server \(it was started without --adapter\)$/],
      [{ ...payload("extract_entities", "x", ["a"]), task: "summarize" }, /task: must be one of extract_entities, classify_text, extract_json, schema/],
      [{ task: "extract_entities", schema: ["a"] }, /text: field required/],
      [payload("extract_entities", ["ok", 3] as never, ["a"]), /text\[1\]: must be a string/],
      [payload("extract_entities", "x", null), /schema: field required/],
      [{ ...payload("extract_entities", "x", ["a"]), threshold: 7 }, /threshold: must be a number in \[0, 1\]/],
      [{ ...payload("extract_entities", "x", ["a"]), include_spans: "yes" }, /include_spans: must be a boolean/],
      [payload("classify_text", "x", ["a", "b"]), /classify_text needs \{"categories"/],
      [payload("classify_text", "x", { categories: [] }), /^schema\.categories: must list at least one label/],
      [payload("classify_text", "x", { categories: ["a"], colour: 1 }), /unknown key "colour"/],
      [payload("extract_json", "x", { s: [{ name: "f", dtype: "bogus" }] }), /structures\.s/],
      [payload("schema", "x", { entities: ["a"], nonsense: true }), /nonsense/],
      [payload("extract_entities", ["fine", "word ".repeat(5000)], ["a"]), /^text\[1\]: .*over the 4096-token limit/],
      [payload("extract_entities", "word ".repeat(5000), ["a"]), /^text: .*over the 4096-token limit/],
    ];
    for (const [body, detail] of cases) {
      const r = await api(server.url, body);
      expect(r.status, JSON.stringify(body).slice(0, 80)).toBe(422);
      expect(r.json.detail).toMatch(detail);
    }
    const big = await call(server.url, { body: JSON.stringify(payload("extract_entities", "x".repeat(100 * 1024), ["a"])), headers: { "X-API-Key": KEY } });
    expect(big.status).toBe(413);
    expect(big.json.detail).toMatch(/over the 65536-byte limit/);
    const notFound = await call(server.url, { path: "/v1/nothing", body: "{}" });
    expect(notFound.status).toBe(404);
    expect(notFound.json).toEqual({ detail: "Not Found" });
    const wrongMethod = await call(server.url, { method: "GET" });
    expect(wrongMethod.status).toBe(405);
    expect(wrongMethod.headers.allow).toBe("POST");
    // Still serving after all that.
    expect((await api(server.url, payload("extract_entities", TEXTS[0], ["person"]))).status).toBe(200);
  });

  it("serves health, readiness, metrics, request ids, structured logs; CORS stays off", async () => {
    expect((await call(server.url, { method: "GET", path: "/healthz" })).json).toEqual({ status: "ok" });
    const ready = await call(server.url, { method: "GET", path: "/readyz" });
    expect([ready.status, ready.json]).toEqual([200, { status: "ready" }]);
    const r = await api(server.url, payload("extract_entities", TEXTS[0], ["person"]), KEY, { "X-Request-Id": "abc-123", Origin: "http://evil.example" });
    expect(r.headers["x-request-id"]).toBe("abc-123");
    expect(r.headers["access-control-allow-origin"]).toBeUndefined();
    expect((await call(server.url, { method: "OPTIONS" })).status).toBe(405);
    const own = await api(server.url, payload("extract_entities", TEXTS[0], ["person"]), KEY, { "X-Request-Id": "bad id with spaces" });
    expect(own.headers["x-request-id"]).toMatch(/^[0-9a-f-]{36}$/);
    const line = logs.find((l) => l.id === "abc-123")!;
    expect(line).toMatchObject({ msg: "request", level: "info", method: "POST", path: "/gliner-2", status: 200, texts: 1 });
    expect(typeof line.ms).toBe("number");
    expect(logs.some((l) => l.status === 401 && l.level === "warn")).toBe(true);
    const metrics = await call(server.url, { method: "GET", path: "/metrics" });
    expect(metrics.headers["content-type"]).toMatch(/^text\/plain; version=0\.0\.4/);
    for (const name of ["gliner2_requests_total", "gliner2_errors_total", "gliner2_queue_depth", "gliner2_batch_size_bucket", "gliner2_request_duration_seconds_bucket", "gliner2_tokens_total", "gliner2_ready 1"]) {
      expect(metrics.text).toContain(name);
    }
    expect(Number(/gliner2_requests_total\{status="401"\} (\d+)/.exec(metrics.text)?.[1])).toBeGreaterThanOrEqual(3);
    expect(Number(/gliner2_errors_total\{kind="invalid"\} (\d+)/.exec(metrics.text)?.[1])).toBeGreaterThanOrEqual(16);
    // Every line is a comment or `name{labels} value`.
    for (const l of metrics.text.trimEnd().split("\n")) expect(l).toMatch(/^(# (HELP|TYPE) \w+ .+|\w+(\{[^}]*\})? -?[\d.e+-]+)$/);
  });

  it("answers 429 with Retry-After when the queue is full, and 503 when a request times out", async () => {
    const model = await GLiNER2.fromPretrained(DIR);
    const long = Array.from({ length: 300 }, (_, i) => TEXTS[i % 3].split(" ")[i % 8]).join(" ");
    const tight = await startServer({ model, port: 0, maxBatch: 1, maxQueue: 1, log: null });
    const slow = await startServer({ model, port: 0, requestTimeoutMs: 1, log: null });
    try {
      await tight.ready;
      const replies = await Promise.all(Array.from({ length: 8 }, () => api(tight.url, payload("extract_entities", long, ["person"]), null)));
      const codes = replies.map((r) => r.status);
      expect(codes.filter((c) => c === 200).length).toBeGreaterThanOrEqual(2);
      const refused = replies.filter((r) => r.status === 429);
      expect(refused.length).toBeGreaterThan(0);
      expect(refused[0].headers["retry-after"]).toMatch(/^\d+$/);
      expect(refused[0].json.detail).toMatch(/at capacity/);
      await slow.ready;
      const t = await api(slow.url, payload("extract_entities", long, ["person"]), null);
      expect(t.status).toBe(503);
      expect(t.json.detail).toMatch(/did not finish within 1 ms/);
      expect(t.headers["retry-after"]).toBe("1");
    } finally {
      await Promise.all([tight.drain(), slow.drain()]);
      await model.dispose();
    }
  });

  it("answers 503 while the model loads and 500 when the model's thread is gone", async () => {
    const hub = await startHubServer();
    hub.setFaults({ kind: "stall", file: "model.safetensors", at: 100 });
    const { mkdtempSync, rmSync } = await import("node:fs");
    const { tmpdir } = await import("node:os");
    const cache = mkdtempSync(join(tmpdir(), "gliner2-serve-cache-"));
    const loading = await startServer({ model: hub.repo, load: { endpoint: hub.endpoint, cacheDir: cache, timeoutMs: 1500 }, port: 0, log: null });
    try {
      const r = await api(loading.url, payload("extract_entities", "x", ["a"]), null);
      expect(r.status).toBe(503);
      expect(r.json.detail).toMatch(/still loading/);
      expect(r.headers["retry-after"]).toBe("1");
      const rz = await call(loading.url, { method: "GET", path: "/readyz" });
      expect([rz.status, rz.json]).toEqual([503, { status: "loading" }]);
      await expect(loading.ready).rejects.toThrow();
    } finally {
      await loading.drain();
      await hub.close();
      rmSync(cache, { recursive: true, force: true });
    }

    const model = await GLiNER2.fromPretrained(DIR);
    const broken = await startServer({ model, port: 0, log: null });
    try {
      await broken.ready;
      expect((await api(broken.url, payload("extract_entities", "x", ["a"]), null)).status).toBe(200);
      await model.dispose();
      const r = await api(broken.url, payload("extract_entities", "x", ["a"]), null);
      expect(r.status).toBe(500);
      expect(r.json.detail).toMatch(/^internal server error \(request id [0-9a-f-]+\)$/);
    } finally {
      await broken.drain();
    }
  });

  it("refuses a non-loopback address without a key unless told otherwise", async () => {
    await expect(startServer({ model: DIR, host: "0.0.0.0", port: 0, log: null })).rejects.toThrow(/refusing to serve on 0\.0\.0\.0 without an API key/);
    const open = await startServer({ model: local, host: "0.0.0.0", port: 0, insecureNoAuth: true, log: null });
    await open.drain();
    const keyed = await startServer({ model: local, host: "0.0.0.0", port: 0, apiKeys: ["k"], log: null });
    await keyed.drain();
  });

  it("drains: in-flight requests finish, then the port closes", async () => {
    const model = await GLiNER2.fromPretrained(DIR);
    const s = await startServer({ model, port: 0, log: null });
    await s.ready;
    const inflight = Array.from({ length: 6 }, (_, i) => api(s.url, payload("extract_entities", `${TEXTS[i % 3]} ${i}`, ["person"]), null));
    // Drain once all six arrived (not before: a connection the server never accepted is not "in flight").
    while (s.stats().activeRequests < 6) await new Promise((r) => setTimeout(r, 1));
    await s.drain();
    const replies = await Promise.all(inflight);
    expect(replies.map((r) => r.status)).toEqual([200, 200, 200, 200, 200, 200]);
    await expect(api(s.url, payload("extract_entities", "x", ["a"]), null)).rejects.toThrow(/ECONNREFUSED/);
    await model.dispose();
  });
});

describe("gliner2 serve (built CLI)", () => {
  let cli: string;
  beforeAll(() => {
    cli = join(buildInto("serve-cli", ["cli"]), "cli.js");
  }, 120_000);

  const run = (args: string[], env: Record<string, string> = {}) => {
    const child = spawn(process.execPath, [cli, "serve", ...args], { cwd: repoRoot, env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
    let stderr = "";
    child.stderr.on("data", (d) => (stderr += d));
    const exited = new Promise<number | null>((r) => child.on("exit", (code) => r(code)));
    const listening = new Promise<string>((resolve, reject) => {
      const onData = () => {
        const m = /"msg":"model ready"/.test(stderr) && /"url":"(http:[^"]+)"/.exec(stderr);
        if (m) resolve(m[1]);
      };
      child.stderr.on("data", onData);
      void exited.then((code) => reject(new Error(`serve exited (${code}): ${stderr}`)));
    });
    listening.catch(() => {}); // awaited only by the tests that expect the server to come up
    return { child, listening, exited, stderr: () => stderr };
  };

  it("serves, then drains on SIGTERM and exits 0 with in-flight requests answered", async () => {
    const p = run(["-m", DIR, "--port", "0"], { GLINER2_API_KEY: "env-key" });
    const url = await p.listening;
    expect((await api(url, payload("extract_entities", TEXTS[0], ["person"]), "nope")).status).toBe(401);
    const want = JSON.stringify({ result: await (await GLiNER2.fromPretrained(DIR, { offThread: false })).extractEntities(TEXTS[0], ["person", "city"], { includeConfidence: true }) });
    const inflight = Array.from({ length: 5 }, () => api(url, payload("extract_entities", TEXTS[0], ["person", "city"], { conf: true }), "env-key"));
    // SIGTERM once the five are inside the server (queued or in the model).
    for (;;) {
      const m = (await call(url, { method: "GET", path: "/metrics" })).text;
      const n = Number(/^gliner2_queue_depth (\d+)/m.exec(m)?.[1]) + Number(/^gliner2_inflight_texts (\d+)/m.exec(m)?.[1]);
      const done = Number(/gliner2_requests_total\{status="200"\} (\d+)/.exec(m)?.[1] ?? 0);
      if (n + done >= 5) break;
      await new Promise((r) => setTimeout(r, 1));
    }
    p.child.kill("SIGTERM");
    const replies = await Promise.all(inflight);
    for (const r of replies) expect(r.text).toBe(want);
    expect(await p.exited).toBe(0);
    expect(p.stderr()).toMatch(/"msg":"drained"/);
  });

  it("serves --adapter NAME=DIR per request; reports bad flags and adapters that cannot load as errors", async () => {
    const enc = join(repoRoot, "test/fixtures/lora/adapters/tiny-count_lstm_v2/enc_r4");
    const served = run(["-m", DIR, "--port", "0", "--adapter", `enc=${enc}`]);
    const url = await served.listening;
    expect(served.stderr()).toMatch(/"msg":"adapter loaded","adapter":"enc"/);
    const lib = await GLiNER2.fromPretrained(DIR, { offThread: false });
    await lib.loadAdapter(enc, { name: "enc", activate: false });
    const o = { includeConfidence: true };
    const withAdapter = await api(url, { ...payload("extract_entities", TEXTS[0], ["person", "city"], { conf: true }), adapter: "enc" }, null);
    expect(withAdapter.text).toBe(JSON.stringify({ result: await lib.extractEntities(TEXTS[0], ["person", "city"], { ...o, adapter: "enc" }) }));
    const base = await api(url, payload("extract_entities", TEXTS[0], ["person", "city"], { conf: true }), null);
    expect(base.text).toBe(JSON.stringify({ result: await lib.extractEntities(TEXTS[0], ["person", "city"], { ...o, adapter: null }) }));
    expect(base.text).not.toBe(withAdapter.text);
    served.child.kill("SIGTERM");
    expect(await served.exited).toBe(0);

    // The embedding table read from the checkpoint file: the same answers.
    const disk = run(["-m", DIR, "--port", "0", "--embeddings", "disk"]);
    const diskUrl = await disk.listening;
    expect((await api(diskUrl, payload("extract_entities", TEXTS[0], ["person", "city"], { conf: true }), null)).text).toBe(base.text);
    disk.child.kill("SIGTERM");
    expect(await disk.exited).toBe(0);

    const usage = run(["-m", DIR, "--max-batch", "0"]);
    expect(await usage.exited).toBe(2);
    const embeddings = run(["-m", DIR, "--embeddings", "mmap"]);
    expect(await embeddings.exited).toBe(2);
    expect(embeddings.stderr()).toMatch(/--embeddings must be memory or disk, got "mmap"/);
    expect(usage.stderr()).toMatch(/--max-batch must be an integer between 1 and 4096/);
    const twice = run(["-m", DIR, "--adapter", `a=${enc}`, "--adapter", "a=/tmp/x"]);
    expect(await twice.exited).toBe(2);
    expect(twice.stderr()).toMatch(/--adapter a is given twice/);
    const adapter = run(["-m", DIR, "--port", "0", "--adapter", "legal=/tmp/gliner2-no-such-adapter"]);
    expect(await adapter.exited).toBe(1);
    expect(adapter.stderr()).toMatch(/gliner2-no-such-adapter: adapter folder not found/);
    const open = run(["-m", DIR, "--host", "0.0.0.0", "--port", "0"]);
    expect(await open.exited).toBe(1);
    expect(open.stderr()).toMatch(/refusing to serve on 0\.0\.0\.0 without an API key/);
  });
});

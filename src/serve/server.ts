/**
 * `gliner2 serve` as a library: an HTTP server (Node's http module) speaking the official hosted GLiNER2 API,
 * with the model in a worker thread and requests batched dynamically.
 *
 *   POST {basePath}/gliner-2   the API (X-API-Key when keys are configured) → 200 {"result": …} | {"detail": …}
 *   GET  /healthz              200 while the process serves HTTP
 *   GET  /readyz               200 once the model is loaded; 503 while loading or draining
 *   GET  /metrics              Prometheus text format
 *
 * Status codes: 400 unparseable body, 401 bad or missing key, 404/405 unknown route or method, 413 body too
 * large, 422 invalid request (fields, schema, text over the token limit), 429 + Retry-After when the queue is
 * full, 503 + Retry-After while loading or when a request timed out, 500 on an internal failure. Every answer
 * carries X-Request-Id; one JSON log line per API request.
 *
 * Node built-ins are imported dynamically so the platform-neutral library bundle can export this.
 */
import type { IncomingMessage, Server, ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { checkAdapterName } from "../adapters/index.js";
import { Gliner2Error } from "../errors.js";
import { GLiNER2, type ExtractionResult, type LoadOptions } from "../gliner2.js";
import { countChunks } from "../long/index.js";
import { buildPrompt } from "../schema/prompt.js";
import { prepareText, splitWords } from "../text/words.js";
import { createBatcher, type BatchModel } from "./batcher.js";
import { createMetrics } from "./metrics.js";
import { HttpError, parseApiRequest, quote } from "./protocol.js";

export interface ServeOptions {
  /** A checkpoint folder, URL or hub repo id (loaded in a worker thread), or a model already loaded. */
  readonly model: string | GLiNER2;
  /** Extra load options (cache, revision, token, …) when `model` is a source. */
  readonly load?: LoadOptions;
  /** Address to bind (default 127.0.0.1). */
  readonly host?: string;
  /** Port (default 8080; 0 = any free port). */
  readonly port?: number;
  /** Accepted API keys; none → no authentication (only allowed on loopback unless `insecureNoAuth`). */
  readonly apiKeys?: readonly string[];
  /** Bind a non-loopback address without keys. */
  readonly insecureNoAuth?: boolean;
  /** Threads for the model's linear layers (default 1). */
  readonly threads?: number;
  /** Most texts per model call (default 16; 1 turns dynamic batching off). */
  readonly maxBatch?: number;
  /** Most padded tokens per combined call (default 8192). */
  readonly maxBatchTokens?: number;
  /** How long a request waits for companions (ms, default 2). */
  readonly batchWindowMs?: number;
  /** Most texts waiting; beyond → 429 (default 256). */
  readonly maxQueue?: number;
  /** Largest request body in bytes (default 1 MiB). */
  readonly maxBody?: number;
  /** Per-request limit from arrival to answer (ms, default 30000); beyond → 503. */
  readonly requestTimeoutMs?: number;
  /** Mount point of the API route (default "": POST /gliner-2). */
  readonly basePath?: string;
  /** CORS: the allowed origin ("*" or one origin). Off (no CORS headers) by default. */
  readonly corsOrigin?: string;
  /**
   * LoRA adapters loaded at start-up, by name (`--adapter name=dir`): a folder, URL or hub repo id each (hub
   * options from `load`). They are loaded inactive, so requests without `"adapter"` use the base model; a request
   * selects one with `"adapter": "name"`. /readyz answers 200 only once all are loaded; a failed load fails `ready`.
   */
  readonly adapters?: Readonly<Record<string, string>>;
  /** Structured log sink (one object per event); default: JSON lines on stderr. null = silent. */
  readonly log?: ((entry: Record<string, unknown>) => void) | null;
}

export interface GlinerServer {
  /** http://host:port */
  readonly url: string;
  readonly port: number;
  /** Resolves once the model is loaded (rejects if loading failed). */
  readonly ready: Promise<void>;
  /** Stop accepting, finish what is queued and running, release the model. */
  drain(): Promise<void>;
  /** Like drain (kept for symmetry with other servers). */
  close(): Promise<void>;
  /** API requests being handled, and texts waiting for / inside the model right now. */
  stats(): { activeRequests: number; queuedTexts: number; inflightTexts: number };
}

/** While draining, how long the server must see no request before it closes the connections left (ms). */
const DRAIN_QUIET_MS = 250;

const LOOPBACK = /^(127\.\d{1,3}\.\d{1,3}\.\d{1,3}|::1|localhost|::ffff:127\.\d{1,3}\.\d{1,3}\.\d{1,3})$/i;

export function isLoopback(host: string): boolean {
  return LOOPBACK.test(host.replace(/^\[|\]$/g, ""));
}

/** Compare a presented key with every configured key in time independent of where they differ. */
/** The part of node:crypto the key check uses (structural, so the published types need no Node types). */
export interface KeyCrypto {
  createHash(algorithm: "sha256"): { update(data: string, encoding: "utf8"): { digest(): Uint8Array } };
  timingSafeEqual(a: Uint8Array, b: Uint8Array): boolean;
}

export function keyMatcher(crypto: KeyCrypto, keys: readonly string[]): (presented: string | undefined) => boolean {
  // Fixed-length digests make timingSafeEqual applicable whatever the key lengths.
  const digests = keys.map((k) => crypto.createHash("sha256").update(k, "utf8").digest());
  return (presented) => {
    const d = crypto.createHash("sha256").update(presented ?? "", "utf8").digest();
    let ok = false;
    for (const k of digests) ok = crypto.timingSafeEqual(k, d) || ok; // no early exit
    return ok && presented !== undefined;
  };
}

function estimateTokens(text: string, promptTokens: number): number {
  // DeBERTa's sentencepiece gives ~1.3 subwords per word on English text; the prompt's words likewise.
  return Math.ceil((splitWords(prepareText(text)).length + promptTokens) * 1.3) + 2;
}

/** One window of `chunkSize` words, prompt included. */
function estimateWindowTokens(chunkSize: number, promptTokens: number): number {
  return Math.ceil((chunkSize + promptTokens) * 1.3) + 2;
}

/** All windows of a long document (overlaps and each window's prompt counted: what the encoder sees). */
function estimateLongTokens(text: string, promptTokens: number, w: { chunkSize: number; chunkOverlap: number }): number {
  const words = splitWords(text).length;
  const windows = countChunks(words, w);
  return Math.ceil((words + (windows - 1) * w.chunkOverlap + windows * promptTokens) * 1.3) + 2 * windows;
}

/** Validate numeric options up front, naming the option. */
function positiveInt(name: string, v: number | undefined, dflt: number, min = 1): number {
  if (v === undefined) return dflt;
  if (!Number.isInteger(v) || v < min) throw new Gliner2Error("SERVE", `${name} must be an integer ≥ ${min}, got ${quote(v)}`);
  return v;
}

export async function startServer(opts: ServeOptions): Promise<GlinerServer> {
  const host = opts.host ?? "127.0.0.1";
  const port = opts.port ?? 8080;
  const keys = (opts.apiKeys ?? []).filter((k) => k.length > 0);
  if (keys.length === 0 && !isLoopback(host) && !opts.insecureNoAuth) {
    throw new Gliner2Error("SERVE", `refusing to serve on ${host} without an API key: give --api-key/--api-keys-file, bind a loopback address, or pass --insecure-no-auth`);
  }
  const adapters = Object.entries(opts.adapters ?? {});
  for (const [name, source] of adapters) {
    try {
      checkAdapterName(name);
    } catch (e) {
      throw new Gliner2Error("SERVE", `adapters: ${quote(name)} is not a valid adapter name (${(e as Error).message.replace(/^name: /, "")})`);
    }
    if (typeof source !== "string" || source === "") throw new Gliner2Error("SERVE", `adapters.${name}: must be a folder, URL or hub repo id, got ${quote(source)}`);
  }
  const maxBatch = positiveInt("maxBatch", opts.maxBatch, 16);
  const maxQueue = positiveInt("maxQueue", opts.maxQueue, 256);
  const maxBody = positiveInt("maxBody", opts.maxBody, 1 << 20, 64);
  const timeoutMs = positiveInt("requestTimeoutMs", opts.requestTimeoutMs, 30_000);
  const windowMs = opts.batchWindowMs ?? 2;
  const maxBatchTokens = positiveInt("maxBatchTokens", opts.maxBatchTokens, 8192);
  const basePath = (opts.basePath ?? "").replace(/\/+$/, "");
  const apiPath = `${basePath}/gliner-2`;
  const crypto = await import("node:crypto");
  const http = await import("node:http");
  const checkKey = keys.length > 0 ? keyMatcher(crypto, keys) : null;
  // The server thread's own event-loop delay, reported (and reset) by /metrics: inference must never block it.
  const loopDelay = (await import("node:perf_hooks")).monitorEventLoopDelay({ resolution: 5 });
  loopDelay.enable();
  const log =
    opts.log === null
      ? () => {}
      : (opts.log ?? ((e: Record<string, unknown>) => process.stderr.write(`${JSON.stringify(e)}\n`)));
  const metrics = createMetrics();

  let model: GLiNER2 | null = null;
  let ownsModel = false;
  let draining = false;
  let activeRequests = 0;
  let requestsSeen = 0;
  let activeWaiters: (() => void)[] = [];

  const batcherRef: { current: ReturnType<typeof createBatcher> | null } = { current: null };
  const makeBatcher = (m: GLiNER2) =>
    createBatcher(m as unknown as BatchModel, { maxBatch, maxBatchTokens, windowMs, maxQueue, onBatch: (n, tok, s) => metrics.batch(n, tok, s) });

  const send = (res: ServerResponse, status: number, body: string, type: string, headers: Record<string, string> = {}) => {
    if (res.headersSent) return;
    const h: Record<string, string | number> = { "Content-Type": type, "Content-Length": Buffer.byteLength(body), ...headers };
    if (opts.corsOrigin) {
      h["Access-Control-Allow-Origin"] = opts.corsOrigin;
      h["Vary"] = "Origin";
    }
    if (draining) h["Connection"] = "close";
    res.writeHead(status, h);
    res.end(body);
  };
  const sendJson = (res: ServerResponse, status: number, value: unknown, headers: Record<string, string> = {}) => send(res, status, JSON.stringify(value), "application/json", headers);

  const readBody = (req: IncomingMessage): Promise<Buffer> =>
    new Promise((resolve, reject) => {
      const declared = Number(req.headers["content-length"]);
      if (Number.isFinite(declared) && declared > maxBody) {
        // Discard what the client still sends (so it reads our answer), then close the connection.
        req.resume();
        reject(new HttpError(413, "too_large", `request body is ${declared} bytes, over the ${maxBody}-byte limit`, { Connection: "close" }));
        return;
      }
      const chunks: Buffer[] = [];
      let size = 0;
      req.on("data", (c: Buffer) => {
        size += c.length;
        if (size > maxBody) {
          reject(new HttpError(413, "too_large", `request body is over the ${maxBody}-byte limit`, { Connection: "close" }));
          req.removeAllListeners("data");
          req.resume();
          return;
        }
        chunks.push(c);
      });
      req.on("end", () => resolve(Buffer.concat(chunks)));
      req.on("error", reject);
    });

  const handleApi = async (req: IncomingMessage, res: ServerResponse, rid: string, started: number): Promise<void> => {
    let texts = 0;
    let extra: Record<string, unknown> = {};
    let status = 200;
    let detail: string | undefined;
    try {
      if (checkKey) {
        const presented = req.headers["x-api-key"];
        if (!checkKey(Array.isArray(presented) ? presented[0] : presented)) throw new HttpError(401, "auth", "Invalid or missing API key");
      }
      const raw = await readBody(req);
      if (!model || !batcherRef.current) throw new HttpError(503, "not_ready", "the model is still loading", { "Retry-After": "1" });
      let body: unknown;
      try {
        body = JSON.parse(raw.toString("utf8"));
      } catch (e) {
        throw new HttpError(400, "invalid", `request body is not valid JSON (${(e as Error).message})`);
      }
      const apiReq = parseApiRequest(body);
      texts = apiReq.texts.length;
      if (typeof apiReq.adapter === "string" && !model.adapterNames.includes(apiReq.adapter)) {
        const loaded = model.adapterNames;
        throw new HttpError(422, "invalid", `adapter: no adapter named ${quote(apiReq.adapter)} is loaded on this server (${loaded.length > 0 ? `loaded: ${loaded.join(", ")}` : "it was started without --adapter"})`);
      }
      metrics.use(apiReq.adapter, apiReq.long !== null, texts);
      extra = { ...(apiReq.adapter !== undefined ? { adapter: apiReq.adapter } : {}), ...(apiReq.long ? { long: apiReq.long } : {}) };
      const options = apiReq.adapter === undefined ? apiReq.options : { ...apiReq.options, adapter: apiReq.adapter };
      let result: ExtractionResult[];
      if (texts === 0) result = [];
      else {
        const promptTokens = buildPrompt(apiReq.schema).prefixTokens.length;
        const job = apiReq.long
          ? {
              texts: apiReq.texts,
              schema: apiReq.schema,
              options,
              tokens: apiReq.texts.map((t) => estimateLongTokens(t, promptTokens, apiReq.long!)),
              long: { ...apiReq.long, chunkTokens: estimateWindowTokens(apiReq.long.chunkSize, promptTokens) },
            }
          : { texts: apiReq.texts, schema: apiReq.schema, options, tokens: apiReq.texts.map((t) => estimateTokens(t, promptTokens)) };
        const handle = batcherRef.current.push(job);
        if (handle === null) {
          const retry = Math.max(1, Math.ceil(batcherRef.current.queuedTexts / 50));
          throw new HttpError(429, "overloaded", `the server is at capacity (${maxQueue} texts queued); retry later`, { "Retry-After": String(retry) });
        }
        let timer: ReturnType<typeof setTimeout> | undefined;
        const timedOut = new Promise<never>((_, reject) => {
          timer = setTimeout(() => {
            handle.cancel();
            reject(new HttpError(503, "timeout", `the request did not finish within ${timeoutMs} ms`, { "Retry-After": "1" }));
          }, Math.max(1, timeoutMs - (performance.now() - started)));
        });
        try {
          result = await Promise.race([handle.promise, timedOut]);
        } catch (e) {
          if (e instanceof HttpError) throw e;
          if (e instanceof Gliner2Error && e.code !== "WORKER") {
            // Long documents: the library's index is a window's place in its batch, not a text's; what the
            // caller can change is the window size.
            const over = apiReq.long && /^(?:texts\[\d+\]|text): prompt \+ text is (\d+) tokens, over the (\d+)-token limit/.exec(e.message);
            if (over) throw new HttpError(422, "invalid", `chunk_size: a window of ${apiReq.long!.chunkSize} words is ${over[1]} tokens with the prompt, over this model's ${over[2]}-token limit; use a smaller chunk_size`);
            throw new HttpError(422, "invalid", apiReq.long ? e.message : e.message.replace(/^texts\[(\d+)\]/, (_, i) => (apiReq.batch ? `text[${i}]` : "text")));
          }
          throw e;
        } finally {
          clearTimeout(timer);
        }
      }
      sendJson(res, 200, { result: apiReq.batch ? result : result[0] }, { "X-Request-Id": rid });
    } catch (e) {
      if (e instanceof HttpError) {
        status = e.status;
        detail = e.message;
        metrics.error(e.kind);
        sendJson(res, status, { detail }, { "X-Request-Id": rid, ...e.headers });
      } else {
        status = 500;
        detail = e instanceof Error ? e.message : String(e);
        metrics.error("internal");
        sendJson(res, 500, { detail: `internal server error (request id ${rid})` }, { "X-Request-Id": rid });
      }
    } finally {
      const seconds = (performance.now() - started) / 1000;
      metrics.request(status, seconds);
      log({ time: new Date().toISOString(), level: status >= 500 ? "error" : status >= 400 ? "warn" : "info", msg: "request", id: rid, method: req.method, path: req.url, status, ms: Math.round(seconds * 10000) / 10, texts, ...extra, ...(detail !== undefined ? { detail } : {}), remote: req.socket.remoteAddress });
    }
  };

  const route = async (req: IncomingMessage, res: ServerResponse) => {
    const started = performance.now();
    requestsSeen++;
    const given = req.headers["x-request-id"];
    const rid = typeof given === "string" && /^[\w.:-]{1,128}$/.test(given) ? given : crypto.randomUUID();
    const path = (req.url ?? "/").split("?")[0];
    if (opts.corsOrigin && req.method === "OPTIONS") {
      res.writeHead(204, {
        "Access-Control-Allow-Origin": opts.corsOrigin,
        "Access-Control-Allow-Methods": "POST, GET, OPTIONS",
        "Access-Control-Allow-Headers": "Content-Type, X-API-Key, X-Request-Id",
        "Access-Control-Max-Age": "600",
        Vary: "Origin",
      });
      res.end();
      return;
    }
    const only = (method: string) => {
      if (req.method === method || (method === "GET" && req.method === "HEAD")) return true;
      sendJson(res, 405, { detail: "Method Not Allowed" }, { Allow: method, "X-Request-Id": rid });
      return false;
    };
    if (path === "/healthz") {
      if (only("GET")) sendJson(res, 200, { status: "ok" }, { "X-Request-Id": rid });
    } else if (path === "/readyz") {
      if (only("GET")) {
        const state = draining ? "draining" : model ? "ready" : "loading";
        sendJson(res, state === "ready" ? 200 : 503, { status: state }, { "X-Request-Id": rid });
      }
    } else if (path === "/metrics") {
      if (only("GET")) {
        const b = batcherRef.current;
        // The histogram counts delay beyond its own 5 ms timer period.
        const lag = { p99: Math.max(0, loopDelay.percentile(99) / 1e9 - 0.005), max: Math.max(0, loopDelay.max / 1e9 - 0.005) };
        loopDelay.reset();
        send(res, 200, metrics.render({ queueTexts: b?.queuedTexts ?? 0, inflightTexts: b?.inflightTexts ?? 0, ready: model !== null, draining, loopDelay: lag }), "text/plain; version=0.0.4; charset=utf-8", { "X-Request-Id": rid });
      }
    } else if (path === apiPath) {
      if (!only("POST")) return;
      activeRequests++;
      try {
        await handleApi(req, res, rid, started);
      } finally {
        activeRequests--;
        if (activeRequests === 0) {
          const w = activeWaiters;
          activeWaiters = [];
          for (const f of w) f();
        }
      }
    } else {
      sendJson(res, 404, { detail: "Not Found" }, { "X-Request-Id": rid });
    }
  };

  const server: Server = http.createServer((req, res) => {
    route(req, res).catch((e) => {
      log({ time: new Date().toISOString(), level: "error", msg: "unhandled", detail: String(e) });
      if (!res.headersSent) sendJson(res, 500, { detail: "internal server error" });
    });
  });
  server.keepAliveTimeout = 5000;
  // A client that trickles its headers or body cannot hold a connection longer than a request may take.
  server.requestTimeout = Math.max(timeoutMs, 10_000);
  server.headersTimeout = Math.min(60_000, server.requestTimeout);
  const sockets = new Set<Socket>();
  server.on("connection", (s: Socket) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const addr = server.address() as AddressInfo;
  const shownHost = addr.family === "IPv6" ? `[${addr.address}]` : addr.address;
  const url = `http://${shownHost}:${addr.port}`;
  log({ time: new Date().toISOString(), level: "info", msg: "listening", url, auth: keys.length > 0 ? `${keys.length} key(s)` : "none", maxBatch, maxQueue, maxBody, timeoutMs });

  let adapterFailed = false;
  const ready = (async () => {
    const t0 = performance.now();
    let m: GLiNER2;
    if (typeof opts.model === "string") {
      m = await GLiNER2.fromPretrained(opts.model, { ...opts.load, threads: opts.threads ?? opts.load?.threads, offThread: opts.load?.offThread ?? "auto" });
    } else {
      m = opts.model;
    }
    // Adapters before readiness: a replica that reports ready serves every adapter it was started with.
    const l = opts.load;
    for (const [name, source] of adapters) {
      const ta = performance.now();
      try {
        // Plain hub options only (they cross to the model's thread); the checkpoint's revision is not the adapter's.
        await m.loadAdapter(source, { name, activate: false, cacheDir: l?.cacheDir, endpoint: l?.endpoint, token: l?.token, offline: l?.offline, timeoutMs: l?.timeoutMs });
      } catch (e) {
        adapterFailed = true;
        log({ time: new Date().toISOString(), level: "error", msg: "adapter failed to load", adapter: name, detail: e instanceof Error ? e.message : String(e) });
        if (typeof opts.model === "string") await m.dispose();
        throw e;
      }
      log({ time: new Date().toISOString(), level: "info", msg: "adapter loaded", adapter: name, ms: Math.round(performance.now() - ta) });
    }
    model = m;
    ownsModel = typeof opts.model === "string";
    batcherRef.current = makeBatcher(model);
    log({ time: new Date().toISOString(), level: "info", msg: "model ready", ms: Math.round(performance.now() - t0), offThread: (model as unknown as { offThread?: boolean }).offThread === true, adapters: model.adapterNames });
  })();
  ready.catch((e) => {
    if (!adapterFailed) log({ time: new Date().toISOString(), level: "error", msg: "model failed to load", detail: e instanceof Error ? e.message : String(e) });
  });

  let drained: Promise<void> | null = null;
  const drain = () => {
    if (drained) return drained;
    draining = true;
    drained = (async () => {
      log({ time: new Date().toISOString(), level: "info", msg: "draining", active: activeRequests, queued: batcherRef.current?.queuedTexts ?? 0 });
      const closed = new Promise<void>((r) => server.close(() => r()));
      // Open connections may still carry a request that is on its way (a client that just connected, a
      // keep-alive request in flight): keep serving them, each answer with Connection: close, until the server
      // has been quiet for a moment; only then close what is left (idle connections).
      for (;;) {
        if (activeRequests > 0) await new Promise<void>((r) => activeWaiters.push(r));
        await batcherRef.current?.idle();
        const seen = requestsSeen;
        await new Promise((r) => setTimeout(r, DRAIN_QUIET_MS));
        if (activeRequests === 0 && requestsSeen === seen) break;
      }
      loopDelay.disable();
      for (const s of sockets) s.destroySoon();
      server.closeAllConnections();
      await closed;
      await ready.catch(() => {});
      if (ownsModel) await model?.dispose();
      log({ time: new Date().toISOString(), level: "info", msg: "drained" });
    })();
    return drained;
  };

  const stats = () => ({ activeRequests, queuedTexts: batcherRef.current?.queuedTexts ?? 0, inflightTexts: batcherRef.current?.inflightTexts ?? 0 });
  return { url, port: addr.port, ready, drain, close: drain, stats };
}

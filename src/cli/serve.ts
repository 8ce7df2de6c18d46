/**
 * `gliner2 serve`: run the hosted-API-compatible HTTP server (src/serve/) until SIGTERM or SIGINT, then drain
 * (stop accepting, finish what is in flight) and exit 0.
 */
import { readFile } from "node:fs/promises";
import { formatOptions, optionReader, parseArgs, type OptionSpec } from "./args.js";
import { UsageError } from "./errors.js";
import type { CliIO } from "./io.js";
import { classifyModelSource, embeddingsFlag } from "./model.js";

const OPTIONS: readonly OptionSpec[] = [
  { name: "model", short: "m", kind: "string", value: "DIR|URL|ORG/NAME", help: "checkpoint folder, URL of one, or hub repo id (required)" },
  { name: "host", kind: "string", value: "ADDR", help: "address to bind (default 127.0.0.1)" },
  { name: "port", short: "p", kind: "string", value: "N", help: "port (default 8080; 0 picks a free one)" },
  { name: "api-key", kind: "string", repeatable: true, value: "KEY", help: "accepted X-API-Key (also $GLINER2_API_KEY)" },
  { name: "api-keys-file", kind: "string", value: "FILE", help: "file with one accepted key per line (# comments)" },
  { name: "insecure-no-auth", kind: "flag", help: "allow a non-loopback address without any key" },
  { name: "threads", kind: "string", value: "N", help: "threads for the model's linear layers (default 1)" },
  { name: "max-batch", kind: "string", value: "N", help: "most texts per model call (default 16; 1 = no dynamic batching)" },
  { name: "batch-window", kind: "string", value: "MS", help: "how long a request waits for companions (default 2)" },
  { name: "max-queue", kind: "string", value: "N", help: "most texts waiting before answering 429 (default 256)" },
  { name: "max-body", kind: "string", value: "BYTES", help: "largest request body (default 1048576)" },
  { name: "timeout", kind: "string", value: "MS", help: "per-request limit, answered 503 when passed (default 30000)" },
  { name: "base-path", kind: "string", value: "PATH", help: "mount point of the API (default none: POST /gliner-2)" },
  { name: "cors-origin", kind: "string", value: "ORIGIN", help: "send CORS headers for this origin (default: CORS off)" },
  { name: "adapter", kind: "string", repeatable: true, value: "NAME=DIR", help: "load a LoRA adapter (folder, URL or hub repo id) at start-up under NAME; requests pick it with \"adapter\": NAME (repeatable)" },
  { name: "cache-dir", kind: "string", value: "DIR", help: "hub cache folder" },
  { name: "revision", kind: "string", value: "REV", help: "hub branch, tag or commit" },
  { name: "token", kind: "string", value: "TOKEN", help: "hub access token (default: $HF_TOKEN)" },
  { name: "endpoint", kind: "string", value: "URL", help: "hub endpoint" },
  { name: "offline", kind: "flag", help: "use the hub cache only" },
  { name: "embeddings", kind: "string", value: "memory|disk", help: "disk: read word-embedding rows from model.safetensors per request instead of loading the table (less memory)" },
  { name: "quiet", short: "q", kind: "flag", help: "no request logs (start-up and errors still logged)" },
  { name: "debug", kind: "flag", help: "print stack traces of internal errors" },
  { name: "help", short: "h", kind: "flag", help: "show this help" },
];

export const SERVE_HELP = `Usage: gliner2 serve --model DIR|URL|ORG/NAME [options]

Serve the GLiNER2 hosted API on your own machine: POST /gliner-2 with X-API-Key and the JSON body of the
official client (GLiNER2.from_api(api_base_url="http://HOST:PORT")), plus GET /healthz, /readyz and /metrics.
The model runs in a worker thread; concurrent requests are batched. SIGTERM drains and exits 0. Logs are JSON
lines on stderr.

Options:
${formatOptions(OPTIONS)}

Examples:
  GLINER2_API_KEY=secret gliner2 serve -m fastino/gliner2-base-v1 --port 8080
  gliner2 serve -m ./checkpoint --host 0.0.0.0 --api-keys-file /etc/gliner2/keys
  gliner2 serve -m ./checkpoint --adapter legal=./adapters/legal --adapter medical=my-org/gliner2-medical-lora

Body fields beyond the official client's: "adapter": NAME (null = base model; absent = base model),
"long": true with optional "chunk_size" (words per window, default 384) and "chunk_overlap" (default 64).
`;

async function readKeys(path: string): Promise<string[]> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (e) {
    throw new UsageError("serve", `--api-keys-file ${path} cannot be read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  const keys = text
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l !== "" && !l.startsWith("#"));
  if (keys.length === 0) throw new UsageError("serve", `--api-keys-file ${path} holds no key`);
  return keys;
}

export async function runServe(argv: readonly string[], io: CliIO): Promise<number> {
  const parsed = parseArgs(argv, OPTIONS, "serve");
  const opt = optionReader(parsed, "serve");
  if (opt.flag("help")) {
    io.stdout.write(SERVE_HELP);
    return 0;
  }
  if (parsed.positionals.length > 0) throw new UsageError("serve", `unexpected argument "${parsed.positionals[0]}"`);
  const modelArg = opt.string("model");
  if (modelArg === undefined) throw new UsageError("serve", "--model is required");
  const adapters: Record<string, string> = {};
  for (const a of opt.list("adapter")) {
    const eq = a.indexOf("=");
    if (eq <= 0 || eq === a.length - 1) throw new UsageError("serve", `--adapter must be NAME=DIR, got "${a}"`);
    const name = a.slice(0, eq);
    if (Object.hasOwn(adapters, name)) throw new UsageError("serve", `--adapter ${name} is given twice`);
    adapters[name] = a.slice(eq + 1);
  }
  const keys = [...opt.list("api-key")];
  const keysFile = opt.string("api-keys-file");
  if (keysFile !== undefined) keys.push(...(await readKeys(keysFile)));
  const envKey = io.env.GLINER2_API_KEY;
  if (envKey) keys.push(envKey);
  const source = await classifyModelSource(modelArg);
  const quiet = opt.flag("quiet");

  const { startServer } = await import("../serve/index.js");
  const server = await startServer({
    model: source.source,
    load: { cacheDir: opt.string("cache-dir"), revision: opt.string("revision"), token: opt.string("token"), endpoint: opt.string("endpoint"), offline: opt.flag("offline") || undefined, embeddings: embeddingsFlag(opt.string("embeddings"), "serve") },
    host: opt.string("host"),
    port: opt.number("port", { min: 0, max: 65535, integer: true }),
    apiKeys: keys,
    insecureNoAuth: opt.flag("insecure-no-auth"),
    threads: opt.number("threads", { min: 1, max: 256, integer: true }),
    maxBatch: opt.number("max-batch", { min: 1, max: 4096, integer: true }),
    batchWindowMs: opt.number("batch-window", { min: 0, max: 10_000 }),
    maxQueue: opt.number("max-queue", { min: 1, max: 1e9, integer: true }),
    maxBody: opt.number("max-body", { min: 64, max: 2 ** 31, integer: true }),
    requestTimeoutMs: opt.number("timeout", { min: 1, max: 86_400_000, integer: true }),
    basePath: opt.string("base-path"),
    corsOrigin: opt.string("cors-origin"),
    adapters,
    log: (e) => {
      if (quiet && e.msg === "request" && e.level === "info") return;
      io.stderr.write(`${JSON.stringify(e)}\n`);
    },
  });

  const stop = new Promise<string>((resolve) => {
    const on = (sig: string) => () => resolve(sig);
    process.once("SIGTERM", on("SIGTERM"));
    process.once("SIGINT", on("SIGINT"));
  });
  const outcome = await Promise.race([server.ready.then(() => stop), stop]).catch(async (e) => {
    await server.drain();
    throw e;
  });
  void outcome;
  await server.drain();
  return 0;
}

/**
 * End-to-end benchmark (not a test) on a random gliner2-base-shaped checkpoint with the released tokenizer, each
 * configuration in a fresh Node process:
 *
 *   load         fromPretrained(dir) wall time, resident and peak RSS after load (peak ÷ resident: the issue's
 *                "peak during load ≤ 1.3× final" check)
 *   encoder      the encoder alone on the token ids an extraction of a 64-word text feeds it
 *   extract      extract(text, entities + one classification) through the public API, same text
 *   first        the first extract after loading (JIT warm-up, scratch growth, lazily built head tables)
 *   count        the entity schema's predicted instance count: the count embedding and span scoring scale with
 *                it, and a random checkpoint predicts far more instances than a trained one (usually 1)
 *
 * Reported per backend × threads (wasm, wasm with `quantize: "int8"` from the float32 folder, js): best-of-N ms of
 * both and extract ÷ encoder. Times on a shared machine are noisy: compare rows of one run only.
 *
 *   npm run bench:e2e                      # = build, then node dist/bench/endToEnd.js [words] [--no-js] [--count N]
 *
 * `--count N` writes the checkpoint with its count head fixed to N instances (see writeCheckpoint); both the
 * random count and N = 1 (what a trained model predicts for one entity schema) are worth a look.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { GLiNER2 } from "../src/gliner2.js";
import { runBatch } from "../src/engine.js";
import { encode } from "../src/model/deberta.js";
import { buildPrompt } from "../src/schema/prompt.js";
import { normalizeSchema } from "../src/schema/schema.js";
import { prepareText, splitWords } from "../src/text/words.js";
import { findTokenizer, writeCheckpoint } from "./shared/baseCheckpoint.js";
import { peakRss } from "./shared/memory.js";

const MB = 1024 * 1024;
const REPEATS = 5;
const WORDS =
  "Maria Lopez moved from Lisbon to Berlin in 2019 to join Siemens as a senior engineer ; she now leads the grid team with Peter Schmidt and reports to the board in Munich every quarter .".split(" ");

function best(run: () => unknown): number {
  let ms = Infinity;
  for (let i = 0; i < REPEATS; i++) {
    const t = performance.now();
    run();
    ms = Math.min(ms, performance.now() - t);
  }
  return ms;
}

async function bestAsync(run: () => Promise<unknown>): Promise<number> {
  let ms = Infinity;
  for (let i = 0; i < REPEATS; i++) {
    const t = performance.now();
    await run();
    ms = Math.min(ms, performance.now() - t);
  }
  return ms;
}

async function child(dir: string, backend: "js" | "wasm", threads: number, words: number, int8: boolean) {
  const t0 = performance.now();
  const model = await GLiNER2.fromPretrained(dir, { backend, threads, offThread: false, quantize: int8 ? "int8" : "none" });
  const loadMs = performance.now() - t0;
  const peakLoad = peakRss();
  const residentMB = process.memoryUsage().rss / MB;
  const text = Array.from({ length: words }, (_, i) => WORDS[i % WORDS.length]).join(" ");
  const schema = { entities: ["person", "city", "company"], classifications: { topic: { labels: ["work", "travel", "politics"] } } };
  // The ids extract feeds the encoder: the same prompt assembly, recorded once.
  const prepared = prepareText(text);
  const item = { words: splitWords(prepared).map((w) => w.text), prompt: buildPrompt(normalizeSchema(schema)) };
  const recorded = runBatch(model.model, [item])[0];
  const ids = recorded.inputIds;
  const count = recorded.schemas[0].count;
  const mask = new Uint8Array(ids.length).fill(1);
  const f0 = performance.now();
  await model.extract(text, schema); // warm-up (JIT, scratch)
  const firstMs = performance.now() - f0;
  const encoderMs = best(() => encode(model.model.encoder, ids, mask, 1, ids.length));
  const extractMs = await bestAsync(() => model.extract(text, schema));
  return { backend: int8 ? `${backend}-int8` : backend, threads, tokens: ids.length, count, loadMs, residentMB, peakLoadMB: peakLoad, encoderMs, extractMs, firstMs };
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  if (args[0] === "--child") {
    const r = await child(args[1], args[2] as "js" | "wasm", Number(args[3]), Number(args[4]), args[5] === "int8");
    process.stdout.write(`${JSON.stringify(r)}\n`);
    process.exit(0); // the thread pool's workers
  }
  const countAt = args.indexOf("--count");
  const count = countAt >= 0 ? Number(args[countAt + 1]) : undefined;
  if (count !== undefined && !(Number.isInteger(count) && count >= 0 && count < 20)) throw new Error(`--count takes an instance count 0…19, got ${JSON.stringify(args[countAt + 1])}`);
  const words = Number(args.find((a, i) => !a.startsWith("--") && (countAt < 0 || i !== countAt + 1)) ?? 64) || 64;
  const configs: (readonly ["js" | "wasm", number, boolean])[] = [["wasm", 1, false], ["wasm", 2, false], ["wasm", 1, true], ["wasm", 2, true]];
  if (!args.includes("--no-js")) configs.push(["js", 1, false]);
  const self = fileURLToPath(import.meta.url);
  const root = resolve(self, "..", "..", "..");
  const tok = findTokenizer(root);
  const work = mkdtempSync(join(tmpdir(), "gliner2-e2e-bench-"));
  const dir = join(work, "base");
  try {
    writeCheckpoint(dir, tok.path, { count });
    console.log(`node ${process.version}; ${words}-word text; tokenizer ${tok.real ? "released" : "fixture (real one not found)"}; best of ${REPEATS}; every row a fresh process`);
    const rows: string[][] = [["backend", "threads", "tokens", "count", "load s", "RSS MiB", "peak/RSS", "first ms", "encoder ms", "extract ms", "extract ÷ encoder"]];
    for (const [backend, threads, int8] of configs) {
      const res = spawnSync(process.execPath, [self, "--child", dir, backend, String(threads), String(words), int8 ? "int8" : "f32"], { encoding: "utf8", maxBuffer: 1 << 24 });
      if (res.status !== 0) throw new Error(`${backend}${int8 ? "-int8" : ""}/${threads}: child failed (${res.status})\n${res.stderr}`);
      const r = JSON.parse(res.stdout.trim().split("\n").pop()!);
      rows.push([r.backend, String(threads), String(r.tokens), String(r.count), (r.loadMs / 1000).toFixed(1), r.residentMB.toFixed(0), (r.peakLoadMB / r.residentMB).toFixed(2), r.firstMs.toFixed(0), r.encoderMs.toFixed(0), r.extractMs.toFixed(0), (r.extractMs / r.encoderMs).toFixed(2)]);
    }
    const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
    for (const r of rows) console.log(r.map((v, c) => v.padStart(widths[c])).join("  "));
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

await main();

/**
 * Whole-process memory benchmark (not a test): what a user's process holds after loading a gliner2-base-shaped
 * model and after one extract, and what that memory is made of. A random checkpoint with base shapes (encoder
 * 768/12/12/3072, vocab 128,011, count_lstm heads) and the real 128k tokenizer is written to a temporary folder;
 * every row is a fresh Node process:
 *
 *   bare              Node with the library imported, nothing loaded
 *   tokenizer         loadTokenizerFromDir only
 *   f32 / int8        fromPretrained(dir, { quantize, offThread })   offThread false (this thread) or true (a worker:
 *                     the default "auto" in Node)
 *   int8-file         fromPretrained(dirInt8, { offThread })         the checkpoint `gliner2 quantize` writes
 *   … disk            the same with { embeddings: "disk" }: the word-embedding table stays in the file
 *
 * Two readings per row. "as is": RSS as the process sees it (no forced GC: what a container limit meets).
 * "after GC": the same process after global.gc() (--expose-gc; it collects the calling thread's heap only, so
 * off-thread rows keep the worker's garbage). Composition (this thread only; the worker's own heap is not visible
 * from here): V8 heap committed (heapTotal) and used, ArrayBuffers (the int8 embedding table, float tensors),
 * WebAssembly memory (weights packed for the kernels, position tables, scratch), glibc's main heap ([heap] in
 * /proc/self/smaps: freed malloc memory glibc kept), and the node binary's mapped pages.
 *
 *   npm run bench:memory        # = build, then node dist/bench/memory.js
 *   MODES="int8 thread,int8-file worker disk" npm run bench:memory    # only these rows
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import v8 from "node:v8";
import { GLiNER2 } from "../src/gliner2.js";
import { quantizeCheckpoint } from "../src/int8/checkpoint.js";
import { wasmRuntime } from "../src/kernels/wasm/runtime.js";
import { loadTokenizerFromDir } from "../src/text/tokenizer.js";
import { setWorkerEntry } from "../src/worker/client.js";

import { findTokenizer, writeCheckpoint } from "./shared/baseCheckpoint.js";
import { peakRss } from "./shared/memory.js";

const MB = 1024 * 1024;
const TEXT = "Tim Cook announced the new iPhone at Apple Park in Cupertino on Tuesday, according to a statement from the company's press office in California.";
const SCHEMA = { entities: ["person", "company", "location", "product", "date"] };

interface Reading {
  rss: number;
  heapUsed: number;
  heapTotal: number;
  arrayBuffers: number;
  wasm: number;
  mallocHeap: number;
  nodeBinary: number;
}

/** RSS of glibc's main heap and of the node binary's mappings (Linux; 0 elsewhere). */
function mappings(): { mallocHeap: number; nodeBinary: number } {
  let mallocHeap = 0;
  let nodeBinary = 0;
  try {
    let head = "";
    for (const line of readFileSync("/proc/self/smaps", "utf8").split("\n")) {
      if (/^[0-9a-f]+-[0-9a-f]+ /.test(line)) head = line;
      else if (line.startsWith("Rss:")) {
        const kb = Number(line.split(/\s+/)[1]);
        if (head.endsWith("[heap]")) mallocHeap += kb;
        else if (head.endsWith(process.execPath)) nodeBinary += kb;
      }
    }
  } catch {
    // not Linux
  }
  return { mallocHeap: mallocHeap / 1024, nodeBinary: nodeBinary / 1024 };
}

/** `wasm`: read the WebAssembly memory's size (only where a model was loaded here: the first call creates it). */
function read(wasm = false): Reading {
  const m = process.memoryUsage();
  const wasmBytes = wasm ? (wasmRuntime()?.memory.buffer.byteLength ?? 0) : NaN;
  return { rss: m.rss / MB, heapUsed: m.heapUsed / MB, heapTotal: m.heapTotal / MB, arrayBuffers: m.arrayBuffers / MB, wasm: wasmBytes / MB, ...mappings() };
}

async function child(mode: string, dir: string, gc: boolean): Promise<{ load: Reading; extract?: Reading; peak: number }> {
  const settle = () => {
    if (gc) for (let i = 0; i < 3; i++) (globalThis as { gc?: () => void }).gc?.();
  };
  if (mode === "bare") {
    settle();
    return { load: read(), peak: peakRss() };
  }
  if (mode === "tokenizer") {
    const tok = await loadTokenizerFromDir(dir);
    tok.tokenize("warm-up");
    settle();
    return { load: read(), peak: peakRss() };
  }
  const [kind, where, table] = mode.split(" ");
  const source = kind === "int8-file" ? `${dir}-int8` : dir;
  const model = await GLiNER2.fromPretrained(source, { quantize: kind === "int8" ? "int8" : "none", offThread: where === "worker", embeddings: table === "disk" ? "disk" : "memory" });
  settle();
  const here = where !== "worker";
  const load = read(here);
  await model.extract(TEXT, SCHEMA);
  settle();
  const extract = read(here);
  await model.dispose();
  return { load, extract, peak: peakRss() };
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const self = fileURLToPath(import.meta.url);
  if (args[0] === "--child") {
    // The worker's script: dist/worker.js (built with the library) beside this bench's dist/bench/.
    setWorkerEntry(new URL("../worker.js", import.meta.url));
    process.stdout.write(`${JSON.stringify(await child(args[1], args[2], args[3] === "gc"))}\n`);
    return;
  }
  const root = resolve(self, "..", "..", "..");
  const tok = findTokenizer(root);
  const work = mkdtempSync(join(tmpdir(), "gliner2-memory-bench-"));
  const dir = join(work, "base");
  try {
    writeCheckpoint(dir, tok.path, { count: 1 });
    await quantizeCheckpoint(dir, `${dir}-int8`);
    console.log(`node ${process.version}; random gliner2-base-shaped checkpoint; tokenizer: ${tok.real ? "the real 128k one" : `${tok.path} (fixture: not representative)`}`);
    console.log(`every row a fresh process; MiB; "as is" = no forced GC, "GC" = after global.gc() in this thread\n`);
    const modes = process.env.MODES ? process.env.MODES.split(",") : ["bare", "tokenizer", "f32 thread", "f32 worker", "f32 thread disk", "int8 thread", "int8 worker", "int8-file thread", "int8-file worker", "int8-file thread disk", "int8-file worker disk"];
    const header = ["mode", "RSS load as is", "RSS load GC", "RSS extract as is", "RSS extract GC", "peak", "heap used/committed", "ArrayBuffers", "wasm memory", "malloc [heap]", "node binary"];
    const rows: string[][] = [header];
    for (const mode of modes) {
      const run = (gc: boolean) => {
        const res = spawnSync(process.execPath, [...(gc ? ["--expose-gc"] : []), self, "--child", mode, dir, gc ? "gc" : "as-is"], { encoding: "utf8", maxBuffer: 1 << 24 });
        if (res.status !== 0) throw new Error(`${mode}: child failed (${res.status})\n${res.stderr}`);
        return JSON.parse(res.stdout.trim().split("\n").pop()!) as Awaited<ReturnType<typeof child>>;
      };
      const asIs = run(false);
      const gc = run(true);
      const f = (v: number | undefined | null) => (v === undefined || v === null || Number.isNaN(v) ? "-" : v.toFixed(0));
      const c = gc.extract ?? gc.load; // composition after GC, after the extract where there is one
      rows.push([
        mode,
        f(asIs.load.rss),
        f(gc.load.rss),
        f(asIs.extract?.rss),
        f(gc.extract?.rss),
        f(Math.max(asIs.peak, gc.peak)),
        `${f(c.heapUsed)}/${f(c.heapTotal)}`,
        f(c.arrayBuffers),
        f(c.wasm),
        f(c.mallocHeap),
        f(c.nodeBinary),
      ]);
    }
    const widths = header.map((_, i) => Math.max(...rows.map((r) => r[i].length)));
    for (const r of rows) console.log(r.map((v, i) => (i === 0 ? v.padEnd(widths[i]) : v.padStart(widths[i]))).join("  "));
    console.log(`\ncomposition columns: after GC, after the extract; worker rows show the calling thread only (the model is in the worker)`);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

await main();

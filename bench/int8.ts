/**
 * int8 memory benchmark (not a test): a random checkpoint with gliner2-base shapes (encoder 768/12/12/3072,
 * vocab 128,011, count_lstm heads) is written to a temporary folder, then every measurement runs in a fresh Node
 * process (so one load's garbage never inflates another's numbers):
 *
 *   f32              fromPretrained(dir)                          the float engine
 *   int8 at load     fromPretrained(dir, { quantize: "int8" })     quantized while loading
 *   int8-embeddings  fromPretrained(dir, { quantize: "int8-embeddings" })
 *   quantize         quantizeCheckpoint(dir, dir8)                what `gliner2 quantize` does (streamed)
 *   int8 file        fromPretrained(dir8)                         the written int8 checkpoint
 *   int8 file disk   fromPretrained(dir8, { embeddings: "disk" })  the same, word-embedding table left in the file
 *
 * Reported: load time, resident memory after load (after a full GC), peak RSS during the process, file sizes,
 * and one 128-token encoder pass per model (time, and int8's relative RMS error against f32 on these random
 * weights). Times on a shared machine are noisy: compare them only within one run.
 *
 *   npm run bench:int8               # = build, then node --expose-gc dist/bench/int8.js [tokens]
 *
 * The real gliner2 tokenizer is used when found (../shared/real-tokenizer/tokenizer.json or $GLINER2_TOKENIZER);
 * otherwise the test fixtures' 2,011-token one (then the tokenizer's own memory is not representative).
 */
import { spawnSync } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { GLiNER2 } from "../src/gliner2.js";
import { quantizeCheckpoint } from "../src/int8/checkpoint.js";
import { encode } from "../src/model/deberta.js";

import { findTokenizer, SEED, SHAPE, writeCheckpoint } from "./shared/baseCheckpoint.js";
import { peakRss } from "./shared/memory.js";

const MB = 1024 * 1024;

// ---- child: one measurement in a fresh process --------------------------------------------------------------

interface ChildReport {
  loadMs: number;
  rssMB: number;
  peakMB: number;
  /** ArrayBuffer memory (the weights) and JS heap (mostly the tokenizer) after load. */
  buffersMB: number;
  heapMB: number;
  encodeMs?: number;
  relErr?: number;
}

function memory(): { rssMB: number; peakMB: number; buffersMB: number; heapMB: number } {
  const m = process.memoryUsage();
  return { rssMB: m.rss / MB, peakMB: peakRss(), buffersMB: m.arrayBuffers / MB, heapMB: m.heapUsed / MB };
}

function settle(): void {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc) for (let i = 0; i < 3; i++) gc();
}

async function child(mode: string, dir: string, tokens: number, hiddenFile: string): Promise<ChildReport> {
  const t0 = performance.now();
  if (mode === "quantize") {
    await quantizeCheckpoint(dir, `${dir}-int8`, { overwrite: true });
    const loadMs = performance.now() - t0;
    settle();
    return { loadMs, ...memory() };
  }
  const quantize = mode === "int8 at load" ? "int8" : mode === "int8-embeddings" ? "int8-embeddings" : "none";
  const fromFile = mode.startsWith("int8 file");
  const model = await GLiNER2.fromPretrained(fromFile ? `${dir}-int8` : dir, { quantize, offThread: false, embeddings: mode.endsWith("disk") ? "disk" : "memory" });
  const loadMs = performance.now() - t0;
  settle();
  const mem = memory();
  const ids = Int32Array.from({ length: tokens }, (_, i) => 5 + ((i * 7919) % (SHAPE.vocab - 5)));
  const mask = new Uint8Array(tokens).fill(1);
  encode(model.model.encoder, ids.subarray(0, 8), mask.subarray(0, 8), 1, 8); // warm-up (JIT)
  const t1 = performance.now();
  const out = encode(model.model.encoder, ids, mask, 1, tokens);
  const encodeMs = performance.now() - t1;
  let relErr: number | undefined;
  if (mode === "f32") writeFileSync(hiddenFile, new Uint8Array(out.buffer, out.byteOffset, out.byteLength));
  else if (existsSync(hiddenFile)) {
    const ref = new Float32Array(new Uint8Array(readFileSync(hiddenFile)).buffer);
    let num = 0;
    let den = 0;
    for (let i = 0; i < ref.length; i++) {
      num += (ref[i] - out[i]) ** 2;
      den += ref[i] ** 2;
    }
    relErr = Math.sqrt(num / den);
  }
  return { loadMs, ...mem, encodeMs, relErr };
}

// ---- parent -----------------------------------------------------------------------------------------------

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  if (args[0] === "--child") {
    const report = await child(args[1], args[2], Number(args[3]), args[4]);
    process.stdout.write(`${JSON.stringify(report)}\n`);
    return;
  }
  const tokens = Number(args[0] ?? 128) || 128;
  const self = fileURLToPath(import.meta.url);
  const root = resolve(self, "..", "..", "..");
  const tok = findTokenizer(root);
  const work = mkdtempSync(join(tmpdir(), "gliner2-int8-bench-"));
  const dir = join(work, "base");
  try {
    const t0 = performance.now();
    writeCheckpoint(dir, tok.path);
    console.log(`random gliner2-base-shaped checkpoint written in ${((performance.now() - t0) / 1000).toFixed(1)} s (seed ${SEED}); tokenizer: ${tok.real ? tok.path : `${tok.path} (fixture tokenizer: real one not found)`}`);
    console.log(`node ${process.version}; every row is a fresh process (--expose-gc); RSS after load is measured after a full GC\n`);
    const rows: string[][] = [["mode", "load s", "RSS after load MiB", "of which ArrayBuffers", "JS heap", "peak RSS MiB", `encode ${tokens} tok ms`, "rel. RMS err vs f32"]];
    const hiddenFile = join(work, "f32-hidden.bin");
    for (const mode of ["f32", "int8 at load", "int8-embeddings", "quantize", "int8 file", "int8 file disk"]) {
      const res = spawnSync(process.execPath, ["--expose-gc", self, "--child", mode, dir, String(tokens), hiddenFile], { encoding: "utf8", maxBuffer: 1 << 24 });
      if (res.status !== 0) throw new Error(`${mode}: child failed (${res.status})\n${res.stderr}`);
      const r = JSON.parse(res.stdout.trim().split("\n").pop()!) as ChildReport;
      rows.push([
        mode,
        (r.loadMs / 1000).toFixed(1),
        r.rssMB.toFixed(0),
        r.buffersMB.toFixed(0),
        r.heapMB.toFixed(0),
        r.peakMB.toFixed(0),
        r.encodeMs === undefined ? "-" : r.encodeMs.toFixed(0),
        r.relErr === undefined ? "-" : r.relErr.toExponential(2),
      ]);
    }
    const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
    for (const r of rows) console.log(r.map((v, c) => v.padStart(widths[c])).join("  "));
    const f32Size = statSync(join(dir, "model.safetensors")).size;
    const i8Size = statSync(join(`${dir}-int8`, "model.safetensors")).size;
    console.log(`\nmodel.safetensors: f32 ${(f32Size / MB).toFixed(0)} MiB, int8 ${(i8Size / MB).toFixed(0)} MiB (${(i8Size / f32Size).toFixed(3)} of f32)`);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

await main();

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
import { writeSafetensors } from "./safetensorsWriter.js";

const SHAPE = { hidden: 768, layers: 12, heads: 12, intermediate: 3072, vocab: 128_011, buckets: 256 };
const SEED = 20251127;
const MB = 1024 * 1024;

function filler(seed: number) {
  let s = seed >>> 0;
  const next = () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 4294967296;
  };
  return (n: number, std: number, mean = 0) => {
    const out = new Float32Array(n);
    for (let i = 0; i < n; i++) out[i] = mean + (next() + next() + next() - 1.5) * 2 * std;
    return out;
  };
}

/** Every tensor of a gliner2-base-shaped checkpoint (count_lstm heads), random. */
function randomTensors(): Record<string, { shape: number[]; data: Float32Array }> {
  const { hidden: H, layers, intermediate: I, vocab, buckets } = SHAPE;
  const rand = filler(SEED);
  const t: Record<string, { shape: number[]; data: Float32Array }> = {};
  const add = (name: string, shape: number[], std: number, mean = 0) => (t[name] = { shape, data: rand(shape.reduce((a, b) => a * b, 1), std, mean) });
  const linearW = (name: string, out: number, inp: number) => {
    add(`${name}.weight`, [out, inp], 1 / Math.sqrt(inp));
    add(`${name}.bias`, [out], 0.02);
  };
  const norm = (name: string, dim: number) => {
    add(`${name}.weight`, [dim], 0.1, 1);
    add(`${name}.bias`, [dim], 0.1);
  };
  add("encoder.embeddings.word_embeddings.weight", [vocab, H], 1);
  norm("encoder.embeddings.LayerNorm", H);
  add("encoder.encoder.rel_embeddings.weight", [2 * buckets, H], 1);
  norm("encoder.encoder.LayerNorm", H);
  for (let l = 0; l < layers; l++) {
    const p = `encoder.encoder.layer.${l}.`;
    for (const proj of ["query_proj", "key_proj", "value_proj"]) linearW(`${p}attention.self.${proj}`, H, H);
    linearW(`${p}attention.output.dense`, H, H);
    norm(`${p}attention.output.LayerNorm`, H);
    linearW(`${p}intermediate.dense`, I, H);
    linearW(`${p}output.dense`, H, I);
    norm(`${p}output.LayerNorm`, H);
  }
  const sr = "span_rep.span_rep_layer";
  for (const part of ["project_start", "project_end"]) {
    linearW(`${sr}.${part}.0`, 4 * H, H);
    linearW(`${sr}.${part}.3`, H, 4 * H);
  }
  linearW(`${sr}.out_project.0`, 4 * H, 2 * H);
  linearW(`${sr}.out_project.3`, H, 4 * H);
  linearW("classifier.0", 2 * H, H);
  linearW("classifier.2", 1, 2 * H);
  linearW("count_pred.0", 2 * H, H);
  linearW("count_pred.2", 20, 2 * H);
  add("count_embed.pos_embedding.weight", [20, H], 1);
  for (const g of ["ih", "hh"]) {
    add(`count_embed.gru.weight_${g}_l0`, [3 * H, H], 1 / Math.sqrt(H));
    add(`count_embed.gru.bias_${g}_l0`, [3 * H], 0.02);
  }
  linearW("count_embed.projector.0", 4 * H, 2 * H);
  linearW("count_embed.projector.2", H, 4 * H);
  return t;
}

const ENCODER_CONFIG = {
  model_type: "deberta-v2",
  hidden_size: SHAPE.hidden,
  num_hidden_layers: SHAPE.layers,
  num_attention_heads: SHAPE.heads,
  intermediate_size: SHAPE.intermediate,
  vocab_size: SHAPE.vocab,
  hidden_act: "gelu",
  layer_norm_eps: 1e-7,
  relative_attention: true,
  pos_att_type: ["p2c", "c2p"],
  position_buckets: SHAPE.buckets,
  max_relative_positions: -1,
  max_position_embeddings: 512,
  norm_rel_ebd: "layer_norm",
  share_att_key: true,
  position_biased_input: false,
  type_vocab_size: 0,
  pad_token_id: 0,
};

function findTokenizer(root: string): { path: string; real: boolean } {
  const candidates = [process.env.GLINER2_TOKENIZER, join(root, "..", "shared", "real-tokenizer", "tokenizer.json")];
  for (const c of candidates) if (c && existsSync(c)) return { path: c, real: true };
  return { path: join(root, "test", "fixtures", "tiny-count_lstm", "tokenizer.json"), real: false };
}

function writeCheckpoint(dir: string, tokenizer: string): void {
  mkdirSync(join(dir, "encoder_config"), { recursive: true });
  writeFileSync(join(dir, "config.json"), JSON.stringify({ model_type: "extractor", max_width: 8, token_pooling: "first", counting_layer: "count_lstm" }));
  writeFileSync(join(dir, "encoder_config", "config.json"), JSON.stringify(ENCODER_CONFIG));
  copyFileSync(tokenizer, join(dir, "tokenizer.json"));
  writeFileSync(join(dir, "model.safetensors"), writeSafetensors(randomTensors()));
}

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

/** Peak RSS of this process: VmHWM (getrusage's maxRSS survives exec on Linux and would report the parent's). */
function peakRss(): number {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync("/proc/self/status", "utf8"));
    if (m) return Number(m[1]) / 1024;
  } catch {
    // not Linux
  }
  return process.resourceUsage().maxRSS / 1024;
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
  const model = await GLiNER2.fromPretrained(mode === "int8 file" ? `${dir}-int8` : dir, { quantize });
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
    for (const mode of ["f32", "int8 at load", "int8-embeddings", "quantize", "int8 file"]) {
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

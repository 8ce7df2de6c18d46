/**
 * Encoder benchmark (not a test): a full-size random checkpoint with gliner2-base shapes (hidden 768, 12 layers,
 * 12 heads, FFN 3072, vocab 128,011, 256 position buckets), generated in memory from a seed and never written
 * to disk, run at 64/128/256/512 tokens, batch 1, one thread.
 *
 * Peer in the same run: the same encoder with the plain reference linear kernel (transposed weights, one
 * multiply-add stream), so the table shows what the packed, register-blocked kernel buys on this machine.
 *
 *   npm run bench                 # all lengths
 *   npm run bench -- 128          # chosen lengths
 */
import { parseEncoderConfig } from "../src/model/config.js";
import { encode, loadDebertaEncoder, type DebertaEncoder } from "../src/model/deberta.js";
import { parseSafetensors } from "../src/model/safetensors.js";
import { PANEL, setLinearBackend, startThreads, stopThreads, type PackedLinear } from "../src/kernels/index.js";
import { writeSafetensors } from "./safetensorsWriter.js";

const SHAPE = { hidden: 768, layers: 12, heads: 12, intermediate: 3072, vocab: 128_011, buckets: 256, maxRel: 512 };
const SEED = 20251125;

/** Deterministic N(0, std²)-ish values (sum of uniforms), fast enough for 200M parameters. */
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

function randomCheckpoint(): Uint8Array {
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
  return writeSafetensors(t);
}

/** FLOPs of one forward pass at length L (multiply-adds × 2), counting what the encoder really computes. */
function flops(L: number, relRows: number): number {
  const { hidden: H, layers, intermediate: I } = SHAPE;
  const linears = 2 * L * (4 * H * H + 2 * H * I);
  const attention = 2 * 2 * L * L * H; // Q·Kᵀ and P·V over all heads
  const disentangled = 2 * 2 * L * relRows * H; // Q·PKᵀ and K·PQᵀ on the reachable relative rows
  return layers * (linears + attention + disentangled);
}

/** Reference linear: weights transposed to [in, out], one axpy stream per input feature (the naive kernel). */
function naiveLinearFactory() {
  const transposed = new WeakMap<PackedLinear, Float32Array>();
  return (x: Float32Array, rows: number, layer: PackedLinear, unpack: (l: PackedLinear) => Float32Array): Float32Array => {
    let wt = transposed.get(layer);
    if (!wt) transposed.set(layer, (wt = unpack(layer)));
    const K = layer.inFeatures;
    const N = layer.outFeatures;
    const y = new Float32Array(rows * N);
    for (let m = 0; m < rows; m++) {
      if (layer.bias) y.set(layer.bias, m * N);
      for (let k = 0; k < K; k++) {
        const a = x[m * K + k];
        for (let n = 0; n < N; n++) y[m * N + n] += a * wt[k * N + n];
      }
    }
    return y;
  };
}

function timeEncode(enc: DebertaEncoder, L: number, reps: number): number {
  const ids = Int32Array.from({ length: L }, (_, i) => 5 + ((i * 7919) % (SHAPE.vocab - 5)));
  const mask = new Uint8Array(L).fill(1);
  encode(enc, ids, mask, 1, L); // warm-up (JIT)
  const times: number[] = [];
  for (let r = 0; r < reps; r++) {
    const t0 = performance.now();
    encode(enc, ids, mask, 1, L);
    times.push(performance.now() - t0);
  }
  return times.sort((a, b) => a - b)[Math.floor(times.length / 2)];
}

async function main(): Promise<void> {
  const lengths = process.argv.slice(2).map(Number).filter((n) => n > 0);
  const Ls = lengths.length > 0 ? lengths : [64, 128, 256, 512];
  const t0 = performance.now();
  const bytes = randomCheckpoint();
  const config = parseEncoderConfig({
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
    max_position_embeddings: SHAPE.maxRel,
    norm_rel_ebd: "layer_norm",
    share_att_key: true,
    position_biased_input: false,
    type_vocab_size: 0,
  });
  const st = parseSafetensors(bytes, "random-gliner2-base.safetensors");
  const enc = loadDebertaEncoder(st, config);
  console.log(`random gliner2-base-shaped encoder (seed ${SEED}) built and packed in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  // A second copy packed in shared memory for the 2-thread runs (the pool must exist before packing).
  await startThreads(2);
  const shared = loadDebertaEncoder(st, config);
  stopThreads();
  console.log(`node ${process.version}; "ms" is one thread, "2 threads" uses the worker pool\n`);

  const rows: string[][] = [["tokens", "ms", "tokens/s", "GFLOP/s", "naive ms", "vs naive", "2 threads ms", "vs 1 thread", "peak RSS MiB"]];
  for (const L of Ls) {
    const reps = L <= 128 ? 5 : 3;
    const ms = timeEncode(enc, L, reps);
    const relRows = Math.min(2 * SHAPE.buckets, 2 * L - 1);
    // The peer: same encoder, naive linear kernel (only where it finishes in reasonable time).
    let naiveMs = NaN;
    if (L <= 128) naiveMs = await withNaiveKernel(() => timeEncode(enc, L, 1));
    await startThreads(2);
    const threadedMs = timeEncode(shared, L, reps);
    stopThreads();
    rows.push([
      String(L),
      ms.toFixed(0),
      ((L / ms) * 1000).toFixed(1),
      (flops(L, relRows) / ms / 1e6).toFixed(2),
      Number.isNaN(naiveMs) ? "-" : naiveMs.toFixed(0),
      Number.isNaN(naiveMs) ? "-" : `${(naiveMs / ms).toFixed(2)}×`,
      threadedMs.toFixed(0),
      `${(ms / threadedMs).toFixed(2)}×`,
      (process.resourceUsage().maxRSS / 1024).toFixed(0),
    ]);
  }
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
  for (const r of rows) console.log(r.map((v, c) => v.padStart(widths[c])).join("  "));
  console.log("\nReference points on this class of machine (from the project brief, 2 threads): onnxruntime-node 110 ms, onnxruntime-web (WASM SIMD) 473 ms at 128 tokens.");
}

/** Run `fn` with linear() routed to the naive reference kernel. */
async function withNaiveKernel<T>(fn: () => T): Promise<T> {
  const naive = naiveLinearFactory();
  const unpack = (l: PackedLinear) => {
    // Recover W from the panel layout, as [in, out] for the naive stream.
    const { inFeatures: K, outFeatures: N, packed } = l;
    const wt = new Float32Array(K * N);
    for (let n = 0; n < N; n++) {
      const base = Math.floor(n / PANEL) * K * PANEL + (n % PANEL);
      for (let k = 0; k < K; k++) wt[k * N + n] = packed[base + k * PANEL];
    }
    return wt;
  };
  setLinearBackend((x, rows, layer) => naive(x, rows, layer, unpack));
  try {
    return fn();
  } finally {
    setLinearBackend(null);
  }
}

await main();

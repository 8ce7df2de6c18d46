/**
 * A random checkpoint with gliner2-base shapes (encoder 768/12/12/3072, vocab 128,011, count_lstm heads) in the
 * released folder layout, for the benchmarks: same seed, same weights every time.
 */
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import { writeSafetensors } from "../safetensorsWriter.js";

export const SHAPE = { hidden: 768, layers: 12, heads: 12, intermediate: 3072, vocab: 128_011, buckets: 256 };
export const SEED = 20251127;

/** Deterministic N(0, std²)-ish values (sum of uniforms), fast enough for 200M parameters. */
export function filler(seed: number) {
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

export type CheckpointShape = typeof SHAPE;

/**
 * Every tensor of a gliner2-base-shaped checkpoint (count_lstm heads; `heads: false` → the encoder's only), random
 * with a trained model's scales (N(0, 1/K) linear weights, unit LayerNorm gains). `shape` overrides base's sizes.
 */
export function randomTensors(opts: { seed?: number; heads?: boolean; shape?: Partial<CheckpointShape> } = {}): Record<string, { shape: number[]; data: Float32Array }> {
  const { hidden: H, layers, intermediate: I, vocab, buckets } = { ...SHAPE, ...opts.shape };
  const rand = filler(opts.seed ?? SEED);
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
  if (opts.heads === false) return t;
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

/** The encoder_config/config.json of a checkpoint of these sizes (base's by default). */
export function encoderConfig(shape: Partial<CheckpointShape> = {}) {
  const s = { ...SHAPE, ...shape };
  return { ...ENCODER_CONFIG, hidden_size: s.hidden, num_hidden_layers: s.layers, num_attention_heads: s.heads, intermediate_size: s.intermediate, vocab_size: s.vocab, position_buckets: s.buckets };
}

export const ENCODER_CONFIG = {
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

export function findTokenizer(root: string): { path: string; real: boolean } {
  const candidates = [process.env.GLINER2_TOKENIZER, join(root, "..", "shared", "real-tokenizer", "tokenizer.json")];
  for (const c of candidates) if (c && existsSync(c)) return { path: c, real: true };
  // The released tokenizer ships gzipped with the tests (test/fixtures/real-tokenizer/).
  const gz = join(root, "test", "fixtures", "real-tokenizer", "tokenizer.json.gz");
  if (existsSync(gz)) {
    const path = join(mkdtempSync(join(tmpdir(), "gliner2-tok-")), "tokenizer.json");
    writeFileSync(path, gunzipSync(readFileSync(gz)));
    return { path, real: true };
  }
  return { path: join(root, "test", "fixtures", "tiny-count_lstm", "tokenizer.json"), real: false };
}

/**
 * Write the random checkpoint as a folder. `count`: make the count head predict that many instances for every
 * schema (a large bias on that class of count_pred's last layer), as a trained model does for ordinary text (an
 * entity schema is one instance); left out, the random count head decides (often 15–19 instances).
 */
export function writeCheckpoint(dir: string, tokenizer: string, opts: { count?: number } = {}): void {
  mkdirSync(join(dir, "encoder_config"), { recursive: true });
  writeFileSync(join(dir, "config.json"), JSON.stringify({ model_type: "extractor", max_width: 8, token_pooling: "first", counting_layer: "count_lstm" }));
  writeFileSync(join(dir, "encoder_config", "config.json"), JSON.stringify(ENCODER_CONFIG));
  copyFileSync(tokenizer, join(dir, "tokenizer.json"));
  const tensors = randomTensors();
  if (opts.count !== undefined) tensors["count_pred.2.bias"].data[opts.count] += 1000;
  writeFileSync(join(dir, "model.safetensors"), writeSafetensors(tensors));
}


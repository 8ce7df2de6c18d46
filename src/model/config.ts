/**
 * Checkpoint configs: `config.json` (GLiNER2 ExtractorConfig) and `encoder_config/config.json` (DebertaV2Config).
 * Only what inference reads is kept; options whose behaviour we do not implement are rejected here, by name,
 * rather than silently computing something else.
 */
import { ConfigError } from "../errors.js";
import { describeValue } from "../quote.js";

export type CountingLayer = "count_lstm" | "count_lstm_v2";

export interface ExtractorConfig {
  /** Longest span, in words, that gets a representation (K). */
  readonly maxWidth: number;
  readonly countingLayer: CountingLayer;
  /** How a word's subwords are pooled into one vector; only "first" is implemented. */
  readonly tokenPooling: "first";
}

export interface DebertaConfig {
  readonly hiddenSize: number;
  readonly numLayers: number;
  readonly numHeads: number;
  readonly intermediateSize: number;
  readonly vocabSize: number;
  readonly layerNormEps: number;
  /** Log-bucketing size for relative positions (0 = no bucketing). */
  readonly positionBuckets: number;
  /** Largest relative distance (resolved: -1 in the file means max_position_embeddings). */
  readonly maxRelativePositions: number;
  /** Which disentangled terms are on: content→position and position→content. */
  readonly c2p: boolean;
  readonly p2c: boolean;
  /** Attention span k: relative positions index rows clamp(r + k, 0, 2k − 1) of the 2k-row relative embeddings. */
  readonly attSpan: number;
  readonly padTokenId: number;
}

type Json = Record<string, unknown>;

function asObject(raw: unknown, file: string): Json {
  let value = raw;
  if (typeof raw === "string") {
    try {
      value = JSON.parse(raw);
    } catch (e) {
      throw new ConfigError(file, `not valid JSON (${(e as Error).message})`);
    }
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) throw new ConfigError(file, "must be a JSON object");
  return value as Json;
}

function int(cfg: Json, file: string, key: string, opts: { min?: number; fallback?: number } = {}): number {
  const v = cfg[key] ?? opts.fallback;
  if (v === undefined) throw new ConfigError(file, "required field is missing", key);
  if (typeof v !== "number" || !Number.isInteger(v)) throw new ConfigError(file, `must be an integer, got ${describeValue(v)}`, key);
  if (opts.min !== undefined && v < opts.min) throw new ConfigError(file, `must be ≥ ${opts.min}, got ${v}`, key);
  return v;
}

/** Longest span (in words) a config may ask for. */
export const MAX_SPAN_WIDTH = 64;

/** Parse `config.json` of a GLiNER2 checkpoint. */
export function parseExtractorConfig(raw: unknown, file = "config.json"): ExtractorConfig {
  const cfg = asObject(raw, file);
  const countingLayer = cfg.counting_layer ?? "count_lstm";
  if (countingLayer !== "count_lstm" && countingLayer !== "count_lstm_v2") {
    throw new ConfigError(file, `counting layer ${describeValue(countingLayer)} is not implemented (supported: "count_lstm", "count_lstm_v2")`, "counting_layer");
  }
  const pooling = cfg.token_pooling ?? "first";
  if (pooling !== "first") {
    throw new ConfigError(file, `token pooling ${describeValue(pooling)} is not implemented (supported: "first")`, "token_pooling");
  }
  const maxWidth = int(cfg, file, "max_width", { min: 1, fallback: 8 });
  // Span tensors are [words, max_width, hidden]: a huge width would only ever mean a broken config (released: 8).
  if (maxWidth > MAX_SPAN_WIDTH) throw new ConfigError(file, `must be at most ${MAX_SPAN_WIDTH} words, got ${maxWidth}`, "max_width");
  return { maxWidth, countingLayer, tokenPooling: "first" };
}

/** Parse `encoder_config/config.json` (a DebertaV2Config). */
export function parseEncoderConfig(raw: unknown, file = "encoder_config/config.json"): DebertaConfig {
  const cfg = asObject(raw, file);
  const modelType = cfg.model_type;
  if (modelType !== undefined && modelType !== "deberta-v2") {
    throw new ConfigError(file, `encoder type ${describeValue(modelType)} is not implemented (supported: "deberta-v2")`, "model_type");
  }
  const reject = (key: string, ok: (v: unknown) => boolean, why: string) => {
    if (key in cfg && !ok(cfg[key])) throw new ConfigError(file, `${describeValue(cfg[key])} is not supported: ${why}`, key);
  };
  reject("relative_attention", (v) => v === true, "only relative (disentangled) attention is implemented");
  reject("position_biased_input", (v) => v === false, "absolute position embeddings added to the input are not implemented");
  reject("conv_kernel_size", (v) => v === 0 || v === null, "the convolution layer of DeBERTa-v2-xlarge is not implemented");
  reject("share_att_key", (v) => v === true, "separate position key/query projections are not implemented");
  reject("norm_rel_ebd", (v) => v === "layer_norm", 'only "layer_norm" normalisation of relative embeddings is implemented');
  reject("hidden_act", (v) => v === "gelu", 'only the exact-erf "gelu" activation is implemented');
  reject("type_vocab_size", (v) => v === 0, "token type embeddings are not implemented");
  const hiddenSize = int(cfg, file, "hidden_size", { min: 1 });
  if ("embedding_size" in cfg && cfg.embedding_size !== null && cfg.embedding_size !== hiddenSize) {
    throw new ConfigError(file, `embedding_size ${describeValue(cfg.embedding_size)} ≠ hidden_size ${hiddenSize}: the embedding projection is not implemented`, "embedding_size");
  }
  if (cfg.relative_attention === undefined) throw new ConfigError(file, "required field is missing (DeBERTa-v3 uses true)", "relative_attention");
  const numHeads = int(cfg, file, "num_attention_heads", { min: 1 });
  if (hiddenSize % numHeads !== 0) {
    throw new ConfigError(file, `hidden_size ${hiddenSize} is not divisible by num_attention_heads ${numHeads}`, "num_attention_heads");
  }
  const posAttType = cfg.pos_att_type ?? [];
  const types = typeof posAttType === "string" ? posAttType.toLowerCase().split("|") : posAttType;
  if (!Array.isArray(types) || !types.every((t) => t === "c2p" || t === "p2c")) {
    throw new ConfigError(file, `must list only "c2p" and "p2c", got ${describeValue(posAttType)}`, "pos_att_type");
  }
  const maxPositionEmbeddings = int(cfg, file, "max_position_embeddings", { min: 1, fallback: 512 });
  let maxRelativePositions = int(cfg, file, "max_relative_positions", { fallback: -1 });
  if (maxRelativePositions < 1) maxRelativePositions = maxPositionEmbeddings;
  const positionBuckets = int(cfg, file, "position_buckets", { fallback: -1 });
  const layerNormEps = cfg.layer_norm_eps ?? 1e-7;
  if (typeof layerNormEps !== "number" || !(layerNormEps > 0)) throw new ConfigError(file, "must be a positive number", "layer_norm_eps");
  return {
    hiddenSize,
    numLayers: int(cfg, file, "num_hidden_layers", { min: 1 }),
    numHeads,
    intermediateSize: int(cfg, file, "intermediate_size", { min: 1 }),
    vocabSize: int(cfg, file, "vocab_size", { min: 1 }),
    layerNormEps,
    positionBuckets,
    maxRelativePositions,
    c2p: types.includes("c2p"),
    p2c: types.includes("p2c"),
    attSpan: positionBuckets > 0 ? positionBuckets : maxRelativePositions,
    padTokenId: int(cfg, file, "pad_token_id", { fallback: 0 }),
  };
}

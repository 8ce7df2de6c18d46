/**
 * The DeBERTa-v3 encoder (transformers' DebertaV2Model, inference only): token embeddings + LayerNorm, then
 * layers of disentangled self-attention (content→content, content→position, position→content with shared key
 * projections and log-bucketed relative positions) and a GELU feed-forward, each followed by a post-LayerNorm.
 *
 * Shapes: a batch is `batch` rows of `length` tokens; activations are row-major `[batch·length, hidden]`.
 */
import { InputError } from "../errors.js";
import {
  addInPlace,
  geluErf,
  int8KernelIsDefault,
  isInt8,
  layerNorm,
  linear,
  matmul,
  matmulTransB,
  quantizeRows16,
  softmaxRowsMasked,
  type Int8Linear,
  type PackedLinear,
} from "../kernels/index.js";
import { activeVariant } from "../kernels/backend.js";
import type { DebertaConfig } from "./config.js";
import { encodeWasm, packPositionTables, wasmFloats, type WasmPositionTables } from "./debertaWasm.js";
import type { SafetensorsFile } from "./safetensors.js";
import { embeddingTable, embedRows, layerNormParams, linearLayer, weight, type EmbeddingTable } from "./weights.js";

interface Norm {
  gamma: Float32Array;
  beta: Float32Array;
}

export interface DebertaLayer {
  query: PackedLinear;
  key: PackedLinear;
  value: PackedLinear;
  attnOut: PackedLinear;
  attnNorm: Norm;
  intermediate: PackedLinear;
  output: PackedLinear;
  outputNorm: Norm;
  /**
   * query_proj / key_proj applied to the normalised relative embeddings, split per head: `[heads][2k, headDim]`.
   * They do not depend on the input, so they are computed once at load.
   */
  readonly posQuery: Float32Array[];
  readonly posKey: Float32Array[];
  /** The same, packed in WebAssembly memory for the attention kernel (when loaded on a wasm backend). */
  posTables?: WasmPositionTables;
}

export interface DebertaEncoder {
  readonly config: DebertaConfig;
  /** `[vocab, hidden]`, float or int8 with per-row scales (dequantized on lookup). */
  readonly wordEmbeddings: EmbeddingTable;
  readonly embeddingNorm: Norm;
  /** LayerNorm(rel_embeddings) `[2k, hidden]`, what attention indexes. */
  readonly relEmbeddings: Float32Array;
  readonly layers: DebertaLayer[];
}

/** Intermediate values, for tests and debugging; filled when passed to `encode`. */
export interface EncoderTrace {
  /** [0] = embedding output, [l] = output of layer l; each `[batch·length, hidden]`. */
  hiddenStates: Float32Array[];
  /** Layer 0 disentangled bias (c2p + p2c)/scale before masking, `[batch·heads, length, length]`. */
  layer0RelAtt?: Float32Array;
  /** Layer 0 attention probabilities `[batch, heads, length, length]`. */
  layer0Probs?: Float32Array;
}

/** Load the encoder weights (`${prefix}embeddings…`, `${prefix}encoder…`) and precompute position projections. */
export function loadDebertaEncoder(st: SafetensorsFile, config: DebertaConfig, prefix = "encoder."): DebertaEncoder {
  const H = config.hiddenSize;
  const I = config.intermediateSize;
  const heads = config.numHeads;
  const d = H / heads;
  const relRows = 2 * config.attSpan;
  const wordEmbeddings = embeddingTable(st, `${prefix}embeddings.word_embeddings.weight`, config.vocabSize, H);
  const embeddingNorm = layerNormParams(st, `${prefix}embeddings.LayerNorm`, H);
  const relNorm = layerNormParams(st, `${prefix}encoder.LayerNorm`, H);
  const relRaw = weight(st, `${prefix}encoder.rel_embeddings.weight`, [relRows, H]);
  const relEmbeddings = layerNorm(relRaw, relRows, H, relNorm.gamma, relNorm.beta, config.layerNormEps);
  const layers: DebertaLayer[] = [];
  const scratch = activeVariant() ? projectionScratch(config) : undefined;
  for (let l = 0; l < config.numLayers; l++) {
    const p = `${prefix}encoder.layer.${l}.`;
    const query = linearLayer(st, `${p}attention.self.query_proj`, H, H);
    const key = linearLayer(st, `${p}attention.self.key_proj`, H, H);
    const attnNorm = layerNormParams(st, `${p}attention.output.LayerNorm`, H);
    const outputNorm = layerNormParams(st, `${p}output.LayerNorm`, H);
    const linears = {
      query,
      key,
      value: linearLayer(st, `${p}attention.self.value_proj`, H, H),
      attnOut: linearLayer(st, `${p}attention.output.dense`, H, H),
      attnNorm,
      intermediate: linearLayer(st, `${p}intermediate.dense`, I, H),
      output: linearLayer(st, `${p}output.dense`, H, I),
      outputNorm,
    };
    layers.push(withProjections(linears, positionProjections(relEmbeddings, config, query, key, attnNorm, outputNorm, scratch)));
  }
  return { config, wordEmbeddings, embeddingNorm, relEmbeddings, layers };
}

/**
 * query_proj / key_proj applied to the relative embeddings (they do not depend on the input: computed once per
 * load, and again when an adapter changes query or key). On the wasm backend they live packed in WebAssembly
 * memory, and the JS copies (only the js forward reads them) are made on first use instead of being kept twice.
 * The result has getters: copy it with its property descriptors, not with a spread, to keep them lazy.
 */
export function positionProjections(
  relEmbeddings: Float32Array,
  config: DebertaConfig,
  query: PackedLinear,
  key: PackedLinear,
  attnNorm: Norm,
  outputNorm: Norm,
  scratch?: ProjectionScratch,
): Pick<DebertaLayer, "posQuery" | "posKey" | "posTables"> {
  const H = config.hiddenSize;
  const heads = config.numHeads;
  const d = H / heads;
  const relRows = 2 * config.attSpan;
  const wasm = activeVariant();
  // int8 query/key layers: their position tables are int16 (per-row scales; see roundPositionTable).
  const int8 = isInt8(query) && isInt8(key);
  const project = (layer: PackedLinear) => () => roundPositionTable(splitHeads(linear(relEmbeddings, relRows, layer), relRows, heads, d), relRows, d, int8);
  const posQuery = lazy(project(query), !wasm);
  const posKey = lazy(project(key), !wasm);
  return {
    get posQuery() {
      return posQuery();
    },
    get posKey() {
      return posKey();
    },
    // Tables only for layers the WebAssembly forward can run (no run-time deltas: see runsOnWasm).
    posTables: wasm && onWasm(query) && onWasm(key) && !query.deltas && !key.deltas
      ? {
          ...packPositionTables(wasm, projectInto(relEmbeddings, relRows, key, heads, scratch?.flat, scratch?.key), projectInto(relEmbeddings, relRows, query, heads, scratch?.flat, scratch?.query), relRows, d, int8),
          norms: { attnGamma: wasmFloats(attnNorm.gamma), attnBeta: wasmFloats(attnNorm.beta), outGamma: wasmFloats(outputNorm.gamma), outBeta: wasmFloats(outputNorm.beta) },
        }
      : undefined,
  };
}

/**
 * The per-head position tables `[relRows, d]` of int8 layers, rounded to int16 with one scale per row
 * (`quantizeRows16`) and back, in place: the WebAssembly forward keeps them as int16 (half the memory of float32:
 * 18 of base's 36 MiB), and the js forward reads the same values.
 */
function roundPositionTable(perHead: Float32Array[], relRows: number, d: number, int8: boolean): Float32Array[] {
  if (!int8) return perHead;
  const q = new Int16Array(relRows * d);
  const scales = new Float32Array(relRows);
  for (const t of perHead) {
    quantizeRows16(t, relRows, d, q, scales);
    for (let r = 0; r < relRows; r++) for (let k = 0; k < d; k++) t[r * d + k] = q[r * d + k] * scales[r];
  }
  return perHead;
}

/**
 * Buffers the loader reuses for every layer's position projections on their way into WebAssembly memory (a fresh
 * 3 MB per layer would be garbage the allocator keeps resident): `[relRows, hidden]` and two sets of per-head
 * `[relRows, d]` arrays.
 */
export interface ProjectionScratch {
  readonly flat: Float32Array;
  readonly key: Float32Array[];
  readonly query: Float32Array[];
}

/**
 * One projection split per head, into the given buffers when there are some (a plain function: a closure beside
 * the lazy getters would keep the loader's scratch alive as long as the model).
 */
function projectInto(relEmbeddings: Float32Array, relRows: number, layer: PackedLinear, heads: number, flat?: Float32Array, out?: Float32Array[]): Float32Array[] {
  return splitHeads(linear(relEmbeddings, relRows, layer, flat), relRows, heads, layer.outFeatures / heads, out);
}

function projectionScratch(config: DebertaConfig): ProjectionScratch {
  const relRows = 2 * config.attSpan;
  const d = config.hiddenSize / config.numHeads;
  const perHead = () => Array.from({ length: config.numHeads }, () => new Float32Array(relRows * d));
  return { flat: new Float32Array(relRows * config.hiddenSize), key: perHead(), query: perHead() };
}

/** `layer` with the (lazy) position projections set, copied by property descriptor so they stay lazy. */
export function withProjections(layer: Omit<DebertaLayer, "posQuery" | "posKey" | "posTables">, pos: Pick<DebertaLayer, "posQuery" | "posKey" | "posTables">): DebertaLayer {
  const out = Object.defineProperties({}, Object.getOwnPropertyDescriptors(layer)) as Record<string, unknown>;
  for (const name of ["posQuery", "posKey", "posTables"] as const) {
    delete out[name];
    Object.defineProperty(out, name, { ...Object.getOwnPropertyDescriptor(pos, name)!, configurable: true });
  }
  return out as unknown as DebertaLayer;
}

/**
 * Is this linear layer's weight in WebAssembly memory (float panels, or int8 panels while the default int8 kernel
 * is in use: see int8KernelIsDefault)?
 */
function onWasm(l: PackedLinear): boolean {
  return l.wasm !== undefined || ((l as Partial<Int8Linear>).wasmInt8 !== undefined && int8KernelIsDefault());
}

/**
 * Can the WebAssembly forward run this layer? Every linear layer packed for it (float or int8), no run-time LoRA
 * deltas (the js forward adds them through linear()), and position tables made from its own query/key projections.
 */
function runsOnWasm(layer: DebertaLayer): boolean {
  const linears = [layer.query, layer.key, layer.value, layer.attnOut, layer.intermediate, layer.output];
  return layer.posTables !== undefined && linears.every((l) => onWasm(l) && l.deltas === undefined);
}

/** A value computed once: now (`eager`) or on first call. */
function lazy<T>(make: () => T, eager: boolean): () => T {
  let value: T | undefined = eager ? make() : undefined;
  return () => (value ??= make());
}

/** `[rows, heads·d]` → one contiguous `[rows, d]` array per head. */
export function splitHeads(x: Float32Array, rows: number, heads: number, d: number, out?: Float32Array[]): Float32Array[] {
  const H = heads * d;
  const result = out ?? Array.from({ length: heads }, () => new Float32Array(rows * d));
  for (let h = 0; h < heads; h++) {
    const dst = result[h];
    for (let r = 0; r < rows; r++) {
      const src = r * H + h * d;
      for (let c = 0; c < d; c++) dst[r * d + c] = x[src + c];
    }
  }
  return result;
}

/**
 * Log-bucketed relative position of query i and key j, as a function of δ = i − j: |δ| ≤ buckets/2 keeps δ,
 * larger distances share logarithmically wider buckets up to maxPosition. The float32 rounding of the reference
 * is reproduced (Math.fround at each step) because the bucket boundary is a ceil().
 */
export function relativeBucket(delta: number, buckets: number, maxPosition: number): number {
  if (buckets <= 0 || maxPosition <= 0) return delta;
  const mid = Math.floor(buckets / 2);
  const sign = Math.sign(delta);
  const abs = Math.abs(delta);
  if (abs <= mid) return delta;
  const f = Math.fround;
  const ratio = f(Math.log(f(abs / mid)));
  const base = f(Math.log(f((maxPosition - 1) / mid)));
  const logPos = Math.ceil(f(f(ratio / base) * (mid - 1))) + mid;
  return sign * logPos;
}

/** Relative positions r(i, j) for a length-L sequence, `[L, L]` (what transformers calls relative_pos). */
export function relativePositions(length: number, config: DebertaConfig): Int32Array {
  const out = new Int32Array(length * length);
  for (let i = 0; i < length; i++) {
    for (let j = 0; j < length; j++) out[i * length + j] = relativeBucket(i - j, config.positionBuckets, config.maxRelativePositions);
  }
  return out;
}

/**
 * Row of the relative embedding table used for the pair (i, j), as a function of δ = i − j:
 * `clamp(r + k, 0, 2k − 1)`. Index `δ + length − 1`.
 */
function relIndexByDelta(length: number, config: DebertaConfig): Int32Array {
  const k = config.attSpan;
  const out = new Int32Array(2 * length - 1);
  for (let delta = -(length - 1); delta < length; delta++) {
    const r = relativeBucket(delta, config.positionBuckets, config.maxRelativePositions);
    out[delta + length - 1] = Math.min(Math.max(r + k, 0), 2 * k - 1);
  }
  return out;
}

/**
 * Run the encoder. `inputIds` and `attentionMask` are `[batch, length]`; returns the last hidden state
 * `[batch, length, hidden]`. Positions with mask 0 are padding: they never influence real positions, and their
 * own outputs carry no meaning.
 */
export function encode(
  enc: DebertaEncoder,
  inputIds: Int32Array | readonly number[],
  attentionMask: Uint8Array | Int32Array | readonly number[],
  batch: number,
  length: number,
  trace?: EncoderTrace,
): Float32Array {
  const cfg = enc.config;
  const H = cfg.hiddenSize;
  const heads = cfg.numHeads;
  const d = H / heads;
  const rows = batch * length;
  if (!Number.isInteger(batch) || !Number.isInteger(length) || batch < 1 || length < 1) {
    throw new InputError("encode", `batch (${batch}) and length (${length}) must be positive integers`);
  }
  if (inputIds.length !== rows) throw new InputError("inputIds", `has ${inputIds.length} ids, expected batch×length = ${rows}`);
  if (attentionMask.length !== rows) throw new InputError("attentionMask", `has ${attentionMask.length} values, expected ${rows}`);

  for (let t = 0; t < rows; t++) {
    const id = inputIds[t];
    if (!Number.isInteger(id) || id < 0 || id >= cfg.vocabSize) {
      throw new InputError("inputIds", `token id ${id} at row ${Math.floor(t / length)}, position ${t % length} is outside the vocabulary [0, ${cfg.vocabSize})`);
    }
  }
  // Embeddings: look up, normalise, zero the padding rows.
  const embed = (x: Float32Array): void => {
    embedRows(enc.wordEmbeddings, inputIds, rows, H, x);
    layerNorm(x, rows, H, enc.embeddingNorm.gamma, enc.embeddingNorm.beta, cfg.layerNormEps, x);
    for (let t = 0; t < rows; t++) if (!attentionMask[t]) x.fill(0, t * H, (t + 1) * H);
  };
  const relIdx = relIndexByDelta(length, cfg);
  // The WebAssembly forward, when the kernels are on and this encoder was packed for them.
  if (activeVariant() && enc.layers.every(runsOnWasm)) {
    return encodeWasm(enc, attentionMask, batch, length, relIdx, embed, trace);
  }

  let x: Float32Array = new Float32Array(rows * H);
  embed(x);
  trace?.hiddenStates.push(x.slice());

  let cMin = Infinity;
  let cMax = -Infinity;
  for (const c of relIdx) {
    cMin = Math.min(cMin, c);
    cMax = Math.max(cMax, c);
  }
  const nc = cMax - cMin + 1; // only these relative-embedding rows can be reached at this length
  const scaleFactor = 1 + (cfg.c2p ? 1 : 0) + (cfg.p2c ? 1 : 0);
  // float32, as the WebAssembly kernel receives it (and as PyTorch holds its scale)
  const invScale = Math.fround(1 / Math.sqrt(d * scaleFactor));

  // Scratch buffers reused across layers and heads.
  const ctx = new Float32Array(rows * H);
  const qh = new Float32Array(length * d);
  const kh = new Float32Array(length * d);
  const vh = new Float32Array(length * d);
  const scores = new Float32Array(length * length);
  const c2p = new Float32Array(length * nc);
  const p2c = new Float32Array(length * nc);
  const headCtx = new Float32Array(length * d);
  if (trace) {
    trace.layer0RelAtt = new Float32Array(batch * heads * length * length);
    trace.layer0Probs = new Float32Array(batch * heads * length * length);
  }

  enc.layers.forEach((layer, l) => {
    const q = linear(x, rows, layer.query);
    const k = linear(x, rows, layer.key);
    const v = linear(x, rows, layer.value);
    for (let b = 0; b < batch; b++) {
      const base = b * length;
      for (let h = 0; h < heads; h++) {
        gatherHead(q, base, length, H, h, d, qh);
        gatherHead(k, base, length, H, h, d, kh);
        gatherHead(v, base, length, H, h, d, vh);
        matmulTransB(qh, kh, length, d, length, scores);
        if (cfg.c2p) matmulTransB(qh, layer.posKey[h].subarray(cMin * d, (cMax + 1) * d), length, d, nc, c2p);
        if (cfg.p2c) matmulTransB(kh, layer.posQuery[h].subarray(cMin * d, (cMax + 1) * d), length, d, nc, p2c);
        const relOut = trace && l === 0 ? trace.layer0RelAtt!.subarray((b * heads + h) * length * length) : null;
        for (let i = 0; i < length; i++) {
          for (let j = 0; j < length; j++) {
            const c = relIdx[i - j + length - 1] - cMin;
            let rel = 0;
            if (cfg.c2p) rel += c2p[i * nc + c];
            if (cfg.p2c) rel += p2c[j * nc + c];
            rel *= invScale;
            if (relOut) relOut[i * length + j] = rel;
            scores[i * length + j] = scores[i * length + j] * invScale + rel;
          }
        }
        // Pairs with a padding token on either side are left out (padding query rows come out uniform).
        softmaxRowsMasked(scores, length, length, attentionMask, attentionMask, base, base);
        if (trace && l === 0) trace.layer0Probs!.set(scores, (b * heads + h) * length * length);
        matmul(scores, vh, length, length, d, headCtx);
        scatterHead(headCtx, base, length, H, h, d, ctx);
      }
    }
    const attn = linear(ctx, rows, layer.attnOut);
    addInPlace(attn, x);
    layerNorm(attn, rows, H, layer.attnNorm.gamma, layer.attnNorm.beta, cfg.layerNormEps, attn);
    const inter = geluErf(linear(attn, rows, layer.intermediate));
    const out = linear(inter, rows, layer.output);
    addInPlace(out, attn);
    layerNorm(out, rows, H, layer.outputNorm.gamma, layer.outputNorm.beta, cfg.layerNormEps, out);
    x = out;
    trace?.hiddenStates.push(x.slice());
  });
  return x;
}

/** Copy head h of rows [base, base+length) of `src [*, H]` into `dst [length, d]`. */
function gatherHead(src: Float32Array, base: number, length: number, H: number, h: number, d: number, dst: Float32Array): void {
  for (let r = 0; r < length; r++) {
    const o = (base + r) * H + h * d;
    for (let c = 0; c < d; c++) dst[r * d + c] = src[o + c];
  }
}

/** Inverse of gatherHead. */
function scatterHead(src: Float32Array, base: number, length: number, H: number, h: number, d: number, dst: Float32Array): void {
  for (let r = 0; r < length; r++) {
    const o = (base + r) * H + h * d;
    for (let c = 0; c < d; c++) dst[o + c] = src[r * d + c];
  }
}

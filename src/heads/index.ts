/**
 * GLiNER2's heads on top of the encoder: span representation, count predictor, count embedding and
 * classifier. `loadHeads` reads and checks every head tensor; the other functions are plain computations.
 */
import { WeightsError } from "../errors.js";
import { int8Linear, linear, matmulTransB, packLinear, type PackedLinear } from "../kernels/index.js";
import type { SafetensorsFile } from "../model/safetensors.js";
import { floats, int8Weight, layerNormParams, linearFrom, linearLayer, weight } from "../model/weights.js";
import type { CountingLayer } from "../model/config.js";
import { runGru, type GruWeights } from "./gru.js";
import { loadMlp, runMlp, type Mlp } from "./mlp.js";
import { scratch } from "./scratch.js";
import { computeSpanHalves, computeSpanRep, factoredPays, sigmoidByField, spanHiddenScratch, spanScoresFromHalves, type SpanHalves, type SpanRepWeights } from "./spanRep.js";
import { runTransformerLayer, type TransformerLayerWeights } from "./transformerLayer.js";

/** Instance counts the count head can predict: 0 … MAX_COUNT − 1. */
export const MAX_COUNT = 20;
/** Attention heads of count_lstm_v2's small transformer (fixed in the official code, not stored in weights). */
export const COUNT_TRANSFORMER_HEADS = 4;

export interface CountEmbedWeights {
  readonly kind: CountingLayer;
  /** `[MAX_COUNT, H]`: the GRU input at step t is row t. */
  readonly posEmbedding: Float32Array;
  readonly gru: GruWeights;
  /** count_lstm: MLP on [gru_out; field]. */
  readonly projector: Mlp | null;
  /** count_lstm_v2: in_projector → transformer layers → out_projector([t; x]). */
  readonly inProjector: PackedLinear | null;
  readonly transformer: readonly TransformerLayerWeights[];
  readonly outProjector: Mlp | null;
}

export interface Heads {
  readonly hidden: number;
  readonly spanRep: SpanRepWeights;
  readonly countPred: Mlp;
  readonly classifier: Mlp;
  readonly countEmbed: CountEmbedWeights;
}

export function loadHeads(st: SafetensorsFile, opts: { hidden: number; maxWidth: number; countingLayer: CountingLayer }): Heads {
  const H = opts.hidden;
  const sr = "span_rep.span_rep_layer";
  const spanRep: SpanRepWeights = {
    projectStart: loadMlp(st, `${sr}.project_start`, [0, 3], [H, 4 * H, H]),
    projectEnd: loadMlp(st, `${sr}.project_end`, [0, 3], [H, 4 * H, H]),
    ...splitOutProject(st, `${sr}.out_project`, H),
    maxWidth: opts.maxWidth,
  };
  const countPred = loadMlp(st, "count_pred", [0, 2], [H, 2 * H, MAX_COUNT]);
  const classifier = loadMlp(st, "classifier", [0, 2], [H, 2 * H, 1]);
  return { hidden: H, spanRep, countPred, classifier, countEmbed: loadCountEmbed(st, H, opts.countingLayer) };
}

function loadCountEmbed(st: SafetensorsFile, H: number, kind: CountingLayer): CountEmbedWeights {
  const p = "count_embed";
  const posName = `${p}.pos_embedding.weight`;
  if (!st.has(posName)) throw new WeightsError(posName, `missing from ${st.label} (needed by counting layer "${kind}")`);
  const posInfo = st.info(posName);
  if (posInfo.shape.length !== 2 || posInfo.shape[1] !== H || posInfo.shape[0] < MAX_COUNT) {
    throw new WeightsError(posName, `has shape [${posInfo.shape.join(", ")}], expected [${MAX_COUNT}, ${H}]`);
  }
  const base = { kind, posEmbedding: floats(st, posName), gru: gruLayer(st, `${p}.gru`, H) };
  if (kind === "count_lstm") {
    return { ...base, projector: loadMlp(st, `${p}.projector`, [0, 2], [2 * H, 4 * H, H]), inProjector: null, transformer: [], outProjector: null };
  }
  const t = `${p}.transformer`;
  const inName = `${t}.in_projector.weight`;
  if (!st.has(inName)) throw new WeightsError(inName, `missing from ${st.label} (needed by counting layer "count_lstm_v2")`);
  const inner = st.info(inName).shape[0];
  if (inner % COUNT_TRANSFORMER_HEADS !== 0) throw new WeightsError(inName, `inner width ${inner} is not divisible by ${COUNT_TRANSFORMER_HEADS} heads`);
  const layers: TransformerLayerWeights[] = [];
  for (let l = 0; st.has(`${t}.transformer.layers.${l}.self_attn.in_proj_weight`); l++) {
    const lp = `${t}.transformer.layers.${l}`;
    const ffnName = `${lp}.linear1.weight`;
    const ffn = st.has(ffnName) ? st.info(ffnName).shape[0] : 2 * inner;
    layers.push({
      inProj: linearFromNames(st, `${lp}.self_attn.in_proj_weight`, `${lp}.self_attn.in_proj_bias`, 3 * inner, inner),
      outProj: linearLayer(st, `${lp}.self_attn.out_proj`, inner, inner),
      linear1: linearLayer(st, `${lp}.linear1`, ffn, inner),
      linear2: linearLayer(st, `${lp}.linear2`, inner, ffn),
      norm1: layerNormParams(st, `${lp}.norm1`, inner),
      norm2: layerNormParams(st, `${lp}.norm2`, inner),
      heads: COUNT_TRANSFORMER_HEADS,
      eps: 1e-5,
    });
  }
  if (layers.length === 0) throw new WeightsError(`${t}.transformer.layers.0.self_attn.in_proj_weight`, `missing from ${st.label} (count_lstm_v2 needs at least one layer)`);
  return {
    ...base,
    projector: null,
    inProjector: linearLayer(st, `${t}.in_projector`, inner, H),
    transformer: layers,
    outProjector: loadMlp(st, `${t}.out_projector`, [0, 2, 4], [inner + H, H, H, H]),
  };
}

/** out_project = Linear(2H→4H) → ReLU → Linear(4H→H), with the first layer split into its start and end halves. */
function splitOutProject(st: SafetensorsFile, prefix: string, H: number) {
  const b = weight(st, `${prefix}.0.bias`, [4 * H]);
  const outSecond = linearLayer(st, `${prefix}.3`, H, 4 * H);
  const q = int8Weight(st, `${prefix}.0.weight`, 4 * H, 2 * H);
  if (q) {
    // int8: each row keeps its one scale in both halves (the split is exact, as in float).
    const startQ = new Int8Array(4 * H * H);
    const endQ = new Int8Array(4 * H * H);
    for (let r = 0; r < 4 * H; r++) {
      startQ.set(q.q.subarray(r * 2 * H, r * 2 * H + H), r * H);
      endQ.set(q.q.subarray(r * 2 * H + H, (r + 1) * 2 * H), r * H);
    }
    return {
      outStartHalf: int8Linear({ rows: 4 * H, cols: H, q: startQ, scales: q.scales }, b),
      outEndHalf: int8Linear({ rows: 4 * H, cols: H, q: endQ, scales: q.scales }, null),
      outSecond,
    };
  }
  const w = weight(st, `${prefix}.0.weight`, [4 * H, 2 * H]);
  const startHalf = new Float32Array(4 * H * H);
  const endHalf = new Float32Array(4 * H * H);
  for (let r = 0; r < 4 * H; r++) {
    startHalf.set(w.subarray(r * 2 * H, r * 2 * H + H), r * H);
    endHalf.set(w.subarray(r * 2 * H + H, (r + 1) * 2 * H), r * H);
  }
  return {
    outStartHalf: packLinear(startHalf, 4 * H, H, b),
    outEndHalf: packLinear(endHalf, 4 * H, H, null),
    outSecond,
  };
}

/** A Linear whose tensors are not named `.weight`/`.bias` (attention in-projection, GRU gates). */
function linearFromNames(st: SafetensorsFile, weightName: string, biasName: string, out: number, inp: number): PackedLinear {
  return linearFrom(st, weightName, biasName, out, inp);
}

/** A one-layer PyTorch GRU: gates stacked r, z, n in weight_ih_l0 / weight_hh_l0. */
function gruLayer(st: SafetensorsFile, prefix: string, H: number): GruWeights {
  return {
    inputGates: linearFromNames(st, `${prefix}.weight_ih_l0`, `${prefix}.bias_ih_l0`, 3 * H, H),
    hiddenGates: linearFromNames(st, `${prefix}.weight_hh_l0`, `${prefix}.bias_hh_l0`, 3 * H, H),
    hidden: H,
  };
}

/** Span representations `[W, K, H]` of `wordEmb [W, H]`. */
export function spanRep(heads: Heads, wordEmb: Float32Array, W: number): Float32Array {
  return computeSpanRep(heads.spanRep, wordEmb, W);
}

/** The per-word halves of the span hidden layer of `wordEmb [W, H]` (spanRep.ts `SpanHalves`). */
export function spanHalves(heads: Heads, wordEmb: Float32Array, W: number): SpanHalves {
  return computeSpanHalves(heads.spanRep, wordEmb, W);
}

/**
 * out_project's hidden layer for every span `[W·K, 4H]` (what `spanRep` applies the last Linear to), from the
 * halves, in a reused buffer valid until the next call.
 */
export function spanHiddenFrom(heads: Heads, halves: SpanHalves): Float32Array {
  return spanHiddenScratch(heads.spanRep, halves);
}

/**
 * Span scores `[count, F, W, K]`: factored (no span representations, see spanRep.ts) when that is cheaper for
 * this many fields, else through `rep()` (the representations, formed once per text).
 */
export function spanScoresFast(heads: Heads, halves: SpanHalves, rep: () => Float32Array, W: number, structProj: Float32Array, count: number, F: number): Float32Array {
  const w = heads.spanRep;
  const spans = W * w.maxWidth;
  if (factoredPays(spans, w.outSecond.inFeatures, heads.hidden, count * F)) return spanScoresFromHalves(w, halves, structProj, count * F);
  return spanScores(rep(), W, w.maxWidth, structProj, count, F, heads.hidden);
}

/** Count logits `[MAX_COUNT]` from the schema's [P] embedding `[H]`. */
export function countLogits(heads: Heads, pEmb: Float32Array): Float32Array {
  return runMlp(heads.countPred, pEmb, 1);
}

/** argmax of the count logits (first maximum on ties, like torch.argmax). */
export function predictCount(logits: Float32Array): number {
  let best = 0;
  for (let i = 1; i < logits.length; i++) if (logits[i] > logits[best]) best = i;
  return best;
}

/** Count-conditioned field vectors `[count, F, H]` from the field embeddings `[F, H]`. */
export function countEmbed(heads: Heads, fieldEmb: Float32Array, F: number, count: number): Float32Array {
  const ce = heads.countEmbed;
  const H = heads.hidden;
  const steps = Math.min(count, MAX_COUNT);
  // Step t feeds pos_embedding[t] to every field (the fields are the GRU's batch).
  const gruOut = runGru(ce.gru, ce.posEmbedding.subarray(0, steps * H), fieldEmb, F, steps);
  const rows = steps * F;
  if (ce.kind === "count_lstm") {
    const cat = scratch(ce.projector, rows * 2 * H); // every value written below
    for (let r = 0; r < rows; r++) {
      cat.set(gruOut.subarray(r * H, (r + 1) * H), r * 2 * H);
      cat.set(fieldEmb.subarray((r % F) * H, (r % F + 1) * H), r * 2 * H + H);
    }
    return runMlp(ce.projector!, cat, rows);
  }
  // count_lstm_v2: x = gru_out + field; out_projector([T(in_projector(x)); x]) with attention across fields.
  const x = gruOut;
  for (let r = 0; r < rows; r++) for (let j = 0; j < H; j++) x[r * H + j] += fieldEmb[(r % F) * H + j];
  let t: Float32Array = linear(x, rows, ce.inProjector!);
  for (const layer of ce.transformer) t = runTransformerLayer(layer, t, steps, F);
  const inner = ce.inProjector!.outFeatures;
  const cat = scratch(ce.outProjector, rows * (inner + H)); // every value written below
  for (let r = 0; r < rows; r++) {
    cat.set(t.subarray(r * inner, (r + 1) * inner), r * (inner + H));
    cat.set(x.subarray(r * H, (r + 1) * H), r * (inner + H) + inner);
  }
  return runMlp(ce.outProjector!, cat, rows);
}

/** sigmoid(span_rep · struct_proj): `[count, F, W, K]`. */
export function spanScores(rep: Float32Array, W: number, K: number, structProj: Float32Array, count: number, F: number, H: number): Float32Array {
  const spans = W * K;
  const fields = count * F;
  return sigmoidByField(matmulTransB(rep, structProj, spans, H, fields), spans, fields);
}

/** Classifier logits `[n]` of the label embeddings `[n, H]`. */
export function classifierLogits(heads: Heads, labelEmb: Float32Array, n: number): Float32Array {
  return runMlp(heads.classifier, labelEmb, n);
}

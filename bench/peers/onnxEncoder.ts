/**
 * The whole DeBERTa-v3 encoder as an ONNX graph, written by hand, for running the same weights in onnxruntime.
 * It mirrors what transformers' DebertaV2Model (v4.47, the version the fixtures were made with) computes and what
 * an ONNX export of it contains, op for op:
 *  - embeddings: Gather(word_embeddings) → LayerNormalization → × mask;
 *  - relative embeddings: LayerNormalization(rel_embeddings[0 : 2k]), and per layer query_proj / key_proj of
 *    them (shared keys). They depend only on weights: onnxruntime's constant folding computes them once at
 *    session creation, as our engine does at load;
 *  - attention: Q·(Kᵀ/scale), c2p = Q·PKᵀ over all 2k relative rows then GatherElements at clamp(r + k),
 *    p2c = K·PQᵀ then GatherElements at clamp(−r + k) and a transpose, scale = sqrt(3d), the pair mask
 *    (mask_i · mask_j) applied with Where(·, float32 min), Softmax, P·V;
 *  - attention output dense + residual LayerNormalization, FFN with exact GELU (x · ½ · (1 + erf(x/√2))),
 *    output dense + residual LayerNormalization.
 * Shapes are fixed per (batch, length): the relative-position tables, which the export computes from the
 * sequence length, are initializers computed here (the export's own are folded to the same constants).
 */
import type { DebertaConfig } from "../../src/model/config.js";
import { relativeBucket } from "../../src/model/deberta.js";
import { DT, graphBuilder } from "./onnx.js";

/** An encoder weight by its checkpoint name (e.g. `encoder.encoder.layer.0.attention.self.query_proj.weight`). */
export type WeightSource = (name: string) => Float32Array;

export interface EncoderGraphOptions {
  batch: number;
  length: number;
  /** Tensor-name prefix of the encoder in the checkpoint. */
  prefix?: string;
  /** Put the model bytes on a SharedArrayBuffer (to hand them to worker threads without copying). */
  shared?: boolean;
}

export const INPUT_IDS = "input_ids";
export const ATTENTION_MASK = "attention_mask";
export const LAST_HIDDEN_STATE = "last_hidden_state";

/** ModelProto bytes: inputs input_ids, attention_mask (int64 [batch, length]), output last_hidden_state [batch, length, hidden]. */
export function encoderOnnx(weight: WeightSource, cfg: DebertaConfig, opts: EncoderGraphOptions): Uint8Array {
  const { batch: B, length: L, prefix = "encoder." } = opts;
  if (!cfg.c2p || !cfg.p2c) throw new Error("onnx peer: only pos_att_type [p2c, c2p] (DeBERTa-v3) is written");
  const H = cfg.hiddenSize;
  const nh = cfg.numHeads;
  const d = H / nh;
  const I = cfg.intermediateSize;
  const k = cfg.attSpan;
  const g = graphBuilder();
  const i64 = (name: string, values: number[]) => g.init(name, [values.length], BigInt64Array.from(values.map(BigInt)));
  const f32 = (name: string, value: number) => g.init(name, [], Float32Array.of(value));
  const w = (name: string, len: number) => {
    const data = weight(`${prefix}${name}`);
    if (data.length !== len) throw new Error(`onnx peer: ${prefix}${name} has ${data.length} values, expected ${len}`);
    return data;
  };
  /** nn.Linear as exported: MatMul with the transposed weight [in, out], then Add bias. */
  const linearInit = (name: string, out: number, inp: number) => {
    const wt = w(`${name}.weight`, out * inp);
    const t = new Float32Array(inp * out);
    for (let o = 0; o < out; o++) for (let i = 0; i < inp; i++) t[i * out + o] = wt[o * inp + i];
    return { w: g.init(`${name}.weight_t`, [inp, out], t), b: g.init(`${name}.bias`, [out], w(`${name}.bias`, out)) };
  };
  const linear = (x: string, l: { w: string; b: string }) => g.op("Add", [g.op("MatMul", [x, l.w]), l.b]);
  const norm = (x: string, name: string) =>
    g.op("LayerNormalization", [x, g.init(`${name}.weight`, [H], w(`${name}.weight`, H)), g.init(`${name}.bias`, [H], w(`${name}.bias`, H))], { axis: -1, epsilon: { float: cfg.layerNormEps } });

  // Constants.
  const axes1 = i64("axes_1", [1]);
  const axes2 = i64("axes_2", [2]);
  const axes3 = i64("axes_3", [3]);
  const headsShape = i64("shape_heads", [B, L, nh, d]);
  const hiddenShape = i64("shape_hidden", [B, L, H]);
  const relHeadsShape = i64("shape_rel_heads", [1, 2 * k, nh, d]);
  const scoresShape = i64("shape_scores", [B, nh, L, L]);
  const scale = f32("scale", Math.sqrt(d * 3));
  const floatMin = f32("float_min", -3.4028234663852886e38);
  const one = f32("one", 1);
  const half = f32("half", 0.5);
  const sqrt2 = f32("sqrt2", Math.SQRT2);
  // Relative positions → rows of the relative tables: c2p row clamp(r(i, j) + k) for query i; p2c is gathered
  // along key j's row at clamp(−r(j, i) + k) and then transposed (r(j, i) = −r(i, j): the same table, indexed [j][i]).
  const c2pIdx = new BigInt64Array(L * L);
  const p2cIdx = new BigInt64Array(L * L);
  const clampRow = (v: number) => BigInt(Math.min(Math.max(v, 0), 2 * k - 1));
  for (let i = 0; i < L; i++) {
    for (let j = 0; j < L; j++) {
      const r = relativeBucket(i - j, cfg.positionBuckets, cfg.maxRelativePositions);
      c2pIdx[i * L + j] = clampRow(r + k);
      p2cIdx[i * L + j] = clampRow(-r + k);
    }
  }
  const c2pPos = g.op("Expand", [g.init("c2p_pos", [1, 1, L, L], c2pIdx), scoresShape]);
  const p2cPos = g.op("Expand", [g.init("p2c_pos", [1, 1, L, L], p2cIdx), scoresShape]);

  // Embeddings.
  const maskF = g.op("Cast", [ATTENTION_MASK], { to: DT.FLOAT });
  let x = g.op("Mul", [norm(g.op("Gather", [g.init("word_embeddings", [cfg.vocabSize, H], w("embeddings.word_embeddings.weight", cfg.vocabSize * H)), INPUT_IDS]), "embeddings.LayerNorm"), g.op("Unsqueeze", [maskF, axes2])]);
  // Pair mask [B, 1, L, L] = mask[b, i] · mask[b, j].
  const maskRow = g.op("Unsqueeze", [g.op("Unsqueeze", [ATTENTION_MASK, axes1]), axes2]); // [B, 1, 1, L]
  const maskCol = g.op("Unsqueeze", [g.op("Unsqueeze", [ATTENTION_MASK, axes1]), axes3]); // [B, 1, L, 1]
  const pairMask = g.op("Cast", [g.op("Mul", [maskRow, maskCol])], { to: DT.BOOL });

  // LayerNorm(rel_embeddings), first 2k rows.
  const relRows = weight(`${prefix}encoder.rel_embeddings.weight`);
  if (relRows.length < 2 * k * H) throw new Error(`onnx peer: rel_embeddings has ${relRows.length / H} rows, need ${2 * k}`);
  const rel = norm(g.init("rel_embeddings", [2 * k, H], relRows.subarray(0, 2 * k * H)), "encoder.LayerNorm");

  /** [B, L, H] → [B, nh, L, d]. */
  const heads = (t: string) => g.op("Transpose", [g.op("Reshape", [t, headsShape])], { perm: [0, 2, 1, 3] });
  for (let l = 0; l < cfg.numLayers; l++) {
    const p = `encoder.layer.${l}.`;
    const qProj = linearInit(`${p}attention.self.query_proj`, H, H);
    const kProj = linearInit(`${p}attention.self.key_proj`, H, H);
    const vProj = linearInit(`${p}attention.self.value_proj`, H, H);
    const q = heads(linear(x, qProj));
    const kh = heads(linear(x, kProj)); // [B, nh, L, d]
    const kT = g.op("Transpose", [kh], { perm: [0, 1, 3, 2] }); // [B, nh, d, L]
    const v = heads(linear(x, vProj));
    // Position projections [1, nh, d, 2k] (query_proj / key_proj of the relative embeddings, shared keys).
    const posT = (proj: { w: string; b: string }) => g.op("Transpose", [g.op("Reshape", [linear(rel, proj), relHeadsShape])], { perm: [0, 2, 3, 1] });
    const pkT = posT(kProj);
    const pqT = posT(qProj);
    let scores = g.op("MatMul", [q, g.op("Div", [kT, scale])]);
    const c2p = g.op("GatherElements", [g.op("MatMul", [q, pkT]), c2pPos], { axis: -1 });
    scores = g.op("Add", [scores, g.op("Div", [c2p, scale])]);
    const p2c = g.op("Transpose", [g.op("GatherElements", [g.op("MatMul", [kh, pqT]), p2cPos], { axis: -1 })], { perm: [0, 1, 3, 2] });
    scores = g.op("Add", [scores, g.op("Div", [p2c, scale])]);
    const probs = g.op("Softmax", [g.op("Where", [pairMask, scores, floatMin])], { axis: -1 });
    const ctx = g.op("Reshape", [g.op("Transpose", [g.op("MatMul", [probs, v])], { perm: [0, 2, 1, 3] }), hiddenShape]);
    const attn = norm(g.op("Add", [linear(ctx, linearInit(`${p}attention.output.dense`, H, H)), x]), `${p}attention.output.LayerNorm`);
    const inter = linear(attn, linearInit(`${p}intermediate.dense`, I, H));
    const gelu = g.op("Mul", [g.op("Mul", [inter, g.op("Add", [g.op("Erf", [g.op("Div", [inter, sqrt2])]), one])]), half]);
    const out = linear(gelu, linearInit(`${p}output.dense`, H, I));
    x = norm(g.op("Add", [out, attn]), `${p}output.LayerNorm`);
  }
  g.op("Identity", [x], {}, LAST_HIDDEN_STATE);
  return g.model(
    [
      { name: INPUT_IDS, type: DT.INT64, dims: [B, L] },
      { name: ATTENTION_MASK, type: DT.INT64, dims: [B, L] },
    ],
    [{ name: LAST_HIDDEN_STATE, type: DT.FLOAT, dims: [B, L, H] }],
    { shared: opts.shared },
  );
}

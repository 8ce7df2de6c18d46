/**
 * PyTorch `nn.TransformerEncoderLayer` at inference, post-norm (norm_first=False), ReLU feed-forward:
 *   x = norm1(x + SelfAttention(x));  x = norm2(x + linear2(relu(linear1(x)))).
 * Self-attention is multi-head scaled dot product with one packed in-projection `[3E, E]` (q, k, v) and no mask.
 */
import { addInPlace, layerNorm, linear, matmul, matmulTransB, relu, softmaxRows, type PackedLinear } from "../kernels/index.js";

export interface TransformerLayerWeights {
  readonly inProj: PackedLinear;
  readonly outProj: PackedLinear;
  readonly linear1: PackedLinear;
  readonly linear2: PackedLinear;
  readonly norm1: { gamma: Float32Array; beta: Float32Array };
  readonly norm2: { gamma: Float32Array; beta: Float32Array };
  readonly heads: number;
  readonly eps: number;
}

/** Apply the layer to `groups` independent sequences of `seq` tokens, `x [groups·seq, E]` → new array. */
export function runTransformerLayer(w: TransformerLayerWeights, x: Float32Array, groups: number, seq: number): Float32Array {
  const E = w.outProj.outFeatures;
  const d = E / w.heads;
  const rows = groups * seq;
  const qkv = linear(x, rows, w.inProj); // [rows, 3E]
  const ctx = new Float32Array(rows * E);
  const q = new Float32Array(seq * d);
  const k = new Float32Array(seq * d);
  const v = new Float32Array(seq * d);
  const scores = new Float32Array(seq * seq);
  const headOut = new Float32Array(seq * d);
  const scale = 1 / Math.sqrt(d);
  for (let g = 0; g < groups; g++) {
    for (let h = 0; h < w.heads; h++) {
      for (let s = 0; s < seq; s++) {
        const o = (g * seq + s) * 3 * E + h * d;
        for (let c = 0; c < d; c++) {
          q[s * d + c] = qkv[o + c] * scale;
          k[s * d + c] = qkv[o + E + c];
          v[s * d + c] = qkv[o + 2 * E + c];
        }
      }
      matmulTransB(q, k, seq, d, seq, scores);
      softmaxRows(scores, seq, seq);
      matmul(scores, v, seq, seq, d, headOut);
      for (let s = 0; s < seq; s++) ctx.set(headOut.subarray(s * d, (s + 1) * d), (g * seq + s) * E + h * d);
    }
  }
  const attn = addInPlace(linear(ctx, rows, w.outProj), x);
  layerNorm(attn, rows, E, w.norm1.gamma, w.norm1.beta, w.eps, attn);
  const ff = linear(relu(linear(attn, rows, w.linear1)), rows, w.linear2);
  addInPlace(ff, attn);
  return layerNorm(ff, rows, E, w.norm2.gamma, w.norm2.beta, w.eps, ff);
}

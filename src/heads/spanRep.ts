/**
 * Span representations, GLiNER's `SpanMarkerV0`: for a span of words [i, i + k] (k < K),
 * rep = out_project(ReLU([start_project(h_i); end_project(h_{i+k})])), out_project = Linear(2H→4H) → ReLU →
 * Linear(4H→H). Spans running past the last word are computed from word 0 for both ends, as the official code pads
 * its span index with (0, 0), and are never decoded.
 *
 * The first out_project layer is linear in the concatenation, so it splits into a start half and an end half:
 * W·[s; e] + b = (W_s·s + b) + W_e·e. Both halves run once per word and each span only adds two vectors, which
 * removes two thirds of the per-span work (W·K spans) without changing the result beyond float rounding.
 */
import { linear, relu, type PackedLinear } from "../kernels/index.js";
import { runMlp, type Mlp } from "./mlp.js";

export interface SpanRepWeights {
  readonly projectStart: Mlp;
  readonly projectEnd: Mlp;
  /** out_project's first Linear split by input half: start half (with the bias) and end half (no bias), H → 4H. */
  readonly outStartHalf: PackedLinear;
  readonly outEndHalf: PackedLinear;
  /** out_project's second Linear, 4H → H. */
  readonly outSecond: PackedLinear;
  readonly maxWidth: number;
}

/** `wordEmb [W, H]` → `[W, K, H]`, span (i, k) at row `i·K + k`. */
export function computeSpanRep(w: SpanRepWeights, wordEmb: Float32Array, W: number): Float32Array {
  const K = w.maxWidth;
  const inner = w.outStartHalf.outFeatures;
  // ReLU of the concatenation = concatenation of the ReLUs.
  const start = linear(relu(runMlp(w.projectStart, wordEmb, W)), W, w.outStartHalf);
  const end = linear(relu(runMlp(w.projectEnd, wordEmb, W)), W, w.outEndHalf);
  const hidden = new Float32Array(W * K * inner);
  for (let i = 0; i < W; i++) {
    for (let k = 0; k < K; k++) {
      const valid = i + k < W;
      const so = (valid ? i : 0) * inner;
      const eo = (valid ? i + k : 0) * inner;
      const o = (i * K + k) * inner;
      for (let j = 0; j < inner; j++) {
        const v = start[so + j] + end[eo + j];
        hidden[o + j] = v > 0 ? v : 0;
      }
    }
  }
  return linear(hidden, W * K, w.outSecond);
}

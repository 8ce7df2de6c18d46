/**
 * Span representations, GLiNER's `SpanMarkerV0`: for a span of words [i, i + k] (k < K),
 * rep = out_project(ReLU([start_project(h_i); end_project(h_{i+k})])). Each start/end projection runs once per
 * word; spans running past the last word are computed from word 0 for both ends, as the official code pads its
 * span index with (0, 0), and are never decoded.
 */
import { relu } from "../kernels/index.js";
import { runMlp, type Mlp } from "./mlp.js";

export interface SpanRepWeights {
  readonly projectStart: Mlp;
  readonly projectEnd: Mlp;
  readonly outProject: Mlp;
  readonly maxWidth: number;
}

/** `wordEmb [W, H]` → `[W, K, H]`, span (i, k) at row `i·K + k`. */
export function computeSpanRep(w: SpanRepWeights, wordEmb: Float32Array, W: number): Float32Array {
  const H = w.projectStart.inFeatures;
  const K = w.maxWidth;
  const start = runMlp(w.projectStart, wordEmb, W);
  const end = runMlp(w.projectEnd, wordEmb, W);
  const cat = new Float32Array(W * K * 2 * H);
  for (let i = 0; i < W; i++) {
    for (let k = 0; k < K; k++) {
      const valid = i + k < W;
      const s = valid ? i : 0;
      const e = valid ? i + k : 0;
      const o = (i * K + k) * 2 * H;
      cat.set(start.subarray(s * H, (s + 1) * H), o);
      cat.set(end.subarray(e * H, (e + 1) * H), o + H);
    }
  }
  return runMlp(w.outProject, relu(cat), W * K);
}

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
import { linear, matmulTransB, relu, transposedTimes, type PackedLinear } from "../kernels/index.js";
import { activeVariant } from "../kernels/backend.js";
import { wasmSpanDots } from "../kernels/wasm/spanDots.js";
import { runMlp, type Mlp } from "./mlp.js";
import { scratch } from "./scratch.js";

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
  const hidden = fillSpanHidden(computeSpanHalves(w, wordEmb, W), w.maxWidth, w.outStartHalf.outFeatures);
  return linear(hidden, W * w.maxWidth, w.outSecond);
}

/**
 * The two per-word halves of out_project's first layer, `[W, 4H]` each: start = W_s·relu(start_project(h)) + b,
 * end = W_e·relu(end_project(h)). Span (i, k)'s hidden layer is relu(start[i] + end[i + k]). In the heads' scratch
 * buffers: valid until the next text's halves.
 */
export interface SpanHalves {
  readonly start: Float32Array;
  readonly end: Float32Array;
  /** Words. */
  readonly W: number;
}

export function computeSpanHalves(w: SpanRepWeights, wordEmb: Float32Array, W: number): SpanHalves {
  const inner = w.outStartHalf.outFeatures;
  const H = w.projectStart.outFeatures;
  // ReLU of the concatenation = concatenation of the ReLUs. Intermediates in scratch buffers.
  const projected = (mlp: Mlp, half: PackedLinear) =>
    linear(relu(runMlp(mlp, wordEmb, W, scratch(mlp, W * H))), W, half, scratch(half, W * inner));
  return { start: projected(w.projectStart, w.outStartHalf), end: projected(w.projectEnd, w.outEndHalf), W };
}

/**
 * out_project's hidden layer (after its ReLU) for every span, `[W·K, 4H]`: `rep = outSecond(hidden)`. Spans
 * running past the last word take word 0 for both ends. Into `out` when given, else a new array.
 */
export function fillSpanHidden(halves: SpanHalves, K: number, inner: number, out?: Float32Array): Float32Array {
  const { start, end, W } = halves;
  const hidden = out ?? new Float32Array(W * K * inner);
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
  return hidden;
}

const SPAN_HIDDEN = Symbol("span hidden");

/**
 * The span hidden layer of `halves` in the heads' reused buffer (a short text's; see ./scratch.ts): valid until the
 * next call. Scoring on the JavaScript kernels and the span representations of the text being scored both read it.
 */
export function spanHiddenScratch(w: SpanRepWeights, halves: SpanHalves): Float32Array {
  const inner = w.outStartHalf.outFeatures;
  return fillSpanHidden(halves, w.maxWidth, inner, scratch(SPAN_HIDDEN, halves.W * w.maxWidth * inner));
}

/**
 * Span scores `sigmoid(rep · v)` for every field vector v `[fields, H]` straight from the span hidden layer,
 * without forming `rep [spans, H]`: `rep·v = hidden·u + b·v` with `u = W₂ᵀ·v` (W₂, b: out_project's second
 * layer; `transposedTimes` reads W₂ as packed). That trades the `spans × 4H × H` product for
 * `fields × (H × 4H + spans × 4H)`: far less work while fields are few (a 64-word text, a handful of entity
 * types), more when they are many, so the caller picks (`factoredPays`). Equal to
 * `spanScores(computeSpanRep(…))` up to float rounding (the sums run in another order). Output `[fields, spans]`.
 * On the WebAssembly kernels the hidden layer is filled and multiplied there block by block (../kernels/wasm/
 * spanDots.ts); else it is filled here and multiplied by `matmulTransB` — the same bits either way.
 */
export function spanScoresFromHalves(w: SpanRepWeights, halves: SpanHalves, fieldVectors: Float32Array, fields: number): Float32Array {
  const second = w.outSecond;
  const K = w.maxWidth;
  const inner = second.inFeatures;
  const H = second.outFeatures;
  const spans = halves.W * K;
  // u = W₂ᵀ·v straight from the packed (float32 or int8) weights, LoRA deltas included: no transposed copy.
  const u = transposedTimes(second, fieldVectors, fields); // [fields, inner]
  const bias = second.bias;
  const c = new Float64Array(fields); // b·v per field
  if (bias) for (let f = 0; f < fields; f++) for (let h = 0; h < H; h++) c[f] += bias[h] * fieldVectors[f * H + h];
  // dots[s, f] = hidden[s]·u[f]
  const v = activeVariant();
  const dots = v
    ? wasmSpanDots(v, halves.start, halves.end, halves.W, K, inner, u, fields)
    : matmulTransB(spanHiddenScratch(w, halves), u, spans, inner, fields);
  return sigmoidByField(dots, spans, fields, c);
}

/**
 * `dots [spans, fields]` (plus `shift[f]` when given) → sigmoid scores `[fields, spans]`: both scoring paths end
 * here.
 */
export function sigmoidByField(dots: Float32Array, spans: number, fields: number, shift?: Float64Array): Float32Array {
  const out = new Float32Array(fields * spans);
  for (let s = 0; s < spans; s++) {
    for (let f = 0; f < fields; f++) out[f * spans + s] = 1 / (1 + Math.exp(-((shift ? shift[f] : 0) + dots[s * fields + f])));
  }
  return out;
}

/**
 * Does the factored scoring pay here? Both forms are kernel products (`linear`, `matmulTransB`), so compare
 * multiply-adds: factored `fields·(H·4H + spans·4H)`, direct `spans·4H·H + spans·H·fields`. Factored wins until
 * the fields number in the hundreds.
 */
export function factoredPays(spans: number, inner: number, H: number, fields: number): boolean {
  return fields * (H * inner + spans * inner) < spans * inner * H + spans * H * fields;
}

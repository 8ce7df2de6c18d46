/**
 * The span scores' products without the span hidden layer in JavaScript: dots[s, f] = hidden[s]·u[f] for every
 * span s of a text, where hidden[s] = relu(start[i] + end[i + k]) (see ../../heads/spanRep.ts). The two halves
 * (W × inner each) go into WebAssembly memory once; blocks of SPAN_BLOCK spans are filled there by the `spanFill`
 * kernel and multiplied by the packed field vectors (./matmulTransB.ts), so the W·K × inner layer (~10 MB for 64
 * words) is never built in JavaScript, copied in, or kept. Same values and the same products as filling it in
 * JavaScript and calling matmulTransB: the same bits.
 */
import { align64, wasmRowsTimesTransB } from "./matmulTransB.js";
import { f32View, Region, type KernelVariant } from "./runtime.js";

const halvesRegion = new Region();

/** Spans per block: 256 × 3,072 floats = 3 MiB of WebAssembly memory at base size, whatever the text's length. */
const SPAN_BLOCK = 256;

/** `[W·K, fields]` dots of the span hidden layer of halves `start`, `end` `[W, inner]` with `u [fields, inner]`. */
export function wasmSpanDots(v: KernelVariant, start: Float32Array, end: Float32Array, W: number, K: number, inner: number, u: Float32Array, fields: number): Float32Array {
  const spans = W * K;
  if (spans === 0 || fields === 0) return new Float32Array(spans * fields);
  const halfBytes = align64(W * inner * 4);
  const startP = halvesRegion.get(2 * halfBytes);
  const endP = startP + halfBytes;
  f32View(startP, W * inner).set(start.subarray(0, W * inner));
  f32View(endP, W * inner).set(end.subarray(0, W * inner));
  const fill = (ptr: number, s0: number, n: number) => v.exports.spanFill(startP, endP, W, K, inner, s0, s0 + n, ptr);
  return wasmRowsTimesTransB(v, spans, inner, u, fields, Math.min(spans, SPAN_BLOCK), fill);
}

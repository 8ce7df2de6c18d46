/**
 * The span scores' products without the span hidden layer in JavaScript: dots[s, f] = hidden[s]·u[f] for every
 * span s of a text, where hidden[s] = relu(start[i] + end[i + k]) (see ../../heads/spanRep.ts). The two halves
 * (W × inner each) go into WebAssembly memory once; blocks of SPAN_BLOCK spans are filled there by the `spanFill`
 * kernel and multiplied by the packed field vectors on the linear kernel (threads when a pool runs), so the
 * W·K × inner layer (~10 MB for 64 words) is never built in JavaScript, copied in, or kept. Same values and the
 * same products as filling it in JavaScript and calling matmulTransB: the same bits.
 */
import { runLinear } from "./pool.js";
import { f32View, Region, type KernelVariant } from "./runtime.js";
import { WASM_PANEL } from "./kernels.js";

const io = new Region();

/** Spans per block: 256 × 3,072 floats = 3 MiB of WebAssembly memory at base size, whatever the text's length. */
const SPAN_BLOCK = 256;

const align64 = (bytes: number) => ((bytes + 63) >> 6) << 6;

/** `[W·K, fields]` dots of the span hidden layer of halves `start`, `end` `[W, inner]` with `u [fields, inner]`. */
export function wasmSpanDots(v: KernelVariant, start: Float32Array, end: Float32Array, W: number, K: number, inner: number, u: Float32Array, fields: number): Float32Array {
  const spans = W * K;
  const dots = new Float32Array(spans * fields);
  if (spans === 0 || fields === 0) return dots;
  const block = Math.min(spans, SPAN_BLOCK);
  const halfBytes = align64(W * inner * 4);
  const uBytes = align64(fields * inner * 4);
  const packedBytes = align64(Math.ceil(fields / WASM_PANEL) * WASM_PANEL * inner * 4);
  const hidBytes = align64(block * inner * 4);
  const base = io.get(2 * halfBytes + uBytes + packedBytes + hidBytes + block * fields * 4);
  const startP = base, endP = startP + halfBytes, uP = endP + halfBytes, packed = uP + uBytes, hidP = packed + packedBytes, outP = hidP + hidBytes;
  f32View(startP, W * inner).set(start.subarray(0, W * inner));
  f32View(endP, W * inner).set(end.subarray(0, W * inner));
  f32View(uP, fields * inner).set(u.subarray(0, fields * inner));
  v.exports.packRows(uP, inner, fields, inner, packed);
  for (let s0 = 0; s0 < spans; s0 += block) {
    const n = Math.min(block, spans - s0);
    v.exports.spanFill(startP, endP, W, K, inner, s0, s0 + n, hidP);
    runLinear(v, hidP, inner, n, inner, packed, 0, outP, fields, fields, Math.ceil(fields / v.tileWidth));
    dots.set(f32View(outP, n * fields), s0 * fields);
  }
  return dots;
}

/** Feed-forward stacks of PyTorch `nn.Sequential(Linear, ReLU, [Dropout,] Linear, …)`; dropout is off at inference. */
import { linear, relu, type PackedLinear } from "../kernels/index.js";
import { scratch } from "./scratch.js";
import type { SafetensorsFile } from "../model/safetensors.js";
import { linearLayer } from "../model/weights.js";

/** Linear layers applied in order with ReLU between them (not after the last). */
export interface Mlp {
  readonly layers: readonly PackedLinear[];
  readonly inFeatures: number;
  readonly outFeatures: number;
}

/**
 * Load `${prefix}.{i}` Linear layers. `indices` are the Sequential positions of the Linear modules (e.g. [0, 3] for
 * Linear-ReLU-Dropout-Linear) and `sizes` the feature sizes along the chain ([in, hidden, …, out]).
 */
export function loadMlp(st: SafetensorsFile, prefix: string, indices: readonly number[], sizes: readonly number[]): Mlp {
  const layers = indices.map((idx, i) => linearLayer(st, `${prefix}.${idx}`, sizes[i + 1], sizes[i]));
  return { layers, inFeatures: sizes[0], outFeatures: sizes[sizes.length - 1] };
}

/**
 * Run the stack on `rows` row vectors `[rows, inFeatures]` → `[rows, outFeatures]`: into `out` when given, else a
 * new array. The hidden layers' outputs go to reusable scratch buffers (one per layer).
 */
export function runMlp(mlp: Mlp, x: Float32Array, rows: number, out?: Float32Array): Float32Array {
  let h = x;
  const last = mlp.layers.length - 1;
  mlp.layers.forEach((layer, i) => {
    h = linear(h, rows, layer, i < last ? scratch(layer, rows * layer.outFeatures) : out);
    if (i < last) relu(h);
  });
  return h;
}

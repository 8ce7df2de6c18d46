/**
 * Float32 base weights for merging. Packed layers are the kernels' business (they may be panels, shared memory,
 * int8, WebAssembly memory), so the weights are never read out of the packed form:
 * - from the checkpoint's `model.safetensors` (the file the model was loaded from, or bytes the caller passes);
 * - else recovered through the public `linear()`: row k of `linear(e_k) − linear(0)` is column k of W. Exact for
 *   a layer without bias; with a bias, up to the float32 rounding of `w + b` (~6e-8 relative). Slower (a K×K·N
 *   product per layer), so the file is preferred.
 */
import { linear, withDeltas, type PackedLinear } from "../kernels/index.js";
import type { SafetensorsFile } from "../model/safetensors.js";
import { AdapterError } from "../errors.js";
import type { BaseWeightSource } from "./attach.js";
import type { Columns } from "./modules.js";

/** Weights `[out, in]` of the layer, sliced to `cols` of the module's full weight in `st`. */
export function weightsFromFile(st: SafetensorsFile): BaseWeightSource {
  return (module: string, layer: PackedLinear, cols: Columns) => {
    const name = `${module}.weight`;
    if (!st.has(name)) throw new AdapterError(st.label, `base weight needed for merging is missing`, name, "base-model");
    const info = st.info(name);
    const N = layer.outFeatures;
    const full = cols === null ? layer.inFeatures : info.shape[1];
    if (info.shape.length !== 2 || info.shape[0] !== N || info.shape[1] !== full) {
      throw new AdapterError(st.label, `has shape [${info.shape.join(", ")}], but the loaded model's layer is [${N}, ${full}]: not the checkpoint this model was loaded from`, name, "base-model");
    }
    const w = st.f32(name);
    if (cols === null) return w;
    const [from, to] = cols;
    const out = new Float32Array(N * (to - from));
    for (let n = 0; n < N; n++) out.set(w.subarray(n * full + from, n * full + to), n * (to - from));
    return out;
  };
}

/** Weights `[out, in]` recovered by running the layer on unit vectors (see the file comment). */
export function weightsByProbe(): BaseWeightSource {
  return (_module: string, layer: PackedLinear) => {
    const K = layer.inFeatures;
    const N = layer.outFeatures;
    const bare = withDeltas(layer, undefined);
    const zero = linear(new Float32Array(K), 1, bare);
    const w = new Float32Array(N * K);
    const block = 64;
    for (let k0 = 0; k0 < K; k0 += block) {
      const rows = Math.min(block, K - k0);
      const x = new Float32Array(rows * K);
      for (let i = 0; i < rows; i++) x[i * K + k0 + i] = 1;
      const y = linear(x, rows, bare);
      for (let i = 0; i < rows; i++) for (let n = 0; n < N; n++) w[n * K + k0 + i] = y[i * N + n] - zero[n];
    }
    return w;
  };
}

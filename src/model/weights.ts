/**
 * Typed access to a checkpoint's tensors: every weight is fetched with the shape the config implies, so a
 * checkpoint that does not fit its config fails at load with the tensor's name, not later inside a kernel.
 */
import { WeightsError } from "../errors.js";
import { packLinear, type PackedLinear } from "../kernels/index.js";
import type { SafetensorsFile } from "./safetensors.js";

/** A float tensor with exactly `shape`; WeightsError names the tensor if it is missing or shaped otherwise. */
export function weight(st: SafetensorsFile, name: string, shape: readonly number[]): Float32Array {
  if (!st.has(name)) throw new WeightsError(name, `missing from ${st.label} (expected shape [${shape.join(", ")}])`);
  const info = st.info(name);
  if (info.shape.length !== shape.length || info.shape.some((d, i) => d !== shape[i])) {
    throw new WeightsError(name, `has shape [${info.shape.join(", ")}] in ${st.label}, expected [${shape.join(", ")}]`);
  }
  return st.f32(name);
}

/** Load `${name}.weight [out, in]` and `${name}.bias [out]` of a PyTorch Linear and pack it for `linear()`. */
export function linearLayer(st: SafetensorsFile, name: string, outFeatures: number, inFeatures: number, bias = true): PackedLinear {
  const w = weight(st, `${name}.weight`, [outFeatures, inFeatures]);
  const b = bias ? weight(st, `${name}.bias`, [outFeatures]) : null;
  return packLinear(w, outFeatures, inFeatures, b);
}

/** LayerNorm `{weight, bias}` of size `dim`. */
export function layerNormParams(st: SafetensorsFile, name: string, dim: number): { gamma: Float32Array; beta: Float32Array } {
  return { gamma: weight(st, `${name}.weight`, [dim]), beta: weight(st, `${name}.bias`, [dim]) };
}

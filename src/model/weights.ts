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
  return finiteF32(st, name);
}

/**
 * A float tensor whose every value is finite. NaN or ±Inf in a weight (a diverged fine-tune, a corrupt file)
 * would otherwise load silently and give empty results or `confidence: null`; one pass at load (well under a
 * second for the large checkpoint) names the tensor instead. Every weight the model reads comes through here.
 */
export function finiteF32(st: SafetensorsFile, name: string): Float32Array {
  const data = st.f32(name);
  for (let i = 0; i < data.length; i++) {
    const v = data[i];
    // v - v is 0 for every finite v and NaN for NaN and ±Inf.
    if (v - v !== 0) {
      throw new WeightsError(name, `element ${i} is ${v} in ${st.label}; weights must be finite numbers (corrupt or diverged checkpoint)`);
    }
  }
  return data;
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

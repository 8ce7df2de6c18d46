/**
 * Which tensors of a GLiNER2 checkpoint are stored / run as int8. One predicate, used by the loader
 * (quantize at load) and by the checkpoint writer (`quantizeCheckpoint`), so both make the same choice and a
 * written int8 checkpoint gives exactly the outputs of quantizing at load.
 */

/** Groups of tensors that can be int8 (each a measured choice; see README "int8"). */
export interface Int8Plan {
  /** The encoder's linear layers: Q, K, V, attention output, FFN in/out (~86 M of base's ~209 M parameters). */
  readonly encoder: boolean;
  /** The word-embedding table `[vocab, hidden]` (~98 M parameters), per-row scales, dequantized on lookup. */
  readonly embeddings: boolean;
  /** Linear layers of the heads: span representation, count predictor, classifier, count embedding (GRU, MLP/transformer). */
  readonly heads: boolean;
}

/** What `quantize: "int8"` means (chosen from the measured golden-case errors in the README). */
export const DEFAULT_INT8_PLAN: Int8Plan = Object.freeze({ encoder: true, embeddings: true, heads: true });

/** The f32 engine with only the embedding table int8: most of the memory saving of int8 at almost no error. */
export const EMBEDDINGS_INT8_PLAN: Int8Plan = Object.freeze({ encoder: false, embeddings: true, heads: false });

/** `quantize` option of the loaders. */
export type QuantizeOption = "none" | "int8" | "int8-embeddings" | Int8Plan;

const HEAD_MODULES = new Set(["span_rep", "count_pred", "classifier", "count_embed"]);
const ENCODER_LINEAR = /(^|\.)encoder\.layer\.\d+\.(attention\.self\.(query|key|value)_proj|attention\.output\.dense|intermediate\.dense|output\.dense)\.weight$/;
const WORD_EMBEDDINGS = /(^|\.)embeddings\.word_embeddings\.weight$/;

/** The plan group a tensor belongs to, or null for tensors that always stay floating point. */
export function int8Group(name: string): keyof Int8Plan | null {
  if (ENCODER_LINEAR.test(name)) return "encoder";
  if (WORD_EMBEDDINGS.test(name)) return "embeddings";
  const top = name.slice(0, name.indexOf("."));
  if (!HEAD_MODULES.has(top) || name.includes("pos_embedding") || /norm\d*\.weight$/.test(name)) return null;
  // Linear weights of the heads: `.weight` of nn.Linear, the attention in-projection, the GRU's gate matrices.
  if (name.endsWith(".weight") || name.endsWith(".in_proj_weight") || /\.weight_(ih|hh)_l0$/.test(name)) return "heads";
  return null;
}

/** Does `plan` make tensor `name` int8? (2-D tensors only; the caller checks the rank.) */
export function planQuantizes(plan: Int8Plan | null, name: string): boolean {
  const g = int8Group(name);
  return plan !== null && g !== null && plan[g];
}

/** Normalize the `quantize` option; null = nothing quantized at load. Throws a plain message for bad values. */
export function resolvePlan(opt: QuantizeOption | undefined): Int8Plan | null {
  if (opt === undefined || opt === "none") return null;
  if (opt === "int8") return DEFAULT_INT8_PLAN;
  if (opt === "int8-embeddings") return EMBEDDINGS_INT8_PLAN;
  if (typeof opt === "object" && opt !== null) {
    for (const k of ["encoder", "embeddings", "heads"] as const) {
      if (typeof opt[k] !== "boolean") throw new TypeError(`plan.${k} must be a boolean, got ${JSON.stringify(opt[k])}`);
    }
    const plan = { encoder: opt.encoder, embeddings: opt.embeddings, heads: opt.heads };
    return plan.encoder || plan.embeddings || plan.heads ? plan : null;
  }
  throw new TypeError(`must be "none", "int8", "int8-embeddings" or {encoder, embeddings, heads}, got ${JSON.stringify(opt)}`);
}

/** The suffix of the scale tensor of an int8 tensor `<name>`: `<name>.scale`, F32 `[rows]`. */
export const SCALE_SUFFIX = ".scale";
/** `__metadata__` key an int8 checkpoint carries (value: INT8_FORMAT). */
export const INT8_METADATA_KEY = "gliner2.quantization";
export const INT8_FORMAT = "int8-symmetric-per-row";

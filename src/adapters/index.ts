/**
 * LoRA adapters: read (official or PEFT format; folder, URL, hub or memory), attach as run-time deltas over shared
 * base weights (several at once, chosen per call), or merge into the weights. `GLiNER2.loadAdapter` & co. are the
 * public face; this module holds the pieces.
 */
import { InputError } from "../errors.js";
import type { Gliner2Model } from "../engine.js";
import { attachAdapter, selectPairs, type TargetPolicy } from "./attach.js";
import { parseAdapter, type AdapterConfig, type AdapterFiles, type LoraPair } from "./parse.js";
import type { AdapterSourceOptions } from "./source.js";

export { attachAdapter, mergePairs, selectPairs, UNMERGED_IGNORED, type TargetPolicy, type BaseWeightSource } from "./attach.js";
export { weightsByProbe, weightsFromFile } from "./baseWeights.js";
export { linearSlots, moduleShapes, rebuildLinears, resolveTargets, TASK_MODULES, type LinearSlot } from "./modules.js";
export { parseAdapter, ADAPTER_CONFIG_FILE, ADAPTER_WEIGHTS_FILE, PEFT_WEIGHTS_FILE, type AdapterConfig, type AdapterFiles, type LoraPair, type ParsedAdapter } from "./parse.js";
export { resolveAdapter, readAdapterFolder, type AdapterSourceOptions } from "./source.js";

export interface LoadAdapterOptions extends AdapterSourceOptions {
  /** Name the adapter is kept under and selected by (`{ adapter: name }`); default "default". Same name = replace. */
  readonly name?: string;
  /** Make it the adapter calls use when they name none (default true, as the official `load_adapter`). */
  readonly activate?: boolean;
  /**
   * Which modules take the file's weights: "weights" (default) every A/B pair in the file; "config" the official
   * rule (resolve `target_modules`, ignore the other pairs). See the README, "LoRA adapters".
   */
  readonly targets?: TargetPolicy;
}

/** An adapter resident on a model. */
/** Plain-data adapter state of a model: the active adapter's name and every resident adapter's config, in load order. */
export interface AdapterState {
  readonly active: string | null;
  readonly configs: [name: string, config: AdapterConfig][];
}

export interface LoadedAdapter {
  readonly name: string;
  readonly format: "gliner2" | "peft";
  readonly config: AdapterConfig;
  /** The pairs in use (after the target policy), one per LoRA'd module. */
  readonly pairs: readonly LoraPair[];
  /** The base model with this adapter's deltas on its layers (shares every base weight). */
  readonly model: Gliner2Model;
  /** Where it came from, for messages. */
  readonly source: string;
  /** `base_model_name_or_path` of a PEFT config, when given. */
  readonly baseModel?: string;
}

/** Names are plain identifiers so they read well in options, logs and URLs. */
export function checkAdapterName(name: unknown): string {
  if (typeof name !== "string" || !/^[A-Za-z0-9][\w.-]{0,127}$/.test(name)) {
    throw new InputError("name", `adapter names are 1–128 letters, digits, "_", "-" or ".", starting with a letter or digit; got ${JSON.stringify(name)}`);
  }
  return name;
}

/** Parse, check against the model and attach. */
export function buildAdapter(base: Gliner2Model, files: AdapterFiles, name: string, policy: TargetPolicy = "weights"): LoadedAdapter {
  if (policy !== "weights" && policy !== "config") throw new InputError("targets", `must be "weights" or "config", got ${JSON.stringify(policy)}`);
  if (typeof files !== "object" || files === null || files.config === undefined || files.weights === undefined) {
    throw new InputError("adapter", "must be a folder path, URL, hub repo id, or { config, weights } files");
  }
  const parsed = parseAdapter(files);
  const pairs = selectPairs(base, parsed, policy);
  return {
    name,
    format: parsed.format,
    config: parsed.config,
    pairs,
    model: attachAdapter(base, pairs),
    source: files.source ?? "<memory>",
    baseModel: parsed.baseModel,
  };
}

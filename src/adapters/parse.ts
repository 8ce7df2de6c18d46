/**
 * Read a LoRA adapter's two files into per-module A/B pairs, in either on-disk format:
 *
 * - the official GLiNER2 format (`save_lora_adapter`, gliner2/training/lora.py): `adapter_config.json` =
 *   `{adapter_type: "lora", adapter_version, lora_r, lora_alpha, lora_dropout, target_modules: [top-level names],
 *   created_at}` and `adapter_weights.safetensors` with `<module>.lora_A [r, in]` / `<module>.lora_B [out, r]`;
 * - PEFT's native format (`PeftModel.save_pretrained`): `adapter_config.json` with `peft_type: "LORA"`, `r`,
 *   `lora_alpha`, `target_modules` (names/suffixes or a regex), optional `rank_pattern` / `alpha_pattern` /
 *   `use_rslora`, and `adapter_model.safetensors` with `base_model.model.<module>.lora_A.weight` / `.lora_B.weight`.
 *
 * Everything is checked here that can be checked without the model: JSON shape, rank, pairs, finite values.
 * Shapes against the model are checked when the adapter is attached (src/adapters/attach.ts).
 */
import { AdapterError, Gliner2Error } from "../errors.js";
import { parseSafetensors, type SafetensorsFile } from "../model/safetensors.js";

export const ADAPTER_CONFIG_FILE = "adapter_config.json";
/** Official GLiNER2 weights file. */
export const ADAPTER_WEIGHTS_FILE = "adapter_weights.safetensors";
/** PEFT's weights file. */
export const PEFT_WEIGHTS_FILE = "adapter_model.safetensors";

/** An adapter's files, already in memory (browsers, edge workers, tests). JSON as text or a parsed object. */
export interface AdapterFiles {
  readonly config: string | object;
  /** `adapter_weights.safetensors` or `adapter_model.safetensors` bytes. */
  readonly weights: Uint8Array | ArrayBuffer;
  /** Name of the weights file, for messages (default by format). */
  readonly weightsFile?: string;
  /** Where the files came from (folder, URL, repo id), for messages. */
  readonly source?: string;
}

/** The config as the official `Extractor.adapter_config` reports it (PEFT configs are mapped onto it, as officially). */
export interface AdapterConfig {
  readonly adapter_type: string;
  readonly adapter_version: string;
  readonly lora_r: number;
  readonly lora_alpha: number;
  readonly lora_dropout: number;
  readonly target_modules: string[];
  readonly created_at: string;
}

/** One LoRA'd module: `W x + scale·B(A x)`. */
export interface LoraPair {
  readonly module: string;
  /** `[rank, in]`. */
  readonly a: Float32Array;
  /** `[out, rank]`. */
  readonly b: Float32Array;
  readonly rank: number;
  readonly inFeatures: number;
  readonly outFeatures: number;
  readonly scale: number;
  /** Tensor names in the file, for messages. */
  readonly tensorA: string;
  readonly tensorB: string;
}

export interface ParsedAdapter {
  readonly format: "gliner2" | "peft";
  readonly config: AdapterConfig;
  /** The config file as read (PEFT fields included). */
  readonly rawConfig: Readonly<Record<string, unknown>>;
  readonly pairs: readonly LoraPair[];
  /**
   * Which modules the config targets: official names → `resolveTargets`, PEFT → a matcher on module paths.
   * Used by the `targets: "config"` policy (see attach.ts).
   */
  readonly targets: { readonly kind: "names"; readonly names: readonly string[] } | { readonly kind: "match"; readonly match: (module: string) => boolean };
  readonly configFile: string;
  readonly weightsFile: string;
  /** `base_model_name_or_path` of a PEFT config, when given. */
  readonly baseModel?: string;
}

const join = (source: string | undefined, name: string) => (source ? `${source.replace(/[\\/]+$/, "")}/${name}` : name);

function readJson(value: string | object, file: string): Record<string, unknown> {
  let v: unknown = value;
  if (typeof value === "string") {
    try {
      v = JSON.parse(value.replace(/^\uFEFF/, ""));
    } catch (e) {
      throw new AdapterError(file, `is not valid JSON (${(e as Error).message})`);
    }
  }
  if (typeof v !== "object" || v === null || Array.isArray(v)) throw new AdapterError(file, "must be a JSON object");
  return v as Record<string, unknown>;
}

function num(cfg: Record<string, unknown>, key: string, file: string, fallback: number | undefined, check: (n: number) => boolean, what: string): number {
  const v = cfg[key] ?? fallback;
  if (typeof v !== "number" || !Number.isFinite(v) || !check(v)) {
    throw new AdapterError(file, `field "${key}" must be ${what}, got ${JSON.stringify(cfg[key] ?? null)}`);
  }
  return v;
}

/** `(.*\.)?pattern$` as PEFT matches rank_pattern / alpha_pattern keys against module paths. */
function patternValue(patterns: Record<string, unknown> | undefined, module: string, file: string, field: string): number | undefined {
  if (!patterns) return undefined;
  for (const [pattern, value] of Object.entries(patterns)) {
    let re: RegExp;
    try {
      re = new RegExp(`^(?:.*\\.)?(?:${pattern})$`);
    } catch {
      throw new AdapterError(file, `${field} key ${JSON.stringify(pattern)} is not a valid pattern`);
    }
    if (re.test(module)) {
      if (typeof value !== "number" || !Number.isFinite(value) || value <= 0) throw new AdapterError(file, `${field}[${JSON.stringify(pattern)}] must be a positive number`);
      return value;
    }
  }
  return undefined;
}

/** Parse and check an adapter's config and weights. Throws AdapterError naming the file (and tensor). */
export function parseAdapter(files: AdapterFiles): ParsedAdapter {
  const configFile = join(files.source, ADAPTER_CONFIG_FILE);
  const raw = readJson(files.config, configFile);
  const peft = "peft_type" in raw;
  const weightsFile = join(files.source, files.weightsFile ?? (peft ? PEFT_WEIGHTS_FILE : ADAPTER_WEIGHTS_FILE));
  if (peft && String(raw.peft_type).toUpperCase() !== "LORA") throw new AdapterError(configFile, `peft_type ${JSON.stringify(raw.peft_type)} is not supported; only LORA adapters are`);
  if (!peft && raw.adapter_type !== undefined && raw.adapter_type !== "lora") throw new AdapterError(configFile, `adapter_type ${JSON.stringify(raw.adapter_type)} is not supported; only "lora" adapters are`);
  if (peft && raw.use_dora === true) throw new AdapterError(configFile, "DoRA adapters (use_dora) are not supported");
  if (peft && raw.bias !== undefined && raw.bias !== null && raw.bias !== "none") throw new AdapterError(configFile, `bias ${JSON.stringify(raw.bias)} is not supported; only "none" (no trained biases)`);
  if (peft && Array.isArray(raw.modules_to_save) && raw.modules_to_save.length > 0) throw new AdapterError(configFile, "modules_to_save (fully retrained modules) is not supported");
  if (peft && raw.layers_to_transform !== undefined && raw.layers_to_transform !== null) throw new AdapterError(configFile, "layers_to_transform is not supported");

  const r = num(raw, peft ? "r" : "lora_r", configFile, 8, (n) => Number.isInteger(n) && n > 0, "a positive integer");
  const alpha = num(raw, "lora_alpha", configFile, peft ? 8 : 16, (n) => n > 0, "a positive number");
  const dropout = num(raw, "lora_dropout", configFile, 0, (n) => n >= 0 && n < 1, "a number in [0, 1)");
  const rslora = peft && raw.use_rslora === true;
  const rankPattern = peft ? objectOrUndefined(raw.rank_pattern, configFile, "rank_pattern") : undefined;
  const alphaPattern = peft ? objectOrUndefined(raw.alpha_pattern, configFile, "alpha_pattern") : undefined;

  const tm = raw.target_modules;
  let targets: ParsedAdapter["targets"];
  let targetList: string[];
  if (typeof tm === "string") {
    if (!peft) throw new AdapterError(configFile, "target_modules must be a list of module names");
    let re: RegExp;
    try {
      re = new RegExp(`^(?:${tm})$`);
    } catch {
      throw new AdapterError(configFile, `target_modules regex ${JSON.stringify(tm)} is not a valid pattern`);
    }
    targets = { kind: "match", match: (m) => re.test(m) };
    targetList = [tm];
  } else if (tm === undefined || tm === null || (Array.isArray(tm) && tm.every((t) => typeof t === "string"))) {
    targetList = (tm as string[] | undefined | null) ?? [];
    targets = peft ? { kind: "match", match: (m) => targetList.some((t) => m === t || m.endsWith(`.${t}`)) } : { kind: "names", names: targetList };
  } else {
    throw new AdapterError(configFile, `target_modules must be a list of module names${peft ? " or a regex" : ""}, got ${JSON.stringify(tm)}`);
  }

  let st: SafetensorsFile;
  try {
    st = parseSafetensors(files.weights instanceof Uint8Array ? files.weights : new Uint8Array(files.weights), weightsFile);
  } catch (e) {
    if (e instanceof Gliner2Error) throw new AdapterError(weightsFile, e.message.startsWith(weightsFile) ? e.message.slice(weightsFile.length + 2) : e.message);
    throw e;
  }
  const pairs = readPairs(st, weightsFile, peft, (module) => {
    const rank = patternValue(rankPattern, module, configFile, "rank_pattern") ?? r;
    const a = patternValue(alphaPattern, module, configFile, "alpha_pattern") ?? alpha;
    return { rank, scale: rslora ? a / Math.sqrt(rank) : a / rank };
  });

  const config: AdapterConfig = peft
    ? { adapter_type: "lora", adapter_version: "1.0", lora_r: r, lora_alpha: alpha, lora_dropout: dropout, target_modules: targetList, created_at: "" }
    : {
        adapter_type: typeof raw.adapter_type === "string" ? raw.adapter_type : "lora",
        adapter_version: typeof raw.adapter_version === "string" ? raw.adapter_version : "1.0",
        lora_r: r,
        lora_alpha: alpha,
        lora_dropout: dropout,
        target_modules: targetList,
        created_at: typeof raw.created_at === "string" ? raw.created_at : "",
      };
  const baseModel = peft && typeof raw.base_model_name_or_path === "string" ? raw.base_model_name_or_path : undefined;
  return { format: peft ? "peft" : "gliner2", config, rawConfig: raw, pairs, targets, configFile, weightsFile, baseModel };
}

function objectOrUndefined(v: unknown, file: string, field: string): Record<string, unknown> | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== "object" || Array.isArray(v)) throw new AdapterError(file, `${field} must be an object`);
  return v as Record<string, unknown>;
}

/** Tensor name → (module, A or B). Official: `<m>.lora_A`; PEFT: `base_model.model.<m>.lora_A.weight` (adapter name optional). */
function splitName(name: string, peft: boolean): { module: string; which: "A" | "B" } | null {
  const m = peft
    ? /^(?:base_model\.model\.)?(.+)\.lora_([AB])(?:\.[A-Za-z0-9_-]+)?\.weight$/.exec(name)
    : /^(?:base_model\.model\.)?(.+)\.lora_([AB])(?:\.weight)?$/.exec(name);
  return m ? { module: m[1], which: m[2] as "A" | "B" } : null;
}

function readPairs(st: SafetensorsFile, file: string, peft: boolean, rankOf: (module: string) => { rank: number; scale: number }): LoraPair[] {
  const halves = new Map<string, { A?: string; B?: string }>();
  for (const name of st.names()) {
    const part = splitName(name, peft);
    if (part === null) {
      throw new AdapterError(file, `is not a LoRA tensor (expected ${peft ? "base_model.model.<module>.lora_A.weight / .lora_B.weight" : "<module>.lora_A / <module>.lora_B"}; DoRA magnitudes, embeddings and trained biases are not supported)`, name);
    }
    const entry = halves.get(part.module) ?? {};
    if (entry[part.which] !== undefined) throw new AdapterError(file, `module "${part.module}" has two lora_${part.which} tensors (${entry[part.which]} and this one)`, name);
    entry[part.which] = name;
    halves.set(part.module, entry);
  }
  if (halves.size === 0) throw new AdapterError(file, "holds no LoRA tensors");
  const pairs: LoraPair[] = [];
  for (const [module, { A, B }] of halves) {
    if (A === undefined || B === undefined) throw new AdapterError(file, `module "${module}" has lora_${A === undefined ? "B" : "A"} but no lora_${A === undefined ? "A" : "B"}`, (A ?? B)!);
    const ia = st.info(A);
    const ib = st.info(B);
    if (ia.shape.length !== 2) throw new AdapterError(file, `lora_A must be a matrix [rank, in_features], has shape [${ia.shape.join(", ")}]`, A, "shape");
    if (ib.shape.length !== 2) throw new AdapterError(file, `lora_B must be a matrix [out_features, rank], has shape [${ib.shape.join(", ")}]`, B, "shape");
    const { rank, scale } = rankOf(module);
    if (ia.shape[0] !== rank) throw new AdapterError(file, `rank mismatch: lora_A has ${ia.shape[0]} rows but the config says r = ${rank}`, A, "rank");
    if (ib.shape[1] !== rank) throw new AdapterError(file, `rank mismatch: lora_B has ${ib.shape[1]} columns but the config says r = ${rank}`, B, "rank");
    const a = finite(st, A, file);
    const b = finite(st, B, file);
    pairs.push({ module, a, b, rank, inFeatures: ia.shape[1], outFeatures: ib.shape[0], scale, tensorA: A, tensorB: B });
  }
  return pairs;
}

/** A float tensor copied out of the file (so the file buffer can be freed), refusing NaN and infinities. */
function finite(st: SafetensorsFile, name: string, file: string): Float32Array {
  let data: Float32Array;
  try {
    data = st.f32(name).slice();
  } catch (e) {
    throw new AdapterError(file, (e as Error).message, name);
  }
  for (let i = 0; i < data.length; i++) {
    if (!Number.isFinite(data[i])) throw new AdapterError(file, `value ${data[i]} at element ${i} is not finite`, name, "non-finite");
  }
  return data;
}

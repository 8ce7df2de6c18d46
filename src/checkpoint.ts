/**
 * Turn the five files of a released checkpoint into a ready model: configs parsed and checked, weights read
 * and packed, tokenizer built. Works from in-memory files (browser, edge) and from a folder (Node, Deno, Bun).
 */
import { ConfigError, Gliner2Error, InputError } from "./errors.js";
import { describeValue } from "./quote.js";
import type { Gliner2Model } from "./engine.js";
import { loadHeads } from "./heads/index.js";
import { parseEncoderConfig, parseExtractorConfig } from "./model/config.js";
import { loadDebertaEncoder } from "./model/deberta.js";
import { openSafetensorsFile, parseSafetensors, type SafetensorsFile } from "./model/safetensors.js";
import { loadTokenizer } from "./text/tokenizer.js";
import { resolvePlan, type QuantizeOption } from "./int8/plan.js";
import { isDiskTable, releaseLoadScratch, setLoadPolicy } from "./model/weights.js";

/** The files of a checkpoint; JSON files as text or parsed objects. */
export interface CheckpointFiles {
  readonly config: string | object;
  readonly encoderConfig: string | object;
  readonly tokenizer: string | object;
  readonly tokenizerConfig?: string | object;
  readonly weights: ArrayBuffer | Uint8Array;
  /** Where the files came from, used in error messages (a folder path or URL). */
  readonly source?: string;
}

/** The file names of the released layout, relative to the checkpoint folder. */
export const CHECKPOINT_FILES = {
  config: "config.json",
  encoderConfig: "encoder_config/config.json",
  tokenizer: "tokenizer.json",
  tokenizerConfig: "tokenizer_config.json",
  weights: "model.safetensors",
} as const;

/** How to load: `quantize` picks tensors to run as int8 (README "int8"); an int8 checkpoint is int8 whatever it says. */
export interface ModelLoadOptions {
  readonly quantize?: QuantizeOption;
  /**
   * "disk": leave the word-embedding table in model.safetensors and read the rows each text needs from the open
   * file (folder loads only; see `LoadOptions.embeddings`). "memory" (default): load it like every weight.
   */
  readonly embeddings?: EmbeddingsOption;
}

/** Where the word-embedding table lives (see `ModelLoadOptions.embeddings`). */
export type EmbeddingsOption = "memory" | "disk";

/** Validate the `embeddings` option (InputError on a bad value). */
export function embeddingsOption(v: unknown): EmbeddingsOption {
  if (v === undefined || v === "memory" || v === "disk") return v ?? "memory";
  throw new InputError("embeddings", `must be "memory" or "disk", got ${describeValue(v)}`);
}

/** Validate the `quantize` option (InputError on a bad value). */
export function quantizePlan(opt: QuantizeOption | undefined) {
  try {
    return resolvePlan(opt);
  } catch (e) {
    throw new InputError("quantize", (e as Error).message);
  }
}

export function loadModel(files: CheckpointFiles, opts: ModelLoadOptions = {}): Gliner2Model {
  checkFiles(files);
  const plan = quantizePlan(opts.quantize);
  const weights = files.weights instanceof Uint8Array ? files.weights : new Uint8Array(files.weights);
  const st = parseSafetensors(weights, whereIn(files.source)(CHECKPOINT_FILES.weights));
  // Quantizing a float file at load: keep nothing that points into it, so its buffer is freed once loaded. An int8
  // file is mostly int8 weights the model uses in place, so it is viewed, not copied.
  const fileIsInt8 = st.names().some((n) => st.info(n).dtype === "I8");
  setLoadPolicy(st, { plan, copyFloats: plan !== null && !fileIsInt8 });
  return loadParsed(files, st);
}

const whereIn = (source: string | undefined) => (name: string) => (source ? `${source.replace(/\/$/, "")}/${name}` : name);

/**
 * Load a checkpoint folder reading model.safetensors one tensor (or row chunk) at a time instead of whole (Node,
 * Deno, Bun). For quantizing at load: peak memory is then about the int8 model plus one chunk, not the float file
 * plus the int8 model.
 */
export async function loadModelStreaming(dir: string, opts: ModelLoadOptions = {}): Promise<Gliner2Model> {
  const plan = quantizePlan(opts.quantize);
  const onDisk = embeddingsOption(opts.embeddings) === "disk";
  const { join } = await import("node:path");
  const files = await readDirFiles(dir, false);
  const opened = await openSafetensorsFile(join(dir, CHECKPOINT_FILES.weights));
  let keepOpen = false;
  try {
    // Every access reads into a fresh buffer the model may keep: nothing to copy. With the embeddings on disk the
    // table takes over the open file (closed by `closeModelFiles`).
    setLoadPolicy(opened.file, { plan, copyFloats: false, embeddingFile: onDisk ? opened : undefined });
    const model = loadParsed(files, opened.file);
    keepOpen = isDiskTable(model.encoder.wordEmbeddings);
    return model;
  } finally {
    if (!keepOpen) opened.close();
  }
}

/** Close what a loaded model keeps open (the file of an embedding table left on disk); idempotent. */
export function closeModelFiles(model: Gliner2Model): void {
  const table = model.encoder.wordEmbeddings;
  if (isDiskTable(table)) table.close();
}

function loadParsed(files: Omit<CheckpointFiles, "weights">, st: SafetensorsFile): Gliner2Model {
  const where = whereIn(files.source);
  const config = parseExtractorConfig(files.config, where(CHECKPOINT_FILES.config));
  const encoderConfig = parseEncoderConfig(files.encoderConfig, where(CHECKPOINT_FILES.encoderConfig));
  const tokenizer = loadTokenizer(files.tokenizer, files.tokenizerConfig, {
    file: where(CHECKPOINT_FILES.tokenizer),
    configFile: where(CHECKPOINT_FILES.tokenizerConfig),
  });
  if (tokenizer.vocabSize > encoderConfig.vocabSize) {
    throw new ConfigError(
      where(CHECKPOINT_FILES.encoderConfig),
      `vocab_size ${encoderConfig.vocabSize} is smaller than the tokenizer's ${tokenizer.vocabSize} tokens (mismatched tokenizer.json?)`,
      "vocab_size",
    );
  }
  // Padding rows are embedded like any token: an id outside the vocabulary would read past the embedding matrix.
  if (encoderConfig.padTokenId < 0 || encoderConfig.padTokenId >= tokenizer.vocabSize) {
    throw new ConfigError(
      where(CHECKPOINT_FILES.encoderConfig),
      `${encoderConfig.padTokenId} is not a token id of the tokenizer (0…${tokenizer.vocabSize - 1}; its pad token is ${tokenizer.padId})`,
      "pad_token_id",
    );
  }
  try {
    const encoder = loadDebertaEncoder(st, encoderConfig);
    const heads = loadHeads(st, { hidden: encoderConfig.hiddenSize, maxWidth: config.maxWidth, countingLayer: config.countingLayer });
    return { config, encoder, heads, tokenizer };
  } finally {
    releaseLoadScratch();
  }
}

/** The shape of `files` itself, before any file is parsed (callers from plain JS can pass anything). */
function checkFiles(files: unknown): asserts files is CheckpointFiles {
  if (typeof files !== "object" || files === null || Array.isArray(files)) {
    throw new InputError("files", `must be an object {config, encoderConfig, tokenizer, tokenizerConfig?, weights, source?}, got ${describeValue(files)}`);
  }
  const f = files as Record<string, unknown>;
  for (const key of ["config", "encoderConfig", "tokenizer", "tokenizerConfig"] as const) {
    const v = f[key];
    if (v === undefined && key === "tokenizerConfig") continue;
    if (typeof v !== "string" && (typeof v !== "object" || v === null)) {
      throw new InputError(`files.${key}`, `must be the file's JSON text or parsed object, got ${describeValue(v)}`);
    }
  }
  if (!(f.weights instanceof Uint8Array) && !(f.weights instanceof ArrayBuffer)) {
    throw new InputError("files.weights", `must be the bytes of model.safetensors (ArrayBuffer or Uint8Array), got ${describeValue(f.weights)}`);
  }
  if (f.source !== undefined && typeof f.source !== "string") throw new InputError("files.source", `must be a string, got ${describeValue(f.source)}`);
}

/** Read a checkpoint folder from disk (Node, Deno, Bun). Missing files are named with their full path. */
export async function readCheckpointDir(dir: string): Promise<CheckpointFiles> {
  return (await readDirFiles(dir, true)) as CheckpointFiles;
}

/** The JSON files of a checkpoint folder, without model.safetensors (for readers that stream the weights). */
export async function readCheckpointConfigs(dir: string): Promise<Omit<CheckpointFiles, "weights">> {
  const { weights: _none, ...rest } = await readDirFiles(dir, false);
  return rest;
}

/**
 * A text file's bytes as a string, as `readFile(path, "utf8")` gives it (BOM kept, bad bytes replaced). Read whole
 * and decoded once: the "utf8" form reads in chunks whose survival made V8 grow its young generation to the
 * maximum while loading the 8.6 MB tokenizer.json, ~20–30 MiB of resident memory it does not give back soon.
 */
function utf8Text(bytes: Uint8Array): string {
  return new TextDecoder("utf-8", { ignoreBOM: true }).decode(bytes);
}

async function readDirFiles(dir: string, withWeights: boolean): Promise<Omit<CheckpointFiles, "weights"> & { weights?: Uint8Array }> {
  const { readFile } = await import("node:fs/promises");
  const { join } = await import("node:path");
  const read = async (name: string, binary: boolean) => {
    const path = join(dir, name);
    try {
      return binary ? await readFile(path) : utf8Text(await readFile(path));
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      const why = code === "ENOENT" ? "not found" : `cannot be read (${code ?? (e as Error).message})`;
      throw new Gliner2Error("CHECKPOINT", `checkpoint file ${path} ${why}; a checkpoint folder needs ${Object.values(CHECKPOINT_FILES).join(", ")}`);
    }
  };
  const optional = async (name: string) => {
    try {
      return await readFile(join(dir, name), "utf8");
    } catch {
      return undefined;
    }
  };
  return {
    config: (await read(CHECKPOINT_FILES.config, false)) as string,
    encoderConfig: (await read(CHECKPOINT_FILES.encoderConfig, false)) as string,
    tokenizer: (await read(CHECKPOINT_FILES.tokenizer, false)) as string,
    tokenizerConfig: await optional(CHECKPOINT_FILES.tokenizerConfig),
    weights: withWeights ? ((await read(CHECKPOINT_FILES.weights, true)) as Uint8Array) : undefined,
    source: dir,
  };
}

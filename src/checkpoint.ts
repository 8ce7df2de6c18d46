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
import { parseSafetensors } from "./model/safetensors.js";
import { loadTokenizer } from "./tokenizer.js";

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

export function loadModel(files: CheckpointFiles): Gliner2Model {
  checkFiles(files);
  const where = (name: string) => (files.source ? `${files.source.replace(/\/$/, "")}/${name}` : name);
  const config = parseExtractorConfig(files.config, where(CHECKPOINT_FILES.config));
  const encoderConfig = parseEncoderConfig(files.encoderConfig, where(CHECKPOINT_FILES.encoderConfig));
  const weights = files.weights instanceof Uint8Array ? files.weights : new Uint8Array(files.weights);
  const st = parseSafetensors(weights, where(CHECKPOINT_FILES.weights));
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
  const encoder = loadDebertaEncoder(st, encoderConfig);
  const heads = loadHeads(st, { hidden: encoderConfig.hiddenSize, maxWidth: config.maxWidth, countingLayer: config.countingLayer });
  return { config, encoder, heads, tokenizer };
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
  const { readFile } = await import("node:fs/promises");
  const { join } = await import("node:path");
  const read = async (name: string, binary: boolean) => {
    const path = join(dir, name);
    try {
      return binary ? await readFile(path) : await readFile(path, "utf8");
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
    weights: (await read(CHECKPOINT_FILES.weights, true)) as Uint8Array,
    source: dir,
  };
}

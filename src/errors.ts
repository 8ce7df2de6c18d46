/**
 * Typed errors. Every failure caused by bad input (a file, a config, a schema, a text, an option) is one of
 * these, with a message that names what was wrong and where, so callers can `instanceof`-check and users can
 * act on the message without reading a stack trace.
 */
import { safeMessage } from "./quote.js";

/** Base class of every error this library throws on purpose. `code` is stable and machine-readable. */
export class Gliner2Error extends Error {
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    // Messages quote user data: control characters are escaped and the length capped here, once for all.
    super(safeMessage(message), options);
    this.name = new.target.name;
    this.code = code;
  }
}

/** A safetensors file is malformed, truncated, or does not hold what the model needs. */
export class SafetensorsError extends Gliner2Error {
  /** File path or label of the buffer being read. */
  readonly file: string;
  /** Tensor concerned, when the problem is about one tensor. */
  readonly tensor?: string;
  constructor(file: string, message: string, tensor?: string) {
    super("SAFETENSORS", `${file}${tensor !== undefined ? ` (tensor "${tensor}")` : ""}: ${message}`);
    this.file = file;
    this.tensor = tensor;
  }
}

/** A config.json / encoder_config/config.json is unreadable or asks for something we do not implement. */
export class ConfigError extends Gliner2Error {
  readonly file: string;
  readonly field?: string;
  constructor(file: string, message: string, field?: string) {
    super("CONFIG", `${file}${field !== undefined ? ` (field "${field}")` : ""}: ${message}`);
    this.file = file;
    this.field = field;
  }
}

/** A model checkpoint's weights do not fit the config (missing tensor, wrong shape). */
export class WeightsError extends Gliner2Error {
  readonly tensor: string;
  constructor(tensor: string, message: string) {
    super("WEIGHTS", `tensor "${tensor}": ${message}`);
    this.tensor = tensor;
  }
}

/** A schema (builder, JSON schema, field spec string) is invalid. `path` locates the offending part. */
export class SchemaError extends Gliner2Error {
  readonly path: string;
  /** The message without the location prefix. */
  readonly detail: string;
  constructor(path: string, message: string) {
    super("SCHEMA", path ? `schema ${path}: ${message}` : `schema: ${message}`);
    this.path = path;
    this.detail = message;
  }
}

/** A call argument (text, option, threshold, batch size) is invalid. */
export class InputError extends Gliner2Error {
  readonly argument: string;
  constructor(argument: string, message: string) {
    super("INPUT", `${argument}: ${message}`);
    this.argument = argument;
  }
}

/** The tokenizer files are missing or unusable, or a text cannot be tokenized. */
export class TokenizerError extends Gliner2Error {
  /** File concerned (path, URL or "tokenizer.json"), when known. */
  readonly file?: string;
  /** Field of that file (e.g. "model.vocab[12]"), when the problem is about one. */
  readonly field?: string;
  constructor(message: string, file?: string, field?: string) {
    super("TOKENIZER", file === undefined ? message : `${file}${field !== undefined ? ` (field "${field}")` : ""}: ${message}`);
    this.file = file;
    this.field = field;
  }
}

/** Downloading or reading a checkpoint from the hub / cache failed. */
export class DownloadError extends Gliner2Error {
  readonly url?: string;
  readonly status?: number;
  constructor(message: string, opts: { url?: string; status?: number; cause?: unknown } = {}) {
    super("DOWNLOAD", message, { cause: opts.cause });
    this.url = opts.url;
    this.status = opts.status;
  }
}

/**
 * A LoRA adapter cannot be used with this model: a missing or malformed file, a tensor with the wrong shape or
 * rank, a module the model does not have, non-finite values, or an adapter made for another base model.
 */
export class AdapterError extends Gliner2Error {
  /** The adapter file concerned (path, URL or name in a files map). */
  readonly file: string;
  /** Tensor concerned, when the problem is about one tensor. */
  readonly tensor?: string;
  /** What kind of problem, for programs: see `AdapterProblem`. */
  readonly problem: AdapterProblem;
  constructor(file: string, message: string, tensor?: string, problem: AdapterProblem = "format") {
    super("ADAPTER", `${file}${tensor !== undefined ? ` (tensor "${tensor}")` : ""}: ${message}`);
    this.file = file;
    this.tensor = tensor;
    this.problem = problem;
  }
}

/**
 * `missing-file`: a file is absent; `format`: unreadable or unsupported content; `rank`: tensor rank ≠ config r;
 * `shape`: a tensor does not fit its module; `module`: names a module the model lacks (or that takes no LoRA);
 * `base-model`: made for another base model (every module mismatches, or deeper than this encoder);
 * `non-finite`: NaN or infinite values; `no-target`: nothing in the model is targeted.
 */
export type AdapterProblem = "missing-file" | "format" | "rank" | "shape" | "module" | "base-model" | "non-finite" | "no-target";

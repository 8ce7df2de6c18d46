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

/** The tokenizer files are missing or unusable. */
export class TokenizerError extends Gliner2Error {
  constructor(message: string) {
    super("TOKENIZER", message);
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

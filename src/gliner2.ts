/**
 * The public API: a loaded checkpoint and the extraction methods, a camelCase mirror of the official GLiNER2
 * Python API. Data flows text → words → tokens → encoder → word/schema embeddings → span scores → decoded
 * results, each step in its own module; this file only wires them and validates the call.
 */
import { CHECKPOINT_FILES, loadModel, readCheckpointDir, type CheckpointFiles } from "./checkpoint.js";
import { decode, classProbs, type SchemaInput, type SpanSelection } from "./decode.js";
import { runBatch, type Gliner2Model } from "./engine.js";
import { InputError } from "./errors.js";
import { backendInfo, BACKENDS, setBackend, startThreads, stopThreads, threadCount, type Backend } from "./kernels/index.js";
import { formatResults, type ExtractionOutput, type RawOutput } from "./format.js";
import { resolveCheckpoint, type ResolveOptions } from "./hub/index.js";
import { buildPrompt } from "./prompt.js";
import {
  createSchema,
  normalizeSchema,
  schemaFromEntityTypes,
  schemaFromRelationTypes,
  schemaFromStructures,
  schemaFromTasks,
  type Schema,
  type SchemaBuilder,
  type SchemaInput as UserSchema,
} from "./schema.js";
import { prepareText, splitWords } from "./words.js";

export interface CallOptions {
  /** Span threshold for targets without their own (official default 0.5). */
  readonly threshold?: number;
  /** Add `confidence` to every value. */
  readonly includeConfidence?: boolean;
  /** Add UTF-16 character offsets `start`/`end` into the input text to every span. */
  readonly includeSpans?: boolean;
  /** false → the official raw-results shape. Default true. */
  readonly formatResults?: boolean;
  /** "first" (official parity) or "best": how a `str` field / relation picks its span. */
  readonly spanSelection?: SpanSelection;
}

export interface BatchOptions extends CallOptions {
  /** Texts encoded together in one padded batch (default 8). Results do not depend on it. */
  readonly batchSize?: number;
}

export type ExtractionResult = ExtractionOutput | RawOutput;

/** Refuse inputs whose attention matrices would not fit comfortably in memory (L² floats per head). */
const DEFAULT_MAX_TOKENS = 4096;

export interface LoadOptions extends ResolveOptions {
  /** Longest prompt + text, in subword tokens, a single text may have (default 4096). */
  readonly maxTokens?: number;
  /**
   * Threads (default 1; process-wide, started here before loading; `stopThreads()` ends it). On the wasm backend
   * workers share the WebAssembly memory and split linear layers and attention heads (Node, Deno, Bun, and
   * browsers when cross-origin isolated — otherwise one thread); on "js", worker threads split linear layers.
   */
  readonly threads?: number;
  /**
   * Kernels (process-wide, like threads; default "auto" = WebAssembly SIMD where the runtime has it, else the
   * plain-TypeScript reference). "wasm-relaxed" adds relaxed SIMD's fused multiply-add where available: faster,
   * but the last bits may then differ between engines. Set before the weights are packed, so it is applied here.
   */
  readonly backend?: Backend;
}

/** Apply the process-wide `backend` option (stopping a thread pool started for other kernels). */
function applyBackend(backend: Backend | undefined): void {
  if (backend === undefined) return;
  if (!BACKENDS.includes(backend)) throw new InputError("backend", `must be one of ${BACKENDS.map((b) => `"${b}"`).join(", ")}, got ${JSON.stringify(backend)}`);
  if (backendInfo().requested === backend) return;
  stopThreads();
  try {
    setBackend(backend);
  } catch (e) {
    throw new InputError("backend", (e as Error).message);
  }
}

export class GLiNER2 {
  readonly model: Gliner2Model;
  readonly maxTokens: number;

  constructor(model: Gliner2Model, opts: { maxTokens?: number } = {}) {
    this.model = model;
    this.maxTokens = opts.maxTokens ?? DEFAULT_MAX_TOKENS;
  }

  /**
   * Load a checkpoint from a local folder, an http(s) URL of a folder, or a Hugging Face repo id
   * (`org/name` or `org/name@revision`), downloading into the HF cache when needed.
   */
  static async fromPretrained(source: string, opts: LoadOptions = {}): Promise<GLiNER2> {
    if (typeof source !== "string" || source.length === 0) throw new InputError("source", "must be a folder path, URL or hub repo id");
    applyBackend(opts.backend);
    if (opts.threads !== undefined) {
      if (!Number.isInteger(opts.threads) || opts.threads < 1) throw new InputError("threads", `must be a positive integer, got ${JSON.stringify(opts.threads)}`);
      if (opts.threads !== threadCount()) await startThreads(opts.threads);
    }
    const files = await resolveCheckpoint(source, opts);
    return new GLiNER2(loadModel(files), opts);
  }

  /** Load from files already in memory (browsers, edge workers). */
  static fromFiles(files: CheckpointFiles, opts: { maxTokens?: number; backend?: Backend } = {}): GLiNER2 {
    applyBackend(opts.backend);
    return new GLiNER2(loadModel(files), opts);
  }

  /** Load a checkpoint folder from disk (Node, Deno, Bun). */
  static async fromDirectory(dir: string, opts: { maxTokens?: number; backend?: Backend } = {}): Promise<GLiNER2> {
    applyBackend(opts.backend);
    return new GLiNER2(loadModel(await readCheckpointDir(dir)), opts);
  }

  createSchema(): SchemaBuilder {
    return createSchema();
  }

  async extractEntities(text: string, entityTypes: Parameters<typeof schemaFromEntityTypes>[0], opts: CallOptions = {}): Promise<ExtractionResult> {
    return this.extract(text, schemaFromEntityTypes(entityTypes), opts);
  }

  async classifyText(text: string, tasks: Parameters<typeof schemaFromTasks>[0], opts: CallOptions = {}): Promise<ExtractionResult> {
    return this.extract(text, schemaFromTasks(tasks), opts);
  }

  async extractJson(text: string, structures: Parameters<typeof schemaFromStructures>[0], opts: CallOptions = {}): Promise<ExtractionResult> {
    return this.extract(text, schemaFromStructures(structures), opts);
  }

  async extractRelations(text: string, relationTypes: Parameters<typeof schemaFromRelationTypes>[0], opts: CallOptions = {}): Promise<ExtractionResult> {
    return this.extract(text, schemaFromRelationTypes(relationTypes), opts);
  }

  async extract(text: string, schema: UserSchema, opts: CallOptions = {}): Promise<ExtractionResult> {
    if (typeof text !== "string") throw new InputError("text", `must be a string, got ${text === null ? "null" : typeof text}`);
    const [result] = await this.batchExtract([text], schema, { ...opts, batchSize: 1 });
    return result;
  }

  async batchExtractEntities(texts: string[], entityTypes: Parameters<typeof schemaFromEntityTypes>[0], opts: BatchOptions = {}): Promise<ExtractionResult[]> {
    return this.batchExtract(texts, schemaFromEntityTypes(entityTypes), opts);
  }

  async batchClassifyText(texts: string[], tasks: Parameters<typeof schemaFromTasks>[0], opts: BatchOptions = {}): Promise<ExtractionResult[]> {
    return this.batchExtract(texts, schemaFromTasks(tasks), opts);
  }

  async batchExtractJson(texts: string[], structures: Parameters<typeof schemaFromStructures>[0], opts: BatchOptions = {}): Promise<ExtractionResult[]> {
    return this.batchExtract(texts, schemaFromStructures(structures), opts);
  }

  async batchExtractRelations(texts: string[], relationTypes: Parameters<typeof schemaFromRelationTypes>[0], opts: BatchOptions = {}): Promise<ExtractionResult[]> {
    return this.batchExtract(texts, schemaFromRelationTypes(relationTypes), opts);
  }

  /**
   * Extract from many texts with one schema for all, or one schema per text. Texts are encoded `batchSize` at a
   * time; every input is validated before any work starts.
   */
  async batchExtract(texts: string[], schemas: UserSchema | UserSchema[], opts: BatchOptions = {}): Promise<ExtractionResult[]> {
    const options = checkOptions(opts);
    if (!Array.isArray(texts)) throw new InputError("texts", "must be an array of strings");
    texts.forEach((t, i) => {
      if (typeof t !== "string") throw new InputError(`texts[${i}]`, `must be a string, got ${t === null ? "null" : typeof t}`);
    });
    let perText: Schema[];
    if (Array.isArray(schemas)) {
      if (schemas.length !== texts.length) throw new InputError("schemas", `has ${schemas.length} schemas for ${texts.length} texts; pass one schema, or one per text`);
      perText = schemas.map((s, i) => normalizeSchema(s, `schemas[${i}]`));
    } else {
      const one = normalizeSchema(schemas);
      perText = texts.map(() => one);
    }
    const prompts = new Map<Schema, ReturnType<typeof buildPrompt>>();
    const items = texts.map((raw, i) => {
      const text = prepareText(raw);
      const words = splitWords(text);
      const schema = perText[i];
      let prompt = prompts.get(schema);
      if (!prompt) prompts.set(schema, (prompt = buildPrompt(schema)));
      return { index: i, text, words, prompt };
    });

    const results: ExtractionResult[] = new Array(texts.length);
    for (let start = 0; start < items.length; start += options.batchSize) {
      const batch = items.slice(start, start + options.batchSize);
      const scored = runBatch(
        this.model,
        batch.map((it) => ({ words: it.words.map((w) => w.text), prompt: it.prompt })),
        { maxTokens: this.maxTokens, firstIndex: start },
      );
      batch.forEach((it, b) => {
        const out = scored[b];
        const schemaInputs: SchemaInput[] = it.prompt.plans.map((plan, s) => {
          const sc = out.schemas[s];
          if (plan.kind === "classification") return { plan, probs: classProbs(sc.clsLogits!, plan) };
          return { plan, count: sc.count, spanScores: sc.spanScores };
        });
        const decoded = decode({
          text: it.text,
          words: it.words,
          prefixTokens: it.prompt.prefixTokens,
          maxWidth: this.model.config.maxWidth,
          threshold: options.threshold,
          schemas: schemaInputs,
          spanSelection: options.spanSelection,
        });
        results[it.index] = formatResults(decoded, options);
      });
      // Let other work (UI, I/O) run between batches.
      await new Promise((r) => setTimeout(r, 0));
    }
    return results;
  }
}

function checkOptions(opts: BatchOptions): Required<Omit<BatchOptions, "spanSelection">> & { spanSelection: SpanSelection } {
  if (typeof opts !== "object" || opts === null) throw new InputError("options", "must be an object");
  const threshold = opts.threshold ?? 0.5;
  if (typeof threshold !== "number" || !(threshold >= 0 && threshold <= 1)) throw new InputError("threshold", `must be a number in [0, 1], got ${JSON.stringify(opts.threshold)}`);
  const batchSize = opts.batchSize ?? 8;
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new InputError("batchSize", `must be a positive integer, got ${JSON.stringify(opts.batchSize)}`);
  const spanSelection = opts.spanSelection ?? "first";
  if (spanSelection !== "first" && spanSelection !== "best") throw new InputError("spanSelection", `must be "first" or "best", got ${JSON.stringify(spanSelection)}`);
  for (const key of ["includeConfidence", "includeSpans", "formatResults"] as const) {
    if (opts[key] !== undefined && typeof opts[key] !== "boolean") throw new InputError(key, `must be a boolean, got ${JSON.stringify(opts[key])}`);
  }
  return {
    threshold,
    batchSize,
    spanSelection,
    includeConfidence: opts.includeConfidence ?? false,
    includeSpans: opts.includeSpans ?? false,
    formatResults: opts.formatResults ?? true,
  };
}

export { CHECKPOINT_FILES };

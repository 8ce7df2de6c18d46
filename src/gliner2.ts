/**
 * The public API: a loaded checkpoint and the extraction methods, a camelCase mirror of the official GLiNER2
 * Python API. Data flows text → words → tokens → encoder → word/schema embeddings → span scores → decoded
 * results, each step in its own module; this file only wires them and validates the call.
 */
import { CHECKPOINT_FILES, closeModelFiles, embeddingsOption, loadModel, loadModelStreaming, quantizePlan, readCheckpointDir, type CheckpointFiles, type EmbeddingsOption } from "./checkpoint.js";
import { loadNodeFs } from "./hub/nodefs.js";
import type { QuantizeOption } from "./int8/plan.js";
import { decode, classProbs, type SchemaInput, type SpanSelection } from "./decode/decode.js";
import { runBatch, type Gliner2Model } from "./engine.js";
import { InputError } from "./errors.js";
import {
  buildAdapter,
  checkAdapterName,
  mergePairs,
  resolveAdapter,
  weightsByProbe,
  weightsFromFile,
  type AdapterConfig,
  type AdapterFiles,
  type AdapterState,
  type LoadAdapterOptions,
  type LoadedAdapter,
} from "./adapters/index.js";
import { parseSafetensors, readSafetensorsFile } from "./model/safetensors.js";
import { checkOptionKeys, describeValue } from "./quote.js";
import { backendInfo, BACKENDS, setBackend, startThreads, stopThreads, threadCount, type Backend } from "./kernels/index.js";
import {
  formatResults,
  type ClassificationsOutput,
  type EntitiesOutput,
  type ExtractionOutput,
  type OutputFor,
  type RawOutput,
  type RelationsOutput,
  type StructuresOutput,
} from "./decode/format.js";
import { checkpointFolder, resolveCheckpoint, type ResolveOptions } from "./hub/index.js";
import { buildPrompt } from "./schema/prompt.js";
import {
  createSchema,
  schemaFromEntityTypes,
  schemaFromRelationTypes,
  schemaFromStructures,
  schemaFromTasks,
  schemasPerText,
  type Schema,
  type SchemaBuilder,
  type SchemaInput as UserSchema,
} from "./schema/schema.js";
import { prepareText, splitWords } from "./text/words.js";
import { batchExtractLong, streamExtractLong, type LongDocument, type LongOptions } from "./long/index.js";

export interface CallOptions {
  /** Span threshold for targets without their own (official default 0.5). */
  readonly threshold?: number;
  /** Add `confidence` to every value. */
  readonly includeConfidence?: boolean;
  /** Add UTF-16 character offsets `start`/`end` into the input text to every span. */
  readonly includeSpans?: boolean;
  /** false → the official raw-results shape. Default true. */
  readonly formatResults?: boolean;
  /** How a `str` entity / field / relation picks its span: "official" (default, HEAD), "first" or "best". */
  readonly spanSelection?: SpanSelection;
  /**
   * LoRA adapter for this call, by the name it was loaded under; `null` = the base model. Default: the active
   * adapter (the last one loaded, or `setActiveAdapter`), else the base model.
   */
  readonly adapter?: string | null;
  /** Keep only the first `maxLen` words of each text (official `max_len`); default: all. */
  readonly maxLen?: number;
  /**
   * Official `overlap_policy` ("flat" | "nested" | "longest"): read only by the official boundary-model
   * architecture, so it changes nothing for these span checkpoints; validated (the official accepts anything).
   */
  readonly overlapPolicy?: OverlapPolicy;
}

export type OverlapPolicy = "flat" | "nested" | "longest";

export interface BatchOptions extends CallOptions {
  /** Texts encoded together in one padded batch (default 8). Results do not depend on it. */
  readonly batchSize?: number;
}

export type ExtractionResult = ExtractionOutput | RawOutput;

/** Refuse inputs whose attention matrices would not fit comfortably in memory (L² floats per head). */
const DEFAULT_MAX_TOKENS = 4096;
/**
 * Characters allowed per token of the limit, checked before any work on the text (splitting, tokenizing): a
 * token covers a few characters of real text (≈ 4 in English, more for long words); only text made mostly of
 * white space goes past 32, and such a text is refused in microseconds instead of being split first.
 */
export const MAX_CHARS_PER_TOKEN = 32;

/** The option names each call accepts: a misspelt one (`treshold`) is an error, not silently ignored. */
const CALL_OPTION_KEYS = ["threshold", "includeConfidence", "includeSpans", "formatResults", "spanSelection", "adapter", "maxLen", "overlapPolicy"] as const;
const BATCH_OPTION_KEYS = [...CALL_OPTION_KEYS, "batchSize"] as const;
const MODEL_OPTION_KEYS = ["maxTokens"] as const;
const FILES_OPTION_KEYS = [...MODEL_OPTION_KEYS, "quantize", "backend"] as const;
const LOAD_OPTION_KEYS = [
  ...FILES_OPTION_KEYS,
  "threads",
  "inMemory",
  "revision",
  "cacheDir",
  "endpoint",
  "token",
  "offline",
  "onProgress",
  "signal",
  "timeoutMs",
  "fetch",
  "offThread",
  "transferWeights",
  "workerNice",
  "embeddings",
] as const;

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
   * Where the model runs. "auto" (default): in a worker thread (Node, Deno, Bun: worker_threads; browsers: a
   * module Web Worker) so extraction never blocks the caller's event loop, in this thread where no worker can
   * start. true: a worker or an error. false: this thread (needed to reach `.model`). Results are identical.
   */
  readonly offThread?: boolean | "auto";
  /** Off-thread loading from in-memory files: move (detach) the weights buffer to the worker instead of copying. */
  readonly transferWeights?: boolean;
  /**
   * Off-thread, Linux: the model thread's nice value relative to the process (default 5), so that when the
   * CPUs are oversubscribed the caller's event loop is scheduled before the encoder. 0 keeps equal priority.
   */
  readonly workerNice?: number;
  /**
   * Run (part of) the model in int8: "int8" (encoder linear layers, word embeddings and heads; README "int8" has
   * the measured error), "int8-embeddings" (only the embedding table: float engine, ~⅓ less memory), a custom
   * `{encoder, embeddings, heads}` plan, or "none" (default). An int8 checkpoint (`gliner2 quantize`) loads as
   * int8 without this option.
   */
  readonly quantize?: QuantizeOption;
  /**
   * Where the word-embedding table (half of base's parameters: ~94 MiB int8, ~375 MiB float32) lives. "memory"
   * (default): loaded like every weight. "disk": left in model.safetensors, whose file stays open; each text reads
   * the rows of its tokens (one small read per distinct token). Outputs are identical. Needs a checkpoint folder
   * on disk (a local folder, or a hub repo id downloaded to the cache); the file must stay in place — a file
   * changed under a loaded model fails the next call with a WeightsError. `dispose()` closes it.
   */
  readonly embeddings?: EmbeddingsOption;
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

  /** LoRA adapters resident on this model, by name; each shares the base weights (src/adapters/). */
  private readonly adapters = new Map<string, LoadedAdapter>();
  private active: string | null = null;
  /** The checkpoint's model.safetensors on disk while it still holds this model's base weights (for merging). */
  private baseWeightsPath: string | null = null;

  constructor(model: Gliner2Model, opts: { maxTokens?: number } = {}) {
    checkOptionKeys(opts, MODEL_OPTION_KEYS, "options");
    const maxTokens = opts.maxTokens ?? DEFAULT_MAX_TOKENS;
    // NaN or Infinity would switch the limit off (every comparison with NaN is false).
    if (typeof maxTokens !== "number" || !Number.isSafeInteger(maxTokens) || maxTokens < 1) {
      throw new InputError("maxTokens", `must be a positive integer, got ${describeValue(opts.maxTokens)}`);
    }
    this.model = model;
    this.maxTokens = maxTokens;
  }

  /** Longest text accepted, in UTF-16 characters (checked before the text is split or tokenized). */
  get maxChars(): number {
    return this.maxTokens * MAX_CHARS_PER_TOKEN;
  }

  /**
   * Load a checkpoint from a local folder, an http(s) URL of a folder, or a Hugging Face repo id
   * (`org/name` or `org/name@revision`), downloading into the HF cache when needed; or from checkpoint files
   * already in memory. By default the model lives in a worker thread (see `LoadOptions.offThread`).
   */
  static async fromPretrained(source: string | CheckpointFiles, opts: LoadOptions = {}): Promise<GLiNER2> {
    const inMemory = typeof source === "object" && source !== null;
    if (!inMemory && (typeof source !== "string" || source.length === 0)) throw new InputError("source", "must be a folder path, URL, hub repo id or checkpoint files");
    checkOptionKeys(opts, LOAD_OPTION_KEYS, "options");
    const offThread = opts.offThread ?? "auto";
    if (offThread !== true && offThread !== false && offThread !== "auto") throw new InputError("offThread", `must be true, false or "auto", got ${JSON.stringify(offThread)}`);
    const onDisk = embeddingsOption(opts.embeddings) === "disk";
    if (offThread !== false) {
      const { loadOffThread } = await import("./worker/client.js");
      const hosted = await loadOffThread(GLiNER2.prototype, source, { ...opts }, { mode: offThread, transferWeights: opts.transferWeights });
      if (hosted) return hosted;
    }
    applyBackend(opts.backend);
    if (opts.threads !== undefined) {
      if (!Number.isInteger(opts.threads) || opts.threads < 1) throw new InputError("threads", `must be a positive integer, got ${JSON.stringify(opts.threads)}`);
      if (opts.threads !== threadCount()) await startThreads(opts.threads);
    }
    const noFolder = () => new InputError("embeddings", `"disk" reads the table from a checkpoint folder on disk; ${inMemory ? "files in memory have none" : "this source has none (a URL, or inMemory, is read into memory)"}: use "memory"`);
    if (inMemory) {
      if (onDisk) throw noFolder();
      return GLiNER2.fromFiles(source, { maxTokens: opts.maxTokens, quantize: opts.quantize, backend: opts.backend });
    }
    let model: GLiNER2;
    let dir: string | undefined;
    quantizePlan(opts.quantize); // a bad value fails before any download
    if (await isLocalFolder(source)) {
      // A local folder: read model.safetensors tensor by tensor instead of whole, so nothing keeps the file's
      // bytes alive once the weights are packed (and quantizing never holds the whole float file).
      model = new GLiNER2(await loadModelStreaming(source, opts), { maxTokens: opts.maxTokens });
      dir = source;
    } else {
      // A hub checkpoint goes into the disk cache and streams from its snapshot folder like a local one (a
      // quantizing load never holds the float file); URLs and `inMemory` are fetched into memory.
      const folder = await checkpointFolder(source, opts);
      if (folder !== null) {
        model = new GLiNER2(await loadModelStreaming(folder.dir, opts), { maxTokens: opts.maxTokens });
        dir = folder.dir;
      } else {
        if (onDisk) throw noFolder();
        const files = await resolveCheckpoint(source, opts);
        model = new GLiNER2(loadModel(files, opts), { maxTokens: opts.maxTokens });
        dir = files.dir;
      }
    }
    if (dir !== undefined) model.baseWeightsPath = `${dir.replace(/[\\/]+$/, "")}/${CHECKPOINT_FILES.weights}`;
    return model;
  }

  /** Load from files already in memory (browsers, edge workers). */
  static fromFiles(files: CheckpointFiles, opts: { maxTokens?: number; quantize?: QuantizeOption; backend?: Backend } = {}): GLiNER2 {
    checkOptionKeys(opts, FILES_OPTION_KEYS, "options");
    applyBackend(opts.backend);
    return new GLiNER2(loadModel(files, opts), { maxTokens: opts.maxTokens });
  }

  /** Load a checkpoint folder from disk (Node, Deno, Bun). */
  static async fromDirectory(dir: string, opts: { maxTokens?: number; quantize?: QuantizeOption; backend?: Backend } = {}): Promise<GLiNER2> {
    if (typeof dir !== "string" || dir === "") throw new InputError("dir", `must be a folder path, got ${describeValue(dir)}`);
    checkOptionKeys(opts, FILES_OPTION_KEYS, "options");
    applyBackend(opts.backend);
    const model = new GLiNER2(loadModel(await readCheckpointDir(dir), opts), { maxTokens: opts.maxTokens });
    model.baseWeightsPath = `${dir.replace(/[\\/]+$/, "")}/${CHECKPOINT_FILES.weights}`;
    return model;
  }

  // ---------------------------------------------------------------------------------------------------------
  // LoRA adapters (README, "LoRA adapters"; src/adapters/)

  /**
   * Load a LoRA adapter (official `adapter_config.json` + `adapter_weights.safetensors`, or PEFT's
   * `adapter_model.safetensors`) from a folder, an http(s) URL, a hub repo id, or files in memory, and keep it
   * under `opts.name` (default "default"). It becomes the active adapter unless `activate: false`. Loading under
   * a name already in use replaces that adapter (never stacks); other adapters stay resident.
   */
  async loadAdapter(source: string | AdapterFiles, opts: LoadAdapterOptions = {}): Promise<this> {
    if (typeof opts !== "object" || opts === null) throw new InputError("options", "must be an object");
    const name = checkAdapterName(opts.name ?? "default");
    const files = typeof source === "string" ? await resolveAdapter(source, opts) : source;
    this.adapters.set(name, buildAdapter(this.model, files, name, opts.targets));
    if (opts.activate !== false) this.active = name;
    return this;
  }

  /** Drop adapter `name`, or every adapter when no name is given; calls then use the base model bit for bit. */
  unloadAdapter(name?: string): this {
    if (name === undefined) {
      this.adapters.clear();
      this.active = null;
      return this;
    }
    this.adapterNamed(name);
    this.adapters.delete(name);
    if (this.active === name) this.active = null;
    return this;
  }

  /**
   * Fold adapter `name` (default: the active one) into the base weights, `W ← W + (alpha/r)·B·A`, re-packed for
   * the kernels; afterwards the model is a plain model (no adapter) that computes what the adapter computed,
   * without the run-time delta. One-way: reload the checkpoint to get the base model back. Refused while other
   * adapters are resident (they were made for the unmerged base). Base weights come from `baseWeights` (the
   * checkpoint's model.safetensors bytes), else the file the model was loaded from, else the packed layers.
   */
  async mergeAdapter(name?: string, opts: { baseWeights?: Uint8Array | ArrayBuffer } = {}): Promise<this> {
    const target = name ?? this.active;
    if (target === null) throw new InputError("adapter", "no adapter is active; nothing to merge");
    const adapter = this.adapterNamed(target);
    const others = [...this.adapters.keys()].filter((n) => n !== target);
    if (others.length > 0) throw new InputError("adapter", `cannot merge "${target}" while other adapters are resident (${others.join(", ")}): they were made for the unmerged base; unload them first`);
    let source = weightsByProbe();
    if (opts.baseWeights !== undefined) source = weightsFromFile(parseSafetensors(opts.baseWeights instanceof Uint8Array ? opts.baseWeights : new Uint8Array(opts.baseWeights), "baseWeights"));
    else if (this.baseWeightsPath !== null) source = weightsFromFile(await readSafetensorsFile(this.baseWeightsPath));
    (this as { model: Gliner2Model }).model = mergePairs(this.model, adapter.pairs, source);
    this.baseWeightsPath = null; // the file no longer holds this model's base weights
    this.adapters.clear();
    this.active = null;
    return this;
  }

  /** Choose the adapter calls use when they name none (`null` = the base model). */
  setActiveAdapter(name: string | null): this {
    if (name !== null) this.adapterNamed(name);
    this.active = name;
    return this;
  }

  /** True when calls that name no adapter run with one (official `has_adapter`). */
  get hasAdapter(): boolean {
    return this.active !== null;
  }

  /** The active adapter's config as the official `adapter_config` reports it, or null. */
  get adapterConfig(): AdapterConfig | null {
    if (this.active === null) return null;
    const config = this.adapters.get(this.active)!.config;
    return { ...config, target_modules: [...config.target_modules] };
  }

  /** Name of the active adapter, or null. */
  get activeAdapter(): string | null {
    return this.active;
  }

  /** Names of the resident adapters, in load order. */
  get adapterNames(): string[] {
    return [...this.adapters.keys()];
  }

  /**
   * The adapter state as plain data (active name, each resident adapter's config): what a proxy whose model
   * runs in a worker thread mirrors, so the getters and the sync adapter methods above work on it too.
   */
  adapterState(): AdapterState {
    return { active: this.active, configs: [...this.adapters].map(([name, a]) => [name, a.config]) };
  }

  /** The model a call runs on: the base, or the view of a resident adapter (`opts.adapter`, else the active one). */
  protected modelFor(adapter: string | null | undefined): Gliner2Model {
    const name = adapter === undefined ? this.active : adapter;
    return name === null ? this.model : this.adapterNamed(name).model;
  }

  private adapterNamed(name: unknown): LoadedAdapter {
    const found = typeof name === "string" ? this.adapters.get(name) : undefined;
    if (found === undefined) {
      const names = [...this.adapters.keys()];
      throw new InputError("adapter", `no adapter named ${JSON.stringify(name)} is loaded${names.length > 0 ? ` (loaded: ${names.join(", ")})` : ""}`);
    }
    return found;
  }

  /**
   * Release the model: ends its worker thread when it runs off-thread; in-thread, closes the checkpoint file an
   * embedding table left on disk reads from (later calls then fail). Memory is freed when the object is collected.
   */
  async dispose(): Promise<void> {
    closeModelFiles(this.model);
  }

  createSchema(): SchemaBuilder {
    return createSchema();
  }

  async extractEntities<O extends CallOptions = {}>(text: string, entityTypes: Parameters<typeof schemaFromEntityTypes>[0], opts?: O): Promise<OutputFor<O, EntitiesOutput>> {
    return this.extract(text, schemaFromEntityTypes(entityTypes), opts ?? {}) as Promise<OutputFor<O, EntitiesOutput>>;
  }

  async classifyText<O extends CallOptions = {}>(text: string, tasks: Parameters<typeof schemaFromTasks>[0], opts?: O): Promise<OutputFor<O, ClassificationsOutput>> {
    return this.extract(text, schemaFromTasks(tasks), opts ?? {}) as Promise<OutputFor<O, ClassificationsOutput>>;
  }

  async extractJson<O extends CallOptions = {}>(text: string, structures: Parameters<typeof schemaFromStructures>[0], opts?: O): Promise<OutputFor<O, StructuresOutput>> {
    return this.extract(text, schemaFromStructures(structures), opts ?? {}) as Promise<OutputFor<O, StructuresOutput>>;
  }

  async extractRelations<O extends CallOptions = {}>(text: string, relationTypes: Parameters<typeof schemaFromRelationTypes>[0], opts?: O): Promise<OutputFor<O, RelationsOutput>> {
    return this.extract(text, schemaFromRelationTypes(relationTypes), opts ?? {}) as Promise<OutputFor<O, RelationsOutput>>;
  }

  async extract(text: string, schema: UserSchema, opts: CallOptions = {}): Promise<ExtractionResult> {
    if (typeof text !== "string") throw new InputError("text", `must be a string, got ${text === null ? "null" : typeof text}`);
    checkOptionKeys(opts, CALL_OPTION_KEYS, "options");
    const [result] = await this.batchExtract([text], schema, { ...opts, batchSize: 1 });
    return result;
  }

  async batchExtractEntities<O extends BatchOptions = {}>(texts: string[], entityTypes: Parameters<typeof schemaFromEntityTypes>[0], opts?: O): Promise<OutputFor<O, EntitiesOutput>[]> {
    return this.batchExtract(texts, schemaFromEntityTypes(entityTypes), opts ?? {}) as Promise<OutputFor<O, EntitiesOutput>[]>;
  }

  async batchClassifyText<O extends BatchOptions = {}>(texts: string[], tasks: Parameters<typeof schemaFromTasks>[0], opts?: O): Promise<OutputFor<O, ClassificationsOutput>[]> {
    return this.batchExtract(texts, schemaFromTasks(tasks), opts ?? {}) as Promise<OutputFor<O, ClassificationsOutput>[]>;
  }

  async batchExtractJson<O extends BatchOptions = {}>(texts: string[], structures: Parameters<typeof schemaFromStructures>[0], opts?: O): Promise<OutputFor<O, StructuresOutput>[]> {
    return this.batchExtract(texts, schemaFromStructures(structures), opts ?? {}) as Promise<OutputFor<O, StructuresOutput>[]>;
  }

  async batchExtractRelations<O extends BatchOptions = {}>(texts: string[], relationTypes: Parameters<typeof schemaFromRelationTypes>[0], opts?: O): Promise<OutputFor<O, RelationsOutput>[]> {
    return this.batchExtract(texts, schemaFromRelationTypes(relationTypes), opts ?? {}) as Promise<OutputFor<O, RelationsOutput>[]>;
  }

  /**
   * Extract from a document of any length: overlapping windows of `chunkSize` words (default 384, overlap 64) are
   * extracted in batches and merged as the official `extract_long` does (offsets into `text`, duplicates across
   * overlaps removed, classifications aggregated). See README "Long documents".
   */
  async extractLong(text: string, schema: UserSchema, opts: LongOptions = {}): Promise<ExtractionResult> {
    if (typeof text !== "string") throw new InputError("text", `must be a string, got ${text === null ? "null" : typeof text}`);
    const [result] = await batchExtractLong(this, [text], schema, opts);
    return result;
  }

  /** `extractLong` over several documents (one schema for all, or one per document); chunks of all are batched. */
  async batchExtractLong(texts: string[], schemas: UserSchema | UserSchema[], opts: LongOptions = {}): Promise<ExtractionResult[]> {
    return batchExtractLong(this, texts, schemas, opts);
  }

  async extractEntitiesLong(text: string, entityTypes: Parameters<typeof schemaFromEntityTypes>[0], opts: LongOptions = {}): Promise<ExtractionResult> {
    return this.extractLong(text, schemaFromEntityTypes(entityTypes), opts);
  }

  async batchExtractEntitiesLong(texts: string[], entityTypes: Parameters<typeof schemaFromEntityTypes>[0], opts: LongOptions = {}): Promise<ExtractionResult[]> {
    return batchExtractLong(this, texts, schemaFromEntityTypes(entityTypes), opts);
  }

  /** Long documents from a (possibly asynchronous, unbounded) stream; one merged result per document, in order. */
  streamExtractLong(documents: Iterable<LongDocument> | AsyncIterable<LongDocument>, opts: LongOptions = {}): AsyncGenerator<ExtractionResult> {
    return streamExtractLong(this, documents, opts);
  }

  /**
   * Extract from many texts with one schema for all, or one schema per text. Texts are encoded `batchSize` at a
   * time; every input is validated before any work starts.
   */
  async batchExtract(texts: string[], schemas: UserSchema | UserSchema[], opts: BatchOptions = {}): Promise<ExtractionResult[]> {
    const options = checkOptions(opts);
    const model = this.modelFor(opts.adapter);
    if (!Array.isArray(texts)) throw new InputError("texts", "must be an array of strings");
    texts.forEach((t, i) => {
      if (typeof t !== "string") throw new InputError(`texts[${i}]`, `must be a string, got ${t === null ? "null" : typeof t}`);
      // Before any work on the text: a huge text is refused at once, not after splitting and tokenizing it.
      if (t.length > this.maxChars) {
        throw new InputError(
          texts.length === 1 ? "text" : `texts[${i}]`,
          `is ${t.length} characters, over the ${this.maxChars}-character limit (${MAX_CHARS_PER_TOKEN} per token of the ${this.maxTokens}-token limit); split the text into chunks${LIMIT_HINT}`,
        );
      }
    });
    const perText = schemasPerText(schemas, texts.length);
    const prompts = new Map<Schema, ReturnType<typeof buildPrompt>>();
    const items = texts.map((raw, i) => {
      const text = prepareText(raw);
      const all = splitWords(text);
      const words = options.maxLen === null ? all : all.slice(0, options.maxLen);
      const schema = perText[i];
      let prompt = prompts.get(schema);
      if (!prompt) prompts.set(schema, (prompt = buildPrompt(schema)));
      return { index: i, text, sourceLength: raw.length, words, prompt };
    });

    const results: ExtractionResult[] = new Array(texts.length);
    for (let start = 0; start < items.length; start += options.batchSize) {
      const batch = items.slice(start, start + options.batchSize);
      const scored = runBatch(
        model,
        batch.map((it) => ({ words: it.words.map((w) => w.text), prompt: it.prompt })),
        { maxTokens: this.maxTokens, firstIndex: start, label: (k) => (texts.length === 1 ? "text" : `texts[${k}]`) },
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
          sourceLength: it.sourceLength,
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

/** How to raise the limits, for the messages (the CLI has no flag for it). */
const LIMIT_HINT = " or load the model with a larger maxTokens (CLI: --max-tokens)";

/** Is `source` an existing folder on a local file system (never true in browsers)? */
async function isLocalFolder(source: string): Promise<boolean> {
  if (/^https?:\/\//i.test(source)) return false;
  const fs = await loadNodeFs();
  if (fs === null) return false;
  const st = await fs.promises.stat(source).catch(() => null);
  return st !== null && st.isDirectory();
}

function checkOptions(opts: BatchOptions): Required<Omit<BatchOptions, "spanSelection" | "adapter" | "maxLen" | "overlapPolicy">> & { spanSelection: SpanSelection; maxLen: number | null } {
  if (typeof opts !== "object" || opts === null) throw new InputError("options", "must be an object");
  checkOptionKeys(opts, BATCH_OPTION_KEYS, "options");
  const threshold = opts.threshold ?? 0.5;
  if (typeof threshold !== "number" || !(threshold >= 0 && threshold <= 1)) throw new InputError("threshold", `must be a number in [0, 1], got ${describeValue(opts.threshold)}`);
  const batchSize = opts.batchSize ?? 8;
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new InputError("batchSize", `must be a positive integer, got ${describeValue(opts.batchSize)}`);
  const spanSelection = opts.spanSelection ?? "official";
  if (spanSelection !== "official" && spanSelection !== "first" && spanSelection !== "best") throw new InputError("spanSelection", `must be "official", "first" or "best", got ${describeValue(spanSelection)}`);
  if (opts.overlapPolicy !== undefined && !["flat", "nested", "longest"].includes(opts.overlapPolicy)) {
    throw new InputError("overlapPolicy", `must be "flat", "nested" or "longest", got ${describeValue(opts.overlapPolicy)}`);
  }
  const maxLen = opts.maxLen ?? null;
  if (maxLen !== null && (!Number.isInteger(maxLen) || maxLen < 1)) throw new InputError("maxLen", `must be a positive integer (words), got ${describeValue(opts.maxLen)}`);
  for (const key of ["includeConfidence", "includeSpans", "formatResults"] as const) {
    if (opts[key] !== undefined && typeof opts[key] !== "boolean") throw new InputError(key, `must be a boolean, got ${describeValue(opts[key])}`);
  }
  return {
    threshold,
    batchSize,
    spanSelection,
    maxLen,
    includeConfidence: opts.includeConfidence ?? false,
    includeSpans: opts.includeSpans ?? false,
    formatResults: opts.formatResults ?? true,
  };
}

export { CHECKPOINT_FILES };

/**
 * Long-document extraction: documents → chunks → batched extraction → merged results, streaming.
 *
 * Every chunk of every document goes through the model's ordinary `batchExtract` (so the encoder, the thread pool
 * and any per-call option apply unchanged), `batchSize` chunks per encoder call, with confidences and character
 * offsets (merging needs both) and `maxLen = chunkSize` as the official does. Documents are consumed lazily and each
 * merged result is emitted as soon as its last chunk is scored: memory holds one chunk batch of encoder state,
 * plus the small formatted results of the documents still open, never a whole document's activations.
 */
import { InputError } from "../errors.js";
import type { BatchOptions, ExtractionResult, GLiNER2 } from "../gliner2.js";
import { normalizeSchema, schemasPerText, type Schema, type SchemaInput as UserSchema } from "../schema/schema.js";
import { splitWords } from "../text/words.js";
import { checkChunkOptions, countChunks, iterateChunks, type ChunkOptions, type TextChunk } from "./chunks.js";
import { mergeChunkResults } from "./merge.js";

/** What `onProgress` reports after every chunk batch. */
export interface LongProgress {
  /** Chunks scored so far (all documents). */
  readonly chunksDone: number;
  /** Chunks of the documents read so far (grows as documents arrive). */
  readonly chunksKnown: number;
  /** Documents whose merged result has been emitted. */
  readonly documentsDone: number;
}

export interface LongOptions extends Omit<BatchOptions, "maxLen" | "formatResults"> {
  /** Words per chunk (default 384, as official). */
  readonly chunkSize?: number;
  /** Words shared by consecutive chunks (default 64, as official); smaller than `chunkSize`. */
  readonly chunkOverlap?: number;
  /** Must be true (or absent): chunk results are merged in the formatted shape (the official raises too). */
  readonly formatResults?: boolean;
  /** Called after every chunk batch. */
  readonly onProgress?: (p: LongProgress) => void;
}

/** One document of a stream: its text and its schema. */
export interface LongDocument {
  readonly text: string;
  readonly schema: UserSchema;
}

interface OpenDocument {
  readonly text: string;
  readonly chunks: TextChunk[];
  readonly results: unknown[];
  readonly scalarLabels: ReadonlySet<string>;
  /** All chunks have been queued. */
  complete: boolean;
}

interface Job {
  readonly doc: OpenDocument;
  readonly index: number;
  readonly schema: Schema;
}

/** Options for the per-chunk `batchExtract` calls (other per-call options pass through untouched). */
function chunkCallOptions(opts: LongOptions, chunk: ChunkOptions): BatchOptions {
  const { chunkSize: _s, chunkOverlap: _o, onProgress: _p, ...rest } = opts as LongOptions & Record<string, unknown>;
  return { ...rest, includeConfidence: true, includeSpans: true, formatResults: true, maxLen: chunk.chunkSize };
}

function checkLongOptions(opts: LongOptions): ChunkOptions {
  if (typeof opts !== "object" || opts === null) throw new InputError("options", "must be an object");
  if (opts.formatResults === false) {
    throw new InputError("formatResults", "long-document extraction merges formatted results; formatResults: false is not supported (the official raises too)");
  }
  if (opts.onProgress !== undefined && typeof opts.onProgress !== "function") throw new InputError("onProgress", "must be a function");
  if (opts.overlapPolicy !== undefined && !["flat", "nested", "longest"].includes(opts.overlapPolicy)) {
    throw new InputError("overlapPolicy", `must be "flat", "nested" or "longest", got ${JSON.stringify(opts.overlapPolicy)}`);
  }
  return checkChunkOptions(opts);
}

/**
 * Extract from a stream of documents, yielding one merged result per document, in order. The stream may be
 * synchronous or asynchronous and as long as you like (a book's chapters, a JSONL corpus).
 */
export async function* streamExtractLong(model: GLiNER2, documents: Iterable<LongDocument> | AsyncIterable<LongDocument>, opts: LongOptions = {}): AsyncGenerator<ExtractionResult> {
  const chunk = checkLongOptions(opts);
  const callOpts = chunkCallOptions(opts, chunk);
  const batchSize = opts.batchSize ?? 8;
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new InputError("batchSize", `must be a positive integer, got ${JSON.stringify(opts.batchSize)}`);
  const normalized = new Map<unknown, Schema>();
  const open: OpenDocument[] = [];
  let jobs: Job[] = [];
  let chunksDone = 0;
  let chunksKnown = 0;
  let documentsDone = 0;
  let n = 0;

  const flush = async () => {
    if (jobs.length === 0) return;
    const batch = jobs;
    jobs = [];
    const results = await model.batchExtract(batch.map((j) => j.doc.chunks[j.index].text), batch.map((j) => j.schema), { ...callOpts, batchSize });
    batch.forEach((j, i) => (j.doc.results[j.index] = results[i]));
    chunksDone += batch.length;
  };
  /** Merged results of the finished documents at the head of the queue. */
  function* finished(): Generator<ExtractionResult> {
    while (open.length > 0 && open[0].complete && open[0].results.length === open[0].chunks.length && !open[0].results.includes(undefined)) {
      const d = open.shift()!;
      documentsDone++;
      yield mergeChunkResults(d.text, d.chunks, d.results, {
        includeConfidence: opts.includeConfidence === true,
        includeSpans: opts.includeSpans === true,
        scalarEntityLabels: d.scalarLabels,
      }) as ExtractionResult;
    }
  }
  const report = () => opts.onProgress?.({ chunksDone, chunksKnown, documentsDone });

  for await (const item of documents as AsyncIterable<LongDocument>) {
    const where = `texts[${n}]`;
    if (item === null || typeof item !== "object") throw new InputError(`documents[${n}]`, "must be an object {text, schema}");
    const { text } = item;
    if (typeof text !== "string") throw new InputError(where, `must be a string, got ${text === null ? "null" : typeof text}`);
    let schema = normalized.get(item.schema);
    if (schema === undefined) normalized.set(item.schema, (schema = normalizeSchema(item.schema, `schemas[${n}]`)));
    const words = splitWords(text);
    chunksKnown += countChunks(words.length, chunk);
    const doc: OpenDocument = {
      text,
      chunks: [],
      results: [],
      scalarLabels: new Set(schema.entities.filter((e) => e.dtype === "str").map((e) => e.name)),
      complete: false,
    };
    open.push(doc);
    for (const c of iterateChunks(text, chunk, words)) {
      doc.chunks.push(c);
      jobs.push({ doc, index: doc.chunks.length - 1, schema });
      if (jobs.length >= batchSize) {
        await flush();
        yield* finished();
        report();
      }
    }
    doc.complete = true;
    yield* finished();
    n++;
  }
  await flush();
  yield* finished();
  report();
}

/** Extract from several long documents: one schema for all, or one per document (official `batch_extract_long`). */
export async function batchExtractLong(model: GLiNER2, texts: string[], schemas: UserSchema | UserSchema[], opts: LongOptions = {}): Promise<ExtractionResult[]> {
  checkLongOptions(opts);
  if (!Array.isArray(texts)) throw new InputError("texts", "must be an array of strings");
  texts.forEach((t, i) => {
    if (typeof t !== "string") throw new InputError(`texts[${i}]`, `must be a string, got ${t === null ? "null" : typeof t}`);
  });
  const perText: Schema[] = schemasPerText(schemas, texts.length);
  const out: ExtractionResult[] = [];
  for await (const r of streamExtractLong(model, texts.map((text, i) => ({ text, schema: perText[i] })), opts)) out.push(r);
  return out;
}

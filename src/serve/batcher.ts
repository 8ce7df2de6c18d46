/**
 * Dynamic batching: requests queue here; when the model is free, the oldest request and the queued requests
 * with the same call options (adapter and long-document windows included: one model call runs one adapter)
 * that fit join one `batchExtract` call (one schema per text) — or one `batchExtractLong` call for long
 * documents — capped by texts and by padded tokens (texts × longest). A lone request waits at most `windowMs` for companions. Results are
 * routed back per request; when a combined call fails, its requests are retried one by one so only the
 * request at fault gets the error. The queue is bounded: `push` refuses work beyond `maxQueue` texts.
 */
import type { CallOptions, ExtractionResult } from "../gliner2.js";
import type { ChunkOptions, LongOptions } from "../long/index.js";
import type { Schema } from "../schema/schema.js";

export interface BatchModel {
  batchExtract(texts: string[], schemas: Schema[], opts: CallOptions & { batchSize?: number }): Promise<ExtractionResult[]>;
  batchExtractLong(texts: string[], schemas: Schema[], opts: LongOptions): Promise<ExtractionResult[]>;
}

/** A long-document job's windows, and the estimated tokens of one window (prompt included). */
export interface LongJob extends ChunkOptions {
  readonly chunkTokens: number;
}

export interface Job {
  readonly texts: readonly string[];
  readonly schema: Schema;
  readonly options: CallOptions;
  /** Estimated tokens per text (prompt + words; for a long document, all its windows). */
  readonly tokens: readonly number[];
  /** Set for long documents: the texts go through `batchExtractLong` with these windows. */
  readonly long?: LongJob;
}

export interface BatcherOptions {
  /** Most texts in one model call (default 16). 1 disables combining requests. */
  readonly maxBatch: number;
  /** Most padded tokens (texts × longest) in one combined call (default 8192). */
  readonly maxBatchTokens: number;
  /** How long a request waits for companions when the model is idle (ms, default 2; 0 = never waits). */
  readonly windowMs: number;
  /** Most texts waiting (not yet given to the model); more → `push` returns null (default 256). */
  readonly maxQueue: number;
  /** Called after every model call. */
  readonly onBatch?: (texts: number, tokens: number, seconds: number) => void;
}

interface Entry {
  readonly job: Job;
  readonly key: string;
  readonly resolve: (r: ExtractionResult[]) => void;
  readonly reject: (e: unknown) => void;
  cancelled: boolean;
}

export interface Batcher {
  /** Queue a job; null when the queue is full. The handle's `cancel` drops it if it has not started. */
  push(job: Job): { promise: Promise<ExtractionResult[]>; cancel(): void } | null;
  readonly queuedTexts: number;
  readonly inflightTexts: number;
  /** Resolves when nothing is queued or running. */
  idle(): Promise<void>;
}

export function createBatcher(model: BatchModel, opts: BatcherOptions): Batcher {
  const queue: Entry[] = [];
  let queued = 0;
  let inflight = 0;
  let running = false;
  let timer: ReturnType<typeof setTimeout> | null = null;
  let idleWaiters: (() => void)[] = [];

  // Requests join one model call only when every option of that call is the same, the adapter included
  // (absent = the model's default, which is not the same as null = the base model).
  const optionsKey = (j: Job) => {
    const o = j.options;
    return JSON.stringify([o.threshold, o.includeConfidence, o.includeSpans, o.formatResults, o.spanSelection, o.adapter === undefined ? 0 : o.adapter, j.long ? [j.long.chunkSize, j.long.chunkOverlap] : 0]);
  };

  const checkIdle = () => {
    if (queue.length === 0 && !running) {
      const w = idleWaiters;
      idleWaiters = [];
      for (const f of w) f();
    }
  };

  /** The requests of the next model call: the head, then same-options requests that fit the caps. */
  const take = (): Entry[] => {
    const head = queue.shift()!;
    queued -= head.job.texts.length;
    const picked = [head];
    if (opts.maxBatch <= 1) return picked;
    let n = head.job.texts.length;
    let longest = Math.max(0, ...head.job.tokens);
    for (let i = 0; i < queue.length && n < opts.maxBatch; ) {
      const e = queue[i];
      const longer = Math.max(longest, ...e.job.tokens);
      const m = n + e.job.texts.length;
      if (e.key === head.key && m <= opts.maxBatch && m * longer <= opts.maxBatchTokens) {
        picked.push(e);
        queue.splice(i, 1);
        queued -= e.job.texts.length;
        n = m;
        longest = longer;
      } else i++;
    }
    return picked;
  };

  const run = async (entries: Entry[]): Promise<void> => {
    const texts = entries.flatMap((e) => e.job.texts);
    const schemas = entries.flatMap((e) => e.job.texts.map(() => e.job.schema));
    const tokens = entries.reduce((s, e) => s + e.job.tokens.reduce((a, b) => a + b, 0), 0);
    inflight = texts.length;
    const t0 = performance.now();
    try {
      const { long, options } = entries[0].job;
      const results = long
        ? // Windows per encoder call: as many as the token cap allows, at most maxBatch.
          await model.batchExtractLong(texts, schemas, { ...options, chunkSize: long.chunkSize, chunkOverlap: long.chunkOverlap, batchSize: Math.max(1, Math.min(opts.maxBatch, Math.floor(opts.maxBatchTokens / long.chunkTokens))) })
        : await model.batchExtract(texts, schemas, { ...options, batchSize: Math.max(1, Math.min(opts.maxBatch, texts.length)) });
      opts.onBatch?.(texts.length, tokens, (performance.now() - t0) / 1000);
      let at = 0;
      for (const e of entries) {
        e.resolve(results.slice(at, at + e.job.texts.length));
        at += e.job.texts.length;
      }
    } catch (err) {
      opts.onBatch?.(texts.length, tokens, (performance.now() - t0) / 1000);
      if (entries.length === 1) entries[0].reject(err);
      else for (const e of entries) await run([e]); // find the request at fault; the others still get answers
    } finally {
      inflight = 0;
    }
  };

  const pump = () => {
    if (running || queue.length === 0) return;
    running = true;
    void (async () => {
      while (queue.length > 0) {
        // Drop cancelled requests (timed out while waiting).
        while (queue.length > 0 && queue[0].cancelled) queued -= queue.shift()!.job.texts.length;
        if (queue.length === 0) break;
        await run(take());
      }
      running = false;
      checkIdle();
    })();
  };

  const schedule = () => {
    if (running || timer !== null) return;
    const full = queued >= opts.maxBatch;
    if (opts.windowMs <= 0 || opts.maxBatch <= 1 || full) {
      pump();
      return;
    }
    timer = setTimeout(() => {
      timer = null;
      pump();
    }, opts.windowMs);
  };

  return {
    push(job) {
      if (queued + job.texts.length > opts.maxQueue && queued > 0) return null;
      let entry!: Entry;
      const promise = new Promise<ExtractionResult[]>((resolve, reject) => {
        entry = { job, key: optionsKey(job), resolve, reject, cancelled: false };
      });
      queue.push(entry);
      queued += job.texts.length;
      if (timer !== null && queued >= opts.maxBatch) {
        clearTimeout(timer);
        timer = null;
        pump();
      } else schedule();
      return {
        promise,
        cancel: () => {
          const i = queue.indexOf(entry);
          if (i >= 0) {
            queue.splice(i, 1);
            queued -= job.texts.length;
            checkIdle();
          }
          entry.cancelled = true;
        },
      };
    },
    get queuedTexts() {
      return queued;
    },
    get inflightTexts() {
      return inflight;
    },
    idle() {
      if (queue.length === 0 && !running) return Promise.resolve();
      return new Promise((r) => idleWaiters.push(r));
    },
  };
}

/**
 * Streaming JSONL: read input lines incrementally, process them in batches, write one output line per input
 * line as soon as its batch is done. Memory is bounded by one input chunk, one batch and the output stream's
 * buffer: the next chunk is only pulled from the input once the previous batch has been written and the
 * output has drained (backpressure both ways).
 */
import { Gliner2Error, InputError } from "../errors.js";
import { safeMessage } from "../quote.js";

/** A line longer than the reader's limit: its characters were counted and dropped, never held in memory. */
export class OverlongLine {
  constructor(readonly chars: number) {}
}

/** Longest JSONL line kept (characters): far above any text a model accepts, small enough to bound memory. */
export const DEFAULT_MAX_LINE_CHARS = 16 * 1024 * 1024;

/**
 * Split a byte/string stream into lines (`\n` or `\r\n`), pulling chunks only as lines are consumed. A line
 * over `maxLineChars` is not accumulated: it comes out as an `OverlongLine` (so the caller can report it and
 * go on), and reading resumes at the next line. Each chunk is scanned once, so long lines cost linear time.
 */
export async function* readLines(source: AsyncIterable<Uint8Array | string>, maxLineChars = DEFAULT_MAX_LINE_CHARS): AsyncGenerator<string | OverlongLine> {
  const decoder = new TextDecoder("utf-8", { fatal: false });
  let parts: string[] = [];
  let held = 0;
  let skipped = -1; // ≥ 0 while dropping the rest of an overlong line
  const take = (piece: string): string | OverlongLine => {
    let out: string | OverlongLine;
    if (skipped >= 0) out = new OverlongLine(skipped + piece.length);
    else if (held + piece.length > maxLineChars) out = new OverlongLine(held + piece.length);
    else {
      const line = parts.length === 0 ? piece : parts.join("") + piece;
      out = line.endsWith("\r") ? line.slice(0, -1) : line;
    }
    parts = [];
    held = 0;
    skipped = -1;
    return out;
  };
  const keep = (rest: string) => {
    if (rest === "") return;
    if (skipped >= 0) skipped += rest.length;
    else if (held + rest.length > maxLineChars) {
      skipped = held + rest.length;
      parts = [];
      held = 0;
    } else {
      parts.push(rest);
      held += rest.length;
    }
  };
  async function* split(s: string) {
    let start = 0;
    for (let nl = s.indexOf("\n"); nl !== -1; nl = s.indexOf("\n", start)) {
      yield take(s.slice(start, nl));
      start = nl + 1;
    }
    keep(s.slice(start));
  }
  for await (const chunk of source) yield* split(typeof chunk === "string" ? chunk : decoder.decode(chunk, { stream: true }));
  yield* split(decoder.decode());
  if (held > 0 || skipped >= 0) yield take("");
}

/** One input record: the text to process and the fields to copy to the output. */
export interface JsonlRecord {
  /** 1-based line number in the input, for error messages. */
  readonly line: number;
  readonly text: string;
  /** The input object (every field is kept in the output), or null when the line was a bare JSON string. */
  readonly fields: Record<string, unknown> | null;
}

/**
 * Parse one input line: a JSON object with a string `textField`, or a bare JSON string. Blank lines give null
 * (skipped). `where` names the input (file path or "stdin") in errors.
 */
export function parseRecord(raw: string, line: number, textField: string, where: string): JsonlRecord | null {
  if (raw.trim() === "") return null;
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch (e) {
    throw new InputError(`${where} line ${line}`, `not valid JSON (${(e as Error).message}): ${preview(raw)}`);
  }
  if (typeof value === "string") return { line, text: value, fields: null };
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    throw new InputError(`${where} line ${line}`, `expected a JSON object with a "${textField}" field or a JSON string, got ${Array.isArray(value) ? "an array" : JSON.stringify(value)}`);
  }
  const obj = value as Record<string, unknown>;
  const text = obj[textField];
  if (typeof text !== "string") {
    const why = text === undefined ? `has no "${textField}" field` : `field "${textField}" is ${text === null ? "null" : typeof text}, not a string`;
    throw new InputError(`${where} line ${line}`, `the object ${why}`);
  }
  return { line, text, fields: obj };
}

function preview(s: string): string {
  return s.length > 60 ? `${JSON.stringify(s.slice(0, 60))}…` : JSON.stringify(s);
}

/** The error record of a failed input line: `{"line": N, "error": {"code", "message"}}`. */
export function errorLine(line: number, err: unknown): string {
  const code = err instanceof Gliner2Error ? err.code : "INTERNAL";
  const message = err instanceof Error ? err.message : String(err);
  return `${JSON.stringify({ line, error: { code, message: safeMessage(message) } })}\n`;
}

/** The output line of one record: its fields (or `{text}` for a bare string) plus the result. */
export function outputLine(record: JsonlRecord, result: unknown, textField: string, resultField: string): string {
  const base = record.fields ?? { [textField]: record.text };
  return `${JSON.stringify({ ...base, [resultField]: result })}\n`;
}

export interface StreamJsonlOptions {
  readonly lines: AsyncIterable<string | OverlongLine>;
  readonly batchSize: number;
  readonly textField: string;
  readonly resultField: string;
  /** Input name for errors ("stdin" or the file path). */
  readonly where: string;
  /** Results for a batch of texts, in order. */
  readonly run: (texts: string[]) => Promise<unknown[]>;
  /** Write a chunk; resolves when the output can take more (drain). */
  readonly write: (chunk: string) => Promise<void>;
  /** Called after every batch with the number of records written so far. */
  readonly onBatch?: (records: number) => void;
  /**
   * true (the default here): the first bad record ends the stream with an error naming its line, after the
   * records before it were written. false: a bad record becomes an error record and the stream goes on.
   */
  readonly failFast?: boolean;
  /** Where error records go (default: `write`, in input order among the results). */
  readonly writeError?: (chunk: string) => Promise<void>;
  /** Called for each failed record. */
  readonly onRecordError?: (line: number, err: unknown) => void;
}

/** One input line waiting in the batch: a record to run, or the error its line already has. */
type Pending = { readonly line: number; readonly record: JsonlRecord } | { readonly line: number; readonly error: unknown };

/** Outcome of one record. */
type Outcome = { ok: true; value: unknown } | { ok: false; error: unknown };

/**
 * The error a record gets, located by its input line (not by its index inside a batch): the message keeps
 * the library's wording, prefixed with `<input> line N`.
 */
function atLine(err: unknown, where: string, line: number): Gliner2Error {
  const prefix = `${where} line ${line}`;
  if (err instanceof Gliner2Error && err.message.startsWith(prefix)) return err;
  const message = err instanceof Error ? err.message : String(err);
  if (err instanceof Gliner2Error) {
    const located = new Gliner2Error(err.code, `${prefix}: ${message}`, { cause: err });
    return located;
  }
  return new Gliner2Error("INTERNAL", `${prefix}: internal error: ${message}`, { cause: err });
}

/** Process a JSONL stream batch by batch; returns the number of result records written. */
export async function streamJsonl(opts: StreamJsonlOptions): Promise<number> {
  const failFast = opts.failFast ?? true;
  const writeError = opts.writeError ?? opts.write;
  let lineNo = 0;
  let written = 0;
  let batch: Pending[] = [];

  /** Results for the batch's records; when the batch fails, each record is run alone to find the bad one(s). */
  const runAll = async (records: JsonlRecord[]): Promise<Outcome[]> => {
    if (records.length === 0) return [];
    try {
      const results = await opts.run(records.map((r) => r.text));
      if (results.length !== records.length) throw new Error(`internal: ${results.length} results for a batch of ${records.length}`);
      return results.map((value) => ({ ok: true, value }));
    } catch (err) {
      if (records.length === 1) return [{ ok: false, error: err }];
      const out: Outcome[] = [];
      for (const r of records) {
        out.push(...(await runAll([r])));
        if (failFast && !out[out.length - 1].ok) break;
      }
      return out;
    }
  };

  const flush = async () => {
    if (batch.length === 0) return;
    const pending = batch;
    batch = [];
    // Records after an already-failed line are not run in fail-fast mode.
    const firstBad = failFast ? pending.findIndex((p) => "error" in p) : -1;
    const runnable = (firstBad >= 0 ? pending.slice(0, firstBad) : pending).filter((p): p is Extract<Pending, { record: JsonlRecord }> => "record" in p);
    const outcomes = await runAll(runnable.map((p) => p.record));
    const byLine = new Map(runnable.map((p, i) => [p.line, outcomes[i]] as const));
    let out = "";
    let errs = "";
    for (const p of pending) {
      const o: Outcome | undefined = "error" in p ? { ok: false, error: p.error } : byLine.get(p.line);
      if (o === undefined) break; // fail-fast: not run
      let lineOut: string | null = null;
      let error: unknown = o.ok ? null : o.error;
      if (o.ok) {
        try {
          lineOut = outputLine((p as { record: JsonlRecord }).record, o.value, opts.textField, opts.resultField);
        } catch (e) {
          // e.g. input fields nested too deeply to serialise again
          error = new InputError("record", `cannot write the output record (${e instanceof Error ? e.message : String(e)})`);
        }
      }
      if (lineOut !== null) {
        out += lineOut;
        written++;
        continue;
      }
      opts.onRecordError?.(p.line, error);
      if (failFast) {
        if (out !== "") await opts.write(out);
        throw atLine(error, opts.where, p.line);
      }
      const rec = errorLine(p.line, atLine(error, opts.where, p.line));
      if (opts.writeError === undefined) out += rec;
      else errs += rec;
    }
    // One write per batch keeps syscalls low; its size is bounded by the batch.
    if (out !== "") await opts.write(out);
    if (errs !== "") await writeError(errs);
    opts.onBatch?.(written);
  };

  for await (const raw of opts.lines) {
    lineNo++;
    let pending: Pending | null;
    try {
      if (raw instanceof OverlongLine) {
        throw new InputError(`${opts.where} line ${lineNo}`, `the line is ${raw.chars} characters long, over the ${DEFAULT_MAX_LINE_CHARS}-character limit for one record; it was skipped`);
      }
      const record = parseRecord(raw, lineNo, opts.textField, opts.where);
      pending = record === null ? null : { line: lineNo, record };
    } catch (e) {
      pending = { line: lineNo, error: e };
    }
    if (pending === null) continue;
    batch.push(pending);
    if (batch.length >= opts.batchSize || (failFast && "error" in pending)) await flush();
  }
  await flush();
  return written;
}

export interface StreamJsonlLongOptions {
  readonly lines: AsyncIterable<string | OverlongLine>;
  readonly textField: string;
  readonly resultField: string;
  readonly where: string;
  /** Merged results of a stream of document texts, in order (the library's `streamExtractLong`). */
  readonly run: (texts: AsyncIterable<string>) => AsyncIterable<unknown>;
  readonly write: (chunk: string) => Promise<void>;
  /** As in `streamJsonl`: true (the default here) ends the stream at the first malformed line. */
  readonly failFast?: boolean;
  readonly writeError?: (chunk: string) => Promise<void>;
  readonly onRecordError?: (line: number, err: unknown) => void;
}

/**
 * JSONL where every record is a long document: records are handed to the chunked extractor one by one (it pulls
 * the next only when it needs more chunks for a batch), and each output line is written as soon as its
 * document's last chunk is merged. A malformed line becomes an error record in its place (after the documents
 * before it are written) and the stream goes on; with `failFast` the documents before it are finished and
 * written first, then its error is raised. An error from the extractor itself ends the stream.
 */
export async function streamJsonlLong(opts: StreamJsonlLongOptions): Promise<number> {
  const failFast = opts.failFast ?? true;
  // Input order: documents waiting for their result, and malformed lines waiting for the documents before them.
  const queue: ({ record: JsonlRecord } | { line: number; error: unknown })[] = [];
  let failure: unknown = null;
  let lineNo = 0;
  let written = 0;
  const flushErrors = async () => {
    while (queue.length > 0 && "error" in queue[0]) {
      const { line, error } = queue.shift() as { line: number; error: unknown };
      opts.onRecordError?.(line, error);
      await (opts.writeError ?? opts.write)(errorLine(line, atLine(error, opts.where, line)));
    }
  };
  async function* documents(): AsyncGenerator<string> {
    for await (const raw of opts.lines) {
      lineNo++;
      let record: JsonlRecord | null;
      try {
        if (raw instanceof OverlongLine) {
          throw new InputError(`${opts.where} line ${lineNo}`, `the line is ${raw.chars} characters long, over the ${DEFAULT_MAX_LINE_CHARS}-character limit for one record; it was skipped`);
        }
        record = parseRecord(raw, lineNo, opts.textField, opts.where);
      } catch (e) {
        if (failFast) {
          failure = atLine(e, opts.where, lineNo);
          opts.onRecordError?.(lineNo, e);
          return;
        }
        queue.push({ line: lineNo, error: e });
        continue;
      }
      if (record === null) continue;
      queue.push({ record });
      yield record.text;
    }
  }
  for await (const result of opts.run(documents())) {
    await flushErrors();
    const head = queue.shift();
    if (head === undefined || !("record" in head)) throw new Error("internal: more results than records");
    await opts.write(outputLine(head.record, result, opts.textField, opts.resultField));
    written++;
  }
  await flushErrors();
  if (failure !== null) throw failure;
  return written;
}

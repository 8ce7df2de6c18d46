/**
 * Streaming JSONL: read input lines incrementally, process them in batches, write one output line per input
 * line as soon as its batch is done. Memory is bounded by one input chunk, one batch and the output stream's
 * buffer: the next chunk is only pulled from the input once the previous batch has been written and the
 * output has drained (backpressure both ways).
 */
import { InputError } from "../errors.js";

/** Split a byte/string stream into lines (`\n` or `\r\n`), pulling chunks only as lines are consumed. */
export async function* readLines(source: AsyncIterable<Uint8Array | string>): AsyncGenerator<string> {
  const decoder = new TextDecoder("utf-8", { fatal: false });
  let carry = "";
  for await (const chunk of source) {
    carry += typeof chunk === "string" ? chunk : decoder.decode(chunk, { stream: true });
    let nl = carry.indexOf("\n");
    while (nl !== -1) {
      const line = carry.slice(0, nl);
      carry = carry.slice(nl + 1);
      yield line.endsWith("\r") ? line.slice(0, -1) : line;
      nl = carry.indexOf("\n");
    }
  }
  carry += decoder.decode();
  if (carry !== "") yield carry.endsWith("\r") ? carry.slice(0, -1) : carry;
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

/** The output line of one record: its fields (or `{text}` for a bare string) plus the result. */
export function outputLine(record: JsonlRecord, result: unknown, textField: string, resultField: string): string {
  const base = record.fields ?? { [textField]: record.text };
  return `${JSON.stringify({ ...base, [resultField]: result })}\n`;
}

export interface StreamJsonlOptions {
  readonly lines: AsyncIterable<string>;
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
}

/** Process a JSONL stream batch by batch; returns the number of records written. */
export async function streamJsonl(opts: StreamJsonlOptions): Promise<number> {
  let lineNo = 0;
  let written = 0;
  let batch: JsonlRecord[] = [];
  const flush = async () => {
    if (batch.length === 0) return;
    const results = await opts.run(batch.map((r) => r.text));
    if (results.length !== batch.length) throw new Error(`internal: ${results.length} results for a batch of ${batch.length}`);
    // One write per batch keeps syscalls low; its size is bounded by the batch.
    await opts.write(batch.map((r, i) => outputLine(r, results[i], opts.textField, opts.resultField)).join(""));
    written += batch.length;
    batch = [];
    opts.onBatch?.(written);
  };
  for await (const raw of opts.lines) {
    lineNo++;
    let record: JsonlRecord | null;
    try {
      record = parseRecord(raw, lineNo, opts.textField, opts.where);
    } catch (e) {
      await flush(); // everything before the bad line still gets its output
      throw e;
    }
    if (record === null) continue;
    batch.push(record);
    if (batch.length >= opts.batchSize) await flush();
  }
  await flush();
  return written;
}

export interface StreamJsonlLongOptions {
  readonly lines: AsyncIterable<string>;
  readonly textField: string;
  readonly resultField: string;
  readonly where: string;
  /** Merged results of a stream of document texts, in order (the library's `streamExtractLong`). */
  readonly run: (texts: AsyncIterable<string>) => AsyncIterable<unknown>;
  readonly write: (chunk: string) => Promise<void>;
}

/**
 * JSONL where every record is a long document: records are handed to the chunked extractor one by one (it pulls
 * the next only when it needs more chunks for a batch), and each output line is written as soon as its
 * document's last chunk is merged. A malformed line ends the input there: the documents before it are finished
 * and written first, then its error is raised.
 */
export async function streamJsonlLong(opts: StreamJsonlLongOptions): Promise<number> {
  const pending: JsonlRecord[] = [];
  let failure: unknown = null;
  let lineNo = 0;
  async function* documents(): AsyncGenerator<string> {
    for await (const raw of opts.lines) {
      lineNo++;
      let record: JsonlRecord | null;
      try {
        record = parseRecord(raw, lineNo, opts.textField, opts.where);
      } catch (e) {
        failure = e;
        return;
      }
      if (record === null) continue;
      pending.push(record);
      yield record.text;
    }
  }
  let written = 0;
  for await (const result of opts.run(documents())) {
    const record = pending.shift();
    if (record === undefined) throw new Error("internal: more results than records");
    await opts.write(outputLine(record, result, opts.textField, opts.resultField));
    written++;
  }
  if (failure !== null) throw failure;
  return written;
}

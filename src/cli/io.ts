/**
 * Input and output plumbing of the CLI: where the text comes from (argument, --text, --input FILE, stdin) and
 * writing to stdout with backpressure.
 */
import { createReadStream } from "node:fs";
import { stat } from "node:fs/promises";
import type { Readable, Writable } from "node:stream";
import { InputError } from "../errors.js";

/** The process streams, injectable for tests. */
export interface CliIO {
  readonly stdin: Readable & { isTTY?: boolean };
  readonly stdout: Writable & { isTTY?: boolean };
  readonly stderr: Writable & { isTTY?: boolean; columns?: number };
  readonly env: Readonly<Record<string, string | undefined>>;
}

/** A byte source to read from, named for error messages, with its size when known (files). */
export interface InputSource {
  readonly stream: AsyncIterable<Uint8Array | string>;
  readonly where: string;
  readonly size: number | null;
}

/** Open `--input PATH` (or stdin for "-" / undefined) with a clear error for a missing or unreadable file. */
export async function openInput(path: string | undefined, io: CliIO, flag = "--input"): Promise<InputSource> {
  if (path === undefined || path === "-") return { stream: io.stdin, where: "stdin", size: null };
  let size: number;
  try {
    const st = await stat(path);
    if (st.isDirectory()) throw new InputError(flag, `${path} is a directory, not a file`);
    size = st.size;
  } catch (e) {
    if (e instanceof InputError) throw e;
    const code = (e as NodeJS.ErrnoException).code;
    throw new InputError(flag, code === "ENOENT" ? `file ${path} not found` : `cannot read ${path} (${code ?? (e as Error).message})`);
  }
  return { stream: createReadStream(path, { highWaterMark: 64 * 1024 }), where: path, size };
}

/**
 * Read a whole source as UTF-8 text. With `maxChars`, reading stops as soon as the text is longer (the caller
 * refuses it anyway), so a huge file or an endless pipe never fills memory: the text read so far is returned.
 */
export async function readAllText(source: InputSource, maxChars = Infinity): Promise<string> {
  const decoder = new TextDecoder();
  let text = "";
  try {
    for await (const chunk of source.stream) {
      text += typeof chunk === "string" ? chunk : decoder.decode(chunk, { stream: true });
      if (text.length > maxChars) return text;
    }
  } catch (e) {
    throw new InputError(source.where, `read failed (${(e as Error).message})`);
  }
  return text + decoder.decode();
}

/** Raised when stdout's reader went away (e.g. `| head`): not an error, just stop. */
export class OutputClosed extends Error {
  constructor() {
    super("output closed");
  }
}

/**
 * A writer for `stream` that resolves once the chunk is accepted, waiting for 'drain' when the stream's buffer
 * is full, and rejects with OutputClosed when the reader has gone (EPIPE).
 */
export function streamWriter(stream: Writable): (chunk: string) => Promise<void> {
  let closed: Error | null = null;
  stream.on("error", (e: NodeJS.ErrnoException) => {
    closed = e.code === "EPIPE" || e.code === "ERR_STREAM_DESTROYED" ? new OutputClosed() : e;
  });
  return (chunk) =>
    new Promise<void>((resolve, reject) => {
      if (closed) return reject(closed);
      const onError = () => {
        cleanup();
        reject(closed ?? new OutputClosed());
      };
      const onDrain = () => {
        cleanup();
        resolve();
      };
      const cleanup = () => {
        stream.off("error", onError);
        stream.off("drain", onDrain);
      };
      if (stream.write(chunk)) return resolve();
      stream.on("error", onError);
      stream.on("drain", onDrain);
    });
}

/**
 * Long documents → overlapping word windows (the official `split_text_into_chunks`, HEAD chunking.py), with
 * offsets into the original document.
 *
 * Words are the engine's own words (`splitWords`: the official regex on the original text). Windows hold
 * `chunkSize` words and start every `chunkSize - chunkOverlap` words from word 0; the last window ends at the last
 * word (so it may add only a few new words). A chunk's text is the document from its first word's start to its
 * last word's end. A document without words is one chunk: the whole text.
 */
import { InputError } from "../errors.js";
import { splitWords, type Word } from "../text/words.js";

export interface TextChunk {
  /** `document.slice(startChar, endChar)`. */
  readonly text: string;
  /** UTF-16 offsets into the document, end exclusive. */
  readonly startChar: number;
  readonly endChar: number;
  /** Word indices into the document's words, end exclusive. */
  readonly startWord: number;
  readonly endWord: number;
}

export interface ChunkOptions {
  /** Words per chunk (official default 384). */
  readonly chunkSize: number;
  /** Words shared by consecutive chunks (official default 64); must be smaller than `chunkSize`. */
  readonly chunkOverlap: number;
}

export const DEFAULT_CHUNK_SIZE = 384;
export const DEFAULT_CHUNK_OVERLAP = 64;

/** Validated chunk options (the official raises ValueError for the same cases). */
export function checkChunkOptions(opts: { chunkSize?: unknown; chunkOverlap?: unknown }): ChunkOptions {
  const chunkSize = opts.chunkSize ?? DEFAULT_CHUNK_SIZE;
  const chunkOverlap = opts.chunkOverlap ?? DEFAULT_CHUNK_OVERLAP;
  if (typeof chunkSize !== "number" || !Number.isInteger(chunkSize) || chunkSize <= 0) {
    throw new InputError("chunkSize", `must be a positive integer (words), got ${JSON.stringify(opts.chunkSize)}`);
  }
  if (typeof chunkOverlap !== "number" || !Number.isInteger(chunkOverlap) || chunkOverlap < 0) {
    throw new InputError("chunkOverlap", `must be a non-negative integer (words), got ${JSON.stringify(opts.chunkOverlap)}`);
  }
  if (chunkOverlap >= chunkSize) {
    throw new InputError("chunkOverlap", `must be smaller than chunkSize (${chunkSize}), got ${chunkOverlap}`);
  }
  return { chunkSize, chunkOverlap };
}

/** The chunks of one document, lazily (a book's chunk texts need not all exist at once). */
export function* iterateChunks(text: string, opts: ChunkOptions, words: readonly Word[] = splitWords(text)): Generator<TextChunk> {
  const { chunkSize, chunkOverlap } = checkChunkOptions(opts);
  if (words.length === 0) {
    yield { text, startChar: 0, endChar: text.length, startWord: 0, endWord: 0 };
    return;
  }
  const step = chunkSize - chunkOverlap;
  for (let startWord = 0; startWord < words.length; startWord += step) {
    const endWord = Math.min(startWord + chunkSize, words.length);
    const startChar = words[startWord].start;
    const endChar = words[endWord - 1].end;
    yield { text: text.slice(startChar, endChar), startChar, endChar, startWord, endWord };
    if (endWord === words.length) return;
  }
}

/** All chunks of one document. */
export function splitIntoChunks(text: string, opts: ChunkOptions): TextChunk[] {
  if (typeof text !== "string") throw new InputError("text", `must be a string, got ${text === null ? "null" : typeof text}`);
  return [...iterateChunks(text, opts)];
}

/** Number of chunks a document of `words` words gives, without building them (progress bars). */
export function countChunks(words: number, opts: ChunkOptions): number {
  if (words <= opts.chunkSize) return 1;
  const step = opts.chunkSize - opts.chunkOverlap;
  return Math.ceil((words - opts.chunkSize) / step) + 1;
}

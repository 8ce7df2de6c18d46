/**
 * The Unigram model of Hugging Face `tokenizers`, segmenting one pre-tokenized piece by Viterbi exactly as
 * its `encode_optimized` does: positions are visited left to right; at each, every vocabulary piece that is
 * a prefix of the rest (shortest first) offers score(piece) + best(here) to the position it ends at, taken
 * only if strictly better (first offer wins ties); a character no single piece covers offers the unknown
 * score (lowest piece score − 10). Runs of unknown pieces are fused into one token, as the Rust library does.
 *
 * Working in UTF-16 code units instead of UTF-8 bytes changes nothing: pieces are whole characters, so both
 * visit the same character boundaries in the same order.
 *
 * Prefix search hashes every prefix up to the longest piece that starts with the same code unit and probes
 * a hash table (built on first use, so loading stays cheap): O(n · L) probes for n code units and pieces of at
 * most L units (32 in DeBERTa-v3; the loader refuses pieces over MAX_PIECE_LENGTH), memory O(n) — a
 * 125,000-character word is fine (no recursion, no per-position objects).
 */
import { TokenizerError } from "../../errors.js";
import { show } from "./normalize.js";
import { pieceAt, type Vocab } from "./vocab.js";

/** Longest piece the loader accepts (SentencePiece vocabularies stay far below: 16–32 characters). */
export const MAX_PIECE_LENGTH = 1024;

export interface UnigramModel {
  /** Split one piece into tokens (strings) and their ids. */
  encode(text: string, tokens: string[], ids: number[]): void;
  /** Id of a piece of the model vocabulary (the last one, if a piece is listed twice), or undefined. */
  idOf(piece: string): number | undefined;
}

export interface UnigramSpec {
  /** Pieces and scores (compact: see vocab.ts). */
  readonly vocab: Vocab;
  readonly unkId: number | undefined;
  readonly byteFallback: boolean;
  /** Id given to unknown runs (convert_tokens_to_ids' unk_token_id); default unkId. */
  readonly unkOutId?: number;
  /** For error messages. */
  readonly file: string;
}

export function unigramModel(spec: UnigramSpec): UnigramModel {
  const { vocab, unkId, byteFallback, file } = spec;
  const { blob, offsets, scores } = vocab;
  const count = vocab.size;
  const unkOutId = spec.unkOutId ?? unkId;
  let minScore = Infinity;
  for (let i = 0; i < scores.length; i++) if (scores[i] < minScore) minScore = scores[i];
  const unkScore = minScore - 10;

  // Pieces are found by a 32-bit rolling hash of the candidate (no string is built per candidate) in an
  // open-addressing table hash → id (slot chosen by Fibonacci hashing of the hash), confirmed by comparing the text; the few hashes two pieces share go to a
  // string map instead. A piece listed twice maps to its last id, as in the Rust hash map. maxLen: per first
  // code unit, the longest piece starting with it. Built on first use so that loading stays cheap.
  let keys: Int32Array | undefined;
  let vals: Int32Array | undefined;
  let mask = 0;
  let shift = 32;
  let shared: Map<string, number> | undefined;
  let maxLen: Int32Array | undefined;
  const slot = (h: number): number => {
    let at = Math.imul(h, 0x9e3779b1) >>> shift;
    while (vals![at] !== EMPTY && keys![at] !== h) at = (at + 1) & mask;
    return at;
  };
  const build = (): void => {
    if (keys !== undefined) return;
    let size = 1024;
    while (size < count * 2) size *= 2;
    keys = new Int32Array(size);
    vals = new Int32Array(size).fill(EMPTY);
    mask = size - 1;
    shift = 32 - Math.log2(size);
    shared = new Map();
    maxLen = new Int32Array(65536);
    for (let i = 0; i < count; i++) {
      const a = offsets[i];
      const len = offsets[i + 1] - a;
      if (len === 0) continue;
      let h = 0;
      for (let k = 0; k < len; k++) h = step(h, blob.charCodeAt(a + k));
      const at = slot(h);
      if (vals[at] === EMPTY || (vals[at] >= 0 && samePiece(vals[at], i))) {
        keys[at] = h;
        vals[at] = i;
      } else {
        if (vals[at] >= 0) shared.set(pieceAt(vocab, vals[at]), vals[at]);
        vals[at] = SHARED;
        shared.set(pieceAt(vocab, i), i);
      }
      const c = blob.charCodeAt(a);
      if (len > maxLen[c]) maxLen[c] = len;
    }
  };

  /** Are pieces i and j the same text? */
  const samePiece = (i: number, j: number): boolean => {
    const a = offsets[i];
    const b = offsets[j];
    const len = offsets[i + 1] - a;
    if (offsets[j + 1] - b !== len) return false;
    for (let k = 0; k < len; k++) if (blob.charCodeAt(a + k) !== blob.charCodeAt(b + k)) return false;
    return true;
  };

  /** Id of text[i..i+k) whose rolling hash is h, or undefined. */
  const find = (text: string, i: number, k: number, h: number): number | undefined => {
    const at = slot(h);
    const v = vals![at];
    if (v === EMPTY) return undefined;
    if (v === SHARED) return shared!.get(text.slice(i, i + k));
    const a = offsets[v];
    if (offsets[v + 1] - a !== k) return undefined;
    for (let j = 0; j < k; j++) if (blob.charCodeAt(a + j) !== text.charCodeAt(i + j)) return undefined;
    return v;
  };

  const idOf = (piece: string): number | undefined => {
    build();
    let h = 0;
    for (let k = 0; k < piece.length; k++) h = step(h, piece.charCodeAt(k));
    return piece.length === 0 ? undefined : find(piece, 0, piece.length, h);
  };

  const missingUnk = (text: string) =>
    new TokenizerError(`model has no unk_id, but ${show(text, 40)} has a character no vocabulary piece covers`, file, "model.unk_id");

  const encode = (text: string, tokens: string[], ids: number[]): void => {
    const n = text.length;
    if (n === 0) return;
    build();
    const longest = maxLen!;
    const { best, from, via } = lattice(n + 1);
    for (let i = 0; i < n; ) {
      const here = best[i];
      const c0 = text.charCodeAt(i);
      const charLen = c0 >= 0xd800 && c0 <= 0xdbff && i + 1 < n && (text.charCodeAt(i + 1) & 0xfc00) === 0xdc00 ? 2 : 1;
      let single = false;
      const kMax = Math.min(longest[c0], n - i);
      let h = 0;
      for (let k = 1; k <= kMax; k++) {
        h = step(h, text.charCodeAt(i + k - 1));
        const id = find(text, i, k, h);
        if (id === undefined) continue;
        const end = i + k;
        const score = scores[id] + here;
        if (from[end] < 0 || score > best[end]) {
          best[end] = score;
          from[end] = i;
          via[end] = id;
        }
        if (k === charLen) single = true;
      }
      if (!single) {
        if (unkId === undefined) throw missingUnk(text);
        const end = i + charLen;
        const score = unkScore + here;
        if (from[end] < 0 || score > best[end]) {
          best[end] = score;
          from[end] = i;
          via[end] = unkId;
        }
      }
      i += charLen;
    }
    // Walk back from the end; collect tokens in reverse, fusing runs of unknowns.
    const rev: [number, number, number][] = [];
    for (let end = n; end > 0; ) {
      const start = from[end];
      const id = via[end];
      const last = rev.length > 0 ? rev[rev.length - 1] : undefined;
      if (id === unkId && last !== undefined && last[2] === unkId && last[0] === end) last[0] = start;
      else rev.push([start, end, id]);
      end = start;
    }
    for (let r = rev.length - 1; r >= 0; r--) {
      const [start, end, id] = rev[r];
      const piece = text.slice(start, end);
      if (id !== unkId) {
        tokens.push(piece);
        ids.push(id);
        continue;
      }
      // An unknown run keeps its text; its id is the vocabulary's if the run happens to be a piece.
      const known = end - start === charLenAt(text, start) ? undefined : idOf(piece);
      if (known !== undefined) {
        tokens.push(piece);
        ids.push(known);
      } else if (byteFallback && pushBytes(piece, idOf, tokens, ids)) {
        // pushed as <0xXX> pieces
      } else {
        tokens.push(piece);
        ids.push(unkOutId!);
      }
    }
  };

  return { encode, idOf };
}

const SHARED = -1;
const EMPTY = -2;

/** One step of the rolling hash (FNV-1a over code units, 32 bits). */
function step(h: number, c: number): number {
  return Math.imul(h ^ c, 0x01000193);
}

/** Viterbi arrays for n positions; small ones are reused between calls (words are short). */
const REUSE = 1024;
const scratch = { best: new Float64Array(REUSE), from: new Int32Array(REUSE), via: new Int32Array(REUSE) };
function lattice(n: number): { best: Float64Array; from: Int32Array; via: Int32Array } {
  if (n > REUSE) return { best: new Float64Array(n), from: new Int32Array(n).fill(-1), via: new Int32Array(n) };
  scratch.best.fill(0, 0, n);
  scratch.from.fill(-1, 0, n);
  return scratch;
}

function charLenAt(text: string, i: number): number {
  const c = text.charCodeAt(i);
  return c >= 0xd800 && c <= 0xdbff && (text.charCodeAt(i + 1) & 0xfc00) === 0xdc00 ? 2 : 1;
}

/** Byte fallback: the piece's UTF-8 bytes as `<0xXX>` pieces, if the vocabulary has all of them. */
function pushBytes(piece: string, idOf: (p: string) => number | undefined, tokens: string[], ids: number[]): boolean {
  const bytes = new TextEncoder().encode(piece);
  const names: string[] = [];
  const found: number[] = [];
  for (const b of bytes) {
    const name = `<0x${b.toString(16).toUpperCase().padStart(2, "0")}>`;
    const id = idOf(name);
    if (id === undefined) return false;
    names.push(name);
    found.push(id);
  }
  for (let i = 0; i < names.length; i++) {
    tokens.push(names[i]);
    ids.push(found[i]);
  }
  return true;
}

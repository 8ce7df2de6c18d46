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
 * Prefix search uses the vocabulary sorted by code units (built on first use, so loading stays cheap): the
 * candidates for a growing prefix are a shrinking range of that order, narrowed by binary search. Time is
 * O(n · L · log V) for n code units and pieces of at most L units; memory is O(n) — a 125,000-character word
 * is fine (no recursion, no per-position objects).
 */
import { TokenizerError } from "../errors.js";

export interface UnigramModel {
  /** Split one piece into tokens (strings) and their ids. */
  encode(text: string, tokens: string[], ids: number[]): void;
  /** Id of a piece of the model vocabulary (the last one, if a piece is listed twice), or undefined. */
  idOf(piece: string): number | undefined;
}

export interface UnigramSpec {
  readonly pieces: readonly string[];
  readonly scores: Float64Array;
  readonly unkId: number | undefined;
  readonly byteFallback: boolean;
  /** Id given to unknown runs (convert_tokens_to_ids' unk_token_id); default unkId. */
  readonly unkOutId?: number;
  /** For error messages. */
  readonly file: string;
}

export function unigramModel(spec: UnigramSpec): UnigramModel {
  const { pieces, scores, unkId, byteFallback, file } = spec;
  const unkOutId = spec.unkOutId ?? unkId;
  let minScore = Infinity;
  for (let i = 0; i < scores.length; i++) if (scores[i] < minScore) minScore = scores[i];
  const unkScore = minScore - 10;

  let sortedPieces: string[] | undefined;
  let sortedIds: Int32Array | undefined;
  /** Index of the first non-empty piece in sorted order (empty pieces never match). */
  let firstNonEmpty = 0;
  const sorted = () => {
    if (sortedIds === undefined) {
      // Ties (a piece listed twice) keep id order, so the last id of equal pieces comes last, as in the Rust
      // hash map that maps a piece to the last id it was inserted with.
      const order = Array.from({ length: pieces.length }, (_, i) => i);
      order.sort((a, b) => (pieces[a] < pieces[b] ? -1 : pieces[a] > pieces[b] ? 1 : a - b));
      sortedIds = Int32Array.from(order);
      sortedPieces = order.map((i) => pieces[i]);
      while (firstNonEmpty < sortedPieces.length && sortedPieces[firstNonEmpty].length === 0) firstNonEmpty++;
    }
    return sortedPieces!;
  };

  const idOf = (piece: string): number | undefined => {
    const sp = sorted();
    let a = 0;
    let b = sp.length;
    while (a < b) {
      const m = (a + b) >>> 1;
      if (sp[m] <= piece) a = m + 1;
      else b = m;
    }
    return a > 0 && sp[a - 1] === piece ? sortedIds![a - 1] : undefined;
  };

  const missingUnk = (text: string) =>
    new TokenizerError(`model has no unk_id, but ${JSON.stringify(text.length > 40 ? `${text.slice(0, 40)}…` : text)} has a character no vocabulary piece covers`, file, "model.unk_id");

  const encode = (text: string, tokens: string[], ids: number[]): void => {
    const n = text.length;
    if (n === 0) return;
    const sp = sorted();
    const sid = sortedIds!;
    const best = new Float64Array(n + 1);
    const from = new Int32Array(n + 1).fill(-1);
    const via = new Int32Array(n + 1);
    for (let i = 0; i < n; ) {
      const here = best[i];
      const c0 = text.charCodeAt(i);
      const charLen = c0 >= 0xd800 && c0 <= 0xdbff && i + 1 < n && (text.charCodeAt(i + 1) & 0xfc00) === 0xdc00 ? 2 : 1;
      let single = false;
      // Candidates: sp[lo..hi) all start with text[i..i+k) and are longer than k.
      let lo = firstNonEmpty;
      let hi = sp.length;
      for (let k = 0; i + k < n && lo < hi; k++) {
        const c = text.charCodeAt(i + k);
        let a = lo;
        let b = hi;
        while (a < b) {
          const m = (a + b) >>> 1;
          if (sp[m].charCodeAt(k) < c) a = m + 1;
          else b = m;
        }
        lo = a;
        b = hi;
        while (a < b) {
          const m = (a + b) >>> 1;
          if (sp[m].charCodeAt(k) <= c) a = m + 1;
          else b = m;
        }
        hi = a;
        let id = -1;
        while (lo < hi && sp[lo].length === k + 1) id = sid[lo++];
        if (id >= 0) {
          const end = i + k + 1;
          const score = scores[id] + here;
          if (from[end] < 0 || score > best[end]) {
            best[end] = score;
            from[end] = i;
            via[end] = id;
          }
          if (k + 1 === charLen) single = true;
        }
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

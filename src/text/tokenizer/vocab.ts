/**
 * The Unigram vocabulary in compact form: every piece's UTF-16 text in one string (`blob`), where piece i is
 * blob[offsets[i], offsets[i + 1]), and the scores in a Float64Array. A 128,000-piece vocabulary is then three
 * objects (~1.5 MB) instead of 128,000 strings, arrays and numbers on the JS heap.
 *
 * `scanTokenizerJson` reads such a vocabulary straight out of tokenizer.json's text without JSON.parse building
 * the `[[piece, score], …]` array (~25 MB of short-lived objects for the released file, which made V8 grow its
 * young generation and kept ~35 MiB resident after loading); the rest of the file, a few hundred KB, goes through
 * JSON.parse, and so does each piece written with escapes. The scanner accepts strict JSON only and gives up
 * (returns null) on anything unusual — a malformed entry, a repeated or escaped key, a number JSON would not
 * accept — and the caller then parses the whole file the ordinary way, so errors and results never depend on
 * which path ran.
 */

export interface Vocab {
  readonly size: number;
  /** All pieces' text, concatenated. */
  readonly blob: string;
  /** `size + 1` offsets into blob. */
  readonly offsets: Int32Array;
  readonly scores: Float64Array;
}

/** Piece `i` as a string (a slice of the blob). */
export function pieceAt(v: Vocab, i: number): string {
  return v.blob.slice(v.offsets[i], v.offsets[i + 1]);
}

/** Is piece `i` exactly `s`? (No string is built.) */
export function pieceEquals(v: Vocab, i: number, s: string): boolean {
  const a = v.offsets[i];
  return v.offsets[i + 1] - a === s.length && v.blob.startsWith(s, a);
}

/** A Vocab from piece strings and scores (parsed objects, tests). */
export function vocabFromPieces(pieces: readonly string[], scores: Float64Array): Vocab {
  const offsets = new Int32Array(pieces.length + 1);
  let at = 0;
  for (let i = 0; i < pieces.length; i++) {
    offsets[i] = at;
    at += pieces[i].length;
  }
  offsets[pieces.length] = at;
  return { size: pieces.length, blob: pieces.join(""), offsets, scores };
}

/** What the scanner found: the file without its vocabulary (vocab replaced by []), and the vocabulary. */
export interface ScannedTokenizer {
  readonly json: Record<string, unknown>;
  readonly vocab: Vocab;
}

const enum C {
  Quote = 0x22,
  Backslash = 0x5c,
  Comma = 0x2c,
  Colon = 0x3a,
  OpenBracket = 0x5b,
  CloseBracket = 0x5d,
  OpenBrace = 0x7b,
  CloseBrace = 0x7d,
}

class GiveUp extends Error {}
const giveUp = (): never => {
  throw new GiveUp();
};

function ws(t: string, i: number): number {
  for (;;) {
    const c = t.charCodeAt(i);
    if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) i++;
    else return i;
  }
}

/** End (one past the closing quote) of the string starting at `i` (a quote). */
function skipString(t: string, i: number): number {
  let j = i + 1;
  for (;;) {
    const q = t.indexOf('"', j);
    if (q < 0) giveUp();
    // An odd number of backslashes before the quote escapes it.
    let b = q - 1;
    while (t.charCodeAt(b) === C.Backslash) b--;
    if ((q - 1 - b) % 2 === 0) return q + 1;
    j = q + 1;
  }
}

/** End of the JSON value starting at `i` (strings and brackets tracked; primitives up to a delimiter). */
function skipValue(t: string, i: number): number {
  const c = t.charCodeAt(i);
  if (c === C.Quote) return skipString(t, i);
  if (c === C.OpenBracket || c === C.OpenBrace) {
    let depth = 0;
    for (let j = i; j < t.length; ) {
      const d = t.charCodeAt(j);
      if (d === C.Quote) {
        j = skipString(t, j);
        continue;
      }
      if (d === C.OpenBracket || d === C.OpenBrace) depth++;
      else if (d === C.CloseBracket || d === C.CloseBrace) {
        depth--;
        if (depth === 0) return j + 1;
      }
      j++;
    }
    return giveUp();
  }
  let j = i;
  for (;;) {
    const d = t.charCodeAt(j);
    if (j >= t.length || d === C.Comma || d === C.CloseBrace || d === C.CloseBracket || d === 0x20 || d === 0x0a || d === 0x0d || d === 0x09) return j;
    j++;
  }
}

/**
 * Walk the object starting at `i`: for each key (compared as written; a key with escapes gives up, as it could spell
 * a wanted one), `onKey` may consume the value and return where it ends, or return -1 to have it skipped. Returns
 * the index after the closing brace.
 */
function scanObject(t: string, i: number, onKey: (key: string, value: number) => number): number {
  if (t.charCodeAt(i) !== C.OpenBrace) giveUp();
  let j = ws(t, i + 1);
  if (t.charCodeAt(j) === C.CloseBrace) return j + 1;
  for (;;) {
    if (t.charCodeAt(j) !== C.Quote) giveUp();
    const keyEnd = skipString(t, j);
    const key = t.slice(j + 1, keyEnd - 1);
    if (key.includes("\\")) giveUp();
    j = ws(t, keyEnd);
    if (t.charCodeAt(j) !== C.Colon) giveUp();
    const v = ws(t, j + 1);
    const consumed = onKey(key, v);
    j = ws(t, consumed >= 0 ? consumed : skipValue(t, v));
    const d = t.charCodeAt(j);
    if (d === C.CloseBrace) return j + 1;
    if (d !== C.Comma) giveUp();
    j = ws(t, j + 1);
  }
}

const isDigit = (c: number) => c >= 0x30 && c <= 0x39;

/**
 * End of the JSON number starting at `i` (-?(0|[1-9]d*)(.d+)?([eE][+-]?d+)?), giving up on anything else. Checked
 * by hand, not with a RegExp: the engine's last-match state would keep a slice of the file text, and the text with it.
 */
function jsonNumberEnd(t: string, i: number): number {
  let j = i;
  if (t.charCodeAt(j) === 0x2d) j++;
  if (t.charCodeAt(j) === 0x30) j++;
  else if (isDigit(t.charCodeAt(j))) while (isDigit(t.charCodeAt(j))) j++;
  else giveUp();
  if (t.charCodeAt(j) === 0x2e) {
    j++;
    if (!isDigit(t.charCodeAt(j))) giveUp();
    while (isDigit(t.charCodeAt(j))) j++;
  }
  const e = t.charCodeAt(j);
  if (e === 0x65 || e === 0x45) {
    j++;
    const sign = t.charCodeAt(j);
    if (sign === 0x2b || sign === 0x2d) j++;
    if (!isDigit(t.charCodeAt(j))) giveUp();
    while (isDigit(t.charCodeAt(j))) j++;
  }
  return j;
}

/** Parse `[[piece, score], …]` starting at t[a]; returns it and the index after its closing bracket. */
function parseVocab(t: string, a: number): { vocab: Vocab; end: number } {
  const b = t.length;
  // Pieces are copied as UTF-16 code units and decoded into one string at the end: a join of slices of the file
  // text would keep the whole 17 MB text alive through them.
  let units = new Uint16Array(1 << 20);
  let scores = new Float64Array(1 << 17);
  let offs = new Int32Array((1 << 17) + 1);
  let count = 0;
  let at = 0;
  let j = ws(t, a + 1);
  if (t.charCodeAt(j) === C.CloseBracket) giveUp(); // empty: the ordinary path reports it
  for (;;) {
    if (t.charCodeAt(j) !== C.OpenBracket) giveUp();
    j = ws(t, j + 1);
    if (t.charCodeAt(j) !== C.Quote) giveUp();
    const s0 = j + 1;
    let s1 = s0;
    let escaped = false;
    for (;; s1++) {
      const c = t.charCodeAt(s1);
      if (c === C.Quote) break;
      if (c < 0x20 || s1 >= b) giveUp(); // raw control characters are not JSON
      if (c === C.Backslash) {
        escaped = true;
        s1++;
      }
    }
    // A piece with escapes (\" in the released file) is decoded (and checked) by JSON.parse itself.
    const piece = escaped ? (JSON.parse(t.slice(s0 - 1, s1 + 1)) as string) : null;
    const len = piece === null ? s1 - s0 : piece.length;
    if (at + len > units.length) {
      const grown = new Uint16Array(Math.max(units.length * 2, at + len));
      grown.set(units.subarray(0, at));
      units = grown;
    }
    for (let k = 0; k < len; k++) {
      const c = piece === null ? t.charCodeAt(s0 + k) : piece.charCodeAt(k);
      // A lone surrogate would not survive the UTF-16 decoding below: leave it to the ordinary path's check.
      if (c >= 0xd800 && c <= 0xdfff) {
        const pair = c <= 0xdbff && k + 1 < len && ((piece === null ? t.charCodeAt(s0 + k + 1) : piece.charCodeAt(k + 1)) & 0xfc00) === 0xdc00;
        if (!pair) giveUp();
        units[at + k] = c;
        k++;
        units[at + k] = piece === null ? t.charCodeAt(s0 + k) : piece.charCodeAt(k);
        continue;
      }
      units[at + k] = c;
    }
    at += len;
    j = ws(t, s1 + 1);
    if (t.charCodeAt(j) !== C.Comma) giveUp();
    const n0 = ws(t, j + 1);
    const n1 = jsonNumberEnd(t, n0);
    if (count === scores.length) {
      const grown = new Float64Array(scores.length * 2);
      grown.set(scores);
      scores = grown;
      const grownOffs = new Int32Array(scores.length + 1);
      grownOffs.set(offs);
      offs = grownOffs;
    }
    scores[count] = Number(t.slice(n0, n1));
    offs[++count] = at;
    j = ws(t, n1);
    if (t.charCodeAt(j) !== C.CloseBracket) giveUp();
    j = ws(t, j + 1);
    const d = t.charCodeAt(j);
    if (d === C.CloseBracket) break;
    if (d !== C.Comma) giveUp();
    j = ws(t, j + 1);
  }
  const size = count;
  const blob = new TextDecoder("utf-16le").decode(units.subarray(0, at));
  if (blob.length !== at) giveUp();
  return { vocab: { size, blob, offsets: offs.slice(0, size + 1), scores: scores.slice(0, size) }, end: j + 1 };
}

/**
 * tokenizer.json's text → its parsed object with `model.vocab` emptied, and the vocabulary compact; null when
 * the file is not plain enough for the scanner (the caller then uses JSON.parse on the whole text).
 */
export function scanTokenizerJson(text: string): ScannedTokenizer | null {
  try {
    // One pass: the vocabulary is parsed where it is met; a second "model" or "vocab" key gives up (JSON.parse
    // would keep the last one).
    const found: { vocab: Vocab | null; range: [number, number] | null } = { vocab: null, range: null };
    let models = 0;
    const end = scanObject(text, ws(text, 0), (key, v) => {
      if (key !== "model") return -1;
      if (++models > 1 || text.charCodeAt(v) !== C.OpenBrace) giveUp();
      return scanObject(text, v, (k, w) => {
        if (k !== "vocab") return -1;
        if (found.range !== null || text.charCodeAt(w) !== C.OpenBracket) giveUp();
        const parsed = parseVocab(text, w);
        found.vocab = parsed.vocab;
        found.range = [w, parsed.end];
        return parsed.end;
      });
    });
    const { vocab, range } = found;
    if (vocab === null || range === null || ws(text, end) !== text.length) return null;
    const [a, b] = range;
    const json: unknown = JSON.parse(text.slice(0, a) + "[]" + text.slice(b));
    if (typeof json !== "object" || json === null || Array.isArray(json)) return null;
    return { json: json as Record<string, unknown>, vocab };
  } catch (e) {
    if (e instanceof GiveUp || e instanceof SyntaxError) return null;
    throw e;
  }
}

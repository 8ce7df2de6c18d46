/**
 * The `Precompiled` normalizer of SentencePiece-converted tokenizers, applied the way Hugging Face `tokenizers`
 * applies it (so results equal what the Python stack computes):
 *
 * - The charsmap (base64 in tokenizer.json) is a little-endian u32 byte size, a darts-clone double-array trie
 *   over UTF-8 byte strings of that size, then a blob of NUL-terminated replacement strings; a trie value is
 *   the replacement's byte offset in the blob.
 * - Text is walked by extended grapheme clusters. A cluster under 6 UTF-8 bytes is looked up whole: if any
 *   prefix of its bytes is a key, the WHOLE cluster becomes the replacement of the SHORTEST such prefix (so
 *   trailing marks can vanish). Otherwise each character is looked up alone and kept when it has no entry.
 * - Nothing else: no Unicode normalization beyond the table.
 *
 * Grapheme clusters come from `Intl.Segmenter` (ICU), checked against the Rust `unicode-segmentation`
 * results on the reference corpus (test/tokenizer-real.test.ts). ASCII-only text needs no segmenter: its
 * only multi-character cluster is CR LF.
 */
import { TokenizerError } from "../../errors.js";

/** A charsmap decoded and checked; `apply` normalizes a string. */
export interface Charsmap {
  apply(text: string): string;
  /** The plain definition (whole text through the segmenter, no shortcuts); `apply` must equal it. For tests. */
  applyBySegmenter(text: string): string;
}

/** Builds the error for a problem of this charsmap (names the file and field). */
type Fail = (message: string) => TokenizerError;

/** Decode and check the charsmap; errors name `file` and `field`. */
export function parseCharsmap(base64: unknown, file: string, field: string): Charsmap {
  const where: Fail = (message) => new TokenizerError(message, file, field);
  if (typeof base64 !== "string") throw where(`must be a base64 string, got ${typeName(base64)}`);
  const bytes = decodeBase64(base64, where);
  if (bytes.length < 4) throw where(`charsmap of ${bytes.length} bytes is too short to hold its trie size`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const trieBytes = view.getUint32(0, true);
  if (trieBytes % 4 !== 0 || trieBytes > bytes.length - 4) {
    throw where(`trie size ${trieBytes} does not fit the ${bytes.length}-byte charsmap`);
  }
  const units = new Uint32Array(trieBytes / 4);
  for (let i = 0; i < units.length; i++) units[i] = view.getUint32(4 + 4 * i, true);
  const blob = bytes.subarray(4 + trieBytes);
  return new PrecompiledMap(units, blob, where);
}

const utf8 = new TextDecoder("utf-8", { fatal: true });

class PrecompiledMap implements Charsmap {
  /** Replacement per code point (null: no entry), filled on first use. */
  private readonly byCodePoint = new Map<number, string | null>();
  /** Decoded replacement per blob offset. */
  private readonly byOffset = new Map<number, string | null>();
  private readonly scratch = new Uint8Array(8);
  private segmenter: Intl.Segmenter | undefined;

  constructor(
    private readonly units: Uint32Array,
    private readonly blob: Uint8Array,
    private readonly where: Fail,
  ) {}

  apply(text: string): string {
    let ascii = true;
    for (let i = 0; i < text.length; i++) {
      if (text.charCodeAt(i) >= 0x80) {
        ascii = false;
        break;
      }
    }
    let out = "";
    if (ascii) {
      for (let i = 0; i < text.length; i++) {
        const c = text.charCodeAt(i);
        if (c === 0x0d && text.charCodeAt(i + 1) === 0x0a) {
          out += this.cluster("\r\n");
          i++;
        } else {
          const r = this.codePoint(c);
          out += r === null ? text[i] : r;
        }
      }
      return out;
    }
    // Cut the text where a cluster boundary is certain; only stretches of several code points between such
    // cuts need the segmenter.
    let from = 0;
    let prev = -1;
    for (let i = 0; i < text.length; ) {
      const cp = text.codePointAt(i)!;
      if (prev >= 0 && certainBreak(prev, cp)) {
        out += this.stretch(text, from, i);
        from = i;
      }
      prev = cp;
      i += cp > 0xffff ? 2 : 1;
    }
    return out + this.stretch(text, from, text.length);
  }

  applyBySegmenter(text: string): string {
    this.segmenter ??= newSegmenter(this.where);
    let out = "";
    for (const { segment } of this.segmenter.segment(text)) out += this.cluster(segment);
    return out;
  }

  /** text[from..to): one code point, or a stretch cut into clusters by the segmenter. */
  private stretch(text: string, from: number, to: number): string {
    const cp = text.codePointAt(from)!;
    if (to - from === (cp > 0xffff ? 2 : 1)) {
      const r = this.codePoint(cp);
      return r === null ? text.slice(from, to) : r;
    }
    this.segmenter ??= newSegmenter(this.where);
    let out = "";
    for (const g of clusters(this.segmenter, text.slice(from, to))) out += this.cluster(g);
    return out;
  }

  /** One grapheme cluster, normalized. */
  private cluster(g: string): string {
    const first = g.codePointAt(0)!;
    if (g.length === (first > 0xffff ? 2 : 1)) {
      const r = this.codePoint(first);
      return r === null ? g : r;
    }
    const n = this.encode(g);
    if (n > 0 && n < 6) {
      const r = this.lookup(this.scratch, n);
      if (r !== null) return r;
    }
    let out = "";
    for (let i = 0; i < g.length; ) {
      const cp = g.codePointAt(i)!;
      const w = cp > 0xffff ? 2 : 1;
      const r = this.codePoint(cp);
      out += r === null ? g.slice(i, i + w) : r;
      i += w;
    }
    return out;
  }

  private codePoint(cp: number): string | null {
    let r = this.byCodePoint.get(cp);
    if (r === undefined) {
      // A lone surrogate (possible in JS strings, never in Rust ones) has no UTF-8 form: keep it.
      r = cp >= 0xd800 && cp <= 0xdfff ? null : this.lookup(this.scratch, encodeCodePoint(cp, this.scratch, 0));
      this.byCodePoint.set(cp, r);
    }
    return r;
  }

  /**
   * UTF-8 bytes of the cluster into `scratch`; returns the byte count, or 0 when it does not fit (6 bytes or
   * more, which the cluster rule skips anyway) or holds a lone surrogate.
   */
  private encode(g: string): number {
    let n = 0;
    for (let i = 0; i < g.length; ) {
      const cp = g.codePointAt(i)!;
      if (cp >= 0xd800 && cp <= 0xdfff) return 0;
      const w = cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
      if (n + w >= 6) return 0;
      encodeCodePoint(cp, this.scratch, n);
      n += w;
      i += cp > 0xffff ? 2 : 1;
    }
    return n;
  }

  /** Replacement of the shortest key that is a prefix of bytes[0..n), or null. */
  private lookup(bytes: Uint8Array, n: number): string | null {
    const units = this.units;
    if (units.length === 0) return null;
    let pos = offset(units[0]);
    for (let i = 0; i < n; i++) {
      const c = bytes[i];
      if (c === 0) return null; // darts-clone keys end at NUL
      pos ^= c;
      if (pos >= units.length) return null;
      const unit = units[pos];
      if ((unit & 0x800000ff) >>> 0 !== c) return null;
      pos ^= offset(unit);
      if ((unit >>> 8) & 1) {
        if (pos >= units.length) throw this.where(`charsmap trie points outside itself (node ${pos})`);
        return this.replacement(units[pos] & 0x7fffffff);
      }
    }
    return null;
  }

  private replacement(at: number): string | null {
    let r = this.byOffset.get(at);
    if (r === undefined) {
      if (at > this.blob.length) throw this.where(`charsmap replacement offset ${at} is past its ${this.blob.length}-byte blob`);
      let end = at;
      while (end < this.blob.length && this.blob[end] !== 0) end++;
      try {
        r = utf8.decode(this.blob.subarray(at, end));
      } catch {
        r = null; // not UTF-8: the Rust normalizer treats it as no entry
      }
      this.byOffset.set(at, r);
    }
    return r;
  }
}

/** Code units per segmenter call: V8's Intl.Segmenter slows down quadratically on long strings. */
export const SEGMENT_CHUNK = 256;

/**
 * Extended grapheme clusters of `text`, segmenting at most SEGMENT_CHUNK code units at a time. A chunk's last
 * cluster may be cut by the chunk's end, so the next chunk restarts at its start; restarting at a real
 * boundary gives the same clusters, as no segmentation rule looks back past a cluster boundary (regional
 * indicator pairs restart there too, since the boundary falls between pairs). A single cluster longer than
 * the chunk doubles the chunk until it fits.
 */
export function* clusters(segmenter: Intl.Segmenter, text: string): Generator<string> {
  let at = 0;
  let size = SEGMENT_CHUNK;
  while (at < text.length) {
    const end = Math.min(text.length, at + size);
    const chunk = at === 0 && end === text.length ? text : text.slice(at, end);
    let pending: Intl.SegmentData | undefined;
    let count = 0;
    for (const seg of segmenter.segment(chunk)) {
      if (pending !== undefined) yield pending.segment;
      pending = seg;
      count++;
    }
    if (end === text.length) {
      if (pending !== undefined) yield pending.segment;
      return;
    }
    if (count === 1) size *= 2;
    else {
      at += pending!.index;
      size = SEGMENT_CHUNK;
    }
  }
}

/**
 * Whether there is surely a grapheme cluster boundary between code points a and b: either is a control
 * character (except CR LF), or both are "plain" characters — ones whose cluster-break property is Other and
 * that are neither emoji nor prepended marks (common Latin, Greek, Cyrillic, kana, CJK, Hangul syllables).
 * Anything else is left to the segmenter.
 */
function certainBreak(a: number, b: number): boolean {
  if (isControl(a) || isControl(b)) return !(a === 0x0d && b === 0x0a);
  return isPlain(a) && isPlain(b);
}

function isControl(c: number): boolean {
  return c < 0x20 || (c >= 0x7f && c < 0xa0);
}

function isPlain(c: number): boolean {
  if (c < 0x0300) return c >= 0x20 && c !== 0xa9 && c !== 0xae && c !== 0xad && !(c >= 0x7f && c < 0xa0);
  return (
    (c >= 0x0370 && c <= 0x0482) ||
    (c >= 0x048a && c <= 0x052f) ||
    (c >= 0x3041 && c <= 0x3096) ||
    (c >= 0x30a1 && c <= 0x30fa) ||
    (c >= 0x4e00 && c <= 0x9fff) ||
    (c >= 0xac00 && c <= 0xd7a3)
  );
}

function offset(unit: number): number {
  return (unit >>> 10) << ((unit & 0x200) >>> 6);
}

function encodeCodePoint(cp: number, out: Uint8Array, at: number): number {
  if (cp < 0x80) {
    out[at] = cp;
    return 1;
  }
  if (cp < 0x800) {
    out[at] = 0xc0 | (cp >> 6);
    out[at + 1] = 0x80 | (cp & 0x3f);
    return 2;
  }
  if (cp < 0x10000) {
    out[at] = 0xe0 | (cp >> 12);
    out[at + 1] = 0x80 | ((cp >> 6) & 0x3f);
    out[at + 2] = 0x80 | (cp & 0x3f);
    return 3;
  }
  out[at] = 0xf0 | (cp >> 18);
  out[at + 1] = 0x80 | ((cp >> 12) & 0x3f);
  out[at + 2] = 0x80 | ((cp >> 6) & 0x3f);
  out[at + 3] = 0x80 | (cp & 0x3f);
  return 4;
}

function newSegmenter(where: Fail): Intl.Segmenter {
  if (typeof Intl === "undefined" || typeof Intl.Segmenter !== "function") {
    throw where(`this JavaScript runtime lacks Intl.Segmenter, which the Precompiled normalizer needs for grapheme clusters`);
  }
  return new Intl.Segmenter("en", { granularity: "grapheme" });
}

const B64 = new Int8Array(128).fill(-1);
"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".split("").forEach((ch, i) => (B64[ch.charCodeAt(0)] = i));

/** Standard base64 (padding optional); any other character is an error naming its offset. */
function decodeBase64(s: string, where: Fail): Uint8Array {
  let end = s.length;
  while (end > 0 && s.charCodeAt(end - 1) === 0x3d) end--;
  if (s.length - end > 2 || end % 4 === 1) throw where(`not valid base64 (length ${s.length})`);
  const out = new Uint8Array(Math.floor((end * 3) / 4));
  let acc = 0;
  let bits = 0;
  let o = 0;
  for (let i = 0; i < end; i++) {
    const c = s.charCodeAt(i);
    const v = c < 128 ? B64[c] : -1;
    if (v < 0) throw where(`not valid base64 (character U+${c.toString(16).toUpperCase().padStart(4, "0")} at offset ${i})`);
    acc = ((acc << 6) | v) & 0xffffff;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[o++] = (acc >> bits) & 0xff;
    }
  }
  return out;
}

function typeName(v: unknown): string {
  return v === null ? "null" : Array.isArray(v) ? "an array" : typeof v;
}

/**
 * Text → words, as the official GLiNER2 processor does it (HEAD v1.3.3 `WhitespaceTokenSplitter`, after the
 * engine's text clean-up).
 *
 * - The regex `(?:https?://[^\s]+|www\.[^\s]+)` | `[a-z0-9._%+-]+@[a-z0-9.-]+\.[a-z]{2,}` | `@[a-z0-9_]+` |
 *   `\w+(?:[-_]\w+)*` | `\S` is matched on the ORIGINAL text with Python `re` semantics: `re.IGNORECASE` with
 *   Unicode case rules (so `[a-z]` also matches `İ` U+0130, `ı` U+0131, `ſ` U+017F and `K` U+212A), `\w` =
 *   `str.isalnum()` or `_` (letters and numbers, not combining marks), `\s` = `str.isspace()` (which includes
 *   U+001C–U+001F and U+0085 but not U+FEFF, unlike JavaScript's `\s`). Matching is per code point.
 *   The character sets below were derived by running Python 3.11's `re` over every code point; JavaScript's
 *   `\p{L}\p{N}` equals Python's `\w` on every character Python's Unicode 14 database assigns.
 * - Each matched word is then lower-cased on its own with Python's `str.lower()` (full mappings such as
 *   `İ` → `i̇`; Final_Sigma judged inside the word, as Python does on the word string).
 *
 * So `İzmir` is one word `i̇zmir`, and `start`/`end` index the original text. (v1.1.2 lower-cased the whole text
 * first, split `İ` into `i` + U+0307, and reported offsets into the lower-cased text.) Offsets here are UTF-16
 * units, so `text.slice(start, end)` is the original-case word.
 */
import { InputError } from "../errors.js";

export interface Word {
  /** The word as the official splitter returns it: the matched text, lower-cased. */
  readonly text: string;
  /** UTF-16 offset of the word's first character in the original text. */
  readonly start: number;
  /** UTF-16 offset just past the word's last character in the original text. */
  readonly end: number;
}

/**
 * The engine's clean-up before splitting: `""` → `"."`; a text not ending in `.`, `!` or `?` gets `"."`
 * appended (no trimming first, so `"   \n "` → `"   \n ."`).
 */
export function prepareText(text: string): string {
  if (typeof text !== "string") throw new InputError("text", `expected a string, got ${describe(text)}`);
  if (text.length === 0) return ".";
  const last = text[text.length - 1];
  return last === "." || last === "!" || last === "?" ? text : `${text}.`;
}

// Python's \s on str (str.isspace()): note U+001C–U+001F and U+0085, and no U+FEFF. All in the BMP.
function isSpace(u: number): boolean {
  if (u <= 0x20) return (u >= 0x09 && u <= 0x0d) || u >= 0x1c;
  if (u < 0x85) return false;
  return u === 0x85 || u === 0xa0 || u === 0x1680 || (u >= 0x2000 && u <= 0x200a) || u === 0x2028 || u === 0x2029 || u === 0x202f || u === 0x205f || u === 0x3000;
}

// Python's [a-z] under re.IGNORECASE: every character whose simple lower-case is in a-z, plus the
// case-insensitive "extra" equivalents İ (i), ı (i), ſ (s), K (k).
function isAZ(u: number): boolean {
  return (u >= 0x61 && u <= 0x7a) || (u >= 0x41 && u <= 0x5a) || u === 0x130 || u === 0x131 || u === 0x17f || u === 0x212a;
}
function isDigit(u: number): boolean {
  return u >= 0x30 && u <= 0x39;
}
/** E-mail local part `[a-z0-9._%+-]`. */
function isLocal(u: number): boolean {
  return isAZ(u) || isDigit(u) || u === 0x2e || u === 0x5f || u === 0x25 || u === 0x2b || u === 0x2d;
}
/** E-mail domain `[a-z0-9.-]`. */
function isDomain(u: number): boolean {
  return isAZ(u) || isDigit(u) || u === 0x2e || u === 0x2d;
}
/** Social handle `[a-z0-9_]`. */
function isHandle(u: number): boolean {
  return isAZ(u) || isDigit(u) || u === 0x5f;
}

// Python's \w = str.isalnum() or "_"; JavaScript's \p{L}\p{N} equals it on every assigned character.
const WORD_CHAR = /^[\p{L}\p{N}_]$/u;
/** BMP lookup filled on first use: 0 = not computed, 1 = word character, 2 = not. */
const bmpWord = new Uint8Array(0x10000);
function isWord(cp: number): boolean {
  if (cp < 0x80) return isAZ(cp) || isDigit(cp) || cp === 0x5f;
  if (cp < 0x10000) {
    let w = bmpWord[cp];
    if (w === 0) bmpWord[cp] = w = WORD_CHAR.test(String.fromCharCode(cp)) ? 1 : 2;
    return w === 1;
  }
  return WORD_CHAR.test(String.fromCodePoint(cp));
}

/** Work done by one `splitWords` call, in character inspections (for tests that prove it linear). */
export interface SplitWork {
  steps: number;
}

/**
 * Split a (prepared) text into words exactly as the official splitter does; offsets refer to the original
 * text (see the module comment).
 *
 * The official regex is `(?:https?://[^\s]+|www\.[^\s]+)|[a-z0-9._%+-]+@[a-z0-9.-]+\.[a-z]{2,}|@[a-z0-9_]+|
 * \w+(?:[-_]\w+)*|\S`, tried alternative by alternative at each position. Run by a backtracking engine, its
 * e-mail alternative rescans a run of `[a-z0-9._%+-]` from every start position looking for an `@`: quadratic on
 * a long run of `-`, `.`, digits… (100 KB of `-` took 30 s). This scanner gives the same matches in linear
 * time: the local part of an e-mail can only end right before an `@` (none of its characters is `@`), so
 * whether an e-mail starts at a position only depends on where that position's run ends and, once per `@`,
 * on the domain after it. `work.steps` counts character inspections (at most a small constant per character).
 */
export function splitWords(text: string, work?: SplitWork): Word[] {
  if (typeof text !== "string") throw new InputError("text", `expected a string, got ${describe(text)}`);
  const words: Word[] = [];
  const scan = new Scanner(text);
  for (let i = 0; i < text.length; ) {
    scan.steps++;
    if (isSpace(text.charCodeAt(i))) {
      i++;
      continue;
    }
    const e = scan.matchAt(i);
    words.push({ text: pyLower(text.slice(i, e)), start: i, end: e });
    i = e;
  }
  if (work) work.steps += scan.steps;
  return words;
}

/** The splitter's alternatives at one position, in the official order; every method is linear in what it reads. */
class Scanner {
  steps = 0;
  private readonly s: string;
  private readonly n: number;
  /** localEnd[i]: end of the run of e-mail local-part characters starting at i (computed on first need). */
  private localEnd: Int32Array | null = null;
  /** Per `@` position: end of the e-mail domain after it, or -1 when none matches. */
  private readonly domainEnd = new Map<number, number>();

  constructor(s: string) {
    this.s = s;
    this.n = s.length;
  }

  /** End (exclusive) of the match starting at non-space position i. */
  matchAt(i: number): number {
    return this.url(i) ?? this.www(i) ?? this.email(i) ?? this.handle(i) ?? this.word(i) ?? i + this.cpLen(i);
  }

  private cpLen(i: number): number {
    const c = this.s.codePointAt(i)!;
    return c > 0xffff ? 2 : 1;
  }

  private code(i: number): number {
    return i < this.n ? this.s.charCodeAt(i) : -1;
  }

  /** End of the non-space run starting at i (i itself when s[i] is a space or the end). */
  private nonSpaceEnd(i: number): number {
    while (i < this.n && !isSpace(this.s.charCodeAt(i))) {
      this.steps++;
      i++;
    }
    return i;
  }

  private is(i: number, upper: number): boolean {
    const c = this.code(i);
    this.steps++;
    return c === upper || c === upper + 32;
  }

  /** `[hH][tT][tT][pP][sSſ]?://[^\s]+` */
  private url(i: number): number | undefined {
    if (!(this.is(i, 0x48) && this.is(i + 1, 0x54) && this.is(i + 2, 0x54) && this.is(i + 3, 0x50))) return undefined;
    let p = i + 4;
    const c = this.code(p);
    if ((c === 0x73 || c === 0x53 || c === 0x17f) && this.s.startsWith("://", p + 1)) p += 4;
    else if (this.s.startsWith("://", p)) p += 3;
    else return undefined;
    const e = this.nonSpaceEnd(p);
    return e > p ? e : undefined;
  }

  /** `[wW][wW][wW]\.[^\s]+` */
  private www(i: number): number | undefined {
    if (!(this.is(i, 0x57) && this.is(i + 1, 0x57) && this.is(i + 2, 0x57) && this.code(i + 3) === 0x2e)) return undefined;
    const e = this.nonSpaceEnd(i + 4);
    return e > i + 4 ? e : undefined;
  }

  /** `[a-z0-9._%+-]+@[a-z0-9.-]+\.[a-z]{2,}` */
  private email(i: number): number | undefined {
    if (!isLocal(this.s.charCodeAt(i))) return undefined;
    if (this.localEnd === null) {
      const ends = new Int32Array(this.n + 1);
      ends[this.n] = this.n;
      for (let k = this.n - 1; k >= 0; k--) {
        this.steps++;
        ends[k] = isLocal(this.s.charCodeAt(k)) ? ends[k + 1] : k;
      }
      this.localEnd = ends;
    }
    const at = this.localEnd[i];
    if (this.code(at) !== 0x40) return undefined;
    let end = this.domainEnd.get(at);
    if (end === undefined) {
      end = this.domain(at + 1);
      this.domainEnd.set(at, end);
    }
    return end < 0 ? undefined : end;
  }

  /**
   * `[a-z0-9.-]+\.[a-z]{2,}` from j: the greedy run backs off to the last "." that has at least one character
   * before it and two letters after it; the letters then run as far as they go. -1 when there is none.
   */
  private domain(j: number): number {
    let k = j;
    while (k < this.n && isDomain(this.s.charCodeAt(k))) {
      this.steps++;
      k++;
    }
    for (let e = k - 3; e >= j + 1; e--) {
      this.steps++;
      if (this.s.charCodeAt(e) === 0x2e && isAZ(this.s.charCodeAt(e + 1)) && isAZ(this.s.charCodeAt(e + 2))) {
        let f = e + 3;
        while (f < this.n && isAZ(this.s.charCodeAt(f))) {
          this.steps++;
          f++;
        }
        return f;
      }
    }
    return -1;
  }

  /** `@[a-z0-9_]+` */
  private handle(i: number): number | undefined {
    if (this.s.charCodeAt(i) !== 0x40 || !isHandle(this.code(i + 1))) return undefined;
    let e = i + 1;
    while (e < this.n && isHandle(this.s.charCodeAt(e))) {
      this.steps++;
      e++;
    }
    return e;
  }

  /** End of the run of \w characters from i (i when there is none). */
  private wordRun(i: number): number {
    while (i < this.n) {
      const c = this.s.codePointAt(i)!;
      this.steps++;
      if (!isWord(c)) break;
      i += c > 0xffff ? 2 : 1;
    }
    return i;
  }

  /** `\w+(?:[-_]\w+)*` (a "_" is itself \w, so only "-" joins runs). */
  private word(i: number): number | undefined {
    let e = this.wordRun(i);
    if (e === i) return undefined;
    while (this.code(e) === 0x2d) {
      const next = this.wordRun(e + 1);
      if (next === e + 1) break;
      e = next;
    }
    return e;
  }
}

const CASED = /\p{Cased}/u;
const CASE_IGNORABLE = /\p{Case_Ignorable}/u;
const CAPITAL_SIGMA = 0x3a3;

/** Python's `str.lower()` of one string (Final_Sigma judged inside it). */
export function pyLower(s: string): string {
  // eslint-disable-next-line no-control-regex
  if (/^[\x00-\x7f]*$/.test(s)) return s.toLowerCase();
  const cps = Array.from(s, (c) => c.codePointAt(0)!);
  let out = "";
  for (let k = 0; k < cps.length; k++) {
    const cp = cps[k];
    out += cp === CAPITAL_SIGMA ? (isFinalSigma(cps, k) ? "\u03c2" : "\u03c3") : lowerCodePoint(cp);
  }
  return out;
}

const lowerCache = new Map<number, string>();

/** Context-free full lower-case mapping of one code point (every character except Σ is context-free). */
function lowerCodePoint(cp: number): string {
  if (cp < 0x80) return String.fromCharCode(cp >= 0x41 && cp <= 0x5a ? cp + 32 : cp);
  let s = lowerCache.get(cp);
  if (s === undefined) {
    // Lone surrogates have no case; String.fromCodePoint keeps them as they are.
    s = String.fromCodePoint(cp).toLowerCase();
    if (lowerCache.size < 4096) lowerCache.set(cp, s);
  }
  return s;
}

/**
 * Unicode's Final_Sigma condition as CPython evaluates it: a cased letter before Σ (skipping case-ignorable
 * characters) and no cased letter after it (again skipping case-ignorable ones), judged inside the string being
 * lower-cased: one word, as the official code lowers each word on its own.
 */
function isFinalSigma(cps: readonly number[], k: number): boolean {
  let j = k - 1;
  while (j >= 0 && isCaseIgnorable(cps[j])) j--;
  if (j < 0 || !isCased(cps[j])) return false;
  j = k + 1;
  while (j < cps.length && isCaseIgnorable(cps[j])) j++;
  return j === cps.length || !isCased(cps[j]);
}

function isCased(cp: number): boolean {
  return CASED.test(String.fromCodePoint(cp));
}

function isCaseIgnorable(cp: number): boolean {
  return CASE_IGNORABLE.test(String.fromCodePoint(cp));
}

function describe(v: unknown): string {
  return v === null ? "null" : Array.isArray(v) ? "an array" : typeof v;
}

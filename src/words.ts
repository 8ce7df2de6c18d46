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
import { InputError } from "./errors.js";

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

// Python's \s on str (str.isspace()): note U+001C–U+001F and U+0085, and no U+FEFF.
const SPACE = "\\t-\\r\\x1c-\\x20\\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000";
// Python's [a-z] under re.IGNORECASE: every character whose simple lower-case is in a-z, plus the
// case-insensitive "extra" equivalents ı (i), ſ (s), K (k).
const AZ = "a-zA-Z\\u0130\\u0131\\u017f\\u212a";
const WORD = "\\p{L}\\p{N}_";
const NON_SPACE = `[^${SPACE}]`;

const SPLITTER = new RegExp(
  [
    `[hH][tT][tT][pP][sS\\u017f]?://${NON_SPACE}+`, // URL with scheme
    `[wW][wW][wW]\\.${NON_SPACE}+`, // bare www.
    `[${AZ}0-9._%+\\-]+@[${AZ}0-9.\\-]+\\.[${AZ}]{2,}`, // e-mail
    `@[${AZ}0-9_]+`, // social handle
    `[${WORD}]+(?:[\\-_][${WORD}]+)*`, // word, optionally joined by - or _
    NON_SPACE, // any other single non-space character
  ].join("|"),
  "gu",
);

const CASED = /\p{Cased}/u;
const CASE_IGNORABLE = /\p{Case_Ignorable}/u;
const CAPITAL_SIGMA = 0x3a3;

/**
 * Split a (prepared) text into words exactly as the official splitter does; offsets refer to the original
 * text (see the module comment).
 */
export function splitWords(text: string): Word[] {
  if (typeof text !== "string") throw new InputError("text", `expected a string, got ${describe(text)}`);
  const words: Word[] = [];
  SPLITTER.lastIndex = 0;
  for (let m = SPLITTER.exec(text); m !== null; m = SPLITTER.exec(text)) {
    // every alternative consumes at least one character, so the loop advances
    words.push({ text: pyLower(m[0]), start: m.index, end: m.index + m[0].length });
  }
  return words;
}

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
 * characters) and no cased letter after it (again skipping case-ignorable ones). Evaluated on the whole
 * text, because the context may reach past word boundaries (`ΟΔΟΣ'Α` keeps σ).
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

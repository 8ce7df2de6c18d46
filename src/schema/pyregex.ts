/**
 * Python `re` patterns → JavaScript RegExp, for the official RegexValidator semantics.
 *
 * Users write validator patterns in Python syntax (that is what the official library and its docs take). The
 * common subset reads the same in JS, but several constructs differ in meaning or are syntax errors in JS, so
 * the pattern is translated token by token instead of being passed through:
 * - `\d`, `\w`, `\s`, `\b`, `\B` are Unicode-aware in Python str patterns (JS's are ASCII-only) → explicit
 *   Unicode property classes; with the ASCII flag (`a`, `(?a)`) they become the ASCII sets.
 * - `.` excludes only `\n` (JS also excludes `\r`, U+2028, U+2029); `$` also matches before a final `\n`;
 *   `\A`, `\Z`, `(?P<name>…)`, `(?P=name)`, `(?#…)`, `\a`, `\U…`, octal escapes, `{,n}`, a lone `{`/`}`/`]`
 *   and escaped punctuation (`\@`) → their JS equivalents.
 * - Global inline flags at the start (`(?i)`, `(?sx)`, …) → translation options; `x` (verbose) is applied here.
 * Constructs JS cannot express (scoped flags `(?i:…)`, conditionals `(?(1)…)`, atomic groups, possessive
 * quantifiers, `\N{…}`, the LOCALE flag) raise a SchemaError naming the pattern, as does any pattern that is
 * invalid in either language. The result is compiled with the `v` flag (Unicode sets), never `g`/`y`, so
 * `test` is stateless.
 */
import { SchemaError } from "../errors.js";
import type { RegexValidator } from "./plan.js";
import { compileBudgeted } from "./regexvm.js";

/** Python `re` flags that change how a pattern reads. */
export interface PyRegexFlags {
  ignoreCase: boolean;
  multiline: boolean;
  dotAll: boolean;
  verbose: boolean;
  ascii: boolean;
}

const UNICODE_WORD = "\\p{L}\\p{N}_";
const ASCII_WORD = "a-zA-Z0-9_";
const UNICODE_DIGIT = "\\p{Nd}";
const ASCII_DIGIT = "0-9";
/** str.isspace() code points (what Python's Unicode `\s` and `str.strip()` use). */
const UNICODE_SPACE = "\\t\\n\\v\\f\\r\\x1c-\\x20\\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000";
const ASCII_SPACE = "\\t\\n\\v\\f\\r\\x20";

/** Characters that must be backslash-escaped to be literal inside a `v`-mode class. */
const CLASS_RESERVED = new Set("()[]{}/-\\|&!#$%*+,.:;<=>?@^`~");
/** Characters that must be backslash-escaped to be literal outside a class. */
const SYNTAX = new Set("^$\\.*+?()[]{}|/");
const HEX = /^[0-9a-fA-F]+$/;
/** What verbose mode skips outside classes (sre_parse's WHITESPACE). */
const VERBOSE_SPACE = new Set(" \t\n\r\v\f");

/** Parse a flag string: Python letters `a i m s x` (and `u`, the default, or JS's `u`/`v`, ignored). */
export function parsePyFlags(flags: string, where: string): PyRegexFlags {
  const f: PyRegexFlags = { ignoreCase: false, multiline: false, dotAll: false, verbose: false, ascii: false };
  for (const c of flags) applyFlag(f, c, where);
  return f;
}

function applyFlag(f: PyRegexFlags, c: string, where: string): void {
  switch (c) {
    case "i": f.ignoreCase = true; break;
    case "m": f.multiline = true; break;
    case "s": f.dotAll = true; break;
    case "x": f.verbose = true; break;
    case "a": f.ascii = true; break;
    case "u": case "v": break;
    case "L": throw new SchemaError(where, "the LOCALE flag (?L) only applies to bytes patterns and is not supported");
    default: throw new SchemaError(where, `unknown regex flag "${c}" (expected letters among a, i, m, s, x)`);
  }
}

/** Translate a Python pattern into the source of an equivalent JS `v`-mode RegExp plus the JS flags to use. */
export function translatePyRegex(pattern: string, flags: string, where: string): { source: string; flags: string } {
  const f = parsePyFlags(flags, where);
  let i = 0;
  // Global inline flags are only allowed at the very start in Python ≥ 3.11; several groups may follow each other.
  for (let m = /^\(\?([a-zA-Z]+)\)/.exec(pattern); m !== null; m = /^\(\?([a-zA-Z]+)\)/.exec(pattern.slice(i))) {
    for (const c of m[1]) applyFlag(f, c, where);
    i += m[0].length;
  }
  const source = new Translator(pattern, i, f, where).run();
  return { source, flags: f.ignoreCase ? "iv" : "v" };
}

/** Compile a Python pattern (search semantics). Throws SchemaError when JS cannot express it. */
export function compilePyRegex(pattern: string, flags: string, where: string, mode: "full" | "partial" = "partial"): RegExp {
  const t = translatePyRegex(pattern, flags, where);
  // Full mode is Python's re.fullmatch: the whole text must match, with backtracking into alternatives.
  const source = mode === "full" ? `^(?:${t.source})$` : t.source;
  try {
    return new RegExp(source, t.flags);
  } catch (err) {
    throw new SchemaError(where, `invalid regular expression ${JSON.stringify(pattern)}: ${(err as Error).message}`);
  }
}

/**
 * The official RegexValidator as a predicate on span text: full = fullmatch, partial = search, exclude inverts.
 * The pattern runs on the step-budgeted matcher (src/schema/regexvm.ts): a runaway match throws a SchemaError naming
 * the validator instead of hanging.
 */
export function compileValidator(v: RegexValidator, where: string, budget?: number): (text: string) => boolean {
  if (v.mode !== "full" && v.mode !== "partial") {
    throw new SchemaError(where, `validator mode must be "full" or "partial", got ${JSON.stringify(v.mode)}`);
  }
  const re = compilePyRegex(v.pattern, v.flags, where, v.mode); // syntax checked by the JS engine too
  const budgeted = compileBudgeted(re.source, re.flags, where, v.pattern, budget);
  return v.exclude ? (text) => !budgeted.test(text) : (text) => budgeted.test(text);
}

class Translator {
  private out = "";
  /** Whether the last emitted item was a quantifier (for `?` laziness and possessive detection). */
  private afterQuantifier = false;
  /** Open groups, by their position in the pattern (Python rejects unbalanced parentheses; JS might not). */
  private readonly open: number[] = [];

  constructor(
    private readonly p: string,
    private i: number,
    private readonly f: PyRegexFlags,
    private readonly where: string,
  ) {}

  private fail(msg: string): never {
    throw new SchemaError(this.where, `regex ${JSON.stringify(this.p)}: ${msg}`);
  }

  private word(): string {
    return this.f.ascii ? ASCII_WORD : UNICODE_WORD;
  }

  run(): string {
    const p = this.p;
    while (this.i < p.length) {
      const c = p[this.i];
      if (this.f.verbose && VERBOSE_SPACE.has(c)) {
        this.i++;
        continue;
      }
      if (this.f.verbose && c === "#") {
        while (this.i < p.length && p[this.i] !== "\n") this.i++;
        continue;
      }
      const wasQuantifier = this.afterQuantifier;
      this.afterQuantifier = false;
      switch (c) {
        case "\\":
          this.out += this.escape(false);
          break;
        case "[":
          this.out += this.charClass();
          break;
        case "(": {
          const at = this.i;
          const g = this.group();
          // A comment `(?#…)` and a `(?P=name)` back-reference consume their own ")".
          if (g !== "" && !g.startsWith("(?:\\k<")) this.open.push(at);
          this.out += g;
          break;
        }
        case ")":
          if (this.open.length === 0) this.fail(`unbalanced parenthesis at position ${this.i}`);
          this.open.pop();
          this.out += ")";
          this.i++;
          this.afterQuantifier = false;
          break;
        case ".":
          this.out += this.f.dotAll ? "[\\s\\S]" : "[^\\n]";
          this.i++;
          break;
        case "^":
          this.out += this.f.multiline ? "(?:^|(?<=\\n))" : "^";
          this.i++;
          break;
        case "$":
          // Python's $ also matches just before a final newline (and before every newline in MULTILINE).
          this.out += this.f.multiline ? "(?=\\n|$)" : "(?=\\n?$)";
          this.i++;
          break;
        case "*":
        case "+":
        case "?":
          if (wasQuantifier && c === "+") this.fail("possessive quantifiers are not supported in JavaScript");
          this.out += c;
          this.i++;
          // `x*?` is lazy; after the `?` nothing else may modify the quantifier.
          this.afterQuantifier = !(wasQuantifier && c === "?");
          break;
        case "{":
          this.out += this.brace();
          break;
        case "}":
          this.out += "\\}";
          this.i++;
          break;
        case "]":
          this.out += "\\]";
          this.i++;
          break;
        default:
          this.out += c;
          this.i++;
      }
    }
    if (this.open.length > 0) this.fail(`missing ), unterminated subpattern at position ${this.open[this.open.length - 1]}`);
    return this.out;
  }

  /** `{m,n}` is a quantifier in Python only when well formed; otherwise `{` is a literal. */
  private brace(): string {
    const m = /^\{(\d*)(?:(,)(\d*))?\}/.exec(this.p.slice(this.i));
    if (m === null || (m[1] === "" && m[2] === undefined)) {
      this.i++;
      return "\\{";
    }
    this.i += m[0].length;
    this.afterQuantifier = true;
    const lo = m[1] === "" ? "0" : m[1];
    if (m[2] === undefined) return `{${lo}}`;
    return `{${lo},${m[3]}}`;
  }

  private group(): string {
    const rest = this.p.slice(this.i);
    if (!rest.startsWith("(?")) {
      this.i++;
      return "(";
    }
    const named = /^\(\?P<([^>]*)>/.exec(rest);
    if (named) {
      this.i += named[0].length;
      return `(?<${named[1]}>`;
    }
    const backref = /^\(\?P=([^)]*)\)/.exec(rest);
    if (backref) {
      this.i += backref[0].length;
      return `(?:\\k<${backref[1]}>)`;
    }
    if (rest.startsWith("(?#")) {
      const close = rest.indexOf(")");
      if (close < 0) this.fail("unterminated comment (?#...");
      this.i += close + 1;
      return "";
    }
    for (const head of ["(?:", "(?=", "(?!", "(?<=", "(?<!", "(?<"]) {
      if (rest.startsWith(head)) {
        this.i += head.length;
        return head;
      }
    }
    if (rest.startsWith("(?(")) this.fail("conditional groups (?(id)yes|no) are not supported in JavaScript");
    if (rest.startsWith("(?>")) this.fail("atomic groups (?>...) are not supported in JavaScript");
    if (/^\(\?[-a-zA-Z]+:/.test(rest)) this.fail("scoped inline flags (?flags:...) are not supported; use global flags at the start");
    if (/^\(\?[a-zA-Z]+\)/.test(rest)) this.fail("global inline flags are only allowed at the start of the pattern");
    this.fail(`unknown group syntax at position ${this.i}`);
  }

  /** A character class; Python classes are translated into `v`-mode classes (literal punctuation escaped). */
  private charClass(): string {
    const p = this.p;
    let out = "[";
    this.i++;
    if (p[this.i] === "^") {
      out += "^";
      this.i++;
    }
    let first = true;
    let prevIsChar = false; // the last item was a single character that could start a range
    while (true) {
      if (this.i >= p.length) this.fail("unterminated character set");
      const c = p[this.i];
      if (c === "]" && !first) {
        this.i++;
        return out + "]";
      }
      first = false;
      if (c === "-" && prevIsChar && this.i + 1 < p.length && p[this.i + 1] !== "]") {
        out += "-";
        this.i++;
        // The range end must be one character; a class escape there is an error in both languages.
        const end = p[this.i] === "\\" ? this.escape(true) : this.classLiteral(this.takeCodePoint());
        out += end;
        prevIsChar = false;
        continue;
      }
      if (c === "\\") {
        const before = this.i;
        const piece = this.escape(true);
        // Escapes of one character (\n, \x41, \-) can start a range; class escapes (\d, \w) cannot.
        prevIsChar = !/^[dDwWsS]$/.test(p[before + 1] ?? "");
        out += piece;
        continue;
      }
      out += this.classLiteral(this.takeCodePoint());
      prevIsChar = true;
    }
  }

  private takeCodePoint(): string {
    const cp = this.p.codePointAt(this.i)!;
    const ch = String.fromCodePoint(cp);
    this.i += ch.length;
    return ch;
  }

  private classLiteral(ch: string): string {
    return CLASS_RESERVED.has(ch) ? `\\${ch}` : ch;
  }

  private literal(ch: string, inClass: boolean): string {
    if (inClass) return this.classLiteral(ch);
    return SYNTAX.has(ch) ? `\\${ch}` : ch;
  }

  /** Translate the escape at `this.i` (which points at the backslash). */
  private escape(inClass: boolean): string {
    const p = this.p;
    this.i++;
    if (this.i >= p.length) this.fail("pattern ends with a lone backslash");
    const c = p[this.i];
    const set = (body: string, negate: boolean): string => {
      this.i++;
      // A nested class is valid both alone and inside a `v`-mode class.
      return negate ? `[^${body}]` : `[${body}]`;
    };
    const fromCode = (code: number): string => {
      if (code > 0x10ffff) this.fail(`escape value ${code.toString(16)} is out of range`);
      return `\\u{${code.toString(16)}}`;
    };
    switch (c) {
      case "d": return set(this.f.ascii ? ASCII_DIGIT : UNICODE_DIGIT, false);
      case "D": return set(this.f.ascii ? ASCII_DIGIT : UNICODE_DIGIT, true);
      case "w": return set(this.word(), false);
      case "W": return set(this.word(), true);
      case "s": return set(this.f.ascii ? ASCII_SPACE : UNICODE_SPACE, false);
      case "S": return set(this.f.ascii ? ASCII_SPACE : UNICODE_SPACE, true);
      case "b":
        this.i++;
        if (inClass) return "\\x08";
        return `(?:(?<=[${this.word()}])(?![${this.word()}])|(?<![${this.word()}])(?=[${this.word()}]))`;
      case "B":
        this.i++;
        if (inClass) this.fail("bad escape \\B inside a character set");
        return `(?:(?<=[${this.word()}])(?=[${this.word()}])|(?<![${this.word()}])(?![${this.word()}]))`;
      case "A":
        this.i++;
        if (inClass) this.fail("bad escape \\A inside a character set");
        return "(?<![\\s\\S])";
      case "Z":
        this.i++;
        if (inClass) this.fail("bad escape \\Z inside a character set");
        return "(?![\\s\\S])";
      case "n": case "t": case "r": case "f": case "v":
        this.i++;
        return `\\${c}`;
      case "a":
        this.i++;
        return "\\x07";
      case "x": case "u": case "U": {
        const len = c === "x" ? 2 : c === "u" ? 4 : 8;
        const hex = p.slice(this.i + 1, this.i + 1 + len);
        if (hex.length !== len || !HEX.test(hex)) this.fail(`incomplete escape \\${c}${hex}`);
        this.i += 1 + len;
        return fromCode(parseInt(hex, 16));
      }
      case "N":
        this.fail("named Unicode escapes \\N{...} are not supported");
    }
    if (c >= "0" && c <= "9") {
      // Python: in a set, up to three octal digits are an octal escape; outside, \0 (plus up to two octal
      // digits) or exactly three octal digits are octal, and other digit runs (1–2 digits) are backreferences.
      const rest = p.slice(this.i);
      const oct = inClass ? /^[0-7]{1,3}/.exec(rest) : c === "0" ? /^0[0-7]{0,2}/.exec(rest) : /^[0-7]{3}/.exec(rest);
      if (oct) {
        const code = parseInt(oct[0], 8);
        if (code > 0o377) this.fail(`octal escape value \\${oct[0]} outside of range 0-0o377`);
        this.i += oct[0].length;
        return fromCode(code);
      }
      if (inClass) this.fail(`bad escape \\${c} inside a character set`);
      const ref = /^\d{1,2}/.exec(rest)![0];
      this.i += ref.length;
      return `(?:\\${ref})`;
    }
    if (/[a-zA-Z]/.test(c)) this.fail(`bad escape \\${c}`);
    // Any other escaped character is that character, literally.
    return this.literal(this.takeCodePoint(), inClass);
  }
}

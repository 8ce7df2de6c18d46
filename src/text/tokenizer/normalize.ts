/**
 * tokenizer.json `normalizer` components, with Hugging Face `tokenizers` (Rust) semantics. Only the
 * components SentencePiece-converted tokenizers use are implemented; any other type is refused at load
 * (a TokenizerError naming the field) rather than approximated.
 */
import { TokenizerError } from "../../errors.js";
import { parseCharsmap } from "./charsmap.js";

export type Normalize = (text: string) => string;

/** Deepest Sequence-in-Sequence nesting accepted (real files have one level). */
export const MAX_NESTING = 32;

export const SUPPORTED_NORMALIZERS = ["Sequence", "Strip", "Precompiled", "Replace", "NFC", "NFD", "NFKC", "NFKD", "Lowercase", "Prepend"];

/** Rust's `char::is_whitespace` (Unicode White_Space): unlike JS `trim`, it has U+0085 and lacks U+FEFF. */
export function isRustWhitespace(c: number): boolean {
  return (
    (c >= 0x09 && c <= 0x0d) ||
    c === 0x20 ||
    c === 0x85 ||
    c === 0xa0 ||
    c === 0x1680 ||
    (c >= 0x2000 && c <= 0x200a) ||
    c === 0x2028 ||
    c === 0x2029 ||
    c === 0x202f ||
    c === 0x205f ||
    c === 0x3000
  );
}

/** Build the normalizer described by `spec` (null/undefined: none). Errors name `file` and the field path. */
export function buildNormalizer(spec: unknown, file: string, field = "normalizer", depth = 0): Normalize | null {
  if (spec === null || spec === undefined) return null;
  if (depth > MAX_NESTING) throw new TokenizerError(`Sequence nested more than ${MAX_NESTING} deep`, file, field);
  const o = object(spec, file, field);
  const type = o.type;
  switch (type) {
    case "Sequence": {
      const list = o.normalizers;
      if (!Array.isArray(list)) throw new TokenizerError(`must be an array`, file, `${field}.normalizers`);
      const steps = list.map((s, i) => buildNormalizer(s, file, `${field}.normalizers[${i}]`, depth + 1)).filter((s): s is Normalize => s !== null);
      return (text) => {
        for (const step of steps) text = step(text);
        return text;
      };
    }
    case "Strip": {
      const left = bool(o.strip_left, file, `${field}.strip_left`);
      const right = bool(o.strip_right, file, `${field}.strip_right`);
      return (text) => {
        let a = 0;
        let b = text.length;
        if (left) while (a < b && isRustWhitespace(text.charCodeAt(a))) a++;
        if (right) while (b > a && isRustWhitespace(text.charCodeAt(b - 1))) b--;
        return a === 0 && b === text.length ? text : text.slice(a, b);
      };
    }
    case "Precompiled": {
      const map = parseCharsmap(o.precompiled_charsmap, file, `${field}.precompiled_charsmap`);
      return (text) => map.apply(text);
    }
    case "Replace": {
      const content = o.content;
      if (typeof content !== "string") throw new TokenizerError(`must be a string`, file, `${field}.content`);
      const pattern = buildPattern(o.pattern, file, `${field}.pattern`);
      return (text) => text.replaceAll(pattern, () => content);
    }
    case "NFC":
    case "NFD":
    case "NFKC":
    case "NFKD":
      return (text) => text.normalize(type);
    case "Lowercase":
      return (text) => text.toLowerCase();
    case "Prepend": {
      const prepend = o.prepend;
      if (typeof prepend !== "string") throw new TokenizerError(`must be a string`, file, `${field}.prepend`);
      return (text) => (text.length > 0 ? prepend + text : text);
    }
    default:
      throw new TokenizerError(`normalizer type ${show(type)} is not supported (supported: ${SUPPORTED_NORMALIZERS.join(", ")})`, file, `${field}.type`);
  }
}

/**
 * Whether the normalizer strips leading whitespace (a Strip with strip_left somewhere in it). Hugging Face
 * then counts the text as starting after the stripped characters (Metaspace's "first" scheme looks at that);
 * characters the charsmap deletes do not move the start.
 */
export function stripsLeft(spec: unknown): boolean {
  if (typeof spec !== "object" || spec === null) return false;
  const o = spec as Record<string, unknown>;
  if (o.type === "Strip") return o.strip_left === true;
  return o.type === "Sequence" && Array.isArray(o.normalizers) && o.normalizers.some(stripsLeft);
}

/** A `{String: s}` (literal, non-empty) or `{Regex: r}` pattern (a global RegExp). */
export function buildPattern(spec: unknown, file: string, field: string): RegExp | string {
  const o = object(spec, file, field);
  if (typeof o.String === "string" && o.String.length > 0) return o.String;
  if (typeof o.Regex === "string") {
    try {
      return new RegExp(o.Regex, "gu");
    } catch (e) {
      throw new TokenizerError(`regex ${show(o.Regex)} cannot be compiled: ${(e as Error).message}`, file, `${field}.Regex`);
    }
  }
  throw new TokenizerError(`must be {"String": …} or {"Regex": …}`, file, field);
}

/**
 * A value from a file or a text, for an error message: JSON-quoted, with C1 controls and bidi/line-separator
 * characters escaped too (JSON.stringify leaves them), and capped in length.
 */
export function show(v: unknown, max = 80): string {
  let s: string;
  try {
    s = JSON.stringify(v) ?? typeof v;
  } catch {
    s = typeof v;
  }
  if (s.length > max) s = `${s.slice(0, max)}…`;
  return s.replace(/[\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
}

export function object(v: unknown, file: string, field: string): Record<string, unknown> {
  if (typeof v !== "object" || v === null || Array.isArray(v)) {
    throw new TokenizerError(`must be an object, got ${v === null ? "null" : Array.isArray(v) ? "an array" : typeof v}`, file, field);
  }
  return v as Record<string, unknown>;
}

function bool(v: unknown, file: string, field: string): boolean {
  if (typeof v !== "boolean") throw new TokenizerError(`must be true or false, got ${show(v)}`, file, field);
  return v;
}

/**
 * The one sanitizer for messages that quote user data (texts, file contents, flags, schema values, server
 * headers). Every `Gliner2Error` message goes through `safeMessage`, so no quoted input can put raw control
 * characters on a terminal (`ESC ] 0;title BEL`, CSI via U+009B, bidi overrides) or make a multi-megabyte line.
 */
import { InputError } from "./errors.js";

/** Longest message kept whole; longer ones keep their head and tail. */
export const MAX_MESSAGE_CHARS = 2000;
/** Longest quoted value inside a message. */
export const MAX_QUOTE_CHARS = 200;

// C0 (except none), DEL, C1, line/paragraph separators, bidi embeddings/overrides/isolates, BOM, lone surrogates.
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069\ufeff]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

/** Escape every control/format character as `\uXXXX` (`\n`, `\t`, `\r` as themselves escaped). */
export function escapeControls(s: string): string {
  return s.replace(UNSAFE, (c) => {
    if (c === "\n") return "\\n";
    if (c === "\t") return "\\t";
    if (c === "\r") return "\\r";
    return `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`;
  });
}

/** Cut `s` to `max` characters, keeping head and tail and saying how much was left out. */
export function capLength(s: string, max: number): string {
  if (s.length <= max) return s;
  const keep = max - 40;
  let head = Math.ceil(keep * 0.75);
  let tail = keep - head;
  // Never split a surrogate pair.
  if (/[\ud800-\udbff]/.test(s[head - 1] ?? "")) head--;
  if (/[\udc00-\udfff]/.test(s[s.length - tail] ?? "")) tail--;
  return `${s.slice(0, head)}…[${s.length - head - tail} characters omitted]…${s.slice(s.length - tail)}`;
}

/** A message safe to print: control characters escaped, length capped. */
export function safeMessage(message: string): string {
  // Cap first so escaping never works on megabytes; escaping can at most multiply the length by 6.
  return capLength(escapeControls(capLength(String(message), MAX_MESSAGE_CHARS)), MAX_MESSAGE_CHARS * 2);
}

/**
 * A user value as messages show it: strings quoted and capped, numbers as JS writes them (so NaN shows as
 * NaN, not as JSON's `null`), other values by kind or as short JSON.
 */
export function describeValue(v: unknown): string {
  if (v === null) return "null";
  if (v === undefined) return "undefined";
  if (typeof v === "number" || typeof v === "boolean" || typeof v === "bigint") return String(v);
  if (typeof v === "string") return JSON.stringify(capLength(v, MAX_QUOTE_CHARS));
  if (typeof v === "function" || typeof v === "symbol") return `a ${typeof v}`;
  if (Array.isArray(v)) return v.length === 0 ? "[]" : `an array of ${v.length}`;
  let json: string | undefined;
  try {
    json = JSON.stringify(v);
  } catch {
    json = undefined;
  }
  return json === undefined ? "an object" : capLength(json, MAX_QUOTE_CHARS);
}

/**
 * Refuse keys of an options object that are not in `allowed`, naming the key and the closest allowed one
 * (`treshold` → did you mean `threshold`?). Throws InputError.
 */
export function checkOptionKeys(opts: unknown, allowed: readonly string[], argument: string): void {
  if (opts === undefined) return;
  if (typeof opts !== "object" || opts === null || Array.isArray(opts)) throw new InputError(argument, `must be an object, got ${describeValue(opts)}`);
  for (const [key, value] of Object.entries(opts)) {
    // `{...opts, batchSize: undefined}` is how callers unset an option; only keys with a value are checked.
    if (allowed.includes(key) || value === undefined) continue;
    const near = closest(key, allowed);
    throw new InputError(
      `${argument}.${key}`,
      `unknown option ${describeValue(key)}${near !== null ? ` (did you mean "${near}"?)` : ""}; known options: ${allowed.join(", ")}`,
    );
  }
}

function closest(key: string, names: readonly string[]): string | null {
  let best: string | null = null;
  let bestD = Infinity;
  const k = key.toLowerCase().slice(0, 64);
  for (const n of names) {
    const d = editDistance(k, n.toLowerCase());
    if (d < bestD) {
      bestD = d;
      best = n;
    }
  }
  return bestD <= Math.max(2, Math.floor(k.length / 3)) ? best : null;
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) cur[j] = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    prev = cur;
  }
  return prev[b.length];
}

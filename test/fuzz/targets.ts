/**
 * Fuzz targets: seeded generators of hostile inputs for the parts that read untrusted data, each with the
 * properties its outcome must have. The invariant for every target: each input ends in a result or a
 * `Gliner2Error` (anything else is a bug), within a bounded time; `check` throws `PropertyFailure` when a
 * result is wrong. `npm test` runs a few hundred inputs per target (test/fuzz.test.ts); `npm run fuzz` runs
 * millions (scripts/fuzz.mjs).
 */
import { isDeepStrictEqual } from "node:util";
import { OverlongLine, readLines, streamJsonl } from "../../src/cli/jsonl.js";
import { Gliner2Error, InputError } from "../../src/errors.js";
import { parseSafetensors } from "../../src/model/safetensors.js";
import { compilePyRegex, compileValidator } from "../../src/schema/pyregex.js";
import { normalizeSchema } from "../../src/schema/schema.js";
import { splitWords } from "../../src/text/words.js";
import { referenceMatches } from "../helpers/referenceSplitter.js";
import { stringFrom, type Rng } from "../helpers/prng.js";

/** A wrong result (as opposed to an exception thrown by the code under test). */
export class PropertyFailure extends Error {}

export interface FuzzTarget<T = unknown> {
  readonly name: string;
  generate(r: Rng): T;
  /** Run the code under test; throw PropertyFailure for a wrong result. May be async. */
  check(input: T): void | Promise<void>;
  /** Short description of an input for reports. */
  show(input: T): string;
}

function fail(msg: string): never {
  throw new PropertyFailure(msg);
}

const show = (v: unknown) => {
  const s = typeof v === "string" ? JSON.stringify(v) : (() => {
    try {
      return JSON.stringify(v, (_k, x) => (x instanceof Uint8Array ? `<${x.length} bytes>` : typeof x === "number" && !Number.isFinite(x) ? String(x) : x));
    } catch {
      return String(v);
    }
  })();
  return s.length > 300 ? `${s.slice(0, 300)}…` : s;
};

// --------------------------------------------------------------------------------------------------------------
// Word splitter: same words as the official regex (short texts), linear work (any length).

const WORD_PIECES = ["a", "z", "0", "9", ".", "_", "%", "+", "-", "@", ":", "/", "h", "t", "p", "s", "w", "ı", "ſ", "é", "𝐚", "😀", "\u0301", " ", "\n", "\u00a0", "\u3000", "http://", "https://", "www.", ".co", "@x.io", "!", ",", "İ", "Σ", "ΑΣ", "\ud800", "K"];
const LONG_UNITS = ["-", ".", "1.", "a-", "a@", "a@b.", ".cc@", "x@y.zz.", "%", "+", "http", "www.", "é", "😀", "_"];

export const wordsTarget: FuzzTarget<string> = {
  name: "word splitter",
  generate(r) {
    if (r.chance(0.1)) return r.pick(LONG_UNITS).repeat(1 + r.int(3000)) + stringFrom(r, WORD_PIECES, 5);
    return stringFrom(r, WORD_PIECES, 40);
  },
  check(text) {
    const work = { steps: 0 };
    const words = splitWords(text, work);
    if (work.steps > 12 * text.length + 16) fail(`${work.steps} steps for ${text.length} characters`);
    for (const w of words) {
      if (!(w.start >= 0 && w.end <= text.length && w.start < w.end)) fail(`bad offsets ${w.start}-${w.end}`);
    }
    // The oracle only where Python's lower() is the identity and the text is short (the regex is quadratic).
    if (text.length <= 200 && text.toLowerCase() === text && !/[İΣK\u212a]/.test(text)) {
      const expected = referenceMatches(text).map(([s, e]) => text.slice(s, e));
      const got = words.map((w) => w.text);
      if (!isDeepStrictEqual(got, expected)) fail(`words ${show(got)} ≠ regex ${show(expected)}`);
    }
  },
  show,
};

// --------------------------------------------------------------------------------------------------------------
// Safetensors reader: valid files read back exactly; mutated ones give a result or a SafetensorsError.

const DTYPES = { F32: 4, F16: 2, BF16: 2, I8: 1, U8: 1, I32: 4, I64: 8 } as const;
type StInput = { bytes: Uint8Array; intact: boolean };

function buildSafetensors(r: Rng): Uint8Array {
  const n = r.int(4);
  const header: Record<string, unknown> = {};
  const parts: Uint8Array[] = [];
  let offset = 0;
  for (let k = 0; k < n; k++) {
    const dtype = r.pick(Object.keys(DTYPES)) as keyof typeof DTYPES;
    const shape = Array.from({ length: r.int(3) }, () => r.int(4));
    const count = shape.reduce((a, b) => a * b, 1);
    const data = new Uint8Array(count * DTYPES[dtype]);
    for (let i = 0; i < data.length; i++) data[i] = r.int(256);
    header[`t${k}`] = { dtype, shape, data_offsets: [offset, offset + data.length] };
    parts.push(data);
    offset += data.length;
  }
  if (r.chance(0.3)) header.__metadata__ = { format: "pt" };
  const json = new TextEncoder().encode(JSON.stringify(header));
  const out = new Uint8Array(8 + json.length + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  let at = 8 + json.length;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

const HEADER_EDITS: [RegExp, () => string][] = [
  [/\d+/, () => "-1"],
  [/\d+/, () => "1e300"],
  [/\d+/, () => "9007199254740993"],
  [/\d+/, () => "0.5"],
  [/"F32"|"F16"|"BF16"|"I8"|"U8"|"I32"|"I64"/, () => '"F64"'],
  [/"F32"|"F16"|"BF16"|"I8"|"U8"|"I32"|"I64"/, () => '"x"'],
  [/\[/, () => "[[[["],
  [/\]/, () => "]}"],
  [/"shape"/, () => '"shape":null,"x"'],
  [/"data_offsets"/, () => '"data_offsets":[0],"y"'],
  [/\{/, () => '{"__metadata__":{"a":1},'],
];

export const safetensorsTarget: FuzzTarget<StInput> = {
  name: "safetensors reader",
  generate(r) {
    const bytes = buildSafetensors(r);
    const how = r.int(6);
    if (how === 0) return { bytes, intact: true };
    if (how === 1) {
      for (let k = 0; k < 1 + r.int(4); k++) bytes[r.int(bytes.length)] = r.int(256);
      return { bytes, intact: false };
    }
    if (how === 2) return { bytes: bytes.subarray(0, r.int(bytes.length + 1)), intact: false };
    if (how === 3) {
      const v = new DataView(bytes.buffer);
      v.setUint32(r.int(2) * 4, r.pick([0, 1, 7, 0xffffffff, r.int(1 << 30)]), true);
      return { bytes, intact: false };
    }
    // Edit the header text and re-frame it.
    const len = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    let text = new TextDecoder().decode(bytes.subarray(8, 8 + len));
    const [re, by] = r.pick(HEADER_EDITS);
    const matches = [...text.matchAll(new RegExp(re.source, "g"))];
    if (matches.length > 0) {
      const m = r.pick(matches);
      text = text.slice(0, m.index) + by() + text.slice(m.index! + m[0].length);
    }
    // Deep nesting is costly to parse; a few inputs are enough to keep it covered.
    if (how === 5 && r.chance(0.05)) text = "[".repeat(r.int(20_000)) + text;
    const json = new TextEncoder().encode(text);
    const rest = bytes.subarray(8 + len);
    const out = new Uint8Array(8 + json.length + rest.length);
    new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
    out.set(json, 8);
    out.set(rest, 8 + json.length);
    return { bytes: out, intact: false };
  },
  check({ bytes, intact }) {
    let st;
    try {
      st = parseSafetensors(bytes, "fuzz.safetensors");
    } catch (e) {
      if (intact) fail(`an intact file was refused: ${(e as Error).message}`);
      throw e;
    }
    for (const name of st.names()) {
      const t = st.tensor(name);
      const count = t.shape.reduce((a, b) => a * b, 1);
      if (t.data.length !== count) fail(`${name}: ${t.data.length} values for shape [${t.shape}]`);
      if (t.dtype === "F32" || t.dtype === "F16" || t.dtype === "BF16") st.f32(name);
    }
  },
  show: (i) => `${i.bytes.length} bytes, header ${show(new TextDecoder().decode(i.bytes.subarray(8, Math.min(i.bytes.length, 300))))}`,
};

// --------------------------------------------------------------------------------------------------------------
// Schema normalizer: any value → a Schema or a SchemaError; a Schema normalizes to itself.

const SCHEMA_KEYS = [
  "entities", "structures", "relations", "classifications", "entity_threshold", "entity_dtype", "relation_threshold",
  "json_structures", "entity_descriptions", "json_descriptions", "labels", "multi_label", "multiLabel", "cls_threshold",
  "class_act", "prompt", "examples", "name", "fields", "dtype", "threshold", "description", "choices", "validators",
  "pattern", "mode", "exclude", "flags", "entityDescriptions", "labelDescriptions", "clsThreshold", "classAct", "promptOrder", "task", "x",
];
const SCHEMA_STRINGS = ["person", "org", "a", "", " ", "[E]", "[SEP_TEXT]", "str", "list", "full", "partial", "softmax", "auto", "name::str", "size::[S|M]::str::the size", "x::[a|]", "\u001b]0;t\u0007", "π", "[0-9]+", "(a", "i"];
const SCHEMA_NUMBERS = [0, 0.5, 1, 7, -1, NaN, Infinity, 1e308];

function schemaValue(r: Rng, depth: number): unknown {
  const k = r.int(depth >= 4 ? 3 : 6);
  if (k === 0) return r.pick(SCHEMA_STRINGS);
  if (k === 1) return r.pick(SCHEMA_NUMBERS);
  if (k === 2) return r.pick([true, false, null, undefined]);
  if (k === 3) return Array.from({ length: r.int(4) }, () => schemaValue(r, depth + 1));
  const o: Record<string, unknown> = {};
  for (let i = r.int(4); i > 0; i--) o[r.chance(0.8) ? r.pick(SCHEMA_KEYS) : r.pick(SCHEMA_STRINGS)] = schemaValue(r, depth + 1);
  return o;
}

export const schemaTarget: FuzzTarget<unknown> = {
  name: "schema normalizer",
  generate(r) {
    const top: Record<string, unknown> = {};
    for (let i = 1 + r.int(3); i > 0; i--) top[r.pick(SCHEMA_KEYS.slice(0, 10))] = schemaValue(r, 1);
    if (r.chance(0.2)) {
      // A normalized schema, possibly damaged: the form that used to skip validation.
      try {
        const s = structuredClone(normalizeSchema(top as never)) as unknown as Record<string, unknown>;
        if (r.chance(0.7)) {
          const key = r.pick(Object.keys(s));
          const list = s[key];
          if (Array.isArray(list) && list.length > 0 && r.chance(0.7)) {
            const item = list[r.int(list.length)];
            if (item !== null && typeof item === "object" && !Array.isArray(item)) {
              (item as Record<string, unknown>)[r.pick(Object.keys(item))] = schemaValue(r, 3);
            } else list[r.int(list.length)] = schemaValue(r, 3);
          } else s[key] = schemaValue(r, 2);
        }
        return s;
      } catch {
        return top;
      }
    }
    return top;
  },
  check(input) {
    const s = normalizeSchema(input as never);
    let again;
    try {
      again = normalizeSchema(s);
    } catch (e) {
      fail(`a normalized schema was refused on the second pass: ${(e as Error).message}`);
    }
    if (!isDeepStrictEqual(again, s)) fail("normalizing a normalized schema changed it");
    JSON.stringify(s);
  },
  show,
};

// --------------------------------------------------------------------------------------------------------------
// JSONL reader + streamer: one output line per non-blank input line, in order; errors as records.

const MAX_LINE = 200;
const JSONL_LINES = [
  () => JSON.stringify({ text: "Tim Cook leads Apple." }),
  () => JSON.stringify({ id: 1, text: "ok!" }), // "!" makes the fake engine fail
  () => JSON.stringify("a bare string"),
  () => '{"text": "unterminated',
  () => "[1,2]",
  () => "42",
  () => "",
  () => "   ",
  () => '{"txt": "typo"}',
  () => '{"text": null}',
  () => `{"text": "\u001b]0;x\u0007", "\u009b": 1}`,
  () => "x".repeat(MAX_LINE + 1),
  () => " ".repeat(MAX_LINE + 5),
  () => `{"text":"deep","f":${"[".repeat(1000)}${"]".repeat(1000)}}`,
  () => "\r",
  () => "\ufeff{}",
];
type JsonlInput = { chunks: string[]; batchSize: number };

export const jsonlTarget: FuzzTarget<JsonlInput> = {
  name: "JSONL reader",
  generate(r) {
    const lines = Array.from({ length: r.int(8) }, () => r.pick(JSONL_LINES)());
    let text = lines.join(r.chance(0.2) ? "\r\n" : "\n");
    if (r.chance(0.5)) text += "\n";
    const chunks: string[] = [];
    for (let i = 0; i < text.length; ) {
      const n = 1 + r.int(r.chance(0.5) ? 8 : 400);
      chunks.push(text.slice(i, i + n));
      i += n;
    }
    return { chunks, batchSize: 1 + r.int(4) };
  },
  async check({ chunks, batchSize }) {
    const text = chunks.join("");
    const pieces = text.split("\n");
    if (pieces[pieces.length - 1] === "") pieces.pop();
    const expected: number[] = [];
    pieces.forEach((p, i) => {
      if (p.length > MAX_LINE || p.trim() !== "") expected.push(i + 1);
    });
    const out: string[] = [];
    async function* source() {
      yield* chunks;
    }
    await streamJsonl({
      lines: readLines(source(), MAX_LINE),
      batchSize,
      textField: "text",
      resultField: "result",
      where: "fuzz",
      failFast: false,
      run: async (texts) => {
        const bad = texts.findIndex((t) => t.includes("!"));
        if (bad >= 0) throw new InputError(`texts[${bad}]`, "the fake engine refuses '!'");
        return texts.map((t) => t.length);
      },
      write: async (chunk) => void out.push(chunk),
    });
    const records = out.join("").split("\n");
    if (records.pop() !== "") fail("output does not end with a newline");
    if (records.length !== expected.length) fail(`${records.length} output lines for ${expected.length} records`);
    records.forEach((line, k) => {
      const o = JSON.parse(line);
      if ("error" in o && !("result" in o)) {
        if (o.line !== expected[k]) fail(`error record for line ${o.line}, expected line ${expected[k]}`);
        if (/[\u0000-\u001f\u007f-\u009f]/.test(o.error.message)) fail("raw control character in an error message");
        if (!o.error.message.startsWith(`fuzz line ${o.line}: `)) fail(`error message does not name its line: ${o.error.message}`);
      } else if (typeof o.result !== "number") fail(`bad result record ${line}`);
    });
  },
  show: (i) => show(i.chunks.join("")),
};

// --------------------------------------------------------------------------------------------------------------
// Validator translation: Python pattern → predicate or SchemaError; the budgeted matcher agrees with JS's
// RegExp (on patterns without back-references, where JS and Python capture rules differ).

const PATTERN_TOKENS = ["a", "b", "1", " ", "\\d", "\\w", "\\s", "\\W", ".", "[a-c]", "[^a]", "[\\d_]", "(", ")", "(?:", "|", "*", "+", "?", "*?", "{2}", "{1,3}", "{,2}", "^", "$", "\\b", "\\B", "\\A", "\\Z", "(?P<n>", "(?P=n)", "(?=", "(?!", "(?<=", "(?<!", "\\", "[", "]", "{", "}", "(?i)", "(?#c)", "\\1", "\\x41", "é", "ß", "(a|aa)+"];
type ValidatorInput = { pattern: string; flags: string; mode: "full" | "partial"; texts: string[] };

export const validatorTarget: FuzzTarget<ValidatorInput> = {
  name: "validator translation",
  generate(r) {
    return {
      pattern: stringFrom(r, PATTERN_TOKENS, 10),
      flags: r.pick(["", "i", "s", "x", "a", "m", "is", "L", "q"]),
      mode: r.pick(["full", "partial"] as const),
      texts: Array.from({ length: 2 }, () => stringFrom(r, ["a", "b", "A", "1", " ", "_", "\n", "é", "ß", "aa"], 14)),
    };
  },
  check({ pattern, flags, mode, texts }) {
    // A small budget: runaway patterns are common here and end at the budget either way.
    const test = compileValidator({ pattern, flags, mode, exclude: false }, "fuzz.validators[0]", 5_000);
    const native = /\\\d|\(\?P=/.test(pattern) ? null : compilePyRegex(pattern, flags, "fuzz", mode);
    for (const t of texts) {
      let got: boolean;
      try {
        got = test(t);
      } catch (e) {
        if (e instanceof Gliner2Error && /gave up after/.test(e.message)) continue; // the budget did its job
        throw e;
      }
      if (native !== null && got !== native.test(t)) fail(`matcher says ${got}, RegExp says ${!got} for ${show(t)}`);
    }
  },
  show,
};

export const TARGETS: readonly FuzzTarget<never>[] = [wordsTarget, safetensorsTarget, schemaTarget, jsonlTarget, validatorTarget] as never;

export { OverlongLine };

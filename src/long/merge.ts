/**
 * Merging the formatted results of one document's chunks into one result: the official rules
 * (`merge_chunk_results`, HEAD chunking.py; FIXTURES.md §8.1), re-implemented on plain JSON values.
 *
 * Chunk results come in with `includeConfidence` and `includeSpans` (every span value is
 * `{text, confidence, start, end}` with offsets into its chunk). Then:
 * 1. offsets move to the document (`+ chunk.startChar`) and each span's text is re-sliced from the document;
 * 2. result keys keep their first-appearance order;
 * 3. `entities`: per type, every chunk's spans; duplicates (same lower-cased text and place) and spans overlapping a
 *    more confident one are dropped; the rest is ordered by position. A `str` type keeps one span (see below);
 * 4. `relation_extraction`: per relation, every chunk's instances, duplicates (equal up to confidences) removed,
 *    first position kept with the more confident copy;
 * 5. anything else: empty values (null, {}, []) dropped; single-label classifications → the most confident chunk;
 *    strings → the most frequent; lists (structure instances, multi-label labels) → concatenated and de-duplicated
 *    as in 4; objects → merged key by key;
 * 6. the shape the caller asked for: confidences and offsets stripped unless requested.
 *
 * Decision (official quirk, FIXTURES.md §8.3 #3): a `str` entity type is the MOST CONFIDENT surviving span (the
 * earliest on ties), as a `str` entity is in one text; the official takes the first by position.
 * `scalarPick: "position"` reproduces the official choice (used by the tests that check the merge rules).
 */
import { pyLower } from "../text/words.js";
import type { TextChunk } from "./chunks.js";

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type JsonObject = { [key: string]: Json };

export interface MergeOptions {
  readonly includeConfidence: boolean;
  readonly includeSpans: boolean;
  /** Entity types declared with dtype `str`: merged to one value (or null). */
  readonly scalarEntityLabels: ReadonlySet<string>;
  /** How a `str` entity type picks its one span: "confidence" (default, decided) or "position" (official). */
  readonly scalarPick?: "confidence" | "position";
}

const isObject = (v: unknown): v is JsonObject => v !== null && typeof v === "object" && !Array.isArray(v);

/** A span value: `text`, and integer `start`/`end` (the official `_is_span_dict`). */
function isSpan(v: unknown): boolean {
  return isObject(v) && "text" in v && Number.isInteger(v.start) && Number.isInteger(v.end);
}

/** A classification value `{label, confidence}`. */
const isLabel = (v: unknown): boolean => isObject(v) && "label" in v && "confidence" in v;

const confidenceOf = (v: JsonObject): number => (typeof v.confidence === "number" ? v.confidence : 0);

/** Step 1: chunk offsets → document offsets, span text re-sliced from the document. */
function remap(value: Json, document: string, offset: number): Json {
  if (Array.isArray(value)) return value.map((v) => remap(v, document, offset));
  if (!isObject(value)) return value;
  const out: JsonObject = {};
  for (const [k, v] of Object.entries(value)) out[k] = remap(v, document, offset);
  if (isSpan(out)) {
    const start = (out.start as number) + offset;
    const end = (out.end as number) + offset;
    out.start = start;
    out.end = end;
    if (start >= 0 && start <= end && end <= document.length) out.text = document.slice(start, end);
  }
  return out;
}

const asList = (v: Json | undefined): Json[] => (v === null || v === undefined ? [] : Array.isArray(v) ? v : [v]);

/** Confidence-insensitive identity of a value (the official `_canonical_key`). */
function canonicalKey(value: Json): string {
  if (Array.isArray(value)) return `[${value.map(canonicalKey).join(",")}]`;
  if (isObject(value)) {
    const parts = Object.keys(value)
      .filter((k) => k !== "confidence")
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonicalKey(value[k])}`);
    return `{${parts.join(",")}}`;
  }
  return JSON.stringify(value);
}

/** The confidence that decides between duplicates: the value's own, else the best inside it. */
function representativeConfidence(value: Json): number {
  if (isObject(value)) {
    if (typeof value.confidence === "number") return value.confidence;
    const nested = Object.values(value).map(representativeConfidence);
    return nested.length > 0 ? Math.max(...nested) : 0;
  }
  if (Array.isArray(value)) return value.length > 0 ? Math.max(...value.map(representativeConfidence)) : 0;
  return 0;
}

const overlaps = (a: JsonObject, b: JsonObject) => !((a.end as number) <= (b.start as number) || (a.start as number) >= (b.end as number));

/** Python's default ordering of strings (by code point), for the (start, end, text) sort. */
function comparePy(a: string, b: string): number {
  const x = Array.from(a, (c) => c.codePointAt(0)!);
  const y = Array.from(b, (c) => c.codePointAt(0)!);
  for (let i = 0; i < Math.min(x.length, y.length); i++) if (x[i] !== y[i]) return x[i] - y[i];
  return x.length - y.length;
}

/**
 * De-duplicate merged items (the official `_dedupe_items`): spans by (lower-cased text, start, end), most
 * confident first, optionally dropping spans that overlap a kept one, then ordered by position; other values by
 * `canonicalKey`, first position kept with the most confident copy.
 */
function dedupe(items: readonly Json[], removeOverlaps: boolean): Json[] {
  const spans = items.filter(isSpan) as JsonObject[];
  const others = items.filter((v) => !isSpan(v));
  // Stable sort, descending confidence (Python's sorted(reverse=True) keeps ties in input order).
  const byConfidence = spans.map((s, i) => ({ s, i })).sort((a, b) => confidenceOf(b.s) - confidenceOf(a.s) || a.i - b.i);
  const kept: JsonObject[] = [];
  const seen = new Set<string>();
  for (const { s } of byConfidence) {
    const key = `${pyLower(String(s.text ?? ""))}\u0000${s.start}\u0000${s.end}`;
    if (seen.has(key)) continue;
    if (removeOverlaps && kept.some((k) => overlaps(s, k))) continue;
    seen.add(key);
    kept.push(s);
  }
  kept.sort((a, b) => (a.start as number) - (b.start as number) || (a.end as number) - (b.end as number) || comparePy(String(a.text ?? ""), String(b.text ?? "")));

  const out: Json[] = [];
  const position = new Map<string, number>();
  for (const item of others) {
    const key = canonicalKey(item);
    const at = position.get(key);
    if (at === undefined) {
      position.set(key, out.length);
      out.push(item);
    } else if (representativeConfidence(item) > representativeConfidence(out[at])) {
      out[at] = item;
    }
  }
  return [...kept, ...out];
}

/** Labels of several `{label: value}` maps in first-appearance order, each with all chunks' items. */
function perLabel(values: readonly Json[]): Map<string, Json[]> {
  const labels = new Map<string, Json[]>();
  for (const v of values) {
    if (!isObject(v)) continue;
    for (const [label, items] of Object.entries(v)) {
      let list = labels.get(label);
      if (list === undefined) labels.set(label, (list = []));
      list.push(...asList(items));
    }
  }
  return labels;
}

function mergeEntities(values: readonly Json[], opts: MergeOptions): JsonObject {
  const out: JsonObject = {};
  for (const [label, items] of perLabel(values)) {
    const kept = dedupe(items, true);
    if (!opts.scalarEntityLabels.has(label)) {
      out[label] = kept;
      continue;
    }
    if (kept.length === 0) {
      out[label] = null;
    } else if (opts.scalarPick === "position") {
      out[label] = kept[0];
    } else {
      let best = kept[0];
      for (const k of kept) if (isObject(k) && isObject(best) && confidenceOf(k) > confidenceOf(best)) best = k;
      out[label] = best;
    }
  }
  return out;
}

function mergeRelations(values: readonly Json[]): JsonObject {
  const out: JsonObject = {};
  for (const [label, items] of perLabel(values)) out[label] = dedupe(items, false);
  return out;
}

const isEmptyValue = (v: Json | undefined) => v === null || v === undefined || (Array.isArray(v) && v.length === 0) || (isObject(v) && Object.keys(v).length === 0);

/** Step 5: any other key. */
function mergeValues(values: readonly Json[]): Json {
  const present = values.filter((v) => !isEmptyValue(v));
  if (present.length === 0) return values.length > 0 ? values[0] : null;
  if (present.every(isLabel)) {
    let best = present[0] as JsonObject;
    for (const v of present as JsonObject[]) if (confidenceOf(v) > confidenceOf(best)) best = v;
    return best;
  }
  if (present.every((v) => typeof v === "string")) {
    const counts = new Map<string, number>();
    for (const v of present as string[]) counts.set(v, (counts.get(v) ?? 0) + 1);
    let best = present[0] as string;
    for (const v of present as string[]) if (counts.get(v)! > counts.get(best)!) best = v;
    return best;
  }
  if (present.every(Array.isArray)) return dedupe((present as Json[][]).flat(), false);
  if (present.every(isObject)) {
    const keys = new Map<string, Json[]>();
    for (const v of present as JsonObject[]) {
      for (const [k, x] of Object.entries(v)) {
        let list = keys.get(k);
        if (list === undefined) keys.set(k, (list = []));
        list.push(x);
      }
    }
    const out: JsonObject = {};
    for (const [k, list] of keys) out[k] = mergeValues(list);
    return out;
  }
  return present[0];
}

const RESERVED = new Set(["text", "confidence", "start", "end"]);

/** Step 6: keep only what the caller asked for. */
function strip(value: Json, conf: boolean, spans: boolean): Json {
  if (Array.isArray(value)) return value.map((v) => strip(v, conf, spans));
  if (!isObject(value)) return value;
  if (isSpan(value)) {
    const extras = Object.entries(value).filter(([k]) => !RESERVED.has(k));
    if (!conf && !spans && extras.length === 0) return value.text ?? "";
    const out: JsonObject = { text: value.text ?? "" };
    if (conf && "confidence" in value) out.confidence = value.confidence;
    if (spans) {
      out.start = value.start;
      out.end = value.end;
    }
    for (const [k, v] of extras) out[k] = v;
    return out;
  }
  if (isLabel(value)) return conf ? { label: value.label, confidence: value.confidence } : value.label;
  if ("text" in value && "confidence" in value && !("start" in value) && !("end" in value)) {
    // a choice value
    return conf ? { text: value.text, confidence: value.confidence } : value.text;
  }
  const out: JsonObject = {};
  for (const [k, v] of Object.entries(value)) out[k] = strip(v, conf, spans);
  return out;
}

/** One document's merged result from its chunks' results (same order as `chunks`). */
export function mergeChunkResults(document: string, chunks: readonly Pick<TextChunk, "startChar">[], results: readonly unknown[], opts: MergeOptions): Record<string, unknown> {
  if (chunks.length !== results.length) throw new Error(`mergeChunkResults: ${chunks.length} chunks but ${results.length} results`);
  const remapped = results.map((r, i) => remap(r as Json, document, chunks[i].startChar) as JsonObject);
  const keys = new Map<string, Json[]>();
  for (const r of remapped) {
    for (const [k, v] of Object.entries(r)) {
      let list = keys.get(k);
      if (list === undefined) keys.set(k, (list = []));
      list.push(v);
    }
  }
  const merged: JsonObject = {};
  for (const [key, values] of keys) {
    merged[key] = key === "entities" ? mergeEntities(values, opts) : key === "relation_extraction" ? mergeRelations(values) : mergeValues(values);
  }
  return strip(merged, opts.includeConfidence, opts.includeSpans) as Record<string, unknown>;
}

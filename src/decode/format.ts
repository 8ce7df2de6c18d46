/**
 * Result shaping: one `DecodedText` → the output users get. Formatted mode follows the official output shapes
 * (`{entities: {type: [...]}}`, structure name → instances, `relation_extraction: {name: pairs}`, task → label)
 * with the deliberate changes listed below; raw mode (`formatResults: false`) gives the official raw-results
 * shape. Each decision on a FIXTURES.md §5 finding is commented where it is implemented:
 *
 * - finding 1: multi-label classification → `{task: [labels]}` (`[{label, confidence}]` with confidences), the
 *   documented shape, never `relation_extraction`.
 * - finding 3: the classification key is the task name (decode.ts keeps `plan.name`).
 * - finding 5: empty results keep their type's shape: entities with count 0 → every requested type present
 *   (`[]`, or `null` for str types); a structure with count 0 → `[]`; every requested relation → `[]`.
 * - finding 6: `spanSelection` (decode option) — "official" (HEAD: str entities most confident, str fields and
 *   relations first in text order), "first", "best".
 * - finding 7 (as official HEAD): `includeConfidence` adds only `confidence`; `start`/`end` appear only with
 *   `includeSpans` and are UTF-16 character offsets into the text (`text.slice(start, end) === text`).
 * - list values: de-duplicated by lower-cased text, or with `includeSpans` by (lower-cased text, start, end), as
 *   official HEAD (two mentions at different places are two values once positions are reported).
 * - relations with `includeConfidence` or `includeSpans` → `{head: {...}, tail: {...}}` objects (official ≥ 1.2;
 *   v1.1.2 silently dropped the confidences).
 * - choice values carry `{text, confidence}` when confidences are asked for (official ≥ 1.2), never positions:
 *   they are not found in the text.
 */
import { SchemaError } from "../errors.js";
import type { DecodedText, ExtractedValue, SchemaResult, SpanValue, TargetValues } from "./decode.js";

export interface FormatOptions {
  /** false → the official raw-results shape (see `rawResults`). Default true. */
  readonly formatResults?: boolean;
  /** Add `confidence` to every value. */
  readonly includeConfidence?: boolean;
  /** Add UTF-16 character offsets `start`/`end` into the text to every span value. */
  readonly includeSpans?: boolean;
}

/** A span with the details the options ask for. */
export interface SpanOutput {
  readonly text: string;
  readonly confidence?: number;
  readonly start?: number;
  readonly end?: number;
}

export interface LabelOutput {
  readonly label: string;
  readonly confidence: number;
}

export type ValueOutput = string | SpanOutput;
export type FieldOutput = ValueOutput | null | ValueOutput[];
export type InstanceOutput = Record<string, FieldOutput>;
export type RelationOutput = [string, string] | { readonly head: SpanOutput; readonly tail: SpanOutput };
export type ClassificationOutput = string | LabelOutput | string[] | LabelOutput[];

/** Formatted output of one text: result keys in schema order, then `relation_extraction`. */
export type ExtractionOutput = Record<
  string,
  Record<string, FieldOutput> | InstanceOutput[] | ClassificationOutput | Record<string, RelationOutput[]>
>;

/** Official raw results of one text (tuples as arrays); see `rawResults`. */
export type RawOutput = Record<string, unknown>;

/** What `extractEntities` returns: `r.entities.person` is that type's values. */
export interface EntitiesOutput {
  readonly entities: Record<string, FieldOutput>;
}
/** What `classifyText` returns: one entry per task. */
export type ClassificationsOutput = Record<string, ClassificationOutput>;
/** What `extractJson` returns: instances per structure. */
export type StructuresOutput = Record<string, InstanceOutput[]>;
/** What `extractRelations` returns: (head, tail) pairs per relation type. */
export interface RelationsOutput {
  readonly relation_extraction: Record<string, RelationOutput[]>;
}
/** The formatted shape `F`, or the raw shape when the call's options say `formatResults: false`. */
export type OutputFor<O, F> = O extends { readonly formatResults: false } ? RawOutput : F;

interface Flags {
  readonly confidence: boolean;
  readonly spans: boolean;
}

function flagsOf(options: FormatOptions): Flags {
  return { confidence: options.includeConfidence === true, spans: options.includeSpans === true };
}

function spanOutput(v: SpanValue, f: Flags): ValueOutput {
  if (f.spans) return f.confidence ? { text: v.text, confidence: v.confidence, start: v.charStart, end: v.charEnd } : { text: v.text, start: v.charStart, end: v.charEnd };
  if (f.confidence) return { text: v.text, confidence: v.confidence };
  return v.text;
}

function valueOutput(v: ExtractedValue, f: Flags): ValueOutput {
  if (v.kind === "choice") return f.confidence ? { text: v.text, confidence: v.confidence } : v.text;
  return spanOutput(v, f);
}

/**
 * A list target: values deduplicated by lower-cased text (with `includeSpans`: by text and position), first
 * (most confident) occurrence kept (official HEAD).
 */
function listOutput(values: readonly ExtractedValue[], f: Flags): ValueOutput[] {
  const seen = new Set<string>();
  const out: ValueOutput[] = [];
  for (const v of values) {
    const key = f.spans && v.kind === "span" ? `${v.text.toLowerCase()}\u0000${v.charStart}\u0000${v.charEnd}` : v.text.toLowerCase();
    if (v.text === "" || seen.has(key)) continue;
    seen.add(key);
    out.push(valueOutput(v, f));
  }
  return out;
}

function targetOutput(t: TargetValues, f: Flags): FieldOutput {
  if (t.dtype === "list") return listOutput(t.values, f);
  return t.values.length > 0 ? valueOutput(t.values[0], f) : null;
}

function targetsObject(targets: readonly TargetValues[], f: Flags): Record<string, FieldOutput> {
  const out: Record<string, FieldOutput> = {};
  for (const t of targets) out[t.name] = targetOutput(t, f);
  return out;
}

function relationOutput(head: SpanValue, tail: SpanValue, f: Flags): RelationOutput {
  if (!f.confidence && !f.spans) return [head.text, tail.text];
  return { head: spanOutput(head, f) as SpanOutput, tail: spanOutput(tail, f) as SpanOutput };
}

function classificationOutput(r: Extract<SchemaResult, { kind: "classification" }>, f: Flags): ClassificationOutput {
  if (r.multiLabel) return f.confidence ? r.chosen.map((s) => ({ label: s.label, confidence: s.confidence })) : r.chosen.map((s) => s.label);
  const top = r.chosen[0];
  return f.confidence ? { label: top.label, confidence: top.confidence } : top.label;
}

function setOnce<T>(out: Record<string, T>, key: string, value: NoInfer<T>): void {
  if (Object.prototype.hasOwnProperty.call(out, key)) {
    throw new SchemaError(key, `two results of one schema share the output key "${key}"; rename one of them`);
  }
  out[key] = value;
}

/** Shape one decoded text. `formatResults: false` returns `rawResults(decoded, options)`. */
export function formatResults(decoded: DecodedText, options: FormatOptions & { readonly formatResults: false }): RawOutput;
export function formatResults(decoded: DecodedText, options?: FormatOptions & { readonly formatResults?: true }): ExtractionOutput;
export function formatResults(decoded: DecodedText, options?: FormatOptions): ExtractionOutput | RawOutput;
export function formatResults(decoded: DecodedText, options: FormatOptions = {}): ExtractionOutput | RawOutput {
  if (options.formatResults === false) return rawResults(decoded, options);
  const f = flagsOf(options);
  const out: ExtractionOutput = {};
  const relations: Record<string, RelationOutput[]> = {};
  let anyRelation = false;
  for (const r of decoded.results) {
    switch (r.kind) {
      case "entities":
        // Finding 5: count 0 still lists every requested type (targets are empty then).
        setOnce(out, r.name, targetsObject(r.targets, f));
        break;
      case "structure":
        // Finding 5: a structure is always a list of instances, `[]` when nothing (or count 0) was found.
        setOnce(out, r.name, r.instances.map((inst) => targetsObject(inst, f)));
        break;
      case "relation":
        // Every requested relation appears, `[]` when none was found (official).
        anyRelation = true;
        setOnce(relations, r.name, r.instances.map((i) => relationOutput(i.head, i.tail, f)));
        break;
      case "classification":
        // Findings 1 and 3: under the task name, multi-label as a list of labels.
        setOnce(out, r.name, classificationOutput(r, f));
        break;
    }
  }
  if (anyRelation) setOnce(out, "relation_extraction", relations);
  return out;
}

// ---------------------------------------------------------------------------------------------------------------
// Raw mode

/** A span as the official raw tuple `(text, confidence, start, end)`; start/end are char offsets with includeSpans. */
function rawSpan(v: ExtractedValue, f: Flags): unknown {
  if (v.kind === "choice") return v.text; // the official keeps choices as bare strings in raw results
  if (!f.confidence && !f.spans) return v.text;
  return f.spans ? [v.text, v.confidence, v.charStart, v.charEnd] : [v.text, v.confidence, v.start, v.end];
}

/**
 * Raw results in the official v1.1.2 `format_results=False` shape (tuples become arrays), so code written
 * against the official raw output keeps working: entities → `[{type: values}]` (`[]` when count ≤ 0), str
 * entity types with nothing → `""`; structure → instances (`{}` when count ≤ 0), str fields with nothing →
 * null; relation → `[[head, tail], ...]`; single-label → `[label, confidence]`; multi-label →
 * `[[label, confidence], ...]`. Span values are plain text, or `[text, confidence, start, end]` when
 * `includeConfidence` or `includeSpans` is set (word indices, or character offsets with `includeSpans`).
 * Lists are neither deduplicated nor otherwise cleaned. Keys are schema names / task names (finding 3).
 */
export function rawResults(decoded: DecodedText, options: FormatOptions = {}): RawOutput {
  const f = flagsOf(options);
  const out: RawOutput = {};
  for (const r of decoded.results) {
    switch (r.kind) {
      case "entities": {
        if (r.count <= 0 || r.targets.length === 0) {
          setOnce(out, r.name, []);
          break;
        }
        const types: Record<string, unknown> = {};
        for (const t of r.targets) {
          types[t.name] = t.dtype === "list" ? t.values.map((v) => rawSpan(v, f)) : t.values.length > 0 ? rawSpan(t.values[0], f) : "";
        }
        setOnce(out, r.name, [types]);
        break;
      }
      case "structure": {
        if (r.count <= 0) {
          setOnce(out, r.name, {});
          break;
        }
        setOnce(
          out,
          r.name,
          r.instances.map((inst) => {
            const o: Record<string, unknown> = {};
            for (const t of inst) o[t.name] = t.dtype === "list" ? t.values.map((v) => rawSpan(v, f)) : t.values.length > 0 ? rawSpan(t.values[0], f) : null;
            return o;
          }),
        );
        break;
      }
      case "relation":
        setOnce(out, r.name, r.instances.map((i) => [i.head.text, i.tail.text]));
        break;
      case "classification":
        setOnce(
          out,
          r.name,
          r.multiLabel ? r.chosen.map((s) => [s.label, s.confidence]) : [r.chosen[0].label, r.chosen[0].confidence],
        );
        break;
    }
  }
  return out;
}

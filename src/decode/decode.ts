/**
 * Decoding: span scores and class probabilities of one text → extracted values, by the rules of the official
 * engine (fastino-ai/GLiNER2 v1.1.2 `inference/engine.py`, FIXTURES.md §4 "Decoding", with HEAD v1.3.3's choice
 * of the most confident span for `str` entity types, §7). The result keeps, for
 * every value, its text, confidence, word span and character span, so that `format.ts` can produce any output
 * shape (official formatted, with confidences, with character offsets, or raw) from one decoding.
 */
import { InputError } from "../errors.js";
import type { ClassificationPlan, SpanSchemaPlan, SpanTarget } from "../schema/plan.js";
import { compileValidator } from "../schema/pyregex.js";

/**
 * How a `str` field, a `str` entity type or a relation head/tail picks its one span among those above threshold:
 * "official" (default, official HEAD v1.3.3): a `str` entity type takes the most confident span, `str` structure
 * fields and relation heads/tails the first in text order; "first" / "best": every one of them the first in text
 * order (v1.1.2) / the most confident.
 */
export type SpanSelection = "official" | "first" | "best";

/** A text word as UTF-16 offsets into the cleaned text, end exclusive. */
export interface WordOffsets {
  readonly start: number;
  readonly end: number;
}

/** Scores of one span schema (entities, a structure, a relation type). */
export interface SpanSchemaInput {
  readonly plan: SpanSchemaPlan;
  /** Predicted instance count (argmax of the count head); ≤ 0 means nothing is extracted. */
  readonly count: number;
  /** Sigmoid scores `[count, F, W, K]`, F = plan.fieldNames, W = prefix tokens + words; null when count ≤ 0. */
  readonly spanScores: Float32Array | null;
}

/** Probabilities of one classification task, already activated (see `classProbs`). */
export interface ClassificationInput {
  readonly plan: ClassificationPlan;
  /** One probability per label, in `plan.labels` order. */
  readonly probs: Float32Array | readonly number[];
}

export type SchemaInput = SpanSchemaInput | ClassificationInput;

export interface DecodeInput {
  /** The cleaned text (original case) the words index into. */
  readonly text: string;
  /**
   * Length of the user's text before the clean-up appended its `"."` (default `text.length`). Spans are clipped
   * to it, so every offset slices the user's own string; a span only on the appended `"."` is dropped.
   */
  readonly sourceLength?: number;
  /** Text words (prefix excluded), in order. */
  readonly words: readonly WordOffsets[];
  /** Choice-prefix words: the first `prefixTokens.length` positions of every score tensor's word axis. */
  readonly prefixTokens: readonly string[];
  /** K: the widest span scored, in words. */
  readonly maxWidth: number;
  /** The call's threshold, used by targets without their own. */
  readonly threshold: number;
  /** One entry per schema, in plan order. */
  readonly schemas: readonly SchemaInput[];
  /** See `SpanSelection`; default "official". */
  readonly spanSelection?: SpanSelection;
}

/** A value found in the text. */
export interface SpanValue {
  readonly kind: "span";
  /** The span's text: `text.slice(charStart, charEnd)`, i.e. the words' extent with outer whitespace stripped. */
  readonly text: string;
  /** Its sigmoid score (float32 value). */
  readonly confidence: number;
  /** Word indices into `words` (prefix excluded), end exclusive. */
  readonly start: number;
  readonly end: number;
  /** UTF-16 offsets into the cleaned text, end exclusive. */
  readonly charStart: number;
  readonly charEnd: number;
}

/** A value chosen among a field's choices (scored on the choice-prefix words, not found in the text). */
export interface ChoiceValue {
  readonly kind: "choice";
  readonly text: string;
  readonly confidence: number;
  /** Index into `prefixTokens` of the word whose score decided it. */
  readonly prefixIndex: number;
}

export type ExtractedValue = SpanValue | ChoiceValue;

/** The value(s) of one target. `str` targets hold at most one value; `list` targets any number, greedy order. */
export interface TargetValues {
  readonly name: string;
  readonly dtype: "str" | "list";
  readonly isChoice: boolean;
  readonly values: readonly ExtractedValue[];
}

export interface EntitiesResult {
  readonly kind: "entities";
  readonly name: string;
  /** Predicted count; when ≤ 0 every target is empty. */
  readonly count: number;
  /** One entry per entity type, in declared order. */
  readonly targets: readonly TargetValues[];
}

export interface StructureResult {
  readonly kind: "structure";
  readonly name: string;
  readonly count: number;
  /** Instances that have at least one value; fields in declared order. */
  readonly instances: readonly (readonly TargetValues[])[];
}

export interface RelationInstance {
  readonly head: SpanValue;
  readonly tail: SpanValue;
}

export interface RelationResult {
  readonly kind: "relation";
  readonly name: string;
  readonly count: number;
  /** Instances where both head and tail were found. */
  readonly instances: readonly RelationInstance[];
}

export interface LabelScore {
  readonly label: string;
  readonly confidence: number;
}

export interface ClassificationResult {
  readonly kind: "classification";
  /** The task name (decision on finding 3: never the prompt/examples-decorated prompt text). */
  readonly name: string;
  readonly multiLabel: boolean;
  /** Single-label: exactly the argmax. Multi-label: every label ≥ cls_threshold, in label order, else the argmax. */
  readonly chosen: readonly LabelScore[];
  /** Every label's probability, label order. */
  readonly scores: readonly LabelScore[];
}

export type SchemaResult = EntitiesResult | StructureResult | RelationResult | ClassificationResult;

/** Everything decoded from one text. */
export interface DecodedText {
  /** The cleaned text every `charStart`/`charEnd` indexes. */
  readonly text: string;
  /** One result per schema, plan order. */
  readonly results: readonly SchemaResult[];
}

// ---------------------------------------------------------------------------------------------------------------
// Activations

/**
 * The probabilities the official engine decides on: class_act "sigmoid"/"softmax" as given, "auto" → sigmoid
 * for multi-label tasks, softmax otherwise. Computed in double precision, rounded to float32 like the tensors.
 */
export function classProbs(logits: Float32Array | readonly number[], plan: ClassificationPlan): Float32Array {
  if (logits.length !== plan.labels.length) {
    throw new InputError("logits", `classification "${plan.name}" has ${plan.labels.length} labels but ${logits.length} logits`);
  }
  const act = plan.classAct === "auto" ? (plan.multiLabel ? "sigmoid" : "softmax") : plan.classAct;
  const out = new Float32Array(logits.length);
  if (act === "sigmoid") {
    for (let i = 0; i < logits.length; i++) out[i] = 1 / (1 + Math.exp(-logits[i]));
    return out;
  }
  let max = -Infinity;
  for (let i = 0; i < logits.length; i++) max = Math.max(max, logits[i]);
  let sum = 0;
  const e = Array.from(logits, (v) => Math.exp(v - max));
  for (let i = 0; i < e.length; i++) sum += e[i];
  for (let i = 0; i < e.length; i++) out[i] = e[i] / sum;
  return out;
}

// ---------------------------------------------------------------------------------------------------------------
// Text helpers

/** str.isspace() code units (what Python's `str.strip()` removes; JS `trim` differs on \x1c–\x1f, \x85, \ufeff). */
function isPySpace(c: number): boolean {
  return (
    (c >= 0x09 && c <= 0x0d) || (c >= 0x1c && c <= 0x20) || c === 0x85 || c === 0xa0 || c === 0x1680 ||
    (c >= 0x2000 && c <= 0x200a) || c === 0x2028 || c === 0x2029 || c === 0x202f || c === 0x205f || c === 0x3000
  );
}

/** Python's `str.lower()` for matching (JS's full Unicode lower-casing agrees on everything that matters here). */
function pyLower(s: string): string {
  return s.toLowerCase();
}

/** Word indices whose prefix word equals the choice (case-insensitive), else those containing it (official rule). */
function choicePositions(choice: string, prefix: readonly string[]): number[] {
  const want = pyLower(choice);
  const lowered = prefix.map(pyLower);
  const exact: number[] = [];
  lowered.forEach((w, i) => {
    if (w === want) exact.push(i);
  });
  if (exact.length > 0) return exact;
  const partial: number[] = [];
  lowered.forEach((w, i) => {
    if (w.includes(want)) partial.push(i);
  });
  return partial;
}

// ---------------------------------------------------------------------------------------------------------------
// Decoding

/** Shared per-text state: the geometry of the score tensors and the text. */
interface TextContext {
  readonly text: string;
  /** Spans end at most here (the user's text, without the appended "."). */
  readonly limit: number;
  readonly words: readonly WordOffsets[];
  readonly prefix: readonly string[];
  /** W: prefix + words. */
  readonly positions: number;
  readonly K: number;
  readonly threshold: number;
  readonly selection: SpanSelection;
}

/** Target threshold, else the call's. */
function thresholdOf(target: SpanTarget, ctx: TextContext): number {
  return target.threshold ?? ctx.threshold;
}

/**
 * Every valid span of one (instance, field) score plane with score ≥ threshold, in (start, width) order.
 * `base` is the offset of `[instance, field, 0, 0]`. The official compares the float32 tensor with the threshold
 * in float32 (torch casts the Python scalar to the tensor's dtype), hence `Math.fround`.
 */
function findSpans(ctx: TextContext, scores: Float32Array, base: number, threshold: number): SpanValue[] {
  const n = ctx.words.length;
  const P = ctx.prefix.length;
  const K = ctx.K;
  const t32 = Math.fround(threshold);
  const spans: SpanValue[] = [];
  for (let s = 0; s < n; s++) {
    for (let k = 0; k < K && s + k < n; k++) {
      const confidence = scores[base + (P + s) * K + k];
      if (!(confidence >= t32)) continue;
      let a = ctx.words[s].start;
      let b = ctx.words[s + k].end;
      while (a < b && isPySpace(ctx.text.charCodeAt(a))) a++;
      while (b > a && isPySpace(ctx.text.charCodeAt(b - 1))) b--;
      if (a === b) continue; // the official drops spans whose stripped text is empty
      spans.push({ kind: "span", text: ctx.text.slice(a, b), confidence, start: s, end: s + k + 1, charStart: a, charEnd: b });
    }
  }
  return spans;
}

/** Greedy non-overlapping selection by confidence (stable sort, so ties keep position order), as the official. */
export function selectNonOverlapping<T extends { readonly confidence: number; readonly start: number; readonly end: number }>(
  spans: readonly T[],
): T[] {
  const sorted = [...spans].sort((x, y) => y.confidence - x.confidence);
  const kept: T[] = [];
  for (const s of sorted) {
    if (kept.every((k) => s.end <= k.start || s.start >= k.end)) kept.push(s);
  }
  return kept;
}

/**
 * Decision: the "." the clean-up appended is not the user's text. Selection happens as the official does (so
 * decisions are the official ones); then a chosen span reaching onto that "." is cut back to the user's text, and
 * one that was only that "." is removed (null). The official reports such spans one past the text, so their
 * offsets slice the user's string to something else than the span ("" for the lone ".").
 */
function clipToSource(ctx: TextContext, v: SpanValue): SpanValue | null {
  if (v.charEnd <= ctx.limit) return v;
  let b = ctx.limit;
  while (b > v.charStart && isPySpace(ctx.text.charCodeAt(b - 1))) b--;
  if (b <= v.charStart) return null;
  return { ...v, text: ctx.text.slice(v.charStart, b), charEnd: b };
}

function clipAll(ctx: TextContext, values: readonly SpanValue[]): SpanValue[] {
  return values.map((v) => clipToSource(ctx, v)).filter((v): v is SpanValue => v !== null);
}

/** The one span of a `str` target / relation side: first in position order, or the most confident. */
function pickOne(spans: readonly SpanValue[], selection: SpanSelection, isEntity: boolean): SpanValue | null {
  if (spans.length === 0) return null;
  if (selection === "first" || (selection === "official" && !isEntity)) return spans[0];
  let best = spans[0];
  for (const s of spans) if (s.confidence > best.confidence) best = s;
  return best;
}

/** Compiled validators per target (plans are immutable, so compile once per plan object). */
const validatorCache = new WeakMap<SpanTarget, readonly ((text: string) => boolean)[]>();

function validatorsOf(target: SpanTarget, schemaName: string): readonly ((text: string) => boolean)[] {
  let v = validatorCache.get(target);
  if (v === undefined) {
    v = target.validators.map((val, i) => compileValidator(val, `${schemaName}.${target.name}.validators[${i}]`));
    validatorCache.set(target, v);
  }
  return v;
}

/** Spans of a target on one instance, after its validators (every validator must accept the text). */
function targetSpans(ctx: TextContext, plan: SpanSchemaPlan, target: SpanTarget, scores: Float32Array, instance: number): SpanValue[] {
  const f = plan.fieldNames.indexOf(target.name);
  const base = (instance * plan.fieldNames.length + f) * ctx.positions * ctx.K;
  const spans = findSpans(ctx, scores, base, thresholdOf(target, ctx));
  const validators = validatorsOf(target, plan.name);
  return validators.length === 0 ? spans : spans.filter((s) => validators.every((ok) => ok(s.text)));
}

/** A span target's value(s): list → greedy non-overlapping; str → one span. */
function spanTargetValues(ctx: TextContext, plan: SpanSchemaPlan, target: SpanTarget, scores: Float32Array, instance: number): TargetValues {
  const spans = targetSpans(ctx, plan, target, scores, instance);
  const values = clipAll(ctx, target.dtype === "list" ? selectNonOverlapping(spans) : [pickOne(spans, ctx.selection, plan.taskType === "entities")].filter((v) => v !== null));
  return { name: target.name, dtype: target.dtype, isChoice: false, values };
}

/**
 * A choice field, scored at width 0 on the choice-prefix words (official rule): str → the choice whose best
 * position scores strictly highest (first on ties), kept if ≥ threshold; list → every choice with a position
 * ≥ threshold (the first such position), in choice order. These comparisons are on Python floats (`.item()`),
 * so in double precision. Empty choice strings are never selected (the official formatter drops them anyway).
 */
function choiceTargetValues(ctx: TextContext, plan: SpanSchemaPlan, target: SpanTarget, scores: Float32Array, instance: number): TargetValues {
  const f = plan.fieldNames.indexOf(target.name);
  const base = (instance * plan.fieldNames.length + f) * ctx.positions * ctx.K;
  const threshold = thresholdOf(target, ctx);
  const scoreAt = (p: number) => scores[base + p * ctx.K];
  const choices = (target.choices ?? []).filter((c) => c.length > 0);
  const values: ChoiceValue[] = [];
  if (target.dtype === "list") {
    const seen = new Set<string>();
    for (const choice of choices) {
      if (seen.has(choice)) continue;
      const p = choicePositions(choice, ctx.prefix).find((q) => scoreAt(q) >= threshold);
      if (p === undefined) continue;
      seen.add(choice);
      values.push({ kind: "choice", text: choice, confidence: scoreAt(p), prefixIndex: p });
    }
  } else {
    let best: ChoiceValue | null = null;
    for (const choice of choices) {
      for (const p of choicePositions(choice, ctx.prefix)) {
        if (best === null ? scoreAt(p) > -1 : scoreAt(p) > best.confidence) {
          best = { kind: "choice", text: choice, confidence: scoreAt(p), prefixIndex: p };
        }
      }
    }
    if (best !== null && best.confidence >= threshold) values.push(best);
  }
  return { name: target.name, dtype: target.dtype, isChoice: true, values };
}

function emptyTarget(target: SpanTarget): TargetValues {
  return { name: target.name, dtype: target.dtype, isChoice: target.choices !== null, values: [] };
}

function decodeEntities(ctx: TextContext, input: SpanSchemaInput, scores: Float32Array | null): EntitiesResult {
  const { plan, count } = input;
  // Entities use instance 0 only; count ≤ 0 leaves every type empty.
  const targets = plan.targets.map((t) => (scores === null ? emptyTarget(t) : spanTargetValues(ctx, plan, t, scores, 0)));
  return { kind: "entities", name: plan.name, count, targets };
}

function decodeStructure(ctx: TextContext, input: SpanSchemaInput, scores: Float32Array | null): StructureResult {
  const { plan, count } = input;
  const instances: TargetValues[][] = [];
  for (let i = 0; scores !== null && i < count; i++) {
    const fields = plan.targets.map((t) =>
      t.choices !== null ? choiceTargetValues(ctx, plan, t, scores, i) : spanTargetValues(ctx, plan, t, scores, i),
    );
    // Official: an instance whose fields are all null / [] is dropped.
    if (fields.some((f) => f.values.length > 0)) instances.push(fields);
  }
  return { kind: "structure", name: plan.name, count, instances };
}

function decodeRelation(ctx: TextContext, input: SpanSchemaInput, scores: Float32Array | null): RelationResult {
  const { plan, count } = input;
  const [headT, tailT] = plan.targets;
  const instances: RelationInstance[] = [];
  for (let i = 0; scores !== null && i < count; i++) {
    // Official (finding 6, unchanged at HEAD): the first valid span in position order, unless asked otherwise.
    const headPick = pickOne(targetSpans(ctx, plan, headT, scores, i), ctx.selection, false);
    const tailPick = pickOne(targetSpans(ctx, plan, tailT, scores, i), ctx.selection, false);
    const head = headPick && clipToSource(ctx, headPick);
    const tail = tailPick && clipToSource(ctx, tailPick);
    if (head !== null && tail !== null) instances.push({ head, tail });
  }
  return { kind: "relation", name: plan.name, count, instances };
}

function argmax(p: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < p.length; i++) if (p[i] > p[best]) best = i;
  return best;
}

function decodeClassification(input: ClassificationInput): ClassificationResult {
  const { plan, probs } = input;
  const scores = plan.labels.map((label, i) => ({ label, confidence: probs[i] }));
  const top = scores[argmax(probs)];
  let chosen: LabelScore[];
  if (plan.multiLabel) {
    // Python-float comparison (probs[j].item() >= cls_threshold); nothing above → the single best label.
    chosen = scores.filter((s) => s.confidence >= plan.clsThreshold);
    if (chosen.length === 0) chosen = [top];
  } else {
    chosen = [top];
  }
  return { kind: "classification", name: plan.name, multiLabel: plan.multiLabel, chosen, scores };
}

// ---------------------------------------------------------------------------------------------------------------
// Validation and entry point

function checkNumber(v: unknown, where: string, what: string): asserts v is number {
  if (typeof v !== "number" || !Number.isFinite(v)) throw new InputError(where, `${what} must be a finite number, got ${String(v)}`);
}

function checkSpanInput(input: SpanSchemaInput, where: string, ctx: TextContext): void {
  const { plan, count, spanScores } = input;
  if (!Number.isInteger(count)) throw new InputError(`${where}.count`, `must be an integer, got ${String(count)}`);
  for (const [j, t] of plan.targets.entries()) {
    if (!plan.fieldNames.includes(t.name)) {
      throw new InputError(`${where}.plan.targets[${j}]`, `target "${t.name}" is not among the scored fields [${plan.fieldNames.join(", ")}]`);
    }
    if (t.threshold !== null) checkNumber(t.threshold, `${where}.plan.targets[${j}].threshold`, "a threshold");
  }
  if (plan.taskType === "relations" && plan.targets.length !== 2) {
    throw new InputError(`${where}.plan.targets`, `relation "${plan.name}" needs exactly two targets (head, tail), got ${plan.targets.length}`);
  }
  if (count <= 0 || plan.fieldNames.length === 0) return;
  const expected = count * plan.fieldNames.length * ctx.positions * ctx.K;
  if (spanScores === null || spanScores.length !== expected) {
    throw new InputError(
      `${where}.spanScores`,
      `expected [count ${count}, fields ${plan.fieldNames.length}, positions ${ctx.positions}, width ${ctx.K}] = ${expected} scores, got ${spanScores === null ? "null" : spanScores.length}`,
    );
  }
}

/** Decode one text. Throws InputError when the scores do not fit the plan or the words do not fit the text. */
export function decode(input: DecodeInput): DecodedText {
  const { text, words, prefixTokens, maxWidth, threshold, schemas } = input;
  checkNumber(threshold, "threshold", "the threshold");
  if (!Number.isInteger(maxWidth) || maxWidth < 1) throw new InputError("maxWidth", `must be a positive integer, got ${String(maxWidth)}`);
  const selection = input.spanSelection ?? "official";
  if (selection !== "official" && selection !== "first" && selection !== "best") {
    throw new InputError("spanSelection", `must be "official", "first" or "best", got ${JSON.stringify(selection)}`);
  }
  const limit = input.sourceLength ?? text.length;
  if (!Number.isInteger(limit) || limit < 0 || limit > text.length) {
    throw new InputError("sourceLength", `must be an integer in [0, ${text.length}], got ${String(input.sourceLength)}`);
  }
  words.forEach((w, i) => {
    if (!Number.isInteger(w.start) || !Number.isInteger(w.end) || w.start < 0 || w.end < w.start || w.end > text.length) {
      throw new InputError(`words[${i}]`, `offsets [${w.start}, ${w.end}) do not lie in the text (length ${text.length})`);
    }
  });
  const ctx: TextContext = {
    text,
    limit,
    words,
    prefix: prefixTokens,
    positions: prefixTokens.length + words.length,
    K: maxWidth,
    threshold,
    selection,
  };
  const results = schemas.map((s, i): SchemaResult => {
    const where = `schemas[${i}]`;
    if (s.plan.kind === "classification") {
      const c = s as ClassificationInput;
      if (c.probs === undefined || c.probs.length !== c.plan.labels.length) {
        throw new InputError(`${where}.probs`, `classification "${c.plan.name}" has ${c.plan.labels.length} labels but ${c.probs?.length ?? "no"} probabilities`);
      }
      return decodeClassification(c);
    }
    const sp = s as SpanSchemaInput;
    checkSpanInput(sp, where, ctx);
    const scores = sp.count > 0 && sp.plan.fieldNames.length > 0 ? sp.spanScores : null;
    switch (sp.plan.taskType) {
      case "entities":
        return decodeEntities(ctx, sp, scores);
      case "relations":
        return decodeRelation(ctx, sp, scores);
      case "json_structures":
        return decodeStructure(ctx, sp, scores);
    }
  });
  return { text, results };
}

/**
 * The contract between the prompt builder (schema → prompt + plan) and the decoder (scores + plan → results).
 *
 * A `PromptPlan` says, for one text, which schemas go into the prompt (their token lists, in prompt order), which
 * choice-prefix words go before the text, and how each schema's scores are decoded. It is built from a user
 * schema by `prompt.ts` and consumed by `decode.ts`; the engine in between only needs `schemaTokens` and
 * `prefixTokens`.
 */

export type ValueDtype = "str" | "list";
export type TaskType = "entities" | "json_structures" | "relations" | "classifications";
export type ClassAct = "auto" | "softmax" | "sigmoid";

/** A regex filter on extracted span text (the official RegexValidator). */
export interface RegexValidator {
  /** Pattern source in Python `re` syntax as given by the user (the common subset JS shares). */
  readonly pattern: string;
  /** "full": the whole span must match; "partial": a match anywhere in the span. */
  readonly mode: "full" | "partial";
  /** When true, spans that match are dropped instead of kept. */
  readonly exclude: boolean;
  /** JS RegExp flags ("i" mirrors the official default re.IGNORECASE). */
  readonly flags: string;
}

/** One thing a span schema extracts: an entity type, a structure field, or a relation's head/tail. */
export interface SpanTarget {
  readonly name: string;
  readonly dtype: ValueDtype;
  /** Own threshold, or null to use the call's threshold. */
  readonly threshold: number | null;
  /** Choice fields: the allowed values (matched against the choice prefix words), else null. */
  readonly choices: readonly string[] | null;
  readonly validators: readonly RegexValidator[];
}

/** Decoding of a schema scored by spans: entities, one structure, or one relation type. */
export interface SpanSchemaPlan {
  readonly kind: "span";
  readonly taskType: "entities" | "json_structures" | "relations";
  /** Result key: "entities", the structure name, or the relation name. */
  readonly name: string;
  /** Order of the field axis of the span-score tensor (= order of [E]/[C]/[R] tokens in the prompt). */
  readonly fieldNames: readonly string[];
  /** What to decode, in output (declared) order. Every target name is in `fieldNames`. */
  readonly targets: readonly SpanTarget[];
}

/** Decoding of a classification task scored on its [L] label embeddings. */
export interface ClassificationPlan {
  readonly kind: "classification";
  readonly taskType: "classifications";
  /** Result key (the task name). */
  readonly name: string;
  /** Labels in prompt order (= order of the probabilities). */
  readonly labels: readonly string[];
  readonly multiLabel: boolean;
  readonly clsThreshold: number;
  readonly classAct: ClassAct;
}

export type SchemaPlan = SpanSchemaPlan | ClassificationPlan;

/** Everything the engine and the decoder need to know about the schema side of one text. */
export interface PromptPlan {
  /** One token list per schema, prompt order, e.g. ["(", "[P]", "entities", "(", "[E]", "person", ")", ")"]. */
  readonly schemaTokens: readonly (readonly string[])[];
  /** Choice-prefix words placed before the text words (empty unless a structure has choice fields). */
  readonly prefixTokens: readonly string[];
  /** One decoding plan per schema, same order as `schemaTokens`. */
  readonly plans: readonly SchemaPlan[];
}

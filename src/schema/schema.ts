/**
 * Schemas: what to extract. Every accepted form — the fluent builder (`createSchema()`), the hosted-API JSON
 * schema, the official raw schema dict, and the per-method shorthands — is validated and normalized into one
 * `Schema`, which `prompt.ts` turns into the model prompt. Errors are `SchemaError`s whose `path` locates the
 * offending part, e.g. `structures.contact.fields[2].threshold`.
 */
import { InputError, SchemaError } from "../errors.js";
import { describeValue } from "../quote.js";
import type { ClassAct, RegexValidator, ValueDtype } from "./plan.js";
import { compileValidator } from "./pyregex.js";

export type { ClassAct, RegexValidator, ValueDtype } from "./plan.js";

export interface EntityType {
  readonly name: string;
  readonly dtype: ValueDtype;
  /** Own threshold, or null for the call's. */
  readonly threshold: number | null;
}

export interface StructureField {
  readonly name: string;
  readonly dtype: ValueDtype;
  readonly threshold: number | null;
  readonly description: string | null;
  /** A choice field picks among these values instead of extracting a span. */
  readonly choices: readonly string[] | null;
  readonly validators: readonly RegexValidator[];
}

export interface Structure {
  readonly name: string;
  /** In declared order: the order of the prompt, of the choice prefix and of the output keys. */
  readonly fields: readonly StructureField[];
  /**
   * Advanced: a different field order for the prompt only (a permutation of the field names). The official
   * implementation orders prompt fields by Python set order (finding 9), so reproducing a result recorded from it
   * needs that order here; normal use leaves this unset.
   */
  readonly promptOrder?: readonly string[];
}

export interface RelationType {
  readonly name: string;
  readonly threshold: number | null;
  /** Accepted and kept, but not put in the prompt (the official model was trained without them). */
  readonly description: string | null;
}

export interface ClassificationTask {
  readonly name: string;
  readonly labels: readonly string[];
  /** [label, description] in the order given. */
  readonly labelDescriptions: readonly (readonly [string, string])[];
  readonly multiLabel: boolean;
  readonly clsThreshold: number;
  readonly classAct: ClassAct;
  /** Extra instruction placed after the task name in the prompt. */
  readonly prompt: string | null;
  /** Few-shot examples: [input text, label]. */
  readonly examples: readonly (readonly [string, string])[];
}

/** The normalized schema. */
export interface Schema {
  readonly entities: readonly EntityType[];
  /** [entity, description] in the order descriptions were given (the prompt lists them in this order). */
  readonly entityDescriptions: readonly (readonly [string, string])[];
  readonly structures: readonly Structure[];
  readonly relations: readonly RelationType[];
  readonly classifications: readonly ClassificationTask[];
}

// ---------------------------------------------------------------------------------------------------------------
// Input shapes

/** Per-type settings for entities. */
export interface EntityConfig {
  readonly description?: string;
  readonly dtype?: ValueDtype;
  readonly threshold?: number;
}
export type EntityTypesInput = string | readonly string[] | Readonly<Record<string, string | EntityConfig>>;

export interface RelationConfig {
  readonly description?: string;
  readonly threshold?: number;
}
export type RelationTypesInput = string | readonly string[] | Readonly<Record<string, string | RelationConfig>>;

/** A regex validator as users write it; `flags` are JS flag letters, default "i" (official re.IGNORECASE). */
export interface ValidatorInput {
  readonly pattern: string;
  readonly mode?: "full" | "partial";
  readonly exclude?: boolean;
  readonly flags?: string;
}

export interface FieldOptions {
  readonly dtype?: ValueDtype;
  readonly choices?: readonly string[];
  readonly description?: string;
  readonly threshold?: number;
  readonly validators?: readonly ValidatorInput[];
}

export type Example = readonly [string, string] | { readonly input: string; readonly output: string };

export interface ClassificationOptions {
  readonly multiLabel?: boolean;
  readonly clsThreshold?: number;
  readonly classAct?: ClassAct;
  readonly prompt?: string;
  readonly examples?: readonly Example[];
}
export type LabelsInput = readonly string[] | Readonly<Record<string, string>>;

/** `classifyText` tasks: `{task: labels}` or `{task: {labels, multi_label | multiLabel, …}}`. */
export type TasksInput = Readonly<Record<string, LabelsInput | TaskConfigInput>>;
export interface TaskConfigInput {
  readonly labels: LabelsInput;
  readonly multi_label?: boolean;
  readonly multiLabel?: boolean;
  readonly cls_threshold?: number;
  readonly clsThreshold?: number;
  readonly class_act?: ClassAct;
  readonly classAct?: ClassAct;
  readonly prompt?: string;
  readonly examples?: readonly Example[];
}

/** A structure field in JSON: a spec string `name::[a|b]::str::description` or an object. */
export type FieldSpecInput = string | ({ readonly name: string } & FieldOptions);
/** `extractJson` structures: `{structure: [field specs]}`. */
export type StructuresInput = Readonly<Record<string, readonly FieldSpecInput[]>>;

/** The hosted-API JSON schema (what a schema file holds). */
export interface JsonSchema {
  readonly entities?: EntityTypesInput;
  readonly entity_dtype?: ValueDtype;
  readonly entity_threshold?: number;
  readonly classifications?: TasksInput;
  readonly structures?: StructuresInput;
  readonly relations?: RelationTypesInput;
  readonly relation_threshold?: number;
}

/** Anything `extract()` accepts as a schema. */
export type SchemaInput = SchemaBuilder | StructureBuilder | Schema | JsonSchema | Record<string, unknown>;

// ---------------------------------------------------------------------------------------------------------------
// Checks

const SPECIAL_TOKEN = /\[(?:P|E|C|R|L|SEP_STRUCT|SEP_TEXT|DESCRIPTION|EXAMPLE|OUTPUT)\]/;

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function checkName(v: unknown, path: string): string {
  if (typeof v !== "string") throw new SchemaError(path, `must be a string, got ${v === null ? "null" : typeof v}`);
  if (v.trim() === "") throw new SchemaError(path, "must not be empty");
  const special = SPECIAL_TOKEN.exec(v);
  if (special) throw new SchemaError(path, `"${v}" contains the model's control token ${special[0]}`);
  return v;
}

function checkText(v: unknown, path: string): string {
  if (typeof v !== "string") throw new SchemaError(path, `must be a string, got ${v === null ? "null" : typeof v}`);
  if (/\[(?:SEP_STRUCT|SEP_TEXT)\]/.test(v)) throw new SchemaError(path, "must not contain [SEP_STRUCT] or [SEP_TEXT]");
  return v;
}

function checkThreshold(v: unknown, path: string): number | null {
  if (v === undefined || v === null) return null;
  if (typeof v !== "number" || !Number.isFinite(v) || v < 0 || v > 1) throw new SchemaError(path, `must be a number in [0, 1], got ${describeValue(v)}`);
  return v;
}

function checkDtype(v: unknown, path: string, fallback: ValueDtype): ValueDtype {
  if (v === undefined || v === null) return fallback;
  if (v !== "str" && v !== "list") throw new SchemaError(path, `must be "str" or "list", got ${describeValue(v)}`);
  return v;
}

function checkBool(v: unknown, path: string, fallback: boolean): boolean {
  if (v === undefined || v === null) return fallback;
  if (typeof v !== "boolean") throw new SchemaError(path, `must be true or false, got ${describeValue(v)}`);
  return v;
}

function checkUnique(names: readonly string[], path: string, what: string): void {
  const seen = new Set<string>();
  names.forEach((n, i) => {
    if (seen.has(n)) throw new SchemaError(`${path}[${i}]`, `duplicate ${what} "${n}"`);
    seen.add(n);
  });
}

function checkKeys(obj: Record<string, unknown>, allowed: readonly string[], path: string): void {
  for (const k of Object.keys(obj)) {
    if (!allowed.includes(k)) throw new SchemaError(path ? `${path}.${k}` : k, `unknown option (expected one of: ${allowed.join(", ")})`);
  }
}

function checkValidator(v: unknown, path: string): RegexValidator {
  if (!isRecord(v)) throw new SchemaError(path, "a validator must be an object {pattern, mode?, exclude?, flags?}");
  checkKeys(v, ["pattern", "mode", "exclude", "flags"], path);
  if (typeof v.pattern !== "string") throw new SchemaError(`${path}.pattern`, "must be a string");
  const mode = v.mode ?? "full";
  if (mode !== "full" && mode !== "partial") throw new SchemaError(`${path}.mode`, `must be "full" or "partial", got ${describeValue(mode)}`);
  const flags = v.flags ?? "i";
  if (typeof flags !== "string") throw new SchemaError(`${path}.flags`, "must be a string of flag letters");
  const validator: RegexValidator = { pattern: v.pattern, mode, exclude: checkBool(v.exclude, `${path}.exclude`, false), flags };
  compileValidator(validator, path); // rejects patterns JS cannot run, naming the path
  return validator;
}

// ---------------------------------------------------------------------------------------------------------------
// Builder

interface BuilderState {
  entities: Map<string, EntityType>;
  entityDescriptions: Map<string, string>;
  structures: Structure[];
  relations: Map<string, RelationType>;
  classifications: ClassificationTask[];
}

/** Parse `{name: description}` / `{name: {…}}` / list / single string forms shared by entities and relations. */
function namedConfigs(input: unknown, path: string): [string, Record<string, unknown>][] {
  if (typeof input === "string") return [[checkName(input, path), {}]];
  if (Array.isArray(input)) {
    if (input.length === 0) throw new SchemaError(path, "must not be empty");
    const names = input.map((n, i) => checkName(n, `${path}[${i}]`));
    checkUnique(names, path, "name");
    return names.map((n) => [n, {}]);
  }
  if (isRecord(input)) {
    const entries = Object.entries(input);
    if (entries.length === 0) throw new SchemaError(path, "must not be empty");
    return entries.map(([name, cfg]) => {
      checkName(name, `${path}.${name}`);
      if (typeof cfg === "string") return [name, { description: cfg }];
      if (isRecord(cfg)) return [name, cfg];
      if (cfg === null || cfg === undefined || cfg === "") return [name, {}];
      throw new SchemaError(`${path}.${name}`, "must be a description string or a settings object");
    });
  }
  throw new SchemaError(path, "must be a name, a list of names, or an object of names to descriptions/settings");
}

function parseLabels(labels: unknown, path: string): { names: string[]; descriptions: [string, string][] } {
  if (Array.isArray(labels)) {
    if (labels.length === 0) throw new SchemaError(path, "must list at least one label");
    const names = labels.map((l, i) => checkName(l, `${path}[${i}]`));
    checkUnique(names, path, "label");
    return { names, descriptions: [] };
  }
  if (isRecord(labels)) {
    const entries = Object.entries(labels);
    if (entries.length === 0) throw new SchemaError(path, "must list at least one label");
    const descriptions: [string, string][] = entries.map(([l, d]) => [checkName(l, `${path}.${l}`), checkText(d, `${path}.${l}`)]);
    return { names: descriptions.map(([l]) => l), descriptions };
  }
  throw new SchemaError(path, "must be a list of labels or an object of labels to descriptions");
}

function parseExamples(v: unknown, path: string): [string, string][] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) throw new SchemaError(path, "must be a list of [input, label] pairs");
  return v.map((ex, i) => {
    const p = `${path}[${i}]`;
    if (Array.isArray(ex) && ex.length === 2) return [checkText(ex[0], `${p}[0]`), checkText(ex[1], `${p}[1]`)];
    if (isRecord(ex) && "input" in ex && "output" in ex) return [checkText(ex.input, `${p}.input`), checkText(ex.output, `${p}.output`)];
    throw new SchemaError(p, "an example must be [input, label] or {input, output}");
  });
}

/** The fluent schema builder, a camelCase mirror of the official `Schema`. Each method returns the builder. */
export class SchemaBuilder {
  /** @internal */
  readonly state: BuilderState = { entities: new Map(), entityDescriptions: new Map(), structures: [], relations: new Map(), classifications: [] };

  /**
   * Entity types. Calling it again adds types and updates the settings of types already present (their
   * position stays), like the official builder. `opts` give the defaults for types without their own.
   */
  entities(types: EntityTypesInput, opts: { dtype?: ValueDtype; threshold?: number } = {}): this {
    const path = "entities";
    const dtype = checkDtype(opts.dtype, `${path}(dtype)`, "list");
    const threshold = checkThreshold(opts.threshold, `${path}(threshold)`);
    for (const [name, cfg] of namedConfigs(types, path)) {
      const p = `${path}.${name}`;
      checkKeys(cfg, ["description", "dtype", "threshold"], p);
      this.state.entities.set(name, {
        name,
        dtype: checkDtype(cfg.dtype, `${p}.dtype`, dtype),
        threshold: cfg.threshold === undefined ? threshold : checkThreshold(cfg.threshold, `${p}.threshold`),
      });
      if (cfg.description !== undefined && cfg.description !== null && cfg.description !== "") {
        this.state.entityDescriptions.set(name, checkText(cfg.description, `${p}.description`));
      }
    }
    return this;
  }

  /** A classification task over the whole text. */
  classification(task: string, labels: LabelsInput, opts: ClassificationOptions = {}): this {
    const path = `classifications.${String(task)}`;
    checkName(task, path);
    if (!isRecord(opts)) throw new SchemaError(path, "options must be an object");
    checkKeys(opts, ["multiLabel", "clsThreshold", "classAct", "prompt", "examples"], path);
    if (this.state.classifications.some((c) => c.name === task)) throw new SchemaError(path, `duplicate classification task "${task}"`);
    const { names, descriptions } = parseLabels(labels, `${path}.labels`);
    const classAct = opts.classAct ?? "auto";
    if (classAct !== "auto" && classAct !== "softmax" && classAct !== "sigmoid") {
      throw new SchemaError(`${path}.classAct`, `must be "auto", "softmax" or "sigmoid", got ${describeValue(classAct)}`);
    }
    const clsThreshold = checkThreshold(opts.clsThreshold, `${path}.clsThreshold`) ?? 0.5;
    this.state.classifications.push({
      name: task,
      labels: names,
      labelDescriptions: descriptions,
      multiLabel: checkBool(opts.multiLabel, `${path}.multiLabel`, false),
      clsThreshold,
      classAct,
      prompt: opts.prompt === undefined || opts.prompt === null || opts.prompt === "" ? null : checkText(opts.prompt, `${path}.prompt`),
      examples: parseExamples(opts.examples, `${path}.examples`),
    });
    return this;
  }

  /** Start a structure; add its fields with `.field()` on the returned builder. */
  structure(name: string): StructureBuilder {
    const path = `structures.${String(name)}`;
    checkName(name, path);
    if (this.state.structures.some((s) => s.name === name)) throw new SchemaError(path, `duplicate structure "${name}"`);
    const fields: StructureField[] = [];
    this.state.structures.push({ name, fields });
    return new StructureBuilder(this, name, fields);
  }

  /** Relation types, each extracted as (head, tail) pairs. Calling again adds or updates types. */
  relations(types: RelationTypesInput, opts: { threshold?: number } = {}): this {
    const path = "relations";
    const threshold = checkThreshold(opts.threshold, `${path}(threshold)`);
    for (const [name, cfg] of namedConfigs(types, path)) {
      const p = `${path}.${name}`;
      checkKeys(cfg, ["description", "threshold"], p);
      const description = cfg.description === undefined || cfg.description === null ? null : checkText(cfg.description, `${p}.description`);
      this.state.relations.set(name, { name, threshold: cfg.threshold === undefined ? threshold : checkThreshold(cfg.threshold, `${p}.threshold`), description });
    }
    return this;
  }

  /** The normalized schema (checked: every structure has fields). */
  build(): Schema {
    for (const s of this.state.structures) {
      if (s.fields.length === 0) throw new SchemaError(`structures.${s.name}`, "has no fields; add some with .field(name)");
    }
    return {
      entities: [...this.state.entities.values()],
      entityDescriptions: [...this.state.entityDescriptions.entries()],
      structures: this.state.structures.map((s) => ({ name: s.name, fields: [...s.fields] })),
      relations: [...this.state.relations.values()],
      classifications: [...this.state.classifications],
    };
  }
}

/** Adds fields to one structure; the schema methods continue the chain on the parent builder. */
export class StructureBuilder {
  private readonly parent: SchemaBuilder;
  private readonly name: string;
  private readonly fields: StructureField[];

  constructor(parent: SchemaBuilder, name: string, fields: StructureField[]) {
    this.parent = parent;
    this.name = name;
    this.fields = fields;
  }

  field(name: string, opts: FieldOptions = {}): this {
    this.fields.push(parseField(name, opts, `structures.${this.name}.fields[${this.fields.length}]`, this.fields));
    return this;
  }

  entities(types: EntityTypesInput, opts?: { dtype?: ValueDtype; threshold?: number }): SchemaBuilder {
    return this.parent.entities(types, opts);
  }
  classification(task: string, labels: LabelsInput, opts?: ClassificationOptions): SchemaBuilder {
    return this.parent.classification(task, labels, opts);
  }
  structure(name: string): StructureBuilder {
    return this.parent.structure(name);
  }
  relations(types: RelationTypesInput, opts?: { threshold?: number }): SchemaBuilder {
    return this.parent.relations(types, opts);
  }
  build(): Schema {
    return this.parent.build();
  }
  /** @internal */
  get schemaBuilder(): SchemaBuilder {
    return this.parent;
  }
}

function parseField(name: unknown, opts: unknown, path: string, existing: readonly StructureField[]): StructureField {
  checkName(name, `${path}.name`);
  if (!isRecord(opts)) throw new SchemaError(path, "field options must be an object");
  checkKeys(opts, ["name", "dtype", "choices", "description", "threshold", "validators"], path);
  if (existing.some((f) => f.name === name)) throw new SchemaError(path, `duplicate field "${name as string}"`);
  let choices: string[] | null = null;
  if (opts.choices !== undefined && opts.choices !== null) {
    if (!Array.isArray(opts.choices) || opts.choices.length === 0) throw new SchemaError(`${path}.choices`, "must be a non-empty list of strings");
    choices = opts.choices.map((c, i) => checkName(c, `${path}.choices[${i}]`));
    checkUnique(choices, `${path}.choices`, "choice");
  }
  const validators = opts.validators === undefined || opts.validators === null ? [] : opts.validators;
  if (!Array.isArray(validators)) throw new SchemaError(`${path}.validators`, "must be a list");
  const description = opts.description === undefined || opts.description === null || opts.description === "" ? null : checkText(opts.description, `${path}.description`);
  return {
    name: name as string,
    dtype: checkDtype(opts.dtype, `${path}.dtype`, "list"),
    threshold: checkThreshold(opts.threshold, `${path}.threshold`),
    description,
    choices,
    validators: validators.map((v, i) => checkValidator(v, `${path}.validators[${i}]`)),
  };
}

export function createSchema(): SchemaBuilder {
  return new SchemaBuilder();
}

// ---------------------------------------------------------------------------------------------------------------
// Field spec strings

/**
 * Parse a field spec `name[::[choice|choice]][::str|list][::description]`.
 *
 * Decision (finding 4): the official parser splits into at most three parts, so the documented full form
 * `name::[a|b]::list::description` came out as dtype "str" with description "list::description". We follow the
 * documented format: optional choices, then an optional dtype, then the description (which may contain "::").
 * Choices default the dtype to "str", as officially.
 */
export function parseFieldSpec(spec: string, path = "field"): { name: string } & FieldOptions {
  if (typeof spec !== "string") throw new SchemaError(path, `a field spec must be a string, got ${typeof spec}`);
  const parts = spec.split("::");
  const name = parts[0].trim();
  if (name === "") throw new SchemaError(path, `field spec "${spec}" has an empty name`);
  let i = 1;
  let dtype: ValueDtype = "list";
  let choices: string[] | undefined;
  const part = () => parts[i]?.trim();
  if (i < parts.length && part()!.startsWith("[")) {
    const p = part()!;
    if (!p.endsWith("]")) throw new SchemaError(path, `field spec "${spec}": choices "${p}" must end with "]"`);
    choices = p.slice(1, -1).split("|").map((c) => c.trim());
    if (choices.some((c) => c === "")) throw new SchemaError(path, `field spec "${spec}": empty choice in ${p}`);
    dtype = "str";
    i++;
  }
  if (i < parts.length && (part() === "str" || part() === "list")) {
    dtype = part() as ValueDtype;
    i++;
  }
  const description = i < parts.length ? parts.slice(i).join("::") : undefined;
  return { name, dtype, ...(choices ? { choices } : {}), ...(description ? { description } : {}) };
}

// ---------------------------------------------------------------------------------------------------------------
// Converters for the per-method shorthands and JSON forms

export function schemaFromEntityTypes(types: EntityTypesInput, opts: { dtype?: ValueDtype; threshold?: number } = {}): SchemaBuilder {
  return createSchema().entities(types, opts);
}

export function schemaFromRelationTypes(types: RelationTypesInput, opts: { threshold?: number } = {}): SchemaBuilder {
  return createSchema().relations(types, opts);
}

/** `classifyText` tasks → builder. Accepts snake_case (JSON) and camelCase keys. */
export function schemaFromTasks(tasks: TasksInput, builder: SchemaBuilder = createSchema()): SchemaBuilder {
  if (!isRecord(tasks)) throw new SchemaError("classifications", "must be an object of task names to labels or settings");
  if (Object.keys(tasks).length === 0) throw new SchemaError("classifications", "must define at least one task");
  for (const [task, cfg] of Object.entries(tasks)) {
    const path = `classifications.${task}`;
    if (Array.isArray(cfg) || (isRecord(cfg) && !("labels" in cfg))) {
      builder.classification(task, cfg as LabelsInput);
      continue;
    }
    if (!isRecord(cfg)) throw new SchemaError(path, "must be a list of labels or {labels, multi_label, cls_threshold, …}");
    const c = cfg as Record<string, unknown>;
    checkKeys(c, ["labels", "multi_label", "multiLabel", "cls_threshold", "clsThreshold", "class_act", "classAct", "prompt", "examples"], path);
    builder.classification(task, c.labels as LabelsInput, {
      multiLabel: (c.multiLabel ?? c.multi_label) as boolean | undefined,
      clsThreshold: (c.clsThreshold ?? c.cls_threshold) as number | undefined,
      classAct: (c.classAct ?? c.class_act) as ClassAct | undefined,
      prompt: c.prompt as string | undefined,
      examples: c.examples as Example[] | undefined,
    });
  }
  return builder;
}

/** `extractJson` structures → builder: each field a spec string or a `{name, dtype, choices, …}` object. */
export function schemaFromStructures(structures: StructuresInput, builder: SchemaBuilder = createSchema()): SchemaBuilder {
  if (!isRecord(structures)) throw new SchemaError("structures", "must be an object of structure names to field lists");
  if (Object.keys(structures).length === 0) throw new SchemaError("structures", "must define at least one structure");
  for (const [name, fields] of Object.entries(structures)) {
    const path = `structures.${name}`;
    if (!Array.isArray(fields) || fields.length === 0) throw new SchemaError(path, "must be a non-empty list of field specs");
    const sb = builder.structure(name);
    fields.forEach((f, i) => {
      const fp = `${path}.fields[${i}]`;
      if (typeof f === "string") {
        const { name: fname, ...opts } = parseFieldSpec(f, fp);
        sb.field(fname, opts);
      } else if (isRecord(f)) {
        const { name: fname, ...opts } = f as unknown as { name: string } & FieldOptions;
        checkName(fname, `${fp}.name`);
        sb.field(fname, opts);
      } else {
        throw new SchemaError(fp, "must be a spec string or an object {name, dtype, choices, description, threshold}");
      }
    });
  }
  return builder;
}

/** The hosted-API JSON schema → builder. */
export function schemaFromJson(json: JsonSchema | Record<string, unknown>): SchemaBuilder {
  const j = json as Record<string, unknown>;
  checkKeys(j, ["entities", "entity_dtype", "entity_threshold", "classifications", "structures", "relations", "relation_threshold"], "");
  const builder = createSchema();
  if (j.structures !== undefined) schemaFromStructures(j.structures as StructuresInput, builder);
  if (j.entities !== undefined) {
    builder.entities(j.entities as EntityTypesInput, { dtype: j.entity_dtype as ValueDtype | undefined, threshold: j.entity_threshold as number | undefined });
  }
  if (j.relations !== undefined) builder.relations(j.relations as RelationTypesInput, { threshold: j.relation_threshold as number | undefined });
  if (j.classifications !== undefined) schemaFromTasks(j.classifications as TasksInput, builder);
  return builder;
}

/**
 * The official raw schema dict (`{json_structures, entities, relations, classifications, json_descriptions,
 * entity_descriptions}`, what the official `Schema.build()` returns) → builder. Without builder metadata every
 * field and entity type is a list with the call's threshold, as officially.
 */
export function schemaFromOfficialDict(dict: Record<string, unknown>): SchemaBuilder {
  checkKeys(dict, ["json_structures", "entities", "relations", "classifications", "json_descriptions", "entity_descriptions", "relation_descriptions"], "");
  const builder = createSchema();
  const jsonDescs = isRecord(dict.json_descriptions) ? dict.json_descriptions : {};
  const structures = dict.json_structures ?? [];
  if (!Array.isArray(structures)) throw new SchemaError("json_structures", "must be a list of {name: {field: value}} objects");
  structures.forEach((item, i) => {
    if (!isRecord(item)) throw new SchemaError(`json_structures[${i}]`, "must be an object {name: {field: value}}");
    for (const [parent, fields] of Object.entries(item)) {
      const path = `json_structures[${i}].${parent}`;
      if (!isRecord(fields)) throw new SchemaError(path, "must be an object of fields");
      const descs = isRecord(jsonDescs[parent]) ? (jsonDescs[parent] as Record<string, unknown>) : {};
      const sb = builder.structure(parent);
      for (const [fname, value] of Object.entries(fields)) {
        const choices = isRecord(value) && Array.isArray(value.choices) ? (value.choices as string[]) : undefined;
        sb.field(fname, { choices, description: descs[fname] as string | undefined });
      }
    }
  });
  const entities = dict.entities;
  if (entities !== undefined && entities !== null && !(isRecord(entities) && Object.keys(entities).length === 0) && !(Array.isArray(entities) && entities.length === 0)) {
    const names = Array.isArray(entities) ? entities : Object.keys(entities as Record<string, unknown>);
    builder.entities(names as string[]);
    if (isRecord(dict.entity_descriptions)) {
      const descs = Object.entries(dict.entity_descriptions).filter(([n]) => names.includes(n));
      if (descs.length > 0) builder.entities(Object.fromEntries(descs.map(([n, d]) => [n, { description: d as string }])));
    }
  }
  const relations = dict.relations ?? [];
  if (!Array.isArray(relations)) throw new SchemaError("relations", "must be a list of {name: {head, tail}} objects");
  relations.forEach((item, i) => {
    if (!isRecord(item)) throw new SchemaError(`relations[${i}]`, "must be an object {name: {head: '', tail: ''}}");
    for (const name of Object.keys(item)) builder.relations([name]);
  });
  const classifications = dict.classifications ?? [];
  if (!Array.isArray(classifications)) throw new SchemaError("classifications", "must be a list of task configs");
  classifications.forEach((c, i) => {
    const path = `classifications[${i}]`;
    if (!isRecord(c)) throw new SchemaError(path, "must be an object {task, labels, …}");
    const labels = isRecord(c.label_descriptions) ? c.label_descriptions : c.labels;
    builder.classification(c.task as string, labels as LabelsInput, {
      multiLabel: c.multi_label as boolean | undefined,
      clsThreshold: c.cls_threshold as number | undefined,
      classAct: c.class_act as ClassAct | undefined,
      prompt: c.prompt as string | undefined,
      examples: c.examples as Example[] | undefined,
    });
  });
  return builder;
}

function isNormalized(v: Record<string, unknown>): boolean {
  return Array.isArray(v.entities) && Array.isArray(v.entityDescriptions) && Array.isArray(v.structures) && Array.isArray(v.relations) && Array.isArray(v.classifications);
}

/**
 * A normalized `Schema` given back as input (e.g. one built earlier, or one from JSON) is checked like every
 * other form: it is replayed through the builder, so a threshold of 7, a dtype "weird" or a label list that is
 * not a list gets the same SchemaError as anywhere else. A valid one comes out equal to itself.
 */
function schemaFromNormalized(v: Record<string, unknown>): Schema {
  checkKeys(v, ["entities", "entityDescriptions", "structures", "relations", "classifications"], "");
  const b = createSchema();
  const list = (x: unknown, path: string): unknown[] => {
    if (!Array.isArray(x)) throw new SchemaError(path, "must be a list");
    return x;
  };
  const record = (x: unknown, path: string, keys: readonly string[], what: string): Record<string, unknown> => {
    if (!isRecord(x)) throw new SchemaError(path, `must be ${what}`);
    checkKeys(x, keys, path);
    return x;
  };
  const pair = (x: unknown, path: string): [unknown, unknown] => {
    if (!Array.isArray(x) || x.length !== 2) throw new SchemaError(path, "must be a [name, text] pair");
    return [x[0], x[1]];
  };
  const opt = <T>(x: T | null): T | undefined => (x === null ? undefined : x);

  list(v.entities, "entities").forEach((raw, i) => {
    const e = record(raw, `entities[${i}]`, ["name", "dtype", "threshold"], "an object {name, dtype, threshold}");
    const name = checkName(e.name, `entities[${i}].name`);
    if (b.state.entities.has(name)) throw new SchemaError(`entities[${i}]`, `duplicate entity type "${name}"`);
    b.entities({ [name]: { dtype: e.dtype as ValueDtype, threshold: e.threshold as number } });
  });
  list(v.entityDescriptions, "entityDescriptions").forEach((raw, i) => {
    const [name, description] = pair(raw, `entityDescriptions[${i}]`);
    const known = typeof name === "string" ? b.state.entities.get(name) : undefined;
    if (known === undefined) throw new SchemaError(`entityDescriptions[${i}]`, `describes ${describeValue(name)}, which is not among the entity types`);
    b.entities({ [known.name]: { dtype: known.dtype, threshold: known.threshold ?? undefined, description: checkText(description, `entityDescriptions[${i}][1]`) } });
  });
  const promptOrders = new Map<string, readonly string[]>();
  list(v.structures, "structures").forEach((raw, i) => {
    const s = record(raw, `structures[${i}]`, ["name", "fields", "promptOrder"], "an object {name, fields}");
    const name = checkName(s.name, `structures[${i}].name`);
    const sb = b.structure(name);
    list(s.fields, `structures[${i}].fields`).forEach((rawField, j) => {
      const path = `structures[${i}].fields[${j}]`;
      const f = record(rawField, path, ["name", "dtype", "threshold", "description", "choices", "validators"], "an object {name, dtype, threshold, description, choices, validators}");
      sb.field(f.name as string, {
        dtype: f.dtype as ValueDtype,
        threshold: f.threshold as number,
        description: opt(f.description as string | null),
        choices: opt(f.choices as string[] | null),
        validators: f.validators as ValidatorInput[],
      });
    });
    if (s.promptOrder !== undefined) {
      const names = new Set(b.state.structures[i].fields.map((f) => f.name));
      const order = list(s.promptOrder, `structures[${i}].promptOrder`);
      if (order.length !== names.size || !order.every((n) => typeof n === "string" && names.has(n)) || new Set(order).size !== order.length) {
        throw new SchemaError(`structures[${i}].promptOrder`, "must list each field name exactly once");
      }
      promptOrders.set(name, order as string[]);
    }
  });
  list(v.relations, "relations").forEach((raw, i) => {
    const r = record(raw, `relations[${i}]`, ["name", "threshold", "description"], "an object {name, threshold, description}");
    const name = checkName(r.name, `relations[${i}].name`);
    if (b.state.relations.has(name)) throw new SchemaError(`relations[${i}]`, `duplicate relation type "${name}"`);
    b.relations({ [name]: { threshold: r.threshold as number, description: opt(r.description as string | null) } });
  });
  list(v.classifications, "classifications").forEach((raw, i) => {
    const path = `classifications[${i}]`;
    const c = record(raw, path, ["name", "labels", "labelDescriptions", "multiLabel", "clsThreshold", "classAct", "prompt", "examples"], "an object {name, labels, …}");
    const labels = list(c.labels, `${path}.labels`);
    const descriptions = list(c.labelDescriptions ?? [], `${path}.labelDescriptions`).map((d, k) => pair(d, `${path}.labelDescriptions[${k}]`));
    if (descriptions.length > 0 && (descriptions.length !== labels.length || descriptions.some(([l], k) => l !== labels[k]))) {
      throw new SchemaError(`${path}.labelDescriptions`, "must describe exactly the labels, in the same order");
    }
    b.classification(c.name as string, descriptions.length > 0 ? (Object.fromEntries(descriptions) as Record<string, string>) : (labels as string[]), {
      multiLabel: c.multiLabel as boolean,
      clsThreshold: c.clsThreshold as number,
      classAct: c.classAct as ClassAct,
      prompt: opt(c.prompt as string | null),
      examples: c.examples as Example[],
    });
    if (descriptions.length > 0) checkUnique(labels as string[], `${path}.labels`, "label");
  });
  const built = b.build();
  if (promptOrders.size === 0) return built;
  return { ...built, structures: built.structures.map((s) => (promptOrders.has(s.name) ? { ...s, promptOrder: promptOrders.get(s.name) } : s)) };
}

/** Something to extract must be asked for: an empty schema object would silently give `{}` for every text. */
function checkNotEmpty(s: Schema): Schema {
  if (s.entities.length + s.structures.length + s.relations.length + s.classifications.length === 0) {
    throw new SchemaError("", "asks for nothing: give at least one of entities, classifications, structures or relations");
  }
  return s;
}

/**
 * The schema of each of `count` texts for the batch methods: one schema for all (normalized once), or an array with
 * one per text (its length checked, each normalized with its index in error locations).
 */
export function schemasPerText(schemas: SchemaInput | SchemaInput[], count: number): Schema[] {
  if (Array.isArray(schemas)) {
    if (schemas.length !== count) throw new InputError("schemas", `has ${schemas.length} schemas for ${count} texts; pass one schema, or one per text`);
    return schemas.map((s, i) => normalizeSchema(s, `schemas[${i}]`));
  }
  const one = normalizeSchema(schemas);
  return Array.from({ length: count }, () => one);
}

/**
 * Normalize any accepted schema form. `path` prefixes error locations (e.g. "schemas[2]").
 * Forms: a builder (or a structure builder mid-chain), a normalized Schema, the hosted-API JSON schema, or the
 * official raw schema dict (recognised by `json_structures` / a list of classification configs).
 */
export function normalizeSchema(input: SchemaInput, path = "schema"): Schema {
  try {
    // An empty builder is accepted as the official API accepts it (result `{}`); an empty schema *object* (a
    // `{}` schema file, a misspelt key) is far more likely a mistake and is refused.
    if (input instanceof SchemaBuilder) return input.build();
    if (input instanceof StructureBuilder) return input.build();
    if (!isRecord(input)) throw new SchemaError("", `must be a schema builder or a schema object, got ${describeValue(input)}`);
    if (isNormalized(input)) return checkNotEmpty(schemaFromNormalized(input));
    const official = "json_structures" in input || "entity_descriptions" in input || "json_descriptions" in input || Array.isArray(input.classifications) || (Array.isArray(input.relations) && input.relations.some(isRecord));
    return checkNotEmpty((official ? schemaFromOfficialDict(input) : schemaFromJson(input)).build());
  } catch (e) {
    if (e instanceof SchemaError && path !== "schema") throw new SchemaError(`${path}${e.path ? `.${e.path}` : ""}`, e.detail);
    throw e;
  }
}

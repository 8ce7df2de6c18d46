/**
 * The hosted GLiNER2 API's request body, validated into what the model needs. The official client
 * (gliner2/api_client.py) sends `{task, text, schema, threshold, include_confidence, include_spans,
 * format_results}` to `POST {base}/gliner-2`; `text` is a string or a list (then the result is a list). Four
 * task forms map onto the library's schema forms:
 *
 *   extract_entities  schema = entity types (list, or dict of descriptions/configs)  → result {"entities": …}
 *   classify_text     schema = {"categories": labels} (one task; the client does not send its name, so the task
 *                     is named "classification" and the client re-keys it)          → result {"classification": …}
 *   extract_json      schema = {structure: [field specs]}
 *   schema            schema = the hosted JSON schema (entities, classifications, structures, relations, …)
 *
 * Fields beyond the official client's (this server's extensions, all optional):
 *
 *   adapter        a LoRA adapter loaded at start-up (`--adapter name=dir`), by name; null = the base model
 *   long           true: a long document (windows of words, merged as `batchExtractLong`)
 *   chunk_size     words per window (default 384); implies long
 *   chunk_overlap  words shared by consecutive windows (default 64, smaller than chunk_size); implies long
 *
 * A field we do not know is rejected (422), so a request meant for a feature this server lacks never silently
 * runs without it.
 */
import type { CallOptions } from "../gliner2.js";
import { Gliner2Error, SchemaError } from "../errors.js";
import { DEFAULT_CHUNK_OVERLAP, DEFAULT_CHUNK_SIZE, type ChunkOptions } from "../long/index.js";
import {
  normalizeSchema,
  schemaFromEntityTypes,
  schemaFromStructures,
  schemaFromTasks,
  type EntityTypesInput,
  type Schema,
  type StructuresInput,
  type TasksInput,
} from "../schema/schema.js";

/** An answer other than 200, with the `detail` the client shows. */
export class HttpError extends Error {
  readonly status: number;
  readonly kind: string;
  readonly headers: Record<string, string>;
  constructor(status: number, kind: string, detail: string, headers: Record<string, string> = {}) {
    super(detail);
    this.status = status;
    this.kind = kind;
    this.headers = headers;
  }
}

export const TASKS = ["extract_entities", "classify_text", "extract_json", "schema"] as const;
export type Task = (typeof TASKS)[number];

/** The task name classify_text results are keyed by (the official client reads `result["classification"]`). */
export const CLASSIFY_TASK_NAME = "classification";

/** The official client's fields. */
const OFFICIAL_FIELDS = ["task", "text", "schema", "threshold", "include_confidence", "include_spans", "format_results"] as const;
/** This server's extensions (adapters, long documents). */
const EXTENSION_FIELDS = ["adapter", "long", "chunk_size", "chunk_overlap"] as const;
const BODY_FIELDS = [...OFFICIAL_FIELDS, ...EXTENSION_FIELDS] as const;
/** Adapter names as the library accepts them (src/adapters: checkAdapterName). */
const ADAPTER_NAME = /^[A-Za-z0-9][\w.-]{0,127}$/;
const CLASSIFY_KEYS = ["categories", "multi_label", "cls_threshold", "class_act", "prompt", "examples"];

export interface ApiRequest {
  readonly task: Task;
  readonly texts: readonly string[];
  /** true when `text` was a list: the result is a list too. */
  readonly batch: boolean;
  readonly schema: Schema;
  readonly options: Required<Pick<CallOptions, "threshold" | "includeConfidence" | "includeSpans" | "formatResults">>;
  /** The adapter named by the request; null = the base model; undefined = the model's default (the base model
   *  unless the embedding application activated an adapter). Not yet checked against the loaded adapters. */
  readonly adapter: string | null | undefined;
  /** Window options when the texts are long documents (`batchExtractLong`), else null. */
  readonly long: ChunkOptions | null;
}

const invalid = (detail: string) => new HttpError(422, "invalid", detail);

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** JSON.stringify for quoting user data in a message, cut short. */
export function quote(v: unknown, max = 60): string {
  let s: string;
  try {
    s = JSON.stringify(v) ?? String(v);
  } catch {
    s = String(v);
  }
  return s.length > max ? `${s.slice(0, max)}…` : s;
}

function bool(body: Record<string, unknown>, key: string, dflt: boolean): boolean {
  const v = body[key];
  if (v === undefined || v === null) return dflt;
  if (typeof v !== "boolean") throw invalid(`${key}: must be a boolean, got ${quote(v)}`);
  return v;
}

function taskSchema(task: Task, schema: unknown): Schema {
  if (schema === undefined || schema === null) throw invalid("schema: field required");
  switch (task) {
    case "extract_entities":
      if (!(Array.isArray(schema) || isRecord(schema) || typeof schema === "string")) throw invalid(`schema: extract_entities needs a list of entity types, got ${quote(schema)}`);
      return normalizeSchema(schemaFromEntityTypes(schema as EntityTypesInput));
    case "classify_text": {
      if (!isRecord(schema)) throw invalid(`schema: classify_text needs {"categories": [labels]}, got ${quote(schema)}`);
      const unknown = Object.keys(schema).filter((k) => !CLASSIFY_KEYS.includes(k));
      if (unknown.length > 0) throw invalid(`schema: unknown key ${quote(unknown[0])} for classify_text (allowed: ${CLASSIFY_KEYS.join(", ")})`);
      if (schema.categories === undefined) throw invalid('schema: classify_text needs {"categories": [labels]}');
      const { categories, ...rest } = schema;
      const tasks = { [CLASSIFY_TASK_NAME]: { labels: categories, ...rest } } as unknown as TasksInput;
      try {
        return normalizeSchema(schemaFromTasks(tasks));
      } catch (e) {
        // Name the request's fields, not the internal task the categories became.
        if (e instanceof SchemaError) throw invalid(`schema.${e.path.replace(`classifications.${CLASSIFY_TASK_NAME}.labels`, "categories").replace(`classifications.${CLASSIFY_TASK_NAME}.`, "")}: ${e.detail}`);
        throw e;
      }
    }
    case "extract_json":
      if (!isRecord(schema)) throw invalid(`schema: extract_json needs {structure: [field specs]}, got ${quote(schema)}`);
      return normalizeSchema(schemaFromStructures(schema as StructuresInput));
    case "schema":
      if (!isRecord(schema)) throw invalid(`schema: the schema task needs a schema object, got ${quote(schema)}`);
      return normalizeSchema(schema);
  }
}

/** Validate a parsed JSON body. Throws HttpError(422) naming the field at fault. */
export function parseApiRequest(body: unknown): ApiRequest {
  if (!isRecord(body)) throw invalid(`request body must be a JSON object, got ${Array.isArray(body) ? "a list" : quote(body)}`);
  const unknown = Object.keys(body).filter((k) => !(BODY_FIELDS as readonly string[]).includes(k));
  if (unknown.length > 0) throw invalid(`unknown field ${quote(unknown[0])} (this server accepts: ${BODY_FIELDS.join(", ")})`);
  const task = body.task;
  if (task === undefined || task === null) throw invalid("task: field required");
  if (typeof task !== "string" || !(TASKS as readonly string[]).includes(task)) throw invalid(`task: must be one of ${TASKS.join(", ")}, got ${quote(task)}`);
  const text = body.text;
  let texts: string[];
  let batch: boolean;
  if (typeof text === "string") {
    texts = [text];
    batch = false;
  } else if (Array.isArray(text)) {
    text.forEach((t, i) => {
      if (typeof t !== "string") throw invalid(`text[${i}]: must be a string, got ${quote(t)}`);
    });
    texts = text as string[];
    batch = true;
  } else if (text === undefined || text === null) {
    throw invalid("text: field required");
  } else {
    throw invalid(`text: must be a string or a list of strings, got ${quote(text)}`);
  }
  const threshold = body.threshold ?? 0.5;
  if (typeof threshold !== "number" || !(threshold >= 0 && threshold <= 1)) throw invalid(`threshold: must be a number in [0, 1], got ${quote(body.threshold)}`);
  const options = {
    threshold,
    includeConfidence: bool(body, "include_confidence", false),
    includeSpans: bool(body, "include_spans", false),
    formatResults: bool(body, "format_results", true),
  };
  const adapter = body.adapter;
  if (adapter !== undefined && adapter !== null && (typeof adapter !== "string" || !ADAPTER_NAME.test(adapter))) {
    throw invalid(`adapter: must be the name of a loaded adapter (letters, digits, "_", "-", "."; at most 128) or null for the base model, got ${quote(adapter)}`);
  }
  const long = longOptions(body, options.formatResults);
  let schema: Schema;
  try {
    schema = taskSchema(task as Task, body.schema);
  } catch (e) {
    if (e instanceof Gliner2Error) throw invalid(e.message);
    throw e;
  }
  return { task: task as Task, texts, batch, schema, options, adapter: adapter as string | null | undefined, long };
}

function wordCount(body: Record<string, unknown>, key: string, dflt: number, min: number): number {
  const v = body[key];
  if (v === undefined || v === null) return dflt;
  if (typeof v !== "number" || !Number.isInteger(v) || v < min) throw invalid(`${key}: must be an integer ≥ ${min} (words), got ${quote(v)}`);
  return v;
}

/** `long`, `chunk_size`, `chunk_overlap` → window options, or null for ordinary texts. */
function longOptions(body: Record<string, unknown>, formatResults: boolean): ChunkOptions | null {
  const flag = body.long;
  if (flag !== undefined && flag !== null && typeof flag !== "boolean") throw invalid(`long: must be a boolean, got ${quote(flag)}`);
  const sized = ["chunk_size", "chunk_overlap"].filter((k) => body[k] !== undefined && body[k] !== null);
  if (flag === false && sized.length > 0) throw invalid(`${sized[0]}: applies to long documents only, but "long" is false`);
  if (flag !== true && sized.length === 0) return null;
  const chunkSize = wordCount(body, "chunk_size", DEFAULT_CHUNK_SIZE, 1);
  const chunkOverlap = wordCount(body, "chunk_overlap", DEFAULT_CHUNK_OVERLAP, 0);
  if (chunkOverlap >= chunkSize) {
    throw invalid(`chunk_overlap: must be smaller than chunk_size (${chunkSize}), got ${chunkOverlap}${body.chunk_overlap === undefined || body.chunk_overlap === null ? " (the default)" : ""}`);
  }
  if (!formatResults) throw invalid("format_results: long documents are merged in the formatted shape; false is not supported with long documents");
  return { chunkSize, chunkOverlap };
}

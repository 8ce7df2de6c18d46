/**
 * Shorthand schema flags of `gliner2 extract`, compiled into the hosted-API JSON schema (the same format a
 * `--schema` file holds), so both paths reach the library through one schema form.
 *
 *   --entities person,company            entity types; `name::description` adds a description
 *   --classify sentiment=positive,negative
 *   --classify multi:topics=tech,sports  `multi:` makes the task multi-label
 *   --relations works_for,located_in     relation types
 *   --json-struct 'product:name::str,price::str::Price with currency,size::[S|M|L]::str'
 *                                        a structure: its name, ':', then official field spec strings
 *                                        (`name::dtype::description`, `name::[a|b|c]::dtype`)
 *
 * Lists are comma-separated; commas inside `[...]` choices are kept, and `\,` is a literal comma (for
 * descriptions). Every flag can be repeated; a repeated structure name appends fields.
 */
import { UsageError } from "./errors.js";

/** The hosted-API JSON schema (official `SchemaAPI.build()` output), the subset the flags can express. */
export interface HostedSchemaJson {
  entities?: string[] | Record<string, string>;
  classifications?: Record<string, { labels: string[]; multi_label: boolean }>;
  structures?: Record<string, string[]>;
  relations?: string[] | Record<string, string>;
}

export interface SchemaFlags {
  readonly entities: readonly string[];
  readonly classify: readonly string[];
  readonly relations: readonly string[];
  readonly jsonStruct: readonly string[];
}

const COMMAND = "extract";

/** Split on commas that are neither escaped (`\,`) nor inside `[...]`; trims items and rejects empty ones. */
export function splitList(value: string, flag: string): string[] {
  const items: string[] = [];
  let current = "";
  let depth = 0;
  for (let i = 0; i < value.length; i++) {
    const c = value[i];
    if (c === "\\" && value[i + 1] === ",") {
      current += ",";
      i++;
    } else if (c === "[") {
      depth++;
      current += c;
    } else if (c === "]") {
      depth = Math.max(0, depth - 1);
      current += c;
    } else if (c === "," && depth === 0) {
      items.push(current);
      current = "";
    } else {
      current += c;
    }
  }
  items.push(current);
  const trimmed = items.map((s) => s.trim());
  const empty = trimmed.findIndex((s) => s === "");
  if (empty !== -1) throw new UsageError(COMMAND, `${flag} "${value}": item ${empty + 1} is empty`);
  return trimmed;
}

/** `name` or `name::description` items → a list of names, or a name → description map if any has one. */
function namesWithDescriptions(values: readonly string[], flag: string): string[] | Record<string, string> | undefined {
  if (values.length === 0) return undefined;
  const items = values.flatMap((v) => splitList(v, flag)).map((item) => {
    const sep = item.indexOf("::");
    const name = (sep === -1 ? item : item.slice(0, sep)).trim();
    const description = sep === -1 ? "" : item.slice(sep + 2).trim();
    if (name === "") throw new UsageError(COMMAND, `${flag} "${item}": the name before "::" is empty`);
    return { name, description };
  });
  const seen = new Set<string>();
  for (const { name } of items) {
    if (seen.has(name)) throw new UsageError(COMMAND, `${flag}: "${name}" is given twice`);
    seen.add(name);
  }
  if (items.every((i) => i.description === "")) return items.map((i) => i.name);
  return Object.fromEntries(items.map((i) => [i.name, i.description]));
}

/** `[multi:]task=label,label` → task config. */
function parseClassify(value: string): { task: string; labels: string[]; multi: boolean } {
  let rest = value.trim();
  const multi = rest.startsWith("multi:");
  if (multi) rest = rest.slice("multi:".length);
  const eq = rest.indexOf("=");
  if (eq === -1) throw new UsageError(COMMAND, `--classify "${value}": expected TASK=LABEL,LABEL (prefix "multi:" for multi-label)`);
  const task = rest.slice(0, eq).trim();
  if (task === "") throw new UsageError(COMMAND, `--classify "${value}": the task name before "=" is empty`);
  const labels = splitList(rest.slice(eq + 1), `--classify ${task}`);
  const dup = labels.find((l, i) => labels.indexOf(l) !== i);
  if (dup !== undefined) throw new UsageError(COMMAND, `--classify ${task}: label "${dup}" is given twice`);
  return { task, labels, multi };
}

/** `structure:spec,spec` → structure name and field spec strings (passed on verbatim to the library). */
function parseStruct(value: string): { name: string; fields: string[] } {
  // The structure name ends at the first single ':' (field specs use '::').
  const m = /^([^:]*?):(?!:)(.*)$/s.exec(value);
  if (m === null) throw new UsageError(COMMAND, `--json-struct "${value}": expected STRUCTURE:FIELD,FIELD (fields as "name::dtype::description")`);
  const name = m[1].trim();
  if (name === "") throw new UsageError(COMMAND, `--json-struct "${value}": the structure name before ":" is empty`);
  const fields = splitList(m[2], `--json-struct ${name}`);
  return { name, fields };
}

/** Compile the shorthand flags; returns null when none was given. */
export function schemaFromFlags(flags: SchemaFlags): HostedSchemaJson | null {
  const schema: HostedSchemaJson = {};
  const entities = namesWithDescriptions(flags.entities, "--entities");
  if (entities !== undefined) schema.entities = entities;
  if (flags.classify.length > 0) {
    schema.classifications = {};
    for (const v of flags.classify) {
      const { task, labels, multi } = parseClassify(v);
      if (task in schema.classifications) throw new UsageError(COMMAND, `--classify: task "${task}" is given twice`);
      schema.classifications[task] = { labels, multi_label: multi };
    }
  }
  if (flags.jsonStruct.length > 0) {
    const structures: Record<string, string[]> = {};
    for (const v of flags.jsonStruct) {
      const { name, fields } = parseStruct(v);
      structures[name] = [...(structures[name] ?? []), ...fields];
    }
    schema.structures = structures;
  }
  const relations = namesWithDescriptions(flags.relations, "--relations");
  if (relations !== undefined) schema.relations = relations;
  return Object.keys(schema).length === 0 ? null : schema;
}

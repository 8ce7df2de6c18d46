/**
 * Maps a golden case's `call` (the official API call as data, FIXTURES.md §2.1) onto our public API.
 *
 * Structure fields are declared as the call declared them (so output keys come in the official order); where the
 * official prompt put them in another order (Python set order, finding 9, recorded in `schema_tokens_list`), the
 * normalized schema carries that order as `promptOrder` and the call goes through `extract`/`batchExtract`.
 */
import type { CallOptions, GLiNER2 } from "../../src/gliner2.js";
import {
  createSchema,
  schemaFromEntityTypes,
  schemaFromRelationTypes,
  schemaFromStructures,
  schemaFromTasks,
  normalizeSchema,
  type Schema,
  type Structure,
  type SchemaBuilder,
  type SchemaInput,
  type StructureBuilder,
} from "../../src/schema/schema.js";
import type { GoldenCase } from "./golden.js";

type Json = unknown;
interface Op {
  op: "entities" | "classification" | "relations" | "structure" | "field";
  args: Json[];
  kwargs: Record<string, Json>;
}

/** Per structure name: field order of the official prompt. */
export function recordedFieldOrder(c: GoldenCase): Map<string, string[]> {
  const order = new Map<string, string[]>();
  for (const p of c.texts_prepared) {
    p.schema_tokens_list.forEach((tokens, s) => {
      if (p.task_types[s] !== "json_structures") return;
      const name = tokens[2].split(" [DESCRIPTION] ")[0];
      order.set(name, tokens.flatMap((t, i) => (t === "[C]" ? [tokens[i + 1]] : [])));
    });
  }
  return order;
}

const camel: Record<string, string> = { multi_label: "multiLabel", cls_threshold: "clsThreshold", class_act: "classAct" };
const camelKeys = (kw: Record<string, Json>) => Object.fromEntries(Object.entries(kw).map(([k, v]) => [camel[k] ?? k, v]));

/** Replay builder ops, declaring each structure's fields in the recorded prompt order. */
export function builderFromOps(ops: Op[]): SchemaBuilder | StructureBuilder {
  // Group each structure with its field ops so they can be reordered.
  let chain: SchemaBuilder | StructureBuilder = createSchema();
  for (let i = 0; i < ops.length; i++) {
    const { op, args, kwargs } = ops[i];
    if (op === "structure") {
      const name = args[0] as string;
      const fields: Op[] = [];
      while (i + 1 < ops.length && ops[i + 1].op === "field") fields.push(ops[++i]);
      let sb = chain.structure(name);
      for (const f of fields) {
        sb = sb.field(f.args[0] as string, { ...(f.kwargs as object) });
      }
      chain = sb;
    } else if (op === "entities") {
      chain = chain.entities(args[0] as never, kwargs as never);
    } else if (op === "relations") {
      chain = chain.relations(args[0] as never, kwargs as never);
    } else if (op === "classification") {
      chain = chain.classification(args[0] as string, args[1] as never, camelKeys(kwargs) as never);
    } else {
      throw new Error(`field op outside a structure in ${JSON.stringify(ops)}`);
    }
  }
  return chain;
}

export interface MappedCall {
  options: CallOptions & { batchSize?: number };
  /** Run the call on a model through the public API. */
  run(model: GLiNER2): Promise<unknown>;
  /** The normalized schema of text `i`, with the recorded prompt field order. */
  schemaFor(i: number): Schema;
  /** True when some structure's recorded prompt order differs from its declared order. */
  reordered: boolean;
}

export function mapCall(c: GoldenCase): MappedCall {
  const call = c.call as Record<string, Json>;
  const order = recordedFieldOrder(c);
  const options: CallOptions & { batchSize?: number } = {};
  if (call.threshold !== undefined) (options as { threshold?: number }).threshold = call.threshold as number;
  if (call.include_confidence !== undefined) (options as { includeConfidence?: boolean }).includeConfidence = call.include_confidence as boolean;
  if (call.format_results !== undefined) (options as { formatResults?: boolean }).formatResults = call.format_results as boolean;
  if (call.batch_size !== undefined) options.batchSize = call.batch_size as number;
  const text = call.text as string;
  const texts = call.texts as string[];
  const schemaOf = (): unknown => {
    if (call.schema_dict !== undefined) return call.schema_dict;
    return builderFromOps(call.schema as Op[]);
  };
  /** The schema of text `i` as the user-facing form the call used. */
  const rawSchemaFor = (i: number): SchemaInput => {
    switch (call.method) {
      case "extract_entities":
      case "batch_extract_entities":
        return schemaFromEntityTypes(call.entity_types as never);
      case "classify_text":
        return schemaFromTasks(call.tasks as never);
      case "extract_json":
        return schemaFromStructures(call.structures as never);
      case "extract_relations":
        return schemaFromRelationTypes(call.relation_types as never);
      default:
        if (call.schemas !== undefined) return builderFromOps((call.schemas as Op[][])[i]);
        return schemaOf() as SchemaInput;
    }
  };
  /** Normalized, with each structure's prompt order set to the recorded one where it differs (finding 9). */
  const schemaFor = (i: number): Schema => {
    const schema = normalizeSchema(rawSchemaFor(i));
    return { ...schema, structures: schema.structures.map((s) => withOrder(s, order.get(s.name))) };
  };
  const reordered = c.texts.some((_, i) => normalizeSchema(rawSchemaFor(i)).structures.some((s) => withOrder(s, order.get(s.name)) !== s));

  const run = async (m: GLiNER2): Promise<unknown> => {
    if (reordered) {
      // The recorded prompt order differs from the declared one: pass normalized schemas carrying it.
      if (call.method === "batch_extract" || call.method === "batch_extract_entities") {
        return m.batchExtract(texts, texts.map((_, i) => schemaFor(i)), options);
      }
      return m.extract(text, schemaFor(0), options);
    }
    switch (call.method) {
      case "extract_entities":
        return m.extractEntities(text, call.entity_types as never, options);
      case "classify_text":
        return m.classifyText(text, call.tasks as never, options);
      case "extract_json":
        return m.extractJson(text, call.structures as never, options);
      case "extract_relations":
        return m.extractRelations(text, call.relation_types as never, options);
      case "extract":
        return m.extract(text, schemaOf() as never, options);
      case "batch_extract":
        if (call.schemas !== undefined) return m.batchExtract(texts, (call.schemas as Op[][]).map((ops) => builderFromOps(ops)) as never, options);
        return m.batchExtract(texts, schemaOf() as never, options);
      case "batch_extract_entities":
        return m.batchExtractEntities(texts, call.entity_types as never, options);
      default:
        throw new Error(`unmapped method ${String(call.method)}`);
    }
  };
  return { options, run, schemaFor, reordered };
}

/** The structure with `promptOrder` set, or the same object when the recorded order is the declared one. */
function withOrder(s: Structure, recorded: string[] | undefined): Structure {
  const declared = s.fields.map((f) => f.name);
  if (!recorded || recorded.join("\u0000") === declared.join("\u0000")) return s;
  return { ...s, promptOrder: recorded };
}

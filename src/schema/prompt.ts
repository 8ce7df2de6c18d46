/**
 * Schema → prompt: the official processor's `transform_schema` / `infer_from_json` at inference. Each task becomes
 * `( [P] prompt ( [X] a [X] b … ) )` with X = [C] structure fields, [E] entity types, [R] relation head/tail,
 * [L] class labels; descriptions and few-shot examples are appended to the prompt text. Task order:
 * structures, entities, relations, classifications. Choice fields also put their choices in words before the
 * text, where the model scores them like text words.
 *
 * Decision (finding 9): structure fields go into the prompt in the order they were declared; the official
 * order is Python set order, which changes from process to process.
 */
import type { ClassificationPlan, PromptPlan, SchemaPlan, SpanSchemaPlan } from "./plan.js";
import { SchemaError } from "../errors.js";
import type { Schema } from "./schema.js";

const DESCRIPTION = "[DESCRIPTION]";
const EXAMPLE = "[EXAMPLE]";
const OUTPUT = "[OUTPUT]";

/** One task's token list: prompt text (with descriptions/examples) and its prefixed fields. */
function taskTokens(prompt: string, prefix: string, fields: readonly string[]): string[] {
  const tokens = ["(", "[P]", prompt, "("];
  for (const f of fields) tokens.push(prefix, f);
  tokens.push(")", ")");
  return tokens;
}

/** Append ` [DESCRIPTION] name: text` for each described name that is one of `fields`, in description order. */
function withDescriptions(prompt: string, descriptions: readonly (readonly [string, string])[], fields: readonly string[]): string {
  let out = prompt;
  for (const [name, text] of descriptions) if (fields.includes(name)) out += ` ${DESCRIPTION} ${name}: ${text}`;
  return out;
}

/** `( parent: field ( a | b ) , field ( … ) )` per structure that has choice fields. */
function choicePrefix(schema: Schema): string[] {
  const out: string[] = [];
  for (const s of schema.structures) {
    const inner: string[] = [];
    for (const f of s.fields) {
      if (!f.choices) continue;
      if (inner.length > 0) inner.push(",");
      inner.push(f.name, "(");
      f.choices.forEach((c, i) => inner.push(...(i > 0 ? ["|", c] : [c])));
      inner.push(")");
    }
    if (inner.length > 0) out.push("(", `${s.name}:`, ...inner, ")");
  }
  return out;
}

function checkedOrder(order: readonly string[], declared: readonly string[], structure: string): readonly string[] {
  const same = order.length === declared.length && declared.every((n) => order.includes(n));
  if (!same) throw new SchemaError(`structures.${structure}.promptOrder`, `must be a permutation of the fields [${declared.join(", ")}], got [${order.join(", ")}]`);
  return order;
}

export function buildPrompt(schema: Schema): PromptPlan {
  const schemaTokens: string[][] = [];
  const plans: SchemaPlan[] = [];

  for (const s of schema.structures) {
    const declared = s.fields.map((f) => f.name);
    const names = s.promptOrder ? checkedOrder(s.promptOrder, declared, s.name) : declared;
    // Descriptions are listed in declaration order whatever the prompt order (the official dict order).
    const descriptions = s.fields.filter((f) => f.description !== null).map((f) => [f.name, f.description!] as const);
    schemaTokens.push(taskTokens(withDescriptions(s.name, descriptions, names), "[C]", names));
    const plan: SpanSchemaPlan = {
      kind: "span",
      taskType: "json_structures",
      name: s.name,
      fieldNames: names,
      targets: s.fields.map((f) => ({ name: f.name, dtype: f.dtype, threshold: f.threshold, choices: f.choices, validators: f.validators })),
    };
    plans.push(plan);
  }

  if (schema.entities.length > 0) {
    const names = schema.entities.map((e) => e.name);
    schemaTokens.push(taskTokens(withDescriptions("entities", schema.entityDescriptions, names), "[E]", names));
    plans.push({
      kind: "span",
      taskType: "entities",
      name: "entities",
      fieldNames: names,
      targets: schema.entities.map((e) => ({ name: e.name, dtype: e.dtype, threshold: e.threshold, choices: null, validators: [] })),
    });
  }

  for (const r of schema.relations) {
    // Relation descriptions are not part of the prompt (finding 12): the model never saw them in training.
    const fields = ["head", "tail"];
    schemaTokens.push(taskTokens(r.name, "[R]", fields));
    plans.push({
      kind: "span",
      taskType: "relations",
      name: r.name,
      fieldNames: fields,
      targets: fields.map((name) => ({ name, dtype: "str", threshold: r.threshold, choices: null, validators: [] })),
    });
  }

  for (const c of schema.classifications) {
    let prompt = c.prompt ? `${c.name}: ${c.prompt}` : c.name;
    prompt = withDescriptions(prompt, c.labelDescriptions, c.labels);
    for (const [input, label] of c.examples) if (c.labels.includes(label)) prompt += ` ${EXAMPLE} ${input} ${OUTPUT} ${label}`;
    schemaTokens.push(taskTokens(prompt, "[L]", c.labels));
    const plan: ClassificationPlan = {
      kind: "classification",
      taskType: "classifications",
      name: c.name,
      labels: c.labels,
      multiLabel: c.multiLabel,
      clsThreshold: c.clsThreshold,
      classAct: c.classAct,
    };
    plans.push(plan);
  }

  return { schemaTokens, prefixTokens: choicePrefix(schema), plans };
}

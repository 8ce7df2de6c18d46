import { describe, expect, it } from "vitest";
import { SchemaError } from "../src/errors.js";
import { buildPrompt } from "../src/schema/prompt.js";
import {
  createSchema,
  normalizeSchema,
  parseFieldSpec,
  schemaFromJson,
  schemaFromStructures,
  schemaFromTasks,
  type SchemaInput,
} from "../src/schema/schema.js";

function schemaError(fn: () => unknown): SchemaError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(SchemaError);
    return e as SchemaError;
  }
  throw new Error("expected a SchemaError");
}

describe("builder", () => {
  it("merges repeated entities() calls like the official builder: positions kept, settings updated", () => {
    const s = createSchema()
      .entities(["person", "company"], { threshold: 0.4 })
      .entities({ company: { dtype: "str", description: "a business" }, city: "a place" })
      .build();
    expect(s.entities).toEqual([
      { name: "person", dtype: "list", threshold: 0.4 },
      { name: "company", dtype: "str", threshold: null },
      { name: "city", dtype: "list", threshold: null },
    ]);
    expect(s.entityDescriptions).toEqual([
      ["company", "a business"],
      ["city", "a place"],
    ]);
  });

  it("chains structures, fields and other tasks; the prompt follows the declared order", () => {
    const s = createSchema()
      .structure("product")
      .field("name", { dtype: "str" })
      .field("color", { choices: ["red", "blue"], description: "main color" })
      .relations({ made_by: "ignored in the prompt" })
      .classification("sentiment", { positive: "happy", negative: "unhappy" }, { prompt: "How does it feel?", examples: [["great", "positive"]] })
      .build();
    const p = buildPrompt(s);
    expect(p.schemaTokens).toEqual([
      ["(", "[P]", "product [DESCRIPTION] color: main color", "(", "[C]", "name", "[C]", "color", ")", ")"],
      ["(", "[P]", "made_by", "(", "[R]", "head", "[R]", "tail", ")", ")"],
      [
        "(",
        "[P]",
        "sentiment: How does it feel? [DESCRIPTION] positive: happy [DESCRIPTION] negative: unhappy [EXAMPLE] great [OUTPUT] positive",
        "(",
        "[L]",
        "positive",
        "[L]",
        "negative",
        ")",
        ")",
      ],
    ]);
    expect(p.prefixTokens).toEqual(["(", "product:", "color", "(", "red", "|", "blue", ")", ")"]);
    expect(p.plans.map((x) => x.name)).toEqual(["product", "made_by", "sentiment"]);
  });

  it("promptOrder reorders the prompt only, and must be a permutation", () => {
    const s = createSchema().structure("a").field("x").field("y").build();
    const reordered = { ...s, structures: [{ ...s.structures[0], promptOrder: ["y", "x"] }] };
    const plan = buildPrompt(reordered).plans[0];
    expect(plan.kind === "span" && plan.fieldNames).toEqual(["y", "x"]);
    expect(plan.kind === "span" && plan.targets.map((t) => t.name)).toEqual(["x", "y"]);
    const bad = { ...s, structures: [{ ...s.structures[0], promptOrder: ["y"] }] };
    expect(schemaError(() => buildPrompt(bad)).path).toBe("structures.a.promptOrder");
  });
});

describe("field spec strings", () => {
  it.each([
    ["name", { name: "name", dtype: "list" }],
    ["name::str", { name: "name", dtype: "str" }],
    ["name::the person's name", { name: "name", dtype: "list", description: "the person's name" }],
    ["room::[a|b c]", { name: "room", dtype: "str", choices: ["a", "b c"] }],
    ["room::[a|b]::list", { name: "room", dtype: "list", choices: ["a", "b"] }],
    // Finding 4, decided: the documented full form parses its dtype (official gave str + "list::desc").
    ["room::[a|b]::list::which rooms", { name: "room", dtype: "list", choices: ["a", "b"], description: "which rooms" }],
    ["notes::list::bad :: or annoying", { name: "notes", dtype: "list", description: "bad :: or annoying" }],
  ])("%s", (spec, expected) => {
    expect(parseFieldSpec(spec)).toEqual(expected);
  });

  it("rejects malformed specs with the field's path", () => {
    expect(schemaError(() => schemaFromStructures({ s: ["ok", "::str"] })).path).toBe("structures.s.fields[1]");
    expect(schemaError(() => schemaFromStructures({ s: ["x::[a|b"] })).message).toMatch(/must end with "\]"/);
    expect(schemaError(() => schemaFromStructures({ s: ["x::[a||b]"] })).message).toMatch(/empty choice/);
  });
});

describe("JSON schema forms", () => {
  it("hosted-API JSON schema", () => {
    const s = normalizeSchema({
      entities: { person: "people", city: "" },
      entity_dtype: "str",
      entity_threshold: 0.3,
      classifications: { tone: { labels: ["formal", "casual"], multi_label: true, cls_threshold: 0.4 } },
      structures: { order: ["item::str", { name: "qty", dtype: "list", threshold: 0.7 }] },
      relations: ["sold_to"],
      relation_threshold: 0.6,
    });
    expect(s.entities).toEqual([
      { name: "person", dtype: "str", threshold: 0.3 },
      { name: "city", dtype: "str", threshold: 0.3 },
    ]);
    expect(s.classifications[0]).toMatchObject({ name: "tone", multiLabel: true, clsThreshold: 0.4, classAct: "auto" });
    expect(s.structures[0].fields.map((f) => [f.name, f.dtype, f.threshold])).toEqual([
      ["item", "str", null],
      ["qty", "list", 0.7],
    ]);
    expect(s.relations).toEqual([{ name: "sold_to", threshold: 0.6, description: null }]);
  });

  it("official raw schema dict", () => {
    const s = normalizeSchema({
      json_structures: [{ job: { person: "", kind: { value: "", choices: ["full", "part"] } } }],
      entities: { person: "" },
      entity_descriptions: { person: "a human" },
      relations: [{ works_for: { head: "", tail: "" } }],
      classifications: [{ task: "topic", labels: ["a", "b"] }],
    });
    expect(s.structures[0].fields.map((f) => f.choices)).toEqual([null, ["full", "part"]]);
    expect(s.entityDescriptions).toEqual([["person", "a human"]]);
    expect(s.relations.map((r) => r.name)).toEqual(["works_for"]);
    expect(s.classifications[0].labels).toEqual(["a", "b"]);
  });

  it("classifyText tasks accept snake_case and camelCase settings", () => {
    const a = schemaFromTasks({ t: { labels: ["x", "y"], multi_label: true, class_act: "softmax" } }).build();
    const b = schemaFromTasks({ t: { labels: ["x", "y"], multiLabel: true, classAct: "softmax" } }).build();
    expect(a).toEqual(b);
    expect(a.classifications[0]).toMatchObject({ multiLabel: true, classAct: "softmax" });
  });
});

describe("invalid schemas name the offending part", () => {
  const cases: [string, () => unknown, string, RegExp][] = [
    ["empty label list", () => createSchema().classification("t", []), "classifications.t.labels", /at least one label/],
    ["duplicate labels", () => createSchema().classification("t", ["a", "a"]), "classifications.t.labels[1]", /duplicate label "a"/],
    ["duplicate task", () => createSchema().classification("t", ["a"]).classification("t", ["b"]), "classifications.t", /duplicate classification task/],
    ["threshold above 1", () => createSchema().entities(["a"], { threshold: 1.5 }), "entities(threshold)", /\[0, 1\]/],
    ["threshold not a number", () => createSchema().structure("s").field("f", { threshold: "0.5" as never }), "structures.s.fields[0].threshold", /\[0, 1\]/],
    ["unknown dtype", () => createSchema().entities({ a: { dtype: "set" as never } }), "entities.a.dtype", /"str" or "list"/],
    ["unknown class_act", () => createSchema().classification("t", ["a"], { classAct: "relu" as never }), "classifications.t.classAct", /"auto", "softmax" or "sigmoid"/],
    ["duplicate field", () => createSchema().structure("s").field("f").field("f"), "structures.s.fields[1]", /duplicate field "f"/],
    ["duplicate structure", () => createSchema().structure("s").field("f").structure("s"), "structures.s", /duplicate structure/],
    ["structure without fields", () => createSchema().structure("s").build(), "structures.s", /has no fields/],
    ["empty name", () => createSchema().entities(["  "]), "entities[0]", /must not be empty/],
    ["non-string name", () => createSchema().entities([3 as never]), "entities[0]", /must be a string, got number/],
    ["control token in a name", () => createSchema().entities(["a [E] b"]), "entities[0]", /control token \[E\]/],
    ["empty choices", () => createSchema().structure("s").field("f", { choices: [] }), "structures.s.fields[0].choices", /non-empty/],
    ["invalid regex", () => createSchema().structure("s").field("f", { validators: [{ pattern: "(" }] }), "structures.s.fields[0].validators[0]", /./],
    ["unknown option", () => createSchema().structure("s").field("f", { dtyp: "str" } as never), "structures.s.fields[0].dtyp", /unknown option/],
    ["unknown JSON key", () => schemaFromJson({ entity: ["a"] }), "entity", /^schema entity: unknown option/],
    ["empty entity list", () => createSchema().entities([]), "entities", /must not be empty/],
  ];
  it.each(cases)("%s", (_, fn, path, message) => {
    const err = schemaError(fn);
    expect(err.path).toBe(path);
    expect(err.message).toMatch(message);
  });

  it("per-text schemas are located by index", () => {
    const err = schemaError(() => normalizeSchema({ classifications: { t: [] } } as SchemaInput, "schemas[2]"));
    expect(err.path).toBe("schemas[2].classifications.t.labels");
  });
});

/**
 * Validator patterns: what Python's `re` rejects is rejected, and a runaway match ends in a SchemaError after a
 * bounded number of steps instead of hanging (src/schema/regexvm.ts). The budgeted matcher agrees with JS's RegExp.
 */
import { describe, expect, it } from "vitest";
import { SchemaError } from "../src/errors.js";
import { compilePyRegex, compileValidator } from "../src/schema/pyregex.js";
import { compileBudgeted } from "../src/schema/regexvm.js";
import { GLiNER2 } from "../src/gliner2.js";
import { createSchema } from "../src/schema/schema.js";
import { checkpointDir } from "./helpers/golden.js";

describe("validator patterns", () => {
  it("reject what Python rejects: unbalanced parentheses, variable-width look-behind", () => {
    // Before: `[0-9]+)|(.*` escaped the full-match wrapper as `^(?:[0-9]+)|(.*)$` and accepted anything.
    expect(() => compilePyRegex("[0-9]+)|(.*", "", "v")).toThrow(SchemaError);
    expect(() => compilePyRegex("[0-9]+)|(.*", "", "v")).toThrow(/unbalanced parenthesis at position 6/);
    expect(() => compilePyRegex("(ab", "", "v")).toThrow(/missing \), unterminated subpattern at position 0/);
    expect(() => compilePyRegex("a)", "", "v")).toThrow(/unbalanced parenthesis/);
    expect(() => compileValidator({ pattern: "(?<=a|bc)x", mode: "partial", exclude: false, flags: "" }, "v")).toThrow(/look-behind requires fixed-width pattern/);
    // Balanced forms, comments and named back-references still work.
    expect(compileValidator({ pattern: "(?P<x>a)(?#c)(?P=x)", mode: "full", exclude: false, flags: "" }, "v")("aa")).toBe(true);
    expect(compileValidator({ pattern: "(?<=\\$)\\d+", mode: "partial", exclude: false, flags: "" }, "v")("$12")).toBe(true);
  });

  it("end a runaway match with a SchemaError after a bounded number of steps", () => {
    const v = compileValidator({ pattern: "(a|aa)+$", mode: "partial", exclude: false, flags: "i" }, "structures.s.fields[0].validators[0]");
    const word = `${"a".repeat(33)}!`; // 7.7 s in the JS engine
    expect(() => v(word)).toThrow(SchemaError);
    expect(() => v(word)).toThrow(/structures\.s\.fields\[0\]\.validators\[0\]: regex "\(a\|aa\)\+\$" gave up after 1000000 steps on a 34-character span/);
    expect(v("aaaa")).toBe(true);
  });

  it("the budgeted matcher agrees with RegExp on ordinary patterns", () => {
    const cases: [string, string, string[]][] = [
      ["(a|aa)+$", "i", ["aaaa", "b", "aab"]],
      ["\\d+(?:\\.\\d+)?", "", ["12.5", "x", "1."]],
      ["(?P<x>a+)b(?P=x)", "i", ["aabaa", "abaa", "AbA"]],
      ["\\bfoo\\b", "i", ["a foo b", "foobar"]],
      ["(?<=a)b", "", ["ab", "cb"]],
      ["^$", "", ["", "x"]],
      ["(a*)*b", "", ["aaab", "aaa"]],
      ["x{2,3}?y", "", ["xxy", "xy", "xxxxy"]],
      ["[^\\W\\d]+", "", ["héllo1", "123"]],
      ["ß", "i", ["SS", "ß", "ẞ"]],
      ["[A-Z][a-z]+ [A-Z]\\.", "", ["Tim C.", "tim c."]],
      ["😀+", "", ["😀😀", "x"]],
    ];
    for (const [pat, flags, inputs] of cases) {
      for (const mode of ["full", "partial"] as const) {
        const re = compilePyRegex(pat, flags, "t", mode);
        const vm = compileBudgeted(re.source, re.flags, "t", pat);
        for (const s of inputs) expect(vm.test(s), `${pat} ${mode} ${s}`).toBe(re.test(s));
      }
    }
  });

  it("a runaway validator during extraction is a SchemaError, not a hang", async () => {
    const model = await GLiNER2.fromPretrained(checkpointDir("tiny-count_lstm_v2"));
    const schema = createSchema().structure("s").field("x", { validators: [{ pattern: "(a|aa)+$", mode: "partial" }] });
    // Low threshold so that spans reach the validator.
    const run = model.extract(`${"a".repeat(40)}! ${"a".repeat(40)}`, schema, { threshold: 0 });
    await expect(run).rejects.toThrow(/gave up after/);
  });
});

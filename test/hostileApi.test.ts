/** Bad input through the public API: each case a typed error naming what was wrong, in bounded time. */
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ConfigError, Gliner2Error, InputError, SafetensorsError, SchemaError, WeightsError } from "../src/errors.js";
import { GLiNER2 } from "../src/gliner2.js";
import { parseExtractorConfig } from "../src/model/config.js";
import { parseSafetensors } from "../src/model/safetensors.js";
import { describeValue, safeMessage } from "../src/quote.js";
import { createSchema, normalizeSchema } from "../src/schema/schema.js";
import { checkpointDir } from "./helpers/golden.js";
import { repoRoot } from "./runtimes/build.js";

async function rejection(p: Promise<unknown> | (() => unknown)): Promise<Error> {
  try {
    await (typeof p === "function" ? p() : p);
  } catch (e) {
    return e as Error;
  }
  throw new Error("expected an error");
}

describe("options", async () => {
  const model = await GLiNER2.fromPretrained(checkpointDir("tiny-count_lstm_v2"));

  it("rejects unknown option keys, naming the key and the likely intended one", async () => {
    const err = await rejection(model.extractEntities("Tim Cook leads Apple.", ["person"], { treshold: 0 } as never));
    expect(err).toBeInstanceOf(InputError);
    expect((err as InputError).argument).toBe("options.treshold");
    expect(err.message).toMatch(/unknown option "treshold" \(did you mean "threshold"\?\)/);
    const batch = await rejection(model.batchExtractEntities(["a"], ["person"], { batch_size: 2 } as never));
    expect(batch.message).toMatch(/unknown option "batch_size" \(did you mean "batchSize"\?\)/);
    const load = await rejection(GLiNER2.fromPretrained(checkpointDir("tiny-count_lstm_v2"), { maxToken: 10 } as never));
    expect(load.message).toMatch(/options\.maxToken: unknown option "maxToken" \(did you mean "maxTokens"\?\)/);
    // An option set to undefined (spread defaults) is not a key to complain about.
    await expect(model.extract("a", { entities: ["x"] }, { batchSize: undefined } as never)).resolves.toBeDefined();
  });

  it("validates maxTokens (NaN, Infinity, 0 and fractions would switch the limit off or break it)", async () => {
    for (const bad of [NaN, Infinity, 0, -3, 2.5, "100"]) {
      const err = await rejection(GLiNER2.fromPretrained(checkpointDir("tiny-count_lstm_v2"), { maxTokens: bad as number }));
      expect(err, String(bad)).toBeInstanceOf(InputError);
      expect((err as InputError).argument).toBe("maxTokens");
    }
    const nan = await rejection(GLiNER2.fromPretrained(checkpointDir("tiny-count_lstm_v2"), { maxTokens: NaN }));
    expect(nan.message).toMatch(/got NaN/); // not JSON's "got null"
  });

  it("reports NaN as NaN, not null", async () => {
    const err = await rejection(model.extractEntities("a", ["person"], { threshold: NaN }));
    expect(err.message).toMatch(/got NaN$/);
    expect(describeValue(NaN)).toBe("NaN");
    expect(describeValue(-Infinity)).toBe("-Infinity");
  });

  it("refuses a text over the character limit before splitting it (1 MB of '-' in one go)", async () => {
    const small = await GLiNER2.fromPretrained(checkpointDir("tiny-count_lstm_v2"), { maxTokens: 64 });
    expect(small.maxChars).toBe(64 * 32);
    const err = await rejection(small.extractEntities("-".repeat(1_000_000), ["person"]));
    expect(err).toBeInstanceOf(InputError);
    expect((err as InputError).argument).toBe("text");
    expect(err.message).toMatch(/is 1000000 characters, over the 2048-character limit/);
    const batch = await rejection(small.batchExtractEntities(["ok", "x".repeat(5000)], ["person"]));
    expect((batch as InputError).argument).toBe("texts[1]");
  });
});

describe("loading from files", () => {
  const dir = checkpointDir("tiny-count_lstm_v2");
  const files = () => ({
    config: readFileSync(join(dir, "config.json"), "utf8"),
    encoderConfig: readFileSync(join(dir, "encoder_config/config.json"), "utf8"),
    tokenizer: readFileSync(join(dir, "tokenizer.json"), "utf8"),
    weights: new Uint8Array(readFileSync(join(dir, "model.safetensors"))),
  });

  it("fromFiles(null) and wrongly typed fields are InputErrors, not TypeErrors", () => {
    for (const bad of [null, undefined, 42, "dir", []]) {
      const err = (() => {
        try {
          GLiNER2.fromFiles(bad as never);
        } catch (e) {
          return e;
        }
      })();
      expect(err, String(bad)).toBeInstanceOf(InputError);
    }
    expect(() => GLiNER2.fromFiles({ ...files(), weights: 1e10 as never })).toThrow(/files\.weights: must be the bytes of model\.safetensors/);
    expect(() => GLiNER2.fromFiles({ ...files(), config: null as never })).toThrow(/files\.config/);
    expect(() => GLiNER2.fromFiles(files())).not.toThrow();
  });

  it("a huge max_width is a ConfigError naming the field", () => {
    expect(() => parseExtractorConfig({ max_width: 1e9 }, "x/config.json")).toThrow(ConfigError);
    expect(() => parseExtractorConfig({ max_width: 1e9 }, "x/config.json")).toThrow(/x\/config\.json \(field "max_width"\): must be at most 64/);
  });
});

describe("messages that quote user data", () => {
  it("escape control characters and are capped in length", () => {
    const osc = "\u001b]0;pwned\u0007";
    const err = new InputError("text", `bad value ${osc} \u009b31m \u202e end`);
    expect(err.message).not.toMatch(/[\u0000-\u001f\u007f-\u009f\u202e]/);
    expect(err.message).toContain("\\u001b]0;pwned\\u0007");
    const huge = new Gliner2Error("X", "y".repeat(4_000_000));
    expect(huge.message.length).toBeLessThan(5000);
    expect(huge.message).toMatch(/characters omitted/);
    expect(safeMessage("a\nb")).toBe("a\\nb");
  });
});

describe("Deno without --allow-read", () => {
  const deno = join(repoRoot, "node_modules", ".bin", "deno");
  it.skipIf(!existsSync(deno))("reports a permission problem, not 'not found', for a folder that exists", () => {
    const script = join(mkdtempSync(join(tmpdir(), "gliner2-deno-")), "t.ts");
    writeFileSync(
      script,
      `import { resolveCheckpoint } from ${JSON.stringify(join(repoRoot, "src", "hub", "resolve.ts"))};\n` +
        `try { await resolveCheckpoint(Deno.args[0]); console.log("loaded"); } catch (e) { console.log(e.name + ": " + e.message); }\n`,
    );
    const res = spawnSync(deno, ["run", "--sloppy-imports", "--no-config", "--allow-env", script, checkpointDir("tiny-count_lstm_v2")], { encoding: "utf8", timeout: 60_000 });
    expect(res.stdout, res.stderr).toMatch(/^InputError: source: .* cannot be accessed \(NotCapable: .*--allow-read/);
    expect(res.stdout).not.toMatch(/not found/);
  });
});

describe("schemas", () => {
  const schemaError = (input: unknown) => {
    try {
      normalizeSchema(input as never);
    } catch (e) {
      expect(e).toBeInstanceOf(SchemaError);
      return (e as Error).message;
    }
    throw new Error("no error");
  };
  const valid = createSchema()
    .entities({ person: { description: "a human", threshold: 0.3 }, company: "a firm" })
    .structure("product")
    .field("name", { dtype: "str", validators: [{ pattern: "[a-z]+" }] })
    .field("size", { choices: ["S", "M"], description: "size" })
    .relations({ works_for: { threshold: 0.4 } })
    .classification("sentiment", { positive: "good", negative: "bad" }, { multiLabel: true, clsThreshold: 0.2 })
    .build();

  it("validates a normalized schema like every other form (no bypass)", () => {
    expect(normalizeSchema(valid)).toEqual(valid);
    const bad = (patch: (s: Record<string, unknown>) => void) => {
      const s = structuredClone(valid) as unknown as Record<string, unknown>;
      patch(s);
      return schemaError(s);
    };
    expect(bad((s) => ((s.entities as { threshold: number }[])[0].threshold = 7))).toMatch(/threshold: must be a number in \[0, 1\], got 7/);
    expect(bad((s) => ((s.entities as { dtype: string }[])[1].dtype = "weird"))).toMatch(/must be "str" or "list", got "weird"/);
    expect(bad((s) => ((s.classifications as { labels: unknown }[])[0].labels = "positive"))).toMatch(/labels: must be a list/);
    expect(bad((s) => ((s.structures as { fields: unknown }[])[0].fields = [{ name: 3 }]))).toMatch(/name: must be a string, got number/);
    expect(bad((s) => ((s.relations as unknown[])[0] = null))).toMatch(/relations\[0\]: must be an object/);
    expect(bad((s) => (s.extra = 1))).toMatch(/extra: unknown option/);
  });

  it("refuses an empty schema object ({} as a schema file) instead of answering {}", () => {
    expect(schemaError({})).toMatch(/asks for nothing/);
    expect(schemaError({ entities: [], entityDescriptions: [], structures: [], relations: [], classifications: [] })).toMatch(/asks for nothing/);
  });

  it("quotes deeply nested values without overflowing the stack", () => {
    let deep: unknown = 1;
    for (let i = 0; i < 100_000; i++) deep = [deep];
    expect(schemaError({ entities: { a: { threshold: deep } } })).toMatch(/threshold: must be a number in \[0, 1\], got an array of 1/);
    expect(schemaError({ entities: ["a"], entity_threshold: { x: deep } })).toMatch(/got an object/);
  });
});

describe("weights", () => {
  const dir = checkpointDir("tiny-count_lstm_v2");
  const base = () => ({
    config: readFileSync(join(dir, "config.json"), "utf8"),
    encoderConfig: readFileSync(join(dir, "encoder_config/config.json"), "utf8"),
    tokenizer: readFileSync(join(dir, "tokenizer.json"), "utf8"),
    weights: new Uint8Array(readFileSync(join(dir, "model.safetensors"))),
  });

  /** The checkpoint with element `at` of tensor `name` set to `value`. */
  function poisoned(name: string, at: number, value: number) {
    const files = base();
    const st = parseSafetensors(files.weights);
    const info = st.info(name);
    const headerLen = Number(new DataView(files.weights.buffer, files.weights.byteOffset, 8).getBigUint64(0, true));
    const view = new DataView(files.weights.buffer, files.weights.byteOffset + 8 + headerLen + info.begin);
    if (info.dtype === "F32") view.setFloat32(at * 4, value, true);
    else if (info.dtype === "BF16") view.setUint16(at * 2, new Uint32Array(new Float32Array([value]).buffer)[0] >>> 16, true);
    else view.setUint16(at * 2, Number.isNaN(value) ? 0x7e00 : value > 0 ? 0x7c00 : 0xfc00, true);
    return files;
  }

  it("NaN or ±Inf in any weight is a WeightsError naming the tensor, at load", () => {
    const names = parseSafetensors(base().weights).names();
    // Encoder, heads and the count embedding (read by another path) all get checked.
    const picks = [names.find((n) => n.includes("word_embeddings"))!, names.find((n) => n.startsWith("count_embed.pos_embedding"))!, names[names.length - 1]];
    for (const [k, name] of picks.entries()) {
      const value = [NaN, Infinity, -Infinity][k];
      let err: unknown;
      try {
        GLiNER2.fromFiles(poisoned(name, 3, value));
      } catch (e) {
        err = e;
      }
      expect(err, name).toBeInstanceOf(WeightsError);
      expect((err as WeightsError).tensor).toBe(name);
      expect((err as Error).message).toContain(`element 3 is ${value}`);
    }
  });

  it("a safetensors header nested 100,000 deep is a SafetensorsError, not a stack overflow", () => {
    const json = `{"a":{"dtype":"F32","shape":${"[".repeat(100_000)}${"]".repeat(100_000)},"data_offsets":[0,0]}}`;
    const header = new TextEncoder().encode(json);
    const bytes = new Uint8Array(8 + header.length);
    new DataView(bytes.buffer).setBigUint64(0, BigInt(header.length), true);
    bytes.set(header, 8);
    expect(() => parseSafetensors(bytes, "deep.safetensors")).toThrow(SafetensorsError);
    expect(() => parseSafetensors(bytes, "deep.safetensors")).toThrow(/shape must be an array of non-negative integers, got an array of 1/);
  });
});

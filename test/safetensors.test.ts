import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ConfigError, SafetensorsError, WeightsError } from "../src/errors.js";
import { parseEncoderConfig, parseExtractorConfig } from "../src/model/config.js";
import { loadDebertaEncoder } from "../src/model/deberta.js";
import { halfToFloat, MAX_HEADER_BYTES, parseSafetensors, readSafetensorsFile } from "../src/model/safetensors.js";

interface Entry {
  dtype: string;
  shape: number[];
  data_offsets: [number, number];
}

/** Assemble a safetensors buffer from a header object and a data area (header is serialised as given). */
function build(header: Record<string, unknown> | string, data: Uint8Array = new Uint8Array(0), lengthOverride?: bigint): Uint8Array {
  const json = new TextEncoder().encode(typeof header === "string" ? header : JSON.stringify(header));
  const out = new Uint8Array(8 + json.length + data.length);
  new DataView(out.buffer).setBigUint64(0, lengthOverride ?? BigInt(json.length), true);
  out.set(json, 8);
  out.set(data, 8 + json.length);
  return out;
}

function f32Bytes(values: number[]): Uint8Array {
  return new Uint8Array(new Float32Array(values).buffer);
}

function expectError(fn: () => unknown, pattern: RegExp, tensor?: string): SafetensorsError {
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  expect(caught).toBeInstanceOf(SafetensorsError);
  const err = caught as SafetensorsError;
  expect(err.message).toMatch(pattern);
  expect(err.file).toBe("test.safetensors");
  if (tensor !== undefined) expect(err.tensor).toBe(tensor);
  return err;
}

const parse = (bytes: Uint8Array) => parseSafetensors(bytes, "test.safetensors");

describe("safetensors reader", () => {
  it("reads every supported dtype with its values", () => {
    const f16 = new Uint8Array(new Uint16Array([0x3c00, 0xc000, 0x0001, 0x7c00]).buffer); // 1, -2, 2^-24, +inf
    const bf16 = new Uint8Array(new Uint16Array([0x3f80, 0xc040]).buffer); // 1, -3
    const i64 = new Uint8Array(new BigInt64Array([-5n, 1234567890123n]).buffer);
    const parts: [string, string, number[], Uint8Array][] = [
      ["a", "F32", [2, 2], f32Bytes([1, 2.5, -3, 4])],
      ["h", "F16", [4], f16],
      ["b", "BF16", [2], bf16],
      ["i8", "I8", [3], new Uint8Array([255, 1, 128])],
      ["u8", "U8", [3], new Uint8Array([255, 1, 128])],
      ["i32", "I32", [2], new Uint8Array(new Int32Array([-7, 9]).buffer)],
      ["i64", "I64", [2], i64],
    ];
    const header: Record<string, Entry | Record<string, string>> = { __metadata__: { format: "pt" } };
    let offset = 0;
    for (const [name, dtype, shape, bytes] of parts) {
      header[name] = { dtype, shape, data_offsets: [offset, offset + bytes.length] };
      offset += bytes.length;
    }
    const data = new Uint8Array(offset);
    offset = 0;
    for (const [, , , bytes] of parts) {
      data.set(bytes, offset);
      offset += bytes.length;
    }
    const st = parse(build(header, data));
    expect(st.metadata).toEqual({ format: "pt" });
    expect(Array.from(st.f32("a", [2, 2]))).toEqual([1, 2.5, -3, 4]);
    expect(Array.from(st.f32("h"))).toEqual([1, -2, 2 ** -24, Infinity]);
    expect(Array.from(st.f32("b"))).toEqual([1, -3]);
    expect(Array.from(st.tensor("i8").data as Int8Array)).toEqual([-1, 1, -128]);
    expect(st.ints("u8")).toEqual([255, 1, 128]);
    expect(st.ints("i32")).toEqual([-7, 9]);
    expect(st.ints("i64")).toEqual([-5, 1234567890123]);
    expect(() => st.f32("i32")).toThrow(/expected a float tensor, found I32/);
    expect(() => st.f32("a", [4])).toThrow(/shape \[2, 2\] does not match the expected \[4\]/);
  });

  it("decodes unaligned float32 data (odd header length) correctly", () => {
    let header = JSON.stringify({ x: { dtype: "F32", shape: [3], data_offsets: [0, 12] } });
    while (header.length % 4 !== 1) header += " ";
    expect(header.length % 4).not.toBe(0);
    const st = parse(build(header, f32Bytes([0.5, -1.25, 3])));
    expect(Array.from(st.f32("x"))).toEqual([0.5, -1.25, 3]);
  });

  it("halfToFloat covers subnormals, NaN and signs", () => {
    expect(halfToFloat(0x0000)).toBe(0);
    expect(halfToFloat(0x8000)).toBe(-0);
    expect(halfToFloat(0x03ff)).toBeCloseTo(6.097555e-5, 10);
    expect(halfToFloat(0x7bff)).toBe(65504);
    expect(halfToFloat(0xfc00)).toBe(-Infinity);
    expect(halfToFloat(0x7e00)).toBeNaN();
  });

  it("rejects a file too short for the header length", () => {
    expectError(() => parse(new Uint8Array(5)), /5 bytes, too short/);
  });

  it("rejects a header length past the end of the file", () => {
    const good = build({ x: { dtype: "F32", shape: [1], data_offsets: [0, 4] } }, f32Bytes([1]));
    expectError(() => parse(good.subarray(0, 20)), /runs past the end of the 20-byte file/);
  });

  it("rejects an absurd header length without allocating it", () => {
    expectError(() => parse(build("{}", new Uint8Array(0), 2n ** 62n)), new RegExp(`exceeds the ${MAX_HEADER_BYTES}-byte maximum`));
    expectError(() => parse(build("{}", new Uint8Array(0), BigInt(MAX_HEADER_BYTES + 1))), /exceeds/);
  });

  it("rejects malformed JSON and non-object headers", () => {
    expectError(() => parse(build('{"x": {"dtype": "F32",')), /not valid JSON/);
    expectError(() => parse(build("[1, 2]")), /must be an object/);
    expectError(() => parse(build({ x: 5 })), /header entry must be an object/, "x");
    expectError(() => parse(build({ __metadata__: { a: 1 } })), /__metadata__\["a"\] must be a string/);
  });

  it("rejects invalid UTF-8 in the header", () => {
    const bytes = build('{"x":1}');
    bytes[10] = 0xff;
    expectError(() => parse(bytes), /not valid UTF-8/);
  });

  it("rejects offsets out of range, reversed or inconsistent with dtype × shape", () => {
    const data = f32Bytes([1, 2]);
    expectError(() => parse(build({ x: { dtype: "F32", shape: [4], data_offsets: [0, 16] } }, data)), /run past the 8-byte data area/, "x");
    expectError(() => parse(build({ x: { dtype: "F32", shape: [1], data_offsets: [8, 4] } }, data)), /reversed/, "x");
    expectError(() => parse(build({ x: { dtype: "F32", shape: [3], data_offsets: [0, 8] } }, data)), /needs 12 bytes but data_offsets give 8/, "x");
    expectError(() => parse(build({ x: { dtype: "F32", shape: [-1], data_offsets: [0, 8] } }, data)), /non-negative integers/, "x");
    expectError(() => parse(build({ x: { dtype: "F32", shape: [2], data_offsets: [0] } }, data)), /data_offsets must be/, "x");
    expectError(() => parse(build({ x: { dtype: "F32", shape: [2 ** 40, 2 ** 40], data_offsets: [0, 8] } }, data)), /needs/, "x");
  });

  it("rejects overlapping tensors, even behind an empty one", () => {
    const data = new Uint8Array(16);
    expectError(
      () => parse(build({ a: { dtype: "F32", shape: [2], data_offsets: [0, 8] }, b: { dtype: "F32", shape: [2], data_offsets: [4, 12] } }, data)),
      /overlaps tensor "a"/,
      "b",
    );
    expectError(
      () =>
        parse(
          build(
            {
              a: { dtype: "F32", shape: [4], data_offsets: [0, 16] },
              e: { dtype: "F32", shape: [0], data_offsets: [4, 4] },
              c: { dtype: "F32", shape: [1], data_offsets: [8, 12] },
            },
            data,
          ),
        ),
      /overlaps tensor "a"/,
      "c",
    );
  });

  it("rejects unknown and unsupported dtypes by name", () => {
    expectError(() => parse(build({ x: { dtype: "Q4", shape: [1], data_offsets: [0, 1] } }, new Uint8Array(1))), /"Q4" is not a known safetensors dtype/, "x");
    expectError(() => parse(build({ x: { dtype: "F64", shape: [1], data_offsets: [0, 8] } }, new Uint8Array(8))), /"F64" is not supported/, "x");
  });

  it("names a missing tensor", () => {
    const st = parse(build({ x: { dtype: "F32", shape: [1], data_offsets: [0, 4] } }, f32Bytes([1])));
    expectError(() => st.tensor("y"), /tensor not found/, "y");
  });

  it("reports unreadable files and truncated checkpoints on disk with the path", async () => {
    const dir = mkdtempSync(join(tmpdir(), "st-"));
    await expect(readSafetensorsFile(join(dir, "nope.safetensors"))).rejects.toThrow(/nope\.safetensors: cannot read file \(ENOENT\)/);
    const real = readFileSync(new URL("./fixtures/tiny-count_lstm/model.safetensors", import.meta.url));
    const cut = join(dir, "cut.safetensors");
    writeFileSync(cut, real.subarray(0, real.length - 100));
    const err = await readSafetensorsFile(cut).catch((e) => e);
    expect(err).toBeInstanceOf(SafetensorsError);
    expect(err.message).toContain("cut.safetensors");
    expect(err.message).toMatch(/run past the .*-byte data area/);
  });
});

describe("configs", () => {
  const encoderJson = () =>
    JSON.parse(readFileSync(new URL("./fixtures/tiny-count_lstm_v2/encoder_config/config.json", import.meta.url), "utf8"));

  it("parses the fixture configs", () => {
    const enc = parseEncoderConfig(encoderJson());
    expect(enc).toMatchObject({ hiddenSize: 64, numLayers: 2, numHeads: 4, intermediateSize: 128, vocabSize: 2011, positionBuckets: 256, maxRelativePositions: 512, attSpan: 256, c2p: true, p2c: true });
    expect(parseExtractorConfig({ counting_layer: "count_lstm_v2", max_width: 8, token_pooling: "first" })).toEqual({ maxWidth: 8, countingLayer: "count_lstm_v2", tokenPooling: "first" });
  });

  it.each([
    ["position_biased_input", true, /absolute position embeddings/],
    ["relative_attention", false, /relative \(disentangled\) attention/],
    ["conv_kernel_size", 3, /convolution/],
    ["share_att_key", false, /separate position key\/query/],
    ["hidden_act", "gelu_new", /exact-erf/],
    ["pos_att_type", ["p2p"], /only "c2p" and "p2c"/],
    ["hidden_size", "64", /must be an integer/],
    ["num_attention_heads", 5, /not divisible/],
    ["model_type", "bert", /not implemented/],
  ])("rejects encoder option %s = %j", (field, value, pattern) => {
    const cfg = { ...encoderJson(), [field]: value };
    let err: unknown;
    try {
      parseEncoderConfig(cfg);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).field).toBe(field);
    expect((err as Error).message).toMatch(pattern);
    expect((err as Error).message).toContain("encoder_config/config.json");
  });

  it("rejects unknown counting layers and pooling", () => {
    expect(() => parseExtractorConfig({ counting_layer: "count_moe" })).toThrow(/counting layer "count_moe" is not implemented/);
    expect(() => parseExtractorConfig({ token_pooling: "mean" })).toThrow(ConfigError);
    expect(() => parseExtractorConfig("{not json")).toThrow(/not valid JSON/);
  });

  it("a checkpoint whose tensors do not fit the config names the tensor", () => {
    const cfg = parseEncoderConfig({ ...encoderJson(), hidden_size: 32, num_attention_heads: 4 });
    const bytes = readFileSync(new URL("./fixtures/tiny-count_lstm_v2/model.safetensors", import.meta.url));
    const st = parseSafetensors(bytes, "model.safetensors");
    expect(() => loadDebertaEncoder(st, cfg)).toThrow(WeightsError);
    expect(() => loadDebertaEncoder(st, cfg)).toThrow(/encoder\.embeddings\.word_embeddings\.weight.*\[2011, 64\].*expected \[2011, 32\]/);
    const deep = parseEncoderConfig({ ...encoderJson(), num_hidden_layers: 3 });
    expect(() => loadDebertaEncoder(st, deep)).toThrow(/encoder\.encoder\.layer\.2\.attention\.self\.query_proj\.weight": missing/);
  });
});

describe("transient reads (quantizing at load)", () => {
  it("f32Transient gives f32Range's values, reusing one scratch buffer on a file opened from disk", async () => {
    const { openSafetensorsFile } = await import("../src/model/safetensors.js");
    const { bytesOf, writeSafetensorsBuffer } = await import("../src/model/safetensorsWriter.js");
    const a = Float32Array.from({ length: 600 }, (_, i) => Math.sin(i) * 3);
    const b = Float32Array.from({ length: 90 }, (_, i) => i - 45.5);
    const path = join(mkdtempSync(join(tmpdir(), "gliner2-st-")), "t.safetensors");
    writeFileSync(path, writeSafetensorsBuffer([{ name: "a", dtype: "F32", shape: [20, 30], bytes: bytesOf(a) }, { name: "b", dtype: "F32", shape: [3, 30], bytes: bytesOf(b) }]));
    const { file, close } = await openSafetensorsFile(path);
    try {
      const x = file.f32Transient("a", 60, 300);
      expect(Array.from(x)).toEqual(Array.from(a.subarray(60, 360)));
      const y = file.f32Transient("b", 30, 60);
      expect(Array.from(y)).toEqual(Array.from(b.subarray(30, 90)));
      expect(y.buffer).toBe(x.buffer); // same scratch: x is no longer valid
      expect(Array.from(file.f32Range("a", 0, 600))).toEqual(Array.from(a)); // ordinary reads stay fresh buffers
      expect(file.f32Range("a", 0, 10).buffer).not.toBe(x.buffer);
      expect(() => file.f32Transient("a", 590, 20)).toThrow(RangeError);
    } finally {
      close();
    }
  });
});

/**
 * The compact vocabulary and tokenizer.json's fast scanner (src/text/tokenizer/vocab.ts): on the released file it
 * must give exactly what JSON.parse gives, and on anything unusual it must step aside (null) so the ordinary
 * parse decides.
 */
import { readFileSync } from "node:fs";
import { gunzipSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import { TokenizerError } from "../src/errors.js";
import { loadTokenizer } from "../src/text/tokenizer.js";
import { pieceAt, pieceEquals, scanTokenizerJson, vocabFromPieces } from "../src/text/tokenizer/vocab.js";

const text = gunzipSync(readFileSync(new URL("./fixtures/real-tokenizer/tokenizer.json.gz", import.meta.url))).toString("utf8");
const tiny = readFileSync(new URL("./fixtures/tiny-count_lstm/tokenizer.json", import.meta.url), "utf8");

describe("scanTokenizerJson", () => {
  it("reads the released 128,000-piece vocabulary exactly as JSON.parse does, and the rest of the file too", () => {
    const scanned = scanTokenizerJson(text)!;
    expect(scanned).not.toBeNull();
    const parsed = JSON.parse(text) as { model: { vocab: [string, number][] } };
    const vocab = parsed.model.vocab;
    expect(scanned.vocab.size).toBe(vocab.length);
    for (let i = 0; i < vocab.length; i++) {
      if (pieceAt(scanned.vocab, i) !== vocab[i][0] || !Object.is(scanned.vocab.scores[i], vocab[i][1])) throw new Error(`entry ${i} differs`);
    }
    expect(scanned.vocab.offsets.length).toBe(vocab.length + 1);
    expect((scanned.json.model as { vocab: unknown }).vocab).toEqual([]);
    expect({ ...scanned.json, model: { ...(scanned.json.model as object), vocab: null } }).toEqual({ ...parsed, model: { ...parsed.model, vocab: null } });
  });

  it("steps aside on escapes, repeated keys, non-JSON numbers, trailing garbage and a missing vocabulary", () => {
    const j = JSON.parse(tiny) as { model: { vocab: [string, number][] } };
    const variants: Record<string, string> = {
      "bad escape": JSON.stringify({ ...j, model: { ...j.model, vocab: [...j.model.vocab, ["x", -20]] } }).replace('["x",', '["\\q",'),
      "raw control character": JSON.stringify({ ...j, model: { ...j.model, vocab: [...j.model.vocab, ["x", -20]] } }).replace('["x",', '["\t",'),
      "repeated model key": tiny.replace(/}\s*$/, ', "model": {"type": "Unigram", "vocab": [["a", 0]]}}'),
      "escaped key": tiny.replace('"model"', '"mod\\u0065l"'),
      "leading-zero number": JSON.stringify(j).replace(/,(-?)(\d)\.(\d+)\]/, ",$10$2.$3]"),
      "infinity": JSON.stringify(j).replace(/,(-?\d+\.\d+)\]/, ",Infinity]"),
      "trailing garbage": `${tiny} x`,
      "no vocab": JSON.stringify({ ...j, model: { type: "Unigram" } }),
      "empty vocab": JSON.stringify({ ...j, model: { ...j.model, vocab: [] } }),
      "a triple": JSON.stringify({ ...j, model: { ...j.model, vocab: [["a", 1, 2], ...j.model.vocab] } }),
    };
    for (const [what, t] of Object.entries(variants)) {
      expect(scanTokenizerJson(t), what).toBeNull();
    }
    expect(scanTokenizerJson(tiny)).not.toBeNull();
    expect(scanTokenizerJson(JSON.stringify(j))).not.toBeNull(); // minified: no whitespace anywhere
  });

  it("reads scores exactly as JSON.parse does (short decimals by exact division, the rest by Number)", () => {
    let seed = 12345;
    const rand = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32);
    const numbers = ["-0.0", "0", "-0", "0.1", "-12.345678901234", "-12.3456789012345", "-12.34567890123456", "1e-5", "-3.5E+2", "123456789012345678", "0.000000000000000000000123", "-9.999999999999999", "-19.5"];
    for (let i = 0; i < 3000; i++) numbers.push((-(rand() * 20)).toFixed(1 + Math.floor(rand() * 16)), String(-(rand() * 30)));
    const body = numbers.map((n, i) => `["p${i}", ${n}]`).join(", ");
    const t = tiny.replace(/"vocab"\s*:\s*\[/, `"vocab": [${body}, `);
    const scanned = scanTokenizerJson(t)!;
    expect(scanned).not.toBeNull();
    for (let i = 0; i < numbers.length; i++) if (!Object.is(scanned.vocab.scores[i], JSON.parse(numbers[i]))) throw new Error(`${numbers[i]}: ${scanned.vocab.scores[i]}`);
  });

  it("decodes pieces written with escapes", () => {
    const j = JSON.parse(tiny) as { model: { vocab: [string, number][] } };
    const t = JSON.stringify({ ...j, model: { ...j.model, vocab: [...j.model.vocab, ['a"b\\', -20], ["x\n", -21], ["yqz", -22]] } }).replace('["yqz",', '["\\u0079\\ud83d\\ude00",');
    const v = scanTokenizerJson(t)!.vocab;
    const n = j.model.vocab.length;
    expect([pieceAt(v, n), pieceAt(v, n + 1), pieceAt(v, n + 2)]).toEqual(['a"b\\', "x\n", "y😀"]);
    expect(Array.from(v.scores.subarray(n))).toEqual([-20, -21, -22]);
  });

  it("the text and the parsed object give the same tokenizer, and the same errors on bad files", () => {
    const fromText = loadTokenizer(tiny);
    const fromObject = loadTokenizer(JSON.parse(tiny) as object);
    for (const s of ["Hello world", "naïve café [P] résumé", "x".repeat(40), "日本語のテキスト"]) expect(fromText.tokenize(s)).toEqual(fromObject.tokenize(s));
    const j = JSON.parse(tiny) as { model: { vocab: [string, number][] } };
    const surrogate = JSON.stringify({ ...j, model: { ...j.model, vocab: [...j.model.vocab, ["a\ud800", -3]] } });
    expect(scanTokenizerJson(surrogate)).toBeNull(); // an escaped lone surrogate: left to the ordinary path's check
    expect(() => loadTokenizer(JSON.parse(surrogate) as object)).toThrow(/piece holds a lone UTF-16 surrogate/);
    expect(() => loadTokenizer(surrogate)).toThrow(new RegExp(`model\\.vocab\\[${j.model.vocab.length}\\]"\\): piece holds a lone UTF-16 surrogate`));
    const long = JSON.stringify({ ...j, model: { ...j.model, vocab: [...j.model.vocab, ["y".repeat(1025), -3]] } });
    expect(scanTokenizerJson(long)).not.toBeNull();
    expect(() => loadTokenizer(long)).toThrow(TokenizerError);
    expect(() => loadTokenizer(long)).toThrow(/piece of 1025 characters is longer than 1024/);
    expect(() => loadTokenizer(JSON.parse(long) as object)).toThrow(/piece of 1025 characters is longer than 1024/);
  });
});

describe("compact vocabulary", () => {
  it("stores pieces in one blob with offsets, including empty and astral pieces", () => {
    const v = vocabFromPieces(["ab", "", "😀x", "ab"], Float64Array.of(-1, -2, -3, -4));
    expect(v.size).toBe(4);
    expect(v.blob).toBe("ab😀xab");
    expect(Array.from(v.offsets)).toEqual([0, 2, 2, 5, 7]);
    expect([0, 1, 2, 3].map((i) => pieceAt(v, i))).toEqual(["ab", "", "😀x", "ab"]);
    expect(pieceEquals(v, 2, "😀x")).toBe(true);
    expect(pieceEquals(v, 2, "😀")).toBe(false);
    expect(pieceEquals(v, 1, "")).toBe(true);
  });
});

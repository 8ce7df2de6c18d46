import { describe, expect, it } from "vitest";
import { TokenizerError } from "../src/errors.js";
import { unigramModel } from "../src/text/tokenizer/unigram.js";
import { vocabFromPieces } from "../src/text/tokenizer/vocab.js";

const model = (vocab: [string, number][], opts: { unkId?: number; byteFallback?: boolean } = {}) =>
  unigramModel({ vocab: vocabFromPieces(vocab.map((v) => v[0]), Float64Array.from(vocab.map((v) => v[1]))), unkId: opts.unkId, byteFallback: opts.byteFallback ?? false, file: "t.json" });
const encode = (m: ReturnType<typeof model>, text: string) => {
  const tokens: string[] = [];
  const ids: number[] = [];
  m.encode(text, tokens, ids);
  return { tokens, ids };
};

describe("Unigram Viterbi", () => {
  it("picks the best-scoring segmentation", () => {
    const m = model([["<unk>", 0], ["a", -1], ["b", -1], ["ab", -1.5], ["abc", -5], ["c", -2]], { unkId: 0 });
    expect(encode(m, "abc")).toEqual({ tokens: ["ab", "c"], ids: [3, 5] });
    expect(encode(m, "ba")).toEqual({ tokens: ["b", "a"], ids: [2, 1] });
  });

  it("keeps the first of equally good segmentations, as the Rust loop does", () => {
    // "ab"+"c" and "a"+"bc" both score -2. Positions are visited left to right and a tie does not replace:
    // "bc" (from position 1) reaches the end before "c" (from position 2) does.
    const m = model([["<unk>", 0], ["a", -1], ["bc", -1], ["ab", -1], ["c", -1]], { unkId: 0 });
    expect(encode(m, "abc").tokens).toEqual(["a", "bc"]);
  });

  it("fuses runs of unknown characters into one piece with the unknown id; surrogate pairs stay whole", () => {
    const m = model([["<unk>", 0], ["a", -1]], { unkId: 0 });
    expect(encode(m, "a李小a😀😀")).toEqual({ tokens: ["a", "李小", "a", "😀😀"], ids: [1, 0, 1, 0] });
  });

  it("falls back to byte pieces when asked and they exist", () => {
    const m = model([["<unk>", 0], ["a", -1], ["<0xC3>", -3], ["<0xA9>", -3]], { unkId: 0, byteFallback: true });
    expect(encode(m, "aé")).toEqual({ tokens: ["a", "<0xC3>", "<0xA9>"], ids: [1, 2, 3] });
    expect(encode(m, "a€").ids).toEqual([1, 0]); // some byte piece missing: the unknown id
  });

  it("maps a piece listed twice to its last id", () => {
    const m = model([["<unk>", 0], ["a", -1], ["a", -0.5]], { unkId: 0 });
    expect(encode(m, "a").ids).toEqual([2]);
    expect(m.idOf("a")).toBe(2);
  });

  it("tells apart pieces whose lookup hashes collide", () => {
    // "\u00a0a" and "\ua29f\ufbcc" have the same 32-bit rolling hash.
    const both = model([["<unk>", 0], ["\u00a0a", -1], ["\ua29f\ufbcc", -1]], { unkId: 0 });
    expect(encode(both, "\u00a0a\ua29f\ufbcc")).toEqual({ tokens: ["\u00a0a", "\ua29f\ufbcc"], ids: [1, 2] });
    expect([both.idOf("\u00a0a"), both.idOf("\ua29f\ufbcc")]).toEqual([1, 2]);
    // Only one is a piece: the other, same hash, is not found through it.
    const one = model([["<unk>", 0], ["\ua29f\ufbcc", -1]], { unkId: 0 });
    expect(encode(one, "\u00a0a")).toEqual({ tokens: ["\u00a0a"], ids: [0] });
    expect(one.idOf("\u00a0a")).toBeUndefined();
  });

  it("without an unknown id, an uncovered character is a TokenizerError naming the file", () => {
    const m = model([["a", -1]]);
    expect(encode(m, "aa").ids).toEqual([0, 0]);
    expect(() => encode(m, "ab")).toThrow(TokenizerError);
    expect(() => encode(m, "ab")).toThrow(/^t.json \(field "model.unk_id"\): model has no unk_id/);
  });

  it("does linear work per character on a long word (bounded by the longest piece)", () => {
    const m = model([["<unk>", 0], ["ab", -1], ["a", -2], ["b", -2]], { unkId: 0 });
    const t = encode(m, "ab".repeat(100_000));
    expect(t.tokens.length).toBe(100_000);
    expect(t.ids.every((id) => id === 1)).toBe(true);
  });
});

/**
 * The released GLiNER2 tokenizer (fastino/gliner2-base-v1 and -large-v1 ship the same tokenizer.json),
 * checked against what Hugging Face `tokenizers` (Rust) computes with it: 7,956 hard words and 47 sentences.
 */
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { gunzipSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import { TokenizerError } from "../src/errors.js";
import { loadTokenizer } from "../src/text/tokenizer.js";
import { clusters, parseCharsmap, SEGMENT_CHUNK } from "../src/text/tokenizer/charsmap.js";

const DIR = new URL("./fixtures/real-tokenizer/", import.meta.url);
const raw = gunzipSync(readFileSync(new URL("tokenizer.json.gz", DIR)));
const text = raw.toString("utf8");
const tok = loadTokenizer(text);

interface Case {
  category?: string;
  name?: string;
  word?: string;
  text?: string;
  ids: number[];
  tokens: string[];
}
const words: Case[] = JSON.parse(gunzipSync(readFileSync(new URL("reference.json.gz", DIR))).toString("utf8")).cases;
const sentences: Case[] = JSON.parse(readFileSync(new URL("gliner2swift-cases.json", DIR), "utf8")).cases;

/** Cases whose ids or tokens differ, shown with what we computed. */
function mismatches(cases: Case[], input: (c: Case) => string) {
  const bad: unknown[] = [];
  for (const c of cases) {
    const got = tok.tokenize(input(c));
    if (JSON.stringify(got.ids) !== JSON.stringify(c.ids) || JSON.stringify(got.tokens) !== JSON.stringify(c.tokens)) {
      bad.push({ case: c.category ?? c.name, input: input(c), want: c.ids, got: got.ids });
    }
  }
  return bad;
}

describe("the released tokenizer", () => {
  it("is the pinned file", () => {
    expect(raw.length).toBe(8_650_701);
    expect(createHash("sha256").update(raw).digest("hex")).toBe("1b7fbabfb4c690bed84c6793bfecae9b8dfe205751b04f9ffd1e76a1e7df9c16");
  });

  it("tokenizes all 7,956 reference words to the ids and pieces of Hugging Face tokenizers", () => {
    expect(words.length).toBe(7956);
    expect(mismatches(words, (c) => c.word!)).toEqual([]);
  });

  it("tokenizes the 47 published sentences to their ids", () => {
    expect(sentences.length).toBe(47);
    expect(mismatches(sentences, (c) => c.text!)).toEqual([]);
  });

  it("knows GLiNER2's tokens and the pad/cls/sep/unk ids", () => {
    expect(tok.tokenId("[SEP_STRUCT]")).toBe(128_001);
    expect(tok.tokenId("[DESCRIPTION]")).toBe(128_010);
    expect([tok.padId, tok.clsId, tok.sepId, tok.unkId, tok.vocabSize]).toEqual([0, 1, 2, 3, 128_011]);
  });

  it("applies the charsmap by grapheme cluster, shortest prefix first (cases from the README)", () => {
    // a + diaeresis + acute is one cluster; its shortest listed prefix a+diaeresis gives ä, the acute vanishes.
    expect(tok.tokenize("a\u0308\u0301")).toEqual(tok.tokenize("ä"));
    // No composition beyond the table: half-width katakana + voiced mark stay two characters.
    expect(tok.tokenize("ｳﾞ").tokens).toEqual(["▁", "ウ", "゙"]);
    // Strip uses Rust's whitespace: U+0085 is stripped, U+FEFF is not (the charsmap deletes it instead).
    expect(tok.tokenize("\u0085word\u0085")).toEqual(tok.tokenize("word"));
  });

  it("handles one 125,000-character word in linear-ish work, with a result that spells the word", () => {
    // [repeated unit, what the normalizer makes of it]
    const units: [string, string][] = [["-", "-"], ["李", "李"], ["😀", "😀"], ["ab1.", "ab1."], ["e\u0301", "é"], ["ｶ", "カ"]];
    for (const [unit, normalized] of units) {
      const n = Math.ceil(125_000 / unit.length);
      const t = tok.tokenize(unit.repeat(n));
      expect(t.ids.length).toBe(t.tokens.length);
      expect(t.tokens.join("")).toBe(`▁${normalized.repeat(n)}`);
      expect(t.ids.every((id) => Number.isInteger(id) && id >= 0 && id < tok.vocabSize)).toBe(true);
    }
    // A base letter with 125,000 combining marks is one grapheme cluster.
    expect(tok.tokenize(`a${"\u0301".repeat(125_000)}`).ids.length).toBeGreaterThan(0);
  });
});

describe("grapheme clusters and the charsmap shortcuts", () => {
  const json = JSON.parse(text);
  const map = parseCharsmap(json.normalizer.normalizers[1].precompiled_charsmap, "tokenizer.json", "normalizer.normalizers[1].precompiled_charsmap");
  const seg = new Intl.Segmenter("en", { granularity: "grapheme" });
  // Characters that join clusters or change normalization: marks, ZWJ, emoji, regional indicators, jamo,
  // Indic virama/consonants, prepend marks, controls, CR LF, full-width forms, plain letters.
  const pool = [
    "a", "e", "Z", " ", "\r", "\n", "\t", "\u0000", "\u0085", "\u00a0", "\u00ad", "\u0301", "\u0308", "\u0323", "\u200d", "\u200b", "\ufe0f",
    "\u20e3", "👍", "🏽", "👩", "❤", "🇫", "🇷", "\u1100", "\u1161", "\u11a8", "가", "क", "\u094d", "ष", "\u0600", "ｳ", "ﾞ", "ｶ", "①", "ﬁ", "Å", "日",
    "\ud800", "\udc00", "©", "Ⅻ", "ǅ", "\u0e33", "\u0f73",
  ];
  let seed = 12345;
  const rand = (n: number) => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed % n;
  };
  const randomText = (len: number) => Array.from({ length: len }, () => pool[rand(pool.length)]).join("");

  it("chunked segmentation equals whole-text segmentation", () => {
    for (let trial = 0; trial < 40; trial++) {
      const s = randomText(SEGMENT_CHUNK + rand(4 * SEGMENT_CHUNK));
      expect([...clusters(seg, s)]).toEqual([...seg.segment(s)].map((x) => x.segment));
    }
    const long = `x${"\u0301".repeat(3 * SEGMENT_CHUNK)}y`;
    expect([...clusters(seg, long)]).toEqual([long.slice(0, -1), "y"]);
  });

  it("the certain-boundary shortcut gives what segmenting the whole text gives", () => {
    for (let trial = 0; trial < 400; trial++) {
      const s = randomText(1 + rand(40));
      expect(map.apply(s), JSON.stringify(s)).toBe(map.applyBySegmenter(s));
    }
  });
});

describe("structure checks on the released file", () => {
  const fresh = () => JSON.parse(text);

  it("rejects a vocabulary that is not [piece, score] pairs, naming the file and field", () => {
    const j = fresh();
    j.model.vocab = "▁the ▁a";
    expect(() => loadTokenizer(j, undefined, { file: "ckpt/tokenizer.json" })).toThrow(TokenizerError);
    expect(() => loadTokenizer(j, undefined, { file: "ckpt/tokenizer.json" })).toThrow(/^ckpt\/tokenizer.json \(field "model.vocab"\): must be an array of \[piece, score\] pairs, got string/);
    const k = fresh();
    k.model.vocab[77] = ["▁x", "high"];
    expect(() => loadTokenizer(k)).toThrow(/field "model.vocab\[77\]"/);
  });

  it("rejects a broken charsmap", () => {
    const j = fresh();
    j.normalizer.normalizers[1].precompiled_charsmap = "AAAA!AAA";
    expect(() => loadTokenizer(j)).toThrow(/field "normalizer.normalizers\[1\].precompiled_charsmap"\): not valid base64/);
    j.normalizer.normalizers[1].precompiled_charsmap = "/////w==";
    expect(() => loadTokenizer(j)).toThrow(/trie size 4294967295 does not fit/);
  });
});

describe("added-token options and Metaspace schemes (values recorded from Hugging Face tokenizers 0.23.2)", () => {
  // The released file with options GLiNER2's tokens do not use, to cover Hugging Face's rules for them; ids are
  // what Python's tokenize + convert_tokens_to_ids gives (the pieces' text looked up, added tokens first).
  const variant = (edit: (j: any) => void) => {
    const j = JSON.parse(text);
    edit(j);
    return loadTokenizer(j);
  };
  const flags = variant((j) => {
    const set = (content: string, f: object) => Object.assign(j.added_tokens.find((t: any) => t.content === content), f);
    set("[P]", { lstrip: true });
    set("[E]", { rstrip: true });
    set("[C]", { single_word: true });
    set("[R]", { lstrip: true, rstrip: true });
    const extra = { single_word: false, lstrip: false, rstrip: false, special: false };
    j.added_tokens.push({ ...extra, id: 128011, content: "hello", normalized: true });
    j.added_tokens.push({ ...extra, id: 128012, content: "Ａ", normalized: true });
    j.added_tokens.push({ ...extra, id: 128013, content: "the", normalized: false, single_word: true });
  });
  const cases: [string, string[], number[]][] = [
    // lstrip/rstrip swallow whitespace (Rust's \s) into the token's text, which then is no known token.
    ["x [P] y", ["▁x", " [P]", "▁y"], [1204, 3, 2982]],
    ["x [E] y", ["▁x", "[E] ", "▁y"], [1204, 3, 2982]],
    ["a\u3000[R]\u3000b", ["▁a", "\u3000[R]\u3000", "▁b"], [266, 3, 2165]],
    // single_word: only between non-word characters (Rust's \w includes marks and ZWJ).
    ["x [C] y", ["▁x", "[C]", "▁y"], [1204, 128_004, 2982]],
    ["-[C]-", ["▁-", "[C]", "▁-"], [341, 128_004, 341]],
    ["x[C]y", ["▁x", "[", "C", "]", "y"], [1204, 2550, 711, 592, 608]],
    ["\u200d[C]", ["▁[", "C", "]"], [647, 711, 592]],
    ["[C]\u0301", ["▁[", "C", "]", "\u0301"], [647, 711, 592, 79139]],
    ["the\u0320", ["▁the", "\u0320"], [262, 126637]],
    // An added token spelled like a model piece keeps the piece's id (the file's id is not used).
    ["x the y", ["▁x", "the", "▁y"], [1204, 724, 2982]],
    // normalized tokens are found after normalization; the piece is the normalized text.
    ["hello there", ["hello", "▁there"], [38944, 343]],
    ["Ａb", ["A", "▁b"], [558, 2165]],
  ];
  it.each(cases)("%j", (input, tokens, ids) => {
    expect(flags.tokenize(input)).toEqual({ tokens, ids });
  });

  it('Metaspace "first" prepends only where the normalized text still starts at the input\'s start', () => {
    const first = variant((j) => (j.pre_tokenizer.pretokenizers[0].prepend_scheme = "first"));
    expect(first.tokenize("  [").tokens).toEqual(["["]);
    expect(first.tokenize("[ ").tokens).toEqual(["▁["]);
    expect(first.tokenize("x [P] y").tokens).toEqual(["▁x", "[P]", "y"]);
    expect(first.tokenize("\u0001x").tokens).toEqual(["▁x"]);
  });
});

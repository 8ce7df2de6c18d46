import { readFileSync } from "node:fs";
import { gunzipSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import { loadModel, readCheckpointDir } from "../src/checkpoint.js";
import { ConfigError, TokenizerError } from "../src/errors.js";
import { GLINER2_SPECIAL_TOKENS, loadTokenizer, loadTokenizerFromDir } from "../src/text/tokenizer.js";
import { checkpointDir, goldenCheckpoints, listGoldenCases, readGoldenCase } from "./helpers/golden.js";

type Json = Record<string, any>;
const tinyJson = (): Json => JSON.parse(readFileSync(`${checkpointDir("tiny-count_lstm_v2")}tokenizer.json`, "utf8"));
const tinyConfig = (): Json => JSON.parse(readFileSync(`${checkpointDir("tiny-count_lstm_v2")}tokenizer_config.json`, "utf8"));

/** The released tokenizer's normalizer (Strip → Precompiled with the real charsmap → Replace). */
const releasedNormalizer = (): Json =>
  JSON.parse(gunzipSync(readFileSync(new URL("./fixtures/real-tokenizer/tokenizer.json.gz", import.meta.url))).toString("utf8")).normalizer;

/**
 * A tokenizer shaped like the released gliner2-base one: 128,000 model pieces, [MASK] at 128000 and GLiNER2's
 * tokens from 128001, and the DeBERTa-v3 normalizer chain Strip → Precompiled → Replace with the real
 * charsmap. Built from the tiny vocabulary plus filler pieces that never win (very low scores), so
 * tokenisation of ordinary text is known.
 */
function releasedLikeJson(): Json {
  const j = tinyJson();
  const vocab: [string, number][] = j.model.vocab;
  for (let i = vocab.length; i < 128_000; i++) vocab.push([`▁zzfill${i}`, -99]);
  j.added_tokens = j.added_tokens.map((t: Json) => (t.id >= 2000 ? { ...t, id: t.id - 2000 + 128_000 } : t));
  j.normalizer = releasedNormalizer();
  return j;
}

describe("tokenizer on the tiny checkpoints", () => {
  it("knows GLiNER2's special tokens, the vocabulary size and the unknown id", async () => {
    for (const ck of goldenCheckpoints()) {
      const tok = await loadTokenizerFromDir(checkpointDir(ck));
      expect(GLINER2_SPECIAL_TOKENS.map((t) => tok.tokenId(t))).toEqual([2001, 2002, 2003, 2004, 2005, 2006, 2007, 2008, 2009, 2010]);
      expect(tok.vocabSize).toBe(2011);
      expect(tok.unkId).toBe(3);
    }
  });

  it("tokenises one element like GLiNER2's tokenizer.tokenize + convert_tokens_to_ids", () => {
    const tok = loadTokenizer(tinyJson(), tinyConfig());
    // Values recorded by the official processor (golden cases) for these elements.
    expect(tok.tokenize("entities")).toEqual({ tokens: ["▁", "ent", "ities"], ids: [5, 26, 806] });
    expect(tok.tokenize("[E]")).toEqual({ tokens: ["[E]"], ids: [2005] });
    expect(tok.tokenize("李小龍")).toEqual({ tokens: ["▁", "李小龍"], ids: [5, 3] });
    expect(tok.tokenize("zoë")).toEqual({ tokens: ["▁", "zo", "ë"], ids: [5, 1128, 3] });
    // Added tokens split the element; the pieces around them are normalised (stripped) separately.
    expect(tok.tokenize("entities [DESCRIPTION] person: a human").tokens).toEqual(["▁", "ent", "ities", "[DESCRIPTION]", "▁person", ":", "▁a", "▁hum", "an"]);
    // Stripped, space runs collapsed.
    expect(tok.tokenize("  hello   world ")).toEqual(tok.tokenize("hello world"));
    expect(tok.tokenize("")).toEqual({ tokens: [], ids: [] });
    expect(tok.tokenize("   ")).toEqual({ tokens: [], ids: [] });
  });

  it("caches per string and hands out frozen results", () => {
    const tok = loadTokenizer(tinyJson());
    const a = tok.tokenize("hello");
    expect(tok.tokenize("hello")).toBe(a);
    expect(Object.isFrozen(a.tokens) && Object.isFrozen(a.ids)).toBe(true);
  });

  // Every element of every golden prompt, tokenised alone, gives exactly the recorded subwords and ids.
  for (const ck of goldenCheckpoints()) {
    it(`reproduces every recorded element of the ${ck} cases`, () => {
      const tok = loadTokenizer(readFileSync(`${checkpointDir(ck)}tokenizer.json`, "utf8"), readFileSync(`${checkpointDir(ck)}tokenizer_config.json`, "utf8"));
      let elements = 0;
      for (const ref of listGoldenCases(ck)) {
        for (const tp of readGoldenCase(ref).texts_prepared) {
          const combined: string[] = [];
          tp.schema_tokens_list.forEach((s, i) => combined.push(...s, ...(i < tp.schema_tokens_list.length - 1 ? ["[SEP_STRUCT]"] : [])));
          combined.push("[SEP_TEXT]", ...tp.prefix_tokens, ...tp.words.map((w) => w[0]));
          combined.forEach((el, e) => {
            const at = tp.mapped_indices.flatMap((m, p) => (m[1] === e ? [p] : []));
            const got = tok.tokenize(el);
            expect(got.tokens, `${ref.name}: ${JSON.stringify(el)}`).toEqual(at.map((p) => tp.subword_tokens[p]));
            expect(got.ids, `${ref.name}: ${JSON.stringify(el)}`).toEqual(at.map((p) => tp.input_ids[p]));
            elements++;
          });
        }
      }
      expect(elements).toBeGreaterThan(2000);
    });
  }
});

describe("tokenizer shaped like the released gliner2-base one", () => {
  const tok = loadTokenizer(releasedLikeJson(), tinyConfig());

  it("reads the special-token ids from the file, not from constants", () => {
    expect(tok.tokenId("[P]")).toBe(128_003);
    expect(tok.tokenId("[SEP_TEXT]")).toBe(128_002);
    expect(tok.vocabSize).toBe(128_011);
    expect(tok.tokenize("[P]").ids).toEqual([128_003]);
  });

  it("applies the Precompiled charsmap between Strip and Replace", () => {
    // Full-width letters fold to ASCII, so they tokenise like the ASCII word.
    expect(tok.tokenize("ｈｅｌｌｏ")).toEqual(tok.tokenize("hello"));
    expect(tok.tokenize("hello")).toEqual(loadTokenizer(tinyJson()).tokenize("hello"));
    // A lone control character is deleted: the element has no subword at all.
    expect(tok.tokenize("\u0001")).toEqual({ tokens: [], ids: [] });
  });
});

describe("tokenizer errors", () => {
  it("names GLiNER2 tokens the file lacks", () => {
    const j = tinyJson();
    j.added_tokens = j.added_tokens.filter((t: Json) => t.content !== "[R]" && t.content !== "[OUTPUT]");
    expect(() => loadTokenizer(j)).toThrow(TokenizerError);
    expect(() => loadTokenizer(j)).toThrow(/lacks GLiNER2's special tokens \[R\], \[OUTPUT\]/);
  });

  it("rejects malformed files with a TokenizerError", () => {
    expect(() => loadTokenizer("{not json")).toThrow(/^tokenizer.json: not valid JSON/);
    expect(() => loadTokenizer("[1, 2]")).toThrow(/^tokenizer.json: must be a JSON object, got an array/);
    expect(() => loadTokenizer({ version: "1.0" })).toThrow(/^tokenizer.json \(field "model"\): missing/);
    expect(() => loadTokenizer({ ...tinyJson(), model: { type: "Mystery" } })).toThrow(/\(field "model.type"\): model type "Mystery" is not supported/);
    expect(() => loadTokenizer(tinyJson(), "nope")).toThrow(/^tokenizer_config.json: not valid JSON/);
    // A UTF-8 byte-order mark before the JSON is allowed.
    expect(loadTokenizer(`\ufeff${JSON.stringify(tinyJson())}`).tokenize("entities").ids).toEqual([5, 26, 806]);
  });

  it("checks the structure at load and names the file and field", () => {
    const opts = { file: "ck/tokenizer.json", configFile: "ck/tokenizer_config.json" };
    const j = tinyJson();
    j.model.vocab = JSON.stringify(j.model.vocab);
    expect(() => loadTokenizer(j, undefined, opts)).toThrow(/^ck\/tokenizer.json \(field "model.vocab"\): must be an array of \[piece, score\] pairs, got string/);
    expect(() => loadTokenizer({ ...tinyJson(), model: { ...tinyJson().model, vocab: [] } })).toThrow(/field "model.vocab"\): is empty/);
    expect(() => loadTokenizer({ ...tinyJson(), model: { ...tinyJson().model, unk_id: 5000 } })).toThrow(/field "model.unk_id"\): must be null or an index into model.vocab \(0…1999\), got 5000/);
    expect(() => loadTokenizer({ ...tinyJson(), model: { ...tinyJson().model, type: "BPE" } })).toThrow(/field "model.type"\): model type "BPE" is not supported/);
    const long = tinyJson();
    long.model.vocab[9] = ["a".repeat(5000), -30];
    expect(() => loadTokenizer(long)).toThrow(/field "model.vocab\[9\]"\): piece of 5000 characters is longer than 1024/);
    let deep: Json = { type: "Lowercase" };
    for (let i = 0; i < 5000; i++) deep = { type: "Sequence", normalizers: [deep] };
    expect(() => loadTokenizer({ ...tinyJson(), normalizer: deep })).toThrow(/field "normalizer(\.normalizers\[0\]){33}"\): Sequence nested more than 32 deep/);
    // Values quoted from the file are escaped (ESC, BEL, C1 controls, bidi overrides) and capped.
    const hostile = tinyJson();
    hostile.normalizer.normalizers[1] = { type: `\u001b]0;pwned\u0007\u009b31m\u202e${"x".repeat(100_000)}` };
    const message = (() => {
      try {
        loadTokenizer(hostile);
      } catch (e) {
        return (e as Error).message;
      }
    })()!;
    expect(message).toMatch(/normalizer type "\\u001b\]0;pwned\\u0007\\u009b31m\\u202exxx/);
    expect(message.length).toBeLessThan(300);
    expect(/[\u0000-\u001f\u007f-\u009f\u202e]/.test(message)).toBe(false);
    const n = tinyJson();
    n.normalizer.normalizers[1] = { type: "BertNormalizer" };
    expect(() => loadTokenizer(n, undefined, opts)).toThrow(/^ck\/tokenizer.json \(field "normalizer.normalizers\[1\].type"\): normalizer type "BertNormalizer" is not supported/);
    const p = tinyJson();
    p.pre_tokenizer.pretokenizers[0].prepend_scheme = "sometimes";
    expect(() => loadTokenizer(p)).toThrow(/field "pre_tokenizer.pretokenizers\[0\].prepend_scheme"\): must be "always", "first" or "never"/);
    const a = tinyJson();
    a.added_tokens[5].id = -1;
    expect(() => loadTokenizer(a)).toThrow(/field "added_tokens\[5\].id"\): must be a non-negative integer id, got -1/);
    const r = tinyJson();
    r.normalizer.normalizers[1].pattern = { Regex: "(" };
    expect(() => loadTokenizer(r)).toThrow(/field "normalizer.normalizers\[1\].pattern.Regex"\): regex "\(" cannot be compiled/);
  });

  it("requires the pad, cls, sep and unk tokens tokenizer_config names", () => {
    const opts = { file: "ck/tokenizer.json", configFile: "ck/tokenizer_config.json" };
    const tok = loadTokenizer(tinyJson(), tinyConfig());
    expect([tok.padId, tok.clsId, tok.sepId, tok.unkId]).toEqual([0, 1, 2, 3]);
    expect(() => loadTokenizer(tinyJson(), { ...tinyConfig(), pad_token: "<pad>" }, opts)).toThrow(
      /^ck\/tokenizer.json \(field "added_tokens"\): has no pad token "<pad>" \(neither among added_tokens nor in model.vocab\); ck\/tokenizer_config.json names it as pad_token/,
    );
    expect(() => loadTokenizer(tinyJson(), { ...tinyConfig(), sep_token: 7 }, opts)).toThrow(/^ck\/tokenizer_config.json \(field "sep_token"\): must be a token string/);
    // A token may come from the model vocabulary instead of added_tokens.
    expect(loadTokenizer(tinyJson(), { ...tinyConfig(), cls_token: "▁the" }).clsId).toBe(tinyJson().model.vocab.findIndex((e: [string, number]) => e[0] === "▁the"));
  });

  it("names the file when a text cannot be tokenized", () => {
    const j = tinyJson();
    j.model.unk_id = null;
    const tok = loadTokenizer(j, undefined, { file: "ck/tokenizer.json" });
    expect(tok.tokenize("hello").ids.length).toBeGreaterThan(0);
    expect(() => tok.tokenize("李")).toThrow(/^ck\/tokenizer.json \(field "model.unk_id"\): model has no unk_id, but "▁李" has a character/);
    expect(() => tok.tokenize(null as never)).toThrow(/^ck\/tokenizer.json: tokenize expects a string, got null/);
  });

  it("rejects unknown special-token names and non-string input", () => {
    const tok = loadTokenizer(tinyJson());
    expect(() => tok.tokenId("[X]" as never)).toThrow(/"\[X\]" is not one of GLiNER2's special tokens/);
    expect(() => tok.tokenize(7 as never)).toThrow(TokenizerError);
  });

  it("reports a missing tokenizer.json with its path", async () => {
    await expect(loadTokenizerFromDir("/nonexistent/ckpt")).rejects.toThrow(/cannot read \/nonexistent\/ckpt\/tokenizer.json: ENOENT/);
  });
});

describe("tokenizer checks when a checkpoint loads", () => {
  it("rejects an out-of-vocabulary pad_token_id, naming the encoder config file", async () => {
    const files = await readCheckpointDir(checkpointDir("tiny-count_lstm_v2"));
    const encoderConfig = { ...JSON.parse(files.encoderConfig as string), pad_token_id: 2011 };
    expect(() => loadModel({ ...files, encoderConfig })).toThrow(ConfigError);
    expect(() => loadModel({ ...files, encoderConfig })).toThrow(
      /encoder_config\/config.json \(field "pad_token_id"\): 2011 is not a token id of the tokenizer \(0…2010; its pad token is 0\)/,
    );
    expect(() => loadModel({ ...files, encoderConfig: { ...encoderConfig, pad_token_id: 0 } })).not.toThrow();
  });

  it("names the checkpoint's tokenizer.json in tokenizer errors", async () => {
    const files = await readCheckpointDir(checkpointDir("tiny-count_lstm_v2"));
    const tokenizer = { ...tinyJson(), model: { ...tinyJson().model, vocab: "oops" } };
    expect(() => loadModel({ ...files, tokenizer })).toThrow(/tiny-count_lstm_v2\/?\/tokenizer.json \(field "model.vocab"\)/);
  });
});

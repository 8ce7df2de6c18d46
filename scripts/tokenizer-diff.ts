/**
 * Differential check of src/text/tokenizer.ts against Hugging Face `tokenizers` (the Rust core, through its Node
 * binding) on random strings. Not part of `npm test` (the binding is a native package, not a dependency):
 *
 *   npm install --no-save tokenizers@0.23.2
 *   npx vite-node scripts/tokenizer-diff.ts [tokenizer.json] [count] [seed]
 *
 * Default file: the released tokenizer (test/fixtures/real-tokenizer/tokenizer.json.gz). Strings mix the
 * reference words' characters, added tokens, spaces of every kind and random code points. The Rust ids are
 * taken the way GLiNER2 takes them: tokenize, then convert_tokens_to_ids (token_to_id, else the unknown id).
 */
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { gunzipSync } from "node:zlib";
import { loadTokenizer } from "../src/text/tokenizer.js";

const require = createRequire(import.meta.url);
const { Tokenizer } = require("tokenizers");
const fixture = `${process.cwd()}/test/fixtures/real-tokenizer/`;
const file = process.argv[2];
const count = Number(process.argv[3] ?? 10_000);
let seed = Number(process.argv[4] ?? 1);

const text = file ? readFileSync(file, "utf8") : gunzipSync(readFileSync(`${fixture}tokenizer.json.gz`)).toString("utf8");
const rust = Tokenizer.fromString(text);
const ours = loadTokenizer(text);
const unk = ours.unkId;

const words: { word: string }[] = JSON.parse(gunzipSync(readFileSync(`${fixture}reference.json.gz`)).toString("utf8")).cases;
const chars = [...new Set(words.flatMap((c) => [...c.word]))];
const added = (JSON.parse(text).added_tokens ?? []).map((t: { content: string }) => t.content);
const extra = [...added, " ", "  ", "\t", "\n", "\r\n", "\u3000", "\u0085", "\ufeff", "▁", "[", "]", "a", "the", "ing", "\u200d", "\u0301"];
const rand = (n: number) => {
  seed = (seed * 1103515245 + 12345) & 0x7fffffff;
  return seed % n;
};

let bad = 0;
let done = 0;
for (let t = 0; t < count; t++) {
  const len = 1 + rand(rand(4) === 0 ? 60 : 12);
  let s = "";
  for (let i = 0; i < len; i++) {
    const r = rand(10);
    s += r < 6 ? chars[rand(chars.length)] : r < 8 ? extra[rand(extra.length)] : String.fromCodePoint(rand(4) === 0 ? rand(0x30000) : rand(0x3000));
  }
  if (/[\ud800-\udfff]/u.test(s)) continue; // lone surrogates: not representable in Rust strings
  const e = await rust.encode(s, null, { addSpecialTokens: false });
  const wantTokens: string[] = e.getTokens();
  const want = wantTokens.map((tok) => rust.tokenToId(tok) ?? unk);
  const got = ours.tokenize(s);
  done++;
  if (JSON.stringify(want) !== JSON.stringify(got.ids) || JSON.stringify(wantTokens) !== JSON.stringify(got.tokens)) {
    if (bad++ < 10) console.log(JSON.stringify(s), "\n  rust:", JSON.stringify(wantTokens), JSON.stringify(want), "\n  ours:", JSON.stringify(got.tokens), JSON.stringify(got.ids));
  }
}
console.log(`${bad} differences in ${done} strings`);
process.exitCode = bad === 0 ? 0 : 1;

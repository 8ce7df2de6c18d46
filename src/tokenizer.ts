/**
 * The checkpoint's tokenizer, used the way GLiNER2 uses it: every prompt element and every word is tokenised
 * on its own with `tokenizer.tokenize(element)` (no [CLS]/[SEP]), and the pieces are mapped to ids with
 * `convert_tokens_to_ids` (a piece missing from the vocabulary, such as a fused run of unknown characters,
 * becomes the unknown id).
 *
 * Built on `@huggingface/tokenizers` (tokenizer.json interpreter). Two things differ from handing the files
 * to that library as they are:
 * - `tokenizer_config.json` keys that the JS library reads to imitate *slow* Python tokenizers
 *   (`remove_space`, `do_lowercase_and_remove_accent`) are dropped: GLiNER2 loads the *fast* tokenizer, whose
 *   behaviour is defined by tokenizer.json alone.
 * - GLiNER2's own special tokens are required and checked at load time, so a wrong tokenizer fails here with
 *   a clear message rather than silently tokenising `[P]` as ordinary text.
 *
 * Known approximation (of the library, not fixable here without the charsmap decoder): the `Precompiled`
 * normalizer of the released DeBERTa-v3 tokenizer is emulated by NFKC plus the nmt rules (control characters
 * removed, unusual spaces → " ") instead of reading the charsmap; the two agree on ordinary text.
 */
import { Tokenizer } from "@huggingface/tokenizers";
import { TokenizerError } from "./errors.js";

/** The tokens GLiNER2's processor adds to the tokenizer, in the order it adds them. */
export const GLINER2_SPECIAL_TOKENS = [
  "[SEP_STRUCT]",
  "[SEP_TEXT]",
  "[P]",
  "[C]",
  "[E]",
  "[R]",
  "[L]",
  "[EXAMPLE]",
  "[OUTPUT]",
  "[DESCRIPTION]",
] as const;
export type Gliner2SpecialToken = (typeof GLINER2_SPECIAL_TOKENS)[number];

/** One element tokenised: its pieces and their ids (same length, possibly both empty). */
export interface TokenizedElement {
  readonly tokens: readonly string[];
  readonly ids: readonly number[];
}

export interface Gliner2Tokenizer {
  /** `tokenizer.tokenize(s)` + `convert_tokens_to_ids` of the official processor; results are cached. */
  tokenize(s: string): TokenizedElement;
  /** Id of one of GLiNER2's special tokens. */
  tokenId(token: Gliner2SpecialToken): number;
  /** One past the largest id (vocabulary plus added tokens): rows the embedding matrix must have at least. */
  readonly vocabSize: number;
  /** Id given to pieces the vocabulary lacks (undefined if the tokenizer has no unknown token). */
  readonly unkId: number | undefined;
}

/** Keys of tokenizer_config.json that only make the JS library imitate slow tokenizers. */
const SLOW_TOKENIZER_KEYS = ["remove_space", "do_lowercase_and_remove_accent"];

/** Cached elements before the cache is emptied (words repeat a lot; memory stays bounded). */
const CACHE_LIMIT = 100_000;

/**
 * Build the tokenizer from `tokenizer.json` (and optionally `tokenizer_config.json`), as parsed objects or
 * JSON text. Throws TokenizerError when a file is malformed, uses a component the library cannot run, or
 * lacks one of GLiNER2's special tokens.
 */
export function loadTokenizer(tokenizerJson: object | string, tokenizerConfig?: object | string): Gliner2Tokenizer {
  const json = parseJsonObject(tokenizerJson, "tokenizer.json");
  const config = tokenizerConfig === undefined ? {} : { ...parseJsonObject(tokenizerConfig, "tokenizer_config.json") };
  for (const key of SLOW_TOKENIZER_KEYS) delete config[key];
  if (typeof json.model !== "object" || json.model === null) {
    throw new TokenizerError(`tokenizer.json has no "model" object; expected a Hugging Face fast-tokenizer file`);
  }
  if (json.added_tokens !== undefined && !Array.isArray(json.added_tokens)) {
    throw new TokenizerError(`tokenizer.json: "added_tokens" must be an array`);
  }
  // Components absent from the file mean "none"; the library wants the keys present.
  const full = { normalizer: null, pre_tokenizer: null, post_processor: null, decoder: null, added_tokens: [], ...json };

  let hf: Tokenizer;
  try {
    hf = new Tokenizer(full, config);
  } catch (e) {
    throw new TokenizerError(`tokenizer.json cannot be used: ${(e as Error).message}`);
  }

  const vocab = hf.get_vocab(true);
  let vocabSize = 0;
  for (const id of vocab.values()) vocabSize = Math.max(vocabSize, id + 1);
  const unkId = unknownId(hf, json, config);

  const cache = new Map<string, TokenizedElement>();
  const tokenize = (s: string): TokenizedElement => {
    let hit = cache.get(s);
    if (hit === undefined) {
      const tokens = hf.tokenize(s, { add_special_tokens: false });
      const ids = tokens.map((t) => {
        const id = hf.token_to_id(t) ?? unkId;
        if (id === undefined) throw new TokenizerError(`piece "${t}" of ${JSON.stringify(s)} is not in the vocabulary and the tokenizer has no unknown token`);
        return id;
      });
      hit = { tokens: Object.freeze(tokens), ids: Object.freeze(ids) };
      if (cache.size >= CACHE_LIMIT) cache.clear();
      cache.set(s, hit);
    }
    return hit;
  };

  // Each GLiNER2 token must be an added token that survives tokenisation as one piece.
  const special = new Map<string, number>();
  const missing: string[] = [];
  const added = new Map([...hf.get_added_tokens_decoder().values()].map((t) => [t.content, t.id]));
  for (const tok of GLINER2_SPECIAL_TOKENS) {
    const id = added.get(tok);
    const t = id === undefined ? null : tokenize(tok);
    if (id === undefined || t === null || t.ids.length !== 1 || t.ids[0] !== id) missing.push(tok);
    else special.set(tok, id);
  }
  if (missing.length > 0) {
    throw new TokenizerError(
      `tokenizer.json lacks GLiNER2's special token${missing.length > 1 ? "s" : ""} ${missing.join(", ")} among its added_tokens ` +
        `(a GLiNER2 checkpoint's tokenizer has all of ${GLINER2_SPECIAL_TOKENS.join(", ")})`,
    );
  }

  return {
    tokenize(s: string): TokenizedElement {
      if (typeof s !== "string") throw new TokenizerError(`tokenize expects a string, got ${s === null ? "null" : typeof s}`);
      return tokenize(s);
    },
    tokenId(token: Gliner2SpecialToken): number {
      const id = special.get(token);
      if (id === undefined) throw new TokenizerError(`"${String(token)}" is not one of GLiNER2's special tokens (${GLINER2_SPECIAL_TOKENS.join(", ")})`);
      return id;
    },
    vocabSize,
    unkId,
  };
}

/** Read `tokenizer.json` (and `tokenizer_config.json` when present) from a checkpoint folder (Node). */
export async function loadTokenizerFromDir(dir: string): Promise<Gliner2Tokenizer> {
  const { readFile } = await import("node:fs/promises");
  const { join } = await import("node:path");
  const path = join(dir, "tokenizer.json");
  let json: string;
  try {
    json = await readFile(path, "utf8");
  } catch (e) {
    throw new TokenizerError(`cannot read ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  let config: string | undefined;
  try {
    config = await readFile(join(dir, "tokenizer_config.json"), "utf8");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw new TokenizerError(`cannot read ${join(dir, "tokenizer_config.json")}: ${(e as Error).message}`);
  }
  return loadTokenizer(json, config);
}

function parseJsonObject(v: object | string, file: string): Record<string, unknown> {
  let obj: unknown = v;
  if (typeof v === "string") {
    try {
      obj = JSON.parse(v);
    } catch (e) {
      throw new TokenizerError(`${file} is not valid JSON: ${(e as Error).message}`);
    }
  }
  if (typeof obj !== "object" || obj === null || Array.isArray(obj)) {
    throw new TokenizerError(`${file} must be a JSON object, got ${obj === null ? "null" : Array.isArray(obj) ? "an array" : typeof obj}`);
  }
  return obj as Record<string, unknown>;
}

/**
 * The id `convert_tokens_to_ids` gives unknown pieces: the id of the configured unk token (tokenizer_config
 * `unk_token`, default "[UNK]"), else the model's `unk_id`; undefined when there is neither (an error is
 * raised only if a piece actually needs it).
 */
function unknownId(hf: Tokenizer, json: Record<string, unknown>, config: Record<string, unknown>): number | undefined {
  const configured = config.unk_token;
  const name = typeof configured === "string" ? configured : typeof configured === "object" && configured !== null ? (configured as { content?: unknown }).content : undefined;
  const byName = hf.token_to_id(typeof name === "string" ? name : "[UNK]");
  if (byName !== undefined) return byName;
  const modelUnk = (json.model as { unk_id?: unknown }).unk_id;
  return typeof modelUnk === "number" ? modelUnk : undefined;
}

/**
 * The checkpoint's tokenizer, used the way GLiNER2 uses it: every prompt element and every word is tokenised
 * on its own with `tokenizer.tokenize(element)` (no [CLS]/[SEP]), and the pieces are mapped to ids with
 * `convert_tokens_to_ids` (a piece missing from the vocabulary, such as a fused run of unknown characters,
 * becomes the unknown id).
 *
 * A TypeScript re-implementation of what Hugging Face `tokenizers` (Rust) does with a tokenizer.json, for the
 * components SentencePiece-converted (DeBERTa-v3) tokenizers use: added-token splitting, the normalizers
 * Strip / Precompiled (the charsmap itself, not an NFKC approximation) / Replace and a few more, the
 * Metaspace pre-tokenizer, and the Unigram model (src/text/tokenizer/). It reproduces the released GLiNER2
 * tokenizer exactly (test/tokenizer-real.test.ts). Anything else in a tokenizer.json — another model type, an
 * unknown normalizer — is refused at load with a TokenizerError naming the file and field, never approximated.
 *
 * Checked at load: the file's structure (model type, vocabulary as [piece, score] pairs, unk_id, added tokens,
 * components), GLiNER2's special tokens, and the pad/cls/sep/unk tokens.
 */
import { TokenizerError } from "../errors.js";
import { addedTokenMatcher, type AddedToken, type Matcher } from "./tokenizer/added.js";
import { buildNormalizer, isRustWhitespace, object, show, stripsLeft, type Normalize } from "./tokenizer/normalize.js";
import { buildPreTokenizer, type PreTokenize } from "./tokenizer/pretokenize.js";
import { MAX_PIECE_LENGTH, unigramModel, type UnigramModel } from "./tokenizer/unigram.js";
import { pieceEquals, scanTokenizerJson, vocabFromPieces, type Vocab } from "./tokenizer/vocab.js";

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
  /** Id given to pieces the vocabulary lacks. */
  readonly unkId: number;
  /** Ids of the padding, classifier and separator tokens (tokenizer_config names, default [PAD], [CLS], [SEP]). */
  readonly padId: number;
  readonly clsId: number;
  readonly sepId: number;
  /** The tokenizer.json this was built from (path, URL or "tokenizer.json"), as named in errors. */
  readonly file: string;
}

export interface LoadTokenizerOptions {
  /** Name of tokenizer.json in error messages (a path or URL); default "tokenizer.json". */
  readonly file?: string;
  /** Name of tokenizer_config.json in error messages; default "tokenizer_config.json". */
  readonly configFile?: string;
}

/** Cached elements before the cache is emptied (words repeat a lot; memory stays bounded). */
const CACHE_LIMIT = 100_000;
/** Longer elements are not cached (a few huge ones would otherwise hold a lot of memory). */
const CACHE_MAX_LENGTH = 256;

/** A piece of text the error message may quote: control characters escaped, length capped. */
function quote(s: string): string {
  return show(s, 60);
}

/**
 * Build the tokenizer from `tokenizer.json` (and optionally `tokenizer_config.json`), as parsed objects or
 * JSON text. Throws TokenizerError (naming the file and field) when a file is malformed, uses a component
 * this implementation does not run, or lacks a token GLiNER2 needs.
 */
export function loadTokenizer(tokenizerJson: object | string, tokenizerConfig?: object | string, options: LoadTokenizerOptions = {}): Gliner2Tokenizer {
  const file = options.file ?? "tokenizer.json";
  const configFile = options.configFile ?? "tokenizer_config.json";
  // The released tokenizer.json is 8.6 MB, nearly all vocabulary: read that part compactly when given text.
  const scanned = typeof tokenizerJson === "string" ? scanTokenizerJson(stripBom(tokenizerJson)) : null;
  const json = scanned ? scanned.json : parseJsonObject(tokenizerJson, file);
  const config = tokenizerConfig === undefined ? {} : parseJsonObject(tokenizerConfig, configFile);

  const model = readModel(json, file, scanned?.vocab);
  const added = assignAddedIds(readAddedTokens(json.added_tokens, file), model.vocab);
  const normalize = buildNormalizer(json.normalizer, file);
  const preTokenize = buildPreTokenizer(json.pre_tokenizer, file);

  const addedByContent = new Map<string, number>();
  for (const t of added) addedByContent.set(t.content, t.id);
  // The tokens transformers resolves through tokenizer_config (unk_token, pad_token, …) must exist.
  const roles = { unk: "[UNK]", pad: "[PAD]", cls: "[CLS]", sep: "[SEP]" } as const;
  const names = Object.fromEntries(Object.entries(roles).map(([role, fallback]) => [role, configuredToken(config, `${role}_token`, fallback, configFile)])) as Record<keyof typeof roles, string>;
  const found = findTokens(Object.values(names), addedByContent, model.vocab);
  const idFor = (role: keyof typeof roles): number => {
    const id = found.get(names[role]);
    if (id !== undefined) return id;
    if (role === "unk" && model.unkId !== undefined) return model.unkId;
    throw new TokenizerError(
      `has no ${role} token ${quote(names[role])} (neither among added_tokens nor in model.vocab)${config[`${role}_token`] !== undefined ? `; ${configFile} names it as ${role}_token` : ""}`,
      file,
      "added_tokens",
    );
  };
  const unkId = idFor("unk");
  const padId = idFor("pad");
  const clsId = idFor("cls");
  const sepId = idFor("sep");

  const rawMatcher = addedTokenMatcher(added.filter((t) => !t.normalized).map((t) => ({ token: t, pattern: t.content })));
  const normMatcher = addedTokenMatcher(added.filter((t) => t.normalized).map((t) => ({ token: t, pattern: normalize ? normalize(t.content) : t.content })));
  const unigram = unigramModel({ ...model, unkOutId: unkId, file });

  let vocabSize = model.vocab.size;
  for (const t of added) vocabSize = Math.max(vocabSize, t.id + 1);

  const pipeline: Pipeline = { rawMatcher, normMatcher, normalize, preTokenize, unigram, addedByContent, unkId, stripsLeft: stripsLeft(json.normalizer) };
  const cache = new Map<string, TokenizedElement>();
  const tokenize = (s: string): TokenizedElement => {
    let hit = cache.get(s);
    if (hit === undefined) {
      const tokens: string[] = [];
      const ids: number[] = [];
      run(pipeline, s, tokens, ids);
      hit = { tokens: Object.freeze(tokens), ids: Object.freeze(ids) };
      if (s.length <= CACHE_MAX_LENGTH) {
        if (cache.size >= CACHE_LIMIT) cache.clear();
        cache.set(s, hit);
      }
    }
    return hit;
  };

  // Each GLiNER2 token must be an added token that survives tokenisation as one piece.
  const special = new Map<string, number>();
  const missing: string[] = [];
  for (const tok of GLINER2_SPECIAL_TOKENS) {
    const id = addedByContent.get(tok);
    const t = id === undefined ? null : tokenize(tok);
    if (id === undefined || t === null || t.ids.length !== 1 || t.ids[0] !== id) missing.push(tok);
    else special.set(tok, id);
  }
  if (missing.length > 0) {
    throw new TokenizerError(
      `lacks GLiNER2's special token${missing.length > 1 ? "s" : ""} ${missing.join(", ")} among its added_tokens ` +
        `(a GLiNER2 checkpoint's tokenizer has all of ${GLINER2_SPECIAL_TOKENS.join(", ")})`,
      file,
      "added_tokens",
    );
  }


  return {
    tokenize(s: string): TokenizedElement {
      if (typeof s !== "string") throw new TokenizerError(`tokenize expects a string, got ${s === null ? "null" : typeof s}`, file);
      return tokenize(s);
    },
    tokenId(token: Gliner2SpecialToken): number {
      const id = special.get(token);
      if (id === undefined) throw new TokenizerError(`${quote(String(token))} is not one of GLiNER2's special tokens (${GLINER2_SPECIAL_TOKENS.join(", ")})`, file);
      return id;
    },
    vocabSize,
    unkId,
    padId,
    clsId,
    sepId,
    file,
  };
}

interface Pipeline {
  readonly rawMatcher: Matcher;
  readonly normMatcher: Matcher;
  readonly normalize: Normalize | null;
  readonly preTokenize: PreTokenize | null;
  readonly unigram: UnigramModel;
  readonly addedByContent: ReadonlyMap<string, number>;
  readonly unkId: number;
  readonly stripsLeft: boolean;
}

/**
 * `tokenize(s)` (encode without special tokens, keeping the pieces) then `convert_tokens_to_ids`: added tokens
 * split out, the rest normalized, pre-tokenized and segmented; every piece's id is looked up by its text,
 * added tokens first. (A matched added token's text can differ from its content — the normalized form of a
 * `normalized` token, the whitespace an `lstrip`/`rstrip` token swallowed — and then gets another id or the
 * unknown one, exactly as in Python.)
 */
function run(p: Pipeline, s: string, tokens: string[], ids: number[]): void {
  const convert = (text: string) => p.addedByContent.get(text) ?? p.unigram.idOf(text) ?? p.unkId;
  for (const raw of p.rawMatcher.split(s)) {
    if (raw.id !== undefined) {
      tokens.push(raw.text);
      ids.push(convert(raw.text));
      continue;
    }
    const normalized = p.normalize ? p.normalize(raw.text) : raw.text;
    if (normalized.length === 0) continue;
    for (const part of p.normMatcher.split(normalized)) {
      if (part.id !== undefined) {
        tokens.push(part.text);
        ids.push(convert(part.text));
        continue;
      }
      // "At the start" (for Metaspace's "first" scheme): the piece begins at the input's offset 0, which a
      // stripped leading space moves (but a character the charsmap deletes does not).
      const atStart = raw.start === 0 && part.start === 0 && !(p.stripsLeft && isRustWhitespace(raw.text.charCodeAt(0)));
      const first = { text: part.text, atStart };
      const pieces = p.preTokenize ? p.preTokenize([first]) : [first];
      for (const piece of pieces) if (piece.text.length > 0) p.unigram.encode(piece.text, tokens, ids);
    }
  }
  // Model pieces spelled like an added token get the added token's id (looked up first).
  if (p.addedByContent.size > 0) {
    for (let i = 0; i < tokens.length; i++) {
      const a = p.addedByContent.get(tokens[i]);
      if (a !== undefined) ids[i] = a;
    }
  }
}

interface ModelSpec {
  readonly vocab: Vocab;
  readonly unkId: number | undefined;
  readonly byteFallback: boolean;
}

/**
 * The Unigram model section: type, [piece, score] pairs, unk_id, byte_fallback — each checked. `scanned`: the
 * vocabulary already read from the text (json.model.vocab is then an empty placeholder).
 */
function readModel(json: Record<string, unknown>, file: string, scanned?: Vocab): ModelSpec {
  if (typeof json.model !== "object" || json.model === null || Array.isArray(json.model)) {
    throw new TokenizerError(`missing or not an object; expected a Hugging Face fast-tokenizer file`, file, "model");
  }
  const m = json.model as Record<string, unknown>;
  if (m.type !== "Unigram") {
    throw new TokenizerError(
      `model type ${m.type === undefined ? "(missing)" : show(m.type)} is not supported: GLiNER2's DeBERTa-v3 tokenizers are "Unigram" (SentencePiece) models`,
      file,
      "model.type",
    );
  }
  const vocab = scanned ?? parsedVocab(m.vocab, file);
  // The scanner already refused lone surrogates (the ordinary path then reports them): lengths remain.
  if (scanned) for (let i = 0; i < vocab.size; i++) if (vocab.offsets[i + 1] - vocab.offsets[i] > MAX_PIECE_LENGTH) checkPiece(vocab.blob, vocab.offsets[i], vocab.offsets[i + 1], file, i);
  const unk = m.unk_id;
  if (unk !== undefined && unk !== null && !(Number.isInteger(unk) && (unk as number) >= 0 && (unk as number) < vocab.size)) {
    throw new TokenizerError(`must be null or an index into model.vocab (0…${vocab.size - 1}), got ${show(unk)}`, file, "model.unk_id");
  }
  const byteFallback = m.byte_fallback ?? false;
  if (typeof byteFallback !== "boolean") throw new TokenizerError(`must be true or false, got ${show(byteFallback)}`, file, "model.byte_fallback");
  return { vocab, unkId: typeof unk === "number" ? unk : undefined, byteFallback };
}

/** model.vocab of a parsed file: every entry a [piece, score] pair. */
function parsedVocab(vocab: unknown, file: string): Vocab {
  if (!Array.isArray(vocab)) {
    throw new TokenizerError(`must be an array of [piece, score] pairs, got ${vocab === null ? "null" : typeof vocab}`, file, "model.vocab");
  }
  if (vocab.length === 0) throw new TokenizerError(`is empty`, file, "model.vocab");
  const pieces = new Array<string>(vocab.length);
  const scores = new Float64Array(vocab.length);
  for (let i = 0; i < vocab.length; i++) {
    const e = vocab[i];
    if (!Array.isArray(e) || e.length !== 2 || typeof e[0] !== "string" || typeof e[1] !== "number" || !Number.isFinite(e[1])) {
      throw new TokenizerError(`must be a [piece, score] pair (a string and a finite number), got ${show(e)}`, file, `model.vocab[${i}]`);
    }
    checkPiece(e[0], 0, e[0].length, file, i);
    pieces[i] = e[0];
    scores[i] = e[1];
  }
  return vocabFromPieces(pieces, scores);
}

/** Piece `i` (s[a, b)): valid Unicode (no lone UTF-16 surrogate), not absurdly long. */
function checkPiece(s: string, a: number, b: number, file: string, i: number): void {
  for (let k = a; k < b; k++) {
    const c = s.charCodeAt(k);
    if (c < 0xd800 || c > 0xdfff) continue;
    if (c <= 0xdbff && k + 1 < b && (s.charCodeAt(k + 1) & 0xfc00) === 0xdc00) k++;
    else throw new TokenizerError(`piece holds a lone UTF-16 surrogate (not valid Unicode)`, file, `model.vocab[${i}]`);
  }
  if (b - a > MAX_PIECE_LENGTH) {
    throw new TokenizerError(`piece of ${b - a} characters is longer than ${MAX_PIECE_LENGTH}; not a SentencePiece vocabulary`, file, `model.vocab[${i}]`);
  }
}

function readAddedTokens(v: unknown, file: string): AddedToken[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) throw new TokenizerError(`must be an array`, file, "added_tokens");
  return v.map((t, i): AddedToken => {
    const o = object(t, file, `added_tokens[${i}]`);
    if (!Number.isInteger(o.id) || (o.id as number) < 0 || (o.id as number) >= 2 ** 31) {
      throw new TokenizerError(`must be a non-negative integer id, got ${o.id === undefined ? "nothing" : show(o.id)}`, file, `added_tokens[${i}].id`);
    }
    if (typeof o.content !== "string" || o.content.length === 0) throw new TokenizerError(`must be a non-empty string`, file, `added_tokens[${i}].content`);
    const flag = (key: string, fallback: boolean): boolean => {
      const f = o[key] ?? fallback;
      if (typeof f !== "boolean") throw new TokenizerError(`must be true or false, got ${show(f)}`, file, `added_tokens[${i}].${key}`);
      return f;
    };
    const special = flag("special", false);
    return {
      id: o.id as number,
      content: o.content,
      singleWord: flag("single_word", false),
      lstrip: flag("lstrip", false),
      rstrip: flag("rstrip", false),
      normalized: flag("normalized", !special),
    };
  });
}

/** A token named in tokenizer_config.json (a string or an AddedToken object), or the default. */
function configuredToken(config: Record<string, unknown>, key: string, fallback: string, configFile: string): string {
  const v = config[key];
  if (v === undefined || v === null) return fallback;
  if (typeof v === "string") return v;
  if (typeof v === "object" && typeof (v as { content?: unknown }).content === "string") return (v as { content: string }).content;
  throw new TokenizerError(`must be a token string or {"content": …}, got ${show(v)}`, configFile, key);
}

/**
 * The ids Hugging Face gives added tokens when it loads tokenizer.json: the `id` written in the file is only
 * compared (with a warning) — a token whose content is already known keeps that id (a model piece's, or an
 * earlier added token's, whose flags it then replaces), and a new one takes the next id after the model
 * vocabulary and the added tokens so far. For released files both agree.
 */
function assignAddedIds(tokens: AddedToken[], vocab: Vocab): AddedToken[] {
  const inModel = findTokens(
    tokens.map((t) => t.content),
    new Map(),
    vocab,
  );
  const byContent = new Map<string, AddedToken>();
  let maxAdded = -1;
  for (const t of tokens) {
    const known = byContent.get(t.content)?.id ?? inModel.get(t.content);
    let id = known;
    if (id === undefined) id = maxAdded >= 0 && (maxAdded >= vocab.size || vocab.size === 0) ? maxAdded + 1 : vocab.size;
    byContent.set(t.content, { ...t, id });
    maxAdded = Math.max(maxAdded, id);
  }
  return [...byContent.values()];
}

/** Ids of the given token strings: added tokens first, then the model vocabulary (last id of a repeated piece). */
function findTokens(names: string[], added: ReadonlyMap<string, number>, vocab: Vocab): Map<string, number> {
  const found = new Map<string, number>();
  // Candidates by length: most pieces are ruled out by one subtraction, and no piece string is built.
  const byLength = new Map<number, string[]>();
  for (const n of new Set(names.filter((n) => !added.has(n)))) byLength.set(n.length, [...(byLength.get(n.length) ?? []), n]);
  const { offsets } = vocab;
  for (let i = 0; i < vocab.size && byLength.size > 0; i++) {
    const candidates = byLength.get(offsets[i + 1] - offsets[i]);
    if (candidates) for (const n of candidates) if (pieceEquals(vocab, i, n)) found.set(n, i);
  }
  for (const n of names) if (added.has(n)) found.set(n, added.get(n)!);
  return found;
}

/** Read `tokenizer.json` (and `tokenizer_config.json` when present) from a checkpoint folder (Node). */
export async function loadTokenizerFromDir(dir: string): Promise<Gliner2Tokenizer> {
  const { readFile } = await import("node:fs/promises");
  const { join } = await import("node:path");
  const path = join(dir, "tokenizer.json");
  let json: string;
  try {
    // Whole bytes decoded once (see readDirFiles in src/checkpoint.ts: the chunked "utf8" read grows V8's young generation).
    json = new TextDecoder("utf-8", { ignoreBOM: true }).decode(await readFile(path));
  } catch (e) {
    throw new TokenizerError(`cannot read ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  const configPath = join(dir, "tokenizer_config.json");
  let config: string | undefined;
  try {
    config = await readFile(configPath, "utf8");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw new TokenizerError(`cannot read ${configPath}: ${(e as Error).message}`);
  }
  return loadTokenizer(json, config, { file: path, configFile: configPath });
}

function stripBom(s: string): string {
  return s.charCodeAt(0) === 0xfeff ? s.slice(1) : s;
}

function parseJsonObject(v: object | string, file: string): Record<string, unknown> {
  let obj: unknown = v;
  if (typeof v === "string") {
    try {
      obj = JSON.parse(stripBom(v));
    } catch (e) {
      throw new TokenizerError(`not valid JSON: ${(e as Error).message}`, file);
    }
  }
  if (typeof obj !== "object" || obj === null || Array.isArray(obj)) {
    throw new TokenizerError(`must be a JSON object, got ${obj === null ? "null" : Array.isArray(obj) ? "an array" : typeof obj}`, file);
  }
  return obj as Record<string, unknown>;
}

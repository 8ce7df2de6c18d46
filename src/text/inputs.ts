/**
 * The encoder input of one text, assembled as the official processor's `format_input_with_mapping` does:
 *
 *   schema 0 tokens, [SEP_STRUCT], schema 1 tokens, …, schema n-1 tokens, [SEP_TEXT], prefix tokens, words
 *
 * (one [SEP_STRUCT] *between* schemas, none after the last; with no schema the sequence starts at
 * [SEP_TEXT]). Every element is tokenised on its own, no [CLS]/[SEP] is added. Each subword is mapped to
 * (segment, element index in that combined sequence, schema index): schema tokens and the [SEP_STRUCT] after
 * them belong to their schema; [SEP_TEXT] is segment "sep" and prefix tokens and words are "text", both with
 * schema index = number of schemas.
 *
 * Then, as `extract_special_token_embeddings_per_schema` reads the encoder output:
 * - per schema, the positions of subwords whose id is [P], [E], [C], [R] or [L] (row 0 is [P]);
 * - per text element (prefix tokens, then words), the position of its first subword ("first" pooling).
 *
 * Deliberate difference for text elements that tokenise to nothing (e.g. a lone control character, which
 * the real tokenizer's normalizer deletes): the official code emits no row for them, so every later word
 * silently takes its right neighbour's embedding and the last words fall off the span grid. Here such an
 * element points at the first subword of the next element that has one (or the last subword of the
 * sequence), keeping one row per word and every later word aligned; `emptyTextElements` lists them. The
 * token sequence itself (tokens, ids, mapping) is exactly the official one.
 *
 * Prompts that would make the official segmentation inconsistent are refused with an InputError instead of
 * giving wrong results: an element equal to "[SEP_TEXT]" (it would end the schema part early or drop a
 * word's row), a schema element equal to "[SEP_STRUCT]", and a schema element other than a bare marker
 * whose text contains a marker token (e.g. an entity named "a [E] b" would add a field row).
 */
import { InputError, TokenizerError } from "../errors.js";
import type { Gliner2Tokenizer } from "./tokenizer.js";

export type Segment = "schema" | "sep" | "text";
export type MappedIndex = readonly [segment: Segment, element: number, schema: number];

export interface AssembledInputs {
  /** Subword strings of the combined sequence. */
  readonly tokens: string[];
  /** Their ids (the encoder input row before padding). */
  readonly ids: Int32Array;
  /** Per subword: segment, element index in the combined sequence, schema index. */
  readonly mapped: MappedIndex[];
  /** Per text element (prefix tokens, then words): subword position whose hidden state represents it. */
  readonly textFirstSubword: number[];
  /** Per schema: subword positions of its [P], [E], [C], [R], [L] tokens, in order ([P] first). */
  readonly schemaSpecialPositions: number[][];
  /** Text elements (indices into prefix tokens + words) that tokenised to no subword (see module comment). */
  readonly emptyTextElements: number[];
}

const SEP_STRUCT = "[SEP_STRUCT]";
const SEP_TEXT = "[SEP_TEXT]";
const MARKERS = ["[P]", "[E]", "[C]", "[R]", "[L]"] as const;

export function assembleInputs(
  tok: Gliner2Tokenizer,
  schemaTokens: readonly (readonly string[])[],
  prefixTokens: readonly string[],
  words: readonly string[],
): AssembledInputs {
  checkStringList(prefixTokens, "prefixTokens");
  checkStringList(words, "words");
  if (!Array.isArray(schemaTokens)) throw new InputError("schemaTokens", "expected an array of token lists");
  for (let i = 0; i < schemaTokens.length; i++) checkStringList(schemaTokens[i], `schemaTokens[${i}]`);

  const sepTextId = tok.tokenId(SEP_TEXT);
  const markerIds = new Set(MARKERS.map((m) => tok.tokenId(m)));

  const tokens: string[] = [];
  const ids: number[] = [];
  const mapped: MappedIndex[] = [];
  const schemaSpecialPositions: number[][] = [];
  let element = 0;

  const push = (text: string, segment: Segment, schema: number): number => {
    const t = tok.tokenize(text);
    const first = tokens.length;
    for (let k = 0; k < t.tokens.length; k++) {
      tokens.push(t.tokens[k]);
      ids.push(t.ids[k]);
      mapped.push([segment, element, schema]);
    }
    element++;
    return first;
  };

  for (let s = 0; s < schemaTokens.length; s++) {
    const schema = schemaTokens[s];
    const positions: number[] = [];
    for (let i = 0; i < schema.length; i++) {
      const el = schema[i];
      if (el === SEP_TEXT || el === SEP_STRUCT) {
        throw new InputError(`schemaTokens[${s}][${i}]`, `"${el}" is a separator GLiNER2 inserts itself; it cannot be a schema token`);
      }
      const first = push(el, "schema", s);
      for (let p = first; p < tokens.length; p++) {
        if (!markerIds.has(ids[p])) continue;
        if (p !== first || tokens.length - first !== 1 || !(MARKERS as readonly string[]).includes(el)) {
          throw new InputError(
            `schemaTokens[${s}][${i}]`,
            `${JSON.stringify(el)} contains the GLiNER2 marker "${tokens[p]}"; names, labels and descriptions must not contain ${MARKERS.join(" ")}`,
          );
        }
        positions.push(p);
      }
    }
    schemaSpecialPositions.push(positions);
    if (s < schemaTokens.length - 1) push(SEP_STRUCT, "schema", s);
  }

  const textSchema = schemaTokens.length;
  const sepAt = push(SEP_TEXT, "sep", textSchema);
  if (tokens.length !== sepAt + 1 || ids[sepAt] !== sepTextId) {
    // Cannot happen with a tokenizer that passed loadTokenizer's checks; the rows below rely on it.
    throw new TokenizerError(`"${SEP_TEXT}" did not tokenise to its own id`);
  }

  const textElements: string[] = [...prefixTokens, ...words];
  const firstOf: number[] = [];
  textElements.forEach((el, i) => {
    if (el === SEP_TEXT) {
      const where = i < prefixTokens.length ? `prefixTokens[${i}]` : `words[${i - prefixTokens.length}]`;
      throw new InputError(where, `"${SEP_TEXT}" is the separator GLiNER2 inserts itself; it cannot be a text element`);
    }
    const first = push(el, "text", textSchema);
    firstOf.push(tokens.length > first ? first : -1);
  });

  // Empty elements borrow the next element's first subword, or the last subword when nothing follows.
  const emptyTextElements: number[] = [];
  const textFirstSubword = new Array<number>(firstOf.length);
  let next = tokens.length - 1;
  for (let i = firstOf.length - 1; i >= 0; i--) {
    if (firstOf[i] >= 0) next = firstOf[i];
    else emptyTextElements.unshift(i);
    textFirstSubword[i] = firstOf[i] >= 0 ? firstOf[i] : next;
  }

  return { tokens, ids: Int32Array.from(ids), mapped, textFirstSubword, schemaSpecialPositions, emptyTextElements };
}

function checkStringList(list: unknown, argument: string): void {
  if (!Array.isArray(list)) throw new InputError(argument, `expected an array of strings, got ${list === null ? "null" : typeof list}`);
  list.forEach((v, i) => {
    if (typeof v !== "string") throw new InputError(`${argument}[${i}]`, `expected a string, got ${v === null ? "null" : typeof v}`);
  });
}

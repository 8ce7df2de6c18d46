/**
 * Splitting a text on added tokens, as Hugging Face's AddedVocabulary does: tokens with `normalized: false`
 * are found in the raw text, the others in each normalized remainder. Matches are leftmost-longest and do
 * not overlap; `single_word` tokens only match between non-word characters; `lstrip`/`rstrip` tokens swallow
 * the whitespace before/after them.
 */
import { isRustWhitespace } from "./normalize.js";

export interface AddedToken {
  readonly id: number;
  readonly content: string;
  readonly singleWord: boolean;
  readonly lstrip: boolean;
  readonly rstrip: boolean;
  readonly normalized: boolean;
}

/** A stretch of text (`id` undefined) or an added token found in it; `start` is its offset in the text. */
export interface Part {
  readonly text: string;
  readonly start: number;
  readonly id?: number;
}

export interface Matcher {
  split(text: string): Part[];
}

export function addedTokenMatcher(tokens: readonly { token: AddedToken; pattern: string }[]): Matcher {
  // Candidates by first code unit, longest first.
  const byFirst = new Map<number, { token: AddedToken; pattern: string }[]>();
  for (const t of tokens) {
    if (t.pattern.length === 0) continue;
    const c = t.pattern.charCodeAt(0);
    const list = byFirst.get(c) ?? [];
    list.push(t);
    byFirst.set(c, list);
  }
  for (const list of byFirst.values()) list.sort((a, b) => b.pattern.length - a.pattern.length);

  return {
    split(text: string): Part[] {
      if (byFirst.size === 0) return [{ text, start: 0 }];
      const parts: Part[] = [];
      let done = 0; // text before this offset is already in parts
      for (let i = 0; i < text.length; ) {
        const list = byFirst.get(text.charCodeAt(i));
        const hit = list?.find((t) => text.startsWith(t.pattern, i));
        if (hit === undefined) {
          i++;
          continue;
        }
        let start = i;
        let stop = i + hit.pattern.length;
        i = stop;
        const tok = hit.token;
        if (tok.singleWord && ((start > 0 && isWordChar(text, start - 1, true)) || (stop < text.length && isWordChar(text, stop, false)))) continue;
        if (tok.lstrip) while (start > done && isRustWhitespace(text.charCodeAt(start - 1))) start--;
        if (tok.rstrip) while (stop < text.length && isRustWhitespace(text.charCodeAt(stop))) stop++;
        if (start > done) parts.push({ text: text.slice(done, start), start: done });
        parts.push({ text: text.slice(start, stop), start, id: tok.id });
        done = stop;
        i = stop;
      }
      if (done < text.length) parts.push({ text: text.slice(done), start: done });
      return parts;
    },
  };
}

/** Rust regex `\w` (what Hugging Face tests single_word with): letters, marks, digits, connectors, ZWJ/ZWNJ. */
const WORD = /^[\p{Alphabetic}\p{M}\p{Nd}\p{Pc}\p{Join_Control}]$/u;

/** Whether the character ending (before) or starting (!before) at `at` is a word character. */
function isWordChar(text: string, at: number, before: boolean): boolean {
  let ch: string;
  if (before) {
    const low = text.charCodeAt(at);
    ch = (low & 0xfc00) === 0xdc00 && at > 0 ? text.slice(at - 1, at + 1) : text[at];
  } else {
    ch = String.fromCodePoint(text.codePointAt(at)!);
  }
  return WORD.test(ch);
}

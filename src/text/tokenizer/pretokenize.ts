/**
 * tokenizer.json `pre_tokenizer` components (Hugging Face semantics): Sequence, Metaspace, WhitespaceSplit.
 * Any other type is refused at load. Empty pieces are dropped, as the Rust library drops them.
 */
import { TokenizerError } from "../../errors.js";
import { isRustWhitespace, MAX_NESTING, object, show } from "./normalize.js";

/** One piece of a normalized segment; `atStart`: it begins at offset 0 of the original input. */
export interface Piece {
  readonly text: string;
  readonly atStart: boolean;
}

export type PreTokenize = (pieces: Piece[]) => Piece[];

export const SUPPORTED_PRE_TOKENIZERS = ["Sequence", "Metaspace", "WhitespaceSplit"];

export function buildPreTokenizer(spec: unknown, file: string, field = "pre_tokenizer", depth = 0): PreTokenize | null {
  if (spec === null || spec === undefined) return null;
  if (depth > MAX_NESTING) throw new TokenizerError(`Sequence nested more than ${MAX_NESTING} deep`, file, field);
  const o = object(spec, file, field);
  switch (o.type) {
    case "Sequence": {
      const list = o.pretokenizers;
      if (!Array.isArray(list)) throw new TokenizerError(`must be an array`, file, `${field}.pretokenizers`);
      const steps = list.map((s, i) => buildPreTokenizer(s, file, `${field}.pretokenizers[${i}]`, depth + 1)).filter((s): s is PreTokenize => s !== null);
      return (pieces) => {
        for (const step of steps) pieces = step(pieces);
        return pieces;
      };
    }
    case "Metaspace":
      return metaspace(o, file, field);
    case "WhitespaceSplit":
      return (pieces) => {
        const out: Piece[] = [];
        for (const p of pieces) {
          let from = -1;
          for (let i = 0; i <= p.text.length; i++) {
            const ws = i === p.text.length || isRustWhitespace(p.text.charCodeAt(i));
            if (!ws && from < 0) from = i;
            else if (ws && from >= 0) {
              out.push({ text: p.text.slice(from, i), atStart: p.atStart && from === 0 });
              from = -1;
            }
          }
        }
        return out;
      };
    default:
      throw new TokenizerError(`pre-tokenizer type ${show(o.type)} is not supported (supported: ${SUPPORTED_PRE_TOKENIZERS.join(", ")})`, file, `${field}.type`);
  }
}

/**
 * Spaces become the replacement character; the replacement is prepended (scheme "always": to every piece
 * that does not start with it; "first": only to a piece at the start of the input; "never"); with `split`, the
 * piece is cut before every replacement character.
 */
function metaspace(o: Record<string, unknown>, file: string, field: string): PreTokenize {
  const rep = o.replacement;
  if (typeof rep !== "string" || rep.length === 0 || rep.length > 2 || rep.length !== String.fromCodePoint(rep.codePointAt(0)!).length) throw new TokenizerError(`must be one character, got ${show(rep)}`, file, `${field}.replacement`);
  let scheme = o.prepend_scheme;
  if (scheme === undefined) {
    // Files written before prepend_scheme existed say add_prefix_space.
    const legacy = o.add_prefix_space ?? true;
    if (typeof legacy !== "boolean") throw new TokenizerError(`must be true or false`, file, `${field}.add_prefix_space`);
    scheme = legacy ? "always" : "never";
  }
  if (scheme !== "always" && scheme !== "first" && scheme !== "never") {
    throw new TokenizerError(`must be "always", "first" or "never", got ${show(scheme)}`, file, `${field}.prepend_scheme`);
  }
  const split = o.split ?? true;
  if (typeof split !== "boolean") throw new TokenizerError(`must be true or false`, file, `${field}.split`);
  return (pieces) => {
    const out: Piece[] = [];
    for (const p of pieces) {
      let t: string = p.text.replaceAll(" ", rep);
      if (t.length > 0 && !t.startsWith(rep) && (scheme === "always" || (scheme === "first" && p.atStart))) t = rep + t;
      if (!split) {
        if (t.length > 0) out.push({ text: t, atStart: p.atStart });
        continue;
      }
      let from = 0;
      for (let i = t.indexOf(rep, 1); i >= 0; i = t.indexOf(rep, i + rep.length)) {
        if (i > from) out.push({ text: t.slice(from, i), atStart: p.atStart && from === 0 });
        from = i;
      }
      if (from < t.length) out.push({ text: t.slice(from), atStart: p.atStart && from === 0 });
    }
    return out;
  };
}

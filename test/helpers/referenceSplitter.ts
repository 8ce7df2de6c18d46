/**
 * The word splitter as it was before it became linear: the official regex run by the JS regex engine
 * (quadratic on long runs of e-mail characters). Kept as the oracle the linear scanner is compared against;
 * only ever run on short texts.
 */
const SPACE = "\\t-\\r\\x1c-\\x20\\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000";
const AZ = "a-zA-Z\\u0130\\u0131\\u017f\\u212a";
const WORD = "\\p{L}\\p{N}_";
const NON_SPACE = `[^${SPACE}]`;
const SPLITTER = new RegExp(
  [
    `[hH][tT][tT][pP][sS\\u017f]?://${NON_SPACE}+`,
    `[wW][wW][wW]\\.${NON_SPACE}+`,
    `[${AZ}0-9._%+\\-]+@[${AZ}0-9.\\-]+\\.[${AZ}]{2,}`,
    `@[${AZ}0-9_]+`,
    `[${WORD}]+(?:[\\-_][${WORD}]+)*`,
    NON_SPACE,
  ].join("|"),
  "gu",
);

/** [start, end) UTF-16 ranges of the matches in an already lower-cased string. */
export function referenceMatches(lower: string): [number, number][] {
  const out: [number, number][] = [];
  SPLITTER.lastIndex = 0;
  for (let m = SPLITTER.exec(lower); m !== null; m = SPLITTER.exec(lower)) out.push([m.index, m.index + m[0].length]);
  return out;
}

import { splitWords } from "../../src/text/words.js";

/**
 * A deterministic synthetic document of about `words` words (official word count: punctuation counts), with
 * names, places, dates, amounts, e-mails and URLs so every task kind finds something. Seeded: same input → same
 * text.
 */
const PEOPLE = ["Elena Brooks", "David Reyes", "Lisa Chang", "Tina Kotek", "Harold Jensen", "Amara Osei", "Tomas Berg", "Priya Natarajan", "Rui Costa", "Joana Silva"];
const ORGS = ["Harbor Merchants Association", "Oregon State University", "Kessler & Brandt", "Northwind Labs", "Blue Harbor Ventures", "Lakeshore General Hospital", "Redwood Research"];
const PLACES = ["Portland", "Lisbon", "Austin", "Toronto", "Accra", "Oslo", "Monterrey", "İzmir", "Zürich"];
const VERBS = ["met", "called", "visited", "thanked", "hired", "praised", "criticized", "joined"];
const TAILS = [
  "to discuss the budget for the new harbor park",
  "about the delayed shipment of 4,000 units",
  "before the council vote on March 4, 2024",
  "and asked for monthly updates by e-mail at info@example.org",
  "while the press waited outside in the rain",
  "after reading the proposal at https://example.gov/plan",
  "and promised $2.5 million for the research center",
];

export function syntheticDocument(words: number, seed = 1): string {
  let state = seed >>> 0;
  const next = (n: number) => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state % n;
  };
  const sentences: string[] = [];
  let count = 0;
  while (count < words) {
    const s = `${PEOPLE[next(PEOPLE.length)]} of ${ORGS[next(ORGS.length)]} ${VERBS[next(VERBS.length)]} ${PEOPLE[next(PEOPLE.length)]} in ${PLACES[next(PLACES.length)]} ${TAILS[next(TAILS.length)]}.`;
    sentences.push(s);
    count += splitWords(s).length;
    if (next(6) === 0) sentences.push("\n\n");
  }
  return sentences.join(" ").replace(/ \n\n /g, "\n\n");
}

// Relation extraction: (head, tail) pairs per relation type.
// Run: npm run build && node examples/relations.mjs [--model fastino/gliner2-base-v1]
import { GLiNER2 } from "gliner2";
import { modelArg, show } from "./_args.mjs";

const model = await GLiNER2.fromPretrained(modelArg());
const text = "John works for Apple Inc. in Cupertino, and Mary works for Microsoft in Redmond.";

show("pairs:", await model.extractRelations(text, ["works_for", "located_in"]));
show(
  "per-relation threshold, with spans:",
  await model.extractRelations(text, { works_for: { threshold: 0.4 }, located_in: "company located in a city" }, { includeSpans: true }),
);

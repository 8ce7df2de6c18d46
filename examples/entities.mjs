// Named entities: a list of types, types with descriptions, and per-type settings.
// Run: npm run build && node examples/entities.mjs [--model fastino/gliner2-base-v1]
import { GLiNER2 } from "gliner2";
import { modelArg, show } from "./_args.mjs";

const model = await GLiNER2.fromPretrained(modelArg());
const text = "Apple CEO Tim Cook announced the iPhone 15 in Cupertino on September 12, 2023.";

show("types:", await model.extractEntities(text, ["company", "person", "product", "location", "date"]));

show(
  "with descriptions and confidences:",
  await model.extractEntities(text, { person: "Names of people", company: "Businesses and brands" }, { includeConfidence: true }),
);

show(
  "per-type threshold and a single value (dtype str), with character spans:",
  await model.extractEntities(text, { person: { threshold: 0.3 }, date: { dtype: "str" } }, { includeSpans: true }),
);

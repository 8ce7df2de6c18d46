// Many texts: one schema for all (texts are encoded batchSize at a time), or one schema per text.
// Run: npm run build && node examples/batch.mjs [--model fastino/gliner2-base-v1]
import { GLiNER2 } from "gliner2";
import { modelArg, show } from "./_args.mjs";

const model = await GLiNER2.fromPretrained(modelArg());
const texts = [
  "Tim Cook leads Apple from Cupertino.",
  "Satya Nadella is the CEO of Microsoft.",
  "The Eiffel Tower is in Paris.",
  "Shipping was slow but the product is great!",
];

const schema = model.createSchema().entities(["person", "company", "location"]);
const started = performance.now();
const results = await model.batchExtract(texts, schema, { batchSize: 2 });
show(`one schema, ${texts.length} texts in ${(performance.now() - started).toFixed(0)} ms:`, results);

const perText = texts.map((_, i) =>
  i < 3 ? model.createSchema().entities(["person", "location"]) : model.createSchema().classification("sentiment", ["positive", "negative"]),
);
show("one schema per text:", await model.batchExtract(texts, perText));

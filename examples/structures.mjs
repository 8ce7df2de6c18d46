// Structured extraction: field spec strings ("name::dtype::description", "name::[a|b]::str" for choices).
// Run: npm run build && node examples/structures.mjs [--model fastino/gliner2-base-v1]
import { GLiNER2 } from "gliner2";
import { modelArg, show } from "./_args.mjs";

const model = await GLiNER2.fromPretrained(modelArg());
const text = "The new iPhone 15 Pro costs $999 and ships with 256GB of storage, while the Galaxy S24 is $899 with 512GB.";

show(
  "products:",
  await model.extractJson(text, {
    product: ["name::str::The product name", "price::str", "storage::list", "brand::[apple|samsung|google]::str"],
  }),
);

// The same with the builder: field options instead of spec strings.
const schema = model
  .createSchema()
  .structure("product")
  .field("name", { dtype: "str", description: "The product name" })
  .field("price", { dtype: "str", threshold: 0.4 })
  .field("brand", { dtype: "str", choices: ["apple", "samsung", "google"] });
show("builder, with confidences:", await model.extract(text, schema, { includeConfidence: true }));

// Several tasks in one pass: entities, a classification, a structure and relations share one encoder run.
// Run: npm run build && node examples/multi-task.mjs [--model fastino/gliner2-base-v1]
import { GLiNER2 } from "gliner2";
import { modelArg, show } from "./_args.mjs";

const model = await GLiNER2.fromPretrained(modelArg());
const text = "Maria Lopez joined Northwind Traders in Seattle on March 3, 2021. The company pays her $120,000 a year.";

const schema = model
  .createSchema()
  .entities(["person", "organization", "location"])
  .classification("tone", ["formal", "casual"])
  .relations(["works_for"])
  .structure("hire")
  .field("employee", { dtype: "str" })
  .field("employer", { dtype: "str" })
  .field("date", { dtype: "str" })
  .field("salary");

show("all tasks:", await model.extract(text, schema, { threshold: 0.5, includeConfidence: true }));

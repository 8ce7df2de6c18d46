// A schema kept in a JSON file (the hosted-API format: entities, classifications, structures, relations),
// the same file the CLI takes with --schema.
// Run: npm run build && node examples/schema-file.mjs [--model fastino/gliner2-base-v1]
import { readFile } from "node:fs/promises";
import { GLiNER2 } from "gliner2";
import { modelArg, show } from "./_args.mjs";

const schema = JSON.parse(await readFile(new URL("./schema.json", import.meta.url), "utf8"));
const model = await GLiNER2.fromPretrained(modelArg());
const text = "Tim Cook said Apple's new MacBook Air, priced at $1,099, ships from Cupertino next week.";
show("schema.json:", await model.extract(text, schema));

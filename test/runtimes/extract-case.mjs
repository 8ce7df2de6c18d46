/**
 * Runs test/runtimes/case.json through a built library and prints the result as one JSON line (after checking that
 * the same load with the embedding table left on disk gives the same result).
 * The same file runs under Node, Deno and Bun:  <runtime> extract-case.mjs <dist/index.js> <checkpoint dir> <case.json>
 */
const args = globalThis.Deno ? globalThis.Deno.args : globalThis.process.argv.slice(2);
const [libPath, modelDir, casePath] = args;
const { pathToFileURL } = await import("node:url");
const { readFile } = await import("node:fs/promises");
const { GLiNER2 } = await import(pathToFileURL(libPath).href);
const testCase = JSON.parse(await readFile(casePath, "utf8"));
const model = await GLiNER2.fromPretrained(modelDir);
const result = await model.extract(testCase.text, testCase.schema, testCase.options);
// The word-embedding table read from the open file (embeddings: "disk", in the model's worker) gives the same.
const disk = await GLiNER2.fromPretrained(modelDir, { embeddings: "disk" });
const fromDisk = await disk.extract(testCase.text, testCase.schema, testCase.options);
await disk.dispose();
if (JSON.stringify(fromDisk) !== JSON.stringify(result)) throw new Error(`embeddings: "disk" gave ${JSON.stringify(fromDisk)}`);
console.log(JSON.stringify(result));

/**
 * The kernel backends of a built library in one runtime (Node, Deno, Bun), printed as one JSON line for
 * test/runtimes.test.ts to compare across runtimes (test/runtimes/backend-core.mjs says what is in it):
 *   <runtime> backend-case.mjs <dist/index.js> <checkpoint dir> <golden dir> <case.json>
 * With GLINER2_TEST_UNSHARED_MEMORY=1 the library sees `crossOriginIsolated === false`, as in a browser page
 * without isolation: its WebAssembly memory is not shared (growing it detaches old views), and there are no
 * threads, so the two-thread configurations are left out.
 */
const args = globalThis.Deno ? globalThis.Deno.args : globalThis.process.argv.slice(2);
const [libPath, modelDir, goldenDir, casePath] = args;
const unshared = (globalThis.Deno ? globalThis.Deno.env.get("GLINER2_TEST_UNSHARED_MEMORY") : globalThis.process.env.GLINER2_TEST_UNSHARED_MEMORY) === "1";
if (unshared) globalThis.crossOriginIsolated = false;
const { pathToFileURL } = await import("node:url");
const { readFile } = await import("node:fs/promises");
const { join } = await import("node:path");
const { backendReport, CONFIGS } = await import("./backend-core.mjs");
const lib = await import(pathToFileURL(libPath).href);

const report = await backendReport({
  lib,
  load: (opts) => lib.GLiNER2.fromPretrained(modelDir, { ...opts, offThread: false }),
  golden: await lib.readSafetensorsFile(join(goldenDir, "encoder.safetensors")),
  runs: JSON.parse(await readFile(join(goldenDir, "encoder.json"), "utf8")).runs,
  testCase: JSON.parse(await readFile(casePath, "utf8")),
  names: Object.keys(CONFIGS).filter((name) => !unshared || CONFIGS[name].threads === 1),
});
const runtime = globalThis.Deno ? `deno ${globalThis.Deno.version.deno}` : globalThis.Bun ? `bun ${globalThis.Bun.version}` : `node ${globalThis.process.versions.node}`;
console.log(JSON.stringify({ runtime, ...report }));

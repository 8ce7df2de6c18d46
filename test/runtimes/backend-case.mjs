/**
 * The kernel backends of a built library, run in one runtime, printed as one JSON line for test/runtimes.test.ts
 * to compare across runtimes (Node 20, 22, 24, Deno, Bun):
 *   <runtime> backend-case.mjs <dist/index.js> <checkpoint dir> <golden dir> <case.json>
 *
 * - `fresh`: backendInfo() before anything chose a backend (what "auto" picks, what the runtime offers);
 * - `configs`: per kernel configuration (wasm, wasm-relaxed, js, int8 on wasm, and both wasm ones on two
 *   threads), the model loaded in this thread, what actually ran, the encoder's last hidden state on every golden
 *   encoder input (golden/encoder.json; float32 bytes, base64) and the fixed extraction (case.json) as JSON.
 */
const args = globalThis.Deno ? globalThis.Deno.args : globalThis.process.argv.slice(2);
const [libPath, modelDir, goldenDir, casePath] = args;
const { pathToFileURL } = await import("node:url");
const { readFile } = await import("node:fs/promises");
const { join } = await import("node:path");
const lib = await import(pathToFileURL(libPath).href);
const { GLiNER2, backendInfo, encode, readSafetensorsFile, stopThreads, threadCount } = lib;

const fresh = backendInfo();
const testCase = JSON.parse(await readFile(casePath, "utf8"));
const golden = await readSafetensorsFile(join(goldenDir, "encoder.safetensors"));
const runs = JSON.parse(await readFile(join(goldenDir, "encoder.json"), "utf8")).runs;

function base64(f32) {
  const bytes = new Uint8Array(f32.buffer, f32.byteOffset, f32.byteLength);
  let s = "";
  for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(s);
}

const CONFIGS = {
  wasm: { backend: "wasm", threads: 1 },
  "wasm-relaxed": { backend: "wasm-relaxed", threads: 1 },
  js: { backend: "js", threads: 1 },
  "wasm-int8": { backend: "wasm", quantize: "int8", threads: 1 },
  "wasm-2threads": { backend: "wasm", threads: 2 },
  "wasm-int8-2threads": { backend: "wasm", quantize: "int8", threads: 2 },
};

const configs = {};
for (const [name, opts] of Object.entries(CONFIGS)) {
  const model = await GLiNER2.fromPretrained(modelDir, { ...opts, offThread: false });
  const hidden = {};
  for (const run of runs) {
    const ids = golden.ints(`${run.name}.input_ids`, [run.batch, run.length]);
    const mask = golden.ints(`${run.name}.attention_mask`, [run.batch, run.length]);
    hidden[run.name] = base64(encode(model.model.encoder, ids, mask, run.batch, run.length));
  }
  const extract = JSON.stringify(await model.extract(testCase.text, testCase.schema, testCase.options));
  configs[name] = { active: backendInfo().active, threads: threadCount(), hidden, extract };
}
stopThreads();

const runtime = globalThis.Deno ? `deno ${globalThis.Deno.version.deno}` : globalThis.Bun ? `bun ${globalThis.Bun.version}` : `node ${globalThis.process.versions.node}`;
console.log(JSON.stringify({ runtime, fresh, configs }));

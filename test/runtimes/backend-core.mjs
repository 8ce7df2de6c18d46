/**
 * The backend report shared by test/runtimes/backend-case.mjs (Node, Deno, Bun) and backend-page.html (Chromium):
 * per kernel configuration, the model loaded in the calling thread, what actually ran, the encoder's last hidden
 * state on every golden encoder input (float32 bytes, base64) and the fixed extraction as JSON.
 */

/** name → load options; `threads` only where the host can start worker threads from this thread. */
export const CONFIGS = {
  wasm: { backend: "wasm", threads: 1 },
  "wasm-relaxed": { backend: "wasm-relaxed", threads: 1 },
  js: { backend: "js", threads: 1 },
  "wasm-int8": { backend: "wasm", quantize: "int8", threads: 1 },
  "wasm-2threads": { backend: "wasm", threads: 2 },
  "wasm-int8-2threads": { backend: "wasm", quantize: "int8", threads: 2 },
};

function base64(f32) {
  const bytes = new Uint8Array(f32.buffer, f32.byteOffset, f32.byteLength);
  let s = "";
  for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(s);
}

/**
 * `lib`: the built library's exports (backendInfo must not have been asked to choose yet: `fresh` is what "auto"
 * picks); `load(options)`: a model in this thread; `golden`: golden/encoder.safetensors parsed; `runs`: its
 * encoder.json runs; `names`: which CONFIGS to run.
 */
export async function backendReport({ lib, load, golden, runs, testCase, names = Object.keys(CONFIGS) }) {
  const fresh = lib.backendInfo();
  const configs = {};
  for (const name of names) {
    const model = await load(CONFIGS[name]);
    const hidden = {};
    for (const run of runs) {
      const ids = golden.ints(`${run.name}.input_ids`, [run.batch, run.length]);
      const mask = golden.ints(`${run.name}.attention_mask`, [run.batch, run.length]);
      hidden[run.name] = base64(lib.encode(model.model.encoder, ids, mask, run.batch, run.length));
    }
    const extract = JSON.stringify(await model.extract(testCase.text, testCase.schema, testCase.options));
    configs[name] = { active: lib.backendInfo().active, threads: lib.threadCount(), hidden, extract };
  }
  lib.stopThreads();
  return { fresh, configs };
}

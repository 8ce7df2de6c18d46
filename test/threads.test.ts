/** The thread pool: linear() split across worker threads gives bit-identical results, and the engine with it. */
import { afterAll, describe, expect, it } from "vitest";
import { linear, linearPanels, packLinear, setBackend, startThreads, stopThreads, threadCount } from "../src/kernels/index.js";
import { GLiNER2 } from "../src/gliner2.js";
import { checkpointDir } from "./helpers/golden.js";

function rand(n: number, seed: number): Float32Array {
  let s = seed;
  return Float32Array.from({ length: n }, () => ((s = (s * 1103515245 + 12345) % 2147483648) / 2147483648) * 2 - 1);
}

describe("threaded linear", () => {
  afterAll(() => {
    stopThreads();
    setBackend("auto");
  });

  it("matches one thread exactly, on shapes that split unevenly and on small ones (js backend)", async () => {
    setBackend("js");
    await startThreads(2);
    expect(threadCount()).toBe(2);
    for (const [M, K, N] of [[7, 64, 130], [128, 96, 257], [1, 3, 5], [33, 200, 1000]]) {
      const layer = packLinear(rand(N * K, N), N, K, rand(N, K));
      expect(layer.packed.buffer).toBeInstanceOf(SharedArrayBuffer);
      const x = rand(M * K, M);
      const single = new Float32Array(M * N);
      linearPanels(x, M, K, N, layer.packed, layer.bias, single, 0, Math.ceil(N / 4));
      const threaded = linear(x, M, layer);
      expect(threaded).toEqual(single);
    }
  });

  for (const backend of ["js", "auto"] as const) {
  it(`gives the same extraction results with and without threads (${backend} backend)`, async () => {
    stopThreads();
    setBackend(backend);
    const text = "Maria moved from Lisbon to Berlin in 2019 to join Siemens as a senior engineer in the energy unit.";
    const schema = { entities: ["person", "city", "company"], classifications: { topic: { labels: ["work", "travel"] } }, relations: ["works_for"] };
    const plain = await (await GLiNER2.fromPretrained(checkpointDir("tiny-count_lstm_v2"), { offThread: false })).extract(text, schema, { includeConfidence: true });
    // In-thread: this tests the pool of the calling thread.
    const threaded = await GLiNER2.fromPretrained(checkpointDir("tiny-count_lstm_v2"), { threads: 2, offThread: false });
    expect(threadCount()).toBe(2);
    expect(await threaded.extract(text, schema, { includeConfidence: true })).toEqual(plain);
    stopThreads();
    expect(threadCount()).toBe(1);
  });
  }
});

describe("backend option", () => {
  afterAll(() => {
    stopThreads();
    setBackend("auto");
  });

  it("fromPretrained({ backend }) selects the kernels, rejects unknown names, and wasm threads give the same extraction", async () => {
    const text = "Maria moved from Lisbon to Berlin in 2019 to join Siemens as a senior engineer in the energy unit.";
    const schema = { entities: ["person", "city", "company"], classifications: { topic: { labels: ["work", "travel"] } } };
    const js = await GLiNER2.fromPretrained(checkpointDir("tiny-count_lstm_v2"), { backend: "js", offThread: false });
    expect(js.model.encoder.layers[0].query.wasm).toBeUndefined();
    const wasm = await GLiNER2.fromPretrained(checkpointDir("tiny-count_lstm_v2"), { backend: "wasm", offThread: false });
    expect(wasm.model.encoder.layers[0].query.wasm).toBeDefined();
    const one = await wasm.extract(text, schema, { includeConfidence: true });
    const wasm2 = await GLiNER2.fromPretrained(checkpointDir("tiny-count_lstm_v2"), { backend: "wasm", threads: 2, offThread: false });
    expect(threadCount()).toBe(2);
    expect(await wasm2.extract(text, schema, { includeConfidence: true })).toEqual(one);
    // same decisions as the reference kernels
    setBackend("js");
    stopThreads();
    expect(JSON.stringify(await js.extract(text, schema))).toBe(JSON.stringify(await (setBackend("wasm"), wasm.extract(text, schema))));
    await expect(GLiNER2.fromPretrained(checkpointDir("tiny-count_lstm_v2"), { backend: "gpu" as never, offThread: false })).rejects.toThrow(/backend/);
  });
});

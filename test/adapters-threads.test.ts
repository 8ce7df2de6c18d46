/**
 * LoRA adapters with the worker-thread pool: the run-time delta is added after the threaded product, merged layers
 * are re-packed into shared memory by `packLinear`, and the results equal the single-thread ones exactly.
 * (Own file: the pool is process-wide and vitest runs each file in its own process.)
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, expect, it } from "vitest";
import { GLiNER2 } from "../src/gliner2.js";
import { stopThreads, threadCount } from "../src/kernels/index.js";
import { FIXTURES_DIR, checkpointDir } from "./helpers/golden.js";

const index = JSON.parse(readFileSync(`${FIXTURES_DIR}lora/index.json`, "utf8")) as {
  cases: { checkpoint: string; name: string }[];
  adapters: Record<string, Record<string, { name: string; checked: boolean }>>;
};
const ck = index.cases[0].checkpoint;
const names = Object.values(index.adapters[ck]).filter((a) => a.checked).map((a) => a.name);
const adapter = (name: string) => `${FIXTURES_DIR}lora/adapters/${ck}/${name}`;
const texts = [
  "Maria moved from Lisbon to Berlin in 2019 to join Siemens as a senior engineer in the energy unit.",
  "The hotel near the harbour was quiet, but breakfast was cold and the staff ignored our complaints.",
];
const schema = { entities: ["person", "city", "company"], classifications: { topic: { labels: ["work", "travel", "food"] } }, relations: ["works_for"] };
const opts = { includeConfidence: true, batchSize: 2 } as const;

async function states(model: GLiNER2): Promise<unknown[]> {
  for (const name of names) await model.loadAdapter(adapter(name), { name, activate: false });
  const out: unknown[] = [await model.batchExtract(texts, schema, opts)];
  for (const name of names) out.push(await model.batchExtract(texts, schema, { ...opts, adapter: name }));
  for (const name of names.slice(2)) model.unloadAdapter(name);
  model.unloadAdapter(names[0]);
  await model.mergeAdapter(names[1]);
  out.push(await model.batchExtract(texts, schema, opts));
  return out;
}

const inMemory = () =>
  GLiNER2.fromFiles({
    config: readFileSync(join(checkpointDir(ck), "config.json"), "utf8"),
    encoderConfig: readFileSync(join(checkpointDir(ck), "encoder_config/config.json"), "utf8"),
    tokenizer: readFileSync(join(checkpointDir(ck), "tokenizer.json"), "utf8"),
    weights: readFileSync(join(checkpointDir(ck), "model.safetensors")),
  });

afterAll(() => stopThreads());

it("adapters (per call, merged from the file and through linear()) give the same results with 2 threads", async () => {
  const plain = await states(await GLiNER2.fromPretrained(checkpointDir(ck), { offThread: false }));
  const plainProbed = await states(inMemory());
  expect(names.length).toBeGreaterThanOrEqual(2);
  expect(new Set(plain.map((o) => JSON.stringify(o))).size).toBeGreaterThan(2); // adapters change the results
  const threaded = await GLiNER2.fromPretrained(checkpointDir(ck), { threads: 2, offThread: false });
  expect(threadCount()).toBe(2);
  expect(await states(threaded)).toEqual(plain);
  expect(await states(inMemory())).toEqual(plainProbed);
});

/**
 * `embeddings: "disk"`: the word-embedding table stays in model.safetensors and each encode reads its tokens'
 * rows. Held to the in-memory table bit for bit (float file, float file quantized at load, int8 checkpoint), in
 * this thread and in a worker; a file changed after loading, a non-finite row, a disposed model and bad options
 * fail with typed errors; dispose gives the file descriptor back.
 */
import { closeSync, cpSync, existsSync, mkdtempSync, openSync, readdirSync, readFileSync, readlinkSync, rmSync, utimesSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { readCheckpointDir } from "../src/checkpoint.js";
import { Gliner2Error, InputError, WeightsError } from "../src/errors.js";
import { GLiNER2 } from "../src/gliner2.js";
import { quantizeCheckpoint } from "../src/int8/checkpoint.js";
import { encode } from "../src/model/deberta.js";
import { parseSafetensors } from "../src/model/safetensors.js";
import { checkpointDir } from "./helpers/golden.js";
import { runCliInProcess } from "./helpers/runCli.js";

const SRC = checkpointDir("tiny-count_lstm_v2");
const work = mkdtempSync(join(tmpdir(), "gliner2-disk-embeddings-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

// Repeated words (the, the) exercise the per-call reuse of a row already read.
const TEXT = "Maria Lopez moved from Lisbon to Berlin in 2019 to join Siemens; the team and the board met the CEO in Munich.";
const SCHEMA = { entities: ["person", "city", "company"], classifications: { topic: { labels: ["work", "travel"] } } };
const OPTS = { includeConfidence: true, includeSpans: true, threshold: 0.3 };

/** A private copy of the tiny checkpoint (tests below modify theirs). */
function copyCheckpoint(name: string): string {
  const dir = join(work, name);
  cpSync(SRC, dir, { recursive: true });
  return dir;
}

/** Open file descriptors of this process that point at `path` (Linux). */
function fdsOn(path: string): number {
  if (!existsSync("/proc/self/fd")) return 0;
  let n = 0;
  for (const fd of readdirSync("/proc/self/fd")) {
    try {
      if (readlinkSync(`/proc/self/fd/${fd}`) === path) n++;
    } catch {
      // closed meanwhile
    }
  }
  return n;
}

const int8Dir = join(work, "int8");
const ready = quantizeCheckpoint(SRC, int8Dir);

describe('embeddings: "disk" gives the in-memory table\'s results bit for bit', () => {
  const cases: [string, () => Promise<string>, "none" | "int8"][] = [
    ["float32 checkpoint", async () => SRC, "none"],
    ["float32 checkpoint quantized at load (rows quantized on read)", async () => SRC, "int8"],
    ["int8 checkpoint (I8 rows + scales)", async () => (await ready, int8Dir), "none"],
  ];
  for (const [name, dir, quantize] of cases) {
    it(name, async () => {
      const source = await dir();
      const memory = await GLiNER2.fromPretrained(source, { quantize, offThread: false });
      const disk = await GLiNER2.fromPretrained(source, { quantize, offThread: false, embeddings: "disk" });
      expect("kind" in disk.model.encoder.wordEmbeddings).toBe(true);
      expect(memory.model.encoder.wordEmbeddings instanceof Float32Array || "q" in memory.model.encoder.wordEmbeddings).toBe(true);
      // The encoder's input: every token row, repeated ids included.
      const ids = Int32Array.from({ length: 40 }, (_, i) => [5, 17, 5, 1000, 3, 17][i % 6] + i);
      const mask = new Uint8Array(ids.length).fill(1);
      expect(encode(disk.model.encoder, ids, mask, 1, ids.length)).toEqual(encode(memory.model.encoder, ids, mask, 1, ids.length));
      expect(await disk.extract(TEXT, SCHEMA, OPTS)).toEqual(await memory.extract(TEXT, SCHEMA, OPTS));
      expect(await disk.batchExtract([TEXT, "the the the", ""], SCHEMA, OPTS)).toEqual(await memory.batchExtract([TEXT, "the the the", ""], SCHEMA, OPTS));
      await disk.dispose();
    });
  }

  it("off-thread (the default): same results, and dispose closes the worker's file", async () => {
    const dir = copyCheckpoint("worker");
    const path = join(dir, "model.safetensors");
    const local = await GLiNER2.fromPretrained(dir, { offThread: false });
    const remote = await GLiNER2.fromPretrained(dir, { embeddings: "disk", offThread: true });
    expect(fdsOn(path)).toBe(existsSync("/proc/self/fd") ? 1 : 0);
    expect(await remote.extract(TEXT, SCHEMA, OPTS)).toEqual(await local.extract(TEXT, SCHEMA, OPTS));
    await remote.dispose();
    expect(fdsOn(path)).toBe(0);
  });
});

describe('embeddings: "disk" refuses what it cannot serve', () => {
  it("a file changed after loading: WeightsError on the next call, naming the tensor and what changed", async () => {
    const dir = copyCheckpoint("changed");
    const path = join(dir, "model.safetensors");
    const m = await GLiNER2.fromPretrained(dir, { offThread: false, embeddings: "disk" });
    await m.extract(TEXT, SCHEMA);
    // Same size, new modification time (a file rewritten in place).
    utimesSync(path, new Date(), new Date(Date.now() + 5000));
    const err = await m.extract(TEXT, SCHEMA).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WeightsError);
    expect((err as WeightsError).tensor).toBe("encoder.embeddings.word_embeddings.weight");
    expect((err as Error).message).toMatch(/model\.safetensors changed on disk since the model was loaded \(it was modified at .*\); .*load the model again/);
    // Grown: the size is named.
    const fd = openSync(path, "a");
    writeSync(fd, Buffer.from([0]));
    closeSync(fd);
    await expect(m.extract(TEXT, SCHEMA)).rejects.toThrow(/its size went from \d+ to \d+ bytes/);
    await m.dispose();
  });

  it("a non-finite value in the table fails at load with its row and column, as an in-memory load does", async () => {
    const dir = copyCheckpoint("nan");
    const path = join(dir, "model.safetensors");
    const bytes = readFileSync(path);
    const st = parseSafetensors(bytes);
    const name = "encoder.embeddings.word_embeddings.weight";
    const cols = st.info(name).shape[1];
    const headerEnd = 8 + Number(bytes.readBigUInt64LE(0));
    const fd = openSync(path, "r+");
    const nan = Buffer.alloc(4);
    nan.writeFloatLE(NaN);
    writeSync(fd, nan, 0, 4, headerEnd + st.info(name).begin + 4 * (7 * cols + 3));
    closeSync(fd);
    const err = await GLiNER2.fromPretrained(dir, { offThread: false, embeddings: "disk" }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WeightsError);
    expect((err as Error).message).toMatch(/row 7, column 3 is NaN in .*model\.safetensors; weights must be finite numbers/);
    await expect(GLiNER2.fromPretrained(dir, { offThread: false })).rejects.toThrow(WeightsError);
    expect(fdsOn(path)).toBe(0);
  });

  it("a load that fails after the table was made (a bad head weight) closes the file", async () => {
    const dir = copyCheckpoint("bad-head");
    const path = join(dir, "model.safetensors");
    const bytes = readFileSync(path);
    const st = parseSafetensors(bytes);
    const head = st.names().find((n) => n.startsWith("span_rep.") && st.info(n).dtype === "F32" && n.endsWith("weight"))!;
    const fd = openSync(path, "r+");
    const inf = Buffer.alloc(4);
    inf.writeFloatLE(Infinity);
    writeSync(fd, inf, 0, 4, 8 + Number(bytes.readBigUInt64LE(0)) + st.info(head).begin);
    closeSync(fd);
    const err = await GLiNER2.fromPretrained(dir, { offThread: false, embeddings: "disk" }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WeightsError);
    expect((err as WeightsError).tensor).toBe(head);
    expect(fdsOn(path)).toBe(0);
  });

  it("an opened file closes once: a second close (the collector after a failed load) touches no other descriptor", async () => {
    const { openSafetensorsFile } = await import("../src/model/safetensors.js");
    const opened = await openSafetensorsFile(join(SRC, "model.safetensors"));
    expect(opened.changed()).toBeNull();
    opened.close();
    const other = openSync(join(SRC, "config.json"), "r"); // likely reuses the number just freed
    expect(() => opened.close()).not.toThrow();
    expect(() => readFileSync(other)).not.toThrow();
    closeSync(other);
  });

  it("a disposed model: Gliner2Error DISPOSED, and the file is closed", async () => {
    const dir = copyCheckpoint("disposed");
    const path = join(dir, "model.safetensors");
    const m = await GLiNER2.fromPretrained(dir, { offThread: false, embeddings: "disk" });
    expect(fdsOn(path)).toBe(existsSync("/proc/self/fd") ? 1 : 0);
    await m.dispose();
    await m.dispose(); // idempotent
    expect(fdsOn(path)).toBe(0);
    const err = await m.extract(TEXT, SCHEMA).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Gliner2Error);
    expect((err as Gliner2Error).code).toBe("DISPOSED");
  });

  it("bad option values and sources without a folder: InputError on embeddings", async () => {
    const files = await readCheckpointDir(SRC);
    await expect(GLiNER2.fromPretrained(files, { offThread: false, embeddings: "disk" })).rejects.toThrow(InputError);
    await expect(GLiNER2.fromPretrained(files, { offThread: false, embeddings: "disk" })).rejects.toThrow(/"disk" reads the table from a checkpoint folder on disk; files in memory have none/);
    await expect(GLiNER2.fromPretrained(SRC, { offThread: false, embeddings: "mmap" as never })).rejects.toThrow(/embeddings.*must be "memory" or "disk", got "mmap"/);
    // "memory" is the default and is accepted explicitly.
    const m = await GLiNER2.fromPretrained(SRC, { offThread: false, embeddings: "memory" });
    expect("kind" in m.model.encoder.wordEmbeddings).toBe(false);
  });
});

describe("gliner2 extract --embeddings", () => {
  const cli = runCliInProcess;

  it("disk gives the default's output; a bad value is a usage error", async () => {
    const args = ["extract", "--model", SRC, "--entities", "person,city,company", "--include-confidence", TEXT];
    const memory = await cli(args);
    const disk = await cli([...args, "--embeddings", "disk", "--quantize", "int8"]);
    const int8 = await cli([...args, "--quantize", "int8"]);
    expect(memory.code, memory.stderr).toBe(0);
    expect(disk.code, disk.stderr).toBe(0);
    expect(disk.stdout).toBe(int8.stdout);
    expect((await cli([...args, "--embeddings", "disk"])).stdout).toBe(memory.stdout);
    const bad = await cli([...args, "--embeddings", "mmap"]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--embeddings must be memory or disk, got "mmap"/);
  });
});

describe("hub repo ids load from their cache folder, streamed", () => {
  it("fromPretrained(org/name): same results as the folder; embeddings: \"disk\" reads the cached file; int8 streams too", async () => {
    const { startHubServer } = await import("./helpers/hubServer.js");
    const server = await startHubServer({});
    const cacheDir = join(work, "hub-cache");
    try {
      const local = await GLiNER2.fromPretrained(SRC, { offThread: false });
      const expected = await local.extract(TEXT, SCHEMA, OPTS);
      const hub = await GLiNER2.fromPretrained(server.repo, { endpoint: server.endpoint, cacheDir, offThread: false });
      expect(await hub.extract(TEXT, SCHEMA, OPTS)).toEqual(expected);
      const disk = await GLiNER2.fromPretrained(server.repo, { endpoint: server.endpoint, cacheDir, offThread: false, embeddings: "disk" });
      expect("kind" in disk.model.encoder.wordEmbeddings).toBe(true);
      expect(await disk.extract(TEXT, SCHEMA, OPTS)).toEqual(expected);
      await disk.dispose();
      const int8 = await GLiNER2.fromPretrained(server.repo, { endpoint: server.endpoint, cacheDir, offThread: false, quantize: "int8" });
      const int8Local = await GLiNER2.fromPretrained(SRC, { offThread: false, quantize: "int8" });
      expect(await int8.extract(TEXT, SCHEMA, OPTS)).toEqual(await int8Local.extract(TEXT, SCHEMA, OPTS));
      // inMemory fetches have no folder to read the table from
      await expect(GLiNER2.fromPretrained(server.repo, { endpoint: server.endpoint, inMemory: true, offThread: false, embeddings: "disk" })).rejects.toThrow(/"disk" reads the table from a checkpoint folder on disk; this source has none/);
    } finally {
      await server.close();
    }
  });
});

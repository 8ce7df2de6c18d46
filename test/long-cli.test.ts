/**
 * Long documents through the CLI (built into .cache/build-test/long-cli), and a 20,000-word document end to end
 * through `extractLong` and through the CLI, with peak memory compared between a 5,000- and a 20,000-word
 * document (counted in bytes, never timed).
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GLiNER2 } from "../src/gliner2.js";
import { countChunks } from "../src/long/index.js";
import { splitWords } from "../src/text/words.js";
import { syntheticDocument } from "./helpers/longText.js";
import { runProcess, type RunResult } from "./helpers/runCli.js";
import { buildInto, repoRoot } from "./runtimes/build.js";

const MODEL = join(repoRoot, "test", "fixtures", "tiny-count_lstm_v2");
let cliPath = "";
let workDir = "";

/**
 * Run the built CLI without blocking the test worker's event loop (a 20,000-word run takes a while), optionally
 * preloading report-rss.mjs. Killed only at the longest test timeout here, not the helper's default 120 s.
 */
function runCli(args: string[], opts: { input?: string; rssReport?: string } = {}): Promise<RunResult> {
  // With a report, the young generation is capped at Node 20's default size: Node 22+ grow it with the allocation
  // rate, which shows up as peak RSS that is garbage not yet collected, not memory the CLI keeps.
  const pre = opts.rssReport ? ["--max-semi-space-size=16", "--import", pathToFileURL(join(repoRoot, "test", "runtimes", "report-rss.mjs")).href] : [];
  return runProcess(process.execPath, [...pre, cliPath, ...args], {
    input: opts.input,
    env: { GLINER2_MODEL: "", GLINER2_RSS_REPORT: opts.rssReport ?? "" },
    timeoutMs: 900_000,
  });
}

describe("long documents through the CLI", async () => {
  const model = await GLiNER2.fromPretrained(MODEL);
  beforeAll(() => {
    cliPath = join(buildInto("long-cli", ["cli"]), "cli.js");
    workDir = mkdtempSync(join(tmpdir(), "gliner2-long-cli-"));
  }, 120_000);
  afterAll(() => {
    if (workDir) rmSync(workDir, { recursive: true, force: true });
  });

  const schema = { entities: ["person", "location"], classifications: { topic: { labels: ["politics", "business"] } }, relations: ["works_for"] };
  const docs = [syntheticDocument(260, 11), "Short note from Lisa Chang in Oslo.", syntheticDocument(150, 12)];

  it("a text (stdin or --input) and --jsonl records give the library's long-document results; progress counts chunks", async () => {
    const file = join(workDir, "schema.json");
    writeFileSync(file, JSON.stringify(schema));
    const opts = { chunkSize: 40, chunkOverlap: 8, includeConfidence: true, batchSize: 3 };
    const args = ["extract", "-m", MODEL, "--schema", file, "--chunk-size", "40", "--chunk-overlap", "8", "--include-confidence", "--batch-size", "3"];
    const expected = await model.batchExtractLong(docs, schema, opts);

    const single = await runCli([...args, "--progress"], { input: `${docs[0]}\n` });
    expect(single.code, single.stderr).toBe(0);
    expect(JSON.parse(single.stdout)).toEqual(expected[0]);
    const chunks = countChunks(splitWords(docs[0]).length, opts);
    expect(single.stderr).toContain(`chunks [`);
    expect(single.stderr).toContain(`${chunks}/${chunks}`);

    const jsonl = docs.map((text, id) => JSON.stringify({ id, text })).join("\n") + "\n";
    const res = await runCli([...args, "--jsonl"], { input: jsonl });
    expect(res.code, res.stderr).toBe(0);
    const lines = res.stdout.trimEnd().split("\n").map((l) => JSON.parse(l));
    expect(lines.map((l) => l.id)).toEqual([0, 1, 2]);
    expect(lines.map((l) => l.result)).toEqual(expected);

    // --long alone uses the official defaults (384 / 64): one window for these short documents.
    const defaults = await runCli(["extract", "-m", MODEL, "--schema", file, "--long"], { input: docs[2] });
    expect(JSON.parse(defaults.stdout)).toEqual(await model.extractLong(docs[2], schema));
  }, 300_000);

  it("a malformed JSONL line gets an error record in its place and the stream goes on (--fail-fast: stops there)", async () => {
    const input = [JSON.stringify({ id: 1, text: docs[1] }), '{"id": 2, "text": oops', JSON.stringify({ id: 3, text: docs[2] })].join("\n");
    const args = ["extract", "-m", MODEL, "-e", "person", "--jsonl", "--chunk-size", "32", "--chunk-overlap", "4"];
    const res = await runCli(args, { input });
    expect(res.code).toBe(1);
    expect(res.stderr).toMatch(/^gliner2: error: 1 of 3 records failed .*line 2: stdin line 2: not valid JSON/);
    const out = res.stdout.trimEnd().split("\n").map((l) => JSON.parse(l));
    expect(out.map((l) => l.id ?? l.line)).toEqual([1, 2, 3]);
    expect(out[1].error.code).toBe("INPUT");
    expect(out[1].error.message).toMatch(/stdin line 2: not valid JSON/);
    expect(out[2].result).toEqual(await model.extractLong(docs[2], { entities: ["person"] }, { chunkSize: 32, chunkOverlap: 4 }));

    const fast = await runCli([...args, "--fail-fast"], { input });
    expect(fast.code).toBe(1);
    expect(fast.stderr).toMatch(/^gliner2: error: stdin line 2: not valid JSON/);
    expect(fast.stdout.trimEnd().split("\n").map((l) => JSON.parse(l).id)).toEqual([1]);
  });

  it("bad long-mode flags are usage errors", async () => {
    const bad: [string[], RegExp][] = [
      [["--chunk-size", "0"], /--chunk-size/],
      [["--chunk-size", "10", "--chunk-overlap", "10"], /--chunk-overlap \(10\) must be smaller than --chunk-size \(10\)/],
      [["--chunk-overlap", "-1"], /--chunk-overlap/],
      [["--long", "--raw"], /--raw cannot be combined with long mode/],
    ];
    for (const [flags, msg] of bad) {
      const res = await runCli(["extract", "-m", MODEL, "-e", "person", ...flags, "some text"]);
      expect(res.code, flags.join(" ")).toBe(2);
      expect(res.stderr).toMatch(msg);
    }
  });

  it("a 20,000-word document end to end through extractLong and the CLI; peak memory does not grow with the document", async () => {
    // Windows of 64 words keep the test's encoder time down; memory is bounded by the chunk batch either way
    // (bench/longMemory.ts measures the defaults).
    const opts = { chunkSize: 64, chunkOverlap: 8, includeSpans: true, batchSize: 8 } as const;
    const ents = ["person", "organization", "location"];
    const peak = async (words: number) => {
      const text = syntheticDocument(words, words);
      const file = join(workDir, `doc-${words}.txt`);
      writeFileSync(file, text);
      const report = join(workDir, `rss-${words}.txt`);
      const res = await runCli(["extract", "-m", MODEL, "-e", ents.join(","), "--chunk-size", "64", "--chunk-overlap", "8", "--include-spans", "--input", file], { rssReport: report });
      expect(res.code, res.stderr).toBe(0);
      return { text, out: JSON.parse(res.stdout), rssMiB: Number(readFileSync(report, "utf8")) / 1024 };
    };
    const small = await peak(5_000);
    const large = await peak(20_000);
    const lib = (await model.extractLong(large.text, { entities: ents }, opts)) as { entities: Record<string, { text: string; start: number; end: number }[]> };
    expect(splitWords(large.text).length).toBeGreaterThanOrEqual(20_000);
    expect(large.out).toEqual(lib);
    const all = Object.values(lib.entities).flat();
    expect(all.length).toBeGreaterThan(100);
    for (const s of all) expect(large.text.slice(s.start, s.end)).toBe(s.text);
    expect(Math.max(...all.map((s) => s.end))).toBeGreaterThan(large.text.length * 0.9); // found all along the text

    console.log(`long-cli.test: peak RSS ${small.rssMiB.toFixed(1)} MiB at 5,000 words, ${large.rssMiB.toFixed(1)} MiB at 20,000 words (${all.length} entities)`);
    // Four times the document: the growth stays small against the whole (the text, its words and the merged
    // results are a few MiB; encoder state is one batch of windows). Measured 92.9 → 135.7 MiB; the rest of the
    // growth is garbage the longer run leaves for a later major GC. Keeping every window's encoder output instead
    // (~300 KB a window, 357 windows at 20,000 words against 89 at 5,000) would add ~80 MiB more.
    expect(large.rssMiB - small.rssMiB).toBeLessThan(56);
  }, 900_000);
});

/**
 * The CLI fed bad input: JSONL streams with bad records go on (error records, exit code 1), --fail-fast stops,
 * messages never carry raw control characters, an empty schema file is refused, a BOM is accepted, and
 * $HF_TOKEN never goes to a URL model host.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { OverlongLine, readLines, streamJsonl } from "../src/cli/jsonl.js";
import { startHubServer } from "./helpers/hubServer.js";
import { runCli as runBuiltCli, type RunOptions, type RunResult } from "./helpers/runCli.js";
import { buildInto, repoRoot } from "./runtimes/build.js";

const MODEL = join(repoRoot, "test", "fixtures", "tiny-count_lstm_v2");
let cliPath = "";
let workDir = "";

/** The built CLI at cliPath (set in beforeAll), run without blocking the test worker. */
const runCli = (args: string[], opts: RunOptions = {}): Promise<RunResult> => runBuiltCli(cliPath, args, opts);

const RAW_CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/;

describe("JSONL reader and streamer", () => {
  async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
    const out: T[] = [];
    for await (const x of it) out.push(x);
    return out;
  }

  it("drops an overlong line without holding it, and goes on with the next", async () => {
    const chunks = ['{"text":"a"}\n', "x".repeat(700), "y".repeat(700), "\n", '"b"\n', "z".repeat(2000)];
    const lines = await collect(readLines(Readable.from(chunks), 1000));
    expect(lines).toEqual(['{"text":"a"}', new OverlongLine(1400), '"b"', new OverlongLine(2000)]);
  });

  it("turns every bad record into an error record on its own line, in order, and goes on", async () => {
    const written: string[] = [];
    const failedLines: number[] = [];
    const n = await streamJsonl({
      lines: Readable.from(['{"id":1,"text":"a"}', "{bad", '{"id":3}', '{"id":4,"text":"BOOM"}', "", '{"id":6,"text":"b"}', new OverlongLine(99)]),
      batchSize: 8,
      textField: "text",
      resultField: "result",
      where: "in.jsonl",
      failFast: false,
      run: async (texts) => {
        if (texts.includes("BOOM")) throw new Error("the engine failed on BOOM");
        return texts.map((t) => t.toUpperCase());
      },
      write: async (chunk) => void written.push(chunk),
      onRecordError: (line) => failedLines.push(line),
    });
    expect(n).toBe(2);
    const out = written.join("").trimEnd().split("\n").map((l) => JSON.parse(l));
    expect(out.map((o) => o.id ?? o.line)).toEqual([1, 2, 3, 4, 6, 7]);
    expect(out[0].result).toBe("A");
    expect(out[1].error.message).toMatch(/^in\.jsonl line 2: not valid JSON/);
    expect(out[2].error).toMatchObject({ code: "INPUT", message: 'in.jsonl line 3: the object has no "text" field' });
    expect(out[3]).toMatchObject({ line: 4, error: { code: "INTERNAL", message: "in.jsonl line 4: internal error: the engine failed on BOOM" } });
    expect(out[4].result).toBe("B");
    expect(out[5].error.message).toMatch(/in\.jsonl line 7: the line is 99 characters long/);
    expect(failedLines).toEqual([2, 3, 4, 7]);
  });

  it("names the input line of a record that fails inside a batch, not its index in the batch", async () => {
    const run = streamJsonl({
      lines: Readable.from(['{"text":"a"}', '{"text":"b"}', '{"text":"BOOM"}']),
      batchSize: 8,
      textField: "text",
      resultField: "result",
      where: "stdin",
      run: async (texts) => {
        const i = texts.indexOf("BOOM");
        if (i >= 0) throw new (await import("../src/errors.js")).InputError(`texts[${i}]`, "too long");
        return texts;
      },
      write: async () => undefined,
    });
    await expect(run).rejects.toThrow(/^stdin line 3: texts\[0\]: too long$/);
  });
});

describe("built CLI with bad input", () => {
  beforeAll(() => {
    cliPath = join(buildInto("cli-hostile", ["cli"]), "cli.js");
    workDir = mkdtempSync(join(tmpdir(), "gliner2-cli-hostile-"));
  }, 120_000);
  afterAll(() => {
    if (workDir) rmSync(workDir, { recursive: true, force: true });
  });

  const good = (id: number) => JSON.stringify({ id, text: `Tim Cook leads Apple number ${id}.` });

  it("--jsonl goes on after bad records, writes an error record for each, and exits 1", async () => {
    const input = [
      good(1),
      "{oops \u001b]0;pwned\u0007",
      JSON.stringify({ id: 3, txt: "typo" }),
      JSON.stringify({ id: 4, text: "word ".repeat(200) }),
      good(5),
    ].join("\n");
    const res = await runCli(["extract", "-m", MODEL, "-e", "person", "--jsonl", "--max-tokens", "64"], { input });
    expect(res.code, res.stderr).toBe(1);
    const out = res.stdout.trimEnd().split("\n").map((l) => JSON.parse(l));
    expect(out.map((o) => o.id ?? o.line)).toEqual([1, 2, 3, 4, 5]);
    expect(out[1].error.message).toMatch(/^stdin line 2: not valid JSON/);
    expect(out[3].error.message).toMatch(/^stdin line 4: text: prompt \+ text is \d+ tokens, over the 64-token limit/);
    expect(out[3].error.message).toMatch(/--max-tokens/);
    expect(out[3].error.message).not.toMatch(/texts\[/);
    // One summary line on stderr, and no raw control character anywhere.
    expect(res.stderr).toMatch(/^gliner2: error: 3 of 5 records failed \(error records among the results\); first: line 2: /);
    expect(res.stderr.trimEnd().split("\n")).toHaveLength(1);
    expect(res.stderr).not.toMatch(RAW_CONTROL);
    expect(res.stdout).not.toMatch(RAW_CONTROL);
  });

  it("--errors FILE keeps the results clean; exit 0 when nothing failed", async () => {
    const errors = join(workDir, "errors.jsonl");
    const res = await runCli(["extract", "-m", MODEL, "-e", "person", "--jsonl", "--errors", errors], { input: [good(1), "[1]", good(3)].join("\n") });
    expect(res.code).toBe(1);
    expect(res.stdout.trimEnd().split("\n").map((l) => JSON.parse(l).id)).toEqual([1, 3]);
    expect(readFileSync(errors, "utf8").trimEnd().split("\n").map((l) => JSON.parse(l).line)).toEqual([2]);
    const ok = await runCli(["extract", "-m", MODEL, "-e", "person", "--jsonl"], { input: [good(1), good(2)].join("\n") });
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stderr).toBe("");
  });

  it("long runs without spaces are refused by the length limits, not split for minutes (issue repro)", async () => {
    const big = join(workDir, "dashes-1m.txt");
    writeFileSync(big, "-".repeat(1_000_000));
    const res = await runCli(["extract", "-m", MODEL, "-e", "a", "-i", big]);
    expect(res.code, res.stderr).toBe(1);
    expect(res.stderr).toMatch(/^gliner2: error: text: is \d+ characters, over the 131072-character limit/);
    const small = join(workDir, "dashes-100k.txt");
    writeFileSync(small, "-".repeat(100_000));
    const tokens = await runCli(["extract", "-m", MODEL, "-e", "a", "-i", small]);
    expect(tokens.code, tokens.stderr).toBe(1);
    expect(tokens.stderr).toMatch(/^gliner2: error: text: prompt \+ text is \d+ tokens, over the 4096-token limit/);
  });

  it("--fail-fast error messages carry no raw control characters", async () => {
    const res = await runCli(["extract", "-m", MODEL, "-e", "person", "--jsonl", "--fail-fast"], { input: "{\u001b]0;title\u0007 \u009b31m" });
    expect(res.code).toBe(1);
    expect(res.stderr).toMatch(/^gliner2: error: stdin line 1: not valid JSON/);
    expect(res.stderr).not.toMatch(RAW_CONTROL);
  });

  it("an empty schema file is an error (exit 1), a schema file with a BOM is fine", async () => {
    const empty = join(workDir, "empty.json");
    writeFileSync(empty, "{}");
    const res = await runCli(["extract", "-m", MODEL, "--schema", empty, "Tim Cook leads Apple."]);
    expect(res.code).toBe(1);
    expect(res.stderr).toMatch(/^gliner2: error: --schema .*empty\.json: schema: asks for nothing/);
    const bom = join(workDir, "bom.json");
    writeFileSync(bom, `\ufeff${JSON.stringify({ entities: ["person"] })}`);
    const ok = await runCli(["extract", "-m", MODEL, "--schema", bom, "Tim Cook leads Apple."]);
    expect(ok.code, ok.stderr).toBe(0);
    expect(JSON.parse(ok.stdout)).toHaveProperty("entities");
  });

  it("never sends $HF_TOKEN to a URL model host", async () => {
    const hub = await startHubServer();
    try {
      const url = `${hub.endpoint}/${hub.repo}/resolve/main/`;
      const res = await runCli(["extract", "-m", url, "-e", "person", "Tim Cook leads Apple."], { env: { HF_TOKEN: "hf_secret" } });
      expect(res.code, res.stderr).toBe(0);
      expect(hub.requests.length).toBeGreaterThan(0);
      expect(hub.requests.filter((r) => r.authorization !== undefined)).toEqual([]);
    } finally {
      await hub.close();
    }
  });
});

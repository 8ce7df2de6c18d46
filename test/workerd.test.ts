/**
 * Edge: the browser/edge build runs one extraction inside workerd (Cloudflare Workers' open-source runtime; the
 * `workerd` npm package ships the binary) with the tiny checkpoint bundled into the Worker via fromFiles. The
 * output must be byte-identical to Node's. Skipped when the binary is missing, unless GLINER2_REQUIRE_RUNTIMES=1.
 */
import { spawn } from "node:child_process";
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { GLiNER2 } from "../src/gliner2.js";
import { checkpointDir } from "./helpers/golden.js";
import { freePort } from "./helpers/replicas.js";
import { buildInto, repoRoot } from "./runtimes/build.js";

const WORKERD = join(repoRoot, "node_modules", ".bin", "workerd");
const required = process.env.GLINER2_REQUIRE_RUNTIMES === "1";
const DIR = checkpointDir("tiny-count_lstm_v2");

describe("workerd (Cloudflare Workers runtime)", () => {
  const cleanup: (() => void)[] = [];
  afterAll(() => cleanup.reverse().forEach((f) => f()));

  it.skipIf(!existsSync(WORKERD) && !required)("runs the edge build with a bundled checkpoint, output identical to Node", async () => {
    expect(existsSync(WORKERD), "workerd binary missing (npm ci installs it)").toBe(true);
    const browser = join(buildInto("workerd", ["browser"]), "browser", "gliner2.js");
    const dir = mkdtempSync(join(tmpdir(), "gliner2-workerd-"));
    cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
    copyFileSync(browser, join(dir, "gliner2.js"));
    copyFileSync(join(repoRoot, "test", "runtimes", "workerd-worker.mjs"), join(dir, "worker.mjs"));
    copyFileSync(join(DIR, "config.json"), join(dir, "config.json"));
    copyFileSync(join(DIR, "encoder_config", "config.json"), join(dir, "encoder_config.json"));
    copyFileSync(join(DIR, "tokenizer.json"), join(dir, "tokenizer.json"));
    copyFileSync(join(DIR, "model.safetensors"), join(dir, "model.safetensors"));
    const port = await freePort();
    writeFileSync(
      join(dir, "config.capnp"),
      `using Workerd = import "/workerd/workerd.capnp";
const config :Workerd.Config = (
  services = [ (name = "main", worker = .gliner2) ],
  sockets = [ (name = "http", address = "127.0.0.1:${port}", http = (), service = "main") ],
);
const gliner2 :Workerd.Worker = (
  modules = [
    (name = "worker.mjs", esModule = embed "worker.mjs"),
    (name = "gliner2.js", esModule = embed "gliner2.js"),
    (name = "config.json", text = embed "config.json"),
    (name = "encoder_config.json", text = embed "encoder_config.json"),
    (name = "tokenizer.json", text = embed "tokenizer.json"),
    (name = "model.safetensors", data = embed "model.safetensors"),
  ],
  compatibilityDate = "2025-01-01",
);
`,
    );
    const child = spawn(WORKERD, ["serve", join(dir, "config.capnp"), "--verbose"], { stdio: ["ignore", "pipe", "pipe"] });
    let log = "";
    child.stdout.on("data", (d) => (log += d));
    child.stderr.on("data", (d) => (log += d));
    cleanup.push(() => child.kill("SIGKILL"));

    const testCase = JSON.parse(readFileSync(join(repoRoot, "test", "runtimes", "case.json"), "utf8"));
    let reply: Response | null = null;
    for (let i = 0; i < 100 && reply === null; i++) {
      if (child.exitCode !== null) throw new Error(`workerd exited (${child.exitCode}): ${log}`);
      reply = await fetch(`http://127.0.0.1:${port}/`, { method: "POST", body: JSON.stringify(testCase) }).catch(() => null);
      if (reply === null) await new Promise((r) => setTimeout(r, 100));
    }
    expect(reply, log).not.toBeNull();
    const rss = () => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${child.pid}/status`, "utf8"))?.[1] ?? NaN) / 1024;
    const rssAfter = rss();
    const body = (await reply!.json()) as { result?: unknown; error?: string; stack?: string; loadAndRunMs?: number; backend?: string };
    expect(body.error, body.stack).toBeUndefined();
    // Node on the kernels the isolate chose (workerd refuses WebAssembly compiled from bytes at run time: js there).
    expect(["js", "wasm", "wasm-relaxed"]).toContain(body.backend);
    const local = await GLiNER2.fromPretrained(DIR, { offThread: false, backend: body.backend === "js" ? "js" : "wasm" });
    const expected = await local.extract(testCase.text, testCase.schema, testCase.options);
    expect(JSON.stringify(body.result)).toBe(JSON.stringify(expected));
    expect(JSON.stringify(expected)).toMatch(/"confidence"/);
    console.log(`workerd: load + extraction ${body.loadAndRunMs} ms in the isolate on the ${body.backend} kernels, output identical to Node; workerd RSS ${rssAfter.toFixed(1)} MiB after the first request`);
  });
});

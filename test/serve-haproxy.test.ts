/**
 * Scale-out, proven: two `gliner2 serve` replicas behind HAProxy on loopback, autocannon at concurrency 64,
 * SIGTERM to one replica mid-run → not one failed request, the replica exits 0 after draining, the other
 * carries on. Needs the `haproxy` binary (Debian package; .ci/run installs it); skipped without it unless
 * GLINER2_REQUIRE_RUNTIMES=1 (CI), where a missing binary fails.
 */
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import autocannon from "autocannon";
import { afterAll, describe, expect, it } from "vitest";
import { checkpointDir } from "./helpers/golden.js";
import { freePort, haproxyConfig, startHaproxy, startReplica, type Replica } from "./helpers/replicas.js";
import { buildInto, repoRoot } from "./runtimes/build.js";

const HAPROXY = ["/usr/sbin/haproxy", "/usr/bin/haproxy", "/usr/local/sbin/haproxy"].find((p) => existsSync(p)) ?? null;
const required = process.env.GLINER2_REQUIRE_RUNTIMES === "1";
const metric = async (url: string, re: RegExp) => Number(re.exec(await (await fetch(`${url}/metrics`)).text())?.[1] ?? 0);

describe("replicas behind HAProxy", () => {
  const cleanup: (() => Promise<void> | void)[] = [];
  afterAll(async () => {
    for (const f of cleanup.reverse()) await f();
  });

  it.skipIf(HAPROXY === null && !required)("a replica drained mid-run under load costs no request", async () => {
    expect(HAPROXY, "haproxy is not installed (apt-get install haproxy)").not.toBeNull();
    const cli = join(buildInto("serve-haproxy", ["cli"]), "cli.js");
    const dir = mkdtempSync(join(tmpdir(), "gliner2-haproxy-"));
    cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
    const args = ["-m", checkpointDir("tiny-count_lstm_v2"), "-q", "--max-queue", "4096"];
    const replicas: Replica[] = await Promise.all([startReplica(cli, args, repoRoot), startReplica(cli, args, repoRoot)]);
    cleanup.push(() => {
      for (const r of replicas) if (r.child.exitCode === null) r.child.kill("SIGKILL");
    });
    const front = await freePort();
    const ha = await startHaproxy(HAPROXY!, haproxyConfig(front, replicas.map((r, i) => ({ name: `r${i}`, port: r.port }))), join(dir, "haproxy.cfg"), front);
    cleanup.push(() => ha.stop());

    const body = JSON.stringify({ task: "extract_entities", text: "Tim Cook announced the new iPhone at Apple Park in Cupertino.", schema: ["person", "company", "city"], threshold: 0.5, include_confidence: false, include_spans: false, format_results: true });
    const run = autocannon({
      url: `http://127.0.0.1:${front}/gliner-2`,
      method: "POST",
      headers: { "content-type": "application/json" },
      body,
      connections: 64,
      duration: 120, // stopped below
      timeout: 60, // seconds: a slow shared machine is not a failed request
    });
    // Let both replicas take traffic (however slow the machine), then stop one mid-run.
    const served = (i: number) => metric(replicas[i].url, /gliner2_requests_total\{status="200"\} (\d+)/);
    for (let t = 0; t < 600 && ((await served(0)) < 5 || (await served(1)) < 5); t++) await new Promise((r) => setTimeout(r, 100));
    const servedBefore = await served(0);
    replicas[0].child.kill("SIGTERM");
    const code = await replicas[0].exited;
    // Keep the load on the remaining replica for a moment, then end the run.
    const afterDrain = await served(1);
    for (let t = 0; t < 600 && (await served(1)) < afterDrain + 10; t++) await new Promise((r) => setTimeout(r, 100));
    run.stop();
    const result = await run;
    const servedByOther = await served(1);
    console.log(
      `haproxy drain: ${result.requests.total} requests at c=64 in ${result.duration} s (${result.requests.average} req/s), ${result.errors} errors, ${result.non2xx} non-2xx, ${result.timeouts} timeouts; replica 0 served ${servedBefore}+ before SIGTERM and exited ${code}; replica 1 served ${servedByOther}`,
    );
    expect(servedBefore).toBeGreaterThan(0);
    expect(code).toBe(0);
    expect(replicas[0].stderr()).toMatch(/"msg":"drained"/);
    expect(result.requests.total).toBeGreaterThan(20);
    expect(result.errors).toBe(0);
    expect(result.timeouts).toBe(0);
    expect(result.non2xx).toBe(0);
    expect(result["2xx"]).toBe(result.requests.total);
    expect(servedByOther).toBeGreaterThan(afterDrain);
  });
});

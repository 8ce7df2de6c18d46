/**
 * Soak (not a test): one `gliner2 serve` replica (built dist/cli.js) under autocannon at concurrency 16 for
 * 10 minutes; the server process's resident memory (model thread included: one process) is sampled every 5 s
 * from /proc. Passes when the final RSS is within 10% of the RSS after the first minute and no request failed.
 *
 *   npm run soak:serve                                   # tiny checkpoint, 10 min
 *   npm run soak:serve -- --minutes 2 --model DIR
 */
import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import autocannon from "autocannon";
import { startReplica } from "../test/helpers/replicas.js";
import { arg, repoRoot } from "./shared/cli.js";

const root = repoRoot(import.meta.url);
const MODEL = resolve(arg("model", join(root, "test", "fixtures", "tiny-count_lstm_v2")));
const MINUTES = Number(arg("minutes", "10"));
const CONCURRENCY = Number(arg("concurrency", "16"));

function rssMiB(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return m ? Number(m[1]) / 1024 : NaN;
}

// Varied texts and tasks so caches and batching see realistic churn.
const TEXTS = [
  "Tim Cook announced the new iPhone at Apple Park in Cupertino on Tuesday.",
  "Maria Lopez moved from Lisbon to Berlin in 2019 to join Siemens as a senior engineer.",
  "The pasta was cold and the waiter ignored us; we will not come back.",
  "Barack Obama met Angela Merkel in Hamburg to discuss trade and climate policy.",
];
const requests = TEXTS.flatMap((text, i) => [
  { method: "POST" as const, path: "/gliner-2", headers: { "content-type": "application/json" }, body: JSON.stringify({ task: "extract_entities", text, schema: ["person", "company", "city"], threshold: 0.5, include_confidence: i % 2 === 0, include_spans: i % 2 === 1, format_results: true }) },
  { method: "POST" as const, path: "/gliner-2", headers: { "content-type": "application/json" }, body: JSON.stringify({ task: "schema", text: [text, TEXTS[(i + 1) % 4]], schema: { entities: ["person"], classifications: { tone: ["positive", "negative"] }, relations: ["works_for"] } }) },
]);

const replica = await startReplica(join(root, "dist", "cli.js"), ["-m", MODEL, "-q", "--max-queue", "100000"], root);
const pid = replica.child.pid!;
const samples: { t: number; rss: number }[] = [];
const t0 = Date.now();
const sampler = setInterval(() => samples.push({ t: (Date.now() - t0) / 1000, rss: rssMiB(pid) }), 5000);
console.error(`soak: ${MINUTES} min at concurrency ${CONCURRENCY}, model ${MODEL}, server pid ${pid}, start RSS ${rssMiB(pid).toFixed(1)} MiB`);
const result = await autocannon({ url: replica.url, connections: CONCURRENCY, duration: MINUTES * 60, requests, timeout: 60 });
clearInterval(sampler);
replica.child.kill("SIGTERM");
const code = await replica.exited;

const afterMinute = samples.find((s) => s.t >= 60) ?? samples[0];
const last = samples[samples.length - 1];
const peak = Math.max(...samples.map((s) => s.rss));
const growth = (last.rss - afterMinute.rss) / afterMinute.rss;
const failed = result.errors + result.non2xx + result.timeouts;
console.log(`requests ${result.requests.total} (${(result.requests.total / result.duration).toFixed(1)} req/s), p50 ${result.latency.p50} ms, p99 ${result.latency.p99} ms, failed ${failed}, server exit ${code}`);
console.log(`RSS after minute 1: ${afterMinute.rss.toFixed(1)} MiB; final: ${last.rss.toFixed(1)} MiB (${(growth * 100).toFixed(1)}%); peak ${peak.toFixed(1)} MiB`);
const byMinute = Array.from({ length: Math.floor(MINUTES) }, (_, i) => samples.find((s) => s.t >= (i + 1) * 60) ?? last);
console.log(`RSS by minute (MiB): ${byMinute.map((s, i) => `${i + 1}m ${s.rss.toFixed(0)}`).join(", ")}`);
const ok = Math.abs(growth) <= 0.1 && failed === 0 && code === 0;
console.log(ok ? "soak: PASS (RSS within 10% of minute one, no failed request)" : "soak: FAIL");
process.exitCode = ok ? 0 : 1;

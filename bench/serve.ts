/**
 * Server benchmark (not a test): `gliner2 serve` (the built dist/cli.js, one replica) under autocannon at
 * concurrency 1, 8 and 64, with dynamic batching on (--max-batch 16) and off (--max-batch 1) in the same run;
 * then the event loop's lag while one long request (~1,700 tokens) is encoded, seen from outside (a /healthz
 * probe every 5 ms) and from inside (the server's own event-loop delay gauge).
 *
 *   npm run bench:serve                              # tiny checkpoint, 5 s per point
 *   npm run bench:serve -- --model DIR --seconds 10
 *   npm run bench:serve -- --only lag                # just the event-loop lag part
 */
import { join, resolve } from "node:path";
import autocannon from "autocannon";
import { startReplica, type Replica } from "../test/helpers/replicas.js";
import { arg, repoRoot } from "./shared/cli.js";

const root = repoRoot(import.meta.url);
const MODEL = resolve(arg("model", join(root, "test", "fixtures", "tiny-count_lstm_v2")));
const SECONDS = Number(arg("seconds", "5"));
const CLI = join(root, "dist", "cli.js");

const BODY = JSON.stringify({
  task: "extract_entities",
  text: "Tim Cook announced the new iPhone at Apple Park in Cupertino on Tuesday, and Sundar Pichai replied from Mountain View.",
  schema: ["person", "company", "city", "product"],
  threshold: 0.5,
  include_confidence: true,
  include_spans: false,
  format_results: true,
});

interface Point {
  batching: string;
  concurrency: number;
  rps: number;
  p50: number;
  p99: number;
  requests: number;
  failed: number;
  meanBatch: number;
}

async function metric(url: string, name: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  return Number(new RegExp(`^${name} ([\\d.e+-]+)$`, "m").exec(text)?.[1] ?? NaN);
}

async function load(url: string, connections: number, seconds: number) {
  return autocannon({ url: `${url}/gliner-2`, method: "POST", headers: { "content-type": "application/json" }, body: BODY, connections, duration: seconds, timeout: 60 });
}

/**
 * Both replicas run side by side (an idle one costs nothing) and are measured alternately, two rounds per
 * concurrency, so slow drifts of a shared machine hit both settings alike; each point keeps its better round.
 */
async function measureBoth(): Promise<Point[]> {
  const replicas = {
    on: await startReplica(CLI, ["-m", MODEL, "-q", "--max-queue", "100000", "--max-batch", "16"], root),
    off: await startReplica(CLI, ["-m", MODEL, "-q", "--max-queue", "100000", "--max-batch", "1"], root),
  };
  const points: Point[] = [];
  try {
    for (const r of Object.values(replicas)) await load(r.url, 4, 1); // warm-up
    for (const c of [1, 8, 64]) {
      for (let round = 0; round < 2; round++) {
        for (const batching of ["on", "off"] as const) {
          const url = replicas[batching].url;
          const [b0, n0] = [await metric(url, "gliner2_batch_size_count"), await metric(url, "gliner2_batch_size_sum")];
          const r = await load(url, c, SECONDS);
          const [b1, n1] = [await metric(url, "gliner2_batch_size_count"), await metric(url, "gliner2_batch_size_sum")];
          const p: Point = {
            batching,
            concurrency: c,
            rps: r.requests.total / r.duration,
            p50: r.latency.p50,
            p99: r.latency.p99,
            requests: r.requests.total,
            failed: r.errors + r.non2xx + r.timeouts,
            meanBatch: (n1 - n0) / Math.max(1, b1 - b0),
          };
          console.error(`  round ${round + 1}, batching ${batching}, c=${c}: ${p.rps.toFixed(1)} req/s, p50 ${p.p50} ms, p99 ${p.p99} ms, mean batch ${p.meanBatch.toFixed(1)}`);
          const prev = points.findIndex((q) => q.batching === batching && q.concurrency === c);
          if (prev < 0) points.push(p);
          else if (p.rps > points[prev].rps) points[prev] = { ...p, failed: p.failed + points[prev].failed };
          else points[prev] = { ...points[prev], failed: p.failed + points[prev].failed };
        }
      }
    }
  } finally {
    for (const r of Object.values(replicas)) r.child.kill("SIGTERM");
    await Promise.all(Object.values(replicas).map((r) => r.exited));
  }
  return points;
}

interface Lag {
  ms: number;
  probes: number;
  probeP99: number;
  probeMax: number;
  loopP99: number;
  loopMax: number;
}

/** Probe /healthz every 5 ms until `until` settles; then read the server's loop-delay gauges (window = this probe). */
async function probe(url: string, until: Promise<unknown>): Promise<Lag> {
  await metric(url, "gliner2_event_loop_delay_max_seconds"); // resets the window
  const t0 = performance.now();
  let done = false;
  void until.finally(() => (done = true));
  const rtts: number[] = [];
  while (!done) {
    const s = performance.now();
    await fetch(`${url}/healthz`).then((r) => r.arrayBuffer());
    rtts.push(performance.now() - s);
    await new Promise((r) => setTimeout(r, 5));
  }
  await until;
  const ms = performance.now() - t0;
  const loopMax = (await metric(url, "gliner2_event_loop_delay_max_seconds")) * 1000;
  rtts.sort((a, b) => a - b);
  return { ms, probes: rtts.length, probeP99: rtts[Math.floor(rtts.length * 0.99)], probeMax: rtts[rtts.length - 1], loopP99: NaN, loopMax };
}

/**
 * Lag while one long request runs: /healthz round trips every 5 ms, and the server's loop-delay gauge; and the
 * same probe of the idle server for as long, as the baseline (on a loaded machine the OS alone delays threads).
 */
async function lagDuringLongRequest(): Promise<{ busy: Lag; idle: Lag }> {
  const replica: Replica = await startReplica(CLI, ["-m", MODEL, "-q", "--timeout", "600000"], root);
  try {
    const words = "Maria moved from Lisbon to Berlin in 2019 to join Siemens as an engineer".split(" ");
    const text = Array.from({ length: 600 }, (_, i) => words[i % words.length]).join(" ");
    const body = JSON.stringify({ task: "schema", text, schema: { entities: ["person", "city", "company"], relations: ["works_for"] }, threshold: 0.5 });
    const busy = await probe(
      replica.url,
      fetch(`${replica.url}/gliner-2`, { method: "POST", headers: { "content-type": "application/json" }, body }).then(async (r) => {
        if (!r.ok) throw new Error(`long request failed: ${r.status} ${await r.text()}`);
      }),
    );
    const idle = await probe(replica.url, new Promise((r) => setTimeout(r, busy.ms)));
    return { busy, idle };
  } finally {
    replica.child.kill("SIGTERM");
    await replica.exited;
  }
}

console.error(`bench:serve — model ${MODEL}, ${SECONDS} s per point`);
const ONLY = arg("only", "all"); // "lag" skips the throughput table
const points = ONLY === "lag" ? [] : await measureBoth();
const lag = await lagDuringLongRequest();

console.log("\n| batching | concurrency | req/s | p50 ms | p99 ms | mean texts/model call | failed |");
console.log("|---|---|---|---|---|---|---|");
for (const p of points) console.log(`| ${p.batching} | ${p.concurrency} | ${p.rps.toFixed(1)} | ${p.p50} | ${p.p99} | ${p.meanBatch.toFixed(1)} | ${p.failed} |`);
for (const c of points.length > 0 ? [1, 8, 64] : []) {
  const on = points.find((p) => p.batching === "on" && p.concurrency === c)!;
  const off = points.find((p) => p.batching === "off" && p.concurrency === c)!;
  console.log(`batching on/off throughput at c=${c}: ${(on.rps / off.rps).toFixed(2)}×`);
}
const show = (l: Lag) => `/healthz round trip p99 ${l.probeP99.toFixed(1)} ms, max ${l.probeMax.toFixed(1)} ms over ${l.probes} probes; server loop delay max ${l.loopMax.toFixed(1)} ms`;
console.log(`\nevent-loop lag during one long request (${(lag.busy.ms / 1000).toFixed(1)} s): ${show(lag.busy)} (${lag.busy.loopMax < 20 ? "under" : "OVER"} 20 ms)`);
console.log(`same probe, idle server, as long: ${show(lag.idle)}`);
console.log(`machine load average while measuring: ${(await import("node:os")).loadavg().map((x) => x.toFixed(1)).join(" ")} on ${(await import("node:os")).cpus().length} cores`);

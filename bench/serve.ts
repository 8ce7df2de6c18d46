/**
 * Server benchmark (not a test): `gliner2 serve` (the built dist/cli.js, one replica) under autocannon at
 * concurrency 1, 8 and 64, with dynamic batching on (--max-batch 16) and off (--max-batch 1) in the same run;
 * then the event loop's lag while one long request (~3,600 tokens) is encoded, seen from outside (a /healthz
 * probe every 5 ms) and from inside (the server's own event-loop delay gauge).
 *
 *   npm run bench:serve                              # tiny checkpoint, 5 s per point
 *   npm run bench:serve -- --model DIR --seconds 10
 */
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import autocannon from "autocannon";
import { startReplica, type Replica } from "../test/helpers/replicas.js";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");
const args = process.argv.slice(2);
const arg = (name: string, dflt: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && i + 1 < args.length ? args[i + 1] : dflt;
};
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
  return autocannon({ url: `${url}/gliner-2`, method: "POST", headers: { "content-type": "application/json" }, body: BODY, connections, duration: seconds });
}

async function measure(batching: "on" | "off"): Promise<Point[]> {
  const replica = await startReplica(CLI, ["-m", MODEL, "-q", "--max-queue", "100000", "--max-batch", batching === "on" ? "16" : "1"], root);
  const points: Point[] = [];
  try {
    await load(replica.url, 4, 1); // warm-up
    for (const c of [1, 8, 64]) {
      const [b0, n0] = [await metric(replica.url, "gliner2_batch_size_count"), await metric(replica.url, "gliner2_batch_size_sum")];
      const r = await load(replica.url, c, SECONDS);
      const [b1, n1] = [await metric(replica.url, "gliner2_batch_size_count"), await metric(replica.url, "gliner2_batch_size_sum")];
      points.push({
        batching,
        concurrency: c,
        rps: r.requests.total / r.duration,
        p50: r.latency.p50,
        p99: r.latency.p99,
        requests: r.requests.total,
        failed: r.errors + r.non2xx + r.timeouts,
        meanBatch: (n1 - n0) / Math.max(1, b1 - b0),
      });
      const p = points[points.length - 1];
      console.error(`  batching ${batching}, c=${c}: ${p.rps.toFixed(1)} req/s, p50 ${p.p50} ms, p99 ${p.p99} ms, mean batch ${p.meanBatch.toFixed(1)}`);
    }
  } finally {
    replica.child.kill("SIGTERM");
    await replica.exited;
  }
  return points;
}

/** Lag while one long request runs: /healthz round trips every 5 ms, and the server's loop-delay gauge. */
async function lagDuringLongRequest(): Promise<{ ms: number; probes: number; probeP99: number; probeMax: number; loopMax: number }> {
  const replica: Replica = await startReplica(CLI, ["-m", MODEL, "-q"], root);
  try {
    const words = "Maria moved from Lisbon to Berlin in 2019 to join Siemens as an engineer".split(" ");
    const text = Array.from({ length: 1300 }, (_, i) => words[i % words.length]).join(" ");
    const body = JSON.stringify({ task: "schema", text, schema: { entities: ["person", "city", "company"], relations: ["works_for"] }, threshold: 0.5 });
    await metric(replica.url, "gliner2_event_loop_delay_max_seconds"); // resets the window
    const t0 = performance.now();
    let done = false;
    const long = fetch(`${replica.url}/gliner-2`, { method: "POST", headers: { "content-type": "application/json" }, body }).then(async (r) => {
      done = true;
      if (!r.ok) throw new Error(`long request failed: ${r.status} ${await r.text()}`);
    });
    const rtts: number[] = [];
    while (!done) {
      const s = performance.now();
      await fetch(`${replica.url}/healthz`).then((r) => r.arrayBuffer());
      rtts.push(performance.now() - s);
      await new Promise((r) => setTimeout(r, 5));
    }
    await long;
    const ms = performance.now() - t0;
    const loopMax = (await metric(replica.url, "gliner2_event_loop_delay_max_seconds")) * 1000;
    rtts.sort((a, b) => a - b);
    return { ms, probes: rtts.length, probeP99: rtts[Math.floor(rtts.length * 0.99)], probeMax: rtts[rtts.length - 1], loopMax };
  } finally {
    replica.child.kill("SIGTERM");
    await replica.exited;
  }
}

console.error(`bench:serve — model ${MODEL}, ${SECONDS} s per point`);
const points = [...(await measure("on")), ...(await measure("off"))];
const lag = await lagDuringLongRequest();

console.log("\n| batching | concurrency | req/s | p50 ms | p99 ms | mean texts/model call | failed |");
console.log("|---|---|---|---|---|---|---|");
for (const p of points) console.log(`| ${p.batching} | ${p.concurrency} | ${p.rps.toFixed(1)} | ${p.p50} | ${p.p99} | ${p.meanBatch.toFixed(1)} | ${p.failed} |`);
for (const c of [1, 8, 64]) {
  const on = points.find((p) => p.batching === "on" && p.concurrency === c)!;
  const off = points.find((p) => p.batching === "off" && p.concurrency === c)!;
  console.log(`batching on/off throughput at c=${c}: ${(on.rps / off.rps).toFixed(2)}×`);
}
console.log(
  `\nevent-loop lag during one long request (${(lag.ms / 1000).toFixed(1)} s): /healthz round trip p99 ${lag.probeP99.toFixed(1)} ms, max ${lag.probeMax.toFixed(1)} ms over ${lag.probes} probes; server loop delay max ${lag.loopMax.toFixed(1)} ms (${lag.loopMax < 20 ? "under" : "OVER"} 20 ms)`,
);

/**
 * Event-loop lag while the off-thread model encodes a long text (issue: under 20 ms). Run by `npm test` in a
 * second vitest pass, alone (vitest.serial.config.ts), so the two cores are not also busy with other test files:
 * timer lag measured while the machine is otherwise idle is the engine's, not the test runner's.
 */
import { monitorEventLoopDelay } from "node:perf_hooks";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GLiNER2 } from "../../src/gliner2.js";
import { checkpointDir } from "../helpers/golden.js";

const DIR = checkpointDir("tiny-count_lstm_v2");

describe("off-thread GLiNER2, alone on the machine", () => {
  let remote: GLiNER2;
  let local: GLiNER2;

  beforeAll(async () => {
    expect(process.env.GLINER2_WORKER_ENTRY).toMatch(/worker\.js$/);
    [remote, local] = await Promise.all([GLiNER2.fromPretrained(DIR), GLiNER2.fromPretrained(DIR, { offThread: false })]);
  });
  afterAll(async () => {
    await remote?.dispose();
  });

  it("keeps the caller's event loop free while a long text is encoded", async () => {
    // ≈1,000 subword tokens (2.7 per word with this tokenizer): more than the 512-token case. Encoded a
    // few times so the window is long enough.
    const words = "Maria moved from Lisbon to Berlin in 2019 to join Siemens as an engineer".split(" ");
    const long = Array.from({ length: 380 }, (_, i) => words[i % words.length]).join(" ");
    const schema = { entities: ["person", "city", "company"], relations: ["works_for"] };

    const measure = async (m: GLiNER2 | null, runs: number) => {
      // Timer lag: a 5 ms interval's drift, and Node's own event-loop delay histogram.
      const h = monitorEventLoopDelay({ resolution: 1 });
      h.enable();
      let last = performance.now();
      const drifts: number[] = [];
      const iv = setInterval(() => {
        const now = performance.now();
        drifts.push(now - last - 5);
        last = now;
      }, 5);
      const results = [];
      if (m === null) await new Promise((r) => setTimeout(r, runs));
      else for (let i = 0; i < runs; i++) results.push(await m.extract(long, schema, { threshold: 0.3 }));
      clearInterval(iv);
      h.disable();
      drifts.sort((a, b) => a - b);
      return { results, ticks: drifts.length, p99: drifts[Math.floor(drifts.length * 0.99)] ?? Infinity, max: drifts[drifts.length - 1] ?? Infinity, loopP99: h.percentile(99) / 1e6 };
    };

    const inThread = await measure(local, 1);
    const off = await measure(remote, 3);
    // The same timer with nothing running, for as long: what the OS alone costs on this machine right now.
    const idle = await measure(null, 1500);
    console.log(
      `event-loop lag: in-thread max ${inThread.max.toFixed(1)} ms (${inThread.ticks} ticks); off-thread p99 ${off.p99.toFixed(1)} ms, max ${off.max.toFixed(1)} ms, loop-delay p99 ${off.loopP99.toFixed(1)} ms over ${off.ticks} ticks; idle baseline p99 ${idle.p99.toFixed(1)} ms`,
    );
    expect(JSON.stringify(off.results[0])).toBe(JSON.stringify(inThread.results[0]));
    // The measurement sees a blocked loop (in-thread, one synchronous encode) …
    expect(inThread.max).toBeGreaterThan(20);
    // … and off-thread the timers kept firing throughout: p99 under 20 ms. p99, not max, and beyond the idle
    // baseline when that is itself above a few ms: on a shared, overloaded machine the OS deschedules this
    // thread now and then whatever the engine does (on a quiet machine the bound is the plain 20 ms).
    const osShare = Math.max(0, idle.p99 - 5);
    expect(off.ticks).toBeGreaterThan(20);
    expect(off.p99).toBeLessThan(20 + osShare);
    expect(off.loopP99).toBeLessThan(20 + osShare);
  });
});

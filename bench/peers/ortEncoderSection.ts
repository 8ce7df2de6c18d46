/**
 * Bench section "encoder vs onnxruntime-web, same run": the whole encoder, batch 1, with the same weights in
 * both engines (the ONNX graph is written from the very safetensors file our encoders load), onnxruntime-web on
 * 1 and 2 threads (each in its own worker: ortEncoderWorker.ts) against ours on wasm / wasm-relaxed / wasm-int8
 * at 1 and 2 threads. Interleaved rounds, best of each: wall and CPU ms (CPU of the whole process, every thread),
 * the ratio ours / onnxruntime-web at the same thread count, and max |diff| of the hidden states as a sanity line.
 */
import { encode, type DebertaEncoder } from "../../src/model/deberta.js";
import type { DebertaConfig } from "../../src/model/config.js";
import type { SafetensorsFile } from "../../src/model/safetensors.js";
import { setBackend, startThreads, stopThreads, threadCount, type ActiveBackend } from "../../src/kernels/index.js";
import { encoderOnnx } from "./onnxEncoder.js";
import { startOrtWorker, type OrtWorker } from "./ortWorkerClient.js";

export interface OursConfig {
  name: string;
  backend: ActiveBackend;
  /** Which loaded encoder (f32 packed for wasm, or int8). */
  enc: DebertaEncoder;
  int8: boolean;
}

const cpuMs = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  if (a.length !== b.length) return NaN;
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

function table(rows: string[][]): void {
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
  for (const r of rows) console.log(r.map((v, c) => v.padStart(widths[c])).join("  "));
}

export async function ortEncoderComparison(opts: {
  st: SafetensorsFile;
  config: DebertaConfig;
  ours: OursConfig[];
  lengths: number[];
  vocab: number;
  /** Interleaved rounds per length (after one warm-up round). */
  rounds?: (L: number) => number;
  workerScript: URL;
}): Promise<void> {
  const { st, config, ours, vocab } = opts;
  const rounds = opts.rounds ?? ((L: number) => (L <= 128 ? 5 : 3));
  for (const L of opts.lengths) {
    const ids = Array.from({ length: L }, (_, i) => 5 + ((i * 7919) % (vocab - 5)));
    const mask = new Array<number>(L).fill(1);
    const t0 = performance.now();
    let model: Uint8Array | null = encoderOnnx((name) => st.f32(name), config, { batch: 1, length: L, shared: true });
    const modelMiB = model.byteLength / 2 ** 20;
    const tBuilt = performance.now();
    const peers: { threads: number; w: OrtWorker }[] = [];
    try {
      for (const threads of [1, 2]) peers.push({ threads, w: await startOrtWorker(opts.workerScript, model, 1, L, threads) });
      model = null; // each worker has its own copy in its WebAssembly memory now
      console.log(
        `encoder vs onnxruntime-web ${peers[0].w.version}, ${L} tokens: ONNX graph (${modelMiB.toFixed(0)} MiB) written in ${((tBuilt - t0) / 1000).toFixed(1)} s, ` +
          `2 sessions created in ${((performance.now() - tBuilt) / 1000).toFixed(1)} s; onnxruntime-web reports numThreads ${peers.map((p) => p.w.threads).join(" / ")}`,
      );

      type Row = { name: string; threads: number; ort: boolean; run: () => Promise<{ wall: number; cpu: number; out: Float32Array | null }> };
      const rows: Row[] = [];
      for (const p of peers) {
        rows.push({ name: "onnxruntime-web", threads: p.threads, ort: true, run: async () => ({ ...(await p.w.run(ids, mask)), out: null }) });
      }
      for (const threads of [1, 2]) {
        for (const c of ours) {
          rows.push({
            name: c.name,
            threads,
            ort: false,
            run: async () => {
              setBackend(c.backend);
              if (threadCount() !== threads) await startThreads(threads);
              const w0 = performance.now();
              const c0 = cpuMs();
              const out = encode(c.enc, ids, mask, 1, L);
              return { cpu: cpuMs() - c0, wall: performance.now() - w0, out };
            },
          });
        }
      }
      // Interleaved: every round runs each row once (ours grouped by thread count, so our pool starts once per
      // group); round 0 is the warm-up. A pause after each run lets the other engine's threads go idle.
      const best = new Map<Row, { wall: number; cpu: number }>();
      for (let round = 0; round <= rounds(L); round++) {
        for (const r of rows) {
          const t = await r.run();
          if (round > 0) {
            const b = best.get(r) ?? { wall: Infinity, cpu: Infinity };
            best.set(r, { wall: Math.min(b.wall, t.wall), cpu: Math.min(b.cpu, t.cpu) });
          }
          await sleep(50);
        }
      }
      stopThreads();

      // Sanity: the outputs, once more (not timed).
      const ort1 = (await peers[0].w.run(ids, mask, true)).out!;
      const ort2 = (await peers[1].w.run(ids, mask, true)).out!;
      const sanity: string[] = [`max |onnxruntime-web 2T − 1T| = ${maxAbsDiff(ort2, ort1).toExponential(2)}`];
      for (const c of ours) {
        setBackend(c.backend);
        sanity.push(`max |${c.name} − onnxruntime-web| = ${maxAbsDiff(encode(c.enc, ids, mask, 1, L), ort1).toExponential(2)}`);
      }
      setBackend("auto");

      const ortBest = (threads: number) => best.get(rows.find((r) => r.ort && r.threads === threads)!)!;
      const out: string[][] = [["engine", "threads", "wall ms", "cpu ms", "cpu/wall", "ours/ort (wall)", "ours/ort (cpu)"]];
      for (const r of rows) {
        const b = best.get(r)!;
        const o = ortBest(r.threads);
        out.push([r.name, String(r.threads), b.wall.toFixed(0), b.cpu.toFixed(0), (b.cpu / b.wall).toFixed(2), r.ort ? "-" : `${(b.wall / o.wall).toFixed(2)}×`, r.ort ? "-" : `${(b.cpu / o.cpu).toFixed(2)}×`]);
      }
      console.log(`Whole encoder, batch 1, ${L} tokens, best of ${rounds(L)} interleaved rounds (cpu = whole process, all threads)`);
      table(out);
      for (const s of sanity) console.log(`  ${s}`);
      console.log(`  peak RSS ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MiB (onnxruntime-web's two sessions included)\n`);
    } finally {
      stopThreads();
      for (const p of peers) await p.w.close();
    }
  }
}

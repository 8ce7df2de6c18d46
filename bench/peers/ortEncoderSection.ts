/**
 * Bench section "encoder vs onnxruntime-web, same run": the whole encoder, batch 1, with the same weights in
 * both engines (the ONNX graph is written from the very safetensors file our encoders load), onnxruntime-web on
 * 1 and 2 threads (each in its own worker: ortEncoderWorker.ts) against ours on wasm / wasm-relaxed / wasm-int8
 * at 1 and 2 threads. Interleaved rounds, best of each: wall and CPU ms (CPU of the whole process, every thread),
 * the ratio ours / onnxruntime-web at the same thread count, and max |diff| of the hidden states as a sanity line.
 * When the optional onnxruntime-node is installed, its native CPU build runs the same graph as context rows.
 */
import { loadavg } from "node:os";
import { encode, type DebertaEncoder } from "../../src/model/deberta.js";
import type { DebertaConfig } from "../../src/model/config.js";
import type { SafetensorsFile } from "../../src/model/safetensors.js";
import { setBackend, startThreads, stopThreads, threadCount, type ActiveBackend } from "../../src/kernels/index.js";
import { encoderOnnx } from "./onnxEncoder.js";
import { ortNodeEncoders, type OrtNodeEncoder } from "./ortNode.js";
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
    let natives: OrtNodeEncoder[] | null = null;
    try {
      for (const threads of [1, 2]) peers.push({ threads, w: await startOrtWorker(opts.workerScript, model, 1, L, threads) });
      natives = await ortNodeEncoders(model, 1, L, [1, 2]);
      model = null; // each session has its own copy now
      console.log(
        `encoder vs onnxruntime-web ${peers[0].w.version}, ${L} tokens: ONNX graph (${modelMiB.toFixed(0)} MiB) written in ${((tBuilt - t0) / 1000).toFixed(1)} s, ` +
          `sessions created in ${((performance.now() - tBuilt) / 1000).toFixed(1)} s; onnxruntime-web reports numThreads ${peers.map((p) => p.w.threads).join(" / ")}; ` +
          (natives ? `onnxruntime-node ${natives[0].version} (native CPU) as context` : "onnxruntime-node not installed (no native context rows)"),
      );

      type Kind = "web" | "native" | "ours";
      type Row = { name: string; threads: number; kind: Kind; run: () => Promise<{ wall: number; cpu: number }> };
      const rows: Row[] = [];
      for (const p of peers) rows.push({ name: "onnxruntime-web", threads: p.threads, kind: "web", run: () => p.w.run(ids, mask) });
      for (const n of natives ?? []) {
        rows.push({
          name: "onnxruntime-node",
          threads: n.threads,
          kind: "native",
          run: async () => {
            const w0 = performance.now();
            const c0 = cpuMs();
            await n.run(ids, mask);
            return { cpu: cpuMs() - c0, wall: performance.now() - w0 };
          },
        });
      }
      for (const threads of [1, 2]) {
        for (const c of ours) {
          rows.push({
            name: c.name,
            threads,
            kind: "ours",
            run: async () => {
              setBackend(c.backend);
              if (threadCount() !== threads) await startThreads(threads);
              const w0 = performance.now();
              const c0 = cpuMs();
              encode(c.enc, ids, mask, 1, L);
              return { cpu: cpuMs() - c0, wall: performance.now() - w0 };
            },
          });
        }
      }
      // Interleaved: every round runs each row once (ours grouped by thread count, so our pool starts once per
      // group); round 0 is the warm-up. A pause after each run lets the other engine's threads go idle.
      const best = new Map<Row, { wall: number; cpu: number }>();
      const loadBefore = loadavg()[0];
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
      if (natives) sanity.push(`max |onnxruntime-node − onnxruntime-web| = ${maxAbsDiff(await natives[0].run(ids, mask), ort1).toExponential(2)}`);
      for (const c of ours) {
        setBackend(c.backend);
        sanity.push(`max |${c.name} − onnxruntime-web| = ${maxAbsDiff(encode(c.enc, ids, mask, 1, L), ort1).toExponential(2)}`);
      }
      setBackend("auto");

      const bestOf = (kind: Kind, threads: number) => {
        const r = rows.find((x) => x.kind === kind && x.threads === threads);
        return r ? best.get(r)! : undefined;
      };
      const ratio = (a: number, b: number | undefined) => (b === undefined ? "-" : `${(a / b).toFixed(2)}×`);
      const out: string[][] = [["engine", "threads", "wall ms", "cpu ms", "cpu/wall", "ours/ort-web (wall)", "ours/ort-web (cpu)", ...(natives ? ["ours/ort-node (wall)"] : [])]];
      for (const r of rows) {
        const b = best.get(r)!;
        const web = bestOf("web", r.threads)!;
        const ours = r.kind === "ours";
        out.push([
          r.name,
          String(r.threads),
          b.wall.toFixed(0),
          b.cpu.toFixed(0),
          (b.cpu / b.wall).toFixed(2),
          ours ? ratio(b.wall, web.wall) : "-",
          ours ? ratio(b.cpu, web.cpu) : "-",
          ...(natives ? [ours ? ratio(b.wall, bestOf("native", r.threads)?.wall) : "-"] : []),
        ]);
      }
      console.log(`Whole encoder, batch 1, ${L} tokens, best of ${rounds(L)} interleaved rounds (cpu = whole process, all threads); 1-min load average ${loadBefore.toFixed(2)} before, ${loadavg()[0].toFixed(2)} after`);
      table(out);
      for (const s of sanity) console.log(`  ${s}`);
      console.log(`  peak RSS ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MiB (every onnxruntime session included)\n`);
    } finally {
      stopThreads();
      for (const p of peers) await p.w.close();
      for (const n of natives ?? []) await n.release();
    }
  }
}

/**
 * Encoder benchmark (not a test): a full-size random checkpoint with gliner2-base shapes (hidden 768, 12 layers,
 * 12 heads, FFN 3072, vocab 128,011, 256 position buckets), generated in memory from a seed and never written
 * to disk, run at 64/128/256/512 tokens, batch 1.
 *
 * Two parts, each measured in this one run (the machine may be shared: compare ratios, not absolute figures):
 *  1. kernels, one thread, 128×768·768×3072 and neighbours: the plain-TS reference kernel and issue 7's
 *     float64-summing plain-TS kernel (js-f64, the baseline of the speed-up ratios), the WebAssembly kernels (plain
 *     SIMD, relaxed SIMD) and onnxruntime-web's MatMul (its WebAssembly SIMD build), interleaved best-of bursts;
 *     and the int8 kernels (the plain-TS reference and the WebAssembly one, quantization of the activations
 *     included; GOP/s);
 *  2. the whole encoder: js (reference) and js-f64 vs wasm vs wasm-relaxed vs wasm-int8 (`quantize: "int8"`'s
 *     plan), 1 and 2 threads;
 *  3. encoder vs onnxruntime-web, same run: the same weights as a hand-written ONNX graph of the whole encoder
 *     (bench/peers/onnxEncoder.ts; test/onnxPeer.test.ts proves it computes what ours does) in onnxruntime-web
 *     at 1 and 2 threads against ours (wasm / wasm-relaxed / wasm-int8) at 1 and 2 threads, interleaved.
 * Node 20 has relaxed SIMD behind a V8 flag: it is switched on here (on by default from Node 22).
 *
 *   npm run bench                 # all lengths
 *   npm run bench -- 128          # chosen lengths
 *   npm run bench -- --kernels    # kernels only
 *   npm run bench -- --no-js 512  # leave the (slow) plain-TS encoder out
 *   npm run bench -- --ort-encoder 128  # part 3 only (128 tokens when no length is given)
 *   npm run bench -- --ort-encoder --rounds 10 128  # more interleaved rounds (more chances of quiet moments)
 */
import v8 from "node:v8";
import { parseEncoderConfig } from "../src/model/config.js";
import { encode, loadDebertaEncoder, type DebertaEncoder } from "../src/model/deberta.js";
import { parseSafetensors } from "../src/model/safetensors.js";
import { backendInfo, int8Linear, linear, linearInt8Reference, packLinear, PANEL, quantizeRows, setBackend, setLinearBackend, startThreads, stopThreads, threadCount, type ActiveBackend, type PackedLinear } from "../src/kernels/index.js";
import { DEFAULT_INT8_PLAN } from "../src/int8/plan.js";
import { setLoadPolicy } from "../src/model/weights.js";
import { ortMatmul } from "./ortMatmul.js";
import { describePeak, simdPeak } from "./simdPeak.js";
import { ortEncoderComparison, type OursConfig } from "./peers/ortEncoderSection.js";

// Before the kernels are first compiled (they are, lazily, on first use). Node 22+ has it on and no such flag.
if (process.versions.node.startsWith("20.")) v8.setFlagsFromString("--experimental-wasm-relaxed-simd");
import { writeSafetensors } from "./safetensorsWriter.js";
import { linearPanelsF64 } from "./shared/f64Kernel.js";
import { ENCODER_CONFIG, filler, randomTensors, SHAPE as BASE_SHAPE } from "./shared/baseCheckpoint.js";

const SHAPE = BASE_SHAPE;
const SEED = 20251125;

/** The encoder tensors of the shared random base-shaped checkpoint, as one safetensors file. */
function randomCheckpoint(): Uint8Array {
  return writeSafetensors(randomTensors({ seed: SEED, heads: false }));
}

/** FLOPs of one forward pass at length L (multiply-adds × 2), counting what the encoder really computes. */
function flops(L: number, relRows: number): number {
  const { hidden: H, layers, intermediate: I } = SHAPE;
  const linears = 2 * L * (4 * H * H + 2 * H * I);
  const attention = 2 * 2 * L * L * H; // Q·Kᵀ and P·V over all heads
  const disentangled = 2 * 2 * L * relRows * H; // Q·PKᵀ and K·PQᵀ on the reachable relative rows
  return layers * (linears + attention + disentangled);
}

/** Reference linear: weights transposed to [in, out], one axpy stream per input feature (the naive kernel). */
function naiveLinearFactory() {
  const transposed = new WeakMap<PackedLinear, Float32Array>();
  return (x: Float32Array, rows: number, layer: PackedLinear, unpack: (l: PackedLinear) => Float32Array): Float32Array => {
    let wt = transposed.get(layer);
    if (!wt) transposed.set(layer, (wt = unpack(layer)));
    const K = layer.inFeatures;
    const N = layer.outFeatures;
    const y = new Float32Array(rows * N);
    for (let m = 0; m < rows; m++) {
      if (layer.bias) y.set(layer.bias, m * N);
      for (let k = 0; k < K; k++) {
        const a = x[m * K + k];
        for (let n = 0; n < N; n++) y[m * N + n] += a * wt[k * N + n];
      }
    }
    return y;
  };
}

/** CPU time of this process so far (ms): unlike wall time, not inflated when other processes share the cores. */
const cpuMs = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};

/** Best wall and best CPU time of `reps` encodes (after a warm-up). */
function timeEncode(enc: DebertaEncoder, L: number, reps: number): { wall: number; cpu: number } {
  const ids = Int32Array.from({ length: L }, (_, i) => 5 + ((i * 7919) % (SHAPE.vocab - 5)));
  const mask = new Uint8Array(L).fill(1);
  encode(enc, ids, mask, 1, L); // warm-up (JIT)
  let wall = Infinity;
  let cpu = Infinity;
  for (let r = 0; r < reps; r++) {
    const t0 = performance.now();
    const c0 = cpuMs();
    encode(enc, ids, mask, 1, L);
    cpu = Math.min(cpu, cpuMs() - c0);
    wall = Math.min(wall, performance.now() - t0);
  }
  return { wall, cpu };
}

function table(rows: string[][]): void {
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
  for (const r of rows) console.log(r.map((v, c) => v.padStart(widths[c])).join("  "));
}

/** Kernels, one thread: interleaved bursts, best time of each. */
async function kernelComparison(): Promise<void> {
  const info = backendInfo();
  const wasmKinds: ActiveBackend[] = info.simd ? ["wasm", ...(info.relaxedSimd ? (["wasm-relaxed"] as const) : [])] : [];
  const shapes = [[128, 768, 3072], [128, 768, 768], [128, 3072, 768], [512, 768, 3072]];
  const int8Kinds = info.simd ? ["js-int8", "wasm-int8"] : ["js-int8"];
  const rows: string[][] = [["M×K×N", "js", "js-f64", ...wasmKinds, ...int8Kinds, "onnxruntime-web", ...wasmKinds.map((k) => `${k}/ort`), ...wasmKinds.map((k) => `${k}/js-f64`), ...(info.simd ? ["wasm-int8/ort", "wasm-int8/wasm", "wasm-int8/js-int8"] : [])]];
  let ortVersion = "";
  // This CPU's WebAssembly SIMD ceiling (bench/simdPeak.ts), and each kernel's share of it.
  const peak = info.simd ? simdPeak() : null;
  const ofPeak: string[][] = [["M×K×N", "wasm / mul+add peak", "wasm-relaxed / relaxed_madd peak", "wasm-int8 / dot_i16x8 peak", "onnxruntime-web / mul+add peak", "mul+add peak / ort", "relaxed_madd peak / ort"]];
  for (const [M, K, N] of shapes) {
    const rand = filler(M + K + N);
    const x = rand(M * K, 0.5);
    const w = rand(N * K, 1 / Math.sqrt(K));
    const wT = new Float32Array(K * N); // ONNX MatMul takes W as [K, N]
    for (let n = 0; n < N; n++) for (let k = 0; k < K; k++) wT[k * N + n] = w[n * K + k];
    const runs: { name: string; run: () => unknown | Promise<unknown> }[] = [];
    const out = new Float32Array(M * N);
    setBackend("js");
    const jsLayer = packLinear(w, N, K);
    runs.push({ name: "js", run: () => (setBackend("js"), linear(x, M, jsLayer, out)) });
    runs.push({ name: "js-f64", run: () => linearPanelsF64(x, M, K, N, jsLayer.packed, null, out, 0, Math.ceil(N / PANEL)) });
    for (const kind of wasmKinds) {
      setBackend(kind);
      const layer = packLinear(w, N, K);
      runs.push({ name: kind, run: () => (setBackend(kind), linear(x, M, layer, out)) });
    }
    // int8: packed for wasm when SIMD is there (the reference kernel reads the same layer's row-major copy)
    if (info.simd) setBackend("wasm");
    const i8Layer = int8Linear(quantizeRows(w, N, K));
    runs.push({ name: "js-int8", run: () => linearInt8Reference(x, M, i8Layer, out) });
    if (info.simd) runs.push({ name: "wasm-int8", run: () => (setBackend("wasm"), linear(x, M, i8Layer, out)) });
    const ort = await ortMatmul(M, K, N, wT, x, 1);
    if (ort) {
      ortVersion = ort.version;
      runs.push({ name: "onnxruntime-web", run: () => ort.run() });
    }
    const best = new Map<string, number>();
    for (let round = 0; round < 6; round++) {
      for (const r of runs) {
        const budget = r.name.startsWith("js") ? 1 : 6;
        for (let i = 0; i < budget; i++) {
          const c0 = cpuMs();
          await r.run();
          const ms = cpuMs() - c0;
          best.set(r.name, Math.min(best.get(r.name) ?? Infinity, ms));
        }
      }
    }
    await ort?.release();
    const gf = (name: string) => (best.has(name) ? (2 * M * K * N) / best.get(name)! / 1e6 : NaN);
    const f = (v: number) => (Number.isNaN(v) ? "-" : v.toFixed(1));
    const pct = (name: string, p: { gflops: number } | null | undefined) => (p && best.has(name) ? `${((100 * gf(name)) / p.gflops).toFixed(0)} %` : "-");
    // The last two: what a kernel at 100 % of the ceiling would give against onnxruntime-web.
    const overOrt = (p: { gflops: number } | null | undefined) => (p && best.has("onnxruntime-web") ? `${(p.gflops / gf("onnxruntime-web")).toFixed(2)}×` : "-");
    ofPeak.push([`${M}×${K}×${N}`, pct("wasm", peak?.["mul+add"]), pct("wasm-relaxed", peak?.relaxed_madd), pct("wasm-int8", peak?.dot_i16x8), pct("onnxruntime-web", peak?.["mul+add"]), overOrt(peak?.["mul+add"]), overOrt(peak?.relaxed_madd)]);
    rows.push([
      `${M}×${K}×${N}`,
      f(gf("js")),
      f(gf("js-f64")),
      ...wasmKinds.map((k) => f(gf(k))),
      ...int8Kinds.map((k) => f(gf(k))),
      f(gf("onnxruntime-web")),
      ...wasmKinds.map((k) => `${f(gf(k) / gf("onnxruntime-web"))}×`),
      ...wasmKinds.map((k) => `${f(gf(k) / gf("js-f64"))}×`),
      ...(info.simd ? [`${f(gf("wasm-int8") / gf("onnxruntime-web"))}×`, `${f(gf("wasm-int8") / gf("wasm"))}×`, `${f(gf("wasm-int8") / gf("js-int8"))}×`] : []),
    ]);
  }
  setBackend("auto");
  console.log(`Kernels, one thread, GFLOP/s (GOP/s for int8, quantizing the activations included) by CPU time (best of interleaved bursts)${ortVersion ? `; onnxruntime-web ${ortVersion} MatMul, 1 thread` : "; onnxruntime-web not installed"}`);
  console.log("js = the reference kernel (float32 arithmetic, the WebAssembly kernels' bits); js-f64 = the plain-TS kernel issue 7 measured (float64 sums, bench/shared/f64Kernel.ts), the baseline of the …/js-f64 ratios");
  table(rows);
  if (peak) {
    console.log("\nWebAssembly SIMD ceiling, one thread, accumulator chains with no loads or stores (bench/simdPeak.ts):");
    for (const line of describePeak(peak)) console.log(line);
    console.log("Each kernel as a share of its instructions' ceiling (same run):");
    table(ofPeak);
  }
  console.log("");
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const roundsAt = args.indexOf("--rounds");
  const rounds = roundsAt >= 0 ? Number(args[roundsAt + 1]) : undefined;
  if (rounds !== undefined && !(Number.isInteger(rounds) && rounds > 0)) throw new Error(`--rounds needs a positive integer, got ${args[roundsAt + 1]}`);
  const lengths = args.filter((_, i) => roundsAt < 0 || i !== roundsAt + 1).map(Number).filter((n) => n > 0);
  const ortOnly = args.includes("--ort-encoder");
  const Ls = lengths.length > 0 ? lengths : ortOnly ? [128] : [64, 128, 256, 512];
  const info = backendInfo();
  console.log(`node ${process.version}; WebAssembly SIMD ${info.simd ? "yes" : "no"}, relaxed SIMD ${info.relaxedSimd ? `yes (${info.fusedMultiplyAdd ? "fused" : "unfused"})` : "no"}, shared memory ${info.sharedMemory ? "yes" : "no"}; kernels compiled in ${info.compileMs.toFixed(1)} ms\n`);
  if (!ortOnly) await kernelComparison();
  if (args.includes("--kernels")) return;

  const t0 = performance.now();
  const bytes = randomCheckpoint();
  const config = parseEncoderConfig(ENCODER_CONFIG);
  const st = parseSafetensors(bytes, "random-gliner2-base.safetensors");
  console.log(`random gliner2-base-shaped checkpoint (seed ${SEED}) built in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  const encoders = new Map<string, DebertaEncoder>();
  const withJs = !args.includes("--no-js") && !ortOnly;
  for (const kind of [...(withJs ? ["js"] : []), ...(info.simd ? ["wasm"] : [])] as ("js" | "wasm")[]) {
    setBackend(kind);
    const t1 = performance.now();
    encoders.set(kind, loadDebertaEncoder(st, config));
    console.log(`packed for ${kind} in ${((performance.now() - t1) / 1000).toFixed(1)} s`);
  }
  if (info.simd) {
    // quantize: "int8"'s plan (every encoder linear layer and the word embeddings int8), on the wasm backend
    setBackend("wasm");
    const t1 = performance.now();
    const st8 = parseSafetensors(bytes, "random-gliner2-base.safetensors");
    setLoadPolicy(st8, { plan: DEFAULT_INT8_PLAN, copyFloats: false });
    encoders.set("wasm-int8", loadDebertaEncoder(st8, config));
    console.log(`quantized and packed for wasm-int8 in ${((performance.now() - t1) / 1000).toFixed(1)} s`);
  }
  console.log("");
  if (ortOnly) return ortSection(st, config, encoders, Ls, rounds);
  // wasm-relaxed runs the weights packed for wasm (same layout).
  // js-f64: the js forward with its linear layers on issue 7's float64-summing kernel (bench/shared/f64Kernel.ts),
  // the plain-TS engine the issue measured; the "vs js-f64" ratios are against it.
  const configs: { name: string; backend: ActiveBackend; threads: number; enc: string }[] = withJs
    ? [{ name: "js", backend: "js", threads: 1, enc: "js" }, { name: "js-f64", backend: "js", threads: 1, enc: "js" }]
    : [];
  if (info.simd) {
    for (const kind of ["wasm", ...(info.relaxedSimd ? ["wasm-relaxed"] : [])] as ActiveBackend[]) {
      configs.push({ name: kind, backend: kind, threads: 1, enc: "wasm" });
      if (info.sharedMemory) configs.push({ name: `${kind} 2T`, backend: kind, threads: 2, enc: "wasm" });
    }
    configs.push({ name: "wasm-int8", backend: "wasm", threads: 1, enc: "wasm-int8" });
    if (info.sharedMemory) configs.push({ name: "wasm-int8 2T", backend: "wasm", threads: 2, enc: "wasm-int8" });
  }
  const single = configs.filter((c) => c.threads === 1);
  const rows: string[][] = [["tokens", ...configs.map((c) => `${c.name} ms`), ...single.map((c) => `${c.name} cpu ms`), "GFLOP/s (best, wall)", ...single.filter((c) => !c.name.startsWith("js")).map((c) => `${c.name} vs js-f64 (cpu)`), ...configs.filter((c) => c.threads === 2).map((c) => `${c.name.replace(" 2T", "")} 2T/1T (wall)`), ...(info.simd ? ["int8/f32 wasm 1T (wall)", ...(info.sharedMemory ? ["int8/f32 wasm 2T (wall)"] : [])] : []), "peak RSS MiB"]];
  for (const L of Ls) {
    const relRows = Math.min(2 * SHAPE.buckets, 2 * L - 1);
    const ms = new Map<string, number>();
    const cpu = new Map<string, number>();
    for (const c of configs) {
      if (c.backend === "js" && L > 128) continue; // seconds per pass: measured where it finishes in reasonable time
      setBackend(c.backend);
      if (c.threads !== threadCount()) await startThreads(c.threads);
      if (c.name === "js-f64") setLinearBackend(f64Linear);
      const t = timeEncode(encoders.get(c.enc)!, L, c.backend === "js" ? 1 : L <= 128 ? 5 : 3);
      setLinearBackend(null);
      ms.set(c.name, t.wall);
      cpu.set(c.name, t.cpu);
      stopThreads();
    }
    const best = Math.min(...[...ms].filter(([name]) => !name.includes("int8")).map(([, v]) => v)); // float configs: FLOPs
    const f = (name: string) => (ms.has(name) ? ms.get(name)!.toFixed(0) : "-");
    const ratio = (a: number | undefined, b: number | undefined) => (a !== undefined && b !== undefined ? `${(a / b).toFixed(2)}×` : "-");
    rows.push([
      String(L),
      ...configs.map((c) => f(c.name)),
      ...single.map((c) => (cpu.has(c.name) ? cpu.get(c.name)!.toFixed(0) : "-")),
      (flops(L, relRows) / best / 1e6).toFixed(1),
      ...single.filter((c) => !c.name.startsWith("js")).map((c) => ratio(cpu.get("js-f64"), cpu.get(c.name))),
      ...configs.filter((c) => c.threads === 2).map((c) => ratio(ms.get(c.name.replace(" 2T", "")), ms.get(c.name))),
      ...(info.simd ? [ratio(ms.get("wasm-int8"), ms.get("wasm")), ...(info.sharedMemory ? [ratio(ms.get("wasm-int8 2T"), ms.get("wasm 2T"))] : [])] : []),
      (process.resourceUsage().maxRSS / 1024).toFixed(0),
    ]);
  }
  setBackend("auto");
  console.log("Whole encoder, batch 1, best of the repetitions: wall ms, and CPU ms for one-thread runs (2T = two threads)");
  table(rows);
  console.log("");
  await ortSection(st, config, encoders, Ls, rounds);
}

/** linear() on issue 7's float64-summing plain-TS kernel (float layers packed for the js backend). */
function f64Linear(x: Float32Array, rows: number, layer: PackedLinear, out?: Float32Array): Float32Array {
  const y = out ?? new Float32Array(rows * layer.outFeatures);
  linearPanelsF64(x, rows, layer.inFeatures, layer.outFeatures, layer.packed, layer.bias, y, 0, Math.ceil(layer.outFeatures / PANEL));
  return y;
}

/** Part 3: the whole encoder against onnxruntime-web's, same weights, same run. */
async function ortSection(st: ReturnType<typeof parseSafetensors>, config: ReturnType<typeof parseEncoderConfig>, encoders: Map<string, DebertaEncoder>, Ls: number[], rounds?: number): Promise<void> {
  const info = backendInfo();
  if (!info.simd || !info.sharedMemory) {
    console.log("encoder vs onnxruntime-web: skipped (needs WebAssembly SIMD and shared memory for our wasm rows)");
    return;
  }
  try {
    await import("onnxruntime-web");
  } catch {
    console.log("encoder vs onnxruntime-web: skipped (onnxruntime-web is not installed)");
    return;
  }
  const ours: OursConfig[] = [
    { name: "wasm", backend: "wasm", enc: encoders.get("wasm")!, int8: false },
    ...(info.relaxedSimd ? [{ name: "wasm-relaxed", backend: "wasm-relaxed" as const, enc: encoders.get("wasm")!, int8: false }] : []),
    { name: "wasm-int8", backend: "wasm", enc: encoders.get("wasm-int8")!, int8: true },
  ];
  await ortEncoderComparison({ st, config, ours, lengths: Ls, vocab: SHAPE.vocab, rounds: rounds === undefined ? undefined : () => rounds, workerScript: new URL("./ortEncoderWorker.js", import.meta.url) });
}

/** Run `fn` with linear() routed to the naive reference kernel (js backend only). */
export async function withNaiveKernel<T>(fn: () => T): Promise<T> {
  const naive = naiveLinearFactory();
  const unpack = (l: PackedLinear) => {
    // Recover W from the panel layout, as [in, out] for the naive stream.
    const { inFeatures: K, outFeatures: N, packed } = l;
    const wt = new Float32Array(K * N);
    for (let n = 0; n < N; n++) {
      const base = Math.floor(n / PANEL) * K * PANEL + (n % PANEL);
      for (let k = 0; k < K; k++) wt[k * N + n] = packed[base + k * PANEL];
    }
    return wt;
  };
  setLinearBackend((x, rows, layer) => naive(x, rows, layer, unpack));
  try {
    return fn();
  } finally {
    setLinearBackend(null);
  }
}

await main();

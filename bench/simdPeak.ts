/**
 * The ceiling this CPU reaches from WebAssembly SIMD on one thread: generated functions that run many accumulator
 * chains on locals, with no load or store in the WebAssembly code, so only the arithmetic units (and how the engine
 * compiles the ops) limit them. The kernel report (bench/encoder.ts) prints each kernel as a fraction of it.
 *
 *   f32x4 mul + add     acc += x·b as f32x4.mul then f32x4.add: 8 FLOPs per chain step (4 × and 4 +)
 *   f32x4.relaxed_madd  acc = relaxed_madd(x, b, acc): 8 FLOPs (4 multiply-adds), fused or not at the engine's choice
 *   i32x4.dot_i16x8_s   acc += dot(x, b) (the int8 kernel's pair of instructions): 8 multiplies and 8 adds = 16 ops
 *   i32x4.relaxed_dot_i8x16_i7x16_add_s   acc = dot(x, b, acc), bytes: 16 multiplies and 16 adds = 32 ops (not used
 *                       by the kernels yet: it needs one operand in [0, 127]; where an engine lowers it to a single
 *                       VNNI instruction it is the int8 ceiling to aim at)
 *
 * Every accumulator is loop-carried and the function returns their sum, so nothing can be dropped; b comes in as an
 * argument, so nothing folds (see peakModule for the exact recurrence and why it cannot be merged or hoisted).
 * Each kind is swept over two layouts and 8…24 chains, and the best is its ceiling (more chains hide more latency;
 * past the 15 vector registers V8 allocates on x86 some values live on the engine's stack, and the sweep shows
 * whether that still pays). The best configuration is run again with twice the iterations and the time must double
 * (checked and printed): the loop ran as written. Times are CPU time, best of interleaved bursts, like the kernel
 * table's.
 *
 *   node dist/bench/simdPeak.js      (npm run bench prints it with the kernels)
 */
import v8 from "node:v8";
import { Code, F32, I32, ModuleBuilder, Op, Simd, V128 } from "../src/kernels/wasm/emit.js";

export type PeakKind = "mul+add" | "relaxed_madd" | "dot_i16x8" | "relaxed_dot_i8";
export type Layout = "ring" | "feeder";

export interface PeakResult {
  readonly kind: PeakKind;
  /** GFLOP/s (GOP/s for the integer dot), one thread, CPU time. */
  readonly gflops: number;
  /** Layout and chain count that reached it. */
  readonly layout: Layout;
  readonly chains: number;
  /** Time of 2n iterations over time of n at that chain count (2 when the loop really runs n times). */
  readonly scaling: number;
  /** GFLOP/s per layout and chain count tried ("ring 12" → …). */
  readonly sweep: ReadonlyMap<string, number>;
}

const OPS_PER_STEP: Record<PeakKind, number> = { "mul+add": 8, relaxed_madd: 8, dot_i16x8: 16, relaxed_dot_i8: 32 };
/** Chain steps per loop iteration per chain: keeps the loop's own counter and branch a small share. */
const UNROLL = 4;
const CHAIN_COUNTS = [8, 12, 16, 20, 24];
const B = 2 ** -30;
/** The feeder layout's f32x4 multiply, once per step. */
const FEEDER_OPS = 4;

/**
 * run(iterations, b, one, x0) → the chains' sum (lane 0); UNROLL steps per iteration. One step updates every
 * chain, from the last to the first, each from its neighbour's value, in one of two layouts:
 *   "ring"    acc[k] += acc[k−1] · b, acc[−1] being acc[chains−1]: every operation is a counted one, but the
 *             ring's latency (a multiply and an add per link) is paid about once per step, so it takes many
 *             chains (more than the registers hold on some engines) to hide;
 *   "feeder"  acc[k] += acc[k−1] · b for k ≥ 1, acc[0] += m · b and m = m · one: one add's (or multiply-add's)
 *             latency per step whatever the chain count, for one extra multiply a step (counted: 4 FLOPs).
 * As in a matrix kernel the multiply is off each accumulator's own loop-carried chain (only the add, or the fused
 * multiply-add, is on it). No two chains compute the same value, so nothing can be merged or hoisted. With
 * b = 2⁻³⁰ every product is below half an ulp of the accumulator it is added to, and one = 1, so all values keep
 * their start (x0 + k + 1, m = x0): never subnormal, never infinite, however long it runs — and the engine cannot
 * know that, since b and one are arguments. How V8 allocates registers to many loop-carried vectors differs
 * between versions (one layout collapses past 12 chains on one version, the other on another): the sweep over
 * both is what finds the ceiling.
 */
function peakModule(kind: PeakKind, layout: Layout, chains: number): Uint8Array<ArrayBuffer> {
  const mb = new ModuleBuilder();
  const c = new Code([I32, F32, F32, F32], [F32]);
  const [n, b, one, x0] = [0, 1, 2, 3];
  const i = c.local(I32);
  const vb = c.local(V128);
  const vone = c.local(V128);
  const m = c.local(V128);
  const acc = Array.from({ length: chains }, () => c.local(V128));
  c.get(b).simd(Simd.f32x4Splat).set(vb);
  c.get(one).simd(Simd.f32x4Splat).set(vone);
  c.get(x0).simd(Simd.f32x4Splat).set(m);
  acc.forEach((a, k) => c.get(x0).f32(k + 1).op(Op.f32Add).simd(Simd.f32x4Splat).set(a));
  c.for(i, 0, { local: n }, 1, () => {
    for (let u = 0; u < UNROLL; u++) {
      for (let k = chains - 1; k >= 0; k--) {
        const a = acc[k];
        const src = k > 0 ? acc[k - 1] : layout === "ring" ? acc[chains - 1] : m;
        // The dot reads the float bits as i16x8 lanes; integer ops wrap, without traps.
        if (kind === "mul+add") c.get(a).get(src).get(vb).simd(Simd.f32x4Mul).simd(Simd.f32x4Add).set(a);
        else if (kind === "relaxed_madd") c.get(src).get(vb).get(a).simd(Simd.f32x4RelaxedMadd).set(a);
        else if (kind === "dot_i16x8") c.get(a).get(src).get(vb).simd(Simd.i32x4DotI16x8S).simd(Simd.i32x4Add).set(a);
        else c.get(src).get(vb).get(a).simd(Simd.i32x4RelaxedDotI8x16I7x16AddS).set(a);
      }
      if (layout === "feeder") c.get(m).get(vone).simd(Simd.f32x4Mul).set(m);
    }
  });
  const sum = kind === "dot_i16x8" || kind === "relaxed_dot_i8" ? Simd.i32x4Add : Simd.f32x4Add;
  c.get(acc[0]);
  for (const a of acc.slice(1)) c.get(a).simd(sum);
  c.simd(Simd.f32x4ExtractLane).op(0);
  mb.func(c, "run");
  return mb.toBytes();
}

type Run = (n: number, b: number, one: number, x0: number) => number;

function instantiate(kind: PeakKind, layout: Layout, chains: number): Run | null {
  const bytes = peakModule(kind, layout, chains);
  if (!WebAssembly.validate(bytes)) return null;
  return (new WebAssembly.Instance(new WebAssembly.Module(bytes)).exports as { run: Run }).run;
}

const cpuMs = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};

/** Keeps every result alive (printed by the standalone run), so no call is dead code either. */
let sink = 0;

/** Iterations that take about `ms` of CPU time. */
function calibrate(run: Run, ms: number): number {
  let n = 1000;
  for (;;) {
    const t0 = cpuMs();
    sink += run(n, B, 1, 1);
    const t = cpuMs() - t0;
    if (t > ms / 4 || n > 1e9) return Math.max(1000, Math.round((n * ms) / Math.max(t, 0.01)));
    n *= 4;
  }
}

function bestOf(run: Run, n: number, reps: number): number {
  let best = Infinity;
  for (let r = 0; r < reps; r++) {
    const t0 = cpuMs();
    sink += run(n, B, 1, 1);
    best = Math.min(best, cpuMs() - t0);
  }
  return best;
}

/** Measure the ceiling of each kind this runtime can compile (relaxed SIMD may be missing: then null). */
export function simdPeak(opts: { burstMs?: number; rounds?: number } = {}): Record<PeakKind, PeakResult | null> {
  const burstMs = opts.burstMs ?? 25;
  const rounds = opts.rounds ?? 4;
  const kinds: PeakKind[] = ["mul+add", "relaxed_madd", "dot_i16x8", "relaxed_dot_i8"];
  const runs: { kind: PeakKind; layout: Layout; chains: number; run: Run; n: number; best: number }[] = [];
  // Straight to the optimizing compiler: V8 first runs new WebAssembly code on its baseline compiler (Liftoff,
  // which spills many-register loops) and swaps in optimized code later, on a background thread that a busy
  // machine may delay past the measurement. The flag is put back at once (the kernels are compiled already).
  v8.setFlagsFromString("--no-liftoff");
  try {
    for (const kind of kinds) {
      for (const layout of ["ring", "feeder"] as const) {
        for (const chains of CHAIN_COUNTS) {
          const run = instantiate(kind, layout, chains);
          if (run) runs.push({ kind, layout, chains, run, n: 0, best: Infinity });
        }
      }
    }
  } finally {
    v8.setFlagsFromString("--liftoff");
  }
  for (const x of runs) x.n = calibrate(x.run, burstMs);
  // Interleaved: every configuration once per round, so a busy moment hits them all alike.
  for (let r = 0; r < rounds; r++) for (const x of runs) x.best = Math.min(x.best, bestOf(x.run, x.n, 2));
  const out = {} as Record<PeakKind, PeakResult | null>;
  for (const kind of kinds) {
    const mine = runs.filter((x) => x.kind === kind);
    if (mine.length === 0) {
      out[kind] = null;
      continue;
    }
    const rate = (x: (typeof mine)[number]) => (x.n * UNROLL * (x.chains * OPS_PER_STEP[kind] + (x.layout === "feeder" ? FEEDER_OPS : 0))) / x.best / 1e6;
    const top = mine.reduce((a, x) => (rate(x) > rate(a) ? x : a));
    const scaling = bestOf(top.run, 2 * top.n, rounds) / top.best;
    out[kind] = { kind, gflops: rate(top), layout: top.layout, chains: top.chains, scaling, sweep: new Map(mine.map((x) => [`${x.layout} ${x.chains}`, rate(x)])) };
  }
  return out;
}

/** One line per kind, for the bench's output. */
export function describePeak(peak: Record<PeakKind, PeakResult | null>): string[] {
  return Object.entries(peak).map(([kind, p]) => {
    if (!p) return `  ${kind.padEnd(14)} not available in this runtime`;
    const ok = p.scaling > 1.7 && p.scaling < 2.3;
    const sweep = (layout: Layout) => [...p.sweep].filter(([k]) => k.startsWith(layout)).map(([k, g]) => `${k.split(" ")[1]}:${g.toFixed(0)}`).join(" ");
    return `  ${kind.padEnd(14)} ${p.gflops.toFixed(1).padStart(6)} ${kind.includes("dot") ? "GOP/s  " : "GFLOP/s"} (${p.layout}, ${p.chains} chains; 2n/n time ${p.scaling.toFixed(2)}${ok ? "" : " — NOT 2: the loop did not run as written, distrust this line"}; by chains: ring ${sweep("ring")}, feeder ${sweep("feeder")})`;
  });
}

// Run directly (not when bundled into bench/encoder.ts's output, where import.meta.url is that file's).
if (/simdPeak\.[jt]s$/.test(process.argv[1] ?? "")) {
  // Node 20 has relaxed SIMD behind a flag (on by default from Node 22, which no longer knows the flag).
  if (process.versions.node.startsWith("20.")) v8.setFlagsFromString("--experimental-wasm-relaxed-simd");
  console.log(`node ${process.version}: WebAssembly SIMD ceiling, one thread, accumulator chains with no loads or stores (CPU time, best of interleaved bursts)`);
  for (const line of describePeak(simdPeak())) console.log(line);
  console.log(`(checksum ${sink.toPrecision(6)})`);
}

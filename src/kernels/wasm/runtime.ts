/**
 * The WebAssembly runtime: one memory for weights and activations (shared whenever the host allows it, so worker
 * threads can run the same module on it), the kernel module compiled for plain SIMD and — where the engine has it
 * and a probe proves it computes a·b + c — relaxed SIMD, and a bump allocator.
 *
 * Memory is never freed (weights live as long as the process; scratch regions are reused and only grow), which
 * suits the one-model-per-process use; loading many models in one process grows it.
 */
import { buildKernelModule, PLAIN_SHAPE, RELAXED_SHAPE, RELAXED_TALL_SHAPE, type KernelShape } from "./kernels.js";
import { envVar } from "../../hub/env.js";
import { Code, F32, I32, ModuleBuilder, Simd, V128 } from "./emit.js";

export interface KernelExports {
  linear(x: number, ldx: number, rows: number, K: number, w: number, bias: number, y: number, ldy: number, N: number, t0: number, t1: number): void;
  packRows(src: number, lds: number, rows: number, cols: number, dst: number): void;
  packCols(src: number, lds: number, rows: number, cols: number, dst: number): void;
  scoreRows(scores: number, lds: number, L: number, c2p: number, p2c: number, ldc: number, relIdx: number, invScale: number, flags: number, relOut: number, mask: number): void;
  attention(params: number, u0: number, u1: number, scratch: number): void;
  gelu(y: number, ldy: number, rows: number, n0: number, n1: number): void;
  addNorm(a: number, b: number, rows: number, dim: number, gamma: number, beta: number, eps: number, r0: number, r1: number): void;
  quantRows(x: number, ldx: number, rows: number, K: number, Kp: number, q: number, sx: number): void;
  linearI8(q: number, sx: number, rows: number, Kp: number, w: number, scales: number, bias: number, y: number, ldy: number, N: number, t0: number, t1: number): void;
  transposed(a: number, lda: number, rows: number, Nw: number, w: number, panelBytes: number, u: number, ldu: number, c0: number, c1: number, f32: number, scratch: number): void;
  quantW8(src: number, rows: number, cols: number, q: number, scales: number): void;
  firstNonFinite(ptr: number, n: number): number;
  spanFill(start: number, end: number, W: number, K: number, inner: number, s0: number, s1: number, out: number): void;
}

export interface KernelVariant {
  readonly shape: KernelShape;
  /** Tile width in output features. */
  readonly tileWidth: number;
  readonly module: WebAssembly.Module;
  readonly exports: KernelExports;
}

export interface WasmRuntime {
  readonly memory: WebAssembly.Memory;
  readonly shared: boolean;
  readonly plain: KernelVariant;
  /** Null where relaxed SIMD is missing or failed the probe. */
  readonly relaxed: KernelVariant | null;
  /** Whether relaxed multiply-add is fused (one rounding) on this engine. */
  readonly fused: boolean;
  /**
   * int8 layers use relaxed SIMD's byte dot product (weights packed in 4-k quads, see ./int8Kernels.ts) instead
   * of i16 pairs: where the engine has it, computes it exactly, and lowers it to one instruction (V8 ≥ 13.6).
   * Either way the sums are the same exact integers.
   */
  readonly int8Quads: boolean;
  /** Milliseconds spent emitting and compiling. */
  readonly compileMs: number;
}

const PAGE = 65536;
const INITIAL_PAGES = 64;
const MAX_PAGES = 65536; // 4 GiB, wasm32's limit
/** First bytes left unused (address 0 stands for "none"). */
const RESERVED = 1024;

let runtime: WasmRuntime | null | undefined;
let top = RESERVED;
/**
 * `memory.buffer`, fetched once per size: on a shared memory every read of the getter makes a new
 * SharedArrayBuffer object, and making one per kernel call grew the process's resident memory steadily.
 */
let buffer: ArrayBufferLike | null = null;

function currentBuffer(): ArrayBufferLike {
  return (buffer ??= wasmRuntime()!.memory.buffer);
}

/** A tiny module using f32x4 ops: validates only where WebAssembly SIMD exists. */
function simdProbe(): Uint8Array<ArrayBuffer> {
  const mb = new ModuleBuilder();
  const c = new Code([F32], [F32]);
  c.get(0).simd(Simd.f32x4Splat).get(0).simd(Simd.f32x4Splat).simd(Simd.f32x4Mul).simd(Simd.f32x4ExtractLane).op(0);
  mb.func(c, "f");
  return mb.toBytes();
}

/** relaxed_madd(a, b, c) on lane 0. */
function relaxedProbe(): Uint8Array<ArrayBuffer> {
  const mb = new ModuleBuilder();
  const c = new Code([F32, F32, F32], [F32]);
  const v = c.local(V128);
  c.get(0).simd(Simd.f32x4Splat).get(1).simd(Simd.f32x4Splat).get(2).simd(Simd.f32x4Splat).simd(Simd.f32x4RelaxedMadd).set(v);
  c.get(v).simd(Simd.f32x4ExtractLane).op(0);
  mb.func(c, "madd");
  return mb.toBytes();
}

function probeRelaxed(): { ok: boolean; fused: boolean } {
  try {
    const bytes = relaxedProbe();
    if (!WebAssembly.validate(bytes)) return { ok: false, fused: false };
    const madd = new WebAssembly.Instance(new WebAssembly.Module(bytes)).exports.madd as (a: number, b: number, c: number) => number;
    // Exact cases must come out exact, fused or not.
    if (madd(1.5, 2, 0.25) !== 3.25 || madd(-3, 0.5, 1) !== -0.5 || madd(0, 7, -2) !== -2) return { ok: false, fused: false };
    // (1 + 2⁻²³)² − (1 + 2⁻²²) is 2⁻⁴⁶ with one rounding, 0 with two.
    const a = 1 + 2 ** -23;
    const r = madd(a, a, -(1 + 2 ** -22));
    if (r !== 0 && r !== 2 ** -46) return { ok: false, fused: false };
    return { ok: true, fused: r !== 0 };
  } catch {
    return { ok: false, fused: false };
  }
}

/** Whether this host can share memory with workers (SharedArrayBuffer, cross-origin isolated in browsers). */
function canShare(): boolean {
  if (typeof SharedArrayBuffer === "undefined") return false;
  const g = globalThis as { crossOriginIsolated?: boolean };
  return g.crossOriginIsolated !== false;
}

/**
 * relaxed_dot_i8x16_i7x16_add_s on lane 0 of (a, b, c) splats: a as i8, b in [0, 127]. Where it validates, it
 * must give the exact sum (Node 20's gave twice it).
 */
function dotProbe(): Uint8Array<ArrayBuffer> {
  const mb = new ModuleBuilder();
  const c = new Code([I32, I32, I32], [I32]);
  c.get(0).simd(Simd.i32x4Splat).get(1).simd(Simd.i32x4Splat).get(2).simd(Simd.i32x4Splat).simd(Simd.i32x4RelaxedDotI8x16I7x16AddS);
  c.simd(Simd.i32x4ExtractLane).op(0);
  mb.func(c, "dot");
  return mb.toBytes();
}

/** Bytes of a 32-bit word, little-endian, as an i32. */
const word = (b: number[]) => (b[0] & 255) | ((b[1] & 255) << 8) | ((b[2] & 255) << 16) | ((b[3] & 255) << 24);

/**
 * Use the quads int8 kernel? `$GLINER2_INT8_KERNEL` = "pairs" | "quads" decides (quads only where it works);
 * otherwise where the instruction is exact and the engine is V8 13.6 or later (Node 24, Deno 2, Chromium 136+):
 * measured on an AVX-512 VNNI CPU, Node 24 (V8 13.6) runs it at 241 GOP/s against 85–88 for the i16 dot, while
 * Node 20 and 22 (V8 11.3, 12.4) emulate it at 64, slower than the pairs kernel (bench/simdPeak.ts). Versions in
 * between were not measured, so they keep the pairs kernel. The whole kernel, 128 rows, a model's worth of
 * weights: Node 24 63–68 GOP/s against 55–61, Deno 2.9 (V8 15.0) 69–71 against 50–52.
 */
function chooseInt8Quads(): boolean {
  // Guarded: Deno without --allow-env throws on reading the environment (no override then).
  const forced = envVar("GLINER2_INT8_KERNEL");
  if (forced !== undefined && forced !== "pairs" && forced !== "quads") {
    // A typo must not pass for a choice; the kernels still start (throwing here would read as "no SIMD").
    console.warn(`gliner2: $GLINER2_INT8_KERNEL is ${JSON.stringify(forced.slice(0, 64))}, not "pairs" or "quads": ignored, the int8 kernel is chosen as if it were unset`);
  }
  if (forced === "pairs") return false;
  try {
    const bytes = dotProbe();
    if (!WebAssembly.validate(bytes)) return false;
    const dot = new WebAssembly.Instance(new WebAssembly.Module(bytes)).exports.dot as (a: number, b: number, c: number) => number;
    // (−128)·127 + 127·127 + (−1)·1 + 5·0 + 1000, and 127·127·4 − 7
    if (dot(word([-128, 127, -1, 5]), word([127, 127, 1, 0]), 1000) !== 1000 - 16256 + 16129 - 1) return false;
    if (dot(word([127, 127, 127, 127]), word([127, 127, 127, 127]), -7) !== 4 * 16129 - 7) return false;
  } catch {
    return false;
  }
  if (forced === "quads") return true;
  // (Bun reports a V8 version but runs JavaScriptCore, which emulates the instruction: 28 GOP/s against 65 for
  // the pairs kernel, measured with Bun 1.4.)
  return isV8From13_6();
}

/** Is the engine V8 13.6 or later (Node 24+, Deno 2, Chromium 136+)? Bun, which reports a V8 version, is not. */
function isV8From13_6(): boolean {
  const g = globalThis as { process?: { versions?: { v8?: string; bun?: string } }; navigator?: { userAgent?: string } };
  const env = g.process;
  if (env?.versions?.bun !== undefined) return false;
  const v8 = /^(\d+)\.(\d+)\./.exec(env?.versions?.v8 ?? "");
  if (v8) return Number(v8[1]) * 100 + Number(v8[2]) >= 1306;
  // Browsers: Chromium's major version (136 shipped V8 13.6)
  const chrome = /Chrom(?:e|ium)\/(\d+)/.exec(g.navigator?.userAgent ?? "");
  return chrome !== null && Number(chrome[1]) >= 136;
}

/**
 * The relaxed (FMA) linear kernel's tile. V8 13.6+ keeps a 6 × 8 tile (12 accumulators) in registers and runs
 * it 5–7 % faster than 2 × 16 at 100–256 rows, 3.5 % at 64 (Node 24; Chromium 150: 7 % / 4 %; Deno 2.9 on V8
 * 15.0: 2–3 %); Node 20 and 22 (V8 11.3, 12.4) spill it and run it 25–35 % slower. 128 × 768 × 3072, one thread,
 * GFLOP/s, Node 24: 2 × 16 50, 6 × 8 53.5–54. The plain kernel gains nothing from it anywhere, and the tile does
 * not change the sums.
 */
function relaxedShape(): KernelShape {
  return isV8From13_6() ? RELAXED_TALL_SHAPE : RELAXED_SHAPE;
}

function instantiate(shape: KernelShape, memory: WebAssembly.Memory, shared: boolean, int8Quads: boolean): KernelVariant {
  const bytes = buildKernelModule(shape, { min: INITIAL_PAGES, max: MAX_PAGES, shared }, int8Quads);
  const module = new WebAssembly.Module(bytes);
  const instance = new WebAssembly.Instance(module, { env: { memory } });
  return { shape, tileWidth: 4 * shape.vecs, module, exports: instance.exports as unknown as KernelExports };
}

/** The runtime, created on first use; null where WebAssembly SIMD is unavailable. */
export function wasmRuntime(): WasmRuntime | null {
  if (runtime !== undefined) return runtime;
  runtime = null;
  try {
    if (typeof WebAssembly === "undefined" || !WebAssembly.validate(simdProbe())) return null;
    const t0 = performance.now();
    const shared = canShare();
    let memory: WebAssembly.Memory;
    try {
      memory = new WebAssembly.Memory({ initial: INITIAL_PAGES, maximum: MAX_PAGES, shared } as WebAssembly.MemoryDescriptor);
    } catch {
      return null;
    }
    const int8Quads = chooseInt8Quads();
    const plain = instantiate(PLAIN_SHAPE, memory, shared, int8Quads);
    const probe = probeRelaxed();
    const relaxed = probe.ok ? instantiate(relaxedShape(), memory, shared, int8Quads) : null;
    runtime = { memory, shared, plain, relaxed, fused: probe.fused, int8Quads, compileMs: performance.now() - t0 };
  } catch {
    runtime = null;
  }
  return runtime;
}

/** Reserve `bytes` (64-byte aligned) for the life of the process, growing the memory as needed. */
export function wasmAlloc(bytes: number): number {
  const rt = wasmRuntime();
  if (!rt) throw new Error("WebAssembly SIMD is not available");
  const at = (top + 63) & ~63;
  const end = at + Math.max(bytes, 0);
  if (end > MAX_PAGES * PAGE) throw new RangeError(`WebAssembly memory would exceed 4 GiB (asked for ${bytes} bytes more)`);
  const have = rt.memory.buffer.byteLength;
  if (end > have) {
    rt.memory.grow(Math.ceil((end - have) / PAGE));
    buffer = null;
  }
  top = end;
  return at;
}

/** A Float32Array view of [ptr, ptr + 4n) — fetch again after any allocation (growth replaces the buffer). */
export function f32View(ptr: number, n: number): Float32Array {
  return new Float32Array(currentBuffer(), ptr, n);
}

export function i32View(ptr: number, n: number): Int32Array {
  return new Int32Array(currentBuffer(), ptr, n);
}

export function i8View(ptr: number, n: number): Int8Array {
  return new Int8Array(currentBuffer(), ptr, n);
}

export function u8View(ptr: number, n: number): Uint8Array {
  return new Uint8Array(currentBuffer(), ptr, n);
}

export function i16View(ptr: number, n: number): Int16Array {
  return new Int16Array(currentBuffer(), ptr, n);
}

/** A reusable region that only grows: `get(bytes)` returns its address (valid until the next larger request). */
export class Region {
  private ptr = 0;
  private size = 0;
  get(bytes: number): number {
    if (bytes > this.size) {
      this.size = Math.max(bytes, Math.ceil(this.size * 1.5));
      this.ptr = wasmAlloc(this.size);
    }
    return this.ptr;
  }
}

/**
 * The WebAssembly runtime: one memory for weights and activations (shared whenever the host allows it, so worker
 * threads can run the same module on it), the kernel module compiled for plain SIMD and — where the engine has it
 * and a probe proves it computes a·b + c — relaxed SIMD, and a bump allocator.
 *
 * Memory is never freed (weights live as long as the process; scratch regions are reused and only grow), which
 * suits the one-model-per-process use; loading many models in one process grows it.
 */
import { buildKernelModule, PLAIN_SHAPE, RELAXED_SHAPE, type KernelShape } from "./kernels.js";
import { Code, F32, ModuleBuilder, Simd, V128 } from "./emit.js";

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
  firstNonFinite(ptr: number, n: number): number;
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

function instantiate(shape: KernelShape, memory: WebAssembly.Memory, shared: boolean): KernelVariant {
  const bytes = buildKernelModule(shape, { min: INITIAL_PAGES, max: MAX_PAGES, shared });
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
    const plain = instantiate(PLAIN_SHAPE, memory, shared);
    const probe = probeRelaxed();
    const relaxed = probe.ok ? instantiate(RELAXED_SHAPE, memory, shared) : null;
    runtime = { memory, shared, plain, relaxed, fused: probe.fused, compileMs: performance.now() - t0 };
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

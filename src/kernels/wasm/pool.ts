/**
 * Worker threads over the shared WebAssembly memory: each worker instantiates the same kernel modules on the same
 * memory and waits on a control block; a task (a linear layer's output tiles, attention's (batch, head) units,
 * layer-norm rows) is handed out in chunks through an atomic counter, so a thread that runs slower (a busy core,
 * a browser's main thread) simply takes fewer; the calling thread works too and returns when all are done.
 * Every output element is computed by the same code whatever the split, so results do not depend on it.
 *
 * Node, Deno and Bun use worker_threads; browsers use Web Workers, and only when cross-origin isolated (shared
 * memory); a browser main thread may not block, so it spins while it waits.
 */
import { wasmRuntime, type KernelVariant } from "./runtime.js";

const GEN = 0;
const PENDING = 1;
const STOP = 2;
const OP = 3;
const FAILED = 4;
/** Next unit of work to hand out (tiles, (text, head) units, rows): threads take chunks as they get free. */
const NEXT = 5;
const ARGS = 8;
/** One float64 argument, after the 16 integer ones. */
const F64_SLOT = ARGS + 16;
const WORDS = 32;

const OP_LINEAR = 1;
const OP_ATTENTION = 2;
const OP_ADDNORM = 3;
const OP_LINEAR_I8 = 4;
const OP_TRANSPOSED = 5;
const TASK_TIMEOUT_MS = 120_000;

interface Pool {
  threads: number;
  control: Int32Array;
  terminate: (() => void)[];
  canBlock: boolean;
  failure: string | null;
}

let pool: Pool | null = null;

export function wasmPoolThreads(): number {
  return pool?.threads ?? 1;
}

/** The worker program (plain JS; runs in a worker_thread or a Web Worker). */
const WORKER_SOURCE = `
function run(data, ready) {
  const { control, memory, modules, index, threads } = data;
  const ex = modules.map((m) => new WebAssembly.Instance(m, { env: { memory } }).exports);
  const f64 = new Float64Array(control.buffer, ${F64_SLOT * 4}, 1);
  ready();
  let seen = 0;
  for (;;) {
    Atomics.wait(control, ${GEN}, seen);
    seen = Atomics.load(control, ${GEN});
    if (Atomics.load(control, ${STOP})) break;
    const a = (i) => control[${ARGS} + i];
    try {
      const e = ex[a(0)];
      const op = control[${OP}];
      const CH = a(15);
      if (op === ${OP_LINEAR}) {
        const T = a(10);
        for (let t0 = Atomics.add(control, ${NEXT}, CH); t0 < T; t0 = Atomics.add(control, ${NEXT}, CH)) {
          const t1 = Math.min(t0 + CH, T);
          e.linear(a(1), a(2), a(3), a(4), a(5), a(6), a(7), a(8), a(9), t0, t1);
          if (a(11)) e.gelu(a(7), a(8), a(3), t0 * a(12), Math.min(t1 * a(12), a(9)));
        }
      } else if (op === ${OP_ATTENTION}) {
        const U = a(2);
        for (let u = Atomics.add(control, ${NEXT}, 1); u < U; u = Atomics.add(control, ${NEXT}, 1)) e.attention(a(1), u, u + 1, a(3) + index * a(4));
      } else if (op === ${OP_LINEAR_I8}) {
        const T = a(11);
        for (let t0 = Atomics.add(control, ${NEXT}, CH); t0 < T; t0 = Atomics.add(control, ${NEXT}, CH)) {
          const t1 = Math.min(t0 + CH, T);
          e.linearI8(a(1), a(2), a(3), a(4), a(5), a(6), a(7), a(8), a(9), a(10), t0, t1);
          if (a(12)) e.gelu(a(8), a(9), a(3), t0 * 16, Math.min(t1 * 16, a(10)));
        }
      } else if (op === ${OP_TRANSPOSED}) {
        const C = a(9);
        for (let c0 = Atomics.add(control, ${NEXT}, CH); c0 < C; c0 = Atomics.add(control, ${NEXT}, CH)) e.transposed(a(1), a(2), a(3), a(4), a(5), a(6), a(7), a(8), c0, Math.min(c0 + CH, C), a(10), a(11) + index * a(12));
      } else if (op === ${OP_ADDNORM}) {
        const R = a(3);
        for (let r0 = Atomics.add(control, ${NEXT}, CH); r0 < R; r0 = Atomics.add(control, ${NEXT}, CH)) e.addNorm(a(1), a(2), R, a(4), a(5), a(6), f64[0], r0, Math.min(r0 + CH, R));
      }
    } catch (err) {
      Atomics.store(control, ${FAILED}, 1);
    }
    Atomics.sub(control, ${PENDING}, 1);
    Atomics.notify(control, ${PENDING});
  }
}
if (typeof require === "function") {
  const { workerData, parentPort } = require("worker_threads");
  run(workerData, () => parentPort.postMessage("ready"));
} else {
  self.onmessage = (e) => run(e.data, () => self.postMessage("ready"));
}
`;

/** Start `threads − 1` workers over the shared memory. Throws where memory cannot be shared. */
export async function startWasmPool(threads: number): Promise<void> {
  stopWasmPool();
  if (threads <= 1) return;
  const rt = wasmRuntime();
  if (!rt) throw new Error("threads on the wasm backend need WebAssembly SIMD");
  // Without shared memory (a browser page that is not cross-origin isolated) the kernels run on one thread.
  if (!rt.shared) return;
  const control = new Int32Array(new SharedArrayBuffer(WORDS * 4));
  const modules = [rt.plain.module, ...(rt.relaxed ? [rt.relaxed.module] : [])];
  const terminate: (() => void)[] = [];
  const started: Promise<void>[] = [];
  const isNodeLike = typeof process !== "undefined" && typeof process.versions === "object" && process.versions !== null && "node" in process.versions;
  const p: Pool = { threads, control, terminate, canBlock: isNodeLike, failure: null };
  if (isNodeLike) {
    const wt = await import("node:worker_threads");
    for (let index = 1; index < threads; index++) {
      const worker = new wt.Worker(WORKER_SOURCE, { eval: true, workerData: { control, memory: rt.memory, modules, index, threads } });
      started.push(
        new Promise((resolve, reject) => {
          worker.once("message", () => {
            worker.unref(); // ready: an idle pool never keeps the process alive (but the start must)
            resolve();
          });
          worker.once("error", reject);
        }),
      );
      worker.on("error", (e: Error) => (p.failure = e.message));
      terminate.push(() => void worker.terminate());
    }
  } else {
    const url = URL.createObjectURL(new Blob([WORKER_SOURCE], { type: "text/javascript" }));
    for (let index = 1; index < threads; index++) {
      const worker = new Worker(url);
      started.push(
        new Promise((resolve, reject) => {
          worker.onmessage = () => resolve();
          worker.onerror = (e) => reject(new Error(e.message));
        }),
      );
      worker.postMessage({ control, memory: rt.memory, modules, index, threads });
      terminate.push(() => worker.terminate());
    }
  }
  try {
    await Promise.all(started);
  } catch (e) {
    for (const t of terminate) t();
    throw e;
  }
  pool = p;
}

export function stopWasmPool(): void {
  if (!pool) return;
  const p = pool;
  pool = null;
  Atomics.store(p.control, STOP, 1);
  Atomics.add(p.control, GEN, 1);
  Atomics.notify(p.control, GEN);
  for (const t of p.terminate) t();
}

function variantIndex(v: KernelVariant): number {
  return v === wasmRuntime()!.plain ? 0 : 1;
}

/** Start `op` on the workers with `args` (chunk size in slot 15), run `own` here, wait for the workers. */
function dispatch(op: number, args: number[], chunk: number, own: (grab: (n: number) => number) => void): void {
  const p = pool!;
  const c = p.control;
  for (let i = 0; i < args.length; i++) c[ARGS + i] = args[i];
  c[ARGS + 15] = chunk;
  Atomics.store(c, NEXT, 0);
  Atomics.store(c, OP, op);
  Atomics.store(c, PENDING, p.threads - 1);
  Atomics.add(c, GEN, 1);
  Atomics.notify(c, GEN);
  own((n) => Atomics.add(c, NEXT, n));
  const deadline = Date.now() + TASK_TIMEOUT_MS;
  for (let left = Atomics.load(c, PENDING); left !== 0; left = Atomics.load(c, PENDING)) {
    if (p.failure || Date.now() > deadline) {
      const why = p.failure ? `a worker thread failed (${p.failure})` : `${left} worker thread(s) did not finish within ${TASK_TIMEOUT_MS / 1000} s`;
      stopWasmPool();
      throw new Error(`wasm kernels: ${why}; threads stopped`);
    }
    if (p.canBlock) Atomics.wait(c, PENDING, left, 1000);
  }
  if (Atomics.load(c, FAILED)) {
    stopWasmPool();
    throw new Error("wasm kernels: a worker thread's kernel trapped; threads stopped");
  }
}

/**
 * Run linear tiles [0, tiles) over all threads (or alone where no pool runs); with `gelu`, each thread then
 * applies GELU to the output columns it wrote.
 */
export function runLinear(v: KernelVariant, x: number, ldx: number, rows: number, K: number, w: number, bias: number, y: number, ldy: number, N: number, tiles: number, gelu = false): void {
  const TW = v.tileWidth;
  if (!pool || tiles < 2 || rows * K * tiles * TW < 1 << 17) {
    v.exports.linear(x, ldx, rows, K, w, bias, y, ldy, N, 0, tiles);
    if (gelu) v.exports.gelu(y, ldy, rows, 0, N);
    return;
  }
  // About 4 chunks per thread: enough to even out, few enough that each call still reuses x across tiles.
  const chunk = Math.max(1, Math.ceil(tiles / (4 * pool.threads)));
  dispatch(OP_LINEAR, [variantIndex(v), x, ldx, rows, K, w, bias, y, ldy, N, tiles, gelu ? 1 : 0, TW], chunk, (grab) => {
    for (let t0 = grab(chunk); t0 < tiles; t0 = grab(chunk)) {
      const t1 = Math.min(t0 + chunk, tiles);
      v.exports.linear(x, ldx, rows, K, w, bias, y, ldy, N, t0, t1);
      if (gelu) v.exports.gelu(y, ldy, rows, t0 * TW, Math.min(t1 * TW, N));
    }
  });
}

/**
 * int8 linear panels [0, panels) of 16 features over all threads (activations already quantized into q/sx by the
 * caller), GELU on each thread's own columns with `gelu`. Same split rule as runLinear; every output is computed
 * by the same code whatever the split.
 */
export function runLinearI8(v: KernelVariant, q: number, sx: number, rows: number, Kp: number, w: number, scales: number, bias: number, y: number, ldy: number, N: number, panels: number, gelu = false): void {
  if (!pool || panels < 2 || rows * Kp * panels * 16 < 1 << 18) {
    v.exports.linearI8(q, sx, rows, Kp, w, scales, bias, y, ldy, N, 0, panels);
    if (gelu) v.exports.gelu(y, ldy, rows, 0, N);
    return;
  }
  const chunk = Math.max(1, Math.ceil(panels / (4 * pool.threads)));
  dispatch(OP_LINEAR_I8, [variantIndex(v), q, sx, rows, Kp, w, scales, bias, y, ldy, N, panels, gelu ? 1 : 0], chunk, (grab) => {
    for (let t0 = grab(chunk); t0 < panels; t0 = grab(chunk)) {
      const t1 = Math.min(t0 + chunk, panels);
      v.exports.linearI8(q, sx, rows, Kp, w, scales, bias, y, ldy, N, t0, t1);
      if (gelu) v.exports.gelu(y, ldy, rows, t0 * 16, Math.min(t1 * 16, N));
    }
  });
}

/**
 * `transposed` over chunks [0, chunks) of 8 inputs split over threads (each u column is one chunk's alone);
 * thread i gathers into scratch + i·scratchStride (this thread: i = 0).
 */
export function runTransposed(v: KernelVariant, a: number, lda: number, rows: number, Nw: number, w: number, panelBytes: number, u: number, ldu: number, chunks: number, f32: boolean, scratch: number, scratchStride: number): void {
  const f = f32 ? 1 : 0;
  if (!pool || chunks < 2 || rows * Nw * chunks * 8 < 1 << 18) {
    v.exports.transposed(a, lda, rows, Nw, w, panelBytes, u, ldu, 0, chunks, f, scratch);
    return;
  }
  const chunk = Math.max(1, Math.ceil(chunks / (4 * pool.threads)));
  dispatch(OP_TRANSPOSED, [variantIndex(v), a, lda, rows, Nw, w, panelBytes, u, ldu, chunks, f, scratch, scratchStride], chunk, (grab) => {
    for (let c0 = grab(chunk); c0 < chunks; c0 = grab(chunk)) v.exports.transposed(a, lda, rows, Nw, w, panelBytes, u, ldu, c0, Math.min(c0 + chunk, chunks), f, scratch);
  });
}

/** a = LayerNorm(a + b) over `rows` rows of `dim` (b = 0: no residual), rows split over threads. */
export function runAddNorm(v: KernelVariant, a: number, b: number, rows: number, dim: number, gamma: number, beta: number, eps: number): void {
  if (!pool || rows < 2 * pool.threads) {
    v.exports.addNorm(a, b, rows, dim, gamma, beta, eps, 0, rows);
    return;
  }
  new Float64Array(pool.control.buffer, F64_SLOT * 4, 1)[0] = eps;
  const chunk = Math.max(1, Math.ceil(rows / (4 * pool.threads)));
  dispatch(OP_ADDNORM, [variantIndex(v), a, b, rows, dim, gamma, beta], chunk, (grab) => {
    for (let r0 = grab(chunk); r0 < rows; r0 = grab(chunk)) v.exports.addNorm(a, b, rows, dim, gamma, beta, eps, r0, Math.min(r0 + chunk, rows));
  });
}

/** Run attention units [0, units) over all threads; thread i uses scratch + i·scratchStride. */
export function runAttention(v: KernelVariant, params: number, units: number, scratch: number, scratchStride: number): void {
  if (!pool || units < 2) {
    v.exports.attention(params, 0, units, scratch);
    return;
  }
  dispatch(OP_ATTENTION, [variantIndex(v), params, units, scratch, scratchStride], 1, (grab) => {
    for (let u = grab(1); u < units; u = grab(1)) v.exports.attention(params, u, u + 1, scratch);
  });
}

/**
 * Threads. On the WebAssembly backend, `startThreads` starts ./wasm/pool.ts (workers over the shared
 * WebAssembly memory, for linear layers and attention). On the "js" backend, this file's pool:
 * multi-threaded `linear()` for Node-compatible runtimes: a pool of worker threads shares the packed weights
 * (SharedArrayBuffer) and splits every linear layer's output panels with the calling thread. The calling
 * thread blocks on Atomics.wait until the workers are done, so the rest of the engine stays synchronous and
 * unchanged. Every output element is computed by the same `linearPanels` code as in one thread, so results are
 * bit-identical whatever the thread count.
 *
 * Weights must be packed AFTER `startThreads()` (the allocator then puts them in shared memory); layers packed
 * before run single-threaded. Browsers' main threads may not block, so this backend is for Node, Deno and Bun.
 */
import { activeVariant } from "./backend.js";
import { linearPanels, PANEL, setLinearBackend, setPackedAllocator, type PackedLinear } from "./matmul.js";
import { startWasmPool, stopWasmPool, wasmPoolThreads } from "./wasm/pool.js";

// Control words in the shared Int32Array.
const GEN = 0; // task generation, bumped by the caller for every task
const PENDING = 1; // workers still computing the current task
const LAYER = 2;
const ROWS = 3;
const STOP = 4;
const CONTROL_WORDS = 8;
/** A worker that does not finish a task in this long is considered dead (ms). */
const TASK_TIMEOUT_MS = 120_000;

interface Pool {
  threads: number;
  workers: { terminate(): Promise<number>; port: { postMessage(m: unknown): void } }[];
  control: Int32Array;
  input: Float32Array;
  output: Float32Array;
  layerIds: WeakMap<Float32Array, number>;
  nextLayerId: number;
  /** Set (between tasks, by the event loop) when a worker died: later tasks fail at once instead of timing out. */
  failure: Error | null;
}

let pool: Pool | null = null;

/** Threads currently used by the kernels (1 when no pool runs). */
export function threadCount(): number {
  return pool?.threads ?? wasmPoolThreads();
}

function sharedFloats(n: number): Float32Array {
  return new Float32Array(new SharedArrayBuffer(Math.max(1, n) * 4));
}

/** Source of the worker: waits for tasks, runs its share of output panels, reports back. */
function workerSource(): string {
  return `
const { workerData, receiveMessageOnPort } = require("worker_threads");
const linearPanels = ${linearPanels.toString()};
const { control, port, index, threads } = workerData;
const layers = new Map();
let input = null, output = null, seen = 0;
function drain() {
  for (let m = receiveMessageOnPort(port); m; m = receiveMessageOnPort(port)) {
    const msg = m.message;
    if (msg.type === "layer") layers.set(msg.id, msg);
    else if (msg.type === "io") { input = msg.input; output = msg.output; }
  }
}
for (;;) {
  Atomics.wait(control, ${GEN}, seen);
  seen = Atomics.load(control, ${GEN});
  if (Atomics.load(control, ${STOP})) break;
  drain();
  const id = Atomics.load(control, ${LAYER});
  while (!layers.has(id)) { Atomics.wait(control, ${STOP}, 0, 1); drain(); }
  const layer = layers.get(id);
  const rows = Atomics.load(control, ${ROWS});
  const panels = Math.ceil(layer.N / ${PANEL});
  const p0 = Math.floor((panels * index) / threads), p1 = Math.floor((panels * (index + 1)) / threads);
  linearPanels(input, rows, layer.K, layer.N, layer.packed, layer.bias, output, p0, p1);
  Atomics.sub(control, ${PENDING}, 1);
  Atomics.notify(control, ${PENDING});
}
`;
}

/**
 * Start `threads − 1` workers (the caller is the last thread) and route linear() through them. Resolves when
 * the workers are running. Throws where worker_threads or SharedArrayBuffer are unavailable.
 */
export async function startThreads(threads: number): Promise<void> {
  if (!Number.isInteger(threads) || threads < 1) throw new RangeError(`threads must be a positive integer, got ${threads}`);
  stopThreads();
  if (threads === 1) return;
  // On the WebAssembly backend the workers share the kernels' memory (linear layers and attention).
  if (activeVariant()) return startWasmPool(threads);
  if (typeof SharedArrayBuffer === "undefined") throw new Error("threads need SharedArrayBuffer (in browsers: cross-origin isolation)");
  const wt = await import("node:worker_threads");
  const control = new Int32Array(new SharedArrayBuffer(CONTROL_WORDS * 4));
  const workers: Pool["workers"] = [];
  for (let i = 1; i < threads; i++) {
    const { port1, port2 } = new wt.MessageChannel();
    const worker = new wt.Worker(workerSource(), { eval: true, workerData: { control, port: port2, index: i, threads }, transferList: [port2] });
    worker.on("error", (e: Error) => {
      if (pool) pool.failure = e;
    });
    worker.unref(); // an idle pool never keeps the process alive
    port1.unref();
    workers.push({ terminate: () => worker.terminate(), port: port1 });
  }
  pool = { threads, workers, control, input: sharedFloats(0), output: sharedFloats(0), layerIds: new WeakMap(), nextLayerId: 1, failure: null };
  setPackedAllocator(sharedFloats);
  setLinearBackend(threadedLinear);
}

/** Stop the workers; the kernels go back to one thread. */
export function stopThreads(): void {
  stopWasmPool();
  if (!pool) return;
  const p = pool;
  pool = null;
  setLinearBackend(null);
  setPackedAllocator(null);
  Atomics.store(p.control, STOP, 1);
  Atomics.add(p.control, GEN, 1);
  Atomics.notify(p.control, GEN);
  for (const w of p.workers) void w.terminate();
}

function layerId(p: Pool, layer: PackedLinear): number | null {
  if (!(layer.packed.buffer instanceof SharedArrayBuffer)) return null; // packed before the pool started
  let id = p.layerIds.get(layer.packed);
  if (id === undefined) {
    id = p.nextLayerId++;
    p.layerIds.set(layer.packed, id);
    let bias: Float32Array | null = null;
    if (layer.bias) {
      bias = sharedFloats(layer.bias.length);
      bias.set(layer.bias);
    }
    for (const w of p.workers) w.port.postMessage({ type: "layer", id, K: layer.inFeatures, N: layer.outFeatures, packed: layer.packed, bias });
  }
  return id;
}

function threadedLinear(x: Float32Array, rows: number, layer: PackedLinear, out?: Float32Array): Float32Array {
  const p = pool!;
  const K = layer.inFeatures;
  const N = layer.outFeatures;
  if (x.length < rows * K) throw new RangeError(`linear: input has ${x.length} values, expected ${rows}×${K}`);
  const y = out ?? new Float32Array(rows * N);
  const id = layerId(p, layer);
  const panels = Math.ceil(N / PANEL);
  if (id === null || panels < p.threads || rows * K * N < 1 << 16) {
    // Not shared, or too small to be worth waking the workers.
    linearPanels(x, rows, K, N, layer.packed, layer.bias, y, 0, panels);
    return y;
  }
  if (p.input.length < rows * K || p.output.length < rows * N) {
    p.input = sharedFloats(Math.max(rows * K, p.input.length * 2));
    p.output = sharedFloats(Math.max(rows * N, p.output.length * 2));
    for (const w of p.workers) w.port.postMessage({ type: "io", input: p.input, output: p.output });
  }
  p.input.set(x.subarray(0, rows * K));
  const c = p.control;
  Atomics.store(c, LAYER, id);
  Atomics.store(c, ROWS, rows);
  Atomics.store(c, PENDING, p.threads - 1);
  Atomics.add(c, GEN, 1);
  Atomics.notify(c, GEN);
  // The calling thread takes the first share.
  linearPanels(p.input, rows, K, N, layer.packed, layer.bias, p.output, 0, Math.floor(panels / p.threads));
  const deadline = Date.now() + TASK_TIMEOUT_MS;
  for (let left = Atomics.load(c, PENDING); left !== 0; left = Atomics.load(c, PENDING)) {
    if (p.failure || Date.now() > deadline) {
      const why = p.failure ? `a worker thread failed (${p.failure.message})` : `${left} worker thread(s) did not finish within ${TASK_TIMEOUT_MS / 1000} s`;
      stopThreads();
      throw new Error(`linear: ${why}; threads stopped`);
    }
    Atomics.wait(c, PENDING, left, 1000);
  }
  y.set(p.output.subarray(0, rows * N));
  return y;
}

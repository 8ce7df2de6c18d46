/**
 * The model host: the script a worker thread runs (built to `worker.js`). It loads the checkpoint in this
 * thread and answers forwarded calls; the long synchronous encoder work happens here, so the caller's event
 * loop stays free. Runs under node:worker_threads (Node, Deno, Bun) or as a module Web Worker (browsers).
 */
import { GLiNER2 } from "../gliner2.js";
import type { CheckpointFiles } from "../checkpoint.js";
import { Gliner2Error } from "../errors.js";
import { cloneableArgs, decodeArg, errorToWire, type FromHost, type ToHost } from "./wire.js";

interface Channel {
  post(msg: FromHost): void;
  listen(fn: (msg: ToHost) => void): void;
}

async function channel(): Promise<Channel> {
  const g = globalThis as unknown as { postMessage?: (m: unknown) => void; addEventListener?: (t: string, f: (e: MessageEvent) => void) => void };
  try {
    const wt = await import("node:worker_threads");
    const port = wt.parentPort;
    if (port) return { post: (m) => port.postMessage(m), listen: (fn) => port.on("message", fn) };
  } catch {
    // Not a Node-compatible runtime: a Web Worker.
  }
  if (typeof g.postMessage === "function" && typeof g.addEventListener === "function") {
    return { post: (m) => g.postMessage!(m), listen: (fn) => g.addEventListener!("message", (e) => fn(e.data as ToHost)) };
  }
  throw new Error("gliner2 worker.js must run in a worker thread");
}

/** Own data properties worth mirroring on the caller's proxy (numbers, strings, booleans: maxTokens, …). */
function plainProps(model: GLiNER2): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(model)) {
    if (k === "active") continue; // adapter state: mirrored separately, it changes after load
    if (v === null || ["string", "number", "boolean"].includes(typeof v)) out[k] = v;
  }
  return out;
}

/**
 * Linux keeps a nice value per thread, and setpriority(pid 0) from a thread changes that thread only: the
 * encoder yields to the caller's event loop when CPUs are short. Elsewhere the call would renice the whole
 * process, so it is Linux only; where it is refused (containers, other runtimes) nothing changes.
 */
async function lowerPriority(nice: number): Promise<void> {
  if (!(nice > 0)) return;
  try {
    if (typeof process === "undefined" || process.platform !== "linux") return;
    const os = await import("node:os");
    os.setPriority(0, Math.min(19, os.getPriority(0) + nice));
  } catch {
    // Best effort.
  }
}

async function main(): Promise<void> {
  const ch = await channel();
  const signals = new Map<number, AbortController>();
  const callback = (fn: number, args: unknown[]) => {
    try {
      ch.post({ type: "callback", fn, args: cloneableArgs(args) });
    } catch {
      // Arguments that cannot be cloned are dropped rather than failing the load.
    }
  };
  let model: GLiNER2 | null = null;
  const reply = (msg: FromHost) => {
    try {
      ch.post(msg);
    } catch (e) {
      // A result that cannot be cloned: report that instead.
      if (msg.type === "result") ch.post({ type: "error", id: msg.id, error: errorToWire(new Gliner2Error("WORKER", `the result cannot be sent back from the worker thread: ${(e as Error).message}`)) });
      else throw e;
    }
  };

  ch.listen((msg) => {
    if (msg.type === "abort") {
      signals.get(msg.signal)?.abort();
      return;
    }
    if (msg.type === "close") return;
    if (msg.type === "load") {
      void lowerPriority(msg.nice);
      const opts = { ...(decodeArg(msg.opts, callback, signals) as Record<string, unknown>), offThread: false as const };
      const loading = GLiNER2.fromPretrained(msg.source as string | CheckpointFiles, opts);
      loading.then(
        (m) => {
          model = m;
          reply({ type: "loaded", props: plainProps(m), methods: [], adapters: m.adapterState() });
        },
        (e) => reply({ type: "loadFailed", error: errorToWire(e) }),
      );
      return;
    }
    if (msg.type === "call") {
      const { id, method } = msg;
      const target = model as unknown as Record<string, unknown> | null;
      const fn = target?.[method];
      if (!target || method === "constructor" || typeof fn !== "function" || !(method in GLiNER2.prototype)) {
        reply({ type: "error", id, error: errorToWire(new Gliner2Error("WORKER", `no method ${JSON.stringify(method)} on the model host`)) });
        return;
      }
      const args = msg.args.map((a) => decodeArg(a, callback, signals));
      Promise.resolve()
        .then(() => (fn as (...a: unknown[]) => unknown).apply(target, args))
        .then(
          // A method returning the model itself (loadAdapter, …) answers with the proxy on the other side.
          (value) => reply({ type: "result", id, value: value === target ? undefined : value, self: value === target, adapters: model!.adapterState() }),
          (e) => reply({ type: "error", id, error: errorToWire(e) }),
        );
    }
  });
}

void main();

/**
 * The caller's side of the off-thread model: start a model host (src/worker/host.ts, built to `worker.js` next
 * to the bundle that imports this), load the checkpoint there, and hand back an object that is a GLiNER2 (same
 * prototype, so `instanceof` and the sync helpers work) whose async methods are forwarded to the host. Every
 * async method of the class is forwarded by name, so methods added later need no code here.
 *
 * Where: Node, Deno and Bun use `node:worker_threads`; browsers a module Web Worker. When neither is available
 * or the worker file is missing (a bundler that did not copy it), the "auto" mode loads in-thread instead.
 */
import { Gliner2Error, InputError } from "../errors.js";
import { envVar } from "../hub/env.js";
import type { AdapterState } from "../adapters/index.js";
import { encodeArg, errorFromWire, type FromHost, type Handles, type ToHost } from "./wire.js";

/** The minimal port both worker flavours are wrapped into. */
interface HostPort {
  post(msg: ToHost, transfer?: Transferable[]): void;
  onMessage(fn: (msg: FromHost) => void): void;
  /** Called once when the worker dies or cannot start (with why). */
  onFailure(fn: (err: Error) => void): void;
  /** Keep the process alive (a call is pending) or not (idle). No-op for Web Workers. */
  hold(on: boolean): void;
  terminate(): void;
}

let entryOverride: string | URL | null = null;

/**
 * Where the host script is. Default: `worker.js` beside the module that contains this code (dist/index.js,
 * dist/cli.js and dist/browser/gliner2.js each have one). Bundlers that move files, and the test suite (which
 * runs TypeScript sources), point it elsewhere; `$GLINER2_WORKER_ENTRY` does the same without code.
 */
export function setWorkerEntry(url: string | URL | null): void {
  entryOverride = url;
}

function workerEntry(): URL {
  const env = envVar("GLINER2_WORKER_ENTRY"); // undefined in Deno without --allow-env
  const chosen = entryOverride ?? env ?? null;
  if (chosen !== null) {
    if (chosen instanceof URL) return chosen;
    return /^[a-z][a-z0-9+.-]*:/i.test(chosen) && !/^[A-Za-z]:[\\/]/.test(chosen) ? new URL(chosen) : new URL(`file://${chosen.startsWith("/") ? "" : "/"}${chosen.replace(/\\/g, "/")}`);
  }
  return new URL("./worker.js", import.meta.url);
}

class WorkerUnavailable extends Error {}

async function openPort(): Promise<HostPort> {
  const url = workerEntry();
  let wt: typeof import("node:worker_threads") | null = null;
  try {
    wt = await import("node:worker_threads");
  } catch {
    wt = null;
  }
  if (wt && typeof wt.Worker === "function") {
    if (url.protocol === "file:") {
      const fs = await import("node:fs");
      const { fileURLToPath } = await import("node:url");
      if (!fs.existsSync(fileURLToPath(url))) throw new WorkerUnavailable(`the model host script ${fileURLToPath(url)} does not exist`);
    }
    const worker = new wt.Worker(url);
    worker.unref();
    let failed = false;
    let onFail: (e: Error) => void = () => {};
    const fail = (e: Error) => {
      if (failed) return;
      failed = true;
      onFail(e);
    };
    worker.on("error", (e: Error) => fail(e));
    worker.on("exit", (code: number) => fail(new Error(`the model worker thread exited (code ${code})`)));
    return {
      post: (msg, transfer) => worker.postMessage(msg, transfer as never),
      onMessage: (fn) => worker.on("message", fn),
      onFailure: (fn) => (onFail = fn),
      hold: (on) => (on ? worker.ref() : worker.unref()),
      terminate: () => {
        failed = true;
        void worker.terminate();
      },
    };
  }
  const W = (globalThis as { Worker?: new (url: URL, opts: { type: "module" }) => Worker }).Worker;
  if (typeof W === "function") {
    const worker = new W(url, { type: "module" });
    let failed = false;
    let onFail: (e: Error) => void = () => {};
    worker.addEventListener("error", (ev) => {
      ev.preventDefault?.();
      if (failed) return;
      failed = true;
      onFail(new Error(`the model worker failed: ${(ev as ErrorEvent).message ?? "could not start"}`));
    });
    return {
      post: (msg, transfer) => worker.postMessage(msg, transfer ?? []),
      onMessage: (fn) => worker.addEventListener("message", (ev) => fn((ev as MessageEvent).data as FromHost)),
      onFailure: (fn) => (onFail = fn),
      hold: () => {},
      terminate: () => {
        failed = true;
        worker.terminate();
      },
    };
  }
  throw new WorkerUnavailable("this runtime has neither worker_threads nor Web Workers");
}

export interface OffThreadOptions {
  /** true: fail when no worker can be started; "auto": load in-thread then. */
  readonly mode: true | "auto";
  /** Transfer (detach) in-memory weights to the worker instead of copying them. */
  readonly transferWeights?: boolean;
}

function hostError(message: string, cause?: unknown): Gliner2Error {
  return new Gliner2Error("WORKER", message, cause === undefined ? undefined : { cause });
}

/** Every method name on the prototype chain below Object.prototype that is an async function. */
function asyncMethods(proto: object): string[] {
  const names = new Set<string>();
  for (let p: object | null = proto; p && p !== Object.prototype; p = Object.getPrototypeOf(p)) {
    for (const name of Object.getOwnPropertyNames(p)) {
      if (name === "constructor") continue;
      const d = Object.getOwnPropertyDescriptor(p, name);
      if (d && typeof d.value === "function" && d.value.constructor?.name === "AsyncFunction") names.add(name);
    }
  }
  return [...names];
}

/**
 * Load `source` (folder, URL, repo id, or in-memory checkpoint files) in a model host and return the forwarding
 * object, or null in "auto" mode when no worker can run here (the caller then loads in-thread).
 */
export async function loadOffThread<T extends object>(proto: T, source: string | object, opts: Record<string, unknown>, how: OffThreadOptions): Promise<T | null> {
  // Functions in the options become fire-and-forget callbacks (progress); a custom `fetch` must return its
  // answer, which a thread boundary cannot do synchronously: such a load stays in this thread.
  if (typeof opts.fetch === "function") {
    if (how.mode === "auto") return null;
    throw hostError("offThread: a custom fetch option cannot be used from the worker thread; pass offThread: false or \"auto\"");
  }
  let port: HostPort;
  try {
    port = await openPort();
  } catch (e) {
    if (how.mode === "auto") return null;
    throw hostError(`offThread: no worker could be started (${(e as Error).message}); pass offThread: false to run in this thread`, e);
  }

  const pending = new Map<number, { resolve(v: unknown): void; reject(e: unknown): void; handles: Handles }>();
  const loadHandles: Handles = { functions: new Map(), signals: new Map() };
  let dead: Error | null = null;
  let nextId = 1;
  let loaded: ((msg: FromHost) => void) | null = null;
  let loadFailed: ((e: Error) => void) | null = null;

  const callbackFor = (fn: number) => {
    const fromLoad = loadHandles.functions.get(fn);
    if (fromLoad) return fromLoad;
    for (const p of pending.values()) {
      const f = p.handles.functions.get(fn);
      if (f) return f;
    }
    return undefined;
  };

  port.onMessage((msg) => {
    switch (msg.type) {
      case "loaded":
        loaded?.(msg);
        break;
      case "loadFailed":
        loadFailed?.(errorFromWire(msg.error));
        break;
      case "callback": {
        try {
          callbackFor(msg.fn)?.(...msg.args);
        } catch {
          // A throwing progress callback must not take the model host down.
        }
        break;
      }
      case "result":
      case "error": {
        const p = pending.get(msg.id);
        if (!p) break;
        pending.delete(msg.id);
        if (pending.size === 0) port.hold(false);
        if (msg.type === "result") {
          mirrorAdapters(msg.adapters);
          p.resolve(msg.self ? proxy : msg.value);
        }
        else p.reject(errorFromWire(msg.error));
        break;
      }
    }
  });
  port.onFailure((e) => {
    dead = hostError(`the model worker thread stopped: ${e.message}`, e);
    loadFailed?.(dead);
    for (const p of pending.values()) p.reject(dead);
    pending.clear();
    port.hold(false);
  });

  const watchSignals = (handles: Handles) => {
    for (const [id, signal] of handles.signals) {
      signal.addEventListener("abort", () => port.post({ type: "abort", signal: id }), { once: true });
    }
  };

  // Load. Weights are copied unless the caller allows transferring them.
  const fromFiles = typeof source !== "string";
  const { offThread: _o, transferWeights: _t, workerNice, ...rest } = opts;
  const nice = workerNice ?? 5;
  if (typeof nice !== "number" || !Number.isInteger(nice) || nice < 0 || nice > 19) {
    port.terminate();
    throw new InputError("workerNice", `must be an integer from 0 to 19, got ${JSON.stringify(workerNice)}`);
  }
  const wireOpts = encodeArg(rest, loadHandles);
  const transfer: Transferable[] = [];
  if (fromFiles && how.transferWeights) {
    const w = (source as { weights?: unknown }).weights;
    const buf = w instanceof ArrayBuffer ? w : w instanceof Uint8Array && w.byteOffset === 0 && w.byteLength === w.buffer.byteLength && w.buffer instanceof ArrayBuffer ? w.buffer : null;
    if (buf) transfer.push(buf);
  }
  watchSignals(loadHandles);
  port.hold(true);
  let hello: Extract<FromHost, { type: "loaded" }>;
  try {
    hello = await new Promise<Extract<FromHost, { type: "loaded" }>>((resolve, reject) => {
      loaded = (m) => resolve(m as Extract<FromHost, { type: "loaded" }>);
      loadFailed = reject;
      try {
        port.post({ type: "load", source, opts: wireOpts, fromFiles, nice }, transfer);
      } catch (e) {
        reject(hostError(`offThread: the load options cannot be sent to the worker thread (${(e as Error).message})`, e));
      }
    });
  } catch (e) {
    port.terminate();
    // A worker that could not even start (missing script, no module workers) → in-thread in auto mode.
    if (how.mode === "auto" && e instanceof Gliner2Error && e.code === "WORKER" && dead !== null) return null;
    throw e;
  } finally {
    port.hold(false);
    loaded = null;
    loadFailed = null;
    loadHandles.functions.clear();
    loadHandles.signals.clear();
  }

  const call = (method: string, args: unknown[]): Promise<unknown> => {
    if (dead) return Promise.reject(dead);
    const handles: Handles = { functions: new Map(), signals: new Map() };
    let wireArgs: unknown[];
    try {
      wireArgs = args.map((a) => encodeArg(a, handles));
    } catch (e) {
      return Promise.reject(e);
    }
    const id = nextId++;
    return new Promise((resolve, reject) => {
      try {
        port.post({ type: "call", id, method, args: wireArgs });
      } catch (e) {
        reject(hostError(`${method}: an argument cannot be sent to the model worker thread (${(e as Error).message})`, e));
        return;
      }
      pending.set(id, { resolve, reject, handles });
      watchSignals(handles);
      port.hold(true);
    });
  };

  const proxy = Object.create(proto) as Record<string, unknown>;
  for (const [k, v] of Object.entries(hello.props)) Object.defineProperty(proxy, k, { value: v, enumerable: true });
  for (const name of asyncMethods(proto)) {
    if (name === "dispose") continue;
    Object.defineProperty(proxy, name, { value: (...args: unknown[]) => call(name, args), writable: true, configurable: true });
  }
  // The adapter getters and the sync adapter methods (unloadAdapter, setActiveAdapter) run the class's own code on
  // a mirror of the host's adapter state (configs only); the sync methods are then forwarded in call order.
  const mirrorAdapters = (state: AdapterState) => {
    proxy.adapters = new Map(state.configs.map(([name, config]) => [name, { name, config }]));
    proxy.active = state.active;
  };
  Object.defineProperty(proxy, "adapters", { value: null, writable: true });
  Object.defineProperty(proxy, "active", { value: null, writable: true });
  mirrorAdapters(hello.adapters);
  for (const name of ["unloadAdapter", "setActiveAdapter"]) {
    const local = (proto as Record<string, unknown>)[name];
    if (typeof local !== "function") continue;
    Object.defineProperty(proxy, name, {
      value: (...args: unknown[]) => {
        local.apply(proxy, args); // same checks and errors as in-thread
        call(name, args).catch(() => {}); // cannot fail once the mirror accepted it; a dead worker fails the next call
        return proxy;
      },
      writable: true,
      configurable: true,
    });
  }
  Object.defineProperty(proxy, "model", {
    get() {
      throw hostError("this GLiNER2 runs its model in a worker thread (the default); load with { offThread: false } to reach the model object");
    },
  });
  Object.defineProperty(proxy, "offThread", { value: true, enumerable: false });
  // A host model with its embedding table on disk keeps model.safetensors open; ending the thread would not close it.
  const holdsFile = (rest as { embeddings?: unknown }).embeddings === "disk";
  Object.defineProperty(proxy, "dispose", {
    value: async () => {
      if (dead) return;
      dead = hostError("this GLiNER2 was disposed");
      for (const p of pending.values()) p.reject(dead);
      pending.clear();
      if (holdsFile) {
        // The host's own dispose closes the file; a host still busy with a long call gets one second.
        const id = nextId++;
        const closed = new Promise<void>((resolve) => pending.set(id, { resolve: () => resolve(), reject: () => resolve(), handles: { functions: new Map(), signals: new Map() } }));
        let timer: ReturnType<typeof setTimeout> | undefined;
        try {
          port.post({ type: "call", id, method: "dispose", args: [] });
          await Promise.race([closed, new Promise<void>((resolve) => (timer = setTimeout(resolve, 1000)))]);
        } catch {
          // a worker that cannot take the message is terminated below all the same
        } finally {
          clearTimeout(timer);
          pending.delete(id);
        }
      }
      port.terminate();
    },
  });
  return proxy as T;
}


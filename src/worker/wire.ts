/**
 * What crosses the thread boundary between a GLiNER2 proxy and its model host, and how values that structured
 * clone would mangle are carried: errors become plain records and are rebuilt as the same class with the same
 * fields; schema builders become their normalized (plain data) schema; functions become callback handles the
 * host calls back through messages (fire-and-forget, like progress callbacks); AbortSignals become abort
 * messages.
 */
import * as errors from "../errors.js";
import { Gliner2Error } from "../errors.js";
import { normalizeSchema, SchemaBuilder, StructureBuilder } from "../schema/schema.js";
import type { AdapterState } from "../adapters/index.js";

/** Main thread → host. */
export type ToHost =
  | { type: "load"; source: string | object; opts: unknown; fromFiles: boolean; nice: number }
  | { type: "call"; id: number; method: string; args: unknown[] }
  | { type: "abort"; signal: number }
  | { type: "close" };

/** Host → main thread. */
export type FromHost =
  | { type: "loaded"; props: Record<string, unknown>; methods: string[]; adapters: AdapterState }
  | { type: "loadFailed"; error: WireError }
  | { type: "result"; id: number; value: unknown; self: boolean; adapters: AdapterState }
  | { type: "error"; id: number; error: WireError }
  | { type: "callback"; fn: number; args: unknown[] };

/** An error as plain data: class name, message, stack and every own field (`code`, `path`, `tensor`, …). */
export interface WireError {
  readonly name: string;
  readonly message: string;
  readonly stack?: string;
  readonly fields: Record<string, unknown>;
}

const FN = "__gliner2_fn__";
const SIGNAL = "__gliner2_signal__";

export function errorToWire(e: unknown): WireError {
  if (!(e instanceof Error)) return { name: "Error", message: String(e), fields: {} };
  const fields: Record<string, unknown> = {};
  for (const key of Object.keys(e)) {
    const v = (e as unknown as Record<string, unknown>)[key];
    if (key === "name" || key === "message" || key === "stack" || key === "cause") continue;
    if (v === null || ["string", "number", "boolean", "undefined"].includes(typeof v)) fields[key] = v;
  }
  return { name: e.name, message: e.message, stack: e.stack, fields };
}

/**
 * Rebuild an error on this side: a `Gliner2Error` subclass exported by errors.ts is recreated with its own
 * class (so `instanceof InputError` and `err.argument` work as in-thread); built-in errors by their constructor
 * name; anything else as an Error keeping the name.
 */
export function errorFromWire(w: WireError): Error {
  const registry = errors as unknown as Record<string, unknown>;
  const builtins: Record<string, ErrorConstructor> = { TypeError, RangeError, SyntaxError, ReferenceError, EvalError, URIError };
  const cls = registry[w.name];
  let err: Error;
  if (typeof cls === "function" && (cls === Gliner2Error || cls.prototype instanceof Gliner2Error)) {
    err = Object.create(cls.prototype) as Error;
  } else if (builtins[w.name]) {
    err = Object.create(builtins[w.name].prototype) as Error;
  } else {
    err = Object.create(Error.prototype) as Error;
  }
  // Own properties, like a constructed error has (name included, as Gliner2Error sets it).
  Object.defineProperty(err, "message", { value: w.message, writable: true, configurable: true, enumerable: false });
  if (err instanceof Gliner2Error || !builtins[w.name]) Object.defineProperty(err, "name", { value: w.name, writable: true, configurable: true, enumerable: true });
  Object.defineProperty(err, "stack", { value: w.stack ?? `${w.name}: ${w.message}`, writable: true, configurable: true, enumerable: false });
  for (const [k, v] of Object.entries(w.fields)) (err as unknown as Record<string, unknown>)[k] = v;
  return err;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (typeof v !== "object" || v === null) return false;
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

/** Handles that stay on the caller's side while a call or load is in flight. */
export interface Handles {
  readonly functions: Map<number, (...args: unknown[]) => unknown>;
  readonly signals: Map<number, AbortSignal>;
}

let nextHandle = 1;

/**
 * Make a call argument cloneable. Schema builders are normalized here, so a bad schema fails with the same
 * SchemaError as in-thread (and before anything is sent). Plain objects and arrays are walked; class instances
 * other than builders, typed arrays and buffers go as they are (structured clone copies them).
 */
export function encodeArg(v: unknown, handles: Handles, depth = 0): unknown {
  if (v instanceof SchemaBuilder || v instanceof StructureBuilder) return normalizeSchema(v);
  if (typeof v === "function") {
    const id = nextHandle++;
    handles.functions.set(id, v as (...args: unknown[]) => unknown);
    return { [FN]: id };
  }
  if (typeof AbortSignal !== "undefined" && v instanceof AbortSignal) {
    const id = nextHandle++;
    handles.signals.set(id, v);
    return { [SIGNAL]: id, aborted: v.aborted };
  }
  if (depth > 8) return v;
  if (Array.isArray(v)) return v.map((x) => encodeArg(x, handles, depth + 1));
  if (isPlainObject(v)) {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) out[k] = encodeArg(x, handles, depth + 1);
    return out;
  }
  return v;
}

/** On the host: turn handles back into functions that message the caller, and into AbortSignals. */
export function decodeArg(
  v: unknown,
  callback: (fn: number, args: unknown[]) => void,
  signals: Map<number, AbortController>,
  depth = 0,
): unknown {
  if (depth > 8) return v;
  if (Array.isArray(v)) return v.map((x) => decodeArg(x, callback, signals, depth + 1));
  if (isPlainObject(v)) {
    if (typeof v[FN] === "number") {
      const fn = v[FN];
      return (...args: unknown[]) => callback(fn, args);
    }
    if (typeof v[SIGNAL] === "number") {
      const ctl = new AbortController();
      if (v.aborted === true) ctl.abort();
      signals.set(v[SIGNAL], ctl);
      return ctl.signal;
    }
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) out[k] = decodeArg(x, callback, signals, depth + 1);
    return out;
  }
  return v;
}

/** Callback arguments back to the caller: only cloneable data (progress records are plain objects). */
export function cloneableArgs(args: unknown[]): unknown[] {
  return args.map((a) => (typeof a === "function" ? undefined : a));
}

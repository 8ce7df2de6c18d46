/**
 * Which kernels run: the WebAssembly SIMD module (plain SIMD, or relaxed SIMD's fused multiply-add where the
 * engine has it and it passes a probe) or the plain-TypeScript reference. Chosen before weights are packed:
 * packing lays the weights out for the backend active at that moment.
 *
 *   "auto"          WebAssembly SIMD where available, else "js" (default)
 *   "wasm"          WebAssembly SIMD, plain mul + add: bit-identical results in every engine
 *   "wasm-relaxed"  relaxed SIMD multiply-add where the engine has it (falls back to "wasm"): faster, but fused
 *                   or unfused at the engine's choice, so the last bits may differ between engines
 *   "js"            the plain-TypeScript kernels
 */
import { wasmRuntime, type KernelVariant } from "./wasm/runtime.js";

export type Backend = "auto" | "wasm" | "wasm-relaxed" | "js";
export type ActiveBackend = "wasm" | "wasm-relaxed" | "js";

export const BACKENDS: readonly Backend[] = ["auto", "wasm", "wasm-relaxed", "js"];

let requested: Backend = "auto";
let active: ActiveBackend | null = null;

function resolve(b: Backend): ActiveBackend {
  if (b === "js") return "js";
  const rt = wasmRuntime();
  if (!rt) {
    if (b === "auto") return "js";
    throw new Error(`backend "${b}" needs WebAssembly SIMD, which this runtime does not have (use "auto" or "js")`);
  }
  if (b === "wasm-relaxed" && rt.relaxed) return "wasm-relaxed";
  return "wasm";
}

/** Select the kernels for weights packed from now on and for every call; returns what is actually used. */
export function setBackend(b: Backend): ActiveBackend {
  if (!BACKENDS.includes(b)) throw new RangeError(`backend must be one of ${BACKENDS.map((x) => `"${x}"`).join(", ")}, got ${JSON.stringify(b)}`);
  active = resolve(b);
  requested = b;
  return active;
}

export function activeBackend(): ActiveBackend {
  return (active ??= resolve(requested));
}

/** The WebAssembly kernels of the active backend, or null on "js". */
export function activeVariant(): KernelVariant | null {
  const a = activeBackend();
  if (a === "js") return null;
  const rt = wasmRuntime()!;
  return a === "wasm-relaxed" ? rt.relaxed! : rt.plain;
}

/** What this runtime offers and what is in use (for logs and benchmarks). */
export function backendInfo(): {
  requested: Backend;
  active: ActiveBackend;
  simd: boolean;
  relaxedSimd: boolean;
  fusedMultiplyAdd: boolean;
  sharedMemory: boolean;
  /** The WebAssembly int8 kernel: "i16-dot" (every engine) or "byte-dot" (relaxed SIMD, V8 13.6+); null without SIMD. */
  int8Kernel: "i16-dot" | "byte-dot" | null;
  compileMs: number;
} {
  const rt = wasmRuntime();
  return {
    requested,
    active: activeBackend(),
    simd: rt !== null,
    relaxedSimd: rt?.relaxed != null,
    fusedMultiplyAdd: rt?.fused ?? false,
    sharedMemory: rt?.shared ?? false,
    int8Kernel: rt === null ? null : rt.int8Quads ? "byte-dot" : "i16-dot",
    compileMs: rt?.compileMs ?? 0,
  };
}

/**
 * Index of the first NaN or ±∞ in a float array, or −1: the load-time check every weight goes through. On the
 * WebAssembly kernels (when active) a chunked copy plus a SIMD pass; else the plain-TS loop, which is the reference.
 */
import { activeVariant } from "./backend.js";
import { f32View, Region, type KernelVariant } from "./wasm/runtime.js";

/** The plain-TS check (v − v is 0 for every finite v and NaN otherwise). */
export function firstNonFiniteReference(x: Float32Array): number {
  for (let i = 0; i < x.length; i++) {
    const v = x[i];
    if (v - v !== 0) return i;
  }
  return -1;
}

/** Below this many values the plain loop is as fast as the copy. */
const WASM_MIN = 4096;

export function firstNonFinite(x: Float32Array): number {
  if (x.length >= WASM_MIN) {
    const v = activeVariant();
    if (v) return wasmFirstNonFinite(v, x);
  }
  return firstNonFiniteReference(x);
}

/** Values per chunk copied into WebAssembly memory (4 MiB). */
const CHUNK = 1 << 20;
const scratch = new Region();

/** Index of the first NaN/±∞ in `data`, or −1. */
function wasmFirstNonFinite(v: KernelVariant, data: Float32Array): number {
  const ptr = scratch.get(Math.min(data.length, CHUNK) * 4);
  for (let at = 0; at < data.length; at += CHUNK) {
    const n = Math.min(CHUNK, data.length - at);
    f32View(ptr, n).set(data.subarray(at, at + n));
    const i = v.exports.firstNonFinite(ptr, n);
    if (i >= 0) return at + i;
  }
  return -1;
}

/**
 * Typed access to a checkpoint's tensors: every weight is fetched with the shape the config implies, so a
 * checkpoint that does not fit its config fails at load with the tensor's name, not later inside a kernel.
 *
 * int8 (src/kernels/int8.ts has the layout): a tensor stored I8 in the file (with its `<name>.scale`) is used
 * as int8 where the model can (linear layers, the word-embedding table) and dequantized elsewhere; a float
 * tensor is quantized at load when the file's load policy (`setLoadPolicy`) plans it.
 */
import { SafetensorsError, WeightsError } from "../errors.js";
import { firstNonFinite, int8Linear, packLinear, quantizeRows, dequantizeRows, type Int8Rows, type PackedLinear } from "../kernels/index.js";
import { activeVariant } from "../kernels/backend.js";
import { planQuantizes, SCALE_SUFFIX, type Int8Plan } from "../int8/plan.js";
import { diskEmbeddings, type DiskEmbeddings, type EmbeddingFile } from "./diskEmbeddings.js";
import type { SafetensorsFile } from "./safetensors.js";

/** How the weights of one file are loaded. */
export interface LoadPolicy {
  /** Tensors quantized to int8 at load (null: none). */
  readonly plan: Int8Plan | null;
  /**
   * Copy every float tensor the model keeps instead of viewing the file buffer, so the buffer can be freed after
   * loading (used when quantizing at load: the file is then mostly garbage).
   */
  readonly copyFloats: boolean;
  /**
   * Leave the word-embedding table in the file (load option `embeddings: "disk"`; the file must be open on
   * disk): the table reads its rows from it at each encode and closes it when the model is disposed.
   */
  readonly embeddingFile?: EmbeddingFile;
}

const NO_POLICY: LoadPolicy = { plan: null, copyFloats: false };
const policies = new WeakMap<SafetensorsFile, LoadPolicy>();

/** Attach a load policy to a parsed file (the loaders below read it); without one, nothing is quantized. */
export function setLoadPolicy(st: SafetensorsFile, policy: LoadPolicy): void {
  policies.set(st, policy);
}

function policyOf(st: SafetensorsFile): LoadPolicy {
  return policies.get(st) ?? NO_POLICY;
}

function checkShape(st: SafetensorsFile, name: string, shape: readonly number[]): void {
  if (!st.has(name)) throw new WeightsError(name, `missing from ${st.label} (expected shape [${shape.join(", ")}])`);
  const info = st.info(name);
  if (info.shape.length !== shape.length || info.shape.some((d, i) => d !== shape[i])) {
    throw new WeightsError(name, `has shape [${info.shape.join(", ")}] in ${st.label}, expected [${shape.join(", ")}]`);
  }
}

/**
 * A float tensor whose every value is finite. NaN or ±Inf in a weight (a diverged fine-tune, a corrupt file)
 * would otherwise load silently and give empty results or `confidence: null`; one pass at load (well under a
 * second for the large checkpoint) names the tensor instead. Every weight the model reads comes through here.
 */
export function finiteF32(st: SafetensorsFile, name: string): Float32Array {
  const data = st.f32(name);
  const i = firstNonFinite(data);
  if (i >= 0) throw new WeightsError(name, `element ${i} is ${data[i]} in ${st.label}; weights must be finite numbers (corrupt or diverged checkpoint)`);
  return data;
}

/**
 * An I8 tensor `name [rows, cols]` and its scale tensor `name.scale [rows]`, validated (scale present, float,
 * right shape, every scale finite and > 0). Zero-copy views of a buffer; from a file opened on disk, `transient`
 * reads into the file's reused scratch (for weights copied elsewhere at once, like `quantizeInChunks`' rows).
 */
export function storedInt8(st: SafetensorsFile, name: string, transient = false): Int8Rows {
  const info = st.info(name);
  if (info.shape.length !== 2) throw new SafetensorsError(st.label, `int8 tensor must be 2-D [rows, cols], has shape [${info.shape.join(", ")}]`, name);
  const [rows, cols] = info.shape;
  const scales = int8Scales(st, name, rows);
  const q = transient ? st.i8Transient(name) : (st.tensor(name).data as Int8Array);
  // indexOf runs natively (~0.6 ns a byte against ~1 for a JS loop: ~80 ms of a base int8 checkpoint's load)
  const bad = q.indexOf(-128);
  if (bad >= 0) throw new SafetensorsError(st.label, `value −128 at element ${bad}: symmetric int8 uses [−127, 127]`, name);
  return { rows, cols, q, scales };
}

/** The scale tensor `name.scale [rows]` of an I8 tensor, validated (present, float, right shape, finite, > 0). */
function int8Scales(st: SafetensorsFile, name: string, rows: number): Float32Array {
  const scaleName = name + SCALE_SUFFIX;
  if (!st.has(scaleName)) throw new SafetensorsError(st.label, `is stored I8 but its scale tensor "${scaleName}" (F32 [${rows}]) is missing`, name);
  const sInfo = st.info(scaleName);
  if (sInfo.dtype !== "F32" && sInfo.dtype !== "F16" && sInfo.dtype !== "BF16") {
    throw new SafetensorsError(st.label, `scale tensor must be floating point (F32), found ${sInfo.dtype}`, scaleName);
  }
  if (sInfo.shape.length !== 1 || sInfo.shape[0] !== rows) {
    throw new SafetensorsError(st.label, `scale tensor has shape [${sInfo.shape.join(", ")}], expected [${rows}] (one scale per row of "${name}")`, scaleName);
  }
  const scales = st.f32(scaleName);
  for (let r = 0; r < rows; r++) {
    const s = scales[r];
    if (!(s > 0) || !Number.isFinite(s)) throw new SafetensorsError(st.label, `scale of row ${r} is ${s}; every scale must be finite and > 0`, scaleName);
  }
  return scales;
}

/** A float tensor stored with a stray `.scale` next to it is a half-converted file: refuse it rather than guess. */
function refuseStrayScale(st: SafetensorsFile, name: string): void {
  if (st.has(name + SCALE_SUFFIX)) {
    throw new SafetensorsError(st.label, `has a scale tensor "${name}${SCALE_SUFFIX}" but is stored ${st.info(name).dtype}, not I8`, name);
  }
}

/** A float tensor with exactly `shape`; WeightsError names the tensor if it is missing or shaped otherwise. */
export function weight(st: SafetensorsFile, name: string, shape: readonly number[]): Float32Array {
  checkShape(st, name, shape);
  return floats(st, name);
}

/** A tensor as float32, whatever its shape: I8 tensors are dequantized; copied when the load policy says so. */
export function floats(st: SafetensorsFile, name: string): Float32Array {
  if (!st.has(name)) throw new WeightsError(name, `missing from ${st.label}`);
  if (st.info(name).dtype === "I8") return dequantizeRows(storedInt8(st, name));
  refuseStrayScale(st, name);
  const data = finiteF32(st, name);
  return policyOf(st).copyFloats ? data.slice() : data;
}

/**
 * A 2-D weight `[rows, cols]` as int8 when the file stores it I8 or the load policy quantizes it; null when it
 * stays float.
 */
export function int8Weight(st: SafetensorsFile, name: string, rows: number, cols: number, transient = false): Int8Rows | null {
  checkShape(st, name, [rows, cols]);
  if (st.info(name).dtype === "I8") return storedInt8(st, name, transient);
  refuseStrayScale(st, name);
  if (!planQuantizes(policyOf(st).plan, name)) return null;
  try {
    return quantizeInChunks(st, name, rows, cols, CHUNK_VALUES, transient ? transientRows(rows, cols) : undefined);
  } catch (e) {
    // quantizeRows refuses NaN/±Inf: the same typed error as a float load gives.
    if (e instanceof RangeError) throw new WeightsError(name, `${e.message} in ${st.label}; weights must be finite numbers (corrupt or diverged checkpoint)`);
    throw e;
  }
}

/** Float values per chunk when quantizing a big tensor (16 MB of float32). */
const CHUNK_VALUES = 1 << 22;

/**
 * Quantize a float tensor a block of rows at a time: from a file opened with `openSafetensorsFile` only one
 * block is ever in memory (the word-embedding table alone is ~390 MB of float32 in base). Per-row scales make
 * the result identical to quantizing the whole tensor at once.
 */
export function quantizeInChunks(st: SafetensorsFile, name: string, rows: number, cols: number, chunkValues = CHUNK_VALUES, into?: Int8Rows): Int8Rows {
  const step = Math.max(1, Math.floor(chunkValues / Math.max(1, cols)));
  // The float rows are read into the file's scratch buffer and quantized straight into the result.
  const q = into?.q ?? new Int8Array(rows * cols);
  const scales = into?.scales ?? new Float32Array(rows);
  for (let r0 = 0; r0 < rows; r0 += step) {
    const n = Math.min(step, rows - r0);
    quantizeRows(st.f32Transient(name, r0 * cols, n * cols), n, cols, q.subarray(r0 * cols, (r0 + n) * cols), scales.subarray(r0, r0 + n));
  }
  return { rows, cols, q, scales };
}

/**
 * Scratch for int8 weights that are copied into WebAssembly memory at once (a wasm backend's `int8Linear` keeps
 * no row-major copy): one grow-only buffer instead of a freed multi-MB array per layer, which glibc would keep
 * resident. Released when loading ends (`releaseLoadScratch`).
 */
let scratchQ: Int8Array | null = null;
let scratchScales: Float32Array | null = null;
function transientRows(rows: number, cols: number): Int8Rows {
  if (scratchQ === null || scratchQ.length < rows * cols) scratchQ = new Int8Array(Math.max(rows * cols, 3072 * 768));
  if (scratchScales === null || scratchScales.length < rows) scratchScales = new Float32Array(Math.max(rows, 4096));
  return { rows, cols, q: scratchQ.subarray(0, rows * cols), scales: scratchScales.subarray(0, rows) };
}

/** Drop the loader's scratch buffers (called when a model has finished loading). */
export function releaseLoadScratch(): void {
  scratchQ = null;
  scratchScales = null;
}

/** A Linear from explicitly named tensors (`bias` null: none), int8 or packed float per the file and policy. */
export function linearFrom(st: SafetensorsFile, weightName: string, biasName: string | null, outFeatures: number, inFeatures: number): PackedLinear {
  // Under a wasm backend int8Linear packs the weights into WebAssembly memory and keeps nothing else.
  const q = int8Weight(st, weightName, outFeatures, inFeatures, activeVariant() !== null);
  const b = biasName === null ? null : weight(st, biasName, [outFeatures]);
  if (q) return int8Linear(q, b);
  return packLinear(weight(st, weightName, [outFeatures, inFeatures]), outFeatures, inFeatures, b);
}

/** Load `${name}.weight [out, in]` and `${name}.bias [out]` of a PyTorch Linear, ready for `linear()`. */
export function linearLayer(st: SafetensorsFile, name: string, outFeatures: number, inFeatures: number, bias = true): PackedLinear {
  return linearFrom(st, `${name}.weight`, bias ? `${name}.bias` : null, outFeatures, inFeatures);
}

/** An embedding table `[rows, dim]`: float, int8 with per-row scales, or left on disk (see `embedRows`). */
export type EmbeddingTable = Float32Array | Int8Rows | DiskEmbeddings;

/** An embedding table `[rows, dim]` as the file and the load policy make it. */
export function embeddingTable(st: SafetensorsFile, name: string, rows: number, dim: number): EmbeddingTable {
  const file = policyOf(st).embeddingFile;
  if (file !== undefined && st.onDisk(name) !== null) {
    checkShape(st, name, [rows, dim]);
    const stored = st.info(name).dtype === "I8";
    if (!stored) refuseStrayScale(st, name);
    return diskEmbeddings(st, name, rows, dim, file, planQuantizes(policyOf(st).plan, name), stored ? int8Scales(st, name, rows) : null);
  }
  return int8Weight(st, name, rows, dim) ?? weight(st, name, [rows, dim]);
}

/** Is the table left on disk (`embeddings: "disk"`)? */
export function isDiskTable(table: EmbeddingTable): table is DiskEmbeddings {
  return !(table instanceof Float32Array) && "kind" in table;
}

/** dst[t·dim …] = row ids[t] of the table, for t < count (ids already checked against the table's rows). */
export function embedRows(table: EmbeddingTable, ids: ArrayLike<number>, count: number, dim: number, dst: Float32Array): void {
  if (isDiskTable(table)) {
    table.gather(ids, count, dst);
    return;
  }
  for (let t = 0; t < count; t++) embeddingRow(table, ids[t], dim, dst, t * dim);
}

/** Copy row `r` of an in-memory embedding table (float or int8) into `dst` at `offset`. */
export function embeddingRow(table: Float32Array | Int8Rows, r: number, dim: number, dst: Float32Array, offset: number): void {
  if (table instanceof Float32Array) {
    dst.set(table.subarray(r * dim, (r + 1) * dim), offset);
    return;
  }
  const s = table.scales[r];
  const q = table.q;
  const o = r * dim;
  for (let k = 0; k < dim; k++) dst[offset + k] = q[o + k] * s;
}

/** LayerNorm `{weight, bias}` of size `dim`. */
export function layerNormParams(st: SafetensorsFile, name: string, dim: number): { gamma: Float32Array; beta: Float32Array } {
  return { gamma: weight(st, `${name}.weight`, [dim]), beta: weight(st, `${name}.bias`, [dim]) };
}

/**
 * Safetensors writer: `[u64 header length][JSON header][data]`, tensors stored back to back with no gaps (the
 * reference reader rejects holes). Tensors are written widest dtype first and the header is padded with spaces
 * to a multiple of 8 bytes, so every tensor starts aligned to its element size and readers get zero-copy views.
 */
import type { DType } from "./safetensors.js";

export interface TensorToWrite {
  readonly name: string;
  readonly dtype: DType;
  readonly shape: readonly number[];
  /** Little-endian element bytes. */
  readonly bytes: Uint8Array;
}

const WIDTH: Record<DType, number> = { I64: 8, F32: 4, I32: 4, F16: 2, BF16: 2, I8: 1, U8: 1 };

/** Bytes of an array-like typed array, as a view. */
export function bytesOf(a: Float32Array | Int8Array | Uint8Array | Int32Array): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}

/** A tensor's place in a file being written, before its bytes exist. */
export interface TensorSpec {
  readonly name: string;
  readonly dtype: DType;
  readonly shape: readonly number[];
}

/**
 * The header (8-byte length + padded JSON) of a file holding `specs`, and the order their bytes must follow
 * (widest dtype first, then as given). Lets a writer stream tensor bytes after the header.
 */
export function safetensorsLayout<T extends TensorSpec>(specs: readonly T[], metadata: Record<string, string> = {}): { header: Uint8Array; order: T[]; dataBytes: number } {
  const order = specs.map((t, i) => ({ t, i })).sort((a, b) => WIDTH[b.t.dtype] - WIDTH[a.t.dtype] || a.i - b.i).map((e) => e.t);
  const json: Record<string, unknown> = {};
  if (Object.keys(metadata).length > 0) json.__metadata__ = metadata;
  let offset = 0;
  for (const t of order) {
    const size = t.shape.reduce((a, b) => a * b, 1) * WIDTH[t.dtype];
    if (t.name in json) throw new RangeError(`writeSafetensors: tensor "${t.name}" given twice`);
    json[t.name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + size] };
    offset += size;
  }
  let text = new TextEncoder().encode(JSON.stringify(json));
  const pad = (8 - ((8 + text.length) % 8)) % 8;
  if (pad > 0) {
    const padded = new Uint8Array(text.length + pad).fill(0x20);
    padded.set(text);
    text = padded;
  }
  const header = new Uint8Array(8 + text.length);
  new DataView(header.buffer).setBigUint64(0, BigInt(text.length), true);
  header.set(text, 8);
  return { header, order, dataBytes: offset };
}

/** Bytes a tensor of `spec` must have. */
export function tensorBytes(spec: TensorSpec): number {
  return spec.shape.reduce((a, b) => a * b, 1) * WIDTH[spec.dtype];
}

/** Serialize tensors (+ string metadata) into one safetensors buffer. */
export function writeSafetensorsBuffer(tensors: readonly TensorToWrite[], metadata: Record<string, string> = {}): Uint8Array {
  for (const t of tensors) {
    if (tensorBytes(t) !== t.bytes.byteLength) {
      throw new RangeError(`writeSafetensors: tensor "${t.name}" has ${t.bytes.byteLength} bytes, shape [${t.shape.join(", ")}] × ${t.dtype} needs ${tensorBytes(t)}`);
    }
  }
  const { header, order, dataBytes } = safetensorsLayout(tensors, metadata);
  const out = new Uint8Array(header.length + dataBytes);
  out.set(header, 0);
  let o = header.length;
  for (const t of order) {
    out.set(t.bytes, o);
    o += t.bytes.byteLength;
  }
  return out;
}

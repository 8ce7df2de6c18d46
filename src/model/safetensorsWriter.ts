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

/** Serialize tensors (+ string metadata) into one safetensors buffer. */
export function writeSafetensorsBuffer(tensors: readonly TensorToWrite[], metadata: Record<string, string> = {}): Uint8Array {
  const ordered = tensors.map((t, i) => ({ t, i })).sort((a, b) => WIDTH[b.t.dtype] - WIDTH[a.t.dtype] || a.i - b.i).map((e) => e.t);
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length > 0) header.__metadata__ = metadata;
  let offset = 0;
  for (const t of ordered) {
    const count = t.shape.reduce((a, b) => a * b, 1);
    if (count * WIDTH[t.dtype] !== t.bytes.byteLength) {
      throw new RangeError(`writeSafetensors: tensor "${t.name}" has ${t.bytes.byteLength} bytes, shape [${t.shape.join(", ")}] × ${t.dtype} needs ${count * WIDTH[t.dtype]}`);
    }
    if (t.name in header) throw new RangeError(`writeSafetensors: tensor "${t.name}" given twice`);
    header[t.name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + t.bytes.byteLength] };
    offset += t.bytes.byteLength;
  }
  let json = new TextEncoder().encode(JSON.stringify(header));
  const pad = (8 - ((8 + json.length) % 8)) % 8;
  if (pad > 0) {
    const padded = new Uint8Array(json.length + pad).fill(0x20);
    padded.set(json);
    json = padded;
  }
  const out = new Uint8Array(8 + json.length + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  let o = 8 + json.length;
  for (const t of ordered) {
    out.set(t.bytes, o);
    o += t.bytes.byteLength;
  }
  return out;
}

/**
 * A minimal protobuf writer for hand-built ONNX models. A message is a list of byte chunks, so tensors of
 * hundreds of MB are referenced, not copied, until the one final `flatten`.
 */

export type Message = Uint8Array[];

/** Varint of a non-negative integer, or of a negative one as its 64-bit two's complement (int64 fields). */
export function varint(n: number | bigint): Uint8Array {
  let v = BigInt.asUintN(64, BigInt(n));
  const out: number[] = [];
  do {
    let b = Number(v & 0x7fn);
    v >>= 7n;
    if (v) b |= 0x80;
    out.push(b);
  } while (v);
  return Uint8Array.from(out);
}

const key = (field: number, wire: number): Uint8Array => varint((field << 3) | wire);

export function byteLength(msg: Message): number {
  let n = 0;
  for (const c of msg) n += c.byteLength;
  return n;
}

/** int32 / int64 / enum field (wire type 0). */
export const intField = (field: number, n: number | bigint): Message => [key(field, 0), varint(n)];

/** float field (wire type 5, little-endian). */
export function floatField(field: number, f: number): Message {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setFloat32(0, f, true);
  return [key(field, 5), b];
}

/** bytes field; `data` is referenced, not copied. */
export const bytesField = (field: number, data: Uint8Array): Message => [key(field, 2), varint(data.byteLength), data];

export const stringField = (field: number, s: string): Message => bytesField(field, new TextEncoder().encode(s));

/** Embedded message field. */
export const messageField = (field: number, msg: Message): Message => [key(field, 2), varint(byteLength(msg)), ...msg];

/** One contiguous buffer (on a SharedArrayBuffer when `shared`, so worker threads can read it without a copy). */
export function flatten(msg: Message, shared = false): Uint8Array {
  const total = byteLength(msg);
  const out = new Uint8Array(shared ? new SharedArrayBuffer(total) : new ArrayBuffer(total));
  let o = 0;
  for (const c of msg) {
    out.set(c, o);
    o += c.byteLength;
  }
  return out;
}

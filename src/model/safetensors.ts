/**
 * Safetensors reader: 8-byte little-endian header length N, N bytes of UTF-8 JSON
 * (`{name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {...}}`), then the raw data area.
 *
 * Everything in the header is validated before any tensor is touched, so a corrupt or hostile file gives a
 * SafetensorsError naming the file and tensor instead of a RangeError deep inside a kernel or a huge allocation.
 * Float tensors (F32, F16, BF16) are returned as Float32Array; integer tensors keep their width.
 */
import { SafetensorsError } from "../errors.js";
import { describeValue } from "../quote.js";

export type DType = "F32" | "F16" | "BF16" | "I8" | "U8" | "I32" | "I64";

const DTYPE_BYTES: Record<DType, number> = { F32: 4, F16: 2, BF16: 2, I8: 1, U8: 1, I32: 4, I64: 8 };
/** Dtypes the format defines that this reader deliberately does not decode (none are used by GLiNER2). */
const KNOWN_UNSUPPORTED = new Set(["F64", "F8_E4M3", "F8_E5M2", "I16", "U16", "U32", "U64", "BOOL"]);
/** The reference implementation refuses headers above 100 MB; so do we. */
export const MAX_HEADER_BYTES = 100_000_000;

export interface TensorInfo {
  readonly name: string;
  readonly dtype: DType;
  readonly shape: readonly number[];
  /** Byte offsets relative to the start of the data area. */
  readonly begin: number;
  readonly end: number;
}

export type TensorData = Float32Array | Int8Array | Uint8Array | Int32Array | BigInt64Array;

export interface Tensor<D extends TensorData = TensorData> {
  readonly name: string;
  /** Dtype as stored in the file (F16/BF16 data is already widened to Float32Array). */
  readonly dtype: DType;
  readonly shape: readonly number[];
  readonly data: D;
}

const LITTLE_ENDIAN_HOST = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/**
 * Reads bytes [start, end) of a file (absolute offsets): tensors of a file not held in memory. Into a fresh
 * buffer, or into the front of `into` when given (a scratch buffer reused for data nobody keeps).
 */
export type ByteReader = (start: number, end: number, into?: Uint8Array) => Uint8Array;

/**
 * A parsed safetensors buffer. Tensors are decoded on access; float32 data is a zero-copy view when aligned.
 * With a `reader` (see `openSafetensorsFile`) only the header is in memory and each access reads from the file.
 */
export class SafetensorsFile {
  readonly label: string;
  readonly metadata: Readonly<Record<string, string>>;
  private readonly infos: Map<string, TensorInfo>;
  private readonly bytes: Uint8Array;
  private readonly dataStart: number;
  private readonly reader: ByteReader | null;
  /** Reused by `f32Transient` reads (grown on demand; released with this object). */
  private scratch: Uint8Array | null = null;

  constructor(label: string, bytes: Uint8Array, dataStart: number, infos: Map<string, TensorInfo>, metadata: Record<string, string>, reader: ByteReader | null = null) {
    this.label = label;
    this.bytes = bytes;
    this.dataStart = dataStart;
    this.infos = infos;
    this.metadata = metadata;
    this.reader = reader;
  }

  /** Bytes [begin, end) of the data area (offsets relative to it), a view of the buffer or a fresh read. */
  private region(begin: number, end: number, transient = false): Uint8Array {
    const a = this.dataStart + begin;
    const b = this.dataStart + end;
    if (this.reader) {
      let into: Uint8Array | undefined;
      if (transient) {
        if (this.scratch === null || this.scratch.byteLength < b - a) this.scratch = new Uint8Array(Math.max(b - a, Math.ceil((this.scratch?.byteLength ?? 0) * 1.5)));
        into = this.scratch;
      }
      const out = this.reader(a, b, into);
      if (out.byteLength !== b - a) throw new SafetensorsError(this.label, `read ${out.byteLength} bytes at offset ${a}, expected ${b - a} (file changed or truncated while loading?)`);
      return out;
    }
    return this.bytes.subarray(a, b);
  }

  /**
   * Elements [first, first + count) of an F32 tensor, read alone (lets a caller stream a huge tensor from a file
   * in chunks). Other dtypes: decoded whole and sliced.
   */
  f32Range(name: string, first: number, count: number): Float32Array {
    const info = this.info(name);
    if (info.dtype !== "F32") return this.f32(name).subarray(first, first + count);
    const total = (info.end - info.begin) / 4;
    if (!(first >= 0 && count >= 0 && first + count <= total)) throw new RangeError(`f32Range: [${first}, ${first + count}) outside ${total} elements of "${name}"`);
    return this.decode({ ...info, begin: info.begin + first * 4, end: info.begin + (first + count) * 4 }) as Float32Array;
  }

  /**
   * Like `f32Range`, but a file opened with a reader reads into one scratch buffer reused by every such call:
   * the values are valid only until the next `f32Transient` call. For data that is converted and dropped
   * (quantizing at load): dozens of large short-lived buffers would otherwise be left to the allocator, and
   * glibc keeps such freed memory resident (tens of MiB for a base checkpoint).
   */
  f32Transient(name: string, first: number, count: number): Float32Array {
    const info = this.info(name);
    if (info.dtype !== "F32" || !this.reader) return this.f32Range(name, first, count);
    const total = (info.end - info.begin) / 4;
    if (!(first >= 0 && count >= 0 && first + count <= total)) throw new RangeError(`f32Transient: [${first}, ${first + count}) outside ${total} elements of "${name}"`);
    return this.decode({ ...info, begin: info.begin + first * 4, end: info.begin + (first + count) * 4 }, true) as Float32Array;
  }

  /**
   * Where a tensor's bytes start in the file (absolute offset) and the reader that fetches them, for a file opened
   * with `openSafetensorsFile` (null for a buffer): lets a table stay on disk and be read a row at a time.
   */
  onDisk(name: string): { read: ByteReader; offset: number } | null {
    const info = this.info(name);
    return this.reader ? { read: this.reader, offset: this.dataStart + info.begin } : null;
  }

  /** An I8 tensor read like `f32Transient` (into the reused scratch when read from a file): valid until the next such read. */
  i8Transient(name: string): Int8Array {
    const info = this.info(name);
    if (info.dtype !== "I8") throw new SafetensorsError(this.label, `expected an I8 tensor, found ${info.dtype}`, name);
    return this.decode(info, this.reader !== null) as Int8Array;
  }

  /** Tensor names in file order (sorted by data offset). */
  names(): string[] {
    return [...this.infos.keys()];
  }

  has(name: string): boolean {
    return this.infos.has(name);
  }

  info(name: string): TensorInfo {
    const info = this.infos.get(name);
    if (!info) throw new SafetensorsError(this.label, "tensor not found in file", name);
    return info;
  }

  /** Decode one tensor. Floats → Float32Array, I8/U8/I32/I64 → their typed array. */
  tensor(name: string): Tensor {
    const info = this.info(name);
    return { name, dtype: info.dtype, shape: info.shape, data: this.decode(info) };
  }

  /**
   * A float tensor as Float32Array, optionally checking its shape (`-1` in `expectedShape` matches any size).
   * Integer tensors are rejected: weights must be floating point.
   */
  f32(name: string, expectedShape?: readonly number[]): Float32Array {
    const info = this.info(name);
    if (info.dtype !== "F32" && info.dtype !== "F16" && info.dtype !== "BF16") {
      throw new SafetensorsError(this.label, `expected a float tensor, found ${info.dtype}`, name);
    }
    if (expectedShape) checkShape(this.label, info, expectedShape);
    return this.decode(info) as Float32Array;
  }

  /** An integer tensor as plain numbers (I64 values must be exact in a double). */
  ints(name: string, expectedShape?: readonly number[]): number[] {
    const info = this.info(name);
    if (expectedShape) checkShape(this.label, info, expectedShape);
    const data = this.decode(info);
    if (data instanceof BigInt64Array) {
      const out = new Array<number>(data.length);
      for (let i = 0; i < data.length; i++) {
        const v = data[i];
        if (v > BigInt(Number.MAX_SAFE_INTEGER) || v < BigInt(Number.MIN_SAFE_INTEGER)) {
          throw new SafetensorsError(this.label, `value ${v} at element ${i} does not fit a JS number`, name);
        }
        out[i] = Number(v);
      }
      return out;
    }
    if (data instanceof Float32Array) throw new SafetensorsError(this.label, `expected an integer tensor, found ${info.dtype}`, name);
    return Array.from(data as ArrayLike<number>);
  }

  /** The stored bytes of a tensor, as a view (for copying a tensor into another file unchanged). */
  raw(name: string): Uint8Array {
    const info = this.info(name);
    return this.region(info.begin, info.end);
  }

  private decode(info: TensorInfo, transient = false): TensorData {
    const region = this.region(info.begin, info.end, transient);
    const byteLength = region.byteLength;
    const count = byteLength / DTYPE_BYTES[info.dtype];
    const abs = region.byteOffset;
    const buf = region.buffer;
    switch (info.dtype) {
      case "U8":
        return new Uint8Array(buf, abs, count);
      case "I8":
        return new Int8Array(buf, abs, count);
      case "F32":
        if (LITTLE_ENDIAN_HOST && abs % 4 === 0) return new Float32Array(buf, abs, count);
        return readWithView(buf, abs, count, 4, (v, o) => v.getFloat32(o, true), Float32Array);
      case "I32":
        if (LITTLE_ENDIAN_HOST && abs % 4 === 0) return new Int32Array(buf, abs, count);
        return readWithView(buf, abs, count, 4, (v, o) => v.getInt32(o, true), Int32Array);
      case "I64": {
        const out = new BigInt64Array(count);
        const view = new DataView(buf, abs, byteLength);
        for (let i = 0; i < count; i++) out[i] = view.getBigInt64(i * 8, true);
        return out;
      }
      case "F16": {
        const out = new Float32Array(count);
        const view = new DataView(buf, abs, byteLength);
        for (let i = 0; i < count; i++) out[i] = halfToFloat(view.getUint16(i * 2, true));
        return out;
      }
      case "BF16": {
        const out = new Float32Array(count);
        const bits = new Uint32Array(out.buffer);
        const view = new DataView(buf, abs, byteLength);
        for (let i = 0; i < count; i++) bits[i] = view.getUint16(i * 2, true) << 16;
        return out;
      }
    }
  }
}

function readWithView<T extends Float32Array | Int32Array>(
  buf: ArrayBufferLike,
  abs: number,
  count: number,
  size: number,
  get: (v: DataView, o: number) => number,
  Ctor: new (n: number) => T,
): T {
  const out = new Ctor(count);
  const view = new DataView(buf, abs, count * size);
  for (let i = 0; i < count; i++) out[i] = get(view, i * size);
  return out;
}

function checkShape(label: string, info: TensorInfo, expected: readonly number[]): void {
  const ok = expected.length === info.shape.length && expected.every((d, i) => d === -1 || d === info.shape[i]);
  if (!ok) {
    throw new SafetensorsError(label, `shape [${info.shape.join(", ")}] does not match the expected [${expected.map((d) => (d === -1 ? "*" : d)).join(", ")}]`, info.name);
  }
}

/** IEEE 754 half → single, including subnormals, infinities and NaN. */
export function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24;
  if (exp === 0x1f) return frac ? NaN : sign * Infinity;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

/** Parse and validate a safetensors buffer. `label` (usually the file path) is used in every error message. */
export function parseSafetensors(input: Uint8Array | ArrayBuffer, label = "<buffer>"): SafetensorsFile {
  const bytes = input instanceof Uint8Array ? input : new Uint8Array(input);
  return parseWith(bytes, bytes.byteLength, label, null);
}

/** Header length of a file whose first bytes are `head`, checked against the file size. */
function headerLength(head: Uint8Array, fileSize: number, label: string): number {
  if (fileSize < 8 || head.byteLength < 8) {
    throw new SafetensorsError(label, `file is ${fileSize} bytes, too short to hold the 8-byte header length`);
  }
  const view = new DataView(head.buffer, head.byteOffset, 8);
  const headerLen = view.getUint32(4, true) * 2 ** 32 + view.getUint32(0, true);
  if (headerLen > MAX_HEADER_BYTES) {
    throw new SafetensorsError(label, `header length ${headerLen} bytes exceeds the ${MAX_HEADER_BYTES}-byte maximum (corrupt or not a safetensors file)`);
  }
  if (headerLen > fileSize - 8) {
    throw new SafetensorsError(label, `header length ${headerLen} bytes runs past the end of the ${fileSize}-byte file (truncated?)`);
  }
  return headerLen;
}

/** `bytes` holds at least the 8-byte length and the header; `fileSize` is the whole file's size. */
function parseWith(bytes: Uint8Array, fileSize: number, label: string, reader: ByteReader | null): SafetensorsFile {
  const headerLen = headerLength(bytes, fileSize, label);
  if (headerLen > bytes.byteLength - 8) throw new Error("internal: parseWith needs the whole header in memory");
  let headerText: string;
  try {
    headerText = new TextDecoder("utf-8", { fatal: true }).decode(bytes.subarray(8, 8 + headerLen));
  } catch {
    throw new SafetensorsError(label, "header is not valid UTF-8");
  }
  let header: unknown;
  try {
    header = JSON.parse(headerText);
  } catch (e) {
    throw new SafetensorsError(label, `header is not valid JSON (${(e as Error).message})`);
  }
  if (typeof header !== "object" || header === null || Array.isArray(header)) {
    throw new SafetensorsError(label, "header JSON must be an object mapping tensor names to {dtype, shape, data_offsets}");
  }
  const dataStart = 8 + headerLen;
  const dataLen = fileSize - dataStart;
  const list: TensorInfo[] = [];
  let metadata: Record<string, string> = {};
  for (const [name, raw] of Object.entries(header as Record<string, unknown>)) {
    if (name === "__metadata__") {
      metadata = parseMetadata(label, raw);
      continue;
    }
    list.push(parseEntry(label, name, raw, dataLen));
  }
  list.sort((a, b) => a.begin - b.begin || a.end - b.end);
  // Sorted by begin, a non-empty tensor overlaps an earlier one exactly when it starts before the furthest end so far.
  let furthest: TensorInfo | undefined;
  for (const cur of list) {
    if (cur.end === cur.begin) continue;
    if (furthest && cur.begin < furthest.end) {
      throw new SafetensorsError(label, `data [${cur.begin}, ${cur.end}) overlaps tensor "${furthest.name}" [${furthest.begin}, ${furthest.end})`, cur.name);
    }
    if (!furthest || cur.end > furthest.end) furthest = cur;
  }
  const infos = new Map(list.map((t) => [t.name, t] as const));
  return new SafetensorsFile(label, bytes, dataStart, infos, metadata, reader);
}

function parseMetadata(label: string, raw: unknown): Record<string, string> {
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
    throw new SafetensorsError(label, "__metadata__ must be an object of strings");
  }
  for (const [k, v] of Object.entries(raw)) {
    if (typeof v !== "string") throw new SafetensorsError(label, `__metadata__["${k}"] must be a string`);
  }
  return raw as Record<string, string>;
}

function parseEntry(label: string, name: string, raw: unknown, dataLen: number): TensorInfo {
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
    throw new SafetensorsError(label, "header entry must be an object {dtype, shape, data_offsets}", name);
  }
  const { dtype, shape, data_offsets: offsets } = raw as Record<string, unknown>;
  if (typeof dtype !== "string") throw new SafetensorsError(label, "missing or non-string dtype", name);
  if (!(dtype in DTYPE_BYTES)) {
    const why = KNOWN_UNSUPPORTED.has(dtype) ? "is not supported by this reader" : "is not a known safetensors dtype";
    throw new SafetensorsError(label, `dtype "${dtype}" ${why} (supported: ${Object.keys(DTYPE_BYTES).join(", ")})`, name);
  }
  if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
    throw new SafetensorsError(label, `shape must be an array of non-negative integers, got ${describeValue(shape)}`, name);
  }
  if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every((o) => Number.isSafeInteger(o) && o >= 0)) {
    throw new SafetensorsError(label, `data_offsets must be [begin, end] non-negative integers, got ${describeValue(offsets)}`, name);
  }
  const [begin, end] = offsets as [number, number];
  if (begin > end) throw new SafetensorsError(label, `data_offsets [${begin}, ${end}] are reversed`, name);
  if (end > dataLen) {
    throw new SafetensorsError(label, `data_offsets [${begin}, ${end}] run past the ${dataLen}-byte data area (truncated file?)`, name);
  }
  let elements = 1;
  for (const d of shape as number[]) elements *= d;
  const size = DTYPE_BYTES[dtype as DType];
  if (!Number.isSafeInteger(elements * size) || elements * size !== end - begin) {
    throw new SafetensorsError(label, `shape [${(shape as number[]).join(", ")}] × ${dtype} needs ${elements * size} bytes but data_offsets give ${end - begin}`, name);
  }
  return { name, dtype: dtype as DType, shape: shape as number[], begin, end };
}

/** Read a safetensors file from disk (Node, Deno, Bun). */
export async function readSafetensorsFile(path: string): Promise<SafetensorsFile> {
  const { readFile } = await import("node:fs/promises");
  let bytes: Uint8Array;
  try {
    bytes = await readFile(path);
  } catch (e) {
    throw new SafetensorsError(path, `cannot read file (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  return parseSafetensors(bytes, path);
}

/** A safetensors file opened on disk: the parsed header, a way to tell whether the file changed, and close. */
export interface OpenSafetensors {
  readonly file: SafetensorsFile;
  /** null while the file is as it was when opened; else what changed (size, modification time). */
  changed(): string | null;
  /** Close the file (idempotent). */
  close(): void;
}

/**
 * Open a safetensors file on disk without reading its data (Node, Deno, Bun): the header is parsed and
 * validated now, each tensor is read from the file when accessed (a fresh buffer per access). Lets a loader that
 * converts every tensor (int8 at load) hold one tensor at a time instead of the whole file. Call `close()`.
 */
export async function openSafetensorsFile(path: string): Promise<OpenSafetensors> {
  const fs = await import("node:fs");
  let fd: number;
  try {
    fd = fs.openSync(path, "r");
  } catch (e) {
    throw new SafetensorsError(path, `cannot read file (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  try {
    const opened = fs.fstatSync(fd);
    const size = opened.size;
    const read = (start: number, end: number, into?: Uint8Array): Uint8Array => {
      const out = into && into.byteLength >= end - start ? into.subarray(0, end - start) : new Uint8Array(end - start);
      let done = 0;
      while (done < out.byteLength) {
        const n = fs.readSync(fd, out, done, out.byteLength - done, start + done);
        if (n === 0) break;
        done += n;
      }
      return done === out.byteLength ? out : out.subarray(0, done);
    };
    const headerLen = headerLength(read(0, Math.min(8, size)), size, path);
    const file = parseWith(read(0, 8 + headerLen), size, path, read);
    const changed = (): string | null => {
      const now = fs.fstatSync(fd);
      if (now.size !== size) return `its size went from ${size} to ${now.size} bytes`;
      if (now.mtimeMs !== opened.mtimeMs) return `it was modified at ${new Date(now.mtimeMs).toISOString()}`;
      return null;
    };
    // Idempotent: a descriptor number closed twice may by then belong to another file.
    let closed = false;
    const close = () => {
      if (closed) return;
      closed = true;
      fs.closeSync(fd);
    };
    return { file, changed, close };
  } catch (e) {
    fs.closeSync(fd);
    throw e;
  }
}

/** Read a safetensors file from a fetch Response (browser, edge workers). */
export async function readSafetensorsResponse(response: Response, label = response.url || "<response>"): Promise<SafetensorsFile> {
  if (!response.ok) throw new SafetensorsError(label, `HTTP ${response.status} ${response.statusText}`);
  return parseSafetensors(new Uint8Array(await response.arrayBuffer()), label);
}

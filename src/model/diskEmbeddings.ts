/**
 * The word-embedding table left in model.safetensors (load option `embeddings: "disk"`): each encode reads the
 * rows its tokens need from the open file (one positional read per distinct token, ~768 bytes int8 or 3 KB
 * float32) instead of holding the table (vocab × hidden: ~94 MiB int8 and ~375 MiB float32 in base) in memory.
 *
 * The rows come out exactly as the in-memory table gives them: float rows as stored, int8 rows dequantized with
 * their scale, and a float file quantized at load (`quantize: "int8"`) quantized row by row on read — per-row
 * scales make that identical to quantizing the whole table at load. The whole tensor is validated at load like
 * any weight; each encode checks that the file's size and modification time are still those seen at load, and
 * every row read is checked again, so a file replaced in place fails with a WeightsError instead of feeding the
 * encoder other weights.
 */
import { Gliner2Error, WeightsError } from "../errors.js";
import { firstNonFinite, quantizeRows } from "../kernels/index.js";
import { halfToFloat, type ByteReader, type DType, type SafetensorsFile } from "./safetensors.js";

/** The file a disk table reads from: the loader's open handle (`openSafetensorsFile`). */
export interface EmbeddingFile {
  changed(): string | null;
  close(): void;
}

export interface DiskEmbeddings {
  readonly kind: "disk";
  readonly rows: number;
  readonly cols: number;
  /** dst[t·cols …] = row ids[t] for t < count (ids already checked against `rows`). */
  gather(ids: ArrayLike<number>, count: number, dst: Float32Array): void;
  /** Close the file (idempotent); a later `gather` throws. */
  close(): void;
}

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
const BYTES: Partial<Record<DType, number>> = { F32: 4, F16: 2, BF16: 2, I8: 1 };
/** Rows per read while validating the table at load (~4 MB of float32 rows in base). */
const CHECK_BYTES = 1 << 22;

/**
 * Leave tensor `name` `[rows, cols]` of `st` (opened from disk) in the file. `quantize`: the load plan makes the
 * table int8 (a float file is then quantized row by row on read); `scales`: the validated per-row scales of an
 * I8 tensor. Validates every value now (finite floats; int8 in [−127, 127]).
 */
export function diskEmbeddings(st: SafetensorsFile, name: string, rows: number, cols: number, file: EmbeddingFile, quantize: boolean, scales: Float32Array | null): DiskEmbeddings {
  const where = st.onDisk(name);
  if (where === null) throw new Error(`internal: ${st.label} is not open on disk`);
  const dtype = st.info(name).dtype;
  const size = BYTES[dtype];
  if (size === undefined || (dtype === "I8") !== (scales !== null)) throw new WeightsError(name, `is stored ${dtype} in ${st.label}; an embedding table left on disk must be F32, F16, BF16 or I8 with scales`);
  const rowBytes = cols * size;
  const { read, offset } = where;
  const label = st.label;
  const decoded = new Float32Array(cols);
  const q = new Int8Array(cols);
  const s = new Float32Array(1);

  const bits = new Uint32Array(1);
  const bf16 = new Float32Array(bits.buffer);
  /** Value k of float data viewed by `view` (F32, F16 or BF16, little-endian). */
  const floatAt = (view: DataView, k: number): number => {
    if (dtype === "F32") return view.getFloat32(4 * k, true);
    if (dtype === "F16") return halfToFloat(view.getUint16(2 * k, true));
    bits[0] = view.getUint16(2 * k, true) << 16;
    return bf16[0];
  };

  /** Rows [r0, r0 + n) as raw bytes → the first non-finite (or −128) value, or null. */
  const firstBad = (bytes: Uint8Array, r0: number, n: number): { row: number; col: number; value: number } | null => {
    const at = (i: number, value: number) => ({ row: r0 + Math.floor(i / cols), col: i % cols, value });
    if (dtype === "I8") {
      const i = new Int8Array(bytes.buffer, bytes.byteOffset, n * cols).indexOf(-128);
      return i < 0 ? null : at(i, -128);
    }
    if (dtype === "F32" && LITTLE_ENDIAN && bytes.byteOffset % 4 === 0) {
      const f = new Float32Array(bytes.buffer, bytes.byteOffset, n * cols);
      const i = firstNonFinite(f);
      return i < 0 ? null : at(i, f[i]);
    }
    const view = new DataView(bytes.buffer, bytes.byteOffset, n * rowBytes);
    for (let i = 0; i < n * cols; i++) {
      const v = floatAt(view, i);
      if (!Number.isFinite(v)) return at(i, v);
    }
    return null;
  };
  const complain = (bad: { row: number; col: number; value: number }, context: string): never => {
    const why = dtype === "I8" ? "symmetric int8 uses [−127, 127]" : "weights must be finite numbers (corrupt or diverged checkpoint)";
    throw new WeightsError(name, `row ${bad.row}, column ${bad.col} is ${bad.value} in ${label}${context}; ${why}`);
  };

  /** Row r's checked raw bytes → dst[o …], as the in-memory table would give it. */
  const decode = (bytes: Uint8Array, r: number, dst: Float32Array, o: number): void => {
    if (dtype === "I8") {
      const scale = scales![r];
      for (let k = 0; k < cols; k++) dst[o + k] = ((bytes[k] << 24) >> 24) * scale;
      return;
    }
    const view = new DataView(bytes.buffer, bytes.byteOffset, rowBytes);
    for (let k = 0; k < cols; k++) decoded[k] = floatAt(view, k);
    if (!quantize) {
      dst.set(decoded, o);
      return;
    }
    quantizeRows(decoded, 1, cols, q, s);
    const scale = s[0];
    for (let k = 0; k < cols; k++) dst[o + k] = q[k] * scale;
  };

  // Validate the whole table now, a block of rows at a time, as loading it into memory would.
  {
    const step = Math.max(1, Math.floor(CHECK_BYTES / rowBytes));
    const buf = new Uint8Array(step * rowBytes);
    for (let r0 = 0; r0 < rows; r0 += step) {
      const n = Math.min(step, rows - r0);
      const bad = firstBad(readExactly(read, offset + r0 * rowBytes, n * rowBytes, buf, label, name), r0, n);
      if (bad !== null) complain(bad, "");
    }
  }

  const rowBuf = new Uint8Array(rowBytes);
  const handle = { open: true, file };
  const table: DiskEmbeddings = {
    kind: "disk",
    rows,
    cols,
    gather(ids, count, dst) {
      if (!handle.open) throw new Gliner2Error("DISPOSED", "this model was disposed: its embedding table's file is closed");
      const why = file.changed();
      if (why !== null) throw new WeightsError(name, `${label} changed on disk since the model was loaded (${why}); its word embeddings are read from it: load the model again`);
      const first = new Map<number, number>();
      for (let t = 0; t < count; t++) {
        const id = ids[t];
        const seen = first.get(id);
        if (seen !== undefined) {
          dst.copyWithin(t * cols, seen * cols, (seen + 1) * cols);
          continue;
        }
        first.set(id, t);
        const got = readExactly(read, offset + id * rowBytes, rowBytes, rowBuf, label, name);
        const bad = firstBad(got, id, 1);
        if (bad !== null) complain(bad, " (read at run time: the file changed since loading?)");
        decode(got, id, dst, t * cols);
      }
    },
    close() {
      closeHandle(handle);
      closer()?.unregister(handle);
    },
  };
  // A model dropped without dispose() still gives its file back when collected.
  closer()?.register(table, handle, handle);
  return table;
}

interface Handle {
  open: boolean;
  readonly file: EmbeddingFile;
}

function closeHandle(h: Handle): void {
  if (!h.open) return;
  h.open = false;
  h.file.close();
}

// Made on first use, and only where it exists (Cloudflare's workerd has no FinalizationRegistry; nor a file system).
let registry: FinalizationRegistry<Handle> | null | undefined;
function closer(): FinalizationRegistry<Handle> | null {
  if (registry === undefined) registry = typeof FinalizationRegistry === "function" ? new FinalizationRegistry<Handle>(closeHandle) : null;
  return registry;
}

function readExactly(read: ByteReader, start: number, bytes: number, into: Uint8Array, label: string, name: string): Uint8Array {
  const got = read(start, start + bytes, into);
  if (got.byteLength !== bytes) throw new WeightsError(name, `read ${got.byteLength} of ${bytes} bytes at offset ${start} of ${label} (file truncated?)`);
  return got;
}

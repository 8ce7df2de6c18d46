/**
 * Which files make a checkpoint, and the object `resolveCheckpoint` hands back. The object has the fields of
 * `CheckpointFiles` in src/checkpoint.ts (JSON as text, weights as bytes), so it can be passed to `loadModel`.
 */
import { DownloadError } from "../errors.js";
import type { NodeFs } from "./nodefs.js";

/** One file of the released layout, by its path relative to the checkpoint folder. */
export interface CheckpointFileSpec {
  readonly key: "config" | "encoderConfig" | "tokenizer" | "tokenizerConfig" | "weights";
  readonly path: string;
  /** Optional files may be absent (404 on the hub); the loader then uses defaults. */
  readonly optional: boolean;
  readonly binary: boolean;
  /**
   * Most bytes accepted for this file from a server, enforced while the bytes arrive (a hostile or broken
   * server cannot fill memory or disk). Far above the released files: configs are < 10 KB, tokenizer.json
   * 8.6 MB, the large checkpoint's weights ≈ 2 GB.
   */
  readonly maxBytes: number;
}

const MiB = 1024 * 1024;

/** Small files first, so a wrong repo or missing access fails before the large weights download starts. */
export const CHECKPOINT_FILE_SPECS: readonly CheckpointFileSpec[] = [
  { key: "config", path: "config.json", optional: false, binary: false, maxBytes: 16 * MiB },
  { key: "encoderConfig", path: "encoder_config/config.json", optional: false, binary: false, maxBytes: 16 * MiB },
  { key: "tokenizer", path: "tokenizer.json", optional: false, binary: false, maxBytes: 256 * MiB },
  { key: "tokenizerConfig", path: "tokenizer_config.json", optional: true, binary: false, maxBytes: 16 * MiB },
  { key: "weights", path: "model.safetensors", optional: false, binary: true, maxBytes: 8192 * MiB },
];

/** A checkpoint's files, read from a folder, a URL or the hub. */
export interface ResolvedCheckpoint {
  readonly config: string;
  readonly encoderConfig: string;
  readonly tokenizer: string;
  readonly tokenizerConfig?: string;
  readonly weights: Uint8Array;
  /** Where the files came from (folder path or URL), for error messages. */
  readonly source: string;
  /** The local folder holding the files (a hub snapshot folder after a download); absent for in-memory fetches. */
  readonly dir?: string;
  /** Hub commit the files belong to, when they came from the hub. */
  readonly commit?: string;
}

/** Raw bytes by spec key; absent keys are optional files that do not exist. */
export type FileBytes = Partial<Record<CheckpointFileSpec["key"], Uint8Array>>;

/** Build the result from raw bytes: JSON files decoded as UTF-8 (a BOM is dropped), weights kept as bytes. */
export function assembleCheckpoint(bytes: FileBytes, meta: { source: string; dir?: string; commit?: string }): ResolvedCheckpoint {
  const decoder = new TextDecoder(); // UTF-8, drops a leading BOM
  const text = (b: Uint8Array | undefined) => (b === undefined ? undefined : decoder.decode(b));
  const need = (key: CheckpointFileSpec["key"]): Uint8Array => {
    const b = bytes[key];
    if (b === undefined) throw new Error(`internal: required checkpoint file ${key} missing after download`);
    return b;
  };
  return {
    config: text(need("config"))!,
    encoderConfig: text(need("encoderConfig"))!,
    tokenizer: text(need("tokenizer"))!,
    tokenizerConfig: text(bytes.tokenizerConfig),
    weights: need("weights"),
    source: meta.source,
    dir: meta.dir,
    commit: meta.commit,
  };
}

/**
 * Read a checkpoint folder. A missing required file is a DownloadError naming its full path and the layout
 * expected, so a wrong folder is obvious.
 */
export async function readCheckpointFolder(dir: string, fs: NodeFs, meta: { source?: string; commit?: string } = {}): Promise<ResolvedCheckpoint> {
  const bytes: FileBytes = {};
  for (const spec of CHECKPOINT_FILE_SPECS) {
    const path = fs.path.join(dir, spec.path);
    try {
      const buf = await fs.promises.readFile(path);
      bytes[spec.key] = new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
    } catch (err) {
      const code = (err as { code?: string }).code;
      if (code === "ENOENT" && spec.optional) continue;
      const why = code === "ENOENT" ? "not found" : `cannot be read (${code ?? (err as Error).message})`;
      const layout = CHECKPOINT_FILE_SPECS.filter((s) => !s.optional).map((s) => s.path).join(", ");
      throw new DownloadError(`checkpoint file ${path} ${why}; a checkpoint folder holds ${layout}`, { cause: err });
    }
  }
  return assembleCheckpoint(bytes, { source: meta.source ?? dir, dir, commit: meta.commit });
}

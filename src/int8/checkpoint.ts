/**
 * Writing int8 checkpoints: the released layout (config.json, encoder_config/config.json, tokenizer.json,
 * tokenizer_config.json, model.safetensors) with the planned 2-D weights stored as
 *   `<name>`        I8  [rows, cols]   q, in [−127, 127]
 *   `<name>.scale`  F32 [rows]         per-row scale: value ≈ q · scale[row]
 * (layout and rounding: src/kernels/int8.ts) and every other tensor copied unchanged. `__metadata__` records the
 * format (`gliner2.quantization`), the plan and the naming scheme. `loadModel`/`fromPretrained` recognise the I8
 * tensors by their dtype, so such a checkpoint loads as int8 with no option.
 */
import type { CheckpointFiles } from "../checkpoint.js";
import { CHECKPOINT_FILES, readCheckpointConfigs } from "../checkpoint.js";
import { Gliner2Error, InputError } from "../errors.js";
import { resolveCheckpoint, type ResolveOptions } from "../hub/index.js";
import type { Int8Rows } from "../kernels/int8.js";
import { openSafetensorsFile, parseSafetensors, type SafetensorsFile } from "../model/safetensors.js";
import { bytesOf, safetensorsLayout, type TensorSpec } from "../model/safetensorsWriter.js";
import { quantizeInChunks } from "../model/weights.js";
import { DEFAULT_INT8_PLAN, INT8_FORMAT, INT8_METADATA_KEY, planQuantizes, resolvePlan, SCALE_SUFFIX, type Int8Plan, type QuantizeOption } from "./plan.js";

export interface QuantizeStats {
  /** Tensors written as I8 (+ scale). */
  readonly quantized: number;
  /** Tensors copied unchanged. */
  readonly copied: number;
  readonly bytesIn: number;
  readonly bytesOut: number;
}

function planOf(opt: QuantizeOption | undefined): Int8Plan {
  let plan: Int8Plan | null;
  try {
    plan = resolvePlan(opt ?? "int8");
  } catch (e) {
    throw new InputError("quantize", (e as Error).message);
  }
  if (plan === null) throw new InputError("quantize", `"none" quantizes nothing; use "int8", "int8-embeddings" or a plan`);
  return plan;
}

/** One tensor of the output file and where its bytes come from. */
interface OutputTensor extends TensorSpec {
  readonly from: "copy" | "q" | "scale";
  /** The input tensor. */
  readonly source: string;
}

/** What the int8 file holds: planned 2-D float tensors as I8 + `.scale`, everything else copied. */
function outputTensors(st: SafetensorsFile, plan: Int8Plan): OutputTensor[] {
  const out: OutputTensor[] = [];
  for (const name of st.names()) {
    const info = st.info(name);
    const float = info.dtype === "F32" || info.dtype === "F16" || info.dtype === "BF16";
    if (float && info.shape.length === 2 && planQuantizes(plan, name)) {
      if (st.has(name + SCALE_SUFFIX)) throw new Gliner2Error("CHECKPOINT", `${st.label}: tensor "${name}" is float but "${name}${SCALE_SUFFIX}" already exists`);
      out.push({ name, dtype: "I8", shape: info.shape, from: "q", source: name });
      out.push({ name: name + SCALE_SUFFIX, dtype: "F32", shape: [info.shape[0]], from: "scale", source: name });
    } else {
      out.push({ name, dtype: info.dtype, shape: info.shape, from: "copy", source: name });
    }
  }
  return out;
}

function int8Metadata(st: SafetensorsFile, plan: Int8Plan): Record<string, string> {
  const metadata: Record<string, string> = {
    ...st.metadata,
    [INT8_METADATA_KEY]: INT8_FORMAT,
    [`${INT8_METADATA_KEY}.plan`]: JSON.stringify(plan),
    [`${INT8_METADATA_KEY}.layout`]:
      `an I8 tensor <name> [rows, cols] holds q in [-127, 127], its F32 tensor <name>${SCALE_SUFFIX} [rows] the per-row scale: value = q * scale[row]`,
  };
  if (metadata.format === undefined) metadata.format = "pt";
  return metadata;
}

/**
 * Write the int8 file tensor by tensor through `emit` (header first, then each tensor's bytes in file order).
 * Scales precede int8 data in the file (wider dtypes first), so each planned tensor is quantized once, when its
 * scale is due, and its int8 values wait for their turn; a float tensor is never held whole (row chunks).
 */
function emitQuantized(st: SafetensorsFile, plan: Int8Plan, emit: (bytes: Uint8Array) => void): { quantized: number; copied: number; bytes: number } {
  const specs = outputTensors(st, plan);
  const { header, order, dataBytes } = safetensorsLayout(specs, int8Metadata(st, plan));
  emit(header);
  const pending = new Map<string, Int8Rows>();
  const quantized = (name: string): Int8Rows => {
    let q = pending.get(name);
    if (!q) {
      const [rows, cols] = st.info(name).shape;
      q = quantizeInChunks(st, name, rows, cols);
      pending.set(name, q);
    }
    return q;
  };
  for (const t of order) {
    if (t.from === "copy") emit(st.raw(t.source));
    else if (t.from === "scale") emit(bytesOf(quantized(t.source).scales));
    else {
      emit(bytesOf(quantized(t.source).q));
      pending.delete(t.source);
    }
  }
  const q = specs.filter((t) => t.from === "q").length;
  return { quantized: q, copied: specs.length - 2 * q, bytes: header.length + dataBytes };
}

/** Quantize the weights of one parsed safetensors file per `plan`; returns the new file's bytes. */
export function quantizeSafetensors(st: SafetensorsFile, plan: Int8Plan = DEFAULT_INT8_PLAN): { bytes: Uint8Array; quantized: number; copied: number } {
  const parts: Uint8Array[] = [];
  const r = emitQuantized(st, plan, (b) => parts.push(b));
  const bytes = new Uint8Array(r.bytes);
  let o = 0;
  for (const p of parts) {
    bytes.set(p, o);
    o += p.byteLength;
  }
  return { bytes, quantized: r.quantized, copied: r.copied };
}

/** An int8 copy of a checkpoint held in memory (browsers, edge): same files, quantized weights. */
export function quantizeCheckpointFiles(files: CheckpointFiles, opts: { quantize?: QuantizeOption } = {}): CheckpointFiles & { stats: QuantizeStats } {
  const plan = planOf(opts.quantize);
  const weights = files.weights instanceof Uint8Array ? files.weights : new Uint8Array(files.weights);
  const label = files.source ? `${files.source.replace(/\/$/, "")}/${CHECKPOINT_FILES.weights}` : CHECKPOINT_FILES.weights;
  const { bytes, quantized, copied } = quantizeSafetensors(parseSafetensors(weights, label), plan);
  return {
    config: files.config,
    encoderConfig: files.encoderConfig,
    tokenizer: files.tokenizer,
    tokenizerConfig: files.tokenizerConfig,
    weights: bytes,
    source: files.source,
    stats: { quantized, copied, bytesIn: weights.byteLength, bytesOut: bytes.byteLength },
  };
}

/** Extra small files of a released checkpoint copied along when present. */
const EXTRA_FILES = ["special_tokens_map.json"];

/**
 * Read the checkpoint `source` (folder, URL or hub repo id), write its int8 version into the folder `outDir`
 * (created if needed). Node, Deno, Bun. Refuses to write into the source folder or over an existing
 * model.safetensors unless `overwrite`.
 */
export async function quantizeCheckpoint(
  source: string,
  outDir: string,
  opts: { quantize?: QuantizeOption; overwrite?: boolean; resolve?: ResolveOptions } = {},
): Promise<QuantizeStats> {
  const plan = planOf(opts.quantize);
  const fs = await import("node:fs/promises");
  const fsSync = await import("node:fs");
  const path = await import("node:path");
  const target = path.resolve(outDir);
  // A local folder is streamed (tensor by tensor, never the whole float file in memory); other sources are
  // fetched into memory by resolveCheckpoint.
  const local = !/^https?:\/\//i.test(source) && ((await fs.stat(source).catch(() => null))?.isDirectory() ?? false);
  const files = local ? { ...(await readCheckpointConfigs(source)), dir: source } : await resolveCheckpoint(source, opts.resolve);
  if (files.dir !== undefined && path.resolve(files.dir) === target) throw new InputError("out", `${target} is the source checkpoint folder; write the int8 checkpoint elsewhere`);
  const weightsPath = path.join(target, CHECKPOINT_FILES.weights);
  if (!opts.overwrite && (await fs.stat(weightsPath).catch(() => null)) !== null) {
    throw new InputError("out", `${weightsPath} already exists (pass overwrite / --force to replace it)`);
  }
  const text = (v: string | object) => (typeof v === "string" ? v : JSON.stringify(v, null, 2));
  const write = async (rel: string, data: string | Uint8Array) => {
    const full = path.join(target, rel);
    await fs.mkdir(path.dirname(full), { recursive: true });
    // Write then rename, so a failed run never leaves a truncated file under the final name.
    await fs.writeFile(`${full}.tmp`, data);
    await fs.rename(`${full}.tmp`, full);
  };
  let stats: QuantizeStats;
  try {
    await write(CHECKPOINT_FILES.config, text(files.config));
    await write(CHECKPOINT_FILES.encoderConfig, text(files.encoderConfig));
    await write(CHECKPOINT_FILES.tokenizer, text(files.tokenizer));
    if (files.tokenizerConfig !== undefined) await write(CHECKPOINT_FILES.tokenizerConfig, text(files.tokenizerConfig));
    if (files.dir !== undefined) {
      for (const extra of EXTRA_FILES) {
        const data = await fs.readFile(path.join(files.dir, extra)).catch(() => null);
        if (data !== null) await write(extra, data);
      }
    }
    if ("weights" in files && files.weights !== undefined) {
      const result = quantizeCheckpointFiles(files as CheckpointFiles, { quantize: plan });
      await write(CHECKPOINT_FILES.weights, result.weights as Uint8Array);
      stats = result.stats;
    } else {
      const input = path.join(source, CHECKPOINT_FILES.weights);
      const { file, close } = await openSafetensorsFile(input);
      const tmp = `${weightsPath}.tmp`;
      const fd = fsSync.openSync(tmp, "w");
      let r: { quantized: number; copied: number; bytes: number };
      try {
        r = emitQuantized(file, plan, (bytes) => {
          for (let done = 0; done < bytes.byteLength; ) done += fsSync.writeSync(fd, bytes, done, bytes.byteLength - done);
        });
      } finally {
        fsSync.closeSync(fd);
        close();
      }
      await fs.rename(tmp, weightsPath);
      stats = { quantized: r.quantized, copied: r.copied, bytesIn: (await fs.stat(input)).size, bytesOut: r.bytes };
    }
  } catch (e) {
    if (e instanceof Gliner2Error) throw e;
    throw new Gliner2Error("CHECKPOINT", `cannot write the int8 checkpoint to ${target} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`, { cause: e });
  }
  return stats;
}

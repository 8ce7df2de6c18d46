/**
 * Native context row: the same encoder graph in onnxruntime-node (ONNX Runtime's C++ CPU build), when that
 * optional bench-only package is installed. Unlike onnxruntime-web, sessions with different thread counts live
 * side by side in one process.
 */
import { ATTENTION_MASK, INPUT_IDS, LAST_HIDDEN_STATE } from "./onnxEncoder.js";

export interface OrtNodeEncoder {
  version: string;
  threads: number;
  run(ids: ArrayLike<number>, mask: ArrayLike<number>): Promise<Float32Array>;
  release(): Promise<void>;
}

/** Sessions for each thread count, or null when onnxruntime-node is not installed or will not load here. */
export async function ortNodeEncoders(model: Uint8Array, batch: number, length: number, threadCounts: number[]): Promise<OrtNodeEncoder[] | null> {
  let ort: typeof import("onnxruntime-node");
  try {
    ort = await import("onnxruntime-node");
  } catch {
    return null;
  }
  // The binding wants its own (non-shared) buffer.
  const bytes = model.buffer instanceof ArrayBuffer ? model : new Uint8Array(model);
  const out: OrtNodeEncoder[] = [];
  for (const threads of threadCounts) {
    const session = await ort.InferenceSession.create(bytes, { executionProviders: ["cpu"], graphOptimizationLevel: "all", intraOpNumThreads: threads, interOpNumThreads: 1, executionMode: "sequential" });
    const int64 = (v: ArrayLike<number>) => new ort.Tensor("int64", BigInt64Array.from(Array.from(v, BigInt)), [batch, length]);
    out.push({
      version: ort.env.versions?.node ?? "?",
      threads,
      run: async (ids, mask) => (await session.run({ [INPUT_IDS]: int64(ids), [ATTENTION_MASK]: int64(mask) }))[LAST_HIDDEN_STATE].data as Float32Array,
      release: () => session.release(),
    });
  }
  return out;
}

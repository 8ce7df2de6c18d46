/**
 * Run an encoder ONNX model (see onnxEncoder.ts) in onnxruntime-web's WebAssembly build, in this thread.
 * onnxruntime-web fixes its thread count when its WebAssembly module first starts, once per JS realm: to
 * compare 1 and 2 threads in one process, the bench runs each in its own worker thread (ortEncoderWorker.ts).
 */
import { ATTENTION_MASK, INPUT_IDS, LAST_HIDDEN_STATE } from "./onnxEncoder.js";

export interface OrtEncoder {
  /** onnxruntime-web's version. */
  version: string;
  /** Threads its WebAssembly module actually started with. */
  threads: number;
  /** Last hidden state `[batch, length, hidden]` for int ids and 0/1 mask (`[batch·length]`). */
  run(ids: ArrayLike<number>, mask: ArrayLike<number>): Promise<Float32Array>;
  release(): Promise<void>;
}

/** A session on `model`; `threads` applies only if this realm has not started onnxruntime-web yet. */
export async function ortEncoder(model: Uint8Array, batch: number, length: number, threads: number): Promise<OrtEncoder> {
  const ort = await import("onnxruntime-web");
  ort.env.wasm.numThreads = threads;
  const session = await ort.InferenceSession.create(model, { executionProviders: ["wasm"], graphOptimizationLevel: "all" });
  const int64 = (v: ArrayLike<number>) => new ort.Tensor("int64", BigInt64Array.from(Array.from(v, BigInt)), [batch, length]);
  return {
    version: ort.env.versions?.web ?? "?",
    threads: ort.env.wasm.numThreads ?? threads,
    async run(ids, mask) {
      if (ids.length !== batch * length || mask.length !== batch * length) throw new Error(`ortEncoder: expected ${batch}×${length} ids and mask values`);
      const out = await session.run({ [INPUT_IDS]: int64(ids), [ATTENTION_MASK]: int64(mask) });
      return out[LAST_HIDDEN_STATE].data as Float32Array;
    },
    release: () => session.release(),
  };
}

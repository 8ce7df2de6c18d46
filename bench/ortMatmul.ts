/**
 * The kernel-level peer: onnxruntime-web (its WebAssembly SIMD build, run in Node) on one MatMul node,
 * y[M, N] = x[M, K]·W[K, N] with W an initializer. The ONNX model is written by hand (peers/onnx.ts).
 */
import { DT, graphBuilder } from "./peers/onnx.js";

/** ModelProto bytes for Y = X·W (opset 17), W [K, N] row-major. */
export function matmulModel(M: number, K: number, N: number, W: Float32Array): Uint8Array {
  const g = graphBuilder();
  g.op("MatMul", ["X", g.init("W", [K, N], W)], {}, "Y");
  return g.model([{ name: "X", type: DT.FLOAT, dims: [M, K] }], [{ name: "Y", type: DT.FLOAT, dims: [M, N] }]);
}

export interface OrtMatmul {
  version: string;
  /** One run; resolves with Y. */
  run(): Promise<Float32Array>;
  release(): Promise<void>;
}

/** A one-node session on `threads` threads; null when onnxruntime-web is not installed. */
export async function ortMatmul(M: number, K: number, N: number, W: Float32Array, X: Float32Array, threads: number): Promise<OrtMatmul | null> {
  let ort: typeof import("onnxruntime-web");
  try {
    ort = await import("onnxruntime-web");
  } catch {
    return null;
  }
  ort.env.wasm.numThreads = threads;
  const session = await ort.InferenceSession.create(matmulModel(M, K, N, W), { executionProviders: ["wasm"], graphOptimizationLevel: "all" });
  const feed = { X: new ort.Tensor("float32", X, [M, K]) };
  return {
    version: ort.env.versions?.web ?? "?",
    run: async () => (await session.run(feed)).Y.data as Float32Array,
    release: () => session.release(),
  };
}

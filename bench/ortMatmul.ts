/**
 * The kernel-level peer: onnxruntime-web (its WebAssembly SIMD build, run in Node) on one MatMul node,
 * y[M, N] = x[M, K]·W[K, N] with W an initializer. The ONNX model is written by hand: a few protobuf fields.
 */

type Bytes = number[];
const varint = (n: number): Bytes => {
  const out: Bytes = [];
  let v = BigInt(n);
  do {
    let b = Number(v & 0x7fn);
    v >>= 7n;
    if (v) b |= 0x80;
    out.push(b);
  } while (v);
  return out;
};
const tag = (field: number, wire: number) => varint((field << 3) | wire);
const int = (field: number, n: number): Bytes => [...tag(field, 0), ...varint(n)];
const bytes = (field: number, b: ArrayLike<number>): Bytes => [...tag(field, 2), ...varint(b.length), ...Array.from(b)];
const str = (field: number, s: string): Bytes => bytes(field, new TextEncoder().encode(s));

/** ValueInfoProto: name + float tensor type with fixed dims. */
function valueInfo(name: string, dims: number[]): Bytes {
  const shape = dims.flatMap((d) => bytes(1, int(1, d))); // TensorShapeProto.dim { dim_value }
  const tensorType = [...int(1, 1 /* FLOAT */), ...bytes(2, shape)];
  return [...str(1, name), ...bytes(2, bytes(1, tensorType))];
}

/** ModelProto bytes for Y = X·W (opset 17), W [K, N] row-major. */
export function matmulModel(M: number, K: number, N: number, W: Float32Array): Uint8Array {
  const initializer = [...int(1, K), ...int(1, N), ...int(2, 1 /* FLOAT */), ...str(8, "W"), ...bytes(9, new Uint8Array(W.buffer, W.byteOffset, W.byteLength))];
  const node = [...str(1, "X"), ...str(1, "W"), ...str(2, "Y"), ...str(3, "mm"), ...str(4, "MatMul")];
  const graph = [...bytes(1, node), ...str(2, "g"), ...bytes(5, initializer), ...bytes(11, valueInfo("X", [M, K])), ...bytes(12, valueInfo("Y", [M, N]))];
  return new Uint8Array([...int(1, 8 /* IR version */), ...bytes(8, [...str(1, ""), ...int(2, 17)]), ...bytes(7, graph)]);
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

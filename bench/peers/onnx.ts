/**
 * Just enough of ONNX's ModelProto to write a graph by hand: typed initializers, nodes with int / float / ints
 * attributes, fixed-shape inputs and outputs (field numbers from onnx.proto).
 */
import { bytesField, floatField, flatten, intField, messageField, stringField, type Message } from "./protobuf.js";

/** TensorProto.DataType values used here. */
export const DT = { FLOAT: 1, INT64: 7, BOOL: 9 } as const;
export type DataType = (typeof DT)[keyof typeof DT];

export type Attr = number | number[] | { float: number };

export interface GraphBuilder {
  /** Add an initializer; returns its name. */
  init(name: string, dims: readonly number[], data: Float32Array | BigInt64Array): string;
  /** Add a node; returns the names of its outputs (`outputs` fresh names, or the names given). */
  node(op: string, inputs: readonly string[], attrs?: Record<string, Attr>, outputs?: number | readonly string[]): string[];
  /** Shorthand for a one-output node (`output`: its name, fresh by default). */
  op(op: string, inputs: readonly string[], attrs?: Record<string, Attr>, output?: string): string;
  /** The ModelProto (opset 17), flattened. */
  model(inputs: ValueInfo[], outputs: ValueInfo[], opts?: { shared?: boolean }): Uint8Array;
}

export interface ValueInfo {
  name: string;
  type: DataType;
  dims: readonly number[];
}

function tensorProto(name: string, dims: readonly number[], type: DataType, raw: Uint8Array): Message {
  return [...dims.flatMap((d) => intField(1, d)), ...intField(2, type), ...stringField(8, name), ...bytesField(9, raw)];
}

function attribute(name: string, value: Attr): Message {
  // AttributeProto: name 1, f 2, i 3, ints 8, type 20 (FLOAT 1, INT 2, INTS 7)
  if (typeof value === "number") return [...stringField(1, name), ...intField(3, value), ...intField(20, 2)];
  if (Array.isArray(value)) return [...stringField(1, name), ...value.flatMap((v) => intField(8, v)), ...intField(20, 7)];
  return [...stringField(1, name), ...floatField(2, value.float), ...intField(20, 1)];
}

function valueInfo(v: ValueInfo): Message {
  const shape = v.dims.flatMap((d) => messageField(1, intField(1, d))); // TensorShapeProto.dim.dim_value
  const tensorType = [...intField(1, v.type), ...messageField(2, shape)];
  return [...stringField(1, v.name), ...messageField(2, messageField(1, tensorType))];
}

export function graphBuilder(): GraphBuilder {
  const nodes: Message[] = [];
  const inits: Message[] = [];
  const names = new Set<string>();
  let counter = 0;
  const fresh = (hint: string) => `${hint}_${counter++}`;
  const g: GraphBuilder = {
    init(name, dims, data) {
      if (names.has(name)) throw new Error(`initializer ${name} defined twice`);
      names.add(name);
      const type = data instanceof Float32Array ? DT.FLOAT : DT.INT64;
      const count = dims.reduce((a, b) => a * b, 1);
      if (count !== data.length) throw new Error(`initializer ${name}: ${data.length} values for dims [${dims.join(", ")}]`);
      inits.push(tensorProto(name, dims, type, new Uint8Array(data.buffer, data.byteOffset, data.byteLength)));
      return name;
    },
    node(op, inputs, attrs = {}, outputs = 1) {
      const outs = typeof outputs === "number" ? Array.from({ length: outputs }, () => fresh(op)) : [...outputs];
      nodes.push([
        ...inputs.flatMap((i) => stringField(1, i)),
        ...outs.flatMap((o) => stringField(2, o)),
        ...stringField(3, fresh(`n_${op}`)),
        ...stringField(4, op),
        ...Object.entries(attrs).flatMap(([k, v]) => messageField(5, attribute(k, v))),
      ]);
      return outs;
    },
    op: (op, inputs, attrs, output) => g.node(op, inputs, attrs, output === undefined ? 1 : [output])[0],
    model(inputs, outputs, opts = {}) {
      const graph = [
        ...nodes.flatMap((n) => messageField(1, n)),
        ...stringField(2, "g"),
        ...inits.flatMap((t) => messageField(5, t)),
        ...inputs.flatMap((v) => messageField(11, valueInfo(v))),
        ...outputs.flatMap((v) => messageField(12, valueInfo(v))),
      ];
      // ModelProto: ir_version 1 (8), producer_name 2, graph 7, opset_import 8 (domain "", version 17)
      const model = [...intField(1, 8), ...stringField(2, "gliner2-bench"), ...messageField(7, graph), ...messageField(8, [...stringField(1, ""), ...intField(2, 17)])];
      return flatten(model, opts.shared);
    },
  };
  return g;
}

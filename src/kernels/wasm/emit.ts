/**
 * A small WebAssembly binary emitter: enough of the format (LEB128, sections, core and 0xFD-prefixed SIMD opcodes)
 * to assemble the kernel module at load time in a few milliseconds, so the repository carries no .wasm blob and
 * needs no build step. Functions are written as straight-line calls on a `Code` builder; locals are numbered.
 * New kernels (an int8 one with `i32x4.dot_i16x8_s`, say) are added as further functions of the same module.
 */

/** Value types. */
export const I32 = 0x7f;
export const F32 = 0x7d;
export const F64 = 0x7c;
export const V128 = 0x7b;
export type ValType = typeof I32 | typeof F32 | typeof F64 | typeof V128;

export function uleb(n: number, out: number[]): void {
  n >>>= 0;
  do {
    let b = n & 0x7f;
    n >>>= 7;
    if (n !== 0) b |= 0x80;
    out.push(b);
  } while (n !== 0);
}

export function sleb(n: number, out: number[]): void {
  n |= 0;
  for (;;) {
    const b = n & 0x7f;
    n >>= 7;
    const done = (n === 0 && (b & 0x40) === 0) || (n === -1 && (b & 0x40) !== 0);
    out.push(done ? b : b | 0x80);
    if (done) return;
  }
}

/** Core opcodes used by the kernels (single byte). */
export const Op = {
  block: 0x02, loop: 0x03, if: 0x04, else: 0x05, end: 0x0b, br: 0x0c, brIf: 0x0d, return: 0x0f, call: 0x10,
  drop: 0x1a, select: 0x1b,
  localGet: 0x20, localSet: 0x21, localTee: 0x22,
  i32Load: 0x28, f32Load: 0x2a, i32Load8U: 0x2d, i32Store: 0x36, f32Store: 0x38, i32Store8: 0x3a, i32Store16: 0x3b,
  i32Const: 0x41, f32Const: 0x43, f64Const: 0x44,
  i32Eqz: 0x45, i32Eq: 0x46, i32Ne: 0x47, i32LtS: 0x48, i32GtS: 0x4a, i32LeS: 0x4c, i32GeS: 0x4e,
  f32Eq: 0x5b, f32Gt: 0x5e, f64Eq: 0x61, f64Lt: 0x63, f64Gt: 0x64,
  i32Add: 0x6a, i32Sub: 0x6b, i32Mul: 0x6c, i32And: 0x71, i32Or: 0x72, i32Shl: 0x74, i32ShrS: 0x75, i32ShrU: 0x76,
  f32Abs: 0x8b, f32Nearest: 0x90, f32Add: 0x92, f32Sub: 0x93, f32Mul: 0x94, f32Div: 0x95, f32Min: 0x96, f32Max: 0x97,
  f64Abs: 0x99, f64Neg: 0x9a, f64Nearest: 0x9e, f64Sqrt: 0x9f, f64Add: 0xa0, f64Sub: 0xa1, f64Mul: 0xa2, f64Div: 0xa3, f64Min: 0xa4, f64Max: 0xa5,
  i32TruncF32S: 0xa8, i32TruncF64S: 0xaa, f64ConvertI32S: 0xb7, f32DemoteF64: 0xb6, f64PromoteF32: 0xbb, f32ReinterpretI32: 0xbe,
} as const;

/** SIMD opcodes (after the 0xFD prefix, LEB128-encoded). */
export const Simd = {
  v128Load: 0x00, v128Load8x8S: 0x01, v128Load32Splat: 0x09, v128Store: 0x0b, v128Const: 0x0c,
  i32x4Splat: 0x11, f32x4Splat: 0x13, i32x4ExtractLane: 0x1b, f32x4ExtractLane: 0x1f, f32x4ReplaceLane: 0x20,
  f32x4Gt: 0x44, f32x4Ge: 0x46, v128And: 0x4e, f32x4Nearest: 0x6a, i32x4Shl: 0xab, i32x4Add: 0xae, i32x4TruncSatF32x4S: 0xf8,
  i32x4DotI16x8S: 0xba,
  i8x16Shuffle: 0x0d, f64x2Splat: 0x14, v128Store64Lane: 0x5b, f64x2PromoteLowF32x4: 0x5f, i16x8NarrowI32x4S: 0x85,
  f64x2Nearest: 0x94, f32x4Abs: 0xe0, f64x2Div: 0xf3, f64x2Min: 0xf4, f64x2Max: 0xf5, f64x2Pmin: 0xf6, f64x2Pmax: 0xf7, i32x4TruncSatF64x2SZero: 0xfc,
  f32x4Add: 0xe4, f32x4Sub: 0xe5, f32x4Mul: 0xe6, f32x4Min: 0xe8, f32x4Max: 0xe9,
  f32x4Eq: 0x41, i32x4AllTrue: 0xa3, v128Load32Zero: 0x5c, v128Load64Zero: 0x5d, v128Store32Lane: 0x5a, f32x4DemoteF64x2Zero: 0x5e,
  f64x2Add: 0xf0, f64x2Sub: 0xf1, f64x2Mul: 0xf2, f64x2ExtractLane: 0x21, v128Load16x4S: 0x03, f32x4ConvertI32x4S: 0xfa,
  i32x4MinS: 0xb6, i32x4MaxS: 0xb8, i8x16NarrowI16x8U: 0x66, i32x4Sub: 0xb1,
  v128Load16Splat: 0x08, v128Load16Lane: 0x55, v128Load32Lane: 0x56, i16x8ExtendLowI8x16S: 0x87,
  i32x4ExtendLowI16x8S: 0xa7, i32x4ExtendHighI16x8S: 0xa8, i8x16NarrowI16x8S: 0x65,
  /** Relaxed SIMD: a·b + c, fused or not at the engine's choice. */
  f32x4RelaxedMadd: 0x105,
  /** Relaxed SIMD: c + dot products of 4 bytes per lane, a as i8 and b as 7-bit (top bit set: engine-defined). */
  i32x4RelaxedDotI8x16I7x16AddS: 0x113,
} as const;

/** A function body under construction. Parameters are locals 0…n−1; `local()` adds more. */
export class Code {
  readonly bytes: number[] = [];
  private readonly extra: ValType[] = [];
  constructor(
    readonly params: readonly ValType[],
    readonly results: readonly ValType[] = [],
  ) {}

  local(type: ValType): number {
    this.extra.push(type);
    return this.params.length + this.extra.length - 1;
  }

  op(...b: number[]): this {
    for (const x of b) this.bytes.push(x);
    return this;
  }
  get(i: number): this {
    return this.op(Op.localGet).u(i);
  }
  set(i: number): this {
    return this.op(Op.localSet).u(i);
  }
  tee(i: number): this {
    return this.op(Op.localTee).u(i);
  }
  i32(n: number): this {
    this.op(Op.i32Const);
    sleb(n, this.bytes);
    return this;
  }
  f32(x: number): this {
    this.op(Op.f32Const);
    const b = new Uint8Array(new Float32Array([x]).buffer);
    return this.op(...b);
  }
  f64(x: number): this {
    this.op(Op.f64Const);
    const b = new Uint8Array(new Float64Array([x]).buffer);
    return this.op(...b);
  }
  /** Unsigned LEB128 immediate. */
  u(n: number): this {
    uleb(n, this.bytes);
    return this;
  }
  /** A memory access: opcode, log2 alignment, constant byte offset. */
  mem(opcode: number, align: number, offset = 0): this {
    return this.op(opcode).u(align).u(offset);
  }
  simd(opcode: number): this {
    return this.op(0xfd).u(opcode);
  }
  simdMem(opcode: number, align: number, offset = 0): this {
    return this.simd(opcode).u(align).u(offset);
  }
  /** Emit whatever `f` emits (keeps chains readable). */
  call(f: () => void): this {
    f();
    return this;
  }
  /** `local[i] += step` (i32). */
  inc(i: number, step: number | (() => void)): this {
    this.get(i);
    if (typeof step === "number") this.i32(step);
    else step();
    return this.op(Op.i32Add).set(i);
  }
  /**
   * `for (i = from; i < to; i += step) body()` (signed compare; `from` null keeps i as it is). Inside body,
   * branch depth 1 leaves the loop.
   */
  for(i: number, from: Expr | null, to: Expr, step: number, body: () => void): this {
    if (from !== null) this.expr(from).set(i);
    this.op(Op.block, 0x40, Op.loop, 0x40);
    this.get(i).expr(to).op(Op.i32GeS, Op.brIf).u(1);
    body();
    this.inc(i, step).op(Op.br).u(0).op(Op.end, Op.end);
    return this;
  }
  /** `if (cond) then() [else otherwise()]`, the condition already on the stack. */
  ifElse(then: () => void, otherwise?: () => void): this {
    this.op(Op.if, 0x40);
    then();
    if (otherwise) {
      this.op(Op.else);
      otherwise();
    }
    return this.op(Op.end);
  }
  expr(e: Expr): this {
    if (typeof e === "number") return this.i32(e);
    if (typeof e === "function") {
      e();
      return this;
    }
    return this.get(e.local);
  }

  /** The body as it goes in the code section: size, local declarations, instructions, end. */
  encode(): number[] {
    const body: number[] = [];
    // Group consecutive locals of one type.
    const groups: [number, ValType][] = [];
    for (const t of this.extra) {
      const last = groups[groups.length - 1];
      if (last && last[1] === t) last[0]++;
      else groups.push([1, t]);
    }
    uleb(groups.length, body);
    for (const [n, t] of groups) {
      uleb(n, body);
      body.push(t);
    }
    body.push(...this.bytes, Op.end);
    const out: number[] = [];
    uleb(body.length, out);
    out.push(...body);
    return out;
  }
}

/** An i32 operand: a constant, a local, or code that pushes it. */
export type Expr = number | { local: number } | (() => void);
export const L = (local: number): Expr => ({ local });

interface FuncImport {
  module: string;
  name: string;
  params: readonly ValType[];
  results: readonly ValType[];
}

/** Module assembly: imports (one memory, functions), functions, exports. Function indices: imports first. */
export class ModuleBuilder {
  private readonly funcImports: FuncImport[] = [];
  private readonly funcs: { code: Code; exportName?: string }[] = [];
  private memory: { min: number; max: number; shared: boolean } | null = null;

  importMemory(min: number, max: number, shared: boolean): void {
    this.memory = { min, max, shared };
  }
  /** Returns the function index. All imports must be declared before any function is added. */
  importFunc(module: string, name: string, params: readonly ValType[], results: readonly ValType[]): number {
    if (this.funcs.length > 0) throw new Error("emit: imports must come before functions");
    this.funcImports.push({ module, name, params, results });
    return this.funcImports.length - 1;
  }
  /** Reserve an index now (so functions can call each other), fill the body later via the returned Code. */
  func(code: Code, exportName?: string): number {
    this.funcs.push({ code, exportName });
    return this.funcImports.length + this.funcs.length - 1;
  }

  toBytes(): Uint8Array<ArrayBuffer> {
    const types: string[] = [];
    const typeIndex = (params: readonly ValType[], results: readonly ValType[]) => {
      const key = `${params.join(",")}:${results.join(",")}`;
      let i = types.indexOf(key);
      if (i < 0) i = types.push(key) - 1;
      return i;
    };
    const importTypes = this.funcImports.map((f) => typeIndex(f.params, f.results));
    const funcTypes = this.funcs.map((f) => typeIndex(f.code.params, f.code.results));

    const out: number[] = [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00];
    const section = (id: number, content: number[]) => {
      out.push(id);
      uleb(content.length, out);
      out.push(...content);
    };
    const name = (s: string, to: number[]) => {
      const b = new TextEncoder().encode(s);
      uleb(b.length, to);
      to.push(...b);
    };
    // 1: types
    const ts: number[] = [];
    uleb(types.length, ts);
    for (const key of types) {
      const [p, r] = key.split(":").map((s) => (s ? s.split(",").map(Number) : []));
      ts.push(0x60);
      uleb(p.length, ts);
      ts.push(...p);
      uleb(r.length, ts);
      ts.push(...r);
    }
    section(1, ts);
    // 2: imports
    const im: number[] = [];
    uleb(this.funcImports.length + (this.memory ? 1 : 0), im);
    if (this.memory) {
      name("env", im);
      name("memory", im);
      im.push(0x02, this.memory.shared ? 0x03 : 0x01);
      uleb(this.memory.min, im);
      uleb(this.memory.max, im);
    }
    this.funcImports.forEach((f, i) => {
      name(f.module, im);
      name(f.name, im);
      im.push(0x00);
      uleb(importTypes[i], im);
    });
    section(2, im);
    // 3: function declarations
    const fs: number[] = [];
    uleb(this.funcs.length, fs);
    for (const t of funcTypes) uleb(t, fs);
    section(3, fs);
    // 7: exports
    const ex: number[] = [];
    const exported = this.funcs.map((f, i) => [f.exportName, i] as const).filter(([n]) => n !== undefined);
    uleb(exported.length, ex);
    for (const [n, i] of exported) {
      name(n!, ex);
      ex.push(0x00);
      uleb(this.funcImports.length + i, ex);
    }
    section(7, ex);
    // 10: code
    const cs: number[] = [];
    uleb(this.funcs.length, cs);
    for (const f of this.funcs) cs.push(...f.code.encode());
    section(10, cs);
    return new Uint8Array(out);
  }
}

/**
 * The load-time weight check on the kernel module (every float tensor is checked as it is loaded; ../scan.ts
 * copies chunks into WebAssembly memory: a copy plus a SIMD pass is several times faster than a plain-JS loop
 * over the ~200 M values of a base model).
 *
 *   firstNonFinite(ptr, n) → index of the first NaN/±∞ in [ptr, ptr + 4n), or −1
 */
import { Code, F32, I32, Op, Simd, V128 } from "./emit.js";

export function firstNonFiniteKernel(): Code {
  const c = new Code([I32, I32], [I32]);
  const [p, n] = [0, 1];
  const i = c.local(I32), n16 = c.local(I32), ok = c.local(V128), v = c.local(V128), x = c.local(F32);
  // Blocks of 16 values: x − x is 0 for finite x and NaN otherwise; AND the lanes' self-equality over the block.
  c.get(n).i32(-16).op(Op.i32And).set(n16);
  c.i32(0).set(i);
  c.op(Op.block, 0x40, Op.loop, 0x40);
  c.get(i).get(n16).op(Op.i32GeS).op(Op.brIf).u(1);
  c.simd(Simd.v128Const).op(...new Array(16).fill(0xff)).set(ok);
  for (let q = 0; q < 4; q++) {
    c.get(p).get(i).i32(2).op(Op.i32Shl).op(Op.i32Add).simdMem(Simd.v128Load, 2, 16 * q).tee(v).get(v).simd(Simd.f32x4Sub).tee(v).get(v).simd(Simd.f32x4Eq);
    c.get(ok).simd(Simd.v128And).set(ok);
  }
  c.get(ok).simd(Simd.i32x4AllTrue).op(Op.i32Eqz).op(Op.brIf).u(1); // a bad value in this block: find it below
  c.inc(i, 16).op(Op.br).u(0).op(Op.end, Op.end);
  // From the block (or the tail) onwards, one value at a time.
  c.op(Op.block, 0x40, Op.loop, 0x40);
  c.get(i).get(n).op(Op.i32GeS).op(Op.brIf).u(1);
  c.get(p).get(i).i32(2).op(Op.i32Shl).op(Op.i32Add).mem(Op.f32Load, 2).set(x);
  c.get(x).get(x).op(Op.f32Sub).f32(0).op(Op.f32Eq).op(Op.i32Eqz).ifElse(() => c.get(i).op(Op.return));
  c.inc(i, 1).op(Op.br).u(0).op(Op.end, Op.end);
  c.i32(-1);
  return c;
}


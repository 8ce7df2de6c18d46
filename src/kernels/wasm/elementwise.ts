/**
 * Residual add + layer norm in the module, written to do exactly the arithmetic of the TypeScript reference
 * (../norm.ts: float64 mean and variance summed four ways, (s₀ + s₂) + (s₁ + s₃)) so they agree bit for bit; being
 * in WebAssembly lets worker threads share it (by rows). Vectorized: the residual on f32x4, the sums in two f64x2
 * accumulators (lanes = elements i mod 4), the normalisation two elements at a time in float64.
 * GELU is in ./gelu.ts.
 *
 *   addNorm(a, b, rows, dim, gamma, beta, eps, r0, r1)       a = LayerNorm(a + b) on rows [r0, r1) (b may be 0)
 */
import { Code, F64, I32, L, Op, Simd, V128 } from "./emit.js";

export function addNormKernel(): Code {
  const c = new Code([I32, I32, I32, I32, I32, I32, F64, I32, I32]);
  const [a, b, rows, dim, gamma, beta, eps, r0, r1] = [0, 1, 2, 3, 4, 5, 6, 7, 8];
  const r = c.local(I32), i = c.local(I32), row = c.local(I32), p = c.local(I32), dim4 = c.local(I32);
  const mean = c.local(F64), vr = c.local(F64), inv = c.local(F64);
  const s = [c.local(F64), c.local(F64), c.local(F64), c.local(F64)];
  const lo = c.local(V128), hi = c.local(V128), mv = c.local(V128), iv = c.local(V128), d = c.local(V128);
  void rows;
  const ZERO = new Array(16).fill(0);
  /** Byte address of element i of the row at `base` (a pointer expression). */
  const at = (base: () => void, plus = 0) => {
    base();
    c.get(i).i32(2).op(Op.i32Shl).op(Op.i32Add);
    if (plus) c.i32(plus * 4).op(Op.i32Add);
  };
  const aAt = (plus = 0) => at(() => c.get(a).get(row).op(Op.i32Add), plus);
  /** Two floats at byte address (on the stack) as f64x2. */
  const pair = (offset = 0) => c.simdMem(Simd.v128Load64Zero, 2, offset).simd(Simd.f64x2PromoteLowF32x4);
  /**
   * The row's four-way sum of `term` (elements as f64x2 on the stack → their terms), then of the scalar `scalarTerm`
   * for the tail, into (s₀ + s₂) + (s₁ + s₃).
   */
  const sum4 = (term: () => void, scalarTerm: () => void, into: number) => {
    c.simd(Simd.v128Const).op(...ZERO).set(lo);
    c.simd(Simd.v128Const).op(...ZERO).set(hi);
    c.for(i, 0, L(dim4), 4, () => {
      c.get(lo);
      aAt();
      pair();
      term();
      c.simd(Simd.f64x2Add).set(lo);
      c.get(hi);
      aAt();
      pair(8);
      term();
      c.simd(Simd.f64x2Add).set(hi);
    });
    c.get(lo).simd(Simd.f64x2ExtractLane).op(0).set(s[0]);
    c.get(lo).simd(Simd.f64x2ExtractLane).op(1).set(s[1]);
    c.get(hi).simd(Simd.f64x2ExtractLane).op(0).set(s[2]);
    c.get(hi).simd(Simd.f64x2ExtractLane).op(1).set(s[3]);
    // tail: element dim4 + t goes to s[t]
    for (let t = 0; t < 3; t++) {
      c.get(dim4).i32(t).op(Op.i32Add).get(dim).op(Op.i32LtS).ifElse(() => {
        c.get(s[t]);
        c.get(dim4).set(i);
        aAt(t);
        c.mem(Op.f32Load, 2).op(Op.f64PromoteF32);
        scalarTerm();
        c.op(Op.f64Add).set(s[t]);
      });
    }
    c.get(s[0]).get(s[2]).op(Op.f64Add).get(s[1]).get(s[3]).op(Op.f64Add).op(Op.f64Add);
    c.get(dim).op(Op.f64ConvertI32S).op(Op.f64Div).set(into);
  };
  const dd = c.local(F64);
  c.for(r, L(r0), L(r1), 1, () => {
    c.get(r).get(dim).op(Op.i32Mul).i32(2).op(Op.i32Shl).set(row);
    c.get(dim).i32(-4).op(Op.i32And).set(dim4);
    // residual: a += b in float32 (the Float32Array reference's rounding), four at a time
    c.get(b).ifElse(() => {
      c.for(i, 0, L(dim4), 4, () => {
        aAt();
        c.tee(p).get(p).simdMem(Simd.v128Load, 2);
        at(() => c.get(b).get(row).op(Op.i32Add));
        c.simdMem(Simd.v128Load, 2).simd(Simd.f32x4Add).simdMem(Simd.v128Store, 2);
      });
      c.for(i, L(dim4), L(dim), 1, () => {
        aAt();
        c.tee(p).get(p).mem(Op.f32Load, 2);
        at(() => c.get(b).get(row).op(Op.i32Add));
        c.mem(Op.f32Load, 2).op(Op.f32Add).mem(Op.f32Store, 2);
      });
    });
    sum4(() => {}, () => {}, mean);
    c.get(mean).simd(Simd.f64x2Splat).set(mv);
    sum4(
      () => c.get(mv).simd(Simd.f64x2Sub).tee(d).get(d).simd(Simd.f64x2Mul),
      () => c.get(mean).op(Op.f64Sub).tee(dd).get(dd).op(Op.f64Mul),
      vr,
    );
    c.f64(1).get(vr).get(eps).op(Op.f64Add).op(Op.f64Sqrt).op(Op.f64Div).set(inv);
    c.get(inv).simd(Simd.f64x2Splat).set(iv);
    // out = (x − mean)·inv·gamma + beta, two at a time, then an odd last element
    c.for(i, 0, () => c.get(dim).i32(-2).op(Op.i32And), 2, () => {
      aAt();
      c.tee(p).get(p);
      pair();
      c.get(mv).simd(Simd.f64x2Sub).get(iv).simd(Simd.f64x2Mul);
      at(() => c.get(gamma));
      pair();
      c.simd(Simd.f64x2Mul);
      at(() => c.get(beta));
      pair();
      c.simd(Simd.f64x2Add).simd(Simd.f32x4DemoteF64x2Zero).simdMem(Simd.v128Store64Lane, 2).op(0);
    });
    c.get(dim).i32(1).op(Op.i32And).ifElse(() => {
      c.get(dim).i32(1).op(Op.i32Sub).set(i);
      aAt();
      c.tee(p).get(p).mem(Op.f32Load, 2).op(Op.f64PromoteF32).get(mean).op(Op.f64Sub).get(inv).op(Op.f64Mul);
      at(() => c.get(gamma));
      c.mem(Op.f32Load, 2).op(Op.f64PromoteF32).op(Op.f64Mul);
      at(() => c.get(beta));
      c.mem(Op.f32Load, 2).op(Op.f64PromoteF32).op(Op.f64Add).op(Op.f32DemoteF64).mem(Op.f32Store, 2);
    });
  });
  return c;
}

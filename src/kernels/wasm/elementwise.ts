/**
 * Residual add + layer norm in the module, written to do exactly the float64 arithmetic of the TypeScript
 * reference (../norm.ts) so they agree bit for bit; being in WebAssembly lets worker threads share it (by rows).
 * GELU is in ./gelu.ts.
 *
 *   addNorm(a, b, rows, dim, gamma, beta, eps, r0, r1)       a = LayerNorm(a + b) on rows [r0, r1) (b may be 0)
 */
import { Code, F64, I32, L, Op } from "./emit.js";

export function addNormKernel(): Code {
  const c = new Code([I32, I32, I32, I32, I32, I32, F64, I32, I32]);
  const [a, b, rows, dim, gamma, beta, eps, r0, r1] = [0, 1, 2, 3, 4, 5, 6, 7, 8];
  const r = c.local(I32), i = c.local(I32), row = c.local(I32), p = c.local(I32);
  const mean = c.local(F64), vr = c.local(F64), dd = c.local(F64), inv = c.local(F64);
  void rows;
  const at = (base: () => void) => {
    base();
    c.get(i).i32(2).op(Op.i32Shl).op(Op.i32Add);
  };
  c.for(r, L(r0), L(r1), 1, () => {
    c.get(r).get(dim).op(Op.i32Mul).i32(2).op(Op.i32Shl).set(row);
    // residual: a += b (rounded to float32 like the Float32Array reference)
    c.get(b).ifElse(() => {
      c.for(i, 0, L(dim), 1, () => {
        at(() => c.get(a).get(row).op(Op.i32Add));
        c.tee(p).get(p).mem(Op.f32Load, 2);
        at(() => c.get(b).get(row).op(Op.i32Add));
        c.mem(Op.f32Load, 2).op(Op.f32Add).mem(Op.f32Store, 2);
      });
    });
    c.f64(0).set(mean);
    c.for(i, 0, L(dim), 1, () => {
      c.get(mean);
      at(() => c.get(a).get(row).op(Op.i32Add));
      c.mem(Op.f32Load, 2).op(Op.f64PromoteF32).op(Op.f64Add).set(mean);
    });
    c.get(mean).get(dim).op(Op.f64ConvertI32S).op(Op.f64Div).set(mean);
    c.f64(0).set(vr);
    c.for(i, 0, L(dim), 1, () => {
      at(() => c.get(a).get(row).op(Op.i32Add));
      c.mem(Op.f32Load, 2).op(Op.f64PromoteF32).get(mean).op(Op.f64Sub).set(dd);
      c.get(vr).get(dd).get(dd).op(Op.f64Mul).op(Op.f64Add).set(vr);
    });
    c.get(vr).get(dim).op(Op.f64ConvertI32S).op(Op.f64Div).set(vr);
    c.f64(1).get(vr).get(eps).op(Op.f64Add).op(Op.f64Sqrt).op(Op.f64Div).set(inv);
    // out = (x − mean)·inv·gamma + beta
    c.for(i, 0, L(dim), 1, () => {
      at(() => c.get(a).get(row).op(Op.i32Add));
      c.tee(p).get(p).mem(Op.f32Load, 2).op(Op.f64PromoteF32).get(mean).op(Op.f64Sub).get(inv).op(Op.f64Mul);
      at(() => c.get(gamma));
      c.mem(Op.f32Load, 2).op(Op.f64PromoteF32).op(Op.f64Mul);
      at(() => c.get(beta));
      c.mem(Op.f32Load, 2).op(Op.f64PromoteF32).op(Op.f64Add).op(Op.f32DemoteF64).mem(Op.f32Store, 2);
    });
  });
  return c;
}

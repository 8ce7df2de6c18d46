/**
 * Element-wise kernels in the module, written to do exactly the float64 arithmetic of the TypeScript reference
 * (../activations.ts erf/GELU, ../norm.ts layer norm, residual add) so they agree bit for bit; being in
 * WebAssembly lets worker threads share them (GELU on each thread's own output columns, layer norm by rows).
 *
 *   gelu(y, ldy, rows, n0, n1)                               y[m, n] = GELU(y[m, n]) for n in [n0, n1)
 *   addNorm(a, b, rows, dim, gamma, beta, eps, r0, r1)       a = LayerNorm(a + b) on rows [r0, r1) (b may be 0)
 */
import { Code, F64, I32, L, Op } from "./emit.js";

/** erf(x) in float64: W. J. Cody's rational approximations, the same operations as ../activations.ts. */
export function erfKernel(exp: number): Code {
  const c = new Code([F64], [F64]);
  const x = 0;
  const ax = c.local(F64), t = c.local(F64), n = c.local(F64), d = c.local(F64), r = c.local(F64);
  c.get(x).op(Op.f64Abs).set(ax);
  const signed = () => {
    // x < 0 ? r − 1 : 1 − r
    c.get(x).f64(0).op(Op.f64Lt).op(Op.if, F64);
    c.get(r).f64(1).op(Op.f64Sub);
    c.op(Op.else).f64(1).get(r).op(Op.f64Sub).op(Op.end);
  };
  c.get(ax).f64(0.5).op(Op.f64Lt).ifElse(() => {
    c.get(x).get(x).op(Op.f64Mul).set(t);
    const num = [0.1857777061846031526730, 3.161123743870565596947, 113.8641541510501556495, 377.4852376853020208137, 3209.377589138469472562];
    const den = [23.60129095234412093499, 244.0246379344441733056, 1282.616526077372275645, 2844.236833439170622273];
    // num = (((a0·t + a1)·t + a2)·t + a3)·t + a4
    c.f64(num[0]).get(t).op(Op.f64Mul);
    for (let i = 1; i < 5; i++) {
      c.f64(num[i]).op(Op.f64Add);
      if (i < 4) c.get(t).op(Op.f64Mul);
    }
    c.set(n);
    // den = (((t + b0)·t + b1)·t + b2)·t + b3
    c.get(t);
    for (let i = 0; i < 4; i++) {
      c.f64(den[i]).op(Op.f64Add);
      if (i < 3) c.get(t).op(Op.f64Mul);
    }
    c.set(d);
    c.get(x).get(n).op(Op.f64Mul).get(d).op(Op.f64Div).op(Op.return);
  });
  c.get(ax).f64(4).op(Op.f64Lt).ifElse(
    () => {
      const p = [0.5641884969886700891, 8.883149794388375941, 66.11919063714162948, 298.6351381974001311, 881.952221241769090, 1712.047612634070583, 2051.078377826071465, 1230.339354797997253, 2.153115354744038463e-8];
      const q = [15.74492611070983473, 117.6939508913124993, 537.1811018620098575, 1621.389574566690189, 3290.799235733459627, 4362.619090143247158, 3439.367674143721637, 1230.339354803749420];
      c.f64(p[8]).get(ax).op(Op.f64Mul).set(n);
      c.get(ax).set(d);
      for (let i = 0; i < 7; i++) {
        c.get(n).f64(p[i]).op(Op.f64Add).get(ax).op(Op.f64Mul).set(n);
        c.get(d).f64(q[i]).op(Op.f64Add).get(ax).op(Op.f64Mul).set(d);
      }
      c.get(ax).op(Op.f64Neg).get(ax).op(Op.f64Mul).op(Op.call).u(exp);
      c.get(n).f64(p[7]).op(Op.f64Add).get(d).f64(q[7]).op(Op.f64Add).op(Op.f64Div).op(Op.f64Mul).set(r);
    },
    () => {
      const p = [3.05326634961232344e-1, 3.60344899949804439e-1, 1.25781726111229246e-1, 1.60837851487422766e-2, 6.58749161529837803e-4, 1.63153871373020978e-2];
      const q = [2.56852019228982242, 1.87295284992346725, 5.27905102951428412e-1, 6.05183413124413191e-2, 2.33520497626869185e-3];
      c.f64(1).get(ax).get(ax).op(Op.f64Mul).op(Op.f64Div).set(t); // z
      c.f64(p[5]).get(t).op(Op.f64Mul).set(n);
      c.get(t).set(d);
      for (let i = 0; i < 4; i++) {
        c.get(n).f64(p[i]).op(Op.f64Add).get(t).op(Op.f64Mul).set(n);
        c.get(d).f64(q[i]).op(Op.f64Add).get(t).op(Op.f64Mul).set(d);
      }
      // rr = (z·(n + p4)) / (d + q4); r = exp(−ax·ax) / ax · (c − rr)
      c.get(t).get(n).f64(p[4]).op(Op.f64Add).op(Op.f64Mul).get(d).f64(q[4]).op(Op.f64Add).op(Op.f64Div).set(t);
      c.get(ax).op(Op.f64Neg).get(ax).op(Op.f64Mul).op(Op.call).u(exp).get(ax).op(Op.f64Div);
      c.f64(0.5641895835477562869).get(t).op(Op.f64Sub).op(Op.f64Mul).set(r);
    },
  );
  signed();
  return c;
}

export function geluKernel(erf: number): Code {
  const c = new Code([I32, I32, I32, I32, I32]);
  const [y, ldy, rows, n0, n1] = [0, 1, 2, 3, 4];
  const m = c.local(I32), n = c.local(I32), a = c.local(I32), v = c.local(F64);
  c.for(m, 0, L(rows), 1, () => {
    c.for(n, L(n0), L(n1), 1, () => {
      c.get(m).get(ldy).op(Op.i32Mul).get(n).op(Op.i32Add).i32(2).op(Op.i32Shl).get(y).op(Op.i32Add).set(a);
      c.get(a).mem(Op.f32Load, 2).op(Op.f64PromoteF32).set(v);
      // 0.5·v·(1 + erf(v·√½))
      c.get(a).f64(0.5).get(v).op(Op.f64Mul).f64(1).get(v).f64(Math.SQRT1_2).op(Op.f64Mul).op(Op.call).u(erf).op(Op.f64Add).op(Op.f64Mul);
      c.op(Op.f32DemoteF64).mem(Op.f32Store, 2);
    });
  });
  return c;
}

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

/**
 * GELU two values at a time (f64x2): the float64 operations of the TypeScript reference (../activations.ts
 * `geluErf` with `erfForGelu`, a rational erf with no exp) lane by lane, so the results agree bit for bit.
 *
 *   gelu(y, ldy, rows, n0, n1)    y[m, n] = GELU(y[m, n]) for n in [n0, n1)
 */
import { ERF_GELU_CLAMP, ERF_GELU_P, ERF_GELU_Q } from "../activations.js";
import { Code, I32, L, Op, Simd, V128 } from "./emit.js";

export function geluKernel(): Code {
  const c = new Code([I32, I32, I32, I32, I32]);
  const [y, ldy, rows, n0, n1] = [0, 1, 2, 3, 4];
  const m = c.local(I32), n = c.local(I32), a = c.local(I32);
  const v = c.local(V128), x = c.local(V128), t = c.local(V128), num = c.local(V128), den = c.local(V128);
  const splat = (k: number) => c.simd(Simd.v128Const).op(...f64x2Bytes(k));
  const op = (o: number) => () => c.simd(o);
  const mul = op(Simd.f64x2Mul), add = op(Simd.f64x2Add);

  /** GELU(v) on the stack. */
  const gelu = (v: number) => {
    // x = clamp(v·√½, ±C); t = x². pmax(x, −C) = x < −C ? −C : x and pmin(·, C) (one x64 instruction each, where
    // max/min take ~8) equal Math.max/Math.min here: x first keeps a NaN, and the bounds are not zeros.
    c.get(v).call(() => splat(Math.SQRT1_2)).call(mul);
    c.call(() => splat(-ERF_GELU_CLAMP)).simd(Simd.f64x2Pmax).call(() => splat(ERF_GELU_CLAMP)).simd(Simd.f64x2Pmin).tee(x);
    c.get(x).call(mul).set(t);
    splat(ERF_GELU_P[5]).set(num);
    splat(ERF_GELU_Q[5]).set(den);
    for (let i = 4; i >= 0; i--) {
      c.get(num).get(t).call(mul).call(() => splat(ERF_GELU_P[i])).call(add).set(num);
      c.get(den).get(t).call(mul).call(() => splat(ERF_GELU_Q[i])).call(add).set(den);
    }
    // 0.5·v·(1 + x·num/den)
    splat(0.5).get(v).call(mul);
    splat(1).get(x).get(num).call(mul).get(den).simd(Simd.f64x2Div).call(add);
    c.call(mul);
  };

  const v2 = c.local(V128);
  const rowAddress = () => c.get(m).get(ldy).op(Op.i32Mul).get(n).op(Op.i32Add).i32(2).op(Op.i32Shl).get(y).op(Op.i32Add).set(a);
  /** The two floats at a + offset as f64x2 into `dst`. */
  const loadPair = (dst: number, offset: number) => c.get(a).simdMem(Simd.v128Load64Zero, 2, offset).simd(Simd.f64x2PromoteLowF32x4).set(dst);
  /** GELU of `src`, demoted, back to a + offset. */
  const storePair = (src: number, offset: number) => {
    c.get(a);
    gelu(src);
    c.simd(Simd.f32x4DemoteF64x2Zero).simdMem(Simd.v128Store64Lane, 2, offset).op(0);
  };
  c.for(m, 0, L(rows), 1, () => {
    // quads of columns: two independent pairs per step, so their dependency chains overlap
    c.for(n, L(n0), () => c.get(n1).i32(3).op(Op.i32Sub), 4, () => {
      rowAddress();
      loadPair(v, 0);
      loadPair(v2, 8);
      storePair(v, 0);
      storePair(v2, 8);
    });
    // a last pair, then an odd last column
    c.get(n).i32(1).op(Op.i32Add).get(n1).op(Op.i32LtS).ifElse(() => {
      rowAddress();
      loadPair(v, 0);
      storePair(v, 0);
      c.inc(n, 2);
    });
    c.get(n).get(n1).op(Op.i32LtS).ifElse(() => {
      rowAddress();
      c.get(a).simdMem(Simd.v128Load32Zero, 2).simd(Simd.f64x2PromoteLowF32x4).set(v);
      c.get(a);
      gelu(v);
      c.simd(Simd.f32x4DemoteF64x2Zero).simdMem(Simd.v128Store32Lane, 2).op(0);
    });
  });
  return c;
}

function f64x2Bytes(k: number): number[] {
  return Array.from(new Uint8Array(new Float64Array([k, k]).buffer));
}

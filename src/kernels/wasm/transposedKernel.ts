/**
 * The `transposed` kernel of the module: Wᵀ applied to float rows straight from a layer's packed panels, float32
 * (./kernels.ts layout) or int8 (./int8Kernels.ts layouts); the caller is ./transposed.ts.
 *
 *   transposed(a, lda, rows, Nw, w, panelBytes, u, ldu, c0, c1, f32, scratch)
 *       u[r, k] = Σ_{n<Nw} a[r, n]·W[n, k] for k in chunks [c0, c1) of 8, float32 products and sums in order of n
 */
import { Code, I32, L, Op, Simd, V128 } from "./emit.js";

/**
 * Wᵀ applied to float rows without a transposed copy of W (`transposedTimes` in ../matmul.ts and ../int8.ts):
 * u[r, k] = Σ_n a[r, n]·W[n, k] (an int8 layer's a = v·scale already formed, W = q), one float32 multiply and add
 * per term in order of n — the references' arithmetic, vectorized over k (lanes never mix), so the same bits.
 * Chunks [c0, c1) of 8 inputs k over n < Nw (whole panels of 16 features, panelBytes apart; a's rows lda floats
 * apart). Per chunk, W[n, k…k+7] is gathered once for every n into `scratch` (Nw × 8 floats, L1-sized):
 *   float32 panels (./kernels.ts layout: 64 bytes per k, feature j of the panel at 4·j): eight floats 64 apart;
 *   int8 quads: two runs of 4 bytes 64 apart; int8 pairs: four runs of 2 bytes 32 apart (./int8.ts layouts),
 *   widened to float32;
 * then tiles of 4 rows (then single rows) × 8 k (two f32x4 accumulators a row) read it contiguously.
 * `f32` picks the float32 panels, else the runtime's int8 layout. int8 panels past N hold zeros, as do a's
 * columns there (+0 terms leave a sum that started at +0 unchanged); float32 callers pass whole panels only and
 * sum the last ones themselves.
 */
export function transposedKernel(quads = false): Code {
  const c = new Code([I32, I32, I32, I32, I32, I32, I32, I32, I32, I32, I32, I32]);
  const [a, lda, rows, Nw, w, panelBytes, u, ldu, c0, c1, f32, scratch] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11];
  const R = 4;
  const g = quads ? 4 : 2;
  const ch = c.local(I32), m = c.local(I32), p = c.local(I32), wp = c.local(I32), up = c.local(I32), sp = c.local(I32);
  const ap = Array.from({ length: R }, () => c.local(I32));
  const acc = Array.from({ length: R * 2 }, () => c.local(V128));
  const qv = c.local(V128), lo = c.local(V128), hi = c.local(V128), sv = c.local(V128);
  const ZERO = new Array(16).fill(0);
  c.get(lda).i32(2).op(Op.i32Shl).set(lda);
  // W[n, k…k+7] for feature j of the current panel (wp: the panel's k = 8·ch) into lo, hi
  const gatherI8 = (j: number) => {
    const off = (j >> 2) * 4 * g + (j & 3) * g;
    if (quads) {
      c.get(wp).simdMem(Simd.v128Load32Zero, 0, off).set(qv);
      c.get(wp).get(qv).simdMem(Simd.v128Load32Lane, 0, off + 64).op(1);
    } else {
      c.get(wp).simdMem(Simd.v128Load16Splat, 0, off).set(qv);
      for (let lane = 1; lane < 4; lane++) c.get(wp).get(qv).simdMem(Simd.v128Load16Lane, 0, off + 32 * lane).op(lane).set(qv);
      c.get(qv);
    }
    c.simd(Simd.i16x8ExtendLowI8x16S).set(qv);
    c.get(qv).simd(Simd.i32x4ExtendLowI16x8S).simd(Simd.f32x4ConvertI32x4S).set(lo);
    c.get(qv).simd(Simd.i32x4ExtendHighI16x8S).simd(Simd.f32x4ConvertI32x4S).set(hi);
  };
  const gatherF32 = (j: number) => {
    for (const [half, dst] of [[0, lo], [1, hi]] as const) {
      const off = 4 * j + 256 * half;
      c.get(wp).simdMem(Simd.v128Load32Zero, 2, off).set(dst);
      for (let lane = 1; lane < 4; lane++) c.get(wp).get(dst).simdMem(Simd.v128Load32Lane, 2, off + 64 * lane).op(lane).set(dst);
    }
  };
  // the chunk's W[n, k…k+7] for every n < Nw into scratch (32 bytes per n)
  const gather = (float: boolean) => {
    // chunk ch starts at k = 8·ch: 16·k bytes into every int8 panel, 64·k into a float32 one
    c.get(w).get(ch).i32(float ? 9 : 7).op(Op.i32Shl).op(Op.i32Add).set(wp);
    c.get(scratch).set(sp);
    c.for(p, 0, L(Nw), 16, () => {
      for (let j = 0; j < 16; j++) {
        if (float) gatherF32(j);
        else gatherI8(j);
        c.get(sp).get(lo).simdMem(Simd.v128Store, 4, 32 * j);
        c.get(sp).get(hi).simdMem(Simd.v128Store, 4, 32 * j + 16);
      }
      c.get(wp).get(panelBytes).op(Op.i32Add).set(wp);
      c.inc(sp, 512);
    });
  };
  const tile = (RR: number) => {
    for (let r = 0; r < RR; r++) {
      c.get(m).i32(r).op(Op.i32Add).get(lda).op(Op.i32Mul).get(a).op(Op.i32Add).set(ap[r]);
      c.simd(Simd.v128Const).op(...ZERO).set(acc[2 * r]);
      c.simd(Simd.v128Const).op(...ZERO).set(acc[2 * r + 1]);
    }
    c.get(scratch).set(sp);
    c.for(p, 0, L(Nw), 16, () => {
      for (let j = 0; j < 16; j++) {
        c.get(sp).simdMem(Simd.v128Load, 4, 32 * j).set(lo);
        c.get(sp).simdMem(Simd.v128Load, 4, 32 * j + 16).set(hi);
        for (let r = 0; r < RR; r++) {
          c.get(ap[r]).simdMem(Simd.v128Load32Splat, 2, 4 * j).set(sv);
          c.get(acc[2 * r]).get(sv).get(lo).simd(Simd.f32x4Mul).simd(Simd.f32x4Add).set(acc[2 * r]);
          c.get(acc[2 * r + 1]).get(sv).get(hi).simd(Simd.f32x4Mul).simd(Simd.f32x4Add).set(acc[2 * r + 1]);
        }
      }
      c.inc(sp, 512);
      for (let r = 0; r < RR; r++) c.inc(ap[r], 64);
    });
    for (let r = 0; r < RR; r++) {
      c.get(m).i32(r).op(Op.i32Add).get(ldu).op(Op.i32Mul).get(ch).i32(3).op(Op.i32Shl).op(Op.i32Add).i32(2).op(Op.i32Shl).get(u).op(Op.i32Add).set(up);
      c.get(up).get(acc[2 * r]).simdMem(Simd.v128Store, 2, 0);
      c.get(up).get(acc[2 * r + 1]).simdMem(Simd.v128Store, 2, 16);
    }
  };
  c.for(ch, L(c0), L(c1), 1, () => {
    c.get(f32).ifElse(() => gather(true), () => gather(false));
    c.for(m, 0, () => c.get(rows).i32(R - 1).op(Op.i32Sub), R, () => tile(R));
    c.for(m, null, L(rows), 1, () => tile(1));
  });
  return c;
}

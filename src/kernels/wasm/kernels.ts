/**
 * The kernel module, assembled at load by ./emit.ts. All pointers are byte addresses in the one imported memory;
 * all strides ("ld…") are in floats.
 *
 * Weight layout (shared by every tile shape): panels of 16 output features, zero-padded at the end,
 *   w[(p·K + k)·16 + j] = W[p·16 + j, k]
 * so each step over k reads 64 contiguous bytes. A tile covers TW = 4·V output features (V v128 accumulators per
 * row) and R rows: 2×16 (8 accumulators) for plain SIMD and for relaxed FMA, the shape that stays in V8's 16
 * vector registers (measured on Node 20/22/24: FMA 2×16 49–50 GFLOP/s, 4×8 46–48.5, 6×8 34–47). Each k block
 * sums from zero; its sums then go onto the bias or the partial sums in y. Partial tiles store lane by lane.
 *
 * Exports:
 *   linear(x, ldx, rows, K, w, bias, y, ldy, N, t0, t1)   y[m, n] = Σk x[m, k]·W[n, k] + bias[n], tiles [t0, t1)
 *   packRows(src, lds, rows, cols, dst)                    pack S[rows, cols] as W (N = rows, K = cols)
 *   packCols(src, lds, rows, cols, dst)                    pack Sᵀ (N = cols, K = rows)
 *   scoreRows(...)                                         disentangled bias + masked softmax of one head
 *   attention(params, u0, u1, scratch)                     whole attention of (batch, head) units [u0, u1)
 *   gelu                                                   GELU, see ./gelu.ts
 *   addNorm                                                residual add + layer norm, see ./elementwise.ts
 *   quantRows, linearI8, quantW8                           int8 linear layers (and weights quantized at load), see ./int8Kernels.ts
 *   transposed                                             Wᵀ·x from float32 or int8 panels, see ./transposedKernel.ts
 *   firstNonFinite(ptr, n)                                 load-time weight check, see ./scan.ts
 *   spanFill(start, end, W, K, inner, s0, s1, out)         rows [s0, s1) of the span hidden layer (see below)
 */
import { Code, F32, F64, I32, L, ModuleBuilder, Op, Simd, V128 } from "./emit.js";
import { addNormKernel } from "./elementwise.js";
import { geluKernel } from "./gelu.js";
import { firstNonFiniteKernel } from "./scan.js";
import { linearI8Kernel, quantRowsKernel, quantW8Kernel } from "./int8Kernels.js";
import { transposedKernel } from "./transposedKernel.js";

export interface KernelShape {
  /** Rows per tile. */
  readonly rows: number;
  /** v128 accumulators per row (tile width 4·V). */
  readonly vecs: number;
  /** Use f32x4.relaxed_madd. */
  readonly fma: boolean;
  /**
   * Depth of one pass over k (cache blocking): x's [rows, kc] slice stays in L2 while every tile uses it and a
   * tile's [kc, 16] weights stay in L1 across rows; each pass sums its block from zero and adds that onto the
   * bias or the partial sums in y. Equal to the reference's REFERENCE_BLOCK (../matmul.ts), whose two-level sums
   * it reproduces (a test checks both).
   */
  readonly kc: number;
  /** Rows per block (the outermost loop), so the [rows, kc] slice of x stays small whatever M and K. */
  readonly mb: number;
}

export const PLAIN_SHAPE: KernelShape = { rows: 2, vecs: 4, fma: false, kc: 256, mb: 128 };
export const RELAXED_SHAPE: KernelShape = { rows: 2, vecs: 4, fma: true, kc: 256, mb: 128 };
/** The relaxed kernel on engines that keep 12 accumulators in registers (./runtime.ts `relaxedShape`). */
export const RELAXED_TALL_SHAPE: KernelShape = { rows: 6, vecs: 2, fma: true, kc: 256, mb: 128 };

/** Panel width of the packed weights (floats). */
export const WASM_PANEL = 16;

/** Slots (i32, 4 bytes each) of the attention parameter block. */
export const AttnParam = {
  qkv: 0, ldqkv: 1, L: 2, d: 3, heads: 4, pkTable: 5, pqTable: 6, npos: 7, cBase: 8, ldc: 9, relIdx: 10,
  mask: 11, invScale: 12, flags: 13, ctx: 14, ldctx: 15, relOut: 16, probsOut: 17,
} as const;
export const ATTN_PARAM_WORDS = 18;

/** Scratch bytes one thread needs for attention at length L, head size d, `ldc` relative columns. */
export function attentionScratchBytes(L: number, d: number, ldc: number): number {
  const Lp = Math.ceil(L / 16) * 16;
  const dp = Math.ceil(d / 16) * 16;
  return 4 * (Lp * d + dp * L + L * Lp + 2 * L * ldc + ldc * d) + 256;
}

/** `flags` bit of the attention parameters: the position tables are int16 panels (see dequantPanels16Kernel). */
export const ATTN_INT16_TABLES = 4;

export function buildKernelModule(shape: KernelShape, memory: { min: number; max: number; shared: boolean }, int8Quads = false): Uint8Array<ArrayBuffer> {
  const mb = new ModuleBuilder();
  mb.importMemory(memory.min, memory.max, memory.shared);
  const linear = linearKernel(shape);
  const linearIdx = mb.func(linear, "linear");
  const packRows = packRowsKernel();
  const packRowsIdx = mb.func(packRows, "packRows");
  const packColsIdx = mb.func(packColsKernel(), "packCols");
  const scoreIdx = mb.func(scoreRowsKernel(), "scoreRows");
  const dequantIdx = mb.func(dequantPanels16Kernel());
  const headIdx = mb.func(attnHeadKernel(shape, { linear: linearIdx, packRows: packRowsIdx, packCols: packColsIdx, scoreRows: scoreIdx, dequant: dequantIdx }));
  mb.func(attentionKernel(headIdx), "attention");
  mb.func(geluKernel(), "gelu");
  mb.func(addNormKernel(), "addNorm");
  mb.func(quantRowsKernel(int8Quads), "quantRows");
  mb.func(linearI8Kernel(int8Quads), "linearI8");
  mb.func(transposedKernel(int8Quads), "transposed");
  mb.func(quantW8Kernel(), "quantW8");
  mb.func(firstNonFiniteKernel(), "firstNonFinite");
  mb.func(spanFillKernel(), "spanFill");
  return mb.toBytes();
}

function linearKernel({ rows: R, vecs: V, fma, kc: KC, mb: MB }: KernelShape): Code {
  const c = new Code([I32, I32, I32, I32, I32, I32, I32, I32, I32, I32, I32]);
  const [x, ldx, rows, K, w, bias, y, ldy, N, t0, t1] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
  const TW = 4 * V;
  const t = c.local(I32), n0 = c.local(I32), wt = c.local(I32), m = c.local(I32), k = c.local(I32);
  const wp = c.local(I32), rem = c.local(I32), yp = c.local(I32);
  const xp = Array.from({ length: R }, () => c.local(I32));
  const acc = Array.from({ length: R * V }, () => c.local(V128));
  const wv = Array.from({ length: V }, () => c.local(V128));
  const xs = c.local(V128);
  const bv = Array.from({ length: V }, () => c.local(V128));
  const c0 = c.local(I32), kc = c.local(I32), mb0 = c.local(I32), mb1 = c.local(I32);

  // Strides to bytes.
  c.get(ldx).i32(2).op(Op.i32Shl).set(ldx);
  c.get(ldy).i32(2).op(Op.i32Shl).set(ldy);

  const rowPtr = (r: number) => c.get(m).i32(r).op(Op.i32Add).get(ldy).op(Op.i32Mul).get(y).op(Op.i32Add).get(n0).i32(2).op(Op.i32Shl).op(Op.i32Add).set(yp);
  const tile = (RR: number) => {
    const c0Bytes = () => c.get(c0).i32(2).op(Op.i32Shl);
    for (let r = 0; r < RR; r++) {
      c.get(m).i32(r).op(Op.i32Add).get(ldx).op(Op.i32Mul).get(x).op(Op.i32Add);
      c0Bytes();
      c.op(Op.i32Add).set(xp[r]);
    }
    // Every pass over a k block sums from zero; the block's sum is then added to the bias (first block) or to
    // the partial sums in y (two-level summation: float32 error grows with kc + K/kc terms, not K).
    for (let r = 0; r < RR; r++) for (let v = 0; v < V; v++) c.simd(Simd.v128Const).op(...new Array(16).fill(0)).set(acc[r * V + v]);
    c.get(wt).get(c0).i32(6).op(Op.i32Shl).op(Op.i32Add).set(wp).get(kc).set(k);
    c.get(k).i32(0).op(Op.i32GtS).ifElse(() => {
      c.op(Op.loop, 0x40);
      for (let v = 0; v < V; v++) c.get(wp).simdMem(Simd.v128Load, 4, 16 * v).set(wv[v]);
      for (let r = 0; r < RR; r++) {
        c.get(xp[r]).simdMem(Simd.v128Load32Splat, 2).set(xs);
        for (let v = 0; v < V; v++) {
          const a = acc[r * V + v];
          if (fma) c.get(xs).get(wv[v]).get(a).simd(Simd.f32x4RelaxedMadd).set(a);
          else c.get(a).get(xs).get(wv[v]).simd(Simd.f32x4Mul).simd(Simd.f32x4Add).set(a);
        }
      }
      for (let r = 0; r < RR; r++) c.inc(xp[r], 4);
      c.inc(wp, 64);
      c.get(k).i32(1).op(Op.i32Sub).tee(k).op(Op.brIf).u(0);
      c.op(Op.end);
    });
    c.get(c0).op(Op.i32Eqz).ifElse(
      () => {
        for (let r = 0; r < RR; r++) for (let v = 0; v < V; v++) c.get(acc[r * V + v]).get(bv[v]).simd(Simd.f32x4Add).set(acc[r * V + v]);
      },
      () => {
        for (let r = 0; r < RR; r++) {
          rowPtr(r);
          c.get(rem).i32(TW).op(Op.i32GeS).ifElse(
            () => {
              for (let v = 0; v < V; v++) c.get(acc[r * V + v]).get(yp).simdMem(Simd.v128Load, 2, 16 * v).simd(Simd.f32x4Add).set(acc[r * V + v]);
            },
            () => {
              // Lanes past the row's end add 0 (never stored).
              for (let v = 0; v < V; v++) {
                c.simd(Simd.v128Const).op(...new Array(16).fill(0)).set(xs);
                for (let q = 4 * v; q < 4 * v + 4; q++) {
                  c.i32(q).get(rem).op(Op.i32LtS);
                  c.ifElse(() => c.get(xs).get(yp).mem(Op.f32Load, 2, 4 * q).simd(Simd.f32x4ReplaceLane).op(q & 3).set(xs));
                }
                c.get(acc[r * V + v]).get(xs).simd(Simd.f32x4Add).set(acc[r * V + v]);
              }
            },
          );
        }
      },
    );
    for (let r = 0; r < RR; r++) {
      rowPtr(r);
      c.get(rem).i32(TW).op(Op.i32GeS).ifElse(
        () => {
          for (let v = 0; v < V; v++) c.get(yp).get(acc[r * V + v]).simdMem(Simd.v128Store, 4, 16 * v);
        },
        () => {
          for (let q = 1; q < TW; q++) {
            // Lane q is stored when q < rem; lane 0 always is (rem ≥ 1).
            c.i32(q).get(rem).op(Op.i32LtS);
            c.ifElse(() => c.get(yp).get(acc[r * V + (q >> 2)]).simd(Simd.f32x4ExtractLane).op(q & 3).mem(Op.f32Store, 2, 4 * q));
          }
          c.get(yp).get(acc[r * V]).simd(Simd.f32x4ExtractLane).op(0).mem(Op.f32Store, 2, 0);
        },
      );
    }
  };

  // for (mb0 = 0; mb0 < rows; mb0 += MB) for (t = t0; t < t1; t++) for (c0 = 0; ; c0 += KC) { kc = min(KC, K − c0);
  // row tiles…; if (c0 + KC ≥ K) break }. Tiles outer, k blocks inner: the weights are read as one sequential
  // stream (a panel's k blocks are adjacent, and so are the panels) — what the hardware prefetcher follows when
  // they come from DRAM, as a whole model's do — while the block of x rows stays in L2.
  c.for(mb0, 0, L(rows), MB, () => {
    c.get(mb0).i32(MB).op(Op.i32Add).set(mb1);
    c.get(mb1).get(rows).get(mb1).get(rows).op(Op.i32LtS).op(Op.select).set(mb1);
    c.for(t, L(t0), L(t1), 1, () => {
      c.get(t).i32(TW).op(Op.i32Mul).set(n0);
      // wt = w + (n0 >> 4)·K·64 + (n0 & 15)·4
      c.get(w).get(n0).i32(4).op(Op.i32ShrS).get(K).op(Op.i32Mul).i32(6).op(Op.i32Shl).op(Op.i32Add);
      c.get(n0).i32(15).op(Op.i32And).i32(2).op(Op.i32Shl).op(Op.i32Add).set(wt);
      c.get(N).get(n0).op(Op.i32Sub).set(rem);
      c.get(bias).op(Op.i32Eqz).ifElse(
        () => {
          for (let v = 0; v < V; v++) c.simd(Simd.v128Const).op(...new Array(16).fill(0)).set(bv[v]);
        },
        () => {
          for (let v = 0; v < V; v++) c.get(bias).get(n0).i32(2).op(Op.i32Shl).op(Op.i32Add).simdMem(Simd.v128Load, 2, 16 * v).set(bv[v]);
        },
      );
      c.i32(0).set(c0);
      c.op(Op.block, 0x40, Op.loop, 0x40);
      c.get(K).get(c0).op(Op.i32Sub).set(kc);
      c.i32(KC).get(kc).get(kc).i32(KC).op(Op.i32GtS).op(Op.select).set(kc);
      c.for(m, L(mb0), () => c.get(mb1).i32(R - 1).op(Op.i32Sub), R, () => tile(R));
      // The rows left over: pairs, then one (a tall tile's leftovers one by one cost up to ~6 % at 64 rows).
      if (R > 2) c.for(m, null, () => c.get(mb1).i32(1).op(Op.i32Sub), 2, () => tile(2));
      if (R > 1) c.for(m, null, L(mb1), 1, () => tile(1));
      c.inc(c0, KC);
      c.get(c0).get(K).op(Op.i32LtS).op(Op.brIf).u(0);
      c.op(Op.end, Op.end);
    });
  });
  return c;
}

/** dst[(p·cols + k)·16 + j] = S[p·16 + j, k] (0 past the last row). */
function packRowsKernel(): Code {
  const c = new Code([I32, I32, I32, I32, I32]);
  const [src, lds, rows, cols, dst] = [0, 1, 2, 3, 4];
  const p = c.local(I32), k = c.local(I32), j = c.local(I32), n = c.local(I32), o = c.local(I32);
  c.get(dst).set(o);
  c.for(p, 0, () => c.get(rows).i32(15).op(Op.i32Add).i32(4).op(Op.i32ShrS), 1, () => {
    c.for(k, 0, L(cols), 1, () => {
      c.for(j, 0, 16, 1, () => {
        c.get(p).i32(4).op(Op.i32Shl).get(j).op(Op.i32Add).set(n);
        c.get(o);
        c.get(n).get(rows).op(Op.i32LtS).op(Op.if, F32);
        c.get(n).get(lds).op(Op.i32Mul).get(k).op(Op.i32Add).i32(2).op(Op.i32Shl).get(src).op(Op.i32Add).mem(Op.f32Load, 2);
        c.op(Op.else).f32(0).op(Op.end);
        c.mem(Op.f32Store, 2);
        c.inc(o, 4);
      });
    });
  });
  return c;
}

/** dst[(p·rows + k)·16 + j] = S[k, p·16 + j] (0 past the last column): W = Sᵀ. */
function packColsKernel(): Code {
  const c = new Code([I32, I32, I32, I32, I32]);
  const [src, lds, rows, cols, dst] = [0, 1, 2, 3, 4];
  const p = c.local(I32), k = c.local(I32), j = c.local(I32), n = c.local(I32), o = c.local(I32);
  c.get(dst).set(o);
  c.for(p, 0, () => c.get(cols).i32(15).op(Op.i32Add).i32(4).op(Op.i32ShrS), 1, () => {
    c.for(k, 0, L(rows), 1, () => {
      c.for(j, 0, 16, 1, () => {
        c.get(p).i32(4).op(Op.i32Shl).get(j).op(Op.i32Add).set(n);
        c.get(o);
        c.get(n).get(cols).op(Op.i32LtS).op(Op.if, F32);
        c.get(k).get(lds).op(Op.i32Mul).get(n).op(Op.i32Add).i32(2).op(Op.i32Shl).get(src).op(Op.i32Add).mem(Op.f32Load, 2);
        c.op(Op.else).f32(0).op(Op.end);
        c.mem(Op.f32Store, 2);
        c.inc(o, 4);
      });
    });
  });
  return c;
}

/**
 * One head's scores (row stride lds) → probabilities, in place:
 *   s[i, j] = s[i, j]·invScale + (c2p[i, c] + p2c[j, c])·invScale,  c = relIdx[i − j + L − 1]
 * then softmax over the columns j with mask[j] ≠ 0; rows with mask[i] = 0 (or no real column) become uniform.
 * The scores are formed in f64 and the softmax runs on float32 SIMD lanes, operation for operation as the
 * reference's `softmaxRowsMasked` (../activations.ts: its `expf`, four partial sums, the float32 reciprocal), so
 * the probabilities are the reference's bits. relOut (0 = none) receives the bias term, row stride L.
 * Params: scores, lds, L, c2p, p2c, ldc, relIdx, invScale (f32), flags (1 = c2p, 2 = p2c), relOut, mask.
 */
function scoreRowsKernel(): Code {
  const c = new Code([I32, I32, I32, I32, I32, I32, I32, F32, I32, I32, I32]);
  const [scores, lds, Ln, c2p, p2c, ldc, relIdx, invScaleF, flags, relOut, mask] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
  const i = c.local(I32), j = c.local(I32), row = c.local(I32), ci = c.local(I32), a = c.local(I32);
  const rel = c.local(F64), inv = c.local(F64), mx = c.local(F64), sum = c.local(F64), e = c.local(F64), v = c.local(F64);
  const uniform = c.local(F32);
  const mxv = c.local(V128), sumv = c.local(V128), xv = c.local(V128), ev = c.local(V128), tv = c.local(V128), nv = c.local(V128);
  const jb = c.local(I32), je = c.local(I32), rp = c.local(I32), c2pRow = c.local(I32), p2cp = c.local(I32), ldcBytes = c.local(I32);
  void e;
  const sh2 = () => c.i32(2).op(Op.i32Shl);
  c.get(invScaleF).op(Op.f64PromoteF32).set(inv);
  c.f64(1).get(Ln).op(Op.f64ConvertI32S).op(Op.f64Div).op(Op.f32DemoteF64).set(uniform);
  const colAddr = () => c.get(row).get(j).i32(2).op(Op.i32Shl).op(Op.i32Add);
  const fillUniform = () => c.for(j, 0, L(Ln), 1, () => {
    colAddr();
    c.get(uniform).mem(Op.f32Store, 2);
  });
  const maskAt = (idx: number) => c.get(mask).get(idx).op(Op.i32Add).mem(Op.i32Load8U, 0);
  const setRow = () => {
    c.get(i).get(lds).op(Op.i32Mul);
    sh2();
    c.get(scores).op(Op.i32Add).set(row);
  };
  const generic = () => {
        c.for(j, L(jb), L(je), 1, () => {
          c.get(i).get(j).op(Op.i32Sub).get(Ln).op(Op.i32Add).i32(1).op(Op.i32Sub);
          sh2();
          c.get(relIdx).op(Op.i32Add).mem(Op.i32Load, 2).set(ci);
          c.f64(0).set(rel);
          c.get(flags).i32(1).op(Op.i32And).ifElse(() => {
            c.get(rel).get(i).get(ldc).op(Op.i32Mul).get(ci).op(Op.i32Add);
            sh2();
            c.get(c2p).op(Op.i32Add).mem(Op.f32Load, 2).op(Op.f64PromoteF32, Op.f64Add).set(rel);
          });
          c.get(flags).i32(2).op(Op.i32And).ifElse(() => {
            c.get(rel).get(j).get(ldc).op(Op.i32Mul).get(ci).op(Op.i32Add);
            sh2();
            c.get(p2c).op(Op.i32Add).mem(Op.f32Load, 2).op(Op.f64PromoteF32, Op.f64Add).set(rel);
          });
          c.get(rel).get(inv).op(Op.f64Mul).set(rel);
          c.get(relOut).ifElse(() => {
            c.get(i).get(Ln).op(Op.i32Mul).get(j).op(Op.i32Add);
            sh2();
            c.get(relOut).op(Op.i32Add).get(rel).op(Op.f32DemoteF64).mem(Op.f32Store, 2);
          });
          colAddr();
          c.set(a);
          // f32(s·inv + rel), or −∞ where the column is left out
          c.get(a);
          maskAt(j).op(Op.if, F32);
          c.get(a).mem(Op.f32Load, 2).op(Op.f64PromoteF32).get(inv).op(Op.f64Mul).get(rel).op(Op.f64Add).op(Op.f32DemoteF64);
          c.op(Op.else).f32(-Infinity).op(Op.end);
          c.mem(Op.f32Store, 2);
        });
  };
  // 1) scores with the relative bias, in blocks of 32 columns: p2c[j, c(i − j)] walks a diagonal, and within a
  // block the rows it touches stay in L1 from one i to the next. Left-out columns (mask 0) become −∞.
  c.for(jb, 0, L(Ln), 32, () => {
    c.get(jb).i32(32).op(Op.i32Add).set(je);
    c.get(je).get(Ln).get(je).get(Ln).op(Op.i32LtS).op(Op.select).set(je);
    c.for(i, 0, L(Ln), 1, () => {
      setRow();
      maskAt(i).ifElse(() => {
        // both relative terms (the usual case): pointers walk the operands, no per-element branches on flags
        c.get(flags).i32(3).op(Op.i32Eq).ifElse(
          () => {
            c.get(i).get(jb).op(Op.i32Sub).get(Ln).op(Op.i32Add).i32(1).op(Op.i32Sub);
            sh2();
            c.get(relIdx).op(Op.i32Add).set(rp);
            c.get(i).get(ldc).op(Op.i32Mul);
            sh2();
            c.get(c2p).op(Op.i32Add).set(c2pRow);
            c.get(jb).get(ldc).op(Op.i32Mul);
            sh2();
            c.get(p2c).op(Op.i32Add).set(p2cp);
            c.get(ldc).i32(2).op(Op.i32Shl).set(ldcBytes);
            c.for(j, L(jb), L(je), 1, () => {
              c.get(rp).mem(Op.i32Load, 2).i32(2).op(Op.i32Shl).set(ci);
              c.get(c2pRow).get(ci).op(Op.i32Add).mem(Op.f32Load, 2).op(Op.f64PromoteF32);
              c.get(p2cp).get(ci).op(Op.i32Add).mem(Op.f32Load, 2).op(Op.f64PromoteF32).op(Op.f64Add).get(inv).op(Op.f64Mul).set(rel);
              c.get(relOut).ifElse(() => {
                c.get(i).get(Ln).op(Op.i32Mul).get(j).op(Op.i32Add);
                sh2();
                c.get(relOut).op(Op.i32Add).get(rel).op(Op.f32DemoteF64).mem(Op.f32Store, 2);
              });
              colAddr();
              c.tee(a);
              maskAt(j).op(Op.if, F32);
              c.get(a).mem(Op.f32Load, 2).op(Op.f64PromoteF32).get(inv).op(Op.f64Mul).get(rel).op(Op.f64Add).op(Op.f32DemoteF64);
              c.op(Op.else).f32(-Infinity).op(Op.end);
              c.mem(Op.f32Store, 2);
              c.inc(rp, -4);
              c.inc(p2cp, () => c.get(ldcBytes));
            });
          },
          () => generic(),
        );
      });
    });
  });
  c.for(i, 0, L(Ln), 1, () => {
    setRow();
    maskAt(i).op(Op.i32Eqz).ifElse(fillUniform, () => {
      // Pad the row to whole quads with −∞ (the row stride is a multiple of 16), then its max.
      c.for(j, L(Ln), () => c.get(Ln).i32(3).op(Op.i32Add).i32(-4).op(Op.i32And), 1, () => {
        colAddr();
        c.f32(-Infinity).mem(Op.f32Store, 2);
      });
      f32x4(c, -Infinity).set(mxv);
      c.for(j, 0, L(Ln), 4, () => {
        colAddr();
        c.simdMem(Simd.v128Load, 2).get(mxv).simd(Simd.f32x4Max).set(mxv);
      });
      c.get(mxv).simd(Simd.f32x4ExtractLane).op(0).op(Op.f64PromoteF32).set(mx);
      for (let lane = 1; lane < 4; lane++) {
        c.get(mxv).simd(Simd.f32x4ExtractLane).op(lane).op(Op.f64PromoteF32).set(v);
        c.get(v).get(mx).op(Op.f64Gt).ifElse(() => c.get(v).set(mx));
      }
      c.get(mx).f64(-Infinity).op(0x61 /* f64.eq */).ifElse(fillUniform, () => {
        // 2) exponentials (float32 SIMD) and their sum; 3) normalise.
        c.get(mx).op(Op.f32DemoteF64).simd(Simd.f32x4Splat).set(mxv);
        c.simd(Simd.v128Const).op(...new Array(16).fill(0)).set(sumv);
        c.for(j, 0, L(Ln), 4, () => {
          colAddr();
          c.tee(a).simdMem(Simd.v128Load, 2).get(mxv).simd(Simd.f32x4Sub).set(xv);
          expQuad(c, xv, ev, tv, nv);
          c.get(a).get(ev).simdMem(Simd.v128Store, 2);
          c.get(sumv).get(ev).simd(Simd.f32x4Add).set(sumv);
        });
        c.f64(0);
        for (let lane = 0; lane < 4; lane++) c.get(sumv).simd(Simd.f32x4ExtractLane).op(lane).op(Op.f64PromoteF32).op(Op.f64Add);
        c.set(sum);
        c.f64(1).get(sum).op(Op.f64Div).op(Op.f32DemoteF64).simd(Simd.f32x4Splat).set(mxv);
        c.for(j, 0, L(Ln), 4, () => {
          colAddr();
          c.tee(a).get(a).simdMem(Simd.v128Load, 2).get(mxv).simd(Simd.f32x4Mul).simdMem(Simd.v128Store, 2);
        });
      });
    });
  });
  return c;
}

const f32x4 = (c: Code, k: number) => c.simd(Simd.v128Const).op(...new Uint8Array(new Float32Array([k, k, k, k]).buffer));

/**
 * e = exp(x) on four float32 lanes (Cephes' expf: x = n·ln2 + r, degree-6 polynomial, 2ⁿ from exponent bits),
 * within ~2 float32 ulps; lanes below −87 (including −∞) give exactly 0. The same operations as the reference's
 * `expf` (../activations.ts), so the same bits.
 */
function expQuad(c: Code, x: number, e: number, t: number, n: number): void {
  // keep = x ≥ −87 (all ones), then clamp x into the polynomial's range
  c.get(x).call(() => f32x4(c, -87)).simd(Simd.f32x4Ge).set(t);
  c.get(x).call(() => f32x4(c, -87)).simd(Simd.f32x4Max).call(() => f32x4(c, 88)).simd(Simd.f32x4Min).set(x);
  // n = round(x·log2e); r = x − n·C1 − n·C2
  c.get(x).call(() => f32x4(c, Math.LOG2E)).simd(Simd.f32x4Mul).simd(Simd.f32x4Nearest).set(n);
  c.get(x).get(n).call(() => f32x4(c, 0.693359375)).simd(Simd.f32x4Mul).simd(Simd.f32x4Sub);
  c.get(n).call(() => f32x4(c, -2.12194440e-4)).simd(Simd.f32x4Mul).simd(Simd.f32x4Sub).set(x);
  // p = (((((c0·r + c1)·r + c2)·r + c3)·r + c4)·r + c5)·r² + r + 1
  const coef = [1.9875691500e-4, 1.3981999507e-3, 8.3334519073e-3, 4.1665795894e-2, 1.6666665459e-1, 5.0000001201e-1];
  f32x4(c, coef[0]);
  for (let i = 1; i < coef.length; i++) c.get(x).simd(Simd.f32x4Mul).call(() => f32x4(c, coef[i])).simd(Simd.f32x4Add);
  c.get(x).get(x).simd(Simd.f32x4Mul).simd(Simd.f32x4Mul).get(x).simd(Simd.f32x4Add).call(() => f32x4(c, 1)).simd(Simd.f32x4Add);
  // · 2ⁿ, bits ((n + 127) << 23); then zero the lanes below −87
  c.get(n).simd(Simd.i32x4TruncSatF32x4S).i32(127).simd(Simd.i32x4Splat).simd(Simd.i32x4Add).i32(23).simd(Simd.i32x4Shl);
  c.simd(Simd.f32x4Mul).get(t).simd(Simd.v128And).set(e);
}

/**
 * One (batch, head) unit of attention, everything in memory:
 * params: q, k, v (head's first element, row stride ldqkv), ldqkv, L, d, pk, pq (posKey/posQuery of the head
 * packed over all npos relative rows), npos, cBase (first relative row used, a multiple of 16), ldc (columns
 * kept), relIdx (i32 relIdx[i − j + L − 1] − cBase), mask (u8 per token), invScale,
 * flags (1 = c2p, 2 = p2c, ATTN_INT16_TABLES = pk/pq are int16 panels, dequantized per call for the tiles in
 * use), scratch, ctx (head's first output element, row stride ldctx), ldctx, relOut, probsOut.
 */
/**
 * dequantPanels16(src, K, nPanels, t0, t1, dst): int16 position-table panels [t0, t1) → float32 panels at dst
 * (panel t0 first), value = f32(q · scale[row]). Layout at src: nPanels panels of K steps × 16 i16, then the
 * nPanels·16 float32 row scales. The product of an i16 and a float32 is exact before its one rounding, so this
 * equals the JS tables' `q * scale` stored to a Float32Array.
 */
function dequantPanels16Kernel(): Code {
  const c = new Code([I32, I32, I32, I32, I32, I32]);
  const [src, K, nPanels, t0, t1, dst] = [0, 1, 2, 3, 4, 5];
  const t = c.local(I32), k = c.local(I32), qp = c.local(I32), sp = c.local(I32);
  const sv = Array.from({ length: 4 }, () => c.local(V128));
  c.for(t, L(t0), L(t1), 1, () => {
    // scales of panel t: src + nPanels·K·32 + t·64
    c.get(src).get(nPanels).get(K).op(Op.i32Mul).i32(5).op(Op.i32Shl).op(Op.i32Add).get(t).i32(6).op(Op.i32Shl).op(Op.i32Add).set(sp);
    for (let v = 0; v < 4; v++) c.get(sp).simdMem(Simd.v128Load, 2, 16 * v).set(sv[v]);
    c.get(src).get(t).get(K).op(Op.i32Mul).i32(5).op(Op.i32Shl).op(Op.i32Add).set(qp);
    c.for(k, 0, L(K), 1, () => {
      for (let v = 0; v < 4; v++) {
        c.get(dst);
        c.get(qp).simdMem(Simd.v128Load16x4S, 1, 8 * v).simd(Simd.f32x4ConvertI32x4S).get(sv[v]).simd(Simd.f32x4Mul);
        c.simdMem(Simd.v128Store, 2, 16 * v);
      }
      c.inc(qp, 32);
      c.inc(dst, 64);
    });
  });
  return c;
}

function attnHeadKernel(shape: KernelShape, f: { linear: number; packRows: number; packCols: number; scoreRows: number; dequant: number }): Code {
  const c = new Code([I32, I32, I32, I32, I32, I32, I32, I32, I32, I32, I32, I32, I32, F32, I32, I32, I32, I32, I32, I32]);
  const [q, k, v, ldqkv, Ln, d, pk, pq, npos, cBase, ldc, relIdx, mask, invScale, flags, scratch, ctx, ldctx, relOut, probsOut] =
    Array.from({ length: 20 }, (_, i) => i);
  const TW = 4 * shape.vecs;
  const Lp = c.local(I32), kPack = c.local(I32), vPack = c.local(I32), sc = c.local(I32), c2p = c.local(I32), p2c = c.local(I32);
  const ta = c.local(I32), tb = c.local(I32), i = c.local(I32), deq = c.local(I32), nPanels = c.local(I32);
  const roundUp16 = (e: number) => c.get(e).i32(15).op(Op.i32Add).i32(-16).op(Op.i32And);
  roundUp16(Ln).set(Lp);
  // scratch: kPack [Lp·d] | vPack [dp·L] | scores [L·Lp] | c2p [L·ldc] | p2c [L·ldc] | deq [ldc·d]
  c.get(scratch).set(kPack);
  c.get(kPack).get(Lp).get(d).op(Op.i32Mul).i32(2).op(Op.i32Shl).op(Op.i32Add).set(vPack);
  c.get(vPack);
  roundUp16(d);
  c.get(Ln).op(Op.i32Mul).i32(2).op(Op.i32Shl).op(Op.i32Add).set(sc);
  c.get(sc).get(Ln).get(Lp).op(Op.i32Mul).i32(2).op(Op.i32Shl).op(Op.i32Add).set(c2p);
  c.get(c2p).get(Ln).get(ldc).op(Op.i32Mul).i32(2).op(Op.i32Shl).op(Op.i32Add).set(p2c);
  c.get(p2c).get(Ln).get(ldc).op(Op.i32Mul).i32(2).op(Op.i32Shl).op(Op.i32Add).set(deq);
  const tiles = (n: () => void) => {
    n();
    c.i32(TW - 1).op(Op.i32Add).i32(TW).op(0x6d /* i32.div_s */);
  };
  // scores = Q·Kᵀ
  c.get(k).get(ldqkv).get(Ln).get(d).get(kPack).op(Op.call).u(f.packRows);
  c.get(q).get(ldqkv).get(Ln).get(d).get(kPack).i32(0).get(sc).get(Lp).get(Ln).i32(0);
  tiles(() => c.get(Ln));
  c.op(Op.call).u(f.linear);
  // relative tile range [ta, tb): columns cBase … cBase + ldc of npos
  c.get(cBase).i32(TW).op(0x6d).set(ta);
  tiles(() => c.get(cBase).get(ldc).op(Op.i32Add));
  c.set(tb);
  tiles(() => c.get(npos));
  c.tee(nPanels).set(i);
  c.get(i).get(tb).get(i).get(tb).op(Op.i32LtS).op(Op.select).set(tb);
  // The relative products, c2p[i, c] = q_i·pk_c and p2c[j, c] = k_j·pq_c, are read only at c = relIdx(i − j):
  // for a block of rows, between relIdx at the block's smallest and largest δ (relIdx is monotone in δ). So each
  // block of REL_ROWS rows computes only the column tiles of that band — at 128 tokens ~60 % of the full
  // [L, ldc] product; far from the diagonal the log buckets compress, and long texts save less.
  const REL_ROWS = 16;
  const wEff = c.local(I32), i0 = c.local(I32), nb = c.local(I32), b0 = c.local(I32), b1 = c.local(I32);
  const relAt = (idx: () => void) => {
    c.get(relIdx);
    idx();
    c.i32(2).op(Op.i32Shl).op(Op.i32Add).mem(Op.i32Load, 2);
  };
  const relProduct = (x: number, w: number, out: number, isC2p: boolean) => {
    // int16 tables: panels [ta, tb) dequantized into deq, addressed as if deq held panel 0 (i32 arithmetic wraps)
    c.get(flags).i32(ATTN_INT16_TABLES).op(Op.i32And).op(Op.if, I32);
    c.get(w).get(d).get(nPanels).get(ta).get(tb).get(deq).op(Op.call).u(f.dequant);
    c.get(deq).get(ta).get(d).op(Op.i32Mul).i32(6).op(Op.i32Shl).op(Op.i32Sub);
    c.op(Op.else).get(w).op(Op.end);
    c.set(wEff);
    c.for(i0, 0, L(Ln), REL_ROWS, () => {
      // nb = min(REL_ROWS, L − i0)
      c.get(Ln).get(i0).op(Op.i32Sub).set(nb);
      c.i32(REL_ROWS).get(nb).get(nb).i32(REL_ROWS).op(Op.i32GtS).op(Op.select).set(nb);
      // band of relIdx values (relative to cBase): c2p rows i use indices [i, i + L − 1], p2c rows j [L − 1 − j, 2L − 2 − j]
      if (isC2p) {
        relAt(() => c.get(i0));
        c.set(b0);
        relAt(() => c.get(i0).get(nb).op(Op.i32Add).get(Ln).op(Op.i32Add).i32(2).op(Op.i32Sub));
        c.set(b1);
      } else {
        relAt(() => c.get(Ln).get(i0).op(Op.i32Sub).get(nb).op(Op.i32Sub));
        c.set(b0);
        relAt(() => c.get(Ln).i32(1).op(Op.i32Shl).i32(2).op(Op.i32Sub).get(i0).op(Op.i32Sub));
        c.set(b1);
      }
      // tiles [(cBase + b0) / TW, (cBase + b1) / TW + 1), within [ta, tb)
      c.get(cBase).get(b0).op(Op.i32Add).i32(TW).op(0x6d).set(b0);
      c.get(cBase).get(b1).op(Op.i32Add).i32(TW).op(0x6d).i32(1).op(Op.i32Add).set(b1);
      c.get(b1).get(tb).get(b1).get(tb).op(Op.i32LtS).op(Op.select).set(b1);
      c.get(x).get(i0).get(ldqkv).op(Op.i32Mul).i32(2).op(Op.i32Shl).op(Op.i32Add).get(ldqkv).get(nb).get(d);
      c.get(wEff).i32(0);
      c.get(out).get(i0).get(ldc).op(Op.i32Mul).get(cBase).op(Op.i32Sub).i32(2).op(Op.i32Shl).op(Op.i32Add);
      c.get(ldc).get(npos).get(b0).get(b1).op(Op.call).u(f.linear);
    });
  };
  c.get(flags).i32(1).op(Op.i32And).ifElse(() => relProduct(q, pk, c2p, true));
  c.get(flags).i32(2).op(Op.i32And).ifElse(() => relProduct(k, pq, p2c, false));
  c.get(sc).get(Lp).get(Ln).get(c2p).get(p2c).get(ldc).get(relIdx).get(invScale).get(flags).i32(3).op(Op.i32And).get(relOut).get(mask).op(Op.call).u(f.scoreRows);
  c.get(probsOut).ifElse(() => {
    c.for(i, 0, L(Ln), 1, () => {
      // copy row i (L floats) of the probabilities
      c.for(ta, 0, L(Ln), 1, () => {
        c.get(i).get(Ln).op(Op.i32Mul).get(ta).op(Op.i32Add).i32(2).op(Op.i32Shl).get(probsOut).op(Op.i32Add);
        c.get(i).get(Lp).op(Op.i32Mul).get(ta).op(Op.i32Add).i32(2).op(Op.i32Shl).get(sc).op(Op.i32Add).mem(Op.f32Load, 2);
        c.mem(Op.f32Store, 2);
      });
    });
  });
  // ctx = P·V
  c.get(v).get(ldqkv).get(Ln).get(d).get(vPack).op(Op.call).u(f.packCols);
  c.get(sc).get(Lp).get(Ln).get(Ln).get(vPack).i32(0).get(ctx).get(ldctx).get(d).i32(0);
  tiles(() => c.get(d));
  c.op(Op.call).u(f.linear);
  return c;
}

/** attention(params, u0, u1, scratch): units u = b·heads + h in [u0, u1), parameters read from the block. */
function attentionKernel(head: number): Code {
  const c = new Code([I32, I32, I32, I32]);
  const [params, u0, u1, scratch] = [0, 1, 2, 3];
  const u = c.local(I32), b = c.local(I32), h = c.local(I32), q = c.local(I32), H = c.local(I32), ld = c.local(I32), Ln = c.local(I32), d = c.local(I32);
  const P = (slot: number) => c.get(params).mem(Op.i32Load, 2, slot * 4);
  P(AttnParam.L).set(Ln);
  P(AttnParam.d).set(d);
  P(AttnParam.ldqkv).set(ld);
  P(AttnParam.heads).get(d).op(Op.i32Mul).set(H);
  c.for(u, L(u0), L(u1), 1, () => {
    c.get(u);
    P(AttnParam.heads);
    c.op(0x6d /* div_s */).set(b);
    c.get(u);
    P(AttnParam.heads);
    c.op(0x6f /* rem_s */).set(h);
    // q = qkv + (b·L·ld + h·d)·4
    P(AttnParam.qkv).get(b).get(Ln).op(Op.i32Mul).get(ld).op(Op.i32Mul).get(h).get(d).op(Op.i32Mul).op(Op.i32Add).i32(2).op(Op.i32Shl).op(Op.i32Add).set(q);
    c.get(q);
    c.get(q).get(H).i32(2).op(Op.i32Shl).op(Op.i32Add);
    c.get(q).get(H).i32(3).op(Op.i32Shl).op(Op.i32Add);
    c.get(ld).get(Ln).get(d);
    P(AttnParam.pkTable).get(h).i32(2).op(Op.i32Shl).op(Op.i32Add).mem(Op.i32Load, 2);
    P(AttnParam.pqTable).get(h).i32(2).op(Op.i32Shl).op(Op.i32Add).mem(Op.i32Load, 2);
    P(AttnParam.npos);
    P(AttnParam.cBase);
    P(AttnParam.ldc);
    P(AttnParam.relIdx);
    P(AttnParam.mask).get(b).get(Ln).op(Op.i32Mul).op(Op.i32Add);
    c.get(params).mem(Op.f32Load, 2, AttnParam.invScale * 4);
    P(AttnParam.flags);
    c.get(scratch);
    // ctx + (b·L·ldctx + h·d)·4
    P(AttnParam.ctx).get(b).get(Ln).op(Op.i32Mul);
    P(AttnParam.ldctx);
    c.op(Op.i32Mul).get(h).get(d).op(Op.i32Mul).op(Op.i32Add).i32(2).op(Op.i32Shl).op(Op.i32Add);
    P(AttnParam.ldctx);
    // relOut / probsOut: + u·L·L·4 when set
    for (const slot of [AttnParam.relOut, AttnParam.probsOut]) {
      P(slot);
      P(slot).op(Op.if, I32);
      c.get(u).get(Ln).op(Op.i32Mul).get(Ln).op(Op.i32Mul).i32(2).op(Op.i32Shl);
      c.op(Op.else).i32(0).op(Op.end).op(Op.i32Add);
    }
    c.op(Op.call).u(head);
  });
  return c;
}

/**
 * spanFill(start, end, W, K, inner, s0, s1, out): rows s ∈ [s0, s1) of the span hidden layer into out (row s − s0,
 * `inner` floats): span s = (i, k) = (s div K, s mod K) takes relu(start[i] + end[i + k]), or relu(start[0] +
 * end[0]) when i + k ≥ W (the official span index pads with (0, 0)); relu as the reference's `v > 0 ? v : 0`
 * (NaN and −0 give +0), the sum in float32 — the values of ../../heads/spanRep.ts `fillSpanHidden`.
 */
function spanFillKernel(): Code {
  const c = new Code([I32, I32, I32, I32, I32, I32, I32, I32]);
  const [start, end, W, K, inner, s0, s1, out] = [0, 1, 2, 3, 4, 5, 6, 7];
  const s = c.local(I32), i = c.local(I32), k = c.local(I32), a = c.local(I32), b = c.local(I32), o = c.local(I32);
  const j = c.local(I32), inner4 = c.local(I32), rowBytes = c.local(I32), x = c.local(F32);
  const zero = c.local(V128), v = c.local(V128);
  c.simd(Simd.v128Const).op(...new Array(16).fill(0)).set(zero);
  c.get(inner).i32(-4).op(Op.i32And).set(inner4);
  c.get(inner).i32(2).op(Op.i32Shl).set(rowBytes);
  c.for(s, L(s0), L(s1), 1, () => {
    c.get(s).get(K).op(0x6d /* i32.div_s */).set(i);
    c.get(s).get(i).get(K).op(Op.i32Mul).op(Op.i32Sub).set(k);
    c.get(i).get(k).op(Op.i32Add).get(W).op(Op.i32LtS).ifElse(
      () => {
        c.get(start).get(i).get(rowBytes).op(Op.i32Mul).op(Op.i32Add).set(a);
        c.get(end).get(i).get(k).op(Op.i32Add).get(rowBytes).op(Op.i32Mul).op(Op.i32Add).set(b);
      },
      () => {
        c.get(start).set(a);
        c.get(end).set(b);
      },
    );
    c.get(out).get(s).get(s0).op(Op.i32Sub).get(rowBytes).op(Op.i32Mul).op(Op.i32Add).set(o);
    c.for(j, 0, L(inner4), 4, () => {
      c.get(o).get(j).i32(2).op(Op.i32Shl).op(Op.i32Add);
      c.get(a).get(j).i32(2).op(Op.i32Shl).op(Op.i32Add).simdMem(Simd.v128Load, 2);
      c.get(b).get(j).i32(2).op(Op.i32Shl).op(Op.i32Add).simdMem(Simd.v128Load, 2);
      c.simd(Simd.f32x4Add).set(v);
      c.get(v).get(v).get(zero).simd(Simd.f32x4Gt).simd(Simd.v128And);
      c.simdMem(Simd.v128Store, 2);
    });
    c.for(j, L(inner4), L(inner), 1, () => {
      c.get(o).get(j).i32(2).op(Op.i32Shl).op(Op.i32Add);
      c.get(a).get(j).i32(2).op(Op.i32Shl).op(Op.i32Add).mem(Op.f32Load, 2);
      c.get(b).get(j).i32(2).op(Op.i32Shl).op(Op.i32Add).mem(Op.f32Load, 2);
      c.op(Op.f32Add).set(x);
      c.get(x).f32(0).get(x).f32(0).op(Op.f32Gt).op(Op.select);
      c.mem(Op.f32Store, 2);
    });
  });
  return c;
}

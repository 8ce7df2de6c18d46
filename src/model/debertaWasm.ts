/**
 * The DeBERTa-v3 forward on the WebAssembly kernels: activations live in WebAssembly memory for the whole pass
 * (one arena, reused between calls), linear layers write straight into their destinations (Q, K and V side by
 * side in one `[rows, 3H]` buffer), and attention — Q·Kᵀ, both relative-position products, bias, masked softmax,
 * P·V — runs per (batch, head) unit in one kernel call, split over threads when a pool runs; GELU runs on each
 * thread's own output columns right after the intermediate layer, residual add + layer norm by rows. The same
 * arithmetic as ./deberta.ts operation for operation (float32 products summed in the reference's order, the same
 * softmax, GELU and layer norm), so the hidden states are the js forward's bits.
 */
import { activeVariant } from "../kernels/backend.js";
import { quantizeRows16 } from "../kernels/index.js";
import { AttnParam, ATTN_INT16_TABLES, ATTN_PARAM_WORDS, attentionScratchBytes } from "../kernels/wasm/kernels.js";
import { linearAt } from "../kernels/wasm/linear.js";
import { runAddNorm, runAttention, wasmPoolThreads } from "../kernels/wasm/pool.js";
import { f32View, i16View, i32View, Region, u8View, wasmAlloc, type KernelVariant } from "../kernels/wasm/runtime.js";
import type { DebertaEncoder, EncoderTrace } from "./deberta.js";

/**
 * Per layer, in WebAssembly memory: tables of per-head packed position projections (posKey, posQuery) and the
 * two layer norms' parameters.
 */
export interface WasmPositionTables {
  readonly pk: number;
  readonly pq: number;
  /** The tables are int16 panels + row scales (an int8 layer's; see dequantPanels16Kernel), else float32 panels. */
  readonly int16: boolean;
  readonly norms?: { attnGamma: number; attnBeta: number; outGamma: number; outBeta: number };
}

/** Copy float parameters into WebAssembly memory. */
export function wasmFloats(values: Float32Array): number {
  const p = wasmAlloc(values.length * 4);
  f32View(p, values.length).set(values);
  return p;
}

const staging = new Region();

/**
 * Pack one layer's per-head position projections `[heads][relRows, d]` into WebAssembly memory: float32 panels,
 * or (`int16`, an int8 layer's tables) int16 panels of 16 rows, `q[(p·d + k)·16 + j]` = row 16p + j, followed by
 * the panels' row scales (zero past relRows), rounded by `quantizeRows16` as the js forward rounds them.
 */
export function packPositionTables(v: KernelVariant, posKey: Float32Array[], posQuery: Float32Array[], relRows: number, d: number, int16 = false): WasmPositionTables {
  const heads = posKey.length;
  const panels = Math.ceil(relRows / 16);
  const bytes = int16 ? panels * 16 * (d * 2 + 4) : panels * 16 * d * 4;
  const tables = { pk: wasmAlloc(4 * heads), pq: wasmAlloc(4 * heads), int16 };
  const q = int16 ? new Int16Array(relRows * d) : null;
  const scales = int16 ? new Float32Array(relRows) : null;
  for (const [list, table] of [[posKey, tables.pk], [posQuery, tables.pq]] as const) {
    for (let h = 0; h < heads; h++) {
      const dst = wasmAlloc(bytes);
      if (q !== null && scales !== null) {
        quantizeRows16(list[h], relRows, d, q, scales);
        const qv = i16View(dst, panels * 16 * d);
        const sv = f32View(dst + panels * 16 * d * 2, panels * 16);
        qv.fill(0);
        sv.fill(0);
        for (let r = 0; r < relRows; r++) {
          const p = r >> 4;
          const j = r & 15;
          for (let k = 0; k < d; k++) qv[(p * d + k) * 16 + j] = q[r * d + k];
          sv[r] = scales[r];
        }
      } else {
        const src = staging.get(relRows * d * 4);
        f32View(src, relRows * d).set(list[h]);
        v.exports.packRows(src, d, relRows, d, dst);
      }
      i32View(table + 4 * h, 1)[0] = dst;
    }
  }
  return tables;
}

const arena = new Region();

/**
 * Checked inputs (./deberta.ts `encode` checks them and passes `embed`, which writes the normalised token
 * embeddings into the given rows) → last hidden state `[batch·length, hidden]`.
 */
export function encodeWasm(
  enc: DebertaEncoder,
  attentionMask: ArrayLike<number>,
  batch: number,
  length: number,
  relIdx: Int32Array,
  embed: (x: Float32Array) => void,
  trace?: EncoderTrace,
): Float32Array {
  const v = activeVariant()!;
  const cfg = enc.config;
  const H = cfg.hiddenSize;
  const I = cfg.intermediateSize;
  const heads = cfg.numHeads;
  const d = H / heads;
  const L = length;
  const rows = batch * L;
  const npos = 2 * cfg.attSpan;
  let cMin = Infinity;
  let cMax = -Infinity;
  for (const c of relIdx) {
    cMin = Math.min(cMin, c);
    cMax = Math.max(cMax, c);
  }
  const cBase = cMin & ~15;
  const ldc = Math.min(Math.ceil((cMax + 1) / 16) * 16, Math.ceil(npos / 16) * 16) - cBase;
  const scaleFactor = 1 + (cfg.c2p ? 1 : 0) + (cfg.p2c ? 1 : 0);
  const threads = wasmPoolThreads();
  const scratchBytes = Math.ceil(attentionScratchBytes(L, d, ldc) / 64) * 64;
  const units = batch * heads;

  // Arena layout.
  const sizes = {
    x: rows * H * 4,
    qkv: rows * 3 * H * 4,
    ctx: rows * H * 4,
    attn: rows * H * 4,
    inter: rows * I * 4,
    out: rows * H * 4,
    relIdx: (2 * L - 1) * 4,
    mask: rows,
    params: ATTN_PARAM_WORDS * 4,
    relOut: trace ? units * L * L * 4 : 0,
    probs: trace ? units * L * L * 4 : 0,
    scratch: threads * scratchBytes,
  };
  let total = 0;
  const at: Record<string, number> = {};
  for (const [name, bytes] of Object.entries(sizes)) {
    at[name] = total;
    total += Math.ceil(bytes / 64) * 64;
  }
  const base = arena.get(total);
  for (const name of Object.keys(at)) at[name] += base;
  // Views. The only allocation after this point is the int8 linear layers' activation scratch (grown on first use
  // of a length): growing a non-shared memory (browsers without cross-origin isolation) detaches every view made
  // before, so the loop fetches the parameter view again after its linear layers.
  let xP = at.x;
  let outP = at.out;
  const view = (p: number, n: number) => f32View(p, n);
  i32View(at.relIdx, 2 * L - 1).set(relIdx.map((c) => c - cBase));
  const mask = u8View(at.mask, rows);
  for (let t = 0; t < rows; t++) mask[t] = attentionMask[t] ? 1 : 0;
  embed(view(xP, rows * H));
  trace?.hiddenStates.push(view(xP, rows * H).slice());

  const P = i32View(at.params, ATTN_PARAM_WORDS);
  const PF = f32View(at.params, ATTN_PARAM_WORDS);
  P[AttnParam.qkv] = at.qkv;
  P[AttnParam.ldqkv] = 3 * H;
  P[AttnParam.L] = L;
  P[AttnParam.d] = d;
  P[AttnParam.heads] = heads;
  P[AttnParam.npos] = npos;
  P[AttnParam.cBase] = cBase;
  P[AttnParam.ldc] = ldc;
  P[AttnParam.relIdx] = at.relIdx;
  P[AttnParam.mask] = at.mask;
  PF[AttnParam.invScale] = 1 / Math.sqrt(d * scaleFactor);
  const flags = (cfg.c2p ? 1 : 0) | (cfg.p2c ? 2 : 0);
  P[AttnParam.ctx] = at.ctx;
  P[AttnParam.ldctx] = H;

  enc.layers.forEach((layer, l) => {
    linearAt(v, xP, H, rows, layer.query, at.qkv, 3 * H);
    linearAt(v, xP, H, rows, layer.key, at.qkv + 4 * H, 3 * H);
    linearAt(v, xP, H, rows, layer.value, at.qkv + 8 * H, 3 * H);
    const tables = layer.posTables!;
    const LP = i32View(at.params, ATTN_PARAM_WORDS);
    LP[AttnParam.pkTable] = tables.pk;
    LP[AttnParam.pqTable] = tables.pq;
    LP[AttnParam.flags] = flags | (tables.int16 ? ATTN_INT16_TABLES : 0);
    const traced = trace !== undefined && l === 0;
    LP[AttnParam.relOut] = traced ? at.relOut : 0;
    LP[AttnParam.probsOut] = traced ? at.probs : 0;
    runAttention(v, at.params, units, at.scratch, scratchBytes);
    if (traced) {
      trace.layer0RelAtt = view(at.relOut, units * L * L).slice();
      trace.layer0Probs = view(at.probs, units * L * L).slice();
    }
    const norms = tables.norms!;
    linearAt(v, at.ctx, H, rows, layer.attnOut, at.attn, H);
    runAddNorm(v, at.attn, xP, rows, H, norms.attnGamma, norms.attnBeta, cfg.layerNormEps);
    linearAt(v, at.attn, H, rows, layer.intermediate, at.inter, I, true);
    linearAt(v, at.inter, I, rows, layer.output, outP, H);
    runAddNorm(v, outP, at.attn, rows, H, norms.outGamma, norms.outBeta, cfg.layerNormEps);
    const out = view(outP, rows * H);
    [xP, outP] = [outP, xP];
    trace?.hiddenStates.push(out.slice());
  });
  return view(xP, rows * H).slice();
}

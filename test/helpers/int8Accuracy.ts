/**
 * int8 vs float32 on one golden case: does int8 keep every decision (the formatted output, confidences aside),
 * and how far are its scores from the float engine's (count logits, classifier logits, span probabilities and
 * span logits). Shared by test/int8.test.ts and the README table.
 */
import { runBatch, type EngineResult } from "../../src/engine.js";
import type { GLiNER2 } from "../../src/gliner2.js";
import { buildPrompt } from "../../src/schema/prompt.js";
import { prepareText, splitWords } from "../../src/text/words.js";
import { mapCall } from "./callDsl.js";
import { readGoldenCase, type GoldenCaseRef } from "./golden.js";

export interface CaseAccuracy {
  readonly checkpoint: string;
  readonly name: string;
  /** The case's smallest official decision margin (fixtures README §2.4), null when it has no decision. */
  readonly minMargin: number | null;
  /** Same outputs as float32 (values, spans, labels, key order; confidences may differ). */
  readonly kept: boolean;
  /** First difference found when not kept. */
  readonly flip: string | null;
  readonly countLogit: number;
  readonly clsLogit: number;
  readonly spanProb: number;
  /** Span logits recovered from probabilities in [1e-3, 1 − 1e-3] (float32 sigmoid hides the rest). */
  readonly spanLogit: number;
  /** Schemas whose predicted count differs (their span scores are then not comparable). */
  readonly countFlips: number;
}

/** Structural comparison: integers (offsets, indices) exactly, non-integers (confidences) not at all. */
export function firstDecisionDifference(a: unknown, b: unknown, path = "$"): string | null {
  if (typeof a === "number" && typeof b === "number") {
    if (Number.isInteger(a) && Number.isInteger(b)) return a === b ? null : `${path}: ${a} vs ${b}`;
    return null;
  }
  if (a === null || b === null || typeof a !== "object" || typeof b !== "object") {
    return a === b ? null : `${path}: ${JSON.stringify(a)} vs ${JSON.stringify(b)}`;
  }
  if (Array.isArray(a) !== Array.isArray(b)) return `${path}: array vs object`;
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  if (ka.join("\u0000") !== kb.join("\u0000")) return `${path}: keys ${JSON.stringify(ka)} vs ${JSON.stringify(kb)}`;
  for (const k of ka) {
    const d = firstDecisionDifference((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k], `${path}.${k}`);
    if (d) return d;
  }
  return null;
}

function maxDiff(a: Float32Array | null, b: Float32Array | null, keep: (x: number, y: number) => boolean = () => true, map = (v: number) => v): number {
  if (!a || !b || a.length !== b.length) return 0;
  let m = 0;
  for (let i = 0; i < a.length; i++) if (keep(a[i], b[i])) m = Math.max(m, Math.abs(map(a[i]) - map(b[i])));
  return m;
}

const logit = (p: number) => Math.log(p / (1 - p));
const midRange = (x: number, y: number) => x >= 1e-3 && x <= 1 - 1e-3 && y >= 1e-3 && y <= 1 - 1e-3;

/** Run `ref` through both models and compare. */
export async function compareCase(f32: GLiNER2, int8: GLiNER2, ref: GoldenCaseRef): Promise<CaseAccuracy> {
  const c = readGoldenCase(ref);
  const call = mapCall(c);
  const flip = firstDecisionDifference(await call.run(f32), await call.run(int8));
  let countLogit = 0, clsLogit = 0, spanProb = 0, spanLogit = 0, countFlips = 0;
  for (let t = 0; t < c.texts.length; t++) {
    const words = splitWords(prepareText(c.texts[t])).map((w) => w.text);
    const prompt = buildPrompt(call.schemaFor(t));
    const run = (m: GLiNER2): EngineResult => runBatch(m.model, [{ words, prompt }])[0];
    const a = run(f32);
    const b = run(int8);
    a.schemas.forEach((sa, s) => {
      const sb = b.schemas[s];
      countLogit = Math.max(countLogit, maxDiff(sa.countLogits, sb.countLogits));
      clsLogit = Math.max(clsLogit, maxDiff(sa.clsLogits, sb.clsLogits));
      if (sa.count !== sb.count) countFlips++;
      else {
        spanProb = Math.max(spanProb, maxDiff(sa.spanScores, sb.spanScores));
        spanLogit = Math.max(spanLogit, maxDiff(sa.spanScores, sb.spanScores, midRange, logit));
      }
    });
  }
  return { checkpoint: ref.checkpoint, name: ref.name, minMargin: ref.min_margin ?? null, kept: flip === null, flip, countLogit, clsLogit, spanProb, spanLogit, countFlips };
}

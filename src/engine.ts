/**
 * The tensor side of one extraction call: token ids of a padded batch → encoder → word and schema embeddings
 * → span scores and class logits per schema. No text handling and no decoding happen here.
 */
import { InputError } from "./errors.js";
import { linear } from "./kernels/index.js";
import {
  classifierLogits,
  countEmbed,
  countLogits,
  predictCount,
  spanHalves,
  spanHiddenFrom,
  spanRep,
  spanScoresFast,
  type Heads,
} from "./heads/index.js";
import type { Gliner2Tokenizer } from "./text/tokenizer.js";
import { assembleInputs } from "./text/inputs.js";
import type { ExtractorConfig } from "./model/config.js";
import { encode, type DebertaEncoder } from "./model/deberta.js";
import type { PromptPlan } from "./schema/plan.js";

/** A loaded checkpoint: everything needed to go from token ids to scores. */
export interface Gliner2Model {
  readonly config: ExtractorConfig;
  readonly encoder: DebertaEncoder;
  readonly heads: Heads;
  readonly tokenizer: Gliner2Tokenizer;
}

/** One text ready for the encoder: its (lower-cased) words and the prompt of its schema. */
export interface EngineItem {
  readonly words: readonly string[];
  readonly prompt: PromptPlan;
}

/** Scores of one schema of one text. */
export interface SchemaScores {
  /** Span schemas: predicted instance count (argmax of the count head). Classifications: 0. */
  readonly count: number;
  /** Span schemas: count logits `[20]`. */
  readonly countLogits: Float32Array | null;
  /** Span schemas with count > 0: count-embedded field vectors `[count, F, hidden]`. */
  readonly structProj: Float32Array | null;
  /** Span schemas with count > 0: sigmoid scores `[count, F, W, K]`, W = prefix tokens + words. */
  readonly spanScores: Float32Array | null;
  /** Classifications: classifier logits per label `[labels]`. */
  readonly clsLogits: Float32Array | null;
}

export interface EngineResult {
  /** Everything the encoder saw, for inspection and tests. */
  readonly tokens: string[];
  readonly inputIds: Int32Array;
  /** Hidden state of the first subword of every text element (prefix tokens, then words) `[W, hidden]`. */
  readonly wordEmbeddings: Float32Array;
  /** Span representations `[W, K, hidden]` (null when no schema scores spans); computed on first access. */
  readonly spanRep: Float32Array | null;
  /** Per schema: hidden states of its [P]/[E]/[C]/[R]/[L] tokens `[n, hidden]`, row 0 = [P]. */
  readonly specialEmbeddings: Float32Array[];
  readonly schemas: SchemaScores[];
}

/** Gather rows `positions` of `hidden` (offset `rowBase`) into a new `[positions.length, H]` array. */
function gatherRows(hidden: Float32Array, rowBase: number, positions: readonly number[], H: number): Float32Array {
  const out = new Float32Array(positions.length * H);
  positions.forEach((p, r) => out.set(hidden.subarray((rowBase + p) * H, (rowBase + p + 1) * H), r * H));
  return out;
}

/**
 * Encode a batch of texts together (right-padded to the longest) and score every schema of every text.
 * Results are independent of how texts are batched: padding never reaches real positions.
 */
export function runBatch(
  model: Gliner2Model,
  items: readonly EngineItem[],
  opts: { maxTokens?: number; firstIndex?: number; label?: (index: number) => string } = {},
): EngineResult[] {
  if (items.length === 0) return [];
  const H = model.encoder.config.hiddenSize;
  const K = model.config.maxWidth;
  const assembled = items.map((item) => assembleInputs(model.tokenizer, item.prompt.schemaTokens as string[][], item.prompt.prefixTokens as string[], item.words as string[]));
  const maxTokens = opts.maxTokens ?? Infinity;
  assembled.forEach((a, i) => {
    if (a.ids.length > maxTokens) {
      throw new InputError(
        (opts.label ?? ((k) => `texts[${k}]`))((opts.firstIndex ?? 0) + i),
        `prompt + text is ${a.ids.length} tokens, over the ${maxTokens}-token limit (attention memory grows with the square of the length); split the text into chunks or load the model with a larger maxTokens (CLI: --max-tokens)`,
      );
    }
  });
  const L = Math.max(...assembled.map((a) => a.ids.length));
  const B = items.length;
  const ids = new Int32Array(B * L).fill(model.encoder.config.padTokenId);
  const mask = new Uint8Array(B * L);
  assembled.forEach((a, b) => {
    ids.set(a.ids, b * L);
    mask.fill(1, b * L, b * L + a.ids.length);
  });
  const hidden = encode(model.encoder, ids, mask, B, L);

  return items.map((item, b) => {
    const a = assembled[b];
    const W = a.textFirstSubword.length;
    const wordEmbeddings = gatherRows(hidden, b * L, a.textFirstSubword, H);
    const needsSpans = item.prompt.plans.some((p) => p.kind === "span");
    // The per-word halves of the span hidden layer (2 × W·4H floats) in buffers reused from text to text: they are
    // only read while this text's schemas are scored, below. The W·K·4H layer itself (~10 MB for 64 words) is formed
    // in JavaScript only on the js kernels or when the span representations are asked for.
    const halves = needsSpans && W > 0 ? spanHalves(model.heads, wordEmbeddings, W) : null;
    // The span representations: formed only when some schema's scoring or a caller needs them, once (after scoring,
    // from the word embeddings again: the halves' buffers belong to the next text by then).
    let rep: Float32Array | null | undefined;
    let scoring = true;
    const spanRepOnce = (): Float32Array =>
      (rep ??= scoring
        ? linear(spanHiddenFrom(model.heads, halves!), W * K, model.heads.spanRep.outSecond)
        : spanRep(model.heads, wordEmbeddings, W));
    const specialEmbeddings = a.schemaSpecialPositions.map((pos) => gatherRows(hidden, b * L, pos, H));
    const schemas = item.prompt.plans.map((plan, s): SchemaScores => {
      const special = specialEmbeddings[s];
      const n = special.length / H - 1; // rows after [P]: fields or labels
      if (plan.kind === "classification") {
        if (n !== plan.labels.length) throw new InputError("schema", `classification "${plan.name}" has ${plan.labels.length} labels but ${n} [L] tokens reached the encoder`);
        const clsLogits = classifierLogits(model.heads, special.subarray(H), n);
        return { count: 0, countLogits: null, structProj: null, spanScores: null, clsLogits };
      }
      const logits = countLogits(model.heads, special.subarray(0, H));
      const count = predictCount(logits);
      if (count <= 0 || halves === null) return { count, countLogits: logits, structProj: null, spanScores: null, clsLogits: null };
      const structProj = countEmbed(model.heads, special.subarray(H), n, count);
      const scores = spanScoresFast(model.heads, halves, spanRepOnce, W, structProj, count, n);
      return { count, countLogits: logits, structProj, spanScores: scores, clsLogits: null };
    });
    scoring = false;
    return {
      tokens: a.tokens,
      inputIds: a.ids,
      wordEmbeddings,
      get spanRep() {
        return halves === null ? null : spanRepOnce();
      },
      specialEmbeddings,
      schemas,
    };
  });
}

/**
 * Put a parsed adapter on a model, two ways:
 *
 * - `attachAdapter`: a view of the base model whose targeted layers are shallow copies carrying a low-rank delta
 *   (`linear()` adds `s·(x·Aᵀ)·Bᵀ`, src/kernels/matmul.ts). The base weights are shared, never touched: any
 *   number of views can live side by side, and dropping a view gives the base model back bit for bit.
 * - `mergeAdapter`: new packed layers with `W + s·B·A` folded in (PEFT's `merge_and_unload`), re-packed with the
 *   kernels' own `packLinear` from float32 weights, so whatever packed form the kernels use is rebuilt by them.
 *
 * Which modules get the adapter's weights (`targets` policy):
 * - "weights" (default): every A/B pair in the weights file, i.e. the adapter as trained;
 * - "config": the official loader's rule: the config's `target_modules` are resolved on the model
 *   (`resolveTargets` / PEFT's matching) and only pairs of resolved modules are used; the others are ignored, as
 *   officially (fixtures README §9.1, quirk 3: an adapter saved with ≥ 20 target modules loses most of them).
 */
import { AdapterError } from "../errors.js";
import { packLinear, withDeltas, type LowRankDelta, type PackedLinear } from "../kernels/index.js";
import type { Gliner2Model } from "../engine.js";
import { linearSlots, moduleShapes, rebuildLinears, resolveTargets, type Columns } from "./modules.js";
import type { LoraPair, ParsedAdapter } from "./parse.js";

export type TargetPolicy = "weights" | "config";

/** The pairs that apply to this model under `policy`, each checked against its module's shape. */
export function selectPairs(model: Gliner2Model, adapter: ParsedAdapter, policy: TargetPolicy): LoraPair[] {
  const shapes = moduleShapes(model);
  const modules = [...shapes.keys()];
  let pairs = adapter.pairs;
  if (policy === "config") {
    const targeted = adapter.targets.kind === "names" ? resolveTargets(modules, adapter.targets.names) : new Set(modules.filter(adapter.targets.match));
    if (targeted.size === 0) {
      throw new AdapterError(
        adapter.configFile,
        `target_modules ${JSON.stringify(adapter.config.target_modules)} resolve to no Linear layer of this model (the official loader fails here too)`,
        undefined,
        "no-target",
      );
    }
    pairs = pairs.filter((p) => targeted.has(p.module));
  }
  const layers = model.encoder.layers.length;
  const mismatched: string[] = [];
  for (const p of pairs) {
    const shape = shapes.get(p.module);
    if (shape === undefined) {
      const deep = /^encoder\.encoder\.layer\.(\d+)\./.exec(p.module);
      if (deep && Number(deep[1]) >= layers) {
        throw new AdapterError(adapter.weightsFile, `module "${p.module}" does not exist: this model's encoder has ${layers} layers; the adapter was made for another base model`, p.tensorA, "base-model");
      }
      throw new AdapterError(
        adapter.weightsFile,
        `module "${p.module}" is not a Linear layer of this model (LoRA applies to encoder.encoder.layer.N.{attention.self.query_proj|key_proj|value_proj, attention.output.dense, intermediate.dense, output.dense} and the Linear layers of span_rep, classifier, count_pred, count_embed)`,
        p.tensorA,
        "module",
      );
    }
    if (shape.inFeatures !== p.inFeatures || shape.outFeatures !== p.outFeatures) mismatched.push(p.module);
  }
  if (mismatched.length > 0) {
    const p = pairs.find((q) => q.module === mismatched[0])!;
    const shape = shapes.get(p.module)!;
    const all = mismatched.length === pairs.length && pairs.length > 1;
    const badA = shape.inFeatures !== p.inFeatures;
    throw new AdapterError(
      adapter.weightsFile,
      `${badA ? `lora_A is [${p.rank}, ${p.inFeatures}]` : `lora_B is [${p.outFeatures}, ${p.rank}]`} but module "${p.module}" is Linear(${shape.inFeatures} → ${shape.outFeatures})` +
        (all ? `; no module of the adapter fits this model: it was made for another base model` : ""),
      badA ? p.tensorA : p.tensorB,
      all ? "base-model" : "shape",
    );
  }
  return [...pairs];
}

/** Columns `cols` of A `[rank, in]` (the part of the input a split layer sees). */
function columnsOf(pair: LoraPair, cols: Columns): Float32Array {
  if (cols === null) return pair.a;
  const [from, to] = cols;
  const width = to - from;
  const out = new Float32Array(pair.rank * width);
  for (let j = 0; j < pair.rank; j++) out.set(pair.a.subarray(j * pair.inFeatures + from, j * pair.inFeatures + to), j * width);
  return out;
}

/**
 * Linears whose unmerged LoRA the official forward never sees: count_lstm_v2's small transformer runs through
 * PyTorch's `TransformerEncoderLayer`, whose inference fast path (eval + `torch.inference_mode`, as the official
 * extraction runs) reads `self_attn.out_proj`, `linear1` and `linear2` weights directly, and `MultiheadAttention`
 * reads `out_proj.weight` directly on every path. PEFT's wrappers there change nothing until merged.
 */
export const UNMERGED_IGNORED = /^count_embed\.transformer\.transformer\.layers\.\d+\.(self_attn\.out_proj|linear1|linear2)$/;

/**
 * The base model with the pairs as run-time deltas on their layers, as the official unmerged forward applies
 * them (not on `UNMERGED_IGNORED` modules; `mergePairs` folds those in, as PEFT's merge does).
 */
export function attachAdapter(base: Gliner2Model, pairs: readonly LoraPair[]): Gliner2Model {
  const byModule = new Map(pairs.filter((p) => !UNMERGED_IGNORED.test(p.module)).map((p) => [p.module, p]));
  return rebuildLinears(base, (module, layer, cols) => {
    const pair = byModule.get(module);
    if (pair === undefined) return layer;
    const delta: LowRankDelta = { rank: pair.rank, a: columnsOf(pair, cols), b: pair.b, scale: pair.scale };
    return withDeltas(layer, [...(layer.deltas ?? []), delta]);
  });
}

/** Float32 weight `[out, in]` of one packed layer (the columns `cols` of its official module). */
export type BaseWeightSource = (module: string, layer: PackedLinear, cols: Columns) => Float32Array;

/** The base model with `W + s·B·A` folded into the weights of the pairs' layers, re-packed by `packLinear`. */
export function mergePairs(base: Gliner2Model, pairs: readonly LoraPair[], weightOf: BaseWeightSource): Gliner2Model {
  const byModule = new Map(pairs.map((p) => [p.module, p]));
  return rebuildLinears(base, (module, layer, cols) => {
    const pair = byModule.get(module);
    if (pair === undefined) return layer;
    if (layer.deltas) throw new Error(`internal: merging into a layer that carries run-time deltas (${module})`);
    const N = layer.outFeatures;
    const K = layer.inFeatures;
    const w = weightOf(module, layer, cols);
    if (w.length !== N * K) throw new Error(`internal: base weight of ${module} has ${w.length} values, expected ${N}×${K}`);
    const a = columnsOf(pair, cols);
    const r = pair.rank;
    const merged = new Float32Array(N * K);
    for (let n = 0; n < N; n++) {
      for (let k = 0; k < K; k++) {
        let s = 0;
        for (let j = 0; j < r; j++) s += pair.b[n * r + j] * a[j * K + k];
        merged[n * K + k] = w[n * K + k] + pair.scale * s;
      }
    }
    return packLinear(merged, N, K, layer.bias);
  });
}

/** Slots of the model that a set of pairs touches (for tests and reports). */
export function touchedSlots(model: Gliner2Model, pairs: readonly LoraPair[]): number {
  const modules = new Set(pairs.map((p) => p.module));
  return linearSlots(model).filter((s) => modules.has(s.module)).length;
}

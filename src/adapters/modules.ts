/**
 * The model's Linear layers under their official PyTorch module names (`encoder.encoder.layer.0.attention.self.
 * query_proj`, `span_rep.span_rep_layer.out_project.0`, `classifier.2`, ...), which is how adapters address them,
 * and a rebuild of the model with some of those layers replaced (an adapter view, or merged weights).
 *
 * One official module can be several packed layers here: span_rep's `out_project.0` (Linear 2H → 4H) is packed as
 * a start half and an end half (src/heads/spanRep.ts), so each slot records which input columns of the official
 * weight it holds. The Sequential indices of the head MLPs repeat those of src/heads/index.ts (`loadMlp` calls).
 * Only `nn.Linear` modules are listed, as the official target resolution only picks those: the GRU gates and the
 * count transformer's attention in-projection are plain parameters there and can take no LoRA.
 */
import { linear, type PackedLinear } from "../kernels/index.js";
import type { Gliner2Model } from "../engine.js";
import type { CountEmbedWeights, Heads } from "../heads/index.js";
import type { Mlp } from "../heads/mlp.js";
import { positionProjections, withProjections, type DebertaEncoder, type DebertaLayer } from "../model/deberta.js";

/** Input columns `[from, to)` of the official module's weight that a packed layer holds; null = all of them. */
export type Columns = readonly [number, number] | null;

/** Replace one packed layer (return it unchanged to keep it). */
export type LinearVisitor = (module: string, layer: PackedLinear, cols: Columns) => PackedLinear;

/** One packed layer of an official Linear module. */
export interface LinearSlot {
  readonly module: string;
  readonly layer: PackedLinear;
  readonly cols: Columns;
}

/** Every Linear slot of the model, in a stable order (encoder layers, then heads). */
export function linearSlots(model: Gliner2Model): LinearSlot[] {
  const slots: LinearSlot[] = [];
  rebuildLinears(model, (module, layer, cols) => {
    slots.push({ module, layer, cols });
    return layer;
  });
  return slots;
}

/** In and out features of each official Linear module (split modules added back together). */
export function moduleShapes(model: Gliner2Model): Map<string, { inFeatures: number; outFeatures: number }> {
  const shapes = new Map<string, { inFeatures: number; outFeatures: number }>();
  for (const s of linearSlots(model)) {
    const known = shapes.get(s.module);
    if (known) known.inFeatures += s.layer.inFeatures;
    else shapes.set(s.module, { inFeatures: s.layer.inFeatures, outFeatures: s.layer.outFeatures });
  }
  return shapes;
}

/**
 * A copy of the model where `visit` chose each Linear layer; containers are shallow-copied (fields this module
 * does not know about are kept) and unchanged layers are shared. When an encoder layer's query or key projection
 * changes, the position projections precomputed from them are recomputed with the new layer.
 */
export function rebuildLinears(model: Gliner2Model, visit: LinearVisitor): Gliner2Model {
  return { ...model, encoder: rebuildEncoder(model.encoder, visit), heads: rebuildHeads(model.heads, visit) };
}

function rebuildEncoder(enc: DebertaEncoder, visit: LinearVisitor): DebertaEncoder {
  const H = enc.config.hiddenSize;
  const heads = enc.config.numHeads;
  const relRows = enc.relEmbeddings.length / H;
  const layers = enc.layers.map((layer, l) => {
    const p = `encoder.encoder.layer.${l}.`;
    const query = visit(`${p}attention.self.query_proj`, layer.query, null);
    const key = visit(`${p}attention.self.key_proj`, layer.key, null);
    const linears = {
      query,
      key,
      value: visit(`${p}attention.self.value_proj`, layer.value, null),
      attnOut: visit(`${p}attention.output.dense`, layer.attnOut, null),
      attnNorm: layer.attnNorm,
      intermediate: visit(`${p}intermediate.dense`, layer.intermediate, null),
      output: visit(`${p}output.dense`, layer.output, null),
      outputNorm: layer.outputNorm,
    };
    // Attention applies query_proj / key_proj to the relative embeddings too (shared keys), adapter included:
    // a changed query or key gets its own projections (and WebAssembly tables), the others keep the base's.
    const fresh = query === layer.query && key === layer.key ? layer : positionProjections(enc.relEmbeddings, enc.config, query, key, layer.attnNorm, layer.outputNorm);
    const own = (name: "posQuery" | "posKey" | "posTables", from: object) => Object.getOwnPropertyDescriptor(from, name)!;
    const pos = Object.defineProperties({} as Pick<DebertaLayer, "posQuery" | "posKey" | "posTables">, {
      posQuery: own("posQuery", query === layer.query ? layer : fresh),
      posKey: own("posKey", key === layer.key ? layer : fresh),
      posTables: own("posTables", fresh),
    });
    return withProjections(linears, pos);
  });
  return { ...enc, layers };
}

function mlp(m: Mlp, prefix: string, indices: readonly number[], visit: LinearVisitor): Mlp {
  if (indices.length !== m.layers.length) throw new Error(`internal: ${prefix} has ${m.layers.length} layers, expected ${indices.length}`);
  return { ...m, layers: m.layers.map((layer, i) => visit(`${prefix}.${indices[i]}`, layer, null)) };
}

function rebuildHeads(h: Heads, visit: LinearVisitor): Heads {
  const sr = "span_rep.span_rep_layer";
  const H = h.hidden;
  const spanRep = {
    ...h.spanRep,
    projectStart: mlp(h.spanRep.projectStart, `${sr}.project_start`, [0, 3], visit),
    projectEnd: mlp(h.spanRep.projectEnd, `${sr}.project_end`, [0, 3], visit),
    // out_project.0 acts on [start; end]: its first H input columns are the start half, the next H the end half.
    outStartHalf: visit(`${sr}.out_project.0`, h.spanRep.outStartHalf, [0, H]),
    outEndHalf: visit(`${sr}.out_project.0`, h.spanRep.outEndHalf, [H, 2 * H]),
    outSecond: visit(`${sr}.out_project.3`, h.spanRep.outSecond, null),
  };
  return {
    ...h,
    spanRep,
    countPred: mlp(h.countPred, "count_pred", [0, 2], visit),
    classifier: mlp(h.classifier, "classifier", [0, 2], visit),
    countEmbed: rebuildCountEmbed(h.countEmbed, visit),
  };
}

function rebuildCountEmbed(ce: CountEmbedWeights, visit: LinearVisitor): CountEmbedWeights {
  const t = "count_embed.transformer";
  return {
    ...ce,
    projector: ce.projector && mlp(ce.projector, "count_embed.projector", [0, 2], visit),
    inProjector: ce.inProjector && visit(`${t}.in_projector`, ce.inProjector, null),
    transformer: ce.transformer.map((layer, l) => {
      const p = `${t}.transformer.layers.${l}`;
      return {
        ...layer,
        outProj: visit(`${p}.self_attn.out_proj`, layer.outProj, null),
        linear1: visit(`${p}.linear1`, layer.linear1, null),
        linear2: visit(`${p}.linear2`, layer.linear2, null),
      };
    }),
    outProjector: ce.outProjector && mlp(ce.outProjector, `${t}.out_projector`, [0, 2, 4], visit),
  };
}

/** Official task-module names of the span model (`Extractor.task_module_names()`). */
export const TASK_MODULES = ["span_rep", "classifier", "count_embed", "count_pred"] as const;
const ENCODER_PATTERNS = ["query", "key", "value", "dense"];

/**
 * The official resolution of high-level target names (`_resolve_targets`, gliner2/training/lora.py): `encoder`
 * → encoder Linears whose last name part contains query/key/value/dense; `encoder.<p>` → encoder Linears whose
 * last part contains `<p>`; a task-module name or alias (`all_task_heads`, `classification_head`,
 * `extractive_head`) → every Linear under it. Other names resolve to nothing.
 */
export function resolveTargets(modules: readonly string[], targets: readonly string[]): Set<string> {
  const has = (prefix: string) => modules.some((m) => m === prefix || m.startsWith(`${prefix}.`));
  const prefixes = new Set<string>();
  for (const t of targets) {
    if ((TASK_MODULES as readonly string[]).includes(t)) prefixes.add(t);
    if (t === "all_task_heads") TASK_MODULES.forEach((m) => prefixes.add(m));
    if (t === "classification_head" && has("classifier")) prefixes.add("classifier");
    if (t === "extractive_head") ["span_rep", "count_embed", "count_pred"].filter(has).forEach((m) => prefixes.add(m));
  }
  const selected = new Set<string>();
  for (const m of modules) {
    const local = m.split(".").pop()!;
    const inEncoder = m.startsWith("encoder.");
    for (const t of targets) {
      if (t === "encoder" && inEncoder && ENCODER_PATTERNS.some((p) => local.includes(p))) selected.add(m);
      else if (t.startsWith("encoder.") && inEncoder && local.includes(t.slice("encoder.".length))) selected.add(m);
    }
    for (const p of prefixes) if (m === p || m.startsWith(`${p}.`)) selected.add(m);
  }
  return selected;
}

/**
 * gliner2 — GLiNER2 schema-driven information extraction in pure TypeScript.
 *
 * Start with `GLiNER2.fromPretrained(dirOrRepoId)`, then `extractEntities`, `classifyText`, `extractJson`,
 * `extractRelations`, or `extract(text, schema)` with a schema from `createSchema()` or a JSON schema object.
 */
export { GLiNER2, type BatchOptions, type CallOptions, type ExtractionResult, type LoadOptions } from "./gliner2.js";
export { createSchema, normalizeSchema } from "./schema.js";
export type * from "./schema.js";
export type { CheckpointFiles } from "./checkpoint.js";
export { loadModel, readCheckpointDir, CHECKPOINT_FILES } from "./checkpoint.js";
export { downloadCheckpoint, resolveCheckpoint, type HubOptions, type ResolveOptions } from "./hub/index.js";
export type { ExtractionOutput, RawOutput, FormatOptions, SpanOutput, LabelOutput } from "./format.js";
export type { SpanSelection } from "./decode.js";
export {
  Gliner2Error,
  ConfigError,
  DownloadError,
  InputError,
  SafetensorsError,
  SchemaError,
  TokenizerError,
  WeightsError,
} from "./errors.js";
// Lower layers, for people who want to run or inspect single steps.
export { prepareText, splitWords, type Word } from "./words.js";
export { loadTokenizer, type Gliner2Tokenizer } from "./tokenizer.js";
export { parseSafetensors, readSafetensorsFile, readSafetensorsResponse, type SafetensorsFile } from "./model/safetensors.js";
export { encode, loadDebertaEncoder, type DebertaEncoder } from "./model/deberta.js";
export { runBatch, type Gliner2Model } from "./engine.js";
export { startThreads, stopThreads, threadCount, setLinearBackend, type LinearKernel, type PackedLinear } from "./kernels/index.js";
export { setBackend, activeBackend, backendInfo, type Backend, type ActiveBackend } from "./kernels/index.js";

/**
 * gliner2 — GLiNER2 schema-driven information extraction in pure TypeScript.
 *
 * Start with `GLiNER2.fromPretrained(dirOrRepoId)`, then `extractEntities`, `classifyText`, `extractJson`,
 * `extractRelations`, or `extract(text, schema)` with a schema from `createSchema()` or a JSON schema object.
 */
export { GLiNER2, type BatchOptions, type CallOptions, type ExtractionResult, type LoadOptions, type OverlapPolicy } from "./gliner2.js";
export { splitIntoChunks, mergeChunkResults, type LongOptions, type LongDocument, type LongProgress, type TextChunk } from "./long/index.js";
export { createSchema, normalizeSchema } from "./schema/schema.js";
export type * from "./schema/schema.js";
export type { CheckpointFiles, EmbeddingsOption } from "./checkpoint.js";
export { loadModel, readCheckpointDir, CHECKPOINT_FILES } from "./checkpoint.js";
export { downloadCheckpoint, resolveCheckpoint, type HubOptions, type ResolveOptions } from "./hub/index.js";
export type {
  ExtractionOutput,
  RawOutput,
  FormatOptions,
  SpanOutput,
  LabelOutput,
  EntitiesOutput,
  ClassificationsOutput,
  StructuresOutput,
  RelationsOutput,
  FieldOutput,
  InstanceOutput,
  RelationOutput,
  ClassificationOutput,
  ValueOutput,
} from "./decode/format.js";
export type { SpanSelection } from "./decode/decode.js";
export type { AdapterConfig, AdapterFiles, LoadAdapterOptions, TargetPolicy } from "./adapters/index.js";
export {
  AdapterError,
  type AdapterProblem,
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
export { prepareText, splitWords, type Word } from "./text/words.js";
export { loadTokenizer, type Gliner2Tokenizer } from "./text/tokenizer.js";
export { openSafetensorsFile, parseSafetensors, readSafetensorsFile, readSafetensorsResponse, type SafetensorsFile } from "./model/safetensors.js";
export { encode, loadDebertaEncoder, type DebertaEncoder } from "./model/deberta.js";
export { runBatch, type Gliner2Model } from "./engine.js";
// Serving: the hosted-API-compatible HTTP server and the worker-thread host's entry override.
export { startServer, type GlinerServer, type ServeOptions } from "./serve/index.js";
export { setWorkerEntry } from "./worker/client.js";
export { startThreads, stopThreads, threadCount, setLinearBackend, type LinearKernel, type PackedLinear } from "./kernels/index.js";
// int8 (README "int8"): checkpoint writer, plans, and the kernel slot a faster int8 backend plugs into.
export { quantizeCheckpoint, quantizeCheckpointFiles, quantizeSafetensors, type QuantizeStats } from "./int8/checkpoint.js";
export { DEFAULT_INT8_PLAN, EMBEDDINGS_INT8_PLAN, type Int8Plan, type QuantizeOption } from "./int8/plan.js";
export { setInt8Backend, linearInt8Reference, quantizeRows, dequantizeRows, type Int8Linear, type Int8LinearKernel, type Int8Rows } from "./kernels/index.js";
export { setBackend, activeBackend, backendInfo, type Backend, type ActiveBackend } from "./kernels/index.js";

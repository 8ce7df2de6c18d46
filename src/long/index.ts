/** Long documents: chunking, batched extraction over chunks, and the official merge of chunk results. */
export { checkChunkOptions, countChunks, iterateChunks, splitIntoChunks, DEFAULT_CHUNK_OVERLAP, DEFAULT_CHUNK_SIZE, type ChunkOptions, type TextChunk } from "./chunks.js";
export { mergeChunkResults, type MergeOptions } from "./merge.js";
export { batchExtractLong, streamExtractLong, type LongDocument, type LongOptions, type LongProgress } from "./extract.js";

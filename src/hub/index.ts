/** Checkpoint resolution (folder, URL, hub repo id) and the Hugging Face hub download with its disk cache. */
export { checkpointFolder, resolveCheckpoint, type ResolveOptions } from "./resolve.js";
export { downloadCheckpoint, fetchSnapshot, type HubOptions, type Snapshot, type SnapshotFile } from "./download.js";
export { fetchFolderToMemory, fetchHubToMemory, fetchToMemory, type MemoryFetchOptions } from "./memory.js";
export { CHECKPOINT_FILE_SPECS, type CheckpointFileSpec, type ResolvedCheckpoint } from "./files.js";
export type { DownloadProgress } from "./http.js";
export { looksLikeRepoId, parseRepoRef, repoFolderName, resolveUrl, type RepoRef } from "./repo.js";

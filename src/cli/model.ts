/**
 * `--model` for the CLI: a local checkpoint folder, an http(s) URL of one, or a hub repo id (`org/name`,
 * optionally `@revision`). A source that looks like a path but does not exist is reported as such before any
 * network access, so a typo never turns into a confusing hub 404.
 */
import { stat } from "node:fs/promises";
import { homedir } from "node:os";
import { InputError } from "../errors.js";
import { UsageError } from "./errors.js";
import type { GLiNER2 } from "../index.js";
import { downloadProgress, type ProgressStream } from "./progress.js";

export interface ModelOptions {
  readonly cacheDir?: string;
  readonly revision?: string;
  /** --token: sent wherever the model comes from (the user named it for this source). */
  readonly token?: string;
  /** $HF_TOKEN: a hub credential, used for hub repo ids only, never sent to an arbitrary URL host. */
  readonly envToken?: string;
  readonly endpoint?: string;
  readonly offline?: boolean;
  readonly progress: boolean;
  readonly maxTokens?: number;
  readonly quantize?: "none" | "int8" | "int8-embeddings";
  readonly embeddings?: "memory" | "disk";
}

/** `--embeddings memory|disk` (LoadOptions.embeddings). */
export function embeddingsFlag(v: string | undefined, command: string): "memory" | "disk" | undefined {
  if (v === undefined || v === "memory" || v === "disk") return v;
  throw new UsageError(command, `--embeddings must be memory or disk, got ${JSON.stringify(v)}`);
}

const REPO_ID = /^[A-Za-z0-9][\w.-]*\/[\w.-]+(@[\w./-]+)?$/;

export type ModelSourceKind = "dir" | "url" | "repo";

/** Decide what `source` names; throws InputError naming the path when it is a missing or non-folder path. */
export async function classifyModelSource(source: string, flag = "--model"): Promise<{ kind: ModelSourceKind; source: string }> {
  if (source.trim() === "") throw new InputError(flag, "is empty");
  if (/^https?:\/\//i.test(source)) return { kind: "url", source };
  const path = source.startsWith("~/") ? homedir() + source.slice(1) : source;
  const st = await stat(path).catch(() => null);
  if (st !== null) {
    if (!st.isDirectory()) throw new InputError(flag, `${path} is a file; a checkpoint is a folder holding config.json, encoder_config/config.json, tokenizer.json and model.safetensors`);
    return { kind: "dir", source: path };
  }
  const looksLikePath = /^(\/|\.{1,2}(\/|\\|$)|~|[A-Za-z]:[\\/])/.test(source) || source.includes("\\") || source.split("/").length > 2;
  if (looksLikePath || !REPO_ID.test(source)) {
    throw new InputError(flag, `model folder ${path} not found${looksLikePath ? "" : " (and it is not a hub repo id like fastino/gliner2-base-v1)"}`);
  }
  return { kind: "repo", source };
}

/** Load the model `source` names, showing download progress on `stderr` when enabled. */
export async function loadCliModel(source: string, opts: ModelOptions, stderr: ProgressStream): Promise<GLiNER2> {
  const resolved = await classifyModelSource(source);
  const progress = downloadProgress(stderr, opts.progress);
  // Loaded on demand: `--help` and argument errors stay instant.
  const { GLiNER2 } = await import("../index.js");
  const model = await GLiNER2.fromPretrained(resolved.source, {
    cacheDir: opts.cacheDir,
    revision: opts.revision,
    // An explicit empty token switches the library's own $HF_TOKEN lookup off for URL sources.
    token: opts.token ?? (resolved.kind === "repo" ? opts.envToken : undefined),
    endpoint: opts.endpoint,
    offline: opts.offline,
    onProgress: progress.onProgress,
    // A command has no event loop to keep free; in-thread also keeps its peak memory lowest.
    offThread: false,
    maxTokens: opts.maxTokens,
    quantize: opts.quantize,
    embeddings: opts.embeddings,
  });
  progress.finish();
  return model;
}

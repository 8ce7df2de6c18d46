/**
 * One entry point from "where the model is" to its files: a local folder, an http(s) URL of a folder, or a hub
 * repo id (`org/name`, `org/name@revision`). With a file system (Node, Deno, Bun) a hub checkpoint goes through
 * the disk cache and is read from its snapshot folder; without one (browsers, edge) it is fetched into memory.
 */
import { DownloadError, InputError } from "../errors.js";
import { fetchSnapshot, type HubOptions } from "./download.js";
import { envOffline, envVar, resolveEndpoint } from "./env.js";
import { CHECKPOINT_FILE_SPECS, readCheckpointFolder, type ResolvedCheckpoint } from "./files.js";
import { fetchFolderToMemory, fetchHubToMemory } from "./memory.js";
import { loadNodeFs } from "./nodefs.js";
import { looksLikeRepoId, parseRepoRef } from "./repo.js";

export interface ResolveOptions extends HubOptions {
  /** Fetch a hub checkpoint into memory even where a disk cache is possible. */
  readonly inMemory?: boolean;
}

const LAYOUT = CHECKPOINT_FILE_SPECS.filter((s) => !s.optional).map((s) => s.path).join(", ");

/**
 * The folder on this machine that holds the checkpoint `source` names, without reading its files: a local folder,
 * or a hub repo id's snapshot folder in the disk cache (downloaded first when needed). null where the files can
 * only be fetched into memory: folder URLs, `inMemory`, runtimes without a file system. A bad path or id fails
 * here with the same InputError `resolveCheckpoint` gives.
 */
export async function checkpointFolder(source: string, opts: ResolveOptions = {}): Promise<{ dir: string; commit?: string } | null> {
  if (typeof source !== "string" || source.trim() === "") {
    throw new InputError("source", "is empty; give a checkpoint folder, an http(s) URL of one, or a hub repo id like fastino/gliner2-base-v1");
  }
  if (/^https?:\/\//i.test(source)) return null;
  const fs = await loadNodeFs();
  if (fs !== null) {
    const path = source === "~" || source.startsWith("~/") ? fs.path.join(fs.os.homedir(), source.slice(1)) : source;
    const st = await fs.promises.stat(path).catch((err: unknown) => {
      const code = (err as { code?: string }).code;
      if (code === "ENOENT" || code === "ENOTDIR") return null;
      // Anything else (no permission: EACCES, Deno without --allow-read) is not "not found": say what it is.
      const name = (err as Error).name;
      const denied = code === "EACCES" || code === "EPERM" || name === "NotCapable" || name === "PermissionDenied";
      throw new InputError(
        "source",
        `${path} cannot be accessed (${code ?? name}: ${(err as Error).message})${denied ? "; check its permissions (Deno: run with --allow-read)" : ""}`,
      );
    });
    if (st !== null) {
      if (!st.isDirectory()) throw new InputError("source", `${path} is a file; a checkpoint is a folder holding ${LAYOUT}`);
      return { dir: fs.path.resolve(path) };
    }
  }
  const pathLike = /^(\/|\.{1,2}([\\/]|$)|~|[A-Za-z]:[\\/])/.test(source) || source.includes("\\");
  if (pathLike || !looksLikeRepoId(source)) {
    throw new InputError(
      "source",
      fs !== null
        ? `checkpoint folder ${source} not found${pathLike ? "" : " (and it is not a hub repo id like fastino/gliner2-base-v1)"}`
        : `"${source}" is neither an http(s) URL nor a hub repo id like fastino/gliner2-base-v1 (this runtime has no file system for local folders)`,
    );
  }
  if (fs !== null && opts.inMemory !== true) {
    const snap = await fetchSnapshot(source, opts);
    return { dir: snap.dir, commit: snap.commit };
  }
  return null;
}

/**
 * The files of the checkpoint `source` names. Folder URLs are always fetched into memory (no cache); the token
 * is sent to them only when given in `opts.token` (never `$HF_TOKEN`, which is meant for the hub).
 */
export async function resolveCheckpoint(source: string, opts: ResolveOptions = {}): Promise<ResolvedCheckpoint> {
  const folder = await checkpointFolder(source, opts);
  if (folder !== null) return readCheckpointFolder(folder.dir, (await loadNodeFs())!, folder.commit === undefined ? {} : { commit: folder.commit });
  if (/^https?:\/\//i.test(source)) {
    const token = opts.token !== undefined && opts.token.trim() !== "" ? opts.token.trim() : undefined;
    return fetchFolderToMemory(source, { ...opts, token });
  }
  const fs = await loadNodeFs();
  const { repo, revision } = parseRepoRef(source, opts.revision);
  if (opts.offline ?? envOffline()) {
    throw new DownloadError(`offline mode: ${repo} cannot be fetched, and ${fs === null ? "this runtime has no disk cache" : "the disk cache is not used with inMemory"}`);
  }
  const token = opts.token !== undefined ? (opts.token.trim() === "" ? undefined : opts.token.trim()) : envVar("HF_TOKEN");
  return fetchHubToMemory(resolveEndpoint(opts.endpoint), repo, revision, { ...opts, token });
}

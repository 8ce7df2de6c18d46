/**
 * The Hugging Face hub cache layout, shared with huggingface_hub (Python) so either tool reuses the other's
 * downloads:
 *
 *   <cache>/models--org--name/
 *     blobs/<etag>                   file contents, named by git-sha1 (small files) or sha256 (LFS files)
 *     blobs/<etag>.incomplete        a download in progress; resumed with a Range request
 *     snapshots/<commit>/<path>      relative symlink to ../../blobs/<etag> (a copy where symlinks fail)
 *     refs/<revision>                the commit a branch or tag pointed to at the last download
 *     .no_exist/<commit>/<path>      empty marker: this optional file does not exist at that commit
 *
 * A snapshot entry or blob only ever appears by rename from a temporary name, so a reader never sees a partial
 * file under a final name.
 */
import { CHECKPOINT_FILE_SPECS } from "./files.js";
import type { NodeFs } from "./nodefs.js";
import { isCommitHash, repoFolderName } from "./repo.js";

export interface RepoCache {
  readonly root: string;
  readonly blobs: string;
  readonly snapshots: string;
  readonly refs: string;
  readonly noExist: string;
}

export function repoCache(cacheDir: string, repo: string, fs: NodeFs): RepoCache {
  const root = fs.path.join(cacheDir, repoFolderName(repo));
  return {
    root,
    blobs: fs.path.join(root, "blobs"),
    snapshots: fs.path.join(root, "snapshots"),
    refs: fs.path.join(root, "refs"),
    noExist: fs.path.join(root, ".no_exist"),
  };
}

export function snapshotDir(rc: RepoCache, commit: string, fs: NodeFs): string {
  return fs.path.join(rc.snapshots, commit);
}

/** A unique sibling name for write-then-rename. */
function tempName(path: string, fs: NodeFs): string {
  return `${path}.${fs.crypto.randomBytes(6).toString("hex")}.tmp`;
}

/** Write a small file atomically (temp file, then rename over the target). */
export async function writeAtomic(path: string, data: string, fs: NodeFs): Promise<void> {
  await fs.promises.mkdir(fs.path.dirname(path), { recursive: true });
  const tmp = tempName(path, fs);
  try {
    await fs.promises.writeFile(tmp, data);
    await fs.promises.rename(tmp, path);
  } catch (err) {
    await fs.promises.rm(tmp, { force: true });
    throw err;
  }
}

/** The commit `revision` resolves to in the cache: itself for a commit hash, else what refs/<revision> says. */
export async function cachedCommit(rc: RepoCache, revision: string, fs: NodeFs): Promise<string | null> {
  if (isCommitHash(revision)) return revision;
  try {
    const commit = (await fs.promises.readFile(fs.path.join(rc.refs, revision), "utf8")).trim();
    return isCommitHash(commit) ? commit : null;
  } catch {
    return null;
  }
}

export async function writeRef(rc: RepoCache, revision: string, commit: string, fs: NodeFs): Promise<void> {
  if (revision === commit) return;
  const path = fs.path.join(rc.refs, revision);
  const current = await fs.promises.readFile(path, "utf8").catch(() => null);
  if (current?.trim() !== commit) await writeAtomic(path, commit, fs);
}

/** True when `path` exists as a regular file (following a symlink, so a dangling link counts as missing). */
export async function isFile(path: string, fs: NodeFs): Promise<boolean> {
  const st = await fs.promises.stat(path).catch(() => null);
  return st !== null && st.isFile();
}

export async function fileSize(path: string, fs: NodeFs): Promise<number | null> {
  const st = await fs.promises.stat(path).catch(() => null);
  return st !== null && st.isFile() ? st.size : null;
}

export function noExistMarker(rc: RepoCache, commit: string, file: string, fs: NodeFs): string {
  return fs.path.join(rc.noExist, commit, ...file.split("/"));
}

export async function markMissing(rc: RepoCache, commit: string, file: string, fs: NodeFs): Promise<void> {
  const marker = noExistMarker(rc, commit, file, fs);
  await fs.promises.mkdir(fs.path.dirname(marker), { recursive: true });
  await fs.promises.writeFile(marker, "");
}

/** Snapshot entry state of one checkpoint file at `commit`: present, known to be absent, or still needed. */
export async function entryState(rc: RepoCache, commit: string, file: string, fs: NodeFs): Promise<"present" | "absent" | "needed"> {
  if (await isFile(fs.path.join(snapshotDir(rc, commit, fs), ...file.split("/")), fs)) return "present";
  if (await isFile(noExistMarker(rc, commit, file, fs), fs)) return "absent";
  return "needed";
}

/** The files of the checkpoint that `commit`'s snapshot still lacks (empty when it is complete). */
export async function missingFiles(
  rc: RepoCache,
  commit: string,
  fs: NodeFs,
  files: readonly { path: string; optional: boolean }[] = CHECKPOINT_FILE_SPECS,
): Promise<string[]> {
  const missing: string[] = [];
  for (const spec of files) {
    const state = await entryState(rc, commit, spec.path, fs);
    if (state === "needed" || (state === "absent" && !spec.optional)) missing.push(spec.path);
  }
  return missing;
}

/**
 * Make snapshot entry `entry` point at `blob`: a relative symlink (so the cache folder can be moved), or a copy
 * where the file system or OS refuses symlinks (Windows without developer mode, some network shares).
 * Either way the entry appears by an atomic rename.
 */
export async function linkEntry(blob: string, entry: string, fs: NodeFs, opts: { symlinks?: boolean } = {}): Promise<"symlink" | "copy"> {
  await fs.promises.mkdir(fs.path.dirname(entry), { recursive: true });
  const tmp = tempName(entry, fs);
  try {
    if (opts.symlinks !== false) {
      try {
        await fs.promises.symlink(fs.path.relative(fs.path.dirname(entry), blob), tmp);
        await fs.promises.rename(tmp, entry);
        return "symlink";
      } catch (err) {
        await fs.promises.rm(tmp, { force: true });
        const code = (err as { code?: string }).code;
        if (code !== "EPERM" && code !== "ENOTSUP" && code !== "EOPNOTSUPP" && code !== "EACCES" && code !== "EINVAL") throw err;
      }
    }
    await fs.promises.copyFile(blob, tmp);
    await fs.promises.rename(tmp, entry);
    return "copy";
  } catch (err) {
    await fs.promises.rm(tmp, { force: true });
    throw err;
  }
}

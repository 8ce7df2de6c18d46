/**
 * Hub download into the shared disk cache (Node, Deno, Bun).
 *
 * Per call: one HEAD on config.json at the requested revision tells the commit; when that commit's snapshot is
 * already complete nothing else is requested (and a revision that is itself a commit hash needs no request at
 * all). Otherwise each missing file is HEADed at that commit (so all files come from the same commit even if the
 * branch moves meanwhile) and its blob is fetched unless a blob with the same etag is already cached.
 *
 * A blob is streamed into `blobs/<etag>.incomplete`, resumed with `Range` after a cut, checked against the
 * announced size and, for LFS files (etag = sha256), against the hash, and only then renamed to its final name.
 */
import { DownloadError } from "../errors.js";
import { describeValue } from "../quote.js";
import { linkEntry, cachedCommit, entryState, fileSize, markMissing, missingFiles, repoCache, snapshotDir, writeRef, type RepoCache } from "./cache.js";
import { envOffline, resolveCacheDir, resolveEndpoint, resolveToken } from "./env.js";
import { CHECKPOINT_FILE_SPECS, type CheckpointFileSpec } from "./files.js";
import {
  DEFAULT_TIMEOUT_MS,
  bodyLength,
  discard,
  parseSize,
  send,
  statusError,
  streamBody,
  watchdog,
  type DownloadProgress,
  type HttpContext,
  type Subject,
} from "./http.js";
import { loadNodeFs, type NodeFs } from "./nodefs.js";
import { checkedCommit, isCommitHash, isSha256, normalizeEtag, parseRepoRef, resolveUrl } from "./repo.js";

export interface HubOptions {
  /** Branch, tag or commit (default "main"; `org/name@rev` in the repo id works too). */
  readonly revision?: string;
  /** Cache root (default `$HF_HUB_CACHE`, else `$HF_HOME/hub`, else `~/.cache/huggingface/hub`). */
  readonly cacheDir?: string;
  /** Hub endpoint (default `$HF_ENDPOINT`, else https://huggingface.co). */
  readonly endpoint?: string;
  /** Access token for private or gated repos (default `$HF_TOKEN`, else the `huggingface-cli login` token file). */
  readonly token?: string;
  /** Use the cache only, never the network (default `$HF_HUB_OFFLINE`). */
  readonly offline?: boolean;
  /** Called as bytes arrive, per file; not called for files already cached. */
  readonly onProgress?: (p: DownloadProgress) => void;
  /** Cancels the download; the partial file is kept for resuming. */
  readonly signal?: AbortSignal;
  /** Give up when no bytes arrive for this long (default 60 s). */
  readonly timeoutMs?: number;
  /** fetch implementation (default the global one). */
  readonly fetch?: typeof fetch;
}

/** A file of a snapshot: its path in the repo and whether it may be absent. */
export type SnapshotFile = Pick<CheckpointFileSpec, "path" | "optional" | "maxBytes">;

/** A checkpoint snapshot in the cache. */
export interface Snapshot {
  readonly repo: string;
  readonly revision: string;
  readonly commit: string;
  /** `<cache>/models--org--name/snapshots/<commit>`. */
  readonly dir: string;
}

/** What a HEAD on a hub file says about it. */
interface FileMeta {
  readonly file: string;
  readonly commit: string;
  readonly etag: string;
  /** Size in bytes when announced. */
  readonly size: number | null;
  /** Where the bytes are: the resolve URL, or the storage URL an LFS file redirects to. */
  readonly downloadUrl: string;
  /** Most bytes accepted for this file (CHECKPOINT_FILE_SPECS). */
  readonly maxBytes: number;
}

interface Session {
  readonly fs: NodeFs;
  readonly rc: RepoCache;
  readonly cacheDir: string;
  readonly repo: string;
  readonly revision: string;
  readonly endpoint: string;
  readonly token: string | undefined;
  readonly http: HttpContext;
  readonly onProgress: (p: DownloadProgress) => void;
}

/**
 * Make sure the checkpoint of `repoId` is in the cache and return its snapshot folder (usable as a local
 * checkpoint folder). Used by `gliner2 download`.
 */
export async function downloadCheckpoint(repoId: string, opts: HubOptions = {}): Promise<string> {
  return (await fetchSnapshot(repoId, opts)).dir;
}

/**
 * As downloadCheckpoint, with the commit the snapshot belongs to. `files` lists what to fetch (default the
 * checkpoint layout; LoRA adapters pass theirs); the first must be a required file.
 */
export async function fetchSnapshot(repoId: string, opts: HubOptions = {}, files: readonly SnapshotFile[] = CHECKPOINT_FILE_SPECS): Promise<Snapshot> {
  const fs = await loadNodeFs();
  if (fs === null) {
    throw new DownloadError("the hub cache needs a file system (Node, Deno or Bun); in a browser use resolveCheckpoint, which fetches into memory");
  }
  const { repo, revision } = parseRepoRef(repoId, opts.revision);
  const cacheDir = resolveCacheDir(opts.cacheDir, fs);
  const rc = repoCache(cacheDir, repo, fs);
  const snapshot = (commit: string): Snapshot => ({ repo, revision, commit, dir: snapshotDir(rc, commit, fs) });

  const known = await cachedCommit(rc, revision, fs);
  const knownMissing = known === null ? null : await missingFiles(rc, known, fs, files);
  const cached = known !== null && knownMissing!.length === 0 ? known : null;

  if (opts.offline ?? envOffline()) {
    if (cached !== null) return snapshot(cached);
    const what =
      known === null
        ? `revision "${revision}" of ${repo} has never been downloaded`
        : `the cached snapshot ${snapshotDir(rc, known, fs)} lacks ${knownMissing!.join(", ")}`;
    throw new DownloadError(
      `offline mode (HF_HUB_OFFLINE or the offline option): ${what} into the cache ${cacheDir}; download it first while online (gliner2 download ${repo}${revision === "main" ? "" : `@${revision}`}) or turn offline mode off`,
    );
  }
  // A commit's files never change: a complete snapshot of one needs no request.
  if (cached !== null && isCommitHash(revision)) return snapshot(cached);

  const s: Session = {
    fs,
    rc,
    cacheDir,
    repo,
    revision,
    endpoint: resolveEndpoint(opts.endpoint),
    token: await resolveToken(opts.token, fs),
    http: { fetch: opts.fetch ?? globalThis.fetch.bind(globalThis), timeoutMs: opts.timeoutMs ?? DEFAULT_TIMEOUT_MS, signal: opts.signal },
    onProgress: opts.onProgress ?? (() => undefined),
  };

  let first: FileMeta;
  try {
    first = (await headFile(s, revision, files[0], false))!;
  } catch (err) {
    // Like huggingface_hub: when the hub cannot be reached, a complete cached snapshot is good enough.
    if (cached !== null && err instanceof DownloadError && (err.status === undefined || err.status >= 500 || err.status === 429)) {
      return snapshot(cached);
    }
    throw err;
  }
  const commit = first.commit;
  const dir = snapshotDir(rc, commit, fs);
  for (const spec of files) {
    const state = await entryState(rc, commit, spec.path, fs);
    if (state === "present" || (state === "absent" && spec.optional)) continue;
    const meta = spec.path === first.file ? first : await headFile(s, commit, spec, spec.optional);
    if (meta === null) {
      await markMissing(rc, commit, spec.path, fs);
      continue;
    }
    if (meta.commit !== commit) {
      throw new DownloadError(`${meta.downloadUrl}: the server answered for commit ${meta.commit} instead of ${commit}`, { url: meta.downloadUrl });
    }
    const blob = await ensureBlob(s, meta);
    await linkEntry(blob, fs.path.join(dir, ...spec.path.split("/")), fs);
  }
  await writeRef(rc, revision, commit, fs);
  return snapshot(commit);
}

function authHeaders(s: Session, url: string): Record<string, string> {
  // The token goes to the hub only, never to the storage host an LFS file redirects to.
  return s.token !== undefined && sameOrigin(url, s.endpoint) ? { Authorization: `Bearer ${s.token}` } : {};
}

function sameOrigin(a: string, b: string): boolean {
  try {
    return new URL(a).origin === new URL(b).origin;
  } catch {
    return false;
  }
}

function subject(s: Session, file: string, revision: string): Subject {
  return { file, repo: s.repo, revision, hadToken: s.token !== undefined };
}

const MAX_REDIRECTS = 5;

/**
 * HEAD a file without following the redirect to LFS storage (its headers carry the metadata); relative redirects
 * (a renamed repo) are followed. Returns null for an optional file that does not exist.
 */
async function headFile(s: Session, revision: string, spec: SnapshotFile, optional: boolean): Promise<FileMeta | null> {
  const file = spec.path;
  let url = resolveUrl(s.endpoint, s.repo, revision, file);
  for (let hop = 0; ; hop++) {
    const dog = watchdog(s.http.timeoutMs, s.http.signal);
    let res: Response;
    try {
      res = await send(url, { method: "HEAD", headers: { "Accept-Encoding": "identity", ...authHeaders(s, url) }, redirect: "manual" }, s.http, dog);
      await discard(res);
    } finally {
      dog.stop();
    }
    const location = res.headers.get("location");
    if (res.status >= 300 && res.status < 400 && location !== null) {
      // Resolved against the request URL: relative (`/org/name/…`) and protocol-relative (`//host/…`) forms alike.
      let target: URL;
      try {
        target = new URL(location, url);
      } catch {
        throw new DownloadError(`${url}: the server redirects to an invalid location ${describeValue(location)}`, { url, status: res.status });
      }
      if (target.protocol !== "https:" && target.protocol !== "http:") {
        throw new DownloadError(`${url}: the server redirects to a non-http(s) location ${describeValue(location)}`, { url, status: res.status });
      }
      // Same origin (a renamed repo): follow, metadata comes from there. Another origin: LFS storage.
      if (target.origin === new URL(url).origin) {
        if (hop >= MAX_REDIRECTS) throw new DownloadError(`${url}: more than ${MAX_REDIRECTS} redirects`, { url, status: res.status });
        url = target.toString();
        continue;
      }
      return metaFrom(res, url, spec, target.toString());
    }
    if (res.ok) return metaFrom(res, url, spec, url);
    const code = res.headers.get("x-error-code");
    if (optional && res.status === 404 && code !== "RepoNotFound" && code !== "RevisionNotFound") return null;
    throw statusError(res, url, subject(s, file, revision));
  }
}

function metaFrom(res: Response, url: string, spec: SnapshotFile, downloadUrl: string): FileMeta {
  const h = res.headers;
  const size = parseSize(h.get("x-linked-size")) ?? parseSize(h.get("content-length"));
  if (size !== null && size > spec.maxBytes) {
    throw new DownloadError(`"${spec.path}" is announced as ${size} bytes, over the ${spec.maxBytes}-byte limit for this file (not a GLiNER2 checkpoint, or a broken server) [${url}]`, { url });
  }
  return {
    file: spec.path,
    commit: checkedCommit(h.get("x-repo-commit"), url),
    etag: normalizeEtag(h.get("x-linked-etag") ?? h.get("etag"), url),
    size,
    downloadUrl,
    maxBytes: spec.maxBytes,
  };
}

/** Downloads in flight in this process, by blob path: concurrent calls for the same blob share one. */
const inflight = new Map<string, Promise<void>>();

/** Path of the blob for `meta`, downloading it unless an intact one is cached. */
async function ensureBlob(s: Session, meta: FileMeta): Promise<string> {
  const { fs } = s;
  const blob = fs.path.join(s.rc.blobs, meta.etag);
  for (;;) {
    const pending = inflight.get(blob);
    if (pending !== undefined) {
      await pending.catch(() => undefined);
      continue;
    }
    const size = await fileSize(blob, fs);
    if (size !== null && (meta.size === null || size === meta.size)) return blob;
    if (inflight.has(blob)) continue; // another call started it while we looked
    const job = (async () => {
      // A blob of the wrong size was damaged outside our control (e.g. copied in by hand): fetch it again.
      if (size !== null) await fs.promises.rm(blob, { force: true });
      await downloadBlob(s, meta, blob);
    })();
    inflight.set(blob, job);
    try {
      await job;
    } finally {
      inflight.delete(blob);
    }
    return blob;
  }
}

async function downloadBlob(s: Session, meta: FileMeta, blob: string): Promise<void> {
  const { fs } = s;
  const partial = `${blob}.incomplete`;
  await fs.promises.mkdir(s.rc.blobs, { recursive: true });
  // Only a regular file is resumed. A symlink (or anything else) planted there is removed, never followed:
  // writing through it would overwrite whatever it points to.
  const st = await fs.promises.lstat(partial).catch(() => null);
  if (st !== null && !st.isFile()) await fs.promises.rm(partial, { force: true, recursive: st.isDirectory() });
  let offset = st !== null && st.isFile() ? st.size : 0;
  if (meta.size !== null && offset > meta.size) {
    await fs.promises.rm(partial, { force: true });
    offset = 0;
  }
  if (meta.size === null || offset < meta.size) await fetchInto(s, meta, partial, offset, true);
  else s.onProgress({ file: meta.file, loaded: offset, total: meta.size });

  const got = (await fileSize(partial, fs)) ?? 0;
  if (meta.size !== null && got !== meta.size) {
    // Longer than announced cannot be resumed; shorter can (the next attempt asks for the rest).
    if (got > meta.size) await fs.promises.rm(partial, { force: true });
    throw new DownloadError(
      `download of "${meta.file}" from ${s.repo} ended with ${got} of the ${meta.size} bytes announced${got < meta.size ? "; the partial file is kept and the next attempt resumes it" : "; the file was deleted"} [${meta.downloadUrl}]`,
      { url: meta.downloadUrl },
    );
  }
  if (isSha256(meta.etag)) {
    const actual = await sha256File(partial, fs);
    if (actual !== meta.etag) {
      await fs.promises.rm(partial, { force: true });
      throw new DownloadError(
        `sha256 mismatch for "${meta.file}" from ${s.repo}: expected ${meta.etag}, got ${actual}; the corrupt download was deleted, run again to fetch it anew [${meta.downloadUrl}]`,
        { url: meta.downloadUrl },
      );
    }
  }
  await fs.promises.rename(partial, blob);
}

/**
 * GET the file (from `offset` with a Range request when resuming) and append it to `partial`. A server that
 * ignores the Range gets the file rewritten from the start; one that cannot satisfy it (416) gets one fresh try.
 */
async function fetchInto(s: Session, meta: FileMeta, partial: string, offset: number, mayRestart: boolean): Promise<void> {
  const { fs } = s;
  const url = meta.downloadUrl;
  const headers: Record<string, string> = { "Accept-Encoding": "identity", ...authHeaders(s, url) };
  if (offset > 0) headers.Range = `bytes=${offset}-`;
  const dog = watchdog(s.http.timeoutMs, s.http.signal);
  try {
    const res = await send(url, { headers, redirect: "follow" }, s.http, dog);
    let start = 0;
    if (offset > 0 && res.status === 206 && contentRangeStart(res) === offset) start = offset;
    else if (offset > 0 && (res.status === 416 || res.status === 206)) {
      // The partial file does not match what the server can resume: start over once.
      await discard(res);
      await fs.promises.rm(partial, { force: true });
      if (!mayRestart) throw new DownloadError(`${url}: the server's Range answers are inconsistent (HTTP ${res.status})`, { url, status: res.status });
      return await fetchInto(s, meta, partial, 0, false);
    }
    if (!res.ok || (res.status === 206 && start === 0)) {
      await discard(res);
      throw statusError(res, url, subject(s, meta.file, meta.commit));
    }
    const length = bodyLength(res);
    const total = length !== null ? start + length : meta.size;
    if (meta.size !== null && total !== null && total !== meta.size) {
      await discard(res);
      throw new DownloadError(`${url}: the server sends ${total} bytes of "${meta.file}" but announced ${meta.size}`, { url, status: res.status });
    }
    const limit = total ?? meta.maxBytes;
    if (limit > meta.maxBytes) {
      await discard(res);
      throw new DownloadError(`${url}: the server sends ${limit} bytes of "${meta.file}", over the ${meta.maxBytes}-byte limit for this file`, { url, status: res.status });
    }
    const { constants: c } = fs.fs;
    // O_NOFOLLOW: a symlink swapped in after the check above makes open fail instead of writing through it.
    const flags = c.O_WRONLY | c.O_CREAT | (start > 0 ? c.O_APPEND : c.O_TRUNC) | (c.O_NOFOLLOW ?? 0);
    const handle = await fs.promises.open(partial, flags, 0o644).catch((err: NodeJS.ErrnoException) => {
      throw new DownloadError(`cannot write the partial download ${partial} (${err.code ?? err.message})`, { url, cause: err });
    });
    let loaded = start;
    let overflow = false;
    s.onProgress({ file: meta.file, loaded, total });
    let received: number;
    try {
      received = await streamBody(
        res,
        dog,
        s.http.timeoutMs,
        async (chunk) => {
          // Stop at the announced size (or the file's limit): a server that keeps sending never fills the disk.
          if (loaded + chunk.byteLength > limit) {
            overflow = true;
            throw new DownloadError(
              `${url}: the server sent more than the ${limit} bytes ${total !== null ? "announced" : "allowed"} for "${meta.file}"; the download was stopped and the partial file deleted`,
              { url },
            );
          }
          for (let done = 0; done < chunk.byteLength; ) done += (await handle.write(chunk, done, chunk.byteLength - done)).bytesWritten;
          loaded += chunk.byteLength;
          s.onProgress({ file: meta.file, loaded, total });
        },
        (got, reason, cause) =>
          new DownloadError(
            `download of "${meta.file}" from ${s.repo} was cut after ${start + got}${total !== null ? ` of ${total}` : ""} bytes (${reason}); the partial file is kept and the next attempt resumes it [${url}]`,
            { url, cause },
          ),
      );
    } catch (err) {
      await handle.close();
      if (overflow) await fs.promises.rm(partial, { force: true });
      throw err;
    }
    await handle.close();
    if (length !== null && received !== length) {
      throw new DownloadError(
        `download of "${meta.file}" from ${s.repo} was truncated: ${received} of ${length} bytes (Content-Length); the partial file is kept and the next attempt resumes it [${url}]`,
        { url },
      );
    }
  } finally {
    dog.stop();
  }
}

/** First byte position of a `Content-Range: bytes a-b/n` header, or null. */
function contentRangeStart(res: Response): number | null {
  const m = /^\s*bytes\s+(\d+)-\d+\/(\d+|\*)\s*$/i.exec(res.headers.get("content-range") ?? "");
  return m === null ? null : Number(m[1]);
}

async function sha256File(path: string, fs: NodeFs): Promise<string> {
  const hash = fs.crypto.createHash("sha256");
  for await (const chunk of fs.fs.createReadStream(path, { highWaterMark: 1 << 20 })) hash.update(chunk as Uint8Array);
  return hash.digest("hex");
}

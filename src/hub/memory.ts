/**
 * Fetch a checkpoint's files straight into memory: for an http(s) folder URL in any runtime, and for a hub repo
 * where there is no file system (browsers, edge runtimes). No disk cache; redirects are followed by fetch, which
 * drops the Authorization header when a redirect leaves the origin.
 */
import { DownloadError } from "../errors.js";
import { CHECKPOINT_FILE_SPECS, assembleCheckpoint, type CheckpointFileSpec, type FileBytes, type ResolvedCheckpoint } from "./files.js";
import { DEFAULT_TIMEOUT_MS, bodyLength, discard, send, statusError, streamBody, watchdog, type DownloadProgress, type HttpContext } from "./http.js";
import { isCommitHash, resolveUrl } from "./repo.js";

export interface MemoryFetchOptions {
  /** Sent as `Authorization: Bearer` to the folder's origin. */
  readonly token?: string;
  readonly onProgress?: (p: DownloadProgress) => void;
  readonly signal?: AbortSignal;
  readonly timeoutMs?: number;
  readonly fetch?: typeof fetch;
}

/** Files of the checkpoint folder at `url` (each fetched from `${url}/${path}`). */
export async function fetchFolderToMemory(url: string, opts: MemoryFetchOptions = {}): Promise<ResolvedCheckpoint> {
  const base = url.replace(/\/+$/, "");
  const bytes: FileBytes = {};
  for (const spec of CHECKPOINT_FILE_SPECS) {
    const got = await fetchToMemory(`${base}/${spec.path}`, spec, opts, {});
    if (got !== null) bytes[spec.key] = got.bytes;
  }
  return assembleCheckpoint(bytes, { source: base });
}

/**
 * Files of hub repo `repo` at `revision`, in memory. The commit the first file reports (X-Repo-Commit, when the
 * server exposes it) pins the other files, so they all come from one commit.
 */
export async function fetchHubToMemory(
  endpoint: string,
  repo: string,
  revision: string,
  opts: MemoryFetchOptions = {},
): Promise<ResolvedCheckpoint> {
  const bytes: FileBytes = {};
  let pinned = revision;
  for (const spec of CHECKPOINT_FILE_SPECS) {
    const url = resolveUrl(endpoint, repo, pinned, spec.path);
    const got = await fetchToMemory(url, spec, opts, { repo, revision: pinned });
    if (got === null) continue;
    bytes[spec.key] = got.bytes;
    const commit = got.headers.get("x-repo-commit");
    if (pinned === revision && commit !== null && isCommitHash(commit)) pinned = commit;
  }
  return assembleCheckpoint(bytes, {
    source: resolveUrl(endpoint, repo, pinned, "").replace(/\/$/, ""),
    commit: isCommitHash(pinned) ? pinned : undefined,
  });
}

/** GET one file into memory with progress; null for an optional file that is not there (404). */
export async function fetchToMemory(
  url: string,
  spec: Pick<CheckpointFileSpec, "path" | "optional" | "maxBytes">,
  opts: MemoryFetchOptions,
  where: { repo?: string; revision?: string },
): Promise<{ bytes: Uint8Array; headers: Headers } | null> {
  const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const http: HttpContext = { fetch: opts.fetch ?? globalThis.fetch.bind(globalThis), timeoutMs, signal: opts.signal };
  const dog = watchdog(timeoutMs, opts.signal);
  const { path: file, optional, maxBytes } = spec;
  try {
    const headers: Record<string, string> = opts.token !== undefined ? { Authorization: `Bearer ${opts.token}` } : {};
    const res = await send(url, { headers, redirect: "follow" }, http, dog);
    if (!res.ok) {
      await discard(res);
      const code = res.headers.get("x-error-code");
      if (optional && res.status === 404 && code !== "RepoNotFound" && code !== "RevisionNotFound") return null;
      throw statusError(res, url, { file, ...where, hadToken: opts.token !== undefined });
    }
    const length = bodyLength(res);
    const tooBig = (n: number, how: string) =>
      new DownloadError(`"${file}" ${how} ${n} bytes, over the ${maxBytes}-byte limit for this file (not a GLiNER2 checkpoint, or a broken server) [${url}]`, { url });
    if (length !== null && length > maxBytes) {
      await discard(res);
      throw tooBig(length, "announces");
    }
    // A known length gets one exact buffer; otherwise chunks are kept and joined once at the end (no doubling).
    // Either way nothing past the limit is ever held.
    let exact: Uint8Array | null = length !== null ? new Uint8Array(length) : null;
    const chunks: Uint8Array[] = [];
    let loaded = 0;
    opts.onProgress?.({ file, loaded, total: length });
    await streamBody(
      res,
      dog,
      timeoutMs,
      (chunk) => {
        if (loaded + chunk.byteLength > maxBytes) throw tooBig(loaded + chunk.byteLength, "sent more than");
        if (exact !== null && loaded + chunk.byteLength > exact.byteLength) {
          // More than Content-Length: a body the runtime decoded (see below); switch to chunks.
          chunks.push(exact.subarray(0, loaded));
          exact = null;
        }
        if (exact !== null) exact.set(chunk, loaded);
        else chunks.push(chunk.slice());
        loaded += chunk.byteLength;
        opts.onProgress?.({ file, loaded, total: length });
      },
      (got, reason, cause) => new DownloadError(`download of "${file}" was cut after ${got}${length !== null ? ` of ${length}` : ""} bytes (${reason}) [${url}]`, { url, cause }),
    );
    // More bytes than Content-Length happens when the runtime decoded a compressed body whose
    // Content-Encoding it does not expose (browsers, cross-origin); fewer means the body was cut.
    if (length !== null && loaded < length) {
      throw new DownloadError(`download of "${file}" was truncated: ${loaded} of ${length} bytes (Content-Length) [${url}]`, { url });
    }
    if (exact !== null) return { bytes: exact, headers: res.headers };
    const bytes = new Uint8Array(loaded);
    let at = 0;
    for (const c of chunks) {
      bytes.set(c, at);
      at += c.byteLength;
    }
    return { bytes, headers: res.headers };
  } finally {
    dog.stop();
  }
}

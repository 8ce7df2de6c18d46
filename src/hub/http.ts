/**
 * HTTP plumbing shared by the disk-cache and in-memory downloaders: a stall watchdog (no bytes for `timeoutMs`
 * aborts the request), caller cancellation, streaming a body chunk by chunk, and turning statuses and network
 * failures into `DownloadError`s that say what to do.
 */
import { DownloadError } from "../errors.js";

/** Progress of one file: `loaded` bytes so far (including a resumed prefix), `total` when known. */
export interface DownloadProgress {
  readonly file: string;
  readonly loaded: number;
  readonly total: number | null;
}

export interface HttpContext {
  readonly fetch: typeof fetch;
  /** Abort when no response or no body bytes arrive for this long. */
  readonly timeoutMs: number;
  readonly signal?: AbortSignal;
}

/** Default stall limit: long enough for a slow link, short enough that a dead one is noticed. */
export const DEFAULT_TIMEOUT_MS = 60_000;

/** An AbortController that fires when `kick()` is not called for `ms`, or when the caller's signal aborts. */
export interface Watchdog {
  readonly signal: AbortSignal;
  kick(): void;
  stop(): void;
  readonly timedOut: boolean;
}

export function watchdog(ms: number, parent?: AbortSignal): Watchdog {
  const ctrl = new AbortController();
  let timer: ReturnType<typeof setTimeout> | undefined;
  let timedOut = false;
  const onParent = () => ctrl.abort(parent?.reason);
  if (parent?.aborted) ctrl.abort(parent.reason);
  else parent?.addEventListener("abort", onParent, { once: true });
  const arm = () => {
    if (timer !== undefined) clearTimeout(timer);
    timer = setTimeout(() => {
      timedOut = true;
      ctrl.abort(new Error(`no data for ${ms} ms`));
    }, ms);
  };
  arm();
  return {
    signal: ctrl.signal,
    kick: arm,
    stop() {
      if (timer !== undefined) clearTimeout(timer);
      parent?.removeEventListener("abort", onParent);
    },
    get timedOut() {
      return timedOut;
    },
  };
}

/** Describe why a request or body read failed: stall, caller abort, or the network error's code. */
export function failureReason(err: unknown, dog: Watchdog, timeoutMs: number): string {
  if (dog.timedOut) return `no data received for ${timeoutMs / 1000} s`;
  if (dog.signal.aborted) return "aborted by the caller";
  const cause = (err as { cause?: { code?: string; message?: string } }).cause;
  return cause?.code ?? cause?.message ?? (err as Error).message ?? String(err);
}

/** fetch() whose network failures become DownloadError naming the URL (the response itself is not checked). */
export async function send(url: string, init: RequestInit, ctx: HttpContext, dog: Watchdog): Promise<Response> {
  try {
    return await ctx.fetch(url, { ...init, signal: dog.signal });
  } catch (err) {
    throw new DownloadError(`network error requesting ${url}: ${failureReason(err, dog, ctx.timeoutMs)}`, { url, cause: err });
  }
}

/** What a failed response is about, for the message. */
export interface Subject {
  readonly file: string;
  readonly repo?: string;
  readonly revision?: string;
  /** Whether a token was sent: a 401 then means "rejected", not "missing". */
  readonly hadToken: boolean;
}

/** A DownloadError for a non-success status, using the hub's X-Error-Code / X-Error-Message when present. */
export function statusError(response: Response, url: string, s: Subject): DownloadError {
  const status = response.status;
  const code = response.headers.get("x-error-code");
  const detail = response.headers.get("x-error-message");
  const where = s.repo !== undefined ? `repo ${s.repo} (revision ${s.revision ?? "main"})` : url;
  const tokenHint = s.hadToken
    ? "the token sent was not accepted for it: check that HF_TOKEN (or the token option) has read access"
    : "if it is private or gated, set HF_TOKEN (or pass a token) with access to it";
  let what: string;
  if (status === 401 || (status === 404 && code === "RepoNotFound")) {
    what = `${where} was not found or needs authentication (HTTP ${status}); ${tokenHint}`;
  } else if (status === 403) {
    what = `access to ${where} is forbidden (HTTP 403${code === "GatedRepo" ? ", gated repo" : ""}); accept the model's conditions on its hub page and ${s.hadToken ? "use a token with access" : "set HF_TOKEN"}`;
  } else if (status === 404 && code === "RevisionNotFound") {
    what = `revision "${s.revision}" of repo ${s.repo} not found (HTTP 404)`;
  } else if (status === 404) {
    what = `file "${s.file}" not found${s.repo !== undefined ? ` in ${where}` : ""} (HTTP 404)`;
  } else if (status === 429) {
    what = `rate limited by the server while fetching "${s.file}" (HTTP 429); wait and try again`;
  } else if (status >= 500) {
    what = `server error HTTP ${status} while fetching "${s.file}"${s.repo !== undefined ? ` from ${where}` : ""}; try again later`;
  } else {
    what = `unexpected HTTP ${status} while fetching "${s.file}"${s.repo !== undefined ? ` from ${where}` : ""}`;
  }
  return new DownloadError(`${what}${detail ? ` — server says: ${detail}` : ""} [${url}]`, { url, status });
}

/**
 * Stream `response`'s body to `sink`, kicking the watchdog per chunk. Returns the byte count; a read that fails
 * part-way throws DownloadError built by `cut(received, reason, cause)` so the caller can say how to recover.
 */
export async function streamBody(
  response: Response,
  dog: Watchdog,
  timeoutMs: number,
  sink: (chunk: Uint8Array) => void | Promise<void>,
  cut: (received: number, reason: string, cause: unknown) => DownloadError,
): Promise<number> {
  let received = 0;
  if (response.body === null) return 0;
  const reader = response.body.getReader();
  let finished = false;
  try {
    for (;;) {
      let step: ReadableStreamReadResult<Uint8Array>;
      try {
        step = await reader.read();
      } catch (err) {
        finished = true; // the stream is errored; nothing left to cancel
        throw cut(received, failureReason(err, dog, timeoutMs), err);
      }
      if (step.done) break;
      dog.kick();
      received += step.value.byteLength;
      await sink(step.value);
    }
    finished = true;
  } finally {
    // A sink failure (disk full) leaves the body unread: cancel it so the connection is released.
    if (!finished) await reader.cancel().catch(() => undefined);
    try {
      reader.releaseLock();
    } catch {
      /* nothing to release */
    }
  }
  return received;
}

/** Content-Length when it describes the bytes we will read (not a compressed encoding). */
export function bodyLength(response: Response): number | null {
  const enc = response.headers.get("content-encoding");
  if (enc !== null && enc.trim().toLowerCase() !== "identity") return null;
  return parseSize(response.headers.get("content-length"));
}

export function parseSize(value: string | null): number | null {
  if (value === null || !/^\s*\d+\s*$/.test(value)) return null;
  const n = Number(value);
  return Number.isSafeInteger(n) ? n : null;
}

/** Cancel a body we will not read, so the connection is released. */
export async function discard(response: Response): Promise<void> {
  try {
    await response.body?.cancel();
  } catch {
    /* already closed */
  }
}

/**
 * A local stand-in for the Hugging Face hub, for download tests. Two HTTP servers on 127.0.0.1 (random ports):
 *
 *   hub  GET|HEAD /<org>/<name>/resolve/<revision>/<path>   the hub's resolve endpoint
 *   cdn  GET|HEAD /blobs/<sha256>                            "LFS storage" (another origin) LFS files redirect to
 *
 * Headers follow the hub: X-Repo-Commit; ETag = git blob sha1 for small files; for LFS files (*.safetensors) a
 * 302 to the cdn carrying X-Linked-Etag = sha256 and X-Linked-Size; X-Error-Code on errors (RepoNotFound →
 * 401 as the hub answers anonymous callers, EntryNotFound / RevisionNotFound → 404). Range requests get 206.
 * Faults can be switched on per file; every request is logged. Loopback only, closed by `close()`.
 */
import { createHash } from "node:crypto";
import { readFileSync, readdirSync, statSync } from "node:fs";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { join, relative, sep } from "node:path";

export interface ServedFile {
  readonly path: string;
  readonly bytes: Buffer;
  readonly lfs: boolean;
  readonly sha256: string;
  readonly gitSha1: string;
  /** The blob name a hub client should use: sha256 for LFS files, git sha1 otherwise. */
  readonly etag: string;
}

export type Fault =
  /** Answer HEAD and/or GET of `file` (every file when absent) with this status. */
  | { kind: "status"; status: number; file?: string; method?: "HEAD" | "GET"; code?: string }
  /** GET body of `file` stops after absolute byte `at` and the connection is dropped (Content-Length promised more). */
  | { kind: "cut"; file: string; at: number }
  /** GET body of `file` has the right length but flipped bytes. */
  | { kind: "corrupt"; file: string }
  /** GET serves `file` `by` bytes shorter, with a matching Content-Length (HEAD still announces the real size). */
  | { kind: "short"; file: string; by: number }
  /** GET body of `file` stops after byte `at` and the connection stays open, silent. */
  | { kind: "stall"; file: string; at: number }
  /** GET of `file` ignores a Range header and answers 200 with the whole file. */
  | { kind: "ignoreRange"; file: string };

export interface LoggedRequest {
  readonly origin: "hub" | "cdn";
  readonly method: string;
  readonly path: string;
  readonly range?: string;
  readonly authorization?: string;
  status: number;
}

export interface HubServerOptions {
  /** Repo id served (default "test-org/tiny-gliner2"). */
  readonly repo?: string;
  /** Folder whose files are served (default the tiny-count_lstm_v2 fixture checkpoint). */
  readonly dir?: string;
  /** When set, requests without `Authorization: Bearer <token>` get 401, with another token 403 (gated repo). */
  readonly token?: string;
  /** Old repo ids that redirect (relative 307, as after a rename) to `repo`. */
  readonly aliases?: readonly string[];
  /** LFS files answer with a 302 to the cdn origin (default true, like the hub); false serves them directly. */
  readonly lfsRedirect?: boolean;
}

export interface HubServer {
  /** Hub endpoint, e.g. http://127.0.0.1:41234 (no trailing slash). */
  readonly endpoint: string;
  readonly cdnOrigin: string;
  readonly repo: string;
  /** Commit `main` points to. */
  readonly head: string;
  /** Files at `main`. */
  files(): ReadonlyMap<string, ServedFile>;
  readonly requests: LoggedRequest[];
  setFaults(...faults: Fault[]): void;
  clearFaults(): void;
  /** A new commit on main with some files replaced (bytes) or removed (null); returns its hash. */
  pushCommit(changes: Record<string, Uint8Array | null>): string;
  close(): Promise<void>;
}

const DEFAULT_DIR = new URL("../fixtures/tiny-count_lstm_v2/", import.meta.url).pathname;

function served(path: string, bytes: Buffer): ServedFile {
  const sha256 = createHash("sha256").update(bytes).digest("hex");
  const gitSha1 = createHash("sha1").update(`blob ${bytes.length}\0`).update(bytes).digest("hex");
  const lfs = path.endsWith(".safetensors");
  return { path, bytes, lfs, sha256, gitSha1, etag: lfs ? sha256 : gitSha1 };
}

function listFiles(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const name of readdirSync(d)) {
      const full = join(d, name);
      if (statSync(full).isDirectory()) walk(full);
      else out.push(relative(dir, full).split(sep).join("/"));
    }
  };
  walk(dir);
  return out.sort();
}

function commitHash(files: Map<string, ServedFile>, parent: string): string {
  const h = createHash("sha1").update(parent);
  for (const [p, f] of [...files].sort(([a], [b]) => (a < b ? -1 : 1))) h.update(`${p}\0${f.etag}\n`);
  return h.digest("hex");
}

/** Parse `bytes=a-` / `bytes=a-b` against `size`: the slice to send, "bad" (416) or null (no Range). */
function parseRange(header: string | undefined, size: number): { start: number; end: number } | "bad" | null {
  if (header === undefined) return null;
  const m = /^bytes=(\d+)-(\d*)$/.exec(header.trim());
  if (m === null) return "bad";
  const start = Number(m[1]);
  const end = m[2] === "" ? size - 1 : Math.min(Number(m[2]), size - 1);
  return start >= size || end < start ? "bad" : { start, end };
}

export async function startHubServer(opts: HubServerOptions = {}): Promise<HubServer> {
  const repo = opts.repo ?? "test-org/tiny-gliner2";
  const dir = opts.dir ?? DEFAULT_DIR;
  const lfsRedirect = opts.lfsRedirect ?? true;
  const initial = new Map(listFiles(dir).map((p) => [p, served(p, readFileSync(join(dir, p)))] as const));
  const commits = new Map<string, Map<string, ServedFile>>();
  let head = commitHash(initial, "");
  commits.set(head, initial);
  let faults: Fault[] = [];
  const requests: LoggedRequest[] = [];

  const faultFor = (kind: Fault["kind"], file: string, method: string): Fault | undefined =>
    faults.find(
      (f) =>
        f.kind === kind &&
        (f.kind === "status" ? (f.file === undefined || f.file === file) && (f.method === undefined || f.method === method) : f.file === file),
    );

  /** Send `file`'s bytes (or HEAD headers), applying Range and body faults. */
  const sendFile = (req: IncomingMessage, res: ServerResponse, log: LoggedRequest, file: ServedFile, extra: Record<string, string>) => {
    let bytes = file.bytes;
    const isGet = req.method === "GET";
    const corrupt = isGet ? faultFor("corrupt", file.path, "GET") : undefined;
    const short = isGet ? (faultFor("short", file.path, "GET") as Extract<Fault, { kind: "short" }> | undefined) : undefined;
    if (corrupt !== undefined) {
      bytes = Buffer.from(bytes);
      for (let i = bytes.length >> 1; i < Math.min(bytes.length, (bytes.length >> 1) + 64); i++) bytes[i] ^= 0xff;
    }
    if (short !== undefined) bytes = bytes.subarray(0, Math.max(0, bytes.length - short.by));
    const ignoreRange = isGet && faultFor("ignoreRange", file.path, "GET") !== undefined;
    const range = ignoreRange ? null : parseRange(req.headers.range, bytes.length);
    const headers: Record<string, string | number> = { ...extra, "Accept-Ranges": "bytes", "Content-Type": "application/octet-stream" };
    if (range === "bad") {
      log.status = 416;
      res.writeHead(416, { ...headers, "Content-Range": `bytes */${bytes.length}`, "Content-Length": 0 });
      res.end();
      return;
    }
    const start = range?.start ?? 0;
    const end = range?.end ?? bytes.length - 1;
    headers["Content-Length"] = Math.max(0, end - start + 1);
    if (range !== null) headers["Content-Range"] = `bytes ${start}-${end}/${bytes.length}`;
    log.status = range !== null ? 206 : 200;
    res.writeHead(log.status, headers);
    if (!isGet) {
      res.end();
      return;
    }
    const cut = faultFor("cut", file.path, "GET") as Extract<Fault, { kind: "cut" }> | undefined;
    const stall = faultFor("stall", file.path, "GET") as Extract<Fault, { kind: "stall" }> | undefined;
    const stop = cut ?? stall;
    if (stop === undefined) {
      res.end(bytes.subarray(start, end + 1));
      return;
    }
    const upTo = Math.max(start, Math.min(stop.at, end + 1));
    res.write(bytes.subarray(start, upTo), () => {
      // A cut drops the connection once the bytes are out; a stall just goes silent.
      if (cut !== undefined) setTimeout(() => res.socket?.destroy(), 20);
    });
  };

  const hub = createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://127.0.0.1");
    const log: LoggedRequest = {
      origin: "hub",
      method: req.method ?? "",
      path: url.pathname,
      range: req.headers.range,
      authorization: req.headers.authorization,
      status: 0,
    };
    requests.push(log);
    const fail = (status: number, code: string | null, message: string) => {
      log.status = status;
      const headers: Record<string, string> = { "Content-Type": "text/plain" };
      if (code !== null) headers["X-Error-Code"] = code;
      headers["X-Error-Message"] = message;
      res.writeHead(status, headers);
      res.end(req.method === "HEAD" ? undefined : message);
    };
    if (req.method !== "GET" && req.method !== "HEAD") return fail(405, null, "method not allowed");
    const m = /^\/([^/]+\/[^/]+)\/resolve\/([^/]+)\/(.+)$/.exec(url.pathname);
    if (m === null) return fail(404, null, "not a resolve URL");
    const [, repoId, revSeg, pathSeg] = m;
    const revision = decodeURIComponent(revSeg);
    const path = pathSeg.split("/").map(decodeURIComponent).join("/");
    if (opts.aliases?.includes(repoId)) {
      log.status = 307;
      res.writeHead(307, { Location: `/${repo}/resolve/${revSeg}/${pathSeg}` });
      res.end();
      return;
    }
    const status = faultFor("status", path, req.method) as Extract<Fault, { kind: "status" }> | undefined;
    if (status !== undefined) return fail(status.status, status.code ?? null, `injected fault ${status.status}`);
    if (repoId !== repo) return fail(401, "RepoNotFound", "Repository not found");
    if (opts.token !== undefined) {
      const auth = req.headers.authorization;
      if (auth === undefined) return fail(401, "GatedRepo", "Access to this model is restricted; you must be authenticated");
      if (auth !== `Bearer ${opts.token}`) return fail(403, "GatedRepo", "Access to this model is restricted and you are not in the authorized list");
    }
    const commit = revision === "main" ? head : commits.has(revision) ? revision : null;
    if (commit === null) return fail(404, "RevisionNotFound", `Invalid rev id: ${revision}`);
    const file = commits.get(commit)!.get(path);
    if (file === undefined) return fail(404, "EntryNotFound", `Entry not found: ${path}`);
    if (file.lfs && lfsRedirect) {
      log.status = 302;
      res.writeHead(302, {
        Location: `${cdnOrigin}/blobs/${file.sha256}?signature=test`,
        "X-Repo-Commit": commit,
        "X-Linked-Etag": `"${file.sha256}"`,
        "X-Linked-Size": String(file.bytes.length),
        ETag: `"${file.gitSha1}"`,
        "Content-Length": 0,
      });
      res.end();
      return;
    }
    const etagHeaders: Record<string, string> = file.lfs
      ? { ETag: `"${file.sha256}"`, "X-Linked-Etag": `"${file.sha256}"`, "X-Linked-Size": String(file.bytes.length) }
      : { ETag: `"${file.gitSha1}"` };
    sendFile(req, res, log, file, { "X-Repo-Commit": commit, ...etagHeaders });
  });

  const cdn = createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://127.0.0.1");
    const log: LoggedRequest = {
      origin: "cdn",
      method: req.method ?? "",
      path: url.pathname,
      range: req.headers.range,
      authorization: req.headers.authorization,
      status: 0,
    };
    requests.push(log);
    const m = /^\/blobs\/([0-9a-f]{64})$/.exec(url.pathname);
    let file: ServedFile | undefined;
    for (const files of commits.values()) for (const f of files.values()) if (m !== null && f.sha256 === m[1]) file = f;
    if (file === undefined) {
      log.status = 404;
      res.writeHead(404).end();
      return;
    }
    const status = faultFor("status", file.path, req.method ?? "");
    if (status !== undefined && status.kind === "status") {
      log.status = status.status;
      res.writeHead(status.status).end();
      return;
    }
    sendFile(req, res, log, file, { ETag: `"${file.sha256}"` });
  });

  const listen = (server: Server) =>
    new Promise<string>((resolve, reject) => {
      server.once("error", reject);
      server.listen(0, "127.0.0.1", () => resolve(`http://127.0.0.1:${(server.address() as AddressInfo).port}`));
    });
  const endpoint = await listen(hub);
  const cdnOrigin = await listen(cdn);
  for (const s of [hub, cdn]) {
    s.requestTimeout = 10_000;
    s.headersTimeout = 5_000;
  }

  return {
    endpoint,
    cdnOrigin,
    repo,
    get head() {
      return head;
    },
    files: () => commits.get(head)!,
    requests,
    setFaults: (...f) => {
      faults = f;
    },
    clearFaults: () => {
      faults = [];
    },
    pushCommit(changes) {
      const next = new Map(commits.get(head)!);
      for (const [p, bytes] of Object.entries(changes)) {
        if (bytes === null) next.delete(p);
        else next.set(p, served(p, Buffer.from(bytes)));
      }
      head = commitHash(next, head);
      commits.set(head, next);
      return head;
    },
    async close() {
      for (const s of [hub, cdn]) s.closeAllConnections();
      await Promise.all([hub, cdn].map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
    },
  };
}

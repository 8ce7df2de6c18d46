/**
 * Hub repo ids, revisions and the URLs / cache names derived from them. Everything that later becomes part of a
 * path on disk (repo id, revision, commit, etag) is validated here, so a hostile server header or a strange
 * argument can never point a write outside the cache.
 */
import { DownloadError, InputError } from "../errors.js";

export interface RepoRef {
  /** `org/name`. */
  readonly repo: string;
  /** Branch, tag or commit; "main" when not given. */
  readonly revision: string;
}

const REPO_ID = /^[A-Za-z0-9][\w.-]*\/[A-Za-z0-9_.][\w.-]*$/;
const COMMIT = /^[0-9a-f]{40}$/;

/** True when `source` has the shape `org/name` or `org/name@revision`. */
export function looksLikeRepoId(source: string): boolean {
  const at = source.indexOf("@");
  return REPO_ID.test(at === -1 ? source : source.slice(0, at));
}

/**
 * Split `org/name[@revision]` and check both parts. A revision given both ways must agree, so a caller never
 * silently gets a different revision than one of the two it asked for.
 */
export function parseRepoRef(source: string, revision?: string): RepoRef {
  const at = source.indexOf("@");
  const repo = at === -1 ? source : source.slice(0, at);
  const inline = at === -1 ? undefined : source.slice(at + 1);
  if (!REPO_ID.test(repo) || repo.includes("..")) {
    throw new InputError("repo id", `"${repo}" is not a hub repo id like fastino/gliner2-base-v1`);
  }
  if (inline !== undefined && revision !== undefined && inline !== revision) {
    throw new InputError("revision", `"${source}" names revision "${inline}" but the revision option is "${revision}"`);
  }
  const rev = inline ?? revision ?? "main";
  checkRevision(rev);
  return { repo, revision: rev };
}

function checkRevision(rev: string): void {
  const bad =
    rev === "" ||
    rev.length > 255 ||
    rev.includes("\\") ||
    rev.startsWith("/") ||
    rev.endsWith("/") ||
    rev.split("/").some((part) => part === "" || part === "." || part === "..") ||
    /[\u0000-\u001f\u007f]/.test(rev);
  if (bad) throw new InputError("revision", `"${rev}" is not a valid branch, tag or commit`);
}

export function isCommitHash(rev: string): boolean {
  return COMMIT.test(rev);
}

/** `${endpoint}/${repo}/resolve/${revision}/${path}`, the revision encoded as one segment (`refs/pr/1`). */
export function resolveUrl(endpoint: string, repo: string, revision: string, path: string): string {
  const file = path.split("/").map(encodeURIComponent).join("/");
  return `${endpoint}/${repo}/resolve/${encodeURIComponent(revision)}/${file}`;
}

/** Cache folder name of a model repo: `models--org--name`. */
export function repoFolderName(repo: string): string {
  return `models--${repo.split("/").join("--")}`;
}

/** A commit hash from a server header, checked before it names a folder. */
export function checkedCommit(value: string | null, url: string): string {
  if (value === null || !COMMIT.test(value)) {
    throw new DownloadError(
      `${url}: the server sent no valid X-Repo-Commit header (got ${value === null ? "none" : JSON.stringify(value)}); is the endpoint a Hugging Face hub?`,
      { url },
    );
  }
  return value;
}

/** ETag header → blob name: weak prefix and quotes removed; it must be a plain token (no path characters). */
export function normalizeEtag(value: string | null, url: string): string {
  const etag = (value ?? "").trim().replace(/^W\//, "").replace(/^"(.*)"$/, "$1");
  if (!/^[A-Za-z0-9_.-]{1,128}$/.test(etag) || etag.startsWith(".")) {
    throw new DownloadError(
      `${url}: the server sent no usable ETag / X-Linked-Etag header (got ${value === null ? "none" : JSON.stringify(value)}); is the endpoint a Hugging Face hub?`,
      { url },
    );
  }
  return etag;
}

/** An LFS etag is the file's sha256 in hex; only then can the content be verified against it. */
export function isSha256(etag: string): boolean {
  return /^[0-9a-f]{64}$/.test(etag);
}

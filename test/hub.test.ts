/**
 * Hub download and checkpoint resolution against a local stand-in of the hub (test/helpers/hubServer.ts):
 * cache layout, request economy on repeat calls, offline mode, resume after a cut, every fault's typed error,
 * progress, tokens, redirects, and the folder / URL / in-memory sources.
 */
import { createHash } from "node:crypto";
import { lstatSync, readFileSync, readdirSync, readlinkSync, statSync } from "node:fs";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { DownloadError, InputError } from "../src/errors.js";
import { linkEntry } from "../src/hub/cache.js";
import { CHECKPOINT_FILE_SPECS, downloadCheckpoint, resolveCheckpoint, type DownloadProgress } from "../src/hub/index.js";
import { loadNodeFs } from "../src/hub/nodefs.js";
import { startHubServer, type HubServer, type HubServerOptions } from "./helpers/hubServer.js";

const FIXTURE_DIR = new URL("./fixtures/tiny-count_lstm_v2/", import.meta.url).pathname;
const MODEL = "model.safetensors";
const MODEL_SIZE = statSync(join(FIXTURE_DIR, MODEL)).size;
const HF_VARS = ["HF_ENDPOINT", "HF_TOKEN", "HF_TOKEN_PATH", "HF_HOME", "HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE", "HF_HUB_OFFLINE", "XDG_CACHE_HOME"];

let server: HubServer | null = null;
let tmp: string;
let cacheDir: string;
const savedEnv: Record<string, string | undefined> = {};

beforeEach(async () => {
  tmp = await mkdtemp(join(tmpdir(), "gliner2-hub-"));
  cacheDir = join(tmp, "cache");
  for (const v of HF_VARS) {
    savedEnv[v] = process.env[v];
    delete process.env[v];
  }
  // No token file or cache from the real home directory can leak in.
  process.env.HF_HOME = join(tmp, "hf-home");
});

afterEach(async () => {
  await server?.close();
  server = null;
  for (const v of HF_VARS) {
    if (savedEnv[v] === undefined) delete process.env[v];
    else process.env[v] = savedEnv[v];
  }
  await rm(tmp, { recursive: true, force: true });
});

async function start(opts: HubServerOptions = {}): Promise<HubServer> {
  server = await startHubServer(opts);
  return server;
}

const repoRoot = (repo = "test-org/tiny-gliner2") => join(cacheDir, `models--${repo.replace("/", "--")}`);
const fixture = (path: string) => readFileSync(join(FIXTURE_DIR, path));
const sha256 = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");
const gitSha1 = (b: Uint8Array) => createHash("sha1").update(`blob ${b.length}\0`).update(b).digest("hex");

function walk(dir: string): string[] {
  let out: string[] = [];
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return out;
  }
  for (const name of names) {
    const full = join(dir, name);
    if (lstatSync(full).isDirectory()) out = out.concat(walk(full));
    else out.push(full);
  }
  return out;
}

/**
 * The cut-download invariant: every blob under its final name holds exactly the content its name (etag) says,
 * and every snapshot entry resolves to such a blob. Partial data may only live in `*.incomplete`.
 */
function expectNoCompleteLookingBadFile(repo?: string): void {
  const root = repoRoot(repo);
  for (const blob of walk(join(root, "blobs"))) {
    const name = blob.slice(blob.lastIndexOf("/") + 1);
    if (name.endsWith(".incomplete")) continue;
    expect(name).not.toMatch(/\.tmp$/);
    const bytes = readFileSync(blob);
    expect([sha256(bytes), gitSha1(bytes)], `blob ${name} content matches its name`).toContain(name);
  }
  for (const entry of walk(join(root, "snapshots"))) {
    const path = entry.split("/snapshots/")[1].split("/").slice(1).join("/");
    expect(readFileSync(entry).equals(fixture(path)), `snapshot entry ${path} is intact`).toBe(true);
  }
}

async function catchError(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (err) {
    return err as Error;
  }
  throw new Error("expected a rejection");
}

describe("downloadCheckpoint: cache layout", () => {
  it("stores etag-named blobs, relative snapshot symlinks and refs/main like huggingface_hub", async () => {
    const s = await start();
    const dir = await downloadCheckpoint(s.repo, { endpoint: s.endpoint, cacheDir });
    const root = repoRoot();
    expect(dir).toBe(join(root, "snapshots", s.head));
    expect(readFileSync(join(root, "refs", "main"), "utf8")).toBe(s.head);
    for (const spec of CHECKPOINT_FILE_SPECS) {
      const entry = join(dir, spec.path);
      const bytes = fixture(spec.path);
      const etag = spec.path === MODEL ? sha256(bytes) : gitSha1(bytes);
      expect(lstatSync(entry).isSymbolicLink()).toBe(true);
      const depth = spec.path.split("/").length + 1;
      expect(readlinkSync(entry)).toBe(`${"../".repeat(depth)}blobs/${etag}`);
      expect(readFileSync(entry).equals(bytes)).toBe(true);
    }
    const blobs = readdirSync(join(root, "blobs")).sort();
    expect(blobs).toEqual(CHECKPOINT_FILE_SPECS.map((s) => (s.path === MODEL ? sha256(fixture(s.path)) : gitSha1(fixture(s.path)))).sort());
    // Files outside the checkpoint layout (special_tokens_map.json) are not fetched.
    expect(s.requests.some((r) => r.path.endsWith("special_tokens_map.json"))).toBe(false);
    expectNoCompleteLookingBadFile();
  });

  it("uses HF_ENDPOINT and HF_HUB_CACHE when no options are given", async () => {
    const s = await start();
    process.env.HF_ENDPOINT = `${s.endpoint}/`;
    process.env.HF_HUB_CACHE = cacheDir;
    const dir = await downloadCheckpoint(s.repo);
    expect(dir).toBe(join(repoRoot(), "snapshots", s.head));
  });

  it("defaults the cache to $HF_HOME/hub", async () => {
    const s = await start();
    const dir = await downloadCheckpoint(s.repo, { endpoint: s.endpoint });
    expect(dir).toBe(join(tmp, "hf-home", "hub", "models--test-org--tiny-gliner2", "snapshots", s.head));
  });

  it("falls back to copies where symlinks are not wanted or possible", async () => {
    const fs = (await loadNodeFs())!;
    const blob = join(tmp, "blobs", "abc");
    await mkdir(join(tmp, "blobs"), { recursive: true });
    await writeFile(blob, "payload");
    const entry = join(tmp, "snapshots", "c1", "encoder_config", "config.json");
    expect(await linkEntry(blob, entry, fs, { symlinks: false })).toBe("copy");
    expect(lstatSync(entry).isFile()).toBe(true);
    expect(readFileSync(entry, "utf8")).toBe("payload");
    // Replacing an existing entry goes through a rename too.
    expect(await linkEntry(blob, entry, fs)).toBe("symlink");
    expect(readlinkSync(entry)).toBe("../../../blobs/abc");
    expect(readdirSync(join(tmp, "snapshots", "c1", "encoder_config"))).toEqual(["config.json"]);
  });
});

describe("downloadCheckpoint: repeat calls and offline mode", () => {
  it("a second call sends one HEAD and no GET; a commit revision sends nothing", async () => {
    const s = await start();
    const first = await downloadCheckpoint(s.repo, { endpoint: s.endpoint, cacheDir });
    s.requests.length = 0;
    expect(await downloadCheckpoint(s.repo, { endpoint: s.endpoint, cacheDir })).toBe(first);
    expect(s.requests.map((r) => `${r.method} ${r.path}`)).toEqual([`HEAD /${s.repo}/resolve/main/config.json`]);
    s.requests.length = 0;
    expect(await downloadCheckpoint(s.repo, { endpoint: s.endpoint, cacheDir, revision: s.head })).toBe(first);
    expect(await downloadCheckpoint(`${s.repo}@${s.head}`, { endpoint: s.endpoint, cacheDir })).toBe(first);
    expect(s.requests).toEqual([]);
  });

  it("offline mode (option or HF_HUB_OFFLINE=1) uses the cache without any request", async () => {
    const s = await start();
    const dir = await downloadCheckpoint(s.repo, { endpoint: s.endpoint, cacheDir });
    s.requests.length = 0;
    expect(await downloadCheckpoint(s.repo, { endpoint: s.endpoint, cacheDir, offline: true })).toBe(dir);
    process.env.HF_HUB_OFFLINE = "1";
    expect(await downloadCheckpoint(s.repo, { endpoint: s.endpoint, cacheDir })).toBe(dir);
    const files = await resolveCheckpoint(s.repo, { endpoint: s.endpoint, cacheDir });
    expect(files.dir).toBe(dir);
    expect(s.requests).toEqual([]);
  });

  it("offline mode with nothing cached is a DownloadError naming the repo and the cache", async () => {
    const s = await start();
    const err = await catchError(downloadCheckpoint(s.repo, { endpoint: s.endpoint, cacheDir, offline: true }));
    expect(err).toBeInstanceOf(DownloadError);
    expect(err.message).toMatch(/offline mode/);
    expect(err.message).toContain(s.repo);
    expect(err.message).toContain(cacheDir);
    expect(s.requests).toEqual([]);
    // A cached main does not satisfy another revision.
    await downloadCheckpoint(s.repo, { endpoint: s.endpoint, cacheDir });
    const other = await catchError(downloadCheckpoint(`${s.repo}@v2`, { endpoint: s.endpoint, cacheDir, offline: true }));
    expect(other.message).toMatch(/revision "v2" .* has never been downloaded/);
  });

  it("offline mode names the files a partial snapshot lacks", async () => {
    const s = await start();
    s.setFaults({ kind: "status", status: 500, file: MODEL });
    await expect(downloadCheckpoint(s.repo, { endpoint: s.endpoint, cacheDir })).rejects.toBeInstanceOf(DownloadError);
    // refs/main is only written once a snapshot is complete, so the revision is unknown offline.
    const err = await catchError(downloadCheckpoint(s.repo, { endpoint: s.endpoint, cacheDir, offline: true }));
    expect(err.message).toMatch(/has never been downloaded/);
    const pinned = await catchError(downloadCheckpoint(s.repo, { endpoint: s.endpoint, cacheDir, offline: true, revision: s.head }));
    expect(pinned.message).toContain(`lacks ${MODEL}`);
  });

  it("when the hub is unreachable a complete cached snapshot is used; without one the error names the URL", async () => {
    const s = await start();
    const dir = await downloadCheckpoint(s.repo, { endpoint: s.endpoint, cacheDir });
    await s.close();
    server = null;
    expect(await downloadCheckpoint(s.repo, { endpoint: s.endpoint, cacheDir })).toBe(dir);
    const err = await catchError(downloadCheckpoint(s.repo, { endpoint: s.endpoint, cacheDir: join(tmp, "empty") }));
    expect(err).toBeInstanceOf(DownloadError);
    expect(err.message).toMatch(/network error/);
    expect((err as DownloadError).url).toBe(`${s.endpoint}/${s.repo}/resolve/main/config.json`);
  });

  it("a new commit on main fetches only the changed file and reuses the other blobs", async () => {
    const s = await start();
    const oldDir = await downloadCheckpoint(s.repo, { endpoint: s.endpoint, cacheDir });
    const newConfig = Buffer.from(JSON.stringify({ ...JSON.parse(fixture("config.json").toString()), max_width: 7 }));
    const commit = s.pushCommit({ "config.json": newConfig });
    s.requests.length = 0;
    const dir = await downloadCheckpoint(s.repo, { endpoint: s.endpoint, cacheDir });
    expect(dir).toBe(join(repoRoot(), "snapshots", commit));
    expect(readFileSync(join(repoRoot(), "refs", "main"), "utf8")).toBe(commit);
    expect(readFileSync(join(dir, "config.json")).equals(newConfig)).toBe(true);
    expect(readFileSync(join(oldDir, "config.json")).equals(fixture("config.json"))).toBe(true);
    const gets = s.requests.filter((r) => r.method === "GET").map((r) => r.path);
    expect(gets).toHaveLength(1);
    expect(gets[0]).toMatch(/\/config\.json$/);
    expect(readlinkSync(join(dir, MODEL))).toBe(readlinkSync(join(oldDir, MODEL)));
  });

  it("concurrent calls in one process share the blob downloads", async () => {
    const s = await start();
    const [a, b] = await Promise.all([
      downloadCheckpoint(s.repo, { endpoint: s.endpoint, cacheDir }),
      downloadCheckpoint(s.repo, { endpoint: s.endpoint, cacheDir }),
    ]);
    expect(a).toBe(b);
    expect(s.requests.filter((r) => r.origin === "cdn" && r.method === "GET")).toHaveLength(1);
    expectNoCompleteLookingBadFile();
  });
});

describe("downloadCheckpoint: resume, faults and typed errors", () => {
  it("resumes a cut download with a Range request and ends byte-identical", async () => {
    const s = await start();
    const cutAt = 1_000_000;
    s.setFaults({ kind: "cut", file: MODEL, at: cutAt });
    const err = await catchError(downloadCheckpoint(s.repo, { endpoint: s.endpoint, cacheDir }));
    expect(err).toBeInstanceOf(DownloadError);
    expect(err.message).toMatch(/was cut after \d+ of 2746180 bytes .* resumes/);
    const root = repoRoot();
    const etag = sha256(fixture(MODEL));
    const partial = join(root, "blobs", `${etag}.incomplete`);
    const partialSize = statSync(partial).size;
    expect(partialSize).toBeGreaterThan(0);
    expect(partialSize).toBeLessThanOrEqual(cutAt);
    expect(() => statSync(join(root, "blobs", etag))).toThrow();
    expect(() => lstatSync(join(root, "snapshots", s.head, MODEL))).toThrow();
    expect(() => statSync(join(root, "refs", "main"))).toThrow();
    expectNoCompleteLookingBadFile();

    s.clearFaults();
    s.requests.length = 0;
    const events: DownloadProgress[] = [];
    const dir = await downloadCheckpoint(s.repo, { endpoint: s.endpoint, cacheDir, onProgress: (p) => events.push(p) });
    const gets = s.requests.filter((r) => r.method === "GET");
    expect(gets).toHaveLength(1); // the small files were already complete
    expect(gets[0]).toMatchObject({ origin: "cdn", range: `bytes=${partialSize}-`, status: 206 });
    expect(readFileSync(join(dir, MODEL)).equals(fixture(MODEL))).toBe(true);
    expect(readdirSync(join(root, "blobs")).filter((n) => n.includes("."))).toEqual([]);
    const modelEvents = events.filter((e) => e.file === MODEL);
    expect(modelEvents[0]).toEqual({ file: MODEL, loaded: partialSize, total: MODEL_SIZE });
    expect(modelEvents.at(-1)).toEqual({ file: MODEL, loaded: MODEL_SIZE, total: MODEL_SIZE });
  });

  it("a server that ignores Range gets the file rewritten from the start", async () => {
    const s = await start();
    s.setFaults({ kind: "cut", file: MODEL, at: 300_000 });
    await expect(downloadCheckpoint(s.repo, { endpoint: s.endpoint, cacheDir })).rejects.toBeInstanceOf(DownloadError);
    s.setFaults({ kind: "ignoreRange", file: MODEL });
    s.requests.length = 0;
    const dir = await downloadCheckpoint(s.repo, { endpoint: s.endpoint, cacheDir });
    const get = s.requests.find((r) => r.method === "GET")!;
    expect(get.range).toMatch(/^bytes=\d+-$/);
    expect(get.status).toBe(200);
    expect(readFileSync(join(dir, MODEL)).equals(fixture(MODEL))).toBe(true);
  });

  it("a partial file longer than the announced size is discarded and fetched anew", async () => {
    const s = await start();
    const partial = join(repoRoot(), "blobs", `${sha256(fixture(MODEL))}.incomplete`);
    await mkdir(join(repoRoot(), "blobs"), { recursive: true });
    await writeFile(partial, Buffer.alloc(MODEL_SIZE + 10, 1));
    const dir = await downloadCheckpoint(s.repo, { endpoint: s.endpoint, cacheDir });
    expect(readFileSync(join(dir, MODEL)).equals(fixture(MODEL))).toBe(true);
    expect(s.requests.find((r) => r.origin === "cdn")!.range).toBeUndefined();
  });

  it("a partial file the server cannot resume (416) is fetched anew once", async () => {
    const s = await start();
    s.setFaults({ kind: "cut", file: MODEL, at: 300_000 });
    await expect(downloadCheckpoint(s.repo, { endpoint: s.endpoint, cacheDir })).rejects.toBeInstanceOf(DownloadError);
    s.setFaults({ kind: "short", file: MODEL, by: MODEL_SIZE - 1000 });
    // With a 1000-byte body every Range past byte 1000 is unsatisfiable; the fresh GET then hits the size check.
    const err = await catchError(downloadCheckpoint(s.repo, { endpoint: s.endpoint, cacheDir }));
    expect(s.requests.filter((r) => r.method === "GET" && r.origin === "cdn").map((r) => r.status).slice(-2)).toEqual([416, 200]);
    expect(err.message).toMatch(/sends 1000 bytes of "model\.safetensors" but announced 2746180/);
    expectNoCompleteLookingBadFile();
  });

  it("a corrupted body (same length, wrong bytes) is a sha256 mismatch and nothing is kept", async () => {
    const s = await start();
    s.setFaults({ kind: "corrupt", file: MODEL });
    const err = await catchError(downloadCheckpoint(s.repo, { endpoint: s.endpoint, cacheDir }));
    expect(err).toBeInstanceOf(DownloadError);
    expect(err.message).toMatch(/sha256 mismatch for "model\.safetensors"/);
    expect(err.message).toContain(sha256(fixture(MODEL)));
    expect((err as DownloadError).url).toMatch(new RegExp(`^${s.cdnOrigin}/blobs/`));
    expect(readdirSync(join(repoRoot(), "blobs")).some((n) => n.startsWith(sha256(fixture(MODEL))))).toBe(false);
    expectNoCompleteLookingBadFile();
    // The next clean attempt succeeds from scratch.
    s.clearFaults();
    const dir = await downloadCheckpoint(s.repo, { endpoint: s.endpoint, cacheDir });
    expect(readFileSync(join(dir, MODEL)).equals(fixture(MODEL))).toBe(true);
  });

  it("a body shorter than the announced size is an error and only a partial file remains", async () => {
    const s = await start();
    s.setFaults({ kind: "short", file: MODEL, by: 100 });
    const err = await catchError(downloadCheckpoint(s.repo, { endpoint: s.endpoint, cacheDir }));
    expect(err).toBeInstanceOf(DownloadError);
    expect(err.message).toMatch(/sends 2746080 bytes of "model\.safetensors" but announced 2746180/);
    expectNoCompleteLookingBadFile();
    expect(() => lstatSync(join(repoRoot(), "snapshots", s.head, MODEL))).toThrow();
  });

  it("a stalled body times out with a DownloadError", async () => {
    const s = await start();
    s.setFaults({ kind: "stall", file: MODEL, at: 50_000 });
    const err = await catchError(downloadCheckpoint(s.repo, { endpoint: s.endpoint, cacheDir, timeoutMs: 300 }));
    expect(err).toBeInstanceOf(DownloadError);
    expect(err.message).toMatch(/cut after \d+ of 2746180 bytes \(no data received for 0\.3 s\)/);
    expectNoCompleteLookingBadFile();
  });

  it("an abort signal stops the download and keeps the partial file", async () => {
    const s = await start();
    s.setFaults({ kind: "stall", file: MODEL, at: 50_000 });
    const ctrl = new AbortController();
    const p = downloadCheckpoint(s.repo, {
      endpoint: s.endpoint,
      cacheDir,
      signal: ctrl.signal,
      onProgress: (e) => {
        if (e.file === MODEL && e.loaded > 0) ctrl.abort();
      },
    });
    const err = await catchError(p);
    expect(err).toBeInstanceOf(DownloadError);
    expect(err.message).toMatch(/aborted by the caller/);
    expectNoCompleteLookingBadFile();
  });

  const faultCases: {
    name: string;
    server?: HubServerOptions;
    repo?: string;
    revision?: string;
    token?: string;
    fault?: Parameters<HubServer["setFaults"]>[0];
    status: number;
    message: RegExp;
  }[] = [
    { name: "404 for a missing required file", fault: { kind: "status", status: 404, file: "tokenizer.json", code: "EntryNotFound" }, status: 404, message: /file "tokenizer\.json" not found in repo test-org\/tiny-gliner2 \(revision [0-9a-f]{40}\)/ },
    { name: "unknown repo (401 RepoNotFound, as the hub answers)", repo: "test-org/no-such-model", status: 401, message: /repo test-org\/no-such-model \(revision main\) was not found or needs authentication .*set HF_TOKEN/ },
    { name: "unknown revision", revision: "no-such-branch", status: 404, message: /revision "no-such-branch" of repo test-org\/tiny-gliner2 not found/ },
    { name: "gated repo without a token (401)", server: { token: "s3cret" }, status: 401, message: /needs authentication.*set HF_TOKEN/ },
    { name: "gated repo with a token without access (403)", server: { token: "s3cret" }, token: "wrong", status: 403, message: /forbidden \(HTTP 403, gated repo\).*token with access/ },
    { name: "500 on the weights", fault: { kind: "status", status: 500, file: MODEL }, status: 500, message: /server error HTTP 500 while fetching "model\.safetensors".*try again later/ },
    { name: "503 on the storage GET", fault: { kind: "status", status: 503, file: MODEL, method: "GET" }, status: 503, message: /server error HTTP 503/ },
  ];
  for (const c of faultCases) {
    it(`typed error: ${c.name}`, async () => {
      const s = await start(c.server);
      if (c.fault !== undefined) s.setFaults(c.fault);
      const repo = c.repo ?? s.repo;
      const err = await catchError(downloadCheckpoint(repo, { endpoint: s.endpoint, cacheDir, revision: c.revision, token: c.token }));
      expect(err).toBeInstanceOf(DownloadError);
      expect((err as DownloadError).status).toBe(c.status);
      expect((err as DownloadError).url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\//);
      expect(err.message).toMatch(c.message);
      expectNoCompleteLookingBadFile(repo);
      expect(() => statSync(join(repoRoot(repo), "refs", "main"))).toThrow();
    });
  }

  it("a missing optional file (tokenizer_config.json) is recorded in .no_exist and not asked for again", async () => {
    const s = await start();
    s.setFaults({ kind: "status", status: 404, file: "tokenizer_config.json", code: "EntryNotFound" });
    const dir = await downloadCheckpoint(s.repo, { endpoint: s.endpoint, cacheDir });
    expect(statSync(join(repoRoot(), ".no_exist", s.head, "tokenizer_config.json")).size).toBe(0);
    expect(() => lstatSync(join(dir, "tokenizer_config.json"))).toThrow();
    s.requests.length = 0;
    const files = await resolveCheckpoint(s.repo, { endpoint: s.endpoint, cacheDir });
    expect(files.tokenizerConfig).toBeUndefined();
    expect(files.tokenizer).toBe(fixture("tokenizer.json").toString("utf8"));
    expect(s.requests.map((r) => r.method)).toEqual(["HEAD"]);
  });

  it("rejects bad repo ids and conflicting revisions before any request", async () => {
    const s = await start();
    for (const bad of ["a/b/c", "noslash", "a/..", "../x", "a/b c"]) {
      const err = await catchError(downloadCheckpoint(bad, { endpoint: s.endpoint, cacheDir }));
      expect(err, bad).toBeInstanceOf(InputError);
      expect(err.message).toContain("repo id");
    }
    const clash = await catchError(downloadCheckpoint(`${s.repo}@v1`, { endpoint: s.endpoint, cacheDir, revision: "v2" }));
    expect(clash).toBeInstanceOf(InputError);
    expect(clash.message).toMatch(/names revision "v1" but the revision option is "v2"/);
    for (const rev of ["../../etc", "a//b", ""]) {
      const err = await catchError(downloadCheckpoint(s.repo, { endpoint: s.endpoint, cacheDir, revision: rev }));
      expect(err, rev).toBeInstanceOf(InputError);
    }
    expect(s.requests).toEqual([]);
  });
});

describe("downloadCheckpoint: progress, tokens, redirects", () => {
  it("reports progress per file ending at loaded = total = size, never decreasing", async () => {
    const s = await start();
    const events: DownloadProgress[] = [];
    await downloadCheckpoint(s.repo, { endpoint: s.endpoint, cacheDir, onProgress: (p) => events.push(p) });
    const byFile = new Map<string, DownloadProgress[]>();
    for (const e of events) byFile.set(e.file, [...(byFile.get(e.file) ?? []), e]);
    expect([...byFile.keys()].sort()).toEqual(CHECKPOINT_FILE_SPECS.map((x) => x.path).sort());
    for (const [file, list] of byFile) {
      const size = fixture(file).length;
      expect(list[0].loaded).toBe(0);
      expect(list.at(-1)).toEqual({ file, loaded: size, total: size });
      for (let i = 1; i < list.length; i++) expect(list[i].loaded).toBeGreaterThanOrEqual(list[i - 1].loaded);
      expect(list.every((e) => e.total === size)).toBe(true);
    }
    expect(byFile.get(MODEL)!.length).toBeGreaterThan(2); // streamed in chunks
    // A second call downloads nothing, so it reports nothing.
    events.length = 0;
    await downloadCheckpoint(s.repo, { endpoint: s.endpoint, cacheDir, onProgress: (p) => events.push(p) });
    expect(events).toEqual([]);
  });

  it("sends the token to the hub but not to the LFS storage origin", async () => {
    const s = await start({ token: "s3cret" });
    await downloadCheckpoint(s.repo, { endpoint: s.endpoint, cacheDir, token: "s3cret" });
    const hub = s.requests.filter((r) => r.origin === "hub");
    const cdn = s.requests.filter((r) => r.origin === "cdn");
    expect(hub.length).toBeGreaterThan(0);
    expect(hub.every((r) => r.authorization === "Bearer s3cret")).toBe(true);
    expect(cdn).toHaveLength(1);
    expect(cdn[0].authorization).toBeUndefined();
  });

  it("reads the token from HF_TOKEN, then from $HF_HOME/token", async () => {
    const s = await start({ token: "from-env" });
    process.env.HF_TOKEN = "from-env";
    await downloadCheckpoint(s.repo, { endpoint: s.endpoint, cacheDir });
    expect(s.requests.filter((r) => r.origin === "hub").every((r) => r.authorization === "Bearer from-env")).toBe(true);
    await s.close();
    delete process.env.HF_TOKEN;
    const s2 = await start({ token: "from-file" });
    await mkdir(join(tmp, "hf-home"), { recursive: true });
    await writeFile(join(tmp, "hf-home", "token"), "from-file\n");
    await downloadCheckpoint(s2.repo, { endpoint: s2.endpoint, cacheDir: join(tmp, "cache2") });
    expect(s2.requests.filter((r) => r.origin === "hub").every((r) => r.authorization === "Bearer from-file")).toBe(true);
  });

  it("sends no Authorization header without a token", async () => {
    const s = await start();
    await downloadCheckpoint(s.repo, { endpoint: s.endpoint, cacheDir });
    expect(s.requests.every((r) => r.authorization === undefined)).toBe(true);
  });

  it("follows a relative redirect of a renamed repo and caches under the requested id", async () => {
    const s = await start({ aliases: ["old-org/old-name"] });
    const dir = await downloadCheckpoint("old-org/old-name", { endpoint: s.endpoint, cacheDir });
    expect(dir).toBe(join(repoRoot("old-org/old-name"), "snapshots", s.head));
    expect(readFileSync(join(dir, MODEL)).equals(fixture(MODEL))).toBe(true);
    expect(s.requests.some((r) => r.status === 307)).toBe(true);
  });

  it("handles LFS files served without a redirect (X-Linked-Etag on a 200)", async () => {
    const s = await start({ lfsRedirect: false });
    const dir = await downloadCheckpoint(s.repo, { endpoint: s.endpoint, cacheDir });
    expect(readlinkSync(join(dir, MODEL))).toBe(`../../blobs/${sha256(fixture(MODEL))}`);
    expect(s.requests.some((r) => r.origin === "cdn")).toBe(false);
  });
});

describe("resolveCheckpoint", () => {
  const expectFixtureFiles = (files: Awaited<ReturnType<typeof resolveCheckpoint>>) => {
    expect(files.config).toBe(fixture("config.json").toString("utf8"));
    expect(files.encoderConfig).toBe(fixture("encoder_config/config.json").toString("utf8"));
    expect(files.tokenizer).toBe(fixture("tokenizer.json").toString("utf8"));
    expect(files.tokenizerConfig).toBe(fixture("tokenizer_config.json").toString("utf8"));
    expect(files.weights).toBeInstanceOf(Uint8Array);
    expect(Buffer.from(files.weights).equals(fixture(MODEL))).toBe(true);
  };

  it("reads a local checkpoint folder", async () => {
    const files = await resolveCheckpoint(FIXTURE_DIR);
    expectFixtureFiles(files);
    expect(files.dir).toBe(resolve(FIXTURE_DIR));
    expect(files.commit).toBeUndefined();
  });

  it("names the missing file of an incomplete folder, and rejects files and missing paths", async () => {
    const dir = join(tmp, "partial");
    await mkdir(join(dir, "encoder_config"), { recursive: true });
    for (const f of ["config.json", "encoder_config/config.json", "tokenizer.json"]) await writeFile(join(dir, f), fixture(f));
    const err = await catchError(resolveCheckpoint(dir));
    expect(err).toBeInstanceOf(DownloadError);
    expect(err.message).toContain(join(dir, MODEL));
    expect(err.message).toMatch(/not found; a checkpoint folder holds/);

    const file = await catchError(resolveCheckpoint(join(FIXTURE_DIR, "config.json")));
    expect(file).toBeInstanceOf(InputError);
    expect(file.message).toMatch(/is a file; a checkpoint is a folder/);
    const missing = await catchError(resolveCheckpoint("./no/such/folder"));
    expect(missing).toBeInstanceOf(InputError);
    expect(missing.message).toContain("checkpoint folder ./no/such/folder not found");
    const neither = await catchError(resolveCheckpoint("not a model"));
    expect(neither.message).toMatch(/not a hub repo id/);
    await expect(resolveCheckpoint("")).rejects.toBeInstanceOf(InputError);
  });

  it("downloads a hub repo id through the cache and reads the snapshot", async () => {
    const s = await start();
    const files = await resolveCheckpoint(`${s.repo}@main`, { endpoint: s.endpoint, cacheDir });
    expectFixtureFiles(files);
    expect(files.dir).toBe(join(repoRoot(), "snapshots", s.head));
    expect(files.commit).toBe(s.head);
  });

  it("fetches an http(s) folder URL into memory, following redirects, without the hub token", async () => {
    const s = await start();
    process.env.HF_TOKEN = "hub-only";
    const url = `${s.endpoint}/${s.repo}/resolve/main/`;
    const events: DownloadProgress[] = [];
    const files = await resolveCheckpoint(url, { cacheDir, onProgress: (p) => events.push(p) });
    expectFixtureFiles(files);
    expect(files.dir).toBeUndefined();
    expect(files.source).toBe(url.slice(0, -1));
    expect(s.requests.every((r) => r.authorization === undefined)).toBe(true);
    expect(s.requests.some((r) => r.origin === "cdn" && r.method === "GET")).toBe(true);
    expect(events.filter((e) => e.file === MODEL).at(-1)).toEqual({ file: MODEL, loaded: MODEL_SIZE, total: MODEL_SIZE });
    expect(walk(cacheDir)).toEqual([]);
    // An explicit token is sent to the folder's origin.
    s.requests.length = 0;
    await resolveCheckpoint(url, { token: "explicit" });
    expect(s.requests.filter((r) => r.origin === "hub").every((r) => r.authorization === "Bearer explicit")).toBe(true);
  });

  it("a folder URL that lacks a file or is cut gives a DownloadError naming the URL", async () => {
    const s = await start();
    const missing = await catchError(resolveCheckpoint(`${s.endpoint}/${s.repo}/resolve/main/nowhere`));
    expect(missing).toBeInstanceOf(DownloadError);
    expect((missing as DownloadError).status).toBe(404);
    expect((missing as DownloadError).url).toBe(`${s.endpoint}/${s.repo}/resolve/main/nowhere/config.json`);
    expect(missing.message).toContain('file "config.json" not found');
    s.setFaults({ kind: "cut", file: MODEL, at: 500_000 });
    const cut = await catchError(resolveCheckpoint(`${s.endpoint}/${s.repo}/resolve/main`));
    expect(cut).toBeInstanceOf(DownloadError);
    expect(cut.message).toMatch(/download of "model\.safetensors" was cut after \d+ of 2746180 bytes/);
  });

  it("fetches a hub repo into memory when asked (the browser path), pinned to one commit", async () => {
    const s = await start();
    const files = await resolveCheckpoint(s.repo, { endpoint: s.endpoint, cacheDir, inMemory: true });
    expectFixtureFiles(files);
    expect(files.commit).toBe(s.head);
    expect(files.dir).toBeUndefined();
    expect(walk(cacheDir)).toEqual([]);
    const paths = s.requests.filter((r) => r.origin === "hub").map((r) => r.path);
    expect(paths[0]).toBe(`/${s.repo}/resolve/main/config.json`);
    expect(paths.slice(1).every((p) => p.startsWith(`/${s.repo}/resolve/${s.head}/`))).toBe(true);
    await expect(resolveCheckpoint(s.repo, { endpoint: s.endpoint, inMemory: true, offline: true })).rejects.toThrow(/offline mode/);
  });
});

/**
 * From "where the adapter is" to its files: a local folder, an http(s) URL of a folder, or a hub repo id
 * (`org/name[@revision]`), through the same disk cache and downloader as checkpoints (src/hub/). A folder holds
 * `adapter_config.json` and one weights file: `adapter_weights.safetensors` (official) or
 * `adapter_model.safetensors` (PEFT); with a PEFT config (`peft_type`) the PEFT file is read, as officially.
 */
import { AdapterError, InputError } from "../errors.js";
import { envOffline, envVar, resolveEndpoint } from "../hub/env.js";
import { fetchSnapshot, type HubOptions } from "../hub/download.js";
import { fetchToMemory } from "../hub/memory.js";
import { loadNodeFs, type NodeFs } from "../hub/nodefs.js";
import { looksLikeRepoId, parseRepoRef, resolveUrl } from "../hub/repo.js";
import { ADAPTER_CONFIG_FILE, ADAPTER_WEIGHTS_FILE, PEFT_WEIGHTS_FILE, type AdapterFiles } from "./parse.js";

export interface AdapterSourceOptions extends HubOptions {
  /** Fetch a hub adapter into memory even where a disk cache is possible. */
  readonly inMemory?: boolean;
}

const MiB = 1024 * 1024;
/** Most bytes accepted from a server per file, enforced while they arrive (adapters are a few MB to a few hundred). */
const CONFIG_MAX_BYTES = 16 * MiB;
const WEIGHTS_MAX_BYTES = 4096 * MiB;
const HUB_FILES = [
  { path: ADAPTER_CONFIG_FILE, optional: false, maxBytes: CONFIG_MAX_BYTES },
  { path: ADAPTER_WEIGHTS_FILE, optional: true, maxBytes: WEIGHTS_MAX_BYTES },
  { path: PEFT_WEIGHTS_FILE, optional: true, maxBytes: WEIGHTS_MAX_BYTES },
] as const;

function weightsOrder(config: string): string[] {
  let peft = false;
  try {
    const v = JSON.parse(config.replace(/^\uFEFF/, "")) as unknown;
    peft = typeof v === "object" && v !== null && "peft_type" in v;
  } catch {
    // parseAdapter reports bad JSON with the file name.
  }
  return peft ? [PEFT_WEIGHTS_FILE, ADAPTER_WEIGHTS_FILE] : [ADAPTER_WEIGHTS_FILE, PEFT_WEIGHTS_FILE];
}

const missingWeights = (where: string) =>
  new AdapterError(where, `holds no ${ADAPTER_WEIGHTS_FILE} (official format) or ${PEFT_WEIGHTS_FILE} (PEFT format)`, undefined, "missing-file");

/** Read an adapter folder from disk. */
export async function readAdapterFolder(dir: string, fs: NodeFs, source = dir): Promise<AdapterFiles> {
  const read = async (name: string) => {
    const buf = await fs.promises.readFile(fs.path.join(dir, name)).catch((e: NodeJS.ErrnoException) => {
      if (e.code === "ENOENT") return null;
      throw new AdapterError(fs.path.join(dir, name), `cannot be read (${e.code ?? e.message})`, undefined, "missing-file");
    });
    return buf === null ? null : new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
  };
  const config = await read(ADAPTER_CONFIG_FILE);
  if (config === null) throw new AdapterError(fs.path.join(dir, ADAPTER_CONFIG_FILE), "not found; an adapter folder holds adapter_config.json and its weights", undefined, "missing-file");
  const text = new TextDecoder().decode(config);
  for (const name of weightsOrder(text)) {
    const weights = await read(name);
    if (weights !== null) return { config: text, weights, weightsFile: name, source };
  }
  throw missingWeights(dir);
}

/** Fetch `${base}/adapter_config.json` and the weights file into memory (folder URL or hub resolve URL builder). */
async function fetchAdapterToMemory(urlOf: (file: string) => string, source: string, opts: AdapterSourceOptions & { token?: string }): Promise<AdapterFiles> {
  const cfg = await fetchToMemory(urlOf(ADAPTER_CONFIG_FILE), HUB_FILES[0], opts, {});
  const text = new TextDecoder().decode(cfg!.bytes);
  for (const name of weightsOrder(text)) {
    const got = await fetchToMemory(urlOf(name), { path: name, optional: true, maxBytes: WEIGHTS_MAX_BYTES }, opts, {});
    if (got !== null) return { config: text, weights: got.bytes, weightsFile: name, source };
  }
  throw missingWeights(source);
}

/** The files of the adapter `source` names. */
export async function resolveAdapter(source: string, opts: AdapterSourceOptions = {}): Promise<AdapterFiles> {
  if (typeof source !== "string" || source.trim() === "") throw new InputError("adapter", "is empty; give an adapter folder, an http(s) URL of one, a hub repo id, or the files");
  if (/^https?:\/\//i.test(source)) {
    const base = source.replace(/\/+$/, "");
    const token = opts.token !== undefined && opts.token.trim() !== "" ? opts.token.trim() : undefined;
    return fetchAdapterToMemory((f) => `${base}/${f}`, base, { ...opts, token });
  }
  const fs = await loadNodeFs();
  if (fs !== null) {
    const path = source === "~" || source.startsWith("~/") ? fs.path.join(fs.os.homedir(), source.slice(1)) : source;
    const st = await fs.promises.stat(path).catch(() => null);
    if (st !== null) {
      if (!st.isDirectory()) throw new InputError("adapter", `${path} is a file; an adapter is a folder holding ${ADAPTER_CONFIG_FILE} and its weights`);
      return readAdapterFolder(fs.path.resolve(path), fs, path);
    }
  }
  const pathLike = /^(\/|\.{1,2}([\\/]|$)|~|[A-Za-z]:[\\/])/.test(source) || source.includes("\\");
  if (pathLike || !looksLikeRepoId(source)) {
    throw new AdapterError(source, `adapter folder not found${pathLike ? "" : " (and it is not a hub repo id like org/my-adapter)"}`, undefined, "missing-file");
  }
  if (fs !== null && opts.inMemory !== true) {
    const snap = await fetchSnapshot(source, opts, HUB_FILES);
    return readAdapterFolder(snap.dir, fs, source);
  }
  const { repo, revision } = parseRepoRef(source, opts.revision);
  if (opts.offline ?? envOffline()) throw new InputError("adapter", `offline mode: ${repo} cannot be fetched without a disk cache`);
  const token = opts.token !== undefined ? (opts.token.trim() === "" ? undefined : opts.token.trim()) : envVar("HF_TOKEN");
  const endpoint = resolveEndpoint(opts.endpoint);
  return fetchAdapterToMemory((f) => resolveUrl(endpoint, repo, revision, f), source, { ...opts, token });
}

/**
 * Settings that follow the Hugging Face conventions: explicit options first, then the `HF_*` environment
 * variables, then the defaults. Environment access is guarded so the module also runs where there is no
 * `process` (browsers) or where reading it needs a permission (Deno without --allow-env).
 */
import type { NodeFs } from "./nodefs.js";

export const DEFAULT_ENDPOINT = "https://huggingface.co";

/** Value of an environment variable, or undefined when unset, empty, or not readable in this runtime. */
export function envVar(name: string): string | undefined {
  const g = globalThis as { process?: { env?: Record<string, string | undefined> }; Deno?: { env?: { get(n: string): string | undefined } } };
  try {
    const v = g.process?.env?.[name] ?? g.Deno?.env?.get(name);
    return v === undefined || v === "" ? undefined : v;
  } catch {
    return undefined;
  }
}

const TRUE_VALUES = new Set(["1", "ON", "YES", "TRUE"]);

/** `HF_HUB_OFFLINE` as huggingface_hub reads it (1/ON/YES/TRUE, any case). */
export function envOffline(): boolean {
  const v = envVar("HF_HUB_OFFLINE");
  return v !== undefined && TRUE_VALUES.has(v.trim().toUpperCase());
}

/** Hub endpoint without a trailing slash. */
export function resolveEndpoint(explicit?: string): string {
  return (explicit ?? envVar("HF_ENDPOINT") ?? DEFAULT_ENDPOINT).replace(/\/+$/, "");
}

/**
 * Access token: the option, else `HF_TOKEN`, else the file `huggingface-cli login` writes (`HF_TOKEN_PATH`, or
 * `$HF_HOME/token`). An empty option string means "no token", so a caller can switch the lookup off.
 */
export async function resolveToken(explicit: string | undefined, fs: NodeFs | null): Promise<string | undefined> {
  if (explicit !== undefined) return explicit.trim() === "" ? undefined : explicit.trim();
  const fromEnv = envVar("HF_TOKEN");
  if (fromEnv !== undefined) return fromEnv.trim();
  if (fs === null) return undefined;
  const path = envVar("HF_TOKEN_PATH") ?? fs.path.join(hfHome(fs), "token");
  try {
    const text = (await fs.promises.readFile(path, "utf8")).trim();
    return text === "" ? undefined : text;
  } catch {
    return undefined;
  }
}

function hfHome(fs: NodeFs): string {
  const home = envVar("HF_HOME");
  if (home !== undefined) return expandHome(home, fs);
  const xdg = envVar("XDG_CACHE_HOME");
  return xdg !== undefined ? fs.path.join(expandHome(xdg, fs), "huggingface") : fs.path.join(fs.os.homedir(), ".cache", "huggingface");
}

function expandHome(p: string, fs: NodeFs): string {
  return p === "~" || p.startsWith("~/") ? fs.path.join(fs.os.homedir(), p.slice(1)) : p;
}

/** Cache root: the option, else `HF_HUB_CACHE`, else `$HF_HOME/hub` (default `~/.cache/huggingface/hub`). */
export function resolveCacheDir(explicit: string | undefined, fs: NodeFs): string {
  const dir = explicit ?? envVar("HF_HUB_CACHE") ?? envVar("HUGGINGFACE_HUB_CACHE") ?? fs.path.join(hfHome(fs), "hub");
  return fs.path.resolve(expandHome(dir, fs));
}

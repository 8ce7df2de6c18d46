/**
 * What the server benches share: the repository root (benches run from dist/bench/, two levels down) and
 * `--name value` options with defaults.
 */
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";

export const repoRoot = (moduleUrl: string): string => resolve(dirname(fileURLToPath(moduleUrl)), "..", "..");

/** `--name value` from the command line, or `dflt`. */
export function arg(name: string, dflt: string): string {
  const args = process.argv.slice(2);
  const i = args.indexOf(`--${name}`);
  return i >= 0 && i + 1 < args.length ? args[i + 1] : dflt;
}

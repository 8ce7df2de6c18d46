/**
 * Build the package with scripts/build.mjs into a private folder per test file (.cache/build-test/<name>), so
 * test files running in parallel never read a half-written dist/. The folder sits inside the repository so the
 * outputs resolve their dependencies from its node_modules exactly like dist/ does.
 */
import { spawnSync } from "node:child_process";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");

export function buildInto(name: string, targets: readonly ("lib" | "cli" | "browser" | "types")[]): string {
  const outdir = join(repoRoot, ".cache", "build-test", name);
  const res = spawnSync(process.execPath, [join(repoRoot, "scripts", "build.mjs"), "--outdir", outdir, "--only", targets.join(","), "--quiet"], {
    cwd: repoRoot,
    encoding: "utf8",
  });
  if (res.status !== 0) throw new Error(`scripts/build.mjs failed (${res.status}):\n${res.stdout}${res.stderr}`);
  return outdir;
}

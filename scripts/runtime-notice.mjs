#!/usr/bin/env node
/**
 * Last step of `npm test`: say plainly, as the final lines of the output, which runtime tests were skipped
 * because their binary is missing here (test/runtimes.test.ts skips them unless GLINER2_REQUIRE_RUNTIMES=1), so
 * a green run on a fresh machine is never mistaken for a run that proved the browser build.
 */
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const nm = join(root, "node_modules");
// The same places test/runtimes.test.ts looks.
const any = (paths) => paths.some((p) => existsSync(join(nm, ...p.split("/"))));
// Node LTS binaries: their own lockfile in test/runtimes/node-lts.
const lts = (alias) => {
  try {
    return existsSync(join(dirname(createRequire(join(root, "test", "runtimes", "node-lts", "package.json")).resolve(`${alias}/package.json`)), "bin", "node"));
  } catch {
    return false;
  }
};
const missing = [
  !existsSync("/usr/bin/chromium") && "Chromium (browser bundle test): no /usr/bin/chromium — apt-get install chromium",
  !any(["@deno/linux-x64-glibc/deno", "@deno/linux-arm64-glibc/deno", "deno/deno"]) && "Deno: no deno binary in node_modules — npm ci",
  !any(["bun/bin/bun.exe", "@oven/bun-linux-x64/bin/bun", "@oven/bun-linux-aarch64/bin/bun"]) && "Bun: no bun binary in node_modules — npm ci",
  !lts("node22") && "Node 22: not in test/runtimes/node-lts — npm ci --prefix test/runtimes/node-lts",
  !lts("node24") && "Node 24: not in test/runtimes/node-lts — npm ci --prefix test/runtimes/node-lts",
].filter(Boolean);
if (missing.length > 0 && process.env.GLINER2_REQUIRE_RUNTIMES !== "1") {
  const lines = ["NOTE: npm test passed, but these runtime tests were SKIPPED (binary missing):", ...missing.map((m) => `  - ${m}`), "  `bash .ci/run` installs everything and runs them all."];
  console.warn(`\n${lines.join("\n")}\n`);
}

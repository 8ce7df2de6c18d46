#!/usr/bin/env node
/**
 * `npm run fuzz`: bundle test/fuzz/main.ts with esbuild into .cache/fuzz/ and run it with a capped heap (so a
 * leak shows up as a crash, not as swap). Arguments are passed on: --count N, --seed S, --target NAME.
 */
import { spawnSync } from "node:child_process";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import * as esbuild from "esbuild";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const out = join(root, ".cache", "fuzz", "main.mjs");
await esbuild.build({
  entryPoints: [join(root, "test", "fuzz", "main.ts")],
  outfile: out,
  bundle: true,
  platform: "node",
  format: "esm",
  target: "node20",
  packages: "external",
  logLevel: "warning",
});
const res = spawnSync(process.execPath, ["--max-old-space-size=1024", out, ...process.argv.slice(2)], { stdio: "inherit" });
process.exit(res.status ?? 1);

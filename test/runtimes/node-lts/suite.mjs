#!/usr/bin/env node
/**
 * A slice of the ordinary test suite run under each Node LTS binary pinned in this folder (Node 22 and 24, where
 * relaxed SIMD is on by default, so the relaxed kernels are held to the reference too): golden parity with the
 * official engine through the public API, the encoder and kernels on every backend, int8, threads, the off-thread
 * worker, the API. test/runtimes.test.ts proves the built package on these binaries; this proves the source.
 *
 *   node test/runtimes/node-lts/suite.mjs [vitest args...]      (after npm ci --prefix test/runtimes/node-lts)
 *
 * Fails when a binary is missing: .ci/run runs it, so a CI run without Node 22/24 cannot pass.
 */
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, "..", "..", "..");
const FILES = [
  "test/parity.test.ts",
  "test/encoder.test.ts",
  "test/kernels.test.ts",
  "test/kernels.wasm.test.ts",
  "test/int8.test.ts",
  "test/int8.wasm.test.ts",
  "test/threads.test.ts",
  "test/worker.test.ts",
  "test/api.test.ts",
];

/** The binary of an alias package in this folder, through its own `bin` field. */
function binary(alias) {
  const pkgJson = createRequire(join(here, "package.json")).resolve(`${alias}/package.json`);
  return join(dirname(pkgJson), JSON.parse(readFileSync(pkgJson, "utf8")).bin.node);
}

let failed = false;
for (const [alias, major] of [["node22", 22], ["node24", 24]]) {
  let bin;
  try {
    bin = binary(alias);
  } catch {
    console.error(`node-lts suite: no ${alias} in test/runtimes/node-lts (npm ci --prefix test/runtimes/node-lts)`);
    failed = true;
    continue;
  }
  const version = spawnSync(bin, ["--version"], { encoding: "utf8" }).stdout?.trim() ?? "";
  if (!version.startsWith(`v${major}.`)) {
    console.error(`node-lts suite: ${bin} reports "${version}", expected v${major}.x`);
    failed = true;
    continue;
  }
  console.log(`\n== ${version}: ${FILES.length} test files ==`);
  // Node 24 picks the relaxed-dot int8 kernel by itself (V8 13); Node 22 is made to, so that kernel also runs where
  // the engine emulates the instruction (Node 20, in the main suite, and the runtime proof cover the i16 kernel).
  const env = major === 22 ? { ...process.env, GLINER2_INT8_KERNEL: "quads" } : process.env;
  const res = spawnSync(bin, [join(root, "node_modules", "vitest", "vitest.mjs"), "run", ...FILES, ...process.argv.slice(2)], { cwd: root, stdio: "inherit", env });
  if (res.status !== 0) failed = true;
}
process.exit(failed ? 1 : 0);

import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // Timing-sensitive tests run afterwards, alone (vitest.serial.config.ts).
    exclude: ["test/serial/**", "**/node_modules/**"],
    // Builds the worker-thread model host the library starts by default (see the file).
    globalSetup: ["test/setup/workerBuild.ts"],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // Two cores: run test files in forks, at most two at a time.
    pool: "forks",
    // Node 20 has relaxed SIMD behind a flag (on by default from Node 22): turn it on so its kernels are tested.
    poolOptions: { forks: { maxForks: 2, minForks: 1, execArgv: process.versions.node.startsWith("20.") ? ["--experimental-wasm-relaxed-simd"] : [] } },
  },
});

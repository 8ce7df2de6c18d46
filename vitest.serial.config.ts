import { defineConfig } from "vitest/config";

// The timing-sensitive tests (test/serial/): one file at a time, after the main run (vitest.config.ts excludes
// them), so they measure on an otherwise idle machine.
export default defineConfig({
  test: {
    include: ["test/serial/**/*.test.ts"],
    globalSetup: ["test/setup/workerBuild.ts"],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    pool: "forks",
    poolOptions: { forks: { maxForks: 1, minForks: 1 } },
  },
});

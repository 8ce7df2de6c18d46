import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // Builds the worker-thread model host the library starts by default (see the file).
    globalSetup: ["test/setup/workerBuild.ts"],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // Two cores: run test files in forks, at most two at a time.
    pool: "forks",
    poolOptions: { forks: { maxForks: 2, minForks: 1 } },
  },
});

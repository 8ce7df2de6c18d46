/**
 * Property/fuzz tests, bounded for `npm test`: a few hundred seeded inputs per target (test/fuzz/targets.ts).
 * Every input must end in a result or a Gliner2Error and satisfy the target's properties. `npm run fuzz` runs
 * the same targets on a million inputs each.
 */
import { describe, expect, it } from "vitest";
import { runTarget } from "./fuzz/run.js";
import { TARGETS } from "./fuzz/targets.js";

const COUNT = Number(process.env.GLINER2_FUZZ_COUNT ?? 400);

describe("fuzz (bounded)", () => {
  for (const [k, target] of TARGETS.entries()) {
    it(`${target.name}: ${COUNT} inputs, each a result or a Gliner2Error`, async () => {
      const report = await runTarget(target, COUNT, 1000 + k);
      expect(report.failures, JSON.stringify(report.failures, null, 1)).toEqual([]);
      expect(report.inputs).toBe(COUNT);
      // Both outcomes occur, so the generators reach past the first check.
      expect(report.results).toBeGreaterThan(0);
      // (The splitter never refuses a string, and the JSONL streamer turns errors into records.)
      if (target.name !== "word splitter" && target.name !== "JSONL reader") expect(report.typedErrors).toBeGreaterThan(0);
    });
  }
});

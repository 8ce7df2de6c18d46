/**
 * `npm run fuzz`: every target on many inputs (default 1,000,000 each), reporting per target the inputs run,
 * results, typed errors, untyped exceptions / property failures, inputs over 2 s, the slowest input and the
 * peak RSS. Exit code 1 when any input failed or was slow.
 *
 *   npm run fuzz -- [--count N] [--seed S] [--target NAME[,NAME…]]   (NAME: part of a target's name)
 */
import { runTarget, type FuzzReport } from "./run.js";
import { TARGETS } from "./targets.js";

const args = process.argv.slice(2);
const arg = (name: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : undefined;
};
const count = Number(arg("count") ?? 1_000_000);
const seed = Number(arg("seed") ?? 1);
const only = arg("target");
const MiB = 1024 * 1024;

const reports: FuzzReport[] = [];
const t0 = Date.now();
for (const [k, target] of TARGETS.entries()) {
  if (only !== undefined && !only.split(",").some((o) => target.name.includes(o))) continue;
  const start = Date.now();
  let lastPrint = 0;
  const report = await runTarget(target, count, seed * 1000 + k, {
    onProgress: (r) => {
      if (Date.now() - lastPrint < 30_000) return;
      lastPrint = Date.now();
      console.log(`  ${r.target}: ${r.inputs} inputs, ${r.failures.length} failures, ${r.slow} slow, max ${r.maxMs.toFixed(0)} ms, RSS ${(process.memoryUsage().rss / MiB).toFixed(0)} MiB`);
    },
  });
  reports.push(report);
  console.log(
    `${report.target}: ${report.inputs} inputs → ${report.results} results, ${report.typedErrors} Gliner2Errors, ${report.failures.length} failures, ` +
      `${report.slow} over 2 s wall (slowest ${report.maxMs.toFixed(1)} ms), ${report.slowCpu} over 2 s CPU (slowest ${report.maxCpuMs.toFixed(1)} ms), peak RSS ${(report.peakRss / MiB).toFixed(0)} MiB, ${((Date.now() - start) / 1000).toFixed(0)} s`,
  );
  for (const f of report.failures) console.log(`  FAIL ${f.error}\n       input: ${f.input}`);
}
console.log(`total ${((Date.now() - t0) / 1000).toFixed(0)} s`);
process.exit(reports.some((r) => r.failures.length > 0 || r.slow > 0) ? 1 : 0);

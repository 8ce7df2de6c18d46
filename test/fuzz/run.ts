/** Run fuzz targets: count outcomes, collect untyped exceptions, property failures and slow inputs. */
import { Gliner2Error } from "../../src/errors.js";
import { rng } from "../helpers/prng.js";
import { PropertyFailure, type FuzzTarget } from "./targets.js";

export interface FuzzReport {
  readonly target: string;
  inputs: number;
  results: number;
  typedErrors: number;
  /** Inputs that threw something other than a Gliner2Error, or broke a property. */
  readonly failures: { input: string; error: string }[];
  /** Inputs that took longer than the limit (wall clock, so a busy machine can inflate it). */
  slow: number;
  maxMs: number;
  /** The same by CPU time of this process (what the input itself cost). */
  slowCpu: number;
  maxCpuMs: number;
  /** Peak resident set size seen while running (bytes), where the runtime reports it. */
  peakRss: number;
}

export async function runTarget(target: FuzzTarget<never>, count: number, seed: number, opts: { slowMs?: number; onProgress?: (r: FuzzReport) => void } = {}): Promise<FuzzReport> {
  const slowMs = opts.slowMs ?? 2000;
  const r = rng(seed);
  const report: FuzzReport = { target: target.name, inputs: 0, results: 0, typedErrors: 0, failures: [], slow: 0, maxMs: 0, slowCpu: 0, maxCpuMs: 0, peakRss: 0 };
  for (let i = 0; i < count; i++) {
    const input = (target.generate as (r: unknown) => never)(r);
    const t0 = performance.now();
    const c0 = process.cpuUsage();
    try {
      await target.check(input);
      report.results++;
    } catch (e) {
      if (e instanceof Gliner2Error) report.typedErrors++;
      else if (report.failures.length < 20) {
        report.failures.push({ input: target.show(input), error: e instanceof PropertyFailure ? `property: ${e.message}` : `${(e as Error)?.name}: ${(e as Error)?.message}` });
      } else report.failures.length; // keep counting below
      if (!(e instanceof Gliner2Error) && report.failures.length >= 20) (report as { extra?: number }).extra = ((report as { extra?: number }).extra ?? 0) + 1;
    }
    const ms = performance.now() - t0;
    const cpu = process.cpuUsage(c0);
    const cpuMs = (cpu.user + cpu.system) / 1000;
    if (cpuMs > report.maxCpuMs) report.maxCpuMs = cpuMs;
    if (cpuMs > slowMs) report.slowCpu++;
    if (ms > report.maxMs) report.maxMs = ms;
    if (ms > slowMs) report.slow++;
    report.inputs++;
    if ((i & 4095) === 0) {
      const rss = typeof process !== "undefined" ? process.memoryUsage().rss : 0;
      if (rss > report.peakRss) report.peakRss = rss;
      opts.onProgress?.(report);
    }
  }
  return report;
}

/** Process memory readings shared by the benches. */
import { readFileSync } from "node:fs";

/** Peak RSS of this process in MiB: VmHWM (getrusage's maxRSS survives exec on Linux and would report the parent's). */
export function peakRss(): number {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync("/proc/self/status", "utf8"));
    if (m) return Number(m[1]) / 1024;
  } catch {
    // not Linux
  }
  return process.resourceUsage().maxRSS / 1024;
}

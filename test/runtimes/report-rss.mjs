// Preloaded with `node --import` by test/cli.test.ts: on exit, write this process's peak resident set size
// (KiB, from getrusage) to the file named by GLINER2_RSS_REPORT.
import { writeFileSync } from "node:fs";

const file = process.env.GLINER2_RSS_REPORT;
if (file) process.on("exit", () => writeFileSync(file, String(process.resourceUsage().maxRSS)));

/**
 * Entry point of the `gliner2` executable (built to dist/cli.js). All logic lives in src/cli/; this file only
 * connects it to the process.
 */
import { main } from "./cli/main.js";

const io = {
  // Lazy: touching process.stdin opens it, which must not happen unless a command reads it.
  get stdin() {
    return process.stdin;
  },
  stdout: process.stdout,
  stderr: process.stderr,
  env: process.env,
};
// exitCode rather than exit(): pending stdout writes to a pipe still get flushed.
process.exitCode = await main(process.argv.slice(2), io);

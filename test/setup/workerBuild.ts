/**
 * Global set-up: the off-thread model host is a separate script (dist/worker.js in the package), and a worker
 * thread cannot run the TypeScript sources the tests import. Build it once per run into .cache/build-test/worker
 * and point the library at it with $GLINER2_WORKER_ENTRY (inherited by the test processes).
 */
import { join } from "node:path";
import { buildInto } from "../runtimes/build.js";

export default function setup(): void {
  const out = buildInto("worker", ["lib"]);
  process.env.GLINER2_WORKER_ENTRY = join(out, "worker.js");
}

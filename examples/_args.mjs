/**
 * Shared by the examples: `--model <dir|org/name|url>` (default: the tiny test checkpoint, whose weights are
 * random — outputs show the shapes, not meaningful answers; use fastino/gliner2-base-v1 for real results).
 */
import { fileURLToPath } from "node:url";

export const TINY_MODEL = fileURLToPath(new URL("../test/fixtures/tiny-count_lstm_v2", import.meta.url));

export function modelArg(argv = process.argv.slice(2)) {
  const i = argv.indexOf("--model");
  if (i !== -1 && argv[i + 1]) return argv[i + 1];
  const eq = argv.find((a) => a.startsWith("--model="));
  return eq ? eq.slice("--model=".length) : TINY_MODEL;
}

export function show(title, value) {
  console.log(`${title}\n${JSON.stringify(value, null, 2)}\n`);
}

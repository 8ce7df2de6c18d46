/**
 * `gliner2 quantize IN OUT`: write an int8 copy of a checkpoint (folder, URL or hub repo id) into the folder OUT.
 * The result has the released layout and loads with `--model OUT` / `fromPretrained(OUT)` as int8.
 */
import { formatOptions, optionReader, parseArgs, type OptionSpec } from "./args.js";
import { UsageError } from "./errors.js";
import type { CliIO } from "./io.js";

const OPTIONS: readonly OptionSpec[] = [
  { name: "only-embeddings", kind: "flag", help: "quantize only the word-embedding table (float engine, ~⅓ of the f32 size saved, tiny error)" },
  { name: "force", kind: "flag", help: "replace an existing OUT/model.safetensors" },
  { name: "revision", kind: "string", value: "REV", help: "hub revision when IN is a repo id" },
  { name: "cache-dir", kind: "string", value: "DIR", help: "hub cache folder (default: $HF_HUB_CACHE or ~/.cache/huggingface/hub)" },
  { name: "token", kind: "string", value: "TOKEN", help: "hub access token (default: $HF_TOKEN)" },
  { name: "offline", kind: "flag", help: "use the hub cache only, never the network" },
  { name: "debug", kind: "flag", help: "print stack traces of internal errors" },
  { name: "help", short: "h", kind: "flag", help: "show this help" },
];

export const QUANTIZE_HELP = `Usage: gliner2 quantize [options] IN OUT

Write an int8 copy of the checkpoint IN (folder, hub repo id or URL) into the folder OUT: encoder linear
layers, word embeddings and head linear layers as int8 with one float32 scale per row (≈ ¼ of the float32
file). OUT loads like any checkpoint (gliner2 extract --model OUT); see the README section "int8" for the
format and the measured accuracy.

Options:
${formatOptions(OPTIONS)}

Example:
  gliner2 quantize fastino/gliner2-base-v1 ./gliner2-base-int8
`;

export async function runQuantize(argv: readonly string[], io: CliIO): Promise<number> {
  const parsed = parseArgs(argv, OPTIONS, "quantize");
  const opt = optionReader(parsed, "quantize");
  if (opt.flag("help")) {
    io.stdout.write(QUANTIZE_HELP);
    return 0;
  }
  if (parsed.positionals.length !== 2) throw new UsageError("quantize", `expected IN and OUT, got ${parsed.positionals.length} argument(s)`);
  const [given, out] = parsed.positionals;
  // $HF_TOKEN is a hub credential: sent for a hub repo id only, never to a URL host (as `extract`).
  const { classifyModelSource } = await import("./model.js");
  const { source, kind } = await classifyModelSource(given, "IN");
  // Loaded on demand: `--help` and argument errors stay instant.
  const { quantizeCheckpoint } = await import("../int8/checkpoint.js");
  const stats = await quantizeCheckpoint(source, out, {
    quantize: opt.flag("only-embeddings") ? "int8-embeddings" : "int8",
    overwrite: opt.flag("force"),
    resolve: { revision: opt.string("revision"), cacheDir: opt.string("cache-dir"), token: opt.string("token") ?? (kind === "repo" ? io.env.HF_TOKEN : undefined), offline: opt.flag("offline") || undefined },
  });
  const mb = (n: number) => (n / 1e6).toFixed(1);
  io.stderr.write(`quantized ${stats.quantized} tensors, copied ${stats.copied}: ${mb(stats.bytesIn)} MB → ${mb(stats.bytesOut)} MB\n`);
  io.stdout.write(`${out}\n`);
  return 0;
}

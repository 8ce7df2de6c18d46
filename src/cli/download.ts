/**
 * `gliner2 download ORG/NAME`: fetch a checkpoint from the Hugging Face hub into the local cache and print the
 * snapshot folder (usable as `--model`).
 */
import { InputError } from "../errors.js";
import { formatOptions, optionReader, parseArgs, type OptionSpec } from "./args.js";
import { UsageError } from "./errors.js";
import type { CliIO } from "./io.js";
import { downloadProgress } from "./progress.js";

const OPTIONS: readonly OptionSpec[] = [
  { name: "revision", kind: "string", value: "REV", help: "branch, tag or commit (default: main)" },
  { name: "cache-dir", kind: "string", value: "DIR", help: "hub cache folder (default: $HF_HUB_CACHE or ~/.cache/huggingface/hub)" },
  { name: "token", kind: "string", value: "TOKEN", help: "access token for gated or private repos (default: $HF_TOKEN)" },
  { name: "endpoint", kind: "string", value: "URL", help: "hub endpoint (default: $HF_ENDPOINT or https://huggingface.co)" },
  { name: "offline", kind: "flag", help: "only check the cache, never the network" },
  { name: "progress", kind: "flag", help: "show progress on stderr even when it is not a terminal" },
  { name: "no-progress", kind: "flag", help: "never show progress" },
  { name: "debug", kind: "flag", help: "print stack traces of internal errors" },
  { name: "help", short: "h", kind: "flag", help: "show this help" },
];

export const DOWNLOAD_HELP = `Usage: gliner2 download [options] ORG/NAME[@REVISION]

Download a GLiNER2 checkpoint (config.json, encoder_config/config.json, tokenizer files, model.safetensors)
from the Hugging Face hub into the local cache, resuming a cut download, and print the snapshot folder.

Options:
${formatOptions(OPTIONS)}

Example:
  gliner2 download fastino/gliner2-base-v1
`;

const REPO_ID = /^[A-Za-z0-9][\w.-]*\/[\w.-]+$/;

export async function runDownload(argv: readonly string[], io: CliIO): Promise<number> {
  const parsed = parseArgs(argv, OPTIONS, "download");
  const opt = optionReader(parsed, "download");
  if (opt.flag("help")) {
    io.stdout.write(DOWNLOAD_HELP);
    return 0;
  }
  if (parsed.positionals.length !== 1) throw new UsageError("download", `expected one repo id (ORG/NAME), got ${parsed.positionals.length}`);
  let repo = parsed.positionals[0];
  let revision = opt.string("revision");
  const at = repo.indexOf("@");
  if (at !== -1) {
    if (revision !== undefined) throw new UsageError("download", `give the revision once: "${repo}" and --revision ${revision}`);
    revision = repo.slice(at + 1);
    repo = repo.slice(0, at);
    if (revision === "") throw new InputError("repo id", `"${parsed.positionals[0]}" has an empty revision after "@"`);
  }
  if (!REPO_ID.test(repo)) throw new InputError("repo id", `"${repo}" is not a hub repo id like fastino/gliner2-base-v1`);

  const enabled = !opt.flag("no-progress") && (opt.flag("progress") || io.stderr.isTTY === true);
  const progress = downloadProgress(io.stderr, enabled);
  // Loaded on demand: `--help` and argument errors stay instant.
  const { downloadCheckpoint } = await import("../hub/index.js");
  const dir = await downloadCheckpoint(repo, {
    revision,
    cacheDir: opt.string("cache-dir"),
    token: opt.string("token") ?? io.env.HF_TOKEN,
    endpoint: opt.string("endpoint"),
    offline: opt.flag("offline") || undefined,
    onProgress: progress.onProgress,
  });
  progress.finish();
  io.stdout.write(`${dir}\n`);
  return 0;
}

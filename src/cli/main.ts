/**
 * The `gliner2` command: dispatch to a sub-command and turn every failure into one error line and an exit code.
 */
import { runDownload, DOWNLOAD_HELP } from "./download.js";
import { describeError, EXIT, UsageError } from "./errors.js";
import { EXTRACT_HELP, runExtract } from "./extract.js";
import { OutputClosed, type CliIO } from "./io.js";
import { runServe, SERVE_HELP } from "./serve.js";
import { QUANTIZE_HELP, runQuantize } from "./quantize.js";

declare const __GLINER2_VERSION__: string | undefined;
/** Set by scripts/build.mjs from package.json. */
export const VERSION = typeof __GLINER2_VERSION__ === "string" ? __GLINER2_VERSION__ : "0.0.0-dev";

export const MAIN_HELP = `Usage: gliner2 <command> [options]

Schema-driven information extraction (entities, classification, structures, relations) with GLiNER2,
in pure TypeScript.

Commands:
  extract    extract from a text or a JSONL stream       (gliner2 extract --help)
  download   fetch a checkpoint from the Hugging Face hub (gliner2 download --help)
  serve      serve the hosted GLiNER2 API over HTTP        (gliner2 serve --help)
  quantize   write an int8 copy of a checkpoint (~¼ size)  (gliner2 quantize --help)
  help CMD   show a command's help

Options:
  -h, --help     show this help
  -V, --version  print the version
`;

const COMMANDS: Record<string, (argv: readonly string[], io: CliIO) => Promise<number>> = {
  extract: runExtract,
  download: runDownload,
  serve: runServe,
  quantize: runQuantize,
};
const HELP: Record<string, string> = { extract: EXTRACT_HELP, download: DOWNLOAD_HELP, serve: SERVE_HELP, quantize: QUANTIZE_HELP };

async function dispatch(argv: readonly string[], io: CliIO): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined) {
    io.stderr.write(MAIN_HELP);
    return EXIT.usage;
  }
  if (command === "-h" || command === "--help") {
    io.stdout.write(MAIN_HELP);
    return EXIT.ok;
  }
  if (command === "-V" || command === "--version") {
    io.stdout.write(`gliner2 ${VERSION}\n`);
    return EXIT.ok;
  }
  if (command === "help") {
    const topic = rest[0];
    if (topic === undefined) io.stdout.write(MAIN_HELP);
    else if (topic in HELP) io.stdout.write(HELP[topic]);
    else throw new UsageError("gliner2", `unknown command "${topic}"`);
    return EXIT.ok;
  }
  const run = COMMANDS[command];
  if (run === undefined) {
    if (command.startsWith("-")) throw new UsageError("gliner2", `unknown option ${command} (options go after the command, e.g. gliner2 extract ${command})`);
    throw new UsageError("gliner2", `unknown command "${command}" (commands: ${Object.keys(COMMANDS).join(", ")})`);
  }
  return run(rest, io);
}

/** Run the CLI; resolves to the process exit code. Never throws. */
export async function main(argv: readonly string[], io: CliIO): Promise<number> {
  const debug = argv.includes("--debug");
  try {
    return await dispatch(argv, io);
  } catch (err) {
    if (err instanceof OutputClosed) return EXIT.ok; // e.g. `gliner2 extract --jsonl … | head`
    const { lines, exitCode } = describeError(err, debug);
    io.stderr.write(`${lines.join("\n")}\n`);
    return exitCode;
  }
}

/**
 * `gliner2 extract`: one text (argument, --text, --input FILE or stdin) → one JSON result, or `--jsonl`: one
 * JSON line per input line, streamed in batches.
 */
import { open, readFile } from "node:fs/promises";
import { InputError, SchemaError } from "../errors.js";
import { normalizeSchema } from "../schema/schema.js";
import { formatOptions, optionReader, parseArgs, type OptionSpec } from "./args.js";
import { EXIT, UsageError } from "./errors.js";
import { openInput, readAllText, streamWriter, type CliIO } from "./io.js";
import { type OverlongLine, readLines, streamJsonl, streamJsonlLong } from "./jsonl.js";
import { safeMessage } from "../quote.js";
import { DEFAULT_CHUNK_OVERLAP, DEFAULT_CHUNK_SIZE, type LongProgress } from "../long/index.js";
import { embeddingsFlag, loadCliModel } from "./model.js";
import { createProgress } from "./progress.js";
import { schemaFromFlags } from "./schemaFlags.js";

const OPTIONS: readonly OptionSpec[] = [
  { name: "model", short: "m", kind: "string", value: "DIR|ORG/NAME|URL", help: "checkpoint folder, hub repo id or URL (default: $GLINER2_MODEL)" },
  { name: "revision", kind: "string", value: "REV", help: "hub revision (branch, tag or commit) for a repo id" },
  { name: "cache-dir", kind: "string", value: "DIR", help: "hub cache folder (default: $HF_HUB_CACHE or ~/.cache/huggingface/hub)" },
  { name: "token", kind: "string", value: "TOKEN", help: "hub access token (default: $HF_TOKEN)" },
  { name: "endpoint", kind: "string", value: "URL", help: "hub endpoint (default: $HF_ENDPOINT or https://huggingface.co)" },
  { name: "offline", kind: "flag", help: "use the hub cache only, never the network" },
  { name: "quantize", kind: "string", value: "int8|int8-embeddings", help: "run the model in int8 (README \"int8\"); int8 checkpoints are int8 without it" },
  { name: "embeddings", kind: "string", value: "memory|disk", help: "disk: read word-embedding rows from model.safetensors per text instead of loading the table (less memory)" },
  { name: "schema", short: "s", kind: "string", value: "FILE", help: "JSON schema file (hosted-API format: entities, classifications, structures, relations)" },
  { name: "entities", short: "e", kind: "string", repeatable: true, value: "A,B", help: "entity types; `type::description` adds a description" },
  { name: "classify", short: "c", kind: "string", repeatable: true, value: "TASK=L1,L2", help: "classification task; prefix `multi:` for multi-label" },
  { name: "relations", short: "r", kind: "string", repeatable: true, value: "A,B", help: "relation types" },
  { name: "json-struct", short: "j", kind: "string", repeatable: true, value: "NAME:FIELD,..", help: "structure with official field specs, e.g. 'product:name::str,price::str'" },
  { name: "text", short: "t", kind: "string", value: "TEXT", help: "the text to process" },
  { name: "input", short: "i", kind: "string", value: "FILE", help: "read the text (or JSONL records) from FILE; '-' is stdin" },
  { name: "jsonl", kind: "flag", help: "input is JSONL: each line an object with a text field, or a JSON string" },
  { name: "text-field", kind: "string", value: "NAME", help: "JSONL field holding the text (default: text)" },
  { name: "result-field", kind: "string", value: "NAME", help: "JSONL output field for the result (default: result)" },
  { name: "batch-size", short: "b", kind: "string", value: "N", help: "texts (long mode: chunks) per encoder batch in --jsonl or long mode (default: 8)" },
  { name: "fail-fast", kind: "flag", help: "--jsonl: stop at the first bad record (default: write an error record for it and go on)" },
  { name: "errors", kind: "string", value: "FILE", help: "--jsonl: write error records to FILE instead of among the results" },
  { name: "max-tokens", kind: "string", value: "N", help: "longest prompt + text in tokens (default: 4096); longer texts are refused" },
  { name: "long", kind: "flag", help: "long documents: extract from overlapping word windows and merge (default 384 words, 64 shared)" },
  { name: "chunk-size", kind: "string", value: "N", help: "long mode: words per window (default: 384); implies --long" },
  { name: "chunk-overlap", kind: "string", value: "N", help: "long mode: words shared by consecutive windows (default: 64); implies --long" },
  { name: "threshold", kind: "string", value: "P", help: "span confidence threshold in [0, 1] (default: 0.5)" },
  { name: "include-confidence", kind: "flag", help: "add a confidence to every extracted value" },
  { name: "include-spans", kind: "flag", help: "add character start/end offsets to every extracted value" },
  { name: "span-selection", kind: "string", value: "official|first|best", help: "how a str entity / field / relation picks its span: official (default: str entities the most confident, fields and relations the first in text order), first, best" },
  { name: "raw", kind: "flag", help: "print unformatted results (format_results=False)" },
  { name: "pretty", kind: "flag", help: "indent the JSON output (default when stdout is a terminal, single-text mode)" },
  { name: "progress", kind: "flag", help: "show progress on stderr even when it is not a terminal" },
  { name: "no-progress", kind: "flag", help: "never show progress" },
  { name: "debug", kind: "flag", help: "print stack traces of internal errors" },
  { name: "help", short: "h", kind: "flag", help: "show this help" },
];

export const EXTRACT_HELP = `Usage: gliner2 extract [options] [TEXT]

Extract entities, classifications, structures and relations from text with a GLiNER2 model.
The text comes from TEXT, --text, --input FILE or stdin. With --jsonl every input line is a JSON object
with a "text" field (other fields, e.g. "id", are copied to the output) or a bare JSON string, and every
output line is that object plus a "result" field, written as soon as its batch is done. A bad record
(invalid JSON, no text, too long, …) gives {"line": N, "error": {"code", "message"}} in its place (or in
--errors FILE) and the stream goes on; the exit code is 1 when any record failed (--fail-fast: stop at it).

Long documents: --long, --chunk-size N or --chunk-overlap N extract from overlapping word windows and merge
the results with offsets into the whole text (a book can be piped in; with --jsonl every record is a document).
Progress then counts chunks.

Schema: either --schema FILE or the shorthand flags below (combinable with each other):
  --entities person,company
  --classify sentiment=positive,negative      --classify multi:topics=tech,sports,politics
  --relations works_for,located_in
  --json-struct 'product:name::str,price::str::Price with currency,size::[S|M|L]::str'
  Lists are comma-separated; write \\, for a comma inside a description.

Options:
${formatOptions(OPTIONS)}

Examples:
  gliner2 extract -m fastino/gliner2-base-v1 --entities person,company "Tim Cook leads Apple."
  echo "I loved it!" | gliner2 extract -m ./model --classify sentiment=positive,negative
  gliner2 extract -m ./model --schema schema.json --jsonl --input texts.jsonl > results.jsonl
  gliner2 extract -m ./model --entities person,location --chunk-size 256 --input book.txt
`;

function quantizeFlag(v: string | undefined): "none" | "int8" | "int8-embeddings" | undefined {
  if (v === undefined || v === "none" || v === "int8" || v === "int8-embeddings") return v;
  throw new UsageError("extract", `--quantize must be int8, int8-embeddings or none, got "${v}"`);
}

/** Options the library's extraction calls take. */
interface CallOptions {
  threshold?: number;
  spanSelection?: "official" | "first" | "best";
  includeConfidence?: boolean;
  includeSpans?: boolean;
  formatResults?: boolean;
}

/** Read and check a `--schema` file: a JSON object (the library validates its content). */
async function readSchemaFile(path: string): Promise<Record<string, unknown>> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new InputError("--schema", code === "ENOENT" ? `file ${path} not found` : `cannot read ${path} (${code ?? (e as Error).message})`);
  }
  // Editors on Windows save UTF-8 with a byte-order mark; it is not part of the JSON.
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw new InputError("--schema", `${path} is not valid JSON (${(e as Error).message})`);
  }
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    throw new SchemaError("(root)", `${path} must hold a JSON object with entities, classifications, structures and/or relations`);
  }
  return value as Record<string, unknown>;
}

/** Pair every document text of a stream with the schema. */
async function* withSchema(texts: AsyncIterable<string>, schema: Record<string, unknown>): AsyncGenerator<{ text: string; schema: Record<string, unknown> }> {
  for await (const text of texts) yield { text, schema };
}

/** Strip one trailing line break: `echo text |` and files end with one, and it is not part of the text. */
function stripFinalNewline(s: string): string {
  return s.endsWith("\r\n") ? s.slice(0, -2) : s.endsWith("\n") ? s.slice(0, -1) : s;
}

export async function runExtract(argv: readonly string[], io: CliIO): Promise<number> {
  const parsed = parseArgs(argv, OPTIONS, "extract");
  const opt = optionReader(parsed, "extract");
  if (opt.flag("help")) {
    io.stdout.write(EXTRACT_HELP);
    return 0;
  }

  // --- what to extract --------------------------------------------------------------------------------------
  const flagSchema = schemaFromFlags({ entities: opt.list("entities"), classify: opt.list("classify"), relations: opt.list("relations"), jsonStruct: opt.list("json-struct") });
  const schemaPath = opt.string("schema");
  if (schemaPath !== undefined && flagSchema !== null) throw new UsageError("extract", "give either --schema FILE or shorthand schema flags (--entities, --classify, --relations, --json-struct), not both");
  if (schemaPath === undefined && flagSchema === null) throw new UsageError("extract", "nothing to extract: give --schema FILE or at least one of --entities, --classify, --relations, --json-struct");

  // --- where the text comes from ----------------------------------------------------------------------------
  const jsonl = opt.flag("jsonl");
  const textOpt = opt.string("text");
  const inputPath = opt.string("input");
  if (parsed.positionals.length > 1) throw new UsageError("extract", `expected at most one TEXT argument, got ${parsed.positionals.length} (quote the text)`);
  const positional = parsed.positionals[0];
  const sources = [textOpt !== undefined && "--text", positional !== undefined && "a TEXT argument", inputPath !== undefined && "--input"].filter(Boolean);
  if (sources.length > 1) throw new UsageError("extract", `give the text one way only, got ${sources.join(" and ")}`);
  if (jsonl && (textOpt !== undefined || positional !== undefined)) throw new UsageError("extract", "--jsonl reads records from --input FILE or stdin, not from --text or an argument");
  if (sources.length === 0 && io.stdin.isTTY) throw new UsageError("extract", "no text: pass it as an argument, with --text, --input FILE or on stdin");
  const chunkSize = opt.number("chunk-size", { min: 1, max: 1_000_000, integer: true });
  const chunkOverlap = opt.number("chunk-overlap", { min: 0, max: 1_000_000, integer: true });
  const long = opt.flag("long") || chunkSize !== undefined || chunkOverlap !== undefined;
  const chunking = long ? { chunkSize: chunkSize ?? DEFAULT_CHUNK_SIZE, chunkOverlap: chunkOverlap ?? DEFAULT_CHUNK_OVERLAP } : null;
  if (chunking !== null && chunking.chunkOverlap >= chunking.chunkSize) {
    throw new UsageError("extract", `--chunk-overlap (${chunking.chunkOverlap}) must be smaller than --chunk-size (${chunking.chunkSize})`);
  }
  if (long && opt.flag("raw")) throw new UsageError("extract", "--raw cannot be combined with long mode (--long, --chunk-size, --chunk-overlap): chunk results are merged in the formatted shape");
  if (!jsonl) {
    for (const f of long ? ["text-field", "result-field", "fail-fast", "errors"] : ["text-field", "result-field", "batch-size", "fail-fast", "errors"]) {
      if (parsed.options.has(f)) throw new UsageError("extract", `--${f} only applies with --jsonl`);
    }
  }

  const callOpts: CallOptions = {};
  const threshold = opt.number("threshold", { min: 0, max: 1 });
  if (threshold !== undefined) callOpts.threshold = threshold;
  if (opt.flag("include-confidence")) callOpts.includeConfidence = true;
  if (opt.flag("include-spans")) callOpts.includeSpans = true;
  if (opt.flag("raw")) callOpts.formatResults = false;
  const spanSelection = opt.string("span-selection");
  if (spanSelection !== undefined) {
    if (spanSelection !== "official" && spanSelection !== "first" && spanSelection !== "best") throw new UsageError("extract", `--span-selection must be "official", "first" or "best", got "${spanSelection}"`);
    callOpts.spanSelection = spanSelection;
  }
  const batchSize = opt.number("batch-size", { min: 1, max: 4096, integer: true }) ?? 8;
  const maxTokens = opt.number("max-tokens", { min: 1, max: 1_000_000, integer: true });
  const progressEnabled = !opt.flag("no-progress") && (opt.flag("progress") || io.stderr.isTTY === true);

  const modelSource = opt.string("model") ?? (io.env.GLINER2_MODEL || undefined);
  const quantize = quantizeFlag(opt.string("quantize"));
  const embeddings = embeddingsFlag(opt.string("embeddings"), "extract");
  if (modelSource === undefined) throw new UsageError("extract", "no model: give --model DIR|ORG/NAME|URL (e.g. fastino/gliner2-base-v1) or set GLINER2_MODEL");

  const inSchemaFile = <T>(run: () => Promise<T>): Promise<T> =>
    run().catch((e: unknown) => {
      // Name the file that holds the bad schema part.
      if (schemaPath !== undefined && e instanceof SchemaError) throw new InputError(`--schema ${schemaPath}`, e.message);
      throw e;
    });

  // Check everything that does not need the model before loading it (a big checkpoint takes seconds).
  const schema = schemaPath !== undefined ? await readSchemaFile(schemaPath) : (flagSchema as Record<string, unknown>);
  // Validate now: a bad schema is reported before a large checkpoint loads.
  await inSchemaFile(async () => normalizeSchema(schema));
  const input = jsonl || sources.length === 0 || inputPath !== undefined ? await openInput(inputPath, io) : null;

  const model = await loadCliModel(
    modelSource,
    { cacheDir: opt.string("cache-dir"), revision: opt.string("revision"), token: opt.string("token"), envToken: io.env.HF_TOKEN, endpoint: opt.string("endpoint"), offline: opt.flag("offline") || undefined, progress: progressEnabled, maxTokens, quantize, embeddings },
    io.stderr,
  );
  const write = streamWriter(io.stdout);

  if (!jsonl && chunking !== null) {
    const text = textOpt ?? positional ?? stripFinalNewline(await readAllText(input!));
    const progress = createProgress(io.stderr, { enabled: progressEnabled, label: "chunks", unit: "items" });
    let result: unknown;
    await inSchemaFile(async () => {
      const onProgress = (p: LongProgress) => progress.update(p.chunksDone, p.chunksKnown);
      for await (const r of model.streamExtractLong([{ text, schema }], { ...callOpts, ...chunking, batchSize, onProgress })) result = r;
    });
    progress.finish();
    const pretty = opt.flag("pretty") || io.stdout.isTTY === true;
    await write(`${JSON.stringify(result, null, pretty ? 2 : undefined)}\n`);
    return 0;
  }

  if (!jsonl) {
    // Reading stops just past the model's character limit; the library then refuses the text with its message.
    const text = textOpt ?? positional ?? stripFinalNewline(await readAllText(input!, model.maxChars + 2));
    const result = await inSchemaFile(() => model.extract(text, schema, callOpts));
    const pretty = opt.flag("pretty") || io.stdout.isTTY === true;
    await write(`${JSON.stringify(result, null, pretty ? 2 : undefined)}\n`);
    return 0;
  }

  // A file's size gives a real bar (bytes processed); stdin only has a running count of records.
  const sized = input!.size !== null;
  const progress = createProgress(io.stderr, { enabled: progressEnabled, label: sized ? "extract" : "records", unit: sized ? "bytes" : "items" });
  // Bytes of the lines handed to the batcher: the file is read ahead in 64 KiB chunks, so bytes *read* would run
  // ahead of the work done.
  let consumed = 0;
  async function* counted(lines: AsyncIterable<string | OverlongLine>): AsyncGenerator<string | OverlongLine> {
    for await (const line of lines) {
      consumed += (typeof line === "string" ? Buffer.byteLength(line) : line.chars) + 1;
      yield line;
    }
  }
  // Bad records: an error record each ({"line": N, "error": {...}}) among the results or in --errors FILE, and
  // the stream goes on; --fail-fast stops at the first one. The exit code says whether any record failed.
  const failFast = opt.flag("fail-fast");
  const errorsPath = opt.string("errors");
  const errorsFile = errorsPath !== undefined ? await openErrorsFile(errorsPath) : null;
  let failed = 0;
  let firstFailure = "";
  const onRecordError = (line: number, err: unknown) => {
    if (failed++ === 0) firstFailure = `line ${line}: ${err instanceof Error ? err.message : String(err)}`;
  };
  if (chunking !== null) {
    // Long documents: one record = one document; progress counts chunks.
    const chunkProgress = createProgress(io.stderr, { enabled: progressEnabled, label: "chunks", unit: "items" });
    const written = await inSchemaFile(() =>
      streamJsonlLong({
        lines: readLines(input!.stream),
        failFast,
        writeError: errorsFile?.write,
        onRecordError,
        textField: opt.string("text-field") ?? "text",
        resultField: opt.string("result-field") ?? "result",
        where: input!.where,
        run: (texts) => model.streamExtractLong(withSchema(texts, schema), { ...callOpts, ...chunking, batchSize, onProgress: (p) => chunkProgress.update(p.chunksDone, null, `of ${p.chunksKnown} known, ${p.documentsDone} records`) }),
        write,
      }),
    ).finally(() => errorsFile?.close());
    chunkProgress.finish(`${written} records`);
    return reportFailures(written);
  }
  const records = await inSchemaFile(() =>
    streamJsonl({
      lines: counted(readLines(input!.stream)),
      failFast,
      writeError: errorsFile?.write,
      onRecordError,
      batchSize,
      textField: opt.string("text-field") ?? "text",
      resultField: opt.string("result-field") ?? "result",
      where: input!.where,
      run: (texts) => model.batchExtract(texts, schema, { ...callOpts, batchSize }),
      write,
      onBatch: (n) => (sized ? progress.update(Math.min(consumed, input!.size!), input!.size, `${n} records`) : progress.update(n, null)),
    }),
  ).finally(() => errorsFile?.close());
  if (sized) progress.update(input!.size!, input!.size, `${records} records`);
  progress.finish();
  return reportFailures(records);

  function reportFailures(written: number): number {
    if (failed === 0) return 0;
    const where = errorsPath !== undefined ? `error records in ${errorsPath}` : "error records among the results";
    io.stderr.write(`gliner2: error: ${failed} of ${written + failed} records failed (${where}); first: ${safeMessage(firstFailure)}\n`);
    return EXIT.failure;
  }
}

/** `--errors FILE`: opened (truncated) before any record is read, so a bad path fails at once. */
async function openErrorsFile(path: string): Promise<{ write: (chunk: string) => Promise<void>; close: () => Promise<void> }> {
  const handle = await open(path, "w").catch((e: NodeJS.ErrnoException) => {
    throw new InputError("--errors", `cannot write ${path} (${e.code ?? e.message})`);
  });
  return { write: async (chunk) => void (await handle.write(chunk)), close: () => handle.close() };
}


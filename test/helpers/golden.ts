/**
 * Loader for the golden fixtures (test/fixtures, described in FIXTURES.md): the case list from index.json,
 * a case's JSON, and its companion safetensors. Shared by every test that compares with the official engine.
 */
import { readFileSync } from "node:fs";
import { readSafetensorsFile, type SafetensorsFile } from "../../src/model/safetensors.js";

/** Absolute path of test/fixtures/, with a trailing slash. */
export const FIXTURES_DIR = new URL("../fixtures/", import.meta.url).pathname;

/** One entry of index.json → cases. Paths are relative to FIXTURES_DIR. */
export interface GoldenCaseRef {
  readonly checkpoint: string;
  readonly name: string;
  readonly json: string;
  readonly safetensors: string;
  readonly error: string | null;
  readonly warnings: readonly string[];
  readonly min_margin: number;
}

/** `texts_prepared[i]` of a case (FIXTURES.md §2.2). */
export interface PreparedText {
  readonly index: number;
  readonly text: string;
  readonly prefix_tokens: string[];
  /** [word, start, end]: Python code-point offsets into the lower-cased text. */
  readonly words: [string, number, number][];
  readonly schema_tokens_list: string[][];
  readonly task_types: string[];
  readonly subword_tokens: string[];
  readonly input_ids: number[];
  readonly mapped_indices: ["schema" | "sep" | "text", number, number][];
  readonly encoder_call: number;
  readonly batch_row: number;
}

/** A case JSON (FIXTURES.md §2.1). Keys other tests need but this type does not spell out stay `unknown`. */
export interface GoldenCase {
  readonly format: string;
  readonly name: string;
  readonly checkpoint: string;
  readonly about: string;
  readonly call: Record<string, unknown>;
  readonly texts: string[];
  readonly texts_prepared: PreparedText[];
  readonly schemas_built: unknown[];
  readonly decoding: unknown[];
  readonly raw_results: unknown[];
  readonly output: unknown;
  readonly error: string | null;
  readonly warnings: string[];
  readonly tensors: Record<string, { dtype: string; shape: number[] }>;
  readonly [key: string]: unknown;
}

interface GoldenIndex {
  readonly cases: GoldenCaseRef[];
  readonly [key: string]: unknown;
}

let index: GoldenIndex | undefined;

/** index.json, parsed once. */
export function goldenIndex(): GoldenIndex {
  index ??= JSON.parse(readFileSync(`${FIXTURES_DIR}index.json`, "utf8")) as GoldenIndex;
  return index;
}

/** Every golden case, optionally only those of one checkpoint. */
export function listGoldenCases(checkpoint?: string): GoldenCaseRef[] {
  const all = goldenIndex().cases;
  return checkpoint === undefined ? all : all.filter((c) => c.checkpoint === checkpoint);
}

/** The checkpoint names the cases use, in index order. */
export function goldenCheckpoints(): string[] {
  return [...new Set(goldenIndex().cases.map((c) => c.checkpoint))];
}

/** Absolute path of a checkpoint folder (with a trailing slash). */
export function checkpointDir(checkpoint: string): string {
  return `${FIXTURES_DIR}${checkpoint}/`;
}

/** A case's JSON. */
export function readGoldenCase(ref: GoldenCaseRef): GoldenCase {
  return JSON.parse(readFileSync(`${FIXTURES_DIR}${ref.json}`, "utf8")) as GoldenCase;
}

/** A case's companion tensors. */
export function openGoldenTensors(ref: GoldenCaseRef): Promise<SafetensorsFile> {
  return readSafetensorsFile(`${FIXTURES_DIR}${ref.safetensors}`);
}

/** Number of Unicode code points in `s` (Python's len), for comparing with the recorded offsets. */
export function codePointLength(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) i++;
    }
    n++;
  }
  return n;
}

/** `golden_head/<checkpoint>/<case>.json`: official HEAD (v1.3.3) replaying a golden case (FIXTURES.md §7.1). */
export interface HeadOutput {
  readonly case: string;
  readonly checkpoint: string;
  readonly call: Record<string, unknown>;
  readonly output: unknown;
  readonly error: string | null;
  readonly warnings: string[];
  readonly vs_v112: { identical: boolean; identical_after_format: boolean; causes: string[] };
  /** Per text: HEAD's cleaned text, words (`[word, start, end]`, code points into the original text), prompt. */
  readonly texts_prepared: {
    index: number;
    text: string;
    prefix_tokens: string[];
    words: [string, number, number][];
    schema_tokens_list: string[][];
    task_types: string[];
    input_ids: number[];
  }[];
}

/** HEAD's result of the same call as a golden case. */
export function readHeadOutput(ref: GoldenCaseRef): HeadOutput {
  return JSON.parse(readFileSync(`${FIXTURES_DIR}golden_head/${ref.checkpoint}/${ref.name}.json`, "utf8")) as HeadOutput;
}

/**
 * HEAD with a raw schema dict (no builder metadata) files a relation with nothing found as a top-level
 * `name: []` instead of under `relation_extraction` (README deviation 5). Rewrite HEAD's output the way we
 * report it: `relation_extraction` last, relations in schema order.
 */
export function headRawDictRelations(output: unknown, relationNames: readonly string[]): unknown {
  if (output === null || typeof output !== "object" || Array.isArray(output)) return output;
  const o = output as Record<string, unknown>;
  const moved = relationNames.filter((n) => Array.isArray(o[n]) && (o[n] as unknown[]).length === 0);
  if (moved.length === 0) return output;
  const rel = { ...((o.relation_extraction as Record<string, unknown> | undefined) ?? {}) };
  for (const n of moved) rel[n] = [];
  const rest = Object.fromEntries(Object.entries(o).filter(([k]) => !moved.includes(k) && k !== "relation_extraction"));
  return { ...rest, relation_extraction: Object.fromEntries(relationNames.filter((n) => n in rel).map((n) => [n, rel[n]])) };
}

/**
 * Tokenizer benchmark (not a test): cold start and throughput of the released GLiNER2 tokenizer
 * (test/fixtures/real-tokenizer/tokenizer.json.gz, 8.6 MB of JSON once decompressed).
 *
 *   npm run build && node dist/bench/tokenizer.js     # from the repository root
 *
 * Cold start = loadTokenizer on the file's text (how checkpoints load: the vocabulary is scanned into compact
 * arrays, the rest JSON.parsed; structure checks, charsmap decoding) + the first tokenize call (builds the piece
 * table lazily); then the same from an already parsed object (JSON.parse timed on its own). Each step is timed on its own, first run (cold) and the
 * median of the next runs (warm JIT). Throughput: distinct words (the per-string cache never hits) and one
 * 125,000-character word. CPU milliseconds are reported next to wall time: on a shared machine they are the
 * steadier number.
 */
import { readFileSync } from "node:fs";
import { gunzipSync } from "node:zlib";
import { loadTokenizer } from "../src/text/tokenizer.js";

import { pathToFileURL } from "node:url";

const fixture = pathToFileURL(`${process.cwd()}/test/fixtures/real-tokenizer/`);
const text = gunzipSync(readFileSync(new URL("tokenizer.json.gz", fixture))).toString("utf8");
const sentences: { text: string }[] = JSON.parse(readFileSync(new URL("gliner2swift-cases.json", fixture), "utf8")).cases;
const hard: { word: string }[] = JSON.parse(gunzipSync(readFileSync(new URL("reference.json.gz", fixture))).toString("utf8")).cases;

function timed<T>(f: () => T): [T, number, number] {
  const c = process.cpuUsage();
  const t = performance.now();
  const r = f();
  const wall = performance.now() - t;
  const cpu = process.cpuUsage(c);
  return [r, wall, (cpu.user + cpu.system) / 1000];
}

const RUNS = 6;
const rows: Record<string, [number, number][]> = {};
const note = (k: string, wall: number, cpu: number) => (rows[k] ??= []).push([wall, cpu]);

// Plain-text words from the published sentences, made distinct with a numeric suffix.
const base = sentences.flatMap((s) => s.text.split(/\s+/)).filter((w) => w.length > 0);
const words = Array.from({ length: 50_000 }, (_, i) => `${base[i % base.length]}${i}`);
const wordChars = words.reduce((n, w) => n + w.length, 0);
const hardChars = hard.reduce((n, c) => n + c.word.length, 0);

for (let run = 0; run < RUNS; run++) {
  // What loading a checkpoint does: the file's text in, the vocabulary read by the scanner (src/text/tokenizer/vocab.ts).
  const [fromText, tw, tc] = timed(() => loadTokenizer(text));
  note("loadTokenizer(text) (scanner + checks, charsmap)", tw, tc);
  const [, tfw, tfc] = timed(() => fromText.tokenize("Hello"));
  note("  then first tokenize (piece table)", tfw, tfc);
  const [json, pw, pc] = timed(() => JSON.parse(text) as object);
  note("JSON.parse (8.6 MB)", pw, pc);
  const [tok, lw, lc] = timed(() => loadTokenizer(json));
  note("loadTokenizer (checks, charsmap)", lw, lc);
  const [, fw, fc] = timed(() => tok.tokenize("Hello"));
  note("first tokenize (piece table)", fw, fc);
  const [, ww, wc] = timed(() => words.forEach((w) => tok.tokenize(w)));
  note(`${words.length} distinct plain words (${wordChars} chars)`, ww, wc);
  const [, hw, hc] = timed(() => hard.forEach((c) => tok.tokenize(c.word)));
  note(`${hard.length} hard reference words (${hardChars} chars)`, hw, hc);
  const long = "Donaudampfschifffahrtsgesellschaft".repeat(Math.ceil(125_000 / 34)).slice(0, 125_000);
  const [, bw, bc] = timed(() => tok.tokenize(long));
  note("one 125,000-character word", bw, bc);
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const fmt = (ms: number) => `${ms.toFixed(1)} ms`;
console.log(`Node ${process.version}; first run (cold) | median of runs 2–${RUNS} — wall (CPU)`);
for (const [k, v] of Object.entries(rows)) {
  const warm = v.slice(1);
  console.log(`${k.padEnd(48)} ${fmt(v[0][0])} (${fmt(v[0][1])}) | ${fmt(median(warm.map((x) => x[0])))} (${fmt(median(warm.map((x) => x[1])))})`);
}

/**
 * Peak memory of long-document extraction through the CLI, at 5,000 and 20,000 words: each size runs in its own
 * process (`dist/cli.js extract --long`), whose peak RSS (getrusage) is reported. Memory should not grow with the
 * document: windows are encoded one batch at a time and each document is merged as soon as it is done.
 *
 *   npm run build && node dist/bench/longMemory.js [checkpoint-dir] [chunkSize] [chunkOverlap] [batchSize]
 *
 * Default checkpoint: test/fixtures/tiny-count_lstm_v2 (random weights: the numbers show the engine's memory, not
 * a real model's). Wall time is printed for information only.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { syntheticDocument } from "../test/helpers/longText.js";
import { splitWords } from "../src/text/words.js";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");
const [ckpt = join(root, "test", "fixtures", "tiny-count_lstm_v2"), size = "384", overlap = "64", batch = "8"] = process.argv.slice(2);
const work = mkdtempSync(join(tmpdir(), "gliner2-longmem-"));
try {
  for (const words of [5_000, 20_000]) {
    const text = syntheticDocument(words, words);
    const file = join(work, `doc-${words}.txt`);
    writeFileSync(file, text);
    const report = join(work, `rss-${words}.txt`);
    const t0 = performance.now();
    const res = spawnSync(
      process.execPath,
      ["--import", pathToFileURL(join(root, "test", "runtimes", "report-rss.mjs")).href, join(root, "dist", "cli.js"), "extract", "-m", ckpt, "-e", "person,organization,location", "--chunk-size", size, "--chunk-overlap", overlap, "--batch-size", batch, "--input", file],
      { env: { ...process.env, GLINER2_RSS_REPORT: report }, stdio: ["ignore", "pipe", "inherit"], encoding: "utf8", maxBuffer: 1 << 30 },
    );
    if (res.status !== 0) throw new Error(`cli exited with ${res.status}`);
    const rss = Number(readFileSync(report, "utf8")) / 1024;
    const found = Object.values(JSON.parse(res.stdout).entities as Record<string, unknown[]>).flat().length;
    console.log(`${splitWords(text).length} words (${(text.length / 1024).toFixed(0)} KiB): peak RSS ${rss.toFixed(1)} MiB, ${found} entities, ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}

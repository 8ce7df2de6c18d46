/**
 * The published types, as a TypeScript user sees them: a project without @types/node (a browser app) imports
 * `gliner2` and `gliner2/browser` through package.json's exports and type-checks the README's result shapes.
 */
import { spawn } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { repoRoot } from "./runtimes/build.js";

const CONSUMER = `
import { GLiNER2, InputError } from "gliner2";
import * as browser from "gliner2/browser";

declare const model: GLiNER2;
const text = "Tim Cook leads Apple.";
const r = await model.extractEntities(text, ["person", "company"]);
const people = r.entities.person;
const detailed = await model.extractEntities(text, ["person"], { includeConfidence: true, includeSpans: true });
const firstPerson = detailed.entities.person;
const c = await model.classifyText(text, { sentiment: ["positive", "negative"] });
const sentiment = c.sentiment;
const j = await model.extractJson(text, { product: ["name::str"] });
const product = j.product[0]?.name;
const rel = await model.extractRelations(text, ["works_for"]);
const pairs = rel.relation_extraction.works_for;
const batch = await model.batchExtractEntities([text], ["person"]);
const batchPeople = batch[0].entities.person;
const raw = await model.extractEntities(text, ["person"], { formatResults: false });
const rawRecord: Record<string, unknown> = raw;
// @ts-expect-error raw results are untyped records
raw.entities.person;
const sameClass: typeof GLiNER2 = browser.GLiNER2;
const isInputError = (e: unknown) => e instanceof InputError;
export { people, firstPerson, sentiment, product, pairs, batchPeople, rawRecord, sameClass, isInputError };
`;

/** Run a command without blocking the test worker (a blocked worker misses vitest's RPC deadlines). */
function run(args: string[], cwd: string): Promise<{ status: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { cwd, stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    child.stdout.on("data", (d) => (output += d));
    child.stderr.on("data", (d) => (output += d));
    child.on("error", reject);
    child.on("close", (status) => resolve({ status, output }));
  });
}

describe("published types", () => {
  it("type-check in a project without @types/node, for every export path", async () => {
    const dir = join(repoRoot, ".cache", "build-test", "types-consumer");
    rmSync(dir, { recursive: true, force: true });
    const pkgDir = join(dir, "node_modules", "gliner2");
    mkdirSync(pkgDir, { recursive: true });
    copyFileSync(join(repoRoot, "package.json"), join(pkgDir, "package.json"));
    const build = await run([join(repoRoot, "scripts", "build.mjs"), "--outdir", join(pkgDir, "dist"), "--only", "types", "--quiet"], repoRoot);
    expect(build.status, build.output).toBe(0);
    // Every export path of package.json names types that exist.
    const pkg = JSON.parse(readFileSync(join(pkgDir, "package.json"), "utf8"));
    for (const [path, target] of Object.entries(pkg.exports as Record<string, unknown>)) {
      if (path === "./package.json") continue;
      const types = (target as { types?: string }).types;
      expect(types, `exports["${path}"] has no "types"`).toBeDefined();
      expect(existsSync(join(pkgDir, types!)), `${path} → ${types}`).toBe(true);
    }
    writeFileSync(join(dir, "app.ts"), CONSUMER);
    // Its own package.json: otherwise TypeScript resolves "gliner2" as a self-reference of this repository's
    // package.json (whatever dist/ holds right now) instead of node_modules/gliner2.
    writeFileSync(join(dir, "package.json"), JSON.stringify({ name: "types-consumer", private: true, type: "module" }));
    writeFileSync(
      join(dir, "tsconfig.json"),
      JSON.stringify({
        compilerOptions: { target: "ES2022", module: "ESNext", moduleResolution: "Bundler", lib: ["ES2022", "DOM"], types: [], strict: true, noEmit: true, skipLibCheck: false },
        files: ["app.ts"],
      }),
    );
    const tsc = await run([join(repoRoot, "node_modules", "typescript", "bin", "tsc"), "-p", join(dir, "tsconfig.json")], dir);
    expect(tsc.output).toBe("");
    expect(tsc.status).toBe(0);
  });
});

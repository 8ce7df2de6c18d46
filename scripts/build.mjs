#!/usr/bin/env node
/**
 * Build every artefact of the package with esbuild (and tsc for declarations):
 *
 *   <out>/index.js             ESM library for Node ≥ 20, Deno and Bun (platform neutral; dependencies stay
 *                              external; Node built-ins only through dynamic `import("node:…")`)
 *   <out>/cli.js               the `gliner2` command (Node, `#!/usr/bin/env node`, executable)
 *   <out>/worker.js            the model host run in a worker thread (built with lib and with cli)
 *   <out>/browser/gliner2.js   one self-contained ESM file for browsers (every dependency bundled, no `node:`)
 *   <out>/browser/worker.js    its model host, a module Web Worker
 *   <out>/types/               `.d.ts` files from `tsc -p tsconfig.json` (emitDeclarationOnly)
 *   <out>/bench/*.js           benchmark scripts from bench/*.ts, when there are any
 *
 * Usage: node scripts/build.mjs [--outdir dist] [--only lib,cli,browser,types,bench] [--no-types] [--quiet]
 * Tests build into their own --outdir under .cache/ so parallel test files never overwrite each other's output.
 */
import { spawn } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import * as esbuild from "esbuild";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const ALL_TARGETS = ["lib", "cli", "browser", "types", "bench"];

function usage(message) {
  console.error(`build: ${message}\nusage: node scripts/build.mjs [--outdir DIR] [--only ${ALL_TARGETS.join(",")}] [--no-types] [--quiet]`);
  process.exit(2);
}

function parseArgs(argv) {
  const opts = { outdir: join(root, "dist"), targets: [...ALL_TARGETS], quiet: false };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const value = () => {
      if (i + 1 >= argv.length) usage(`${arg} needs a value`);
      return argv[++i];
    };
    if (arg === "--outdir") opts.outdir = resolve(value());
    else if (arg === "--only") {
      opts.targets = value().split(",").map((t) => t.trim()).filter(Boolean);
      const bad = opts.targets.filter((t) => !ALL_TARGETS.includes(t));
      if (bad.length > 0) usage(`unknown target ${bad.join(", ")}`);
    } else if (arg === "--no-types") opts.targets = opts.targets.filter((t) => t !== "types");
    else if (arg === "--quiet") opts.quiet = true;
    else usage(`unknown argument ${arg}`);
  }
  return opts;
}

const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8"));
/** Runtime dependencies are installed next to the package, so the Node/Deno/Bun builds import them by name. */
const externalDeps = [...Object.keys(pkg.dependencies ?? {}), ...Object.keys(pkg.peerDependencies ?? {})];

const common = {
  bundle: true,
  format: "esm",
  target: "es2022",
  sourcemap: "linked",
  logLevel: "warning",
  metafile: true,
  legalComments: "none",
  define: { __GLINER2_VERSION__: JSON.stringify(pkg.version) },
};

/**
 * Browsers have no `node:` modules. Library code reaches them only through dynamic `import()` on paths a browser
 * never takes (reading a folder, the disk cache); those resolve to a module that throws a clear error when
 * evaluated, so the rejected import says what happened. A static import would break the whole bundle at load
 * time, so it fails the build instead.
 */
const browserNodeStub = {
  name: "browser-node-stub",
  setup(build) {
    build.onResolve({ filter: /^node:/ }, (args) => {
      if (args.kind !== "dynamic-import") {
        return { errors: [{ text: `${args.path} is imported statically by ${relative(root, args.importer)}; the browser build allows Node built-ins only through dynamic import()` }] };
      }
      return { path: args.path.slice("node:".length), namespace: "node-stub" };
    });
    build.onLoad({ filter: /.*/, namespace: "node-stub" }, (args) => ({
      contents: `throw new Error(${JSON.stringify(`the Node built-in module "${args.path}" is not available in the browser build of gliner2`)});\nexport {};\n`,
      loader: "js",
    }));
  },
};

/** Fail when an output imports a Node built-in statically (the neutral library must load in any runtime). */
function assertNoStaticNodeImports(metafile, label) {
  for (const [file, output] of Object.entries(metafile.outputs)) {
    for (const imp of output.imports) {
      if (imp.path.startsWith("node:") && imp.kind === "import-statement") {
        throw new Error(`${label}: ${relative(root, file)} imports ${imp.path} statically; import Node built-ins dynamically so the build stays platform neutral`);
      }
    }
  }
}

function requireEntry(path, what) {
  const full = join(root, path);
  if (!existsSync(full)) throw new Error(`${what}: entry ${path} does not exist`);
  return full;
}

async function buildLib(out) {
  const result = await esbuild.build({
    ...common,
    entryPoints: [requireEntry("src/index.ts", "lib")],
    outfile: join(out, "index.js"),
    platform: "neutral",
    mainFields: ["module", "main"],
    external: [...externalDeps, "node:*"],
  });
  assertNoStaticNodeImports(result.metafile, "lib");
  return [join(out, "index.js"), ...(await buildWorker(out))];
}

/**
 * The model host script (src/worker/host.ts) that `fromPretrained` starts in a worker thread: `worker.js` beside
 * index.js and cli.js (both find it as `new URL("./worker.js", import.meta.url)`), platform neutral like the
 * library so Node, Deno and Bun can run it. Built once per run even when both lib and cli ask for it.
 */
const workerBuilds = new Map();
function buildWorker(out) {
  if (!workerBuilds.has(out)) {
    workerBuilds.set(
      out,
      esbuild
        .build({
          ...common,
          entryPoints: [requireEntry("src/worker/host.ts", "worker")],
          outfile: join(out, "worker.js"),
          platform: "neutral",
          mainFields: ["module", "main"],
          external: [...externalDeps, "node:*"],
        })
        .then((result) => {
          assertNoStaticNodeImports(result.metafile, "worker");
          return [join(out, "worker.js")];
        }),
    );
  }
  return workerBuilds.get(out);
}

async function buildCli(out) {
  const file = join(out, "cli.js");
  await esbuild.build({
    ...common,
    entryPoints: [requireEntry("src/cli.ts", "cli")],
    outfile: file,
    platform: "node",
    target: "node20",
    external: [...externalDeps],
    banner: { js: "#!/usr/bin/env node" },
  });
  chmodSync(file, 0o755);
  await buildWorker(out);
  return [file];
}

async function buildBrowser(out) {
  const entry = existsSync(join(root, "src/browser.ts")) ? "src/browser.ts" : "src/index.ts";
  const file = join(out, "browser", "gliner2.js");
  const result = await esbuild.build({
    ...common,
    entryPoints: [requireEntry(entry, "browser")],
    outfile: file,
    platform: "browser",
    mainFields: ["browser", "module", "main"],
    conditions: ["browser", "import"],
    plugins: [browserNodeStub],
  });
  // The module Web Worker the browser build runs its model in (beside gliner2.js, found by URL).
  const worker = join(out, "browser", "worker.js");
  const workerResult = await esbuild.build({
    ...common,
    entryPoints: [requireEntry("src/worker/host.ts", "browser worker")],
    outfile: worker,
    platform: "browser",
    mainFields: ["browser", "module", "main"],
    conditions: ["browser", "import"],
    plugins: [browserNodeStub],
  });
  for (const output of [...Object.values(result.metafile.outputs), ...Object.values(workerResult.metafile.outputs)]) {
    const leaked = output.imports.filter((imp) => imp.external);
    if (leaked.length > 0) throw new Error(`browser: bundle still imports ${leaked.map((i) => i.path).join(", ")}`);
  }
  return [file, worker];
}

async function buildTypes(out) {
  const tsc = join(root, "node_modules", "typescript", "bin", "tsc");
  const child = spawn(process.execPath, [tsc, "-p", join(root, "tsconfig.json"), "--outDir", join(out, "types")], { cwd: root });
  let log = "";
  child.stdout.on("data", (d) => (log += d));
  child.stderr.on("data", (d) => (log += d));
  const status = await new Promise((res, rej) => child.on("error", rej).on("close", res));
  if (status !== 0) throw new Error(`types: tsc failed\n${log}`);
  return [join(out, "types")];
}

async function buildBench(out) {
  const dir = join(root, "bench");
  const entries = existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith(".ts") && !f.endsWith(".d.ts")).map((f) => join(dir, f)) : [];
  if (entries.length === 0) return [];
  await esbuild.build({
    ...common,
    entryPoints: entries,
    outdir: join(out, "bench"),
    platform: "node",
    target: "node20",
    // Benchmarks may use dev-only tools (autocannon); they stay installed packages, not bundled copies. So does
    // the optional onnxruntime-node (a native addon; not in the lockfile, see README → Dependencies).
    external: [...externalDeps, ...Object.keys(pkg.devDependencies ?? {}), "onnxruntime-node"],
  });
  return entries.map((e) => join(out, "bench", e.slice(dir.length + 1).replace(/\.ts$/, ".js")));
}

const BUILDERS = { lib: buildLib, cli: buildCli, browser: buildBrowser, types: buildTypes, bench: buildBench };
const OUTPUTS = { lib: ["index.js", "index.js.map", "worker.js", "worker.js.map"], cli: ["cli.js", "cli.js.map", "worker.js", "worker.js.map"], browser: ["browser"], types: ["types"], bench: ["bench"] };

function sizeOf(path) {
  const st = statSync(path);
  if (!st.isDirectory()) return st.size;
  return readdirSync(path).reduce((sum, f) => sum + sizeOf(join(path, f)), 0);
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  // Replace only what is rebuilt: a partial build (tests, --no-types) keeps the other targets' outputs.
  for (const t of opts.targets) for (const o of OUTPUTS[t]) rmSync(join(opts.outdir, o), { recursive: true, force: true });
  mkdirSync(opts.outdir, { recursive: true });
  const started = performance.now();
  // esbuild targets run concurrently; tsc (the slow one) runs alongside them.
  const results = await Promise.allSettled(opts.targets.map(async (t) => ({ target: t, files: await BUILDERS[t](opts.outdir) })));
  const failures = results.filter((r) => r.status === "rejected");
  for (const f of failures) console.error(`build: ${f.reason instanceof Error ? f.reason.message : String(f.reason)}`);
  if (failures.length > 0) process.exit(1);
  if (!opts.quiet) {
    for (const r of results) {
      for (const file of r.value.files) console.log(`  ${r.value.target.padEnd(8)} ${relative(root, file).padEnd(40)} ${(sizeOf(file) / 1024).toFixed(1)} KiB`);
    }
    console.log(`build: done in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  }
}

await main();

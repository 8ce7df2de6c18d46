/**
 * Run a child process (the built CLI, an example script) without blocking the test worker. A blocking
 * spawnSync stalls the worker's RPC to vitest for as long as the child runs (a minute and more under load),
 * which vitest reports as "Timeout calling onTaskUpdate" and fails the whole run; the test process may also
 * serve HTTP to the child, which a blocked event loop cannot answer.
 */
import { spawn } from "node:child_process";
import { repoRoot } from "../runtimes/build.js";

export interface RunResult {
  /** Exit code, or null when the child ended on a signal (e.g. killed at the timeout). */
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  /** Written to the child's stdin, which is then closed (default: empty stdin). */
  input?: string;
  /** Added to (and overriding) the parent's environment. */
  env?: Record<string, string>;
  /** The child is SIGKILLed after this long (default 120 s). */
  timeoutMs?: number;
  /** Drop stdout instead of collecting it (big outputs nobody checks). */
  discardStdout?: boolean;
}

/** Run `cmd args` in the repository root; resolves when the child has exited and its output is read. */
export function runProcess(cmd: string, args: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, {
      cwd: repoRoot,
      env: { ...process.env, ...opts.env },
      stdio: ["pipe", opts.discardStdout ? "ignore" : "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    // stdin and stderr are always pipes; stdout is one unless discarded.
    child.stdout?.setEncoding("utf8").on("data", (d: string) => (stdout += d));
    child.stderr!.setEncoding("utf8").on("data", (d: string) => (stderr += d));
    child.stdin!.on("error", () => undefined); // the child may exit before reading everything
    child.stdin!.end(opts.input ?? "");
    const timer = setTimeout(() => child.kill("SIGKILL"), opts.timeoutMs ?? 120_000);
    child.on("error", (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/**
 * Run the built CLI (`node cliPath ...args`). $GLINER2_MODEL is cleared unless `env` sets it, so a model named
 * in the developer's environment never leaks into a test.
 */
export function runCli(cliPath: string, args: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
  return runProcess(process.execPath, [cliPath, ...args], { ...opts, env: { GLINER2_MODEL: "", ...opts.env } });
}

/** Run the gliner2 CLI's `main` in this process (empty stdin and environment), collecting its output. */
export async function runCliInProcess(argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const { PassThrough } = await import("node:stream");
  const { main } = await import("../../src/cli/main.js");
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = "";
  let err = "";
  stdout.on("data", (d) => (out += d));
  stderr.on("data", (d) => (err += d));
  const code = await main(argv, { stdin: new PassThrough(), stdout, stderr, env: {} });
  return { code, stdout: out, stderr: err };
}

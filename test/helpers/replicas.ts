/**
 * Scale-out helpers shared by the HAProxy drain test and bench/serve.ts: start `gliner2 serve` replicas from a
 * built CLI, write an HAProxy config in front of them, run HAProxy in the foreground.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { writeFileSync } from "node:fs";
import { createServer } from "node:net";

export interface Replica {
  readonly child: ChildProcess;
  readonly url: string;
  readonly port: number;
  readonly exited: Promise<number | null>;
  stderr(): string;
}

/** Start `node <cli> serve …` and resolve once its model is ready. */
export function startReplica(cli: string, args: readonly string[], cwd: string): Promise<Replica> {
  const child = spawn(process.execPath, [cli, "serve", "--port", "0", ...args], { cwd, stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  const exited = new Promise<number | null>((r) => child.on("exit", (code) => r(code)));
  return new Promise((resolve, reject) => {
    child.stderr!.on("data", (d) => {
      stderr += d;
      const url = /"msg":"model ready"/.test(stderr) ? /"url":"(http:[^"]+)"/.exec(stderr)?.[1] : undefined;
      if (url) {
        child.stderr!.removeAllListeners("data");
        child.stderr!.on("data", (more) => (stderr += more));
        resolve({ child, url, port: Number(new URL(url).port), exited, stderr: () => stderr });
      }
    });
    void exited.then((code) => reject(new Error(`replica exited (${code}) before it was ready: ${stderr}`)));
  });
}

/** A free TCP port on 127.0.0.1 (closed again, for a program that binds it itself). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

/**
 * The HAProxy configuration the README shows: round robin over the replicas, /readyz health checks every
 * 200 ms, and retries that make a replica's shutdown invisible — a refused connection, or a connection closed
 * without an answer, is retried on another replica (`retry-on` + `option redispatch`; the request body is
 * buffered so it can be re-sent).
 */
export function haproxyConfig(frontPort: number, backends: readonly { name: string; port: number }[]): string {
  return `global
  maxconn 4096

defaults
  mode http
  timeout connect 2s
  timeout client 60s
  timeout server 60s
  timeout queue 30s
  retries 3
  option redispatch 1
  retry-on conn-failure empty-response response-timeout 503
  option http-buffer-request

frontend gliner2
  bind 127.0.0.1:${frontPort}
  default_backend replicas

backend replicas
  balance roundrobin
  option httpchk GET /readyz
  http-check expect status 200
  default-server inter 200ms fall 1 rise 2
${backends.map((b) => `  server ${b.name} 127.0.0.1:${b.port} check`).join("\n")}
`;
}

/** Run HAProxy in the foreground with `config`; resolves once the front port answers. */
export async function startHaproxy(bin: string, config: string, configPath: string, frontPort: number): Promise<{ child: ChildProcess; stop(): Promise<void>; log(): string }> {
  writeFileSync(configPath, config);
  const child = spawn(bin, ["-f", configPath, "-db"], { stdio: ["ignore", "pipe", "pipe"] });
  let log = "";
  child.stdout!.on("data", (d) => (log += d));
  child.stderr!.on("data", (d) => (log += d));
  const exited = new Promise<void>((r) => child.on("exit", () => r()));
  for (let i = 0; i < 100; i++) {
    const ok = await fetch(`http://127.0.0.1:${frontPort}/healthz`).then((r) => r.ok, () => false);
    if (ok) break;
    if (child.exitCode !== null) throw new Error(`haproxy exited: ${log}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    child,
    log: () => log,
    stop: async () => {
      if (child.exitCode === null) child.kill("SIGTERM");
      await exited;
    },
  };
}

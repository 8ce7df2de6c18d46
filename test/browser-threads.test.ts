/**
 * The wasm backend's threads in headless Chromium (browser bundle): a cross-origin isolated page (COOP/COEP
 * headers) gets two threads — Web Workers over the shared WebAssembly memory — and the same extraction as one
 * thread; a page that is not isolated gets one thread and no error. Skipped where Chromium is missing (unless
 * GLINER2_REQUIRE_RUNTIMES=1).
 */
import { existsSync, readFileSync } from "node:fs";
import { createServer } from "node:http";
import { extname, join } from "node:path";
import { describe, expect, it } from "vitest";
import { buildInto, repoRoot } from "./runtimes/build.js";
import { chromiumBin, pageResult } from "./runtimes/chromium.js";

const requireAll = process.env.GLINER2_REQUIRE_RUNTIMES === "1";
const modelDir = join(repoRoot, "test", "fixtures", "tiny-count_lstm_v2");

async function serve(isolated: boolean, distDir: string) {
  const files: Record<string, string> = {
    "/": join(repoRoot, "test", "runtimes", "threads-page.html"),
    "/gliner2.js": join(distDir, "browser", "gliner2.js"),
    "/case.json": join(repoRoot, "test", "runtimes", "case.json"),
  };
  const server = createServer((req, res) => {
    const path = new URL(req.url ?? "/", "http://127.0.0.1").pathname;
    const file = files[path] ?? (path.startsWith("/model/") && !path.includes("..") ? join(modelDir, path.slice(7)) : null);
    if (!file || !existsSync(file)) return void res.writeHead(404).end();
    const type = { ".html": "text/html", ".js": "text/javascript", ".json": "application/json" }[extname(file)] ?? "application/octet-stream";
    const headers: Record<string, string> = { "content-type": type, "cache-control": "no-store" };
    if (isolated) Object.assign(headers, { "cross-origin-opener-policy": "same-origin", "cross-origin-embedder-policy": "require-corp" });
    res.writeHead(200, headers).end(readFileSync(file));
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as { port: number }).port;
  return { origin: `http://127.0.0.1:${port}`, close: () => new Promise<void>((r) => server.close(() => r())) };
}

describe.skipIf(chromiumBin === null && !requireAll)("wasm threads in headless Chromium", () => {
  for (const isolated of [true, false]) {
    it(`${isolated ? "cross-origin isolated page: 2 threads" : "page without isolation: 1 thread"}, same extraction as 1 thread`, async () => {
      expect(chromiumBin).not.toBeNull();
      const distDir = buildInto(`browser-threads-${isolated ? "iso" : "plain"}`, ["browser"]);
      const server = await serve(isolated, distDir);
      try {
        const { result, pageErrors } = await pageResult(`${server.origin}/`, "__result");
        const r = result as {
          error?: string; isolated: boolean; threads: number; info: { active: string; sharedMemory: boolean }; one: string; two: string;
        };
        expect(r.error, r.error).toBeUndefined();
        expect(pageErrors).toEqual([]);
        expect(r.isolated).toBe(isolated);
        expect(r.info.active).toBe("wasm");
        expect(r.info.sharedMemory).toBe(isolated);
        expect(r.threads).toBe(isolated ? 2 : 1);
        expect(r.one.length).toBeGreaterThan(20);
        expect(r.two).toBe(r.one);
      } finally {
        await server.close();
      }
    });
  }
});

/**
 * A minimal static file server for the browser check: loopback only, a fixed set of files and folders, no
 * directory listing, no path escaping its folders.
 */
import { createServer, type Server } from "node:http";
import { readFile, stat } from "node:fs/promises";
import { extname, join, normalize, sep } from "node:path";

const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
  ".json": "application/json",
  ".map": "application/json",
};

export interface StaticServer {
  readonly origin: string;
  /** Every path requested, in order (to check what the page fetched). */
  readonly requests: string[];
  close(): Promise<void>;
}

/** `files`: URL path → file; `dirs`: URL prefix (e.g. "/model/") → folder served below it. */
export async function serveStatic(files: Record<string, string>, dirs: Record<string, string>): Promise<StaticServer> {
  const requests: string[] = [];
  const resolvePath = (urlPath: string): string | null => {
    if (urlPath in files) return files[urlPath];
    for (const [prefix, dir] of Object.entries(dirs)) {
      if (!urlPath.startsWith(prefix)) continue;
      const rel = normalize(decodeURIComponent(urlPath.slice(prefix.length)));
      const full = join(dir, rel);
      if (rel.startsWith("..") || !full.startsWith(dir.endsWith(sep) ? dir : dir + sep)) return null;
      return full;
    }
    return null;
  };
  const server: Server = createServer(async (req, res) => {
    const urlPath = new URL(req.url ?? "/", "http://127.0.0.1").pathname;
    requests.push(urlPath);
    const path = resolvePath(urlPath);
    const st = path === null ? null : await stat(path).catch(() => null);
    if (path === null || st === null || !st.isFile()) {
      res.writeHead(404, { "content-type": "text/plain" }).end("not found");
      return;
    }
    const body = await readFile(path);
    res.writeHead(200, { "content-type": TYPES[extname(path)] ?? "application/octet-stream", "content-length": body.length, "cache-control": "no-store" });
    res.end(req.method === "HEAD" ? undefined : body);
  });
  await new Promise<void>((resolve, reject) => server.once("error", reject).listen(0, "127.0.0.1", resolve));
  const address = server.address();
  if (address === null || typeof address === "string") throw new Error("server has no port");
  return {
    origin: `http://127.0.0.1:${address.port}`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

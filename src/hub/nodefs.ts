/**
 * The Node built-ins the disk cache needs, loaded with dynamic `import()` so this module also bundles for
 * browsers (where the imports reject and callers fall back to in-memory fetches). Node, Deno and Bun all
 * provide these modules.
 */
import type * as FsPromises from "node:fs/promises";
import type * as Fs from "node:fs";
import type * as Path from "node:path";
import type * as Os from "node:os";
import type * as Crypto from "node:crypto";

export interface NodeFs {
  readonly promises: typeof FsPromises;
  readonly fs: typeof Fs;
  readonly path: typeof Path;
  readonly os: typeof Os;
  readonly crypto: typeof Crypto;
}

let loaded: Promise<NodeFs | null> | undefined;

/** The built-ins, or null when this runtime has no file system (browser, most edge runtimes). */
export function loadNodeFs(): Promise<NodeFs | null> {
  loaded ??= (async () => {
    try {
      const [promises, fs, path, os, crypto] = await Promise.all([
        import("node:fs/promises"),
        import("node:fs"),
        import("node:path"),
        import("node:os"),
        import("node:crypto"),
      ]);
      // Some edge runtimes expose stub modules; a usable one has these functions.
      if (typeof promises.readFile !== "function" || typeof fs.createReadStream !== "function") return null;
      return { promises, fs, path, os, crypto };
    } catch {
      return null;
    }
  })();
  return loaded;
}

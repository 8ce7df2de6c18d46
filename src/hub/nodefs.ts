/**
 * The Node built-ins the disk cache needs, loaded with dynamic `import()` so this module also bundles for
 * browsers (where the imports reject and callers fall back to in-memory fetches). Node, Deno and Bun all
 * provide these modules.
 */
/**
 * The parts of the built-ins this library uses, typed structurally here instead of with `@types/node`: the
 * published `.d.ts` files then type-check in browser projects that have no Node types.
 */
export interface FileStats {
  isFile(): boolean;
  isDirectory(): boolean;
  readonly size: number;
}
export interface FileHandle {
  write(buffer: Uint8Array, offset?: number, length?: number): Promise<{ bytesWritten: number }>;
  close(): Promise<void>;
}
export interface FsPromisesLike {
  readFile(path: string): Promise<Uint8Array>;
  readFile(path: string, encoding: "utf8"): Promise<string>;
  writeFile(path: string, data: string | Uint8Array, options?: unknown): Promise<void>;
  stat(path: string): Promise<FileStats>;
  lstat(path: string): Promise<FileStats>;
  mkdir(path: string, options?: { recursive?: boolean }): Promise<unknown>;
  rm(path: string, options?: { force?: boolean; recursive?: boolean }): Promise<void>;
  rename(from: string, to: string): Promise<void>;
  open(path: string, flags: number | string, mode?: number): Promise<FileHandle>;
  copyFile(from: string, to: string): Promise<void>;
  symlink(target: string, path: string): Promise<void>;
}
export interface FsLike {
  createReadStream(path: string, options?: { highWaterMark?: number }): AsyncIterable<Uint8Array | string>;
  readonly constants: { readonly O_WRONLY: number; readonly O_CREAT: number; readonly O_APPEND: number; readonly O_TRUNC: number; readonly O_NOFOLLOW?: number };
}
export interface PathLike {
  join(...parts: string[]): string;
  resolve(...parts: string[]): string;
  dirname(path: string): string;
  relative(from: string, to: string): string;
}
export interface OsLike {
  homedir(): string;
}
export interface CryptoLike {
  createHash(algorithm: "sha256"): { update(data: Uint8Array | string): unknown; digest(encoding: "hex"): string };
  randomBytes(n: number): { toString(encoding: "hex"): string };
}

export interface NodeFs {
  readonly promises: FsPromisesLike;
  readonly fs: FsLike;
  readonly path: PathLike;
  readonly os: OsLike;
  readonly crypto: CryptoLike;
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
      return { promises, fs, path, os, crypto } as unknown as NodeFs;
    } catch {
      return null;
    }
  })();
  return loaded;
}

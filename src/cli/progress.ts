/**
 * A progress line on stderr. On a terminal it redraws in place (`\r`, at most every 100 ms); when forced on a
 * non-terminal (`--progress` into a log) it prints a plain line at most once per second, so logs stay readable.
 */

export interface ProgressStream {
  write(chunk: string): unknown;
  readonly isTTY?: boolean;
  readonly columns?: number;
}

export interface Progress {
  /** `done` and `total` in the bar's unit; `total` null when unknown (stdin). `note` is appended as is. */
  update(done: number, total: number | null, note?: string): void;
  /** Draw the final state and end the line. */
  finish(note?: string): void;
}

export type ProgressUnit = "items" | "bytes";

const NO_PROGRESS: Progress = { update() {}, finish() {} };

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ["KiB", "MiB", "GiB", "TiB"];
  let v = n / 1024;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${v.toFixed(v < 10 ? 2 : 1)} ${units[u]}`;
}

/** One progress line: label, bar (when the total is known), counts, rate. Pure, for tests. */
export function renderProgress(label: string, done: number, total: number | null, unit: ProgressUnit, elapsedS: number, width = 24): string {
  const fmt = unit === "bytes" ? formatBytes : (n: number) => String(n);
  const rate = elapsedS > 0 ? done / elapsedS : 0;
  const rateText = unit === "bytes" ? `${formatBytes(Math.round(rate))}/s` : `${rate.toFixed(1)}/s`;
  if (total === null || total <= 0) return `${label} ${fmt(done)} ${rateText}`;
  const frac = Math.min(1, Math.max(0, done / total));
  const filled = Math.round(frac * width);
  const bar = "#".repeat(filled) + "-".repeat(width - filled);
  return `${label} [${bar}] ${(frac * 100).toFixed(0).padStart(3)}% ${fmt(done)}/${fmt(total)} ${rateText}`;
}

export function createProgress(stream: ProgressStream, opts: { enabled: boolean; label: string; unit: ProgressUnit }): Progress {
  if (!opts.enabled) return NO_PROGRESS;
  const tty = stream.isTTY === true;
  const minIntervalMs = tty ? 100 : 1000;
  const started = performance.now();
  let lastDraw = -Infinity;
  let last = { done: 0, total: null as number | null, note: "" };
  let lastLength = 0;

  const draw = (final: boolean) => {
    const elapsed = (performance.now() - started) / 1000;
    let line = renderProgress(opts.label, last.done, last.total, opts.unit, elapsed);
    if (last.note) line += ` ${last.note}`;
    if (tty) {
      const cols = stream.columns ?? 100;
      if (line.length > cols - 1) line = line.slice(0, cols - 1);
      stream.write(`\r${line}${" ".repeat(Math.max(0, lastLength - line.length))}${final ? "\n" : ""}`);
      lastLength = line.length;
    } else {
      stream.write(`${line}\n`);
    }
  };

  return {
    update(done, total, note = "") {
      last = { done, total, note };
      const now = performance.now();
      if (now - lastDraw < minIntervalMs) return;
      lastDraw = now;
      draw(false);
    },
    finish(note) {
      if (note !== undefined) last = { ...last, note };
      draw(true);
    },
  };
}

/** Progress of a multi-file download, as reported by the hub code (`onProgress` per file). */
export interface FileProgressEvent {
  readonly file: string;
  readonly loaded: number;
  readonly total: number | null;
}

/** One bar per downloaded file, ended when its last byte arrives or, for files of unknown size, at `finish()`. */
export function downloadProgress(stream: ProgressStream, enabled: boolean): { onProgress(p: FileProgressEvent): void; finish(): void } {
  const open = new Map<string, Progress>();
  const done = new Set<string>();
  return {
    onProgress(p) {
      if (done.has(p.file)) return;
      let bar = open.get(p.file);
      if (bar === undefined) {
        bar = createProgress(stream, { enabled, label: p.file, unit: "bytes" });
        open.set(p.file, bar);
      }
      bar.update(p.loaded, p.total);
      if (p.total !== null && p.loaded >= p.total) {
        bar.finish();
        open.delete(p.file);
        done.add(p.file);
      }
    },
    finish() {
      for (const bar of open.values()) bar.finish();
      open.clear();
    },
  };
}

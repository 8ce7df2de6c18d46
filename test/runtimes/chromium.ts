/** Headless Chromium for the browser proofs: one place for the binary, its launch flags and the page protocol. */
import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

export const chromiumBin = existsSync("/usr/bin/chromium") ? "/usr/bin/chromium" : null;

const FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"];

/**
 * Open `url` in headless Chromium with a fresh profile, wait (up to 90 s) until the page sets `globalThis[flag]`,
 * and resolve to that value and the page's uncaught errors. The browser and its profile are always cleaned up.
 */
export async function pageResult(url: string, flag: string): Promise<{ result: unknown; pageErrors: string[] }> {
  if (chromiumBin === null) throw new Error("no /usr/bin/chromium (apt-get install chromium)");
  const { chromium } = await import("playwright-core");
  const userDataDir = await mkdtemp(join(tmpdir(), "gliner2-chromium-"));
  const context = await chromium.launchPersistentContext(userDataDir, { executablePath: chromiumBin, headless: true, args: FLAGS });
  try {
    const page = context.pages()[0] ?? (await context.newPage());
    const pageErrors: string[] = [];
    page.on("pageerror", (e) => pageErrors.push(String(e)));
    await page.goto(url);
    await page.waitForFunction((f) => (globalThis as Record<string, unknown>)[f] !== undefined, flag, { timeout: 90_000 });
    const result = await page.evaluate((f) => (globalThis as Record<string, unknown>)[f], flag);
    return { result, pageErrors };
  } finally {
    await context.close();
    await rm(userDataDir, { recursive: true, force: true });
  }
}

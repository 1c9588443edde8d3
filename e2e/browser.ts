/**
 * Debian's Chromium (playwright-core, never a downloaded browser) pointed at a web bridge that
 * something else started: the lab e2e and the UI benchmark bring their own Engine, so they
 * need only this half of harness.ts.
 */
import fs from 'node:fs';
import path from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { CHROMIUM, CHROMIUM_ARGS, RENDERER_DIR, SCREENSHOTS } from './harness.ts';

export interface ConsolePage {
  browser: Browser;
  context: BrowserContext;
  page: Page;
  /** Console errors and page errors (CSP violations show up here). */
  consoleErrors: string[];
  /** Save test-results/screenshots/<name>.png; returns its path. */
  screenshot(name: string, opts?: { fullPage?: boolean }): Promise<string>;
  close(): Promise<void>;
}

export function assertRendererBuilt(): void {
  if (!fs.existsSync(path.join(RENDERER_DIR, 'index.html'))) {
    throw new Error(`No built renderer in ${RENDERER_DIR}: run \`npm run build\` first.`);
  }
  if (!fs.existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} not found: install Debian's chromium package.`);
}

/** Launch Chromium, open `url` (the bridge's URL with its token) and wait for the console's navigation. */
export async function openConsole(url: string, opts: { viewport?: { width: number; height: number }; extraArgs?: string[]; timeoutMs?: number; initScript?: string } = {}): Promise<ConsolePage> {
  assertRendererBuilt();
  const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: [...CHROMIUM_ARGS, ...(opts.extraArgs ?? [])], timeout: 60_000 });
  try {
    const context = await browser.newContext({ viewport: opts.viewport ?? { width: 1280, height: 800 }, colorScheme: 'light', acceptDownloads: true });
    if (opts.initScript) await context.addInitScript({ content: opts.initScript });
    const page = await context.newPage();
    const consoleErrors: string[] = [];
    page.on('console', (m) => {
      if (m.type() === 'error') consoleErrors.push(m.text());
    });
    page.on('pageerror', (e) => consoleErrors.push(`pageerror: ${e.message}`));
    fs.mkdirSync(SCREENSHOTS, { recursive: true });
    await page.goto(url, { timeout: opts.timeoutMs ?? 30_000 });
    await page.getByRole('navigation', { name: 'Views' }).waitFor({ timeout: opts.timeoutMs ?? 30_000 });
    return {
      browser,
      context,
      page,
      consoleErrors,
      screenshot: async (name, o = {}) => {
        const file = path.join(SCREENSHOTS, `${name}.png`);
        if (o.fullPage) await page.evaluate('window.scrollTo(0, 0)');
        await page.screenshot({ path: file, fullPage: o.fullPage ?? false, timeout: 30_000 });
        return file;
      },
      close: () => browser.close(),
    };
  } catch (e) {
    await browser.close().catch(() => undefined);
    throw e;
  }
}

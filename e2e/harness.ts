/**
 * Browser harness for the console's end-to-end tests. It builds nothing: it serves the
 * renderer already built into out/renderer (`npm run build`) through the real web bridge, in
 * front of a real Engine whose HOME is a temp dir with ~/.ssh/config pointing at throwaway
 * local sshds, and drives Debian's Chromium through playwright-core.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { Engine } from '../electron/engine/console.ts';
import { hostBlock, knownHostsLine, makeTestHome, type TestHome } from '../electron/ssh/testing/fixture.ts';
import { startSshd, type TestSshd, type TestSshdOptions } from '../electron/ssh/testing/sshd.ts';
import { startWebBridge, type WebBridge } from '../electron/web/server.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const RENDERER_DIR = path.join(ROOT, 'out', 'renderer');
export const SCREENSHOTS = path.join(ROOT, 'test-results', 'screenshots');
export const CHROMIUM = '/usr/bin/chromium';
export const CHROMIUM_ARGS = ['--no-sandbox', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-gpu'];

export interface HarnessOptions {
  /** Host aliases to create, each backed by its own sshd. */
  hosts: string[];
  /** More aliases for an existing host (alias -> the alias whose sshd it reaches). */
  sameHost?: Record<string, string>;
  sshd?: TestSshdOptions;
  colorScheme?: 'light' | 'dark';
  viewport?: { width: number; height: number };
}

export interface Harness {
  home: TestHome;
  engine: Engine;
  bridge: WebBridge;
  sshds: Record<string, TestSshd>;
  browser: Browser;
  context: BrowserContext;
  page: Page;
  /** Console messages and page errors (CSP violations show up here). */
  consoleErrors: string[];
  /** Open the console with the bridge's token. */
  open(): Promise<void>;
  /** `ssh-keygen -lf` of an sshd's host key: exactly what the trust dialog must show. */
  fingerprint(alias: string): string;
  /** Save a screenshot to test-results/screenshots/<name>.png and return its path. */
  screenshot(name: string, opts?: { fullPage?: boolean }): Promise<string>;
  close(): Promise<void>;
}

export function sshKeygenFingerprint(pubKeyPath: string): string {
  const out = execFileSync('ssh-keygen', ['-lf', pubKeyPath], { encoding: 'utf8' });
  const fp = out.split(/\s+/)[1];
  if (!fp?.startsWith('SHA256:')) throw new Error(`unexpected ssh-keygen -lf output: ${out}`);
  return fp;
}

export async function startHarness(opts: HarnessOptions): Promise<Harness> {
  if (!fs.existsSync(path.join(RENDERER_DIR, 'index.html'))) {
    throw new Error(`No built renderer in ${RENDERER_DIR}: run \`npm run build\` first.`);
  }
  if (!fs.existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} not found: install Debian's chromium package.`);
  const cleanups: Array<() => Promise<void> | void> = [];
  const closeAll = async () => {
    for (const c of cleanups.reverse()) await Promise.resolve(c()).catch(() => undefined);
  };
  try {
    const home = makeTestHome();
    cleanups.push(() => home.cleanup());
    const sshds: Record<string, TestSshd> = {};
    for (const alias of opts.hosts) {
      const sshd = await startSshd(opts.sshd);
      sshds[alias] = sshd;
      cleanups.push(() => sshd.stop());
    }
    const blocks = opts.hosts.map((a) => hostBlock(a, sshds[a]!));
    for (const [alias, of] of Object.entries(opts.sameHost ?? {})) blocks.push(hostBlock(alias, sshds[of]!));
    fs.writeFileSync(home.sshConfig, blocks.join('\n'), { mode: 0o600 });

    const engine = new Engine({ env: home.env });
    cleanups.push(() => engine.close());
    const bridge = await startWebBridge({ engine, rendererDir: RENDERER_DIR });
    cleanups.push(() => bridge.close());

    const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
    cleanups.push(() => browser.close());
    const context = await browser.newContext({
      viewport: opts.viewport ?? { width: 1280, height: 800 },
      colorScheme: opts.colorScheme ?? 'light',
      acceptDownloads: true,
    });
    const page = await context.newPage();
    const consoleErrors: string[] = [];
    page.on('console', (m) => {
      if (m.type() === 'error') consoleErrors.push(m.text());
    });
    page.on('pageerror', (e) => consoleErrors.push(`pageerror: ${e.message}`));
    fs.mkdirSync(SCREENSHOTS, { recursive: true });

    return {
      home,
      engine,
      bridge,
      sshds,
      browser,
      context,
      page,
      consoleErrors,
      open: async () => {
        await page.goto(bridge.url);
        await page.getByRole('navigation', { name: 'Views' }).waitFor();
      },
      fingerprint: (alias) => sshKeygenFingerprint(`${sshds[alias]!.hostKeyPath}.pub`),
      screenshot: async (name, o = {}) => {
        const file = path.join(SCREENSHOTS, `${name}.png`);
        // A full-page capture of a scrolled page draws the sticky top bar mid-page.
        if (o.fullPage) await page.evaluate('window.scrollTo(0, 0)');
        await page.screenshot({ path: file, fullPage: o.fullPage ?? false });
        return file;
      },
      close: closeAll,
    };
  } catch (e) {
    await closeAll();
    throw e;
  }
}

/**
 * The browser tests' usual setup: one real sshd reached as two hosts (box, box2), its key
 * already trusted, and a process to migrate. Close `sleeper` and the harness after.
 */
export async function startLoopbackPair(): Promise<{ h: Harness; sleeper: ChildProcess }> {
  const h = await startHarness({ hosts: ['box'], sameHost: { box2: 'box' } });
  fs.writeFileSync(h.home.userKnownHosts, knownHostsLine(h.sshds.box!));
  const sleeper = spawn('sleep', ['600'], { stdio: 'ignore' });
  await h.open();
  return { h, sleeper };
}

/** Fill the plan form for a cold migration of `pid` from box to box2. */
export async function fillColdPlan(h: Harness, pid: number): Promise<void> {
  const { page } = h;
  await page.getByRole('navigation', { name: 'Views' }).getByRole('button', { name: 'Migrate', exact: true }).click();
  await page.getByLabel('Source host').selectOption('box');
  await page.getByLabel('Target host').selectOption('box2');
  await page.getByLabel('PID').fill(String(pid));
  await page.getByLabel('Mode', { exact: true }).selectOption('cold');
  await page.getByLabel('Work dir (both hosts)').fill(`${h.home.home}/ferry-work`);
}

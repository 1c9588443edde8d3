/**
 * The desktop shell itself, driven through Playwright's Electron support. It needs the
 * Electron binary, which cannot be downloaded on every machine: elsewhere it is skipped
 * and says why.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { _electron } from 'playwright-core';
import { describe, expect, it } from 'vitest';

// Read the binary's location the way the electron package does, without importing it
// (importing it where the binary is missing starts a download).
function electronBinary(): string | undefined {
  const dir = path.resolve('node_modules/electron');
  const pathFile = path.join(dir, 'path.txt');
  if (!existsSync(pathFile)) return undefined;
  const bin = path.join(dir, 'dist', readFileSync(pathFile, 'utf8').trim());
  return existsSync(bin) ? bin : undefined;
}
const bin = electronBinary();
if (!bin) process.stderr.write('electron.e2e: skipped: no Electron binary here (install with FERRY_ELECTRON=1 npm run setup on a connected machine)\n');

describe.skipIf(!bin)('the Electron shell', () => {
  it('opens a sandboxed window whose page sees only the console API', async () => {
    const app = await _electron.launch({ executablePath: bin!, args: [path.resolve('out/main/index.js')] });
    try {
      const win = await app.firstWindow();
      expect(await win.title()).toBe('Ferry');
      const exposed = await win.evaluate(() => ({
        bridge: Object.keys((globalThis as unknown as { ferryBridge: object }).ferryBridge).sort(),
        node: typeof (globalThis as { require?: unknown }).require,
        process: typeof (globalThis as { process?: unknown }).process,
      }));
      expect(exposed).toEqual({ bridge: ['pickPlanFile', 'request', 'subscribe'], node: 'undefined', process: 'undefined' });
      const reply = await win.evaluate(() => (globalThis as unknown as { ferryBridge: { request(m: string, p: unknown): Promise<unknown> } }).ferryBridge.request('no.such', {}));
      expect(reply).toMatchObject({ ok: false, error: { code: 'bad-request' } });
    } finally {
      await app.close();
    }
  });
});

/**
 * Hosts view end to end: the real engine, real sshds on 127.0.0.1, the built renderer in
 * Chromium. Needs `npm run build` first (the harness builds nothing).
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { knownHostsLine } from '../electron/ssh/testing/fixture.ts';
import { startHarness, type Harness } from './harness.ts';

let h: Harness;
let oldMovedFingerprint: string;

beforeAll(async () => {
  h = await startHarness({ hosts: ['box', 'moved'] });
  // 'moved' was known under another key: the user's known_hosts holds its old key, then the
  // host "is reinstalled" (new host key) before the console ever connects.
  oldMovedFingerprint = h.fingerprint('moved');
  fs.writeFileSync(h.home.userKnownHosts, knownHostsLine(h.sshds.moved!));
  h.sshds.moved!.regenerateHostKey();
  await h.sshds.moved!.restart();
  await h.open();
});

afterAll(async () => {
  await h?.close();
});

describe('hosts view', () => {
  it('lists the hosts from the temp ~/.ssh/config', async () => {
    const { page } = h;
    const box = page.locator('tr[data-host="box"]');
    await expect.poll(() => box.count()).toBe(1);
    await expect.poll(() => box.textContent()).toContain(`root@127.0.0.1:${h.sshds.box!.port}`);
    expect(await page.locator('tr[data-host="box"] td').nth(2).textContent()).toBe('unknown');
    expect(await page.locator('tr[data-host="moved"] td').nth(2).textContent()).toBe('known');
    await h.screenshot('hosts');
  });

  it('connect shows the trust dialog with the exact ssh-keygen -lf fingerprint; trusting makes the session ready', async () => {
    const { page } = h;
    await page.getByRole('button', { name: 'Connect box' }).click();
    const dialog = page.getByRole('dialog', { name: 'Trust the host key of box?' });
    await dialog.waitFor();
    const shown = await dialog.getByTestId('fingerprint').textContent();
    expect(shown).toBe(h.fingerprint('box'));
    expect(await dialog.textContent()).toContain(`[127.0.0.1]:${h.sshds.box!.port}`);
    await h.screenshot('hosts-trust-dialog');
    await dialog.getByRole('button', { name: 'Trust and connect' }).click();
    await page.locator('[data-testid="session-box"][data-state="ready"]').waitFor();
    expect(await page.getByRole('dialog').count()).toBe(0);
    await expect.poll(() => page.locator('tr[data-host="box"] td').nth(2).textContent()).toBe('known');
    // The key went to Ferry's own known_hosts, nowhere else.
    expect(fs.readFileSync(h.home.ferryKnownHosts, 'utf8')).toContain(`[127.0.0.1]:${h.sshds.box!.port}`);
  });

  it('host facts say plainly that CRIU is missing, without crashing', async () => {
    const { page } = h;
    await page.getByRole('button', { name: 'Host facts for box' }).click();
    const facts = page.getByTestId('host-facts');
    await facts.waitFor();
    expect(await page.getByTestId('fact-kernel').textContent()).toBe(execFileSync('uname', ['-r'], { encoding: 'utf8' }).trim());
    const criu = await page.getByTestId('fact-criu').textContent();
    expect(criu).toContain('CRIU is not installed on box');
    expect(await facts.textContent()).toContain('not checked: CRIU is missing');
    await h.screenshot('hosts-facts');
  });

  it('a changed host key is a loud refusal, with both fingerprints and the fix, and no trust prompt', async () => {
    const { page } = h;
    await page.getByRole('button', { name: 'Connect moved' }).click();
    const err = page.getByTestId('session-error-moved');
    await err.waitFor();
    expect(await err.getAttribute('data-code')).toBe('host-key-changed');
    expect(await err.getAttribute('class')).toContain('loud');
    const text = (await err.textContent()) ?? '';
    expect(text).toContain('Connection refused by Ferry');
    expect(text).toContain('CHANGED');
    expect(text).toContain(oldMovedFingerprint);
    expect(text).toContain(h.fingerprint('moved'));
    expect(text).toContain(`ssh-keygen -R '[127.0.0.1]:${h.sshds.moved!.port}'`);
    expect(await page.locator('[data-testid="session-moved"]').getAttribute('data-state')).toBe('failed');
    expect(await page.getByRole('dialog').count()).toBe(0);
    await h.screenshot('hosts-key-changed');
  });

  it('the dark theme toggle repaints the view', async () => {
    const { page } = h;
    await page.getByRole('combobox', { name: 'Theme' }).selectOption('dark');
    // Strings, not functions: this file is type-checked without the DOM lib.
    expect(await page.evaluate('document.documentElement.dataset.theme')).toBe('dark');
    await h.screenshot('hosts-dark');
    await page.getByRole('combobox', { name: 'Theme' }).selectOption('system');
  });

  it('ran under the strict CSP without a violation or a page error', () => {
    expect(h.consoleErrors.filter((e) => /Content Security Policy|Refused to|pageerror/i.test(e))).toEqual([]);
  });
});

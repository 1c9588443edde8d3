/**
 * Traffic hooks in the console, in Chromium against the real engine: the plan form's hooks
 * editor (add, validate, remove), a migration started from it whose hooks really run on this
 * machine, and the command log labelling their runs. The test sshd has no CRIU, so the
 * migration fails at its first CRIU step after the before-cutover hook ran, and the rollback
 * runs the on-rollback hook. Needs `npm run build` first.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { knownHostsLine } from '../electron/ssh/testing/fixture.ts';
import { fillColdPlan, startHarness, type Harness } from './harness.ts';

let h: Harness;
let sleeper: ChildProcess;
let marks: string;

beforeAll(async () => {
  h = await startHarness({ hosts: ['box'], sameHost: { box2: 'box' } });
  fs.writeFileSync(h.home.userKnownHosts, knownHostsLine(h.sshds.box!));
  marks = path.join(h.home.home, 'hook-marks');
  sleeper = spawn('sleep', ['600'], { stdio: 'ignore' });
  await h.open();
});

afterAll(async () => {
  sleeper?.kill();
  await h?.close();
});

describe('traffic hooks in the plan form and the command log', () => {
  it('adds hooks per phase, shows what is wrong with one, removes one', async () => {
    const { page } = h;
    await fillColdPlan(h, sleeper.pid!);

    const editor = page.getByTestId('hooks-editor');
    await editor.getByRole('button', { name: 'Add before cutover hook' }).click();
    await editor.getByRole('button', { name: 'Add on rollback hook' }).click();
    await editor.getByRole('button', { name: 'Add after restore hook' }).click();
    expect(await editor.getByTestId('hook-draft').count()).toBe(3);

    // An empty hook is refused when the plan is used, next to its fields.
    await page.getByRole('button', { name: 'Run preflight' }).click();
    const drain = editor.locator('[data-testid="hook-draft"][data-phase="before-cutover"]');
    await drain.locator('[data-hook-field="argv"] .field-error').waitFor();
    expect(await drain.locator('[data-hook-field="argv"] .field-error').textContent()).toBe('Give the command, one argument per line');
    expect(await drain.locator('[data-hook-field="name"] .field-error').textContent()).toBe('Give the hook a name');
    expect(await page.getByTestId('preflight-summary').count()).toBe(0);
    await h.screenshot('hooks-editor-errors', { fullPage: true });

    // The after-restore one is not wanted: remove it.
    await editor.locator('[data-testid="hook-draft"][data-phase="after-restore"]').getByRole('button', { name: 'Remove hook' }).click();
    expect(await editor.getByTestId('hook-draft').count()).toBe(2);

    await drain.getByLabel('Hook name').fill('drain');
    expect(await drain.getByLabel('Runs on').inputValue()).toBe('local');
    await drain.getByLabel('Command (one argument per line)').fill(['sh', '-c', 'echo "drained $FERRY_HOME" >> "$1"', 'sh', marks].join('\n'));
    await drain.getByLabel('Timeout (ms)').fill('50');
    await drain.getByLabel('Variables from Ferry’s environment').fill('FERRY_HOME');
    await page.getByRole('button', { name: 'Run preflight' }).click();
    await drain.locator('[data-hook-field="timeoutMs"] .field-error').waitFor();
    expect(await drain.locator('[data-hook-field="timeoutMs"] .field-error').textContent()).toMatch(/From 100 to 600000 ms/);
    await drain.getByLabel('Timeout (ms)').fill('20000');

    const undrain = editor.locator('[data-testid="hook-draft"][data-phase="on-rollback"]');
    await undrain.getByLabel('Hook name').fill('undrain');
    await undrain.getByLabel('Command (one argument per line)').fill(['sh', '-c', 'echo undrained >> "$1"', 'sh', marks].join('\n'));
    // A remote hook takes no variables from Ferry's environment: the field goes away.
    await undrain.getByLabel('Runs on').selectOption('source');
    expect(await undrain.getByLabel('Variables from Ferry’s environment').count()).toBe(0);
    await undrain.getByLabel('Runs on').selectOption('local');
    expect(await editor.locator('.field-error').count()).toBe(0);
    await h.screenshot('hooks-editor', { fullPage: true });
  });

  it('starts a migration whose hooks run for real; the command log labels them and the rollback ran the undo', { timeout: 240_000 }, async () => {
    const { page } = h;
    await page.getByRole('button', { name: 'Run preflight' }).click();
    await page.getByTestId('preflight-summary').waitFor({ timeout: 120_000 });
    await page.getByLabel(/Override blockers/).check();
    await page.getByRole('button', { name: /^Start/ }).click();
    const dialog = page.getByRole('dialog', { name: 'Start this migration?' });
    await dialog.waitFor();
    expect(await dialog.getByTestId('start-hooks').textContent()).toMatch(/1 before cutover .* 0 after restore .* 1 on rollback/);
    await dialog.getByRole('button', { name: 'Start migration' }).click();

    await page.getByTestId('outcome').waitFor({ timeout: 120_000 });
    const drain = page.locator('[data-testid="command"][data-hook="drain"]');
    const undrain = page.locator('[data-testid="command"][data-hook="undrain"]');
    await undrain.waitFor();
    expect(await drain.getByTestId('command-hook').textContent()).toBe('hook before cutover: drain');
    expect(await drain.getByTestId('command-host').textContent()).toBe('local');
    expect(await drain.getByTestId('command-exit').textContent()).toBe('exit 0');
    expect(await undrain.getByTestId('command-hook').textContent()).toBe('hook on rollback: undrain');
    // Ferry's own commands carry no hook label.
    const own = page.locator('[data-testid="command"]:not([data-hook])');
    expect(await own.count()).toBeGreaterThan(0);
    expect(await own.getByTestId('command-hook').count()).toBe(0);
    // The hooks really ran on this machine, in order, with the variable the hook named.
    expect(fs.readFileSync(marks, 'utf8')).toBe(`drained ${h.home.ferryHome}\nundrained\n`);
    await h.screenshot('hooks-command-log', { fullPage: true });
  });

  it('ran under the strict CSP without a violation or a page error', () => {
    expect(h.consoleErrors.filter((e) => /Content Security Policy|Refused to|pageerror/i.test(e))).toEqual([]);
  });
});

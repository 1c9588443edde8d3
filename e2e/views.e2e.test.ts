/**
 * Migrate (plan, process picker, real preflight), the migration dashboard (fed with the
 * recorded converging run through the engine's own event stream), History (journals written
 * by the engine's journal module) and Lab, in Chromium against the real engine.
 * Needs `npm run build` first.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EngineEvent } from '../shared/api.ts';
import { createJournal } from '../electron/engine/journal/journal.ts';
import { CONVERGING_ID, convergingEvents, convergingUntilCutover } from '../renderer/src/state/fixtures.ts';
import { knownHostsLine } from '../electron/ssh/testing/fixture.ts';
import { startHarness, type Harness } from './harness.ts';

let h: Harness;
let sleeper: ChildProcess;

beforeAll(async () => {
  h = await startHarness({ hosts: ['box'], sameHost: { box2: 'box' } });
  // Both aliases reach the same sshd, whose key the user already knows.
  fs.writeFileSync(h.home.userKnownHosts, knownHostsLine(h.sshds.box!));
  // Journals as the engine writes them: one finished migration, one that stopped mid-way.
  const done = createJournal('2026-11-23T05-15-40Z-c0ffee', { env: h.home.env });
  for (const e of convergingEvents()) done.append(e);
  done.close();
  const cut = createJournal('2026-11-23T06-00-00Z-dead00', { env: h.home.env });
  for (const e of convergingUntilCutover()) cut.append(retarget(e, '2026-11-23T06-00-00Z-dead00'));
  cut.close();
  sleeper = spawn('sleep', ['600'], { stdio: 'ignore' });
  await h.open();
});

afterAll(async () => {
  sleeper?.kill();
  await h?.close();
});

function retarget(e: EngineEvent, id: string): EngineEvent {
  return 'migrationId' in e && e.migrationId ? ({ ...e, migrationId: id } as EngineEvent) : e;
}

const nav = (page: Harness['page'], view: string) => page.getByRole('navigation', { name: 'Views' }).getByRole('button', { name: view, exact: true }).click();

const emit = (events: EngineEvent[]) => {
  for (const e of events) h.engine.events.emit(e);
};

describe('migrate: plan, picker, preflight', () => {
  it('lists the source processes, filters, inspects one and fills the PID', async () => {
    const { page } = h;
    await nav(page, 'Migrate');
    await page.getByLabel('Source host').selectOption('box');
    await page.getByLabel('Target host').selectOption('box2');
    expect(await page.getByLabel('Target address (from the source)').inputValue()).toBe('127.0.0.1');
    await page.getByRole('button', { name: 'List processes' }).click();
    await page.getByTestId('process-list').waitFor();
    await page.getByLabel('Filter processes').fill('sleep 600');
    const row = page.locator('[data-testid="process-list"] tbody tr', { hasText: String(sleeper.pid) });
    await row.waitFor();
    await row.getByRole('button', { name: String(sleeper.pid) }).click();
    await page.getByTestId('process-tree').waitFor();
    expect(await page.getByLabel('PID').inputValue()).toBe(String(sleeper.pid));
    await page.getByTestId('open-files').waitFor();
  });

  it('runs preflight for real: criu is missing, so Start stays disabled until the override is ticked', async () => {
    const { page } = h;
    await page.getByLabel('Work dir (both hosts)').fill(`${h.home.home}/ferry-work`);
    const start = page.getByRole('button', { name: /^Start/ });
    expect(await start.isDisabled()).toBe(true);
    await page.getByRole('button', { name: 'Run preflight' }).click();
    await page.getByTestId('preflight-summary').waitFor({ timeout: 30_000 });
    const summary = await page.getByTestId('preflight-summary').textContent();
    expect(summary).toMatch(/blocker/);
    const failed = page.locator('[data-testid="preflight-check"][data-status="fail"]');
    expect(await failed.count()).toBeGreaterThan(0);
    expect(await failed.first().locator('.check-fix').count()).toBe(1);
    expect(await start.isDisabled()).toBe(true);
    expect(await page.getByTestId('start-reason').textContent()).toMatch(/blocker/);
    await h.screenshot('migrate-preflight', { fullPage: true });
    await page.getByLabel(/Override blockers/).check();
    expect(await start.isDisabled()).toBe(false);
    // Changing the plan makes the preflight stale.
    await page.getByLabel('Override blockers', { exact: false }).uncheck();
    await page.getByLabel('Downtime budget (ms)').fill('500');
    await page.getByText('The plan changed since this preflight ran').waitFor();
    expect(await start.isDisabled()).toBe(true);
  });
});

describe('migration dashboard (recorded converging run)', () => {
  it('follows a migration from its events: phase in the top bar, one chart point per iteration, the estimate and recommendation', async () => {
    const { page } = h;
    emit(convergingUntilCutover());
    await page.getByTestId('dashboard').waitFor();
    expect(await page.getByTestId('dashboard').getAttribute('data-migration-id')).toBe(CONVERGING_ID);
    expect(await page.locator('.topbar [data-testid="phase"]').getAttribute('data-phase')).toBe('precopy');
    await expect.poll(() => page.getByTestId('convergence-point').count()).toBe(3);
    const written = await page.getByTestId('convergence-point').evaluateAll((els) => els.map((e) => e.getAttribute('data-pages-written')));
    expect(written).toEqual(['33861', '5799', '2724']);
    expect(await page.locator('[data-testid="convergence-chart"] .recharts-bar-rectangle').count()).toBe(3);
    expect(await page.getByTestId('estimate').getAttribute('data-points')).toBe('3');
    expect(await page.getByTestId('recommendation').textContent()).not.toBe('');
    expect(await page.locator('[data-testid="phase-timeline"] [data-status="current"]').getAttribute('data-phase')).toBe('precopy');
    // ps, then 3 × (page server + pre-dump)
    expect(await page.getByTestId('command').count()).toBe(7);
    for (const name of ['One more pre-dump', 'Cut over now', 'Abort', 'Roll back']) {
      expect(await page.getByRole('button', { name, exact: false }).first().isEnabled()).toBe(true);
    }
    expect(await page.getByTestId('topbar-stop').textContent()).toContain('Abort migration');
    // Preflight passes fold into one line; the user's own decisions stay in view.
    const at = new Date().toISOString();
    emit(['criu version', 'pid free on target', 'disk space'].map((title) => ({ type: 'decision', migrationId: CONVERGING_ID, by: 'policy', action: 'preflight pass', reason: `${title}: ok`, at })));
    emit([
      { type: 'decision', migrationId: CONVERGING_ID, by: 'policy', action: 'preflight warn', reason: 'lab-target: clock skew: 2 s', at },
      { type: 'decision', migrationId: CONVERGING_ID, by: 'user', action: 'one-more', reason: 'requested during precopy', at },
    ]);
    await expect.poll(() => page.locator('[data-testid="preflight-passes"] > summary').textContent()).toBe('3 preflight check(s) passed');
    const visible = await page.locator('[data-testid="decisions"] > ul > li').allTextContents();
    expect(visible.some((t) => t.includes('one-more'))).toBe(true);
    expect(visible.some((t) => t.includes('preflight warn'))).toBe(true);
    expect(visible.some((t) => t.includes('preflight pass'))).toBe(false);
    await h.screenshot('dashboard-precopy', { fullPage: true });
  });

  it('keyboard shortcuts open the confirmation (not the action), never while typing; Abort lists the rollback steps', async () => {
    const { page } = h;
    await page.keyboard.press('c');
    const dialog = page.getByRole('dialog', { name: 'Cut over now?' });
    await dialog.waitFor();
    await h.screenshot('dashboard-confirm-cutover');
    await page.keyboard.press('Escape');
    await expect.poll(() => page.getByRole('dialog').count()).toBe(0);

    await page.keyboard.press('a');
    const abort = page.getByRole('dialog', { name: 'Abort this migration?' });
    await abort.waitFor();
    // This migration exists only as events, so the engine cannot preview: the error is shown, not a crash.
    await abort.getByRole('alert').waitFor();
    expect(await abort.textContent()).toContain('No running migration');
    await h.screenshot('dashboard-confirm-abort');
    await abort.getByRole('button', { name: 'Cancel' }).click();

    // Strings, not functions: this file is type-checked without the DOM lib.
    await page.evaluate(`document.body.appendChild(Object.assign(document.createElement('input'), { id: 'typing-probe' }))`);
    await page.locator('#typing-probe').focus();
    await page.keyboard.type('ncar');
    expect(await page.getByRole('dialog').count()).toBe(0);
    await page.evaluate(`document.getElementById('typing-probe').remove()`);
  });

  it('shows the outcome with the freeze window measured vs predicted, and the command log with a | b and exit codes', async () => {
    const { page } = h;
    emit(convergingEvents().slice(convergingUntilCutover().length));
    await page.getByTestId('outcome').waitFor();
    expect(await page.getByTestId('outcome').getAttribute('data-outcome')).toBe('committed');
    expect(await page.getByTestId('freeze-measured').textContent()).toBe('8,997 ms');
    expect(await page.locator('.topbar [data-testid="phase"]').getAttribute('data-phase')).toBe('committed');
    expect(await page.getByTestId('topbar-stop').count()).toBe(0);
    expect(await page.getByTestId('convergence-point').count()).toBe(4);
    const copy = page.locator('[data-testid="command"]', { hasText: '| tar' });
    expect(await copy.getByTestId('command-host').textContent()).toBe('lab-source → lab-target');
    expect(await copy.getByTestId('command-exit').textContent()).toBe('exit 0');
    const ps = page.getByTestId('command').first();
    await ps.getByRole('button').click();
    expect(await ps.getByTestId('command-output').textContent()).toContain('wl.py');
    for (const name of ['One more pre-dump', 'Cut over now']) expect(await page.getByRole('button', { name }).isDisabled()).toBe(true);
    await h.screenshot('dashboard-committed', { fullPage: true });
    await page.getByRole('combobox', { name: 'Theme' }).selectOption('dark');
    await h.screenshot('dashboard-committed-dark', { fullPage: true });
    await page.getByRole('combobox', { name: 'Theme' }).selectOption('light');
  });
});

describe('history and lab', () => {
  it('lists journals, highlights the unfinished one with its next step, shows report and runbook, exports a file', async () => {
    const { page } = h;
    await nav(page, 'History');
    const unfinished = page.locator('[data-testid="journal"][data-finished="false"]');
    await unfinished.waitFor();
    expect(await unfinished.locator('.next-step').textContent()).toMatch(/\S/);
    expect(await page.locator('[data-testid="journal"][data-finished="true"]').count()).toBe(1);
    await page.locator('[data-testid="journal"][data-finished="true"] button').click();
    await page.locator('[data-testid="journal-report"] .markdown').waitFor();
    await h.screenshot('history-report');
    const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Export report' }).click()]);
    expect(download.suggestedFilename()).toBe(`ferry-${CONVERGING_ID}-report.md`);
    const saved = await download.path();
    expect(fs.readFileSync(saved, 'utf8')).toContain('50000');
    await page.getByRole('tab', { name: 'Runbook' }).click();
    await page.locator('[data-testid="journal-runbook"] pre').waitFor();
    expect(await page.locator('[data-testid="journal-runbook"] pre').textContent()).toContain('criu');
    await h.screenshot('history-runbook');
  });

  it('history with pictures: a past migration drawn like the dashboard (convergence, dirty rate, freeze window by phase) above its tables', async () => {
    const { page } = h;
    await nav(page, 'History');
    await page.locator('[data-testid="journal"][data-finished="true"] button').click();
    const pictures = page.getByTestId('history-pictures');
    await pictures.waitFor();
    const events = convergingEvents();
    const outcome = events.find((e) => e.type === 'outcome');
    const iterations = events.filter((e) => e.type === 'iteration');
    // The freeze window: measured and predicted, each split into dump, copy and restore.
    const bar = pictures.getByTestId('freeze-bar');
    expect(outcome?.type === 'outcome' && outcome.freezeWindowMs).toBeGreaterThan(0);
    expect(Number(await bar.getAttribute('data-measured-ms'))).toBe(outcome?.type === 'outcome' ? outcome.freezeWindowMs : NaN);
    expect(Number(await bar.getAttribute('data-predicted-ms'))).toBe(outcome?.type === 'outcome' ? outcome.predictedMs : NaN);
    const measured = (await bar.getAttribute('data-measured-phases'))!.split(',').map(Number);
    const predicted = (await bar.getAttribute('data-predicted-phases'))!.split(',').map(Number);
    expect(measured).toHaveLength(3);
    expect(predicted).toHaveLength(3);
    for (const x of [...measured, ...predicted]) expect(x).toBeGreaterThan(0);
    // The phases add up to (at most) the window measured around them.
    expect(measured.reduce((a, b) => a + b, 0)).toBeLessThanOrEqual(Number(await bar.getAttribute('data-measured-ms')));
    // Two stacked bars of three segments, drawn by recharts.
    expect(await bar.locator('.recharts-bar-rectangle').count()).toBe(6);
    expect(await bar.locator('[data-testid="freeze-phase"]').count()).toBe(3);
    // The dashboard's own charts, from the journal's events: one point per iteration.
    const convergence = pictures.getByTestId('convergence-chart');
    expect(Number(await convergence.getAttribute('data-points'))).toBe(iterations.length);
    expect(await convergence.locator('.recharts-bar-rectangle').count()).toBe(iterations.length);
    const rates = pictures.getByTestId('rates-chart');
    expect(Number(await rates.getAttribute('data-points'))).toBeGreaterThan(1);
    expect(await rates.locator('.recharts-line-curve').count()).toBeGreaterThan(0);
    // The tables stay, below the pictures.
    await page.getByRole('tab', { name: 'Report' }).click();
    const report = page.locator('[data-testid="journal-report"] .markdown');
    await report.waitFor();
    expect((await report.boundingBox())!.y).toBeGreaterThan((await bar.boundingBox())!.y);
    await h.screenshot('history-pictures', { fullPage: true });
  });

  it("lab: shows the real engine's lab status (no image in this test's home, no VMs running)", async () => {
    const { page } = h;
    await nav(page, 'Lab');
    const lab = page.getByTestId('lab');
    await lab.getByText('not built').waitFor();
    const rows = lab.locator('tbody tr');
    expect(await rows.count()).toBe(2);
    expect(await rows.nth(0).textContent()).toContain('lab-source');
    expect(await rows.nth(1).textContent()).toContain('lab-target');
    // Nothing runs, so there is nothing to stop; starting stays possible (it would build the image).
    expect(await page.getByRole('button', { name: 'Start the lab' }).isDisabled()).toBe(false);
    expect(await page.getByRole('button', { name: 'Stop the lab' }).isDisabled()).toBe(true);
    await h.screenshot('lab');
  });

  it('ran under the strict CSP without a violation or a page error', () => {
    expect(h.consoleErrors.filter((e) => /Content Security Policy|Refused to|pageerror/i.test(e))).toEqual([]);
  });
});

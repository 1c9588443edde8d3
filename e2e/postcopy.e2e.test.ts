/**
 * Post-copy in the console, in Chromium against the real engine: the plan form's warning,
 * the start dialog that needs the risk accepted, and the dashboard's "pages still on SOURCE"
 * state with pages progress. The progress events are the ones the engine derives from the
 * recorded CRIU 3.17.1 lazy-pages log (fixtures/criu/lazy), read in chunks as it polls it.
 * Needs `npm run build` first.
 */
import type { ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newPlan, type EngineEvent } from '../shared/api.ts';
import { LAZY_PAGE_SIZE, LazyProgressReader } from '../electron/criu/lazy.ts';
import { readText } from '../electron/criu/test-fixtures.ts';
import { startLoopbackPair, type Harness } from './harness.ts';

let h: Harness;
let sleeper: ChildProcess;
const ID = '2026-11-23T05-29-52Z-1a2y00';
const at = (s: number) => new Date(Date.UTC(2026, 10, 23, 5, 29, 52) + s * 1000).toISOString();

beforeAll(async () => {
  ({ h, sleeper } = await startLoopbackPair());
});

afterAll(async () => {
  sleeper?.kill();
  await h?.close();
});

const nav = (page: Harness['page'], view: string) => page.getByRole('navigation', { name: 'Views' }).getByRole('button', { name: view, exact: true }).click();

/** The engine's progress events for the recorded run: the log fed in 64 KiB reads. */
function recordedProgress(): Array<{ done: number; total: number }> {
  const log = readText('lazy/target/lazy-pages.log');
  const r = new LazyProgressReader();
  const out: Array<{ done: number; total: number }> = [];
  for (let i = 0; i < log.length; i += 65536) {
    const p = r.feed(log.slice(i, i + 65536)).progress;
    if (p.totalPages && (!out.length || out[out.length - 1]!.done !== p.donePages)) out.push({ done: p.donePages, total: p.totalPages });
  }
  return out;
}

describe('post-copy in the console', () => {
  it('the plan form offers post-copy with its risk, and Start asks the user to accept it', async () => {
    const { page } = h;
    await nav(page, 'Migrate');
    await page.getByLabel('Source host').selectOption('box');
    await page.getByLabel('Target host').selectOption('box2');
    await page.getByLabel('PID').fill(String(sleeper.pid));
    await page.getByLabel('Work dir (both hosts)').fill(`${h.home.home}/ferry-work`);
    expect(await page.getByTestId('postcopy-risk').count()).toBe(0);
    await page.getByLabel('Mode', { exact: true }).selectOption('postcopy');
    expect(await page.getByTestId('postcopy-risk').textContent()).toMatch(/if box dies or the link between them drops before the last page arrives, the process is lost/);

    // Preflight for real over SSH (criu is missing here; slow on a busy machine): override the blockers to reach the dialog.
    await page.getByRole('button', { name: 'Run preflight' }).click();
    await page.getByTestId('preflight-summary').waitFor({ timeout: 120_000 });
    await page.getByLabel(/Override blockers/).check();
    await page.getByRole('button', { name: /^Start/ }).click();
    const dialog = page.getByRole('dialog', { name: 'Start this migration?' });
    await dialog.waitFor();
    expect(await dialog.textContent()).toContain('(post-copy)');
    const go = dialog.getByRole('button', { name: 'Start migration' });
    expect(await go.isDisabled()).toBe(true);
    const accept = dialog.getByTestId('postcopy-accept');
    expect(await accept.textContent()).toMatch(/if box dies .* the process is lost .* I accept this/);
    await accept.getByRole('checkbox').check();
    expect(await go.isDisabled()).toBe(false);
    await accept.getByRole('checkbox').uncheck();
    expect(await go.isDisabled()).toBe(true);
    await h.screenshot('postcopy-start-dialog');
    await dialog.getByRole('button', { name: 'Cancel' }).click();
    await expect.poll(() => page.getByRole('dialog').count()).toBe(0);
  }, 240_000);

  it('the dashboard shows "pages still on SOURCE" and the pages progress until the last page arrived', async () => {
    const { page } = h;
    const plan = newPlan({ source: 'lab-source', target: 'lab-target', pid: 50200, targetAddress: '10.0.0.2', mode: 'postcopy' });
    const emit = (e: EngineEvent) => h.engine.events.emit(e);
    emit({ type: 'migration-started', migrationId: ID, plan, at: at(0) });
    for (const [i, phase] of (['preflight', 'cutover', 'restore'] as const).entries()) emit({ type: 'phase', migrationId: ID, phase, at: at(i) });
    emit({ type: 'phase', migrationId: ID, phase: 'postcopy', at: at(7), note: 'pages still on lab-source' });
    const progress = recordedProgress();
    expect(progress.length).toBeGreaterThan(2);
    const label = 'post-copy: pages still on lab-source → lab-target';
    const send = (p: { done: number; total: number }) =>
      emit({ type: 'transfer', migrationId: ID, label, doneBytes: p.done * LAZY_PAGE_SIZE, totalBytes: p.total * LAZY_PAGE_SIZE });
    const mid = progress[Math.floor(progress.length / 2)]!;
    for (const p of progress.slice(0, Math.floor(progress.length / 2) + 1)) send(p);

    await page.getByTestId('dashboard').waitFor();
    const state = page.getByTestId('postcopy-state');
    await state.waitFor();
    expect(await state.textContent()).toMatch(/Post-copy: pages still on lab-source\. PID 50200 runs on lab-target/);
    expect(await page.locator('.topbar [data-testid="phase"]').getAttribute('data-phase')).toBe('postcopy');
    expect(await page.locator('[data-testid="phase-timeline"] [data-status="current"]').getAttribute('data-phase')).toBe('postcopy');
    const bar = page.getByRole('progressbar', { name: label });
    await expect.poll(() => bar.getAttribute('aria-valuenow')).toBe(String(mid.done * LAZY_PAGE_SIZE));
    expect(await bar.getAttribute('aria-valuemax')).toBe(String(mid.total * LAZY_PAGE_SIZE));
    expect(await page.getByTestId('transfer').textContent()).toContain(`(${mid.done} of ${mid.total} pages)`);
    await h.screenshot('dashboard-postcopy', { fullPage: true });

    for (const p of progress.slice(Math.floor(progress.length / 2) + 1)) send(p);
    await expect.poll(() => page.getByTestId('transfer').textContent()).toContain('(33547 of 33547 pages)');
    emit({ type: 'decision', migrationId: ID, by: 'policy', action: 'post-copy complete', reason: 'all 33547 pages arrived on lab-target', at: at(18) });
    emit({ type: 'phase', migrationId: ID, phase: 'verify', at: at(18) });
    await expect.poll(() => page.getByTestId('postcopy-state').count()).toBe(0);
    emit({ type: 'phase', migrationId: ID, phase: 'committed', at: at(19) });
    emit({ type: 'outcome', migrationId: ID, outcome: 'committed', at: at(19), freezeWindowMs: 7545, summary: 'PID 50200 now runs on lab-target' });
    await page.getByTestId('outcome').waitFor();
    expect(await page.locator('[data-testid="phase-timeline"] [data-phase="precopy"]').count()).toBe(0);
  });
});

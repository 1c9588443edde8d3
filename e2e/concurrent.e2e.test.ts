/**
 * Many migrations at once in the console: two migrations' events through the real engine's
 * event stream (as two concurrent runs send them) show as a list, each with its phase, and
 * each row opens that migration's own dashboard. Needs `npm run build` first.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newPlan, type EngineEvent } from '../shared/api.ts';
import { startHarness, type Harness } from './harness.ts';

let h: Harness;

beforeAll(async () => {
  h = await startHarness({ hosts: ['box'] });
  await h.open();
});
afterAll(async () => {
  await h?.close();
});

const A = '2026-11-30T23-00-00Z-aaaaaa';
const B = '2026-11-30T23-00-01Z-bbbbbb';
const at = (s: number) => `2026-11-30T23:00:${String(s).padStart(2, '0')}.000Z`;
const emit = (...events: EngineEvent[]) => {
  for (const e of events) h.engine.events.emit(e);
};

describe('concurrent migrations', () => {
  it('lists both with their phases; each row opens its own dashboard', async () => {
    const { page } = h;
    await page.getByRole('navigation', { name: 'Views' }).getByRole('button', { name: 'Migrate', exact: true }).click();
    // The hosts came back over the bridge's socket: it is connected, and events reach the page.
    await page.getByLabel('Source host').selectOption('box');
    emit(
      { type: 'migration-started', migrationId: A, plan: newPlan({ source: 'box', target: 'box2', pid: 50000 }), at: at(0) },
      { type: 'phase', migrationId: A, phase: 'preflight', at: at(1) },
      { type: 'plan-resolved', migrationId: A, pid: 50000, pageServerPort: 27000, at: at(1), note: 'PID 50000 claimed on box; ports 27000-27001 reserved on box2' },
      // The second names its process by pidfile: its PID is known once preflight resolved it.
      { type: 'migration-started', migrationId: B, plan: newPlan({ source: 'box', target: 'box2', pid: 0, select: { kind: 'pidfile', path: '/run/b.pid' } }), at: at(2) },
      { type: 'phase', migrationId: B, phase: 'preflight', at: at(3) },
      { type: 'phase', migrationId: A, phase: 'precopy', at: at(4) },
    );
    const list = page.getByTestId('migration-list');
    await list.waitFor();
    const row = (id: string) => list.locator(`[data-testid="migration-row"][data-migration-id="${id}"]`);
    await row(B).waitFor();
    // The last event sent: once it shows, every one before it has been applied.
    await expect.poll(() => row(A).getAttribute('data-phase')).toBe('precopy');
    expect(await row(A).textContent()).toBe('PID 50000: box → box2 · port 27000');
    expect(await row(B).textContent()).toBe('pidfile /run/b.pid: box → box2 · port 27000');
    expect(await row(A).getAttribute('data-phase')).toBe('precopy');
    expect(await row(B).getAttribute('data-phase')).toBe('preflight');
    expect(await list.locator('h2').textContent()).toBe('Migrations 2 running');
    // The dashboard follows the first; the list says which one it shows.
    expect(await page.getByTestId('dashboard').getAttribute('data-migration-id')).toBe(A);
    expect(await row(A).getAttribute('aria-current')).toBe('page');

    emit({ type: 'plan-resolved', migrationId: B, pid: 50100, pageServerPort: 27002, at: at(5), note: 'pidfile /run/b.pid is PID 50100 on box' }, { type: 'phase', migrationId: B, phase: 'precopy', at: at(6) });
    await expect.poll(() => row(B).getAttribute('data-phase')).toBe('precopy');
    expect(await row(B).textContent()).toBe('PID 50100: box → box2 · port 27002');

    await row(B).click();
    await expect.poll(() => page.getByTestId('dashboard').getAttribute('data-migration-id')).toBe(B);
    expect(await page.getByTestId('dashboard').locator('h2').first().textContent()).toBe('PID 50100: box → box2');
    expect(await page.getByTestId('dashboard').textContent()).toContain('page server box2:27002');
    expect(await row(B).getAttribute('aria-current')).toBe('page');
    expect(await row(A).getAttribute('aria-current')).toBeNull();

    // One ends: its badge says so, the other still runs; Plan another migration stays offered.
    emit({ type: 'phase', migrationId: A, phase: 'committed', at: at(7) }, { type: 'outcome', migrationId: A, outcome: 'committed', at: at(7), summary: 'PID 50000 now runs on box2.' });
    await expect.poll(() => row(A).getAttribute('data-phase')).toBe('committed');
    expect(await list.locator('h2').textContent()).toBe('Migrations 1 running');
    await page.getByRole('button', { name: 'Plan another migration' }).waitFor();
    await h.screenshot('concurrent-migrations');
    expect(h.consoleErrors.filter((e) => /Content Security Policy|Refused to|pageerror/i.test(e))).toEqual([]);
  }, 120_000);
});

/**
 * The live dirty set on the dashboard (fed through the engine's own event stream: the
 * recorded converging run up to its cutover, then dirty samples arriving in bursts), and the
 * "Measure dirty rate" button against the real engine and a real process over ssh.
 * Needs `npm run build` first.
 */
import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EngineEvent } from '../shared/api.ts';
import { dirtySamples } from '../renderer/src/state/dirty-fixtures.ts';
import { at, CONVERGING_ID, convergingUntilCutover } from '../renderer/src/state/fixtures.ts';
import { startLoopbackPair, type Harness } from './harness.ts';

let h: Harness;
let sleeper: ChildProcess;

/** Does this kernel track soft-dirty pages? (Decides whether the probe can answer.) */
function kernelTracksSoftDirty(): boolean {
  const release = fs.readFileSync('/proc/sys/kernel/osrelease', 'utf8').trim();
  const config = fs.existsSync('/proc/config.gz') ? gunzipSync(fs.readFileSync('/proc/config.gz')).toString() : fs.existsSync(`/boot/config-${release}`) ? fs.readFileSync(`/boot/config-${release}`, 'utf8') : '';
  return /^CONFIG_MEM_SOFT_DIRTY=y$/m.test(config);
}

beforeAll(async () => {
  ({ h, sleeper } = await startLoopbackPair());
});

afterAll(async () => {
  sleeper?.kill();
  await h?.close();
});

const emit = (events: EngineEvent[]) => {
  for (const e of events) h.engine.events.emit(e);
};

describe('measure dirty rate', () => {
  it('runs the probe on the chosen process and shows its answer (or why this host cannot)', async () => {
    const { page } = h;
    await page.getByRole('navigation', { name: 'Views' }).getByRole('button', { name: 'Migrate', exact: true }).click();
    await page.getByLabel('Source host').selectOption('box');
    await page.getByLabel('Target host').selectOption('box2');
    const button = page.getByRole('button', { name: 'Measure dirty rate' });
    expect(await button.isDisabled()).toBe(true);
    await page.getByLabel('PID').fill(String(sleeper.pid));
    await page.getByLabel('Seconds to measure').fill('1');
    await button.click();
    if (kernelTracksSoftDirty()) {
      const result = page.getByTestId('dirty-probe-result');
      await result.waitFor({ timeout: 30_000 });
      expect(Number(await result.getAttribute('data-pages-per-sec'))).toBeGreaterThanOrEqual(0);
      expect(await page.getByTestId('dirty-probe-verdict').textContent()).toMatch(/pre-copy|converge/);
    } else {
      // This machine's kernel lacks CONFIG_MEM_SOFT_DIRTY: the engine says so, with the way out.
      const err = page.getByTestId('dirty-probe-error');
      await err.waitFor({ timeout: 30_000 });
      expect(await err.getAttribute('data-code')).toBe('soft-dirty-unsupported');
      expect(await err.textContent()).toMatch(/does not track soft-dirty pages/);
      expect(await err.textContent()).toMatch(/cold migration/);
    }
    await h.screenshot('dirty-probe');
  });
});

describe('the live dirty set on the dashboard', () => {
  it('moves between iterations: each burst of samples extends the live series and the KPI', async () => {
    const { page } = h;
    emit(convergingUntilCutover());
    await page.getByTestId('dashboard').waitFor();
    expect(await page.getByTestId('live-dirty-chart').count()).toBe(0);
    expect(await page.getByTestId('live-dirty').getAttribute('data-dirty-pages')).toBe('');
    const t0 = Date.parse(at('05:15:53.000'));
    const all = dirtySamples(CONVERGING_ID, 3, t0, 40);
    const chart = page.getByTestId('live-dirty-chart');
    const paths: string[] = [];
    for (const [from, to] of [
      [0, 8],
      [8, 20],
      [20, 40],
    ] as const) {
      emit(all.slice(from, to));
      const last = all[to - 1]!;
      await expect.poll(() => chart.getAttribute('data-last-dirty')).toBe(String(last.dirtyPages));
      expect(await chart.getAttribute('data-points')).toBe(String(to));
      expect(await chart.getAttribute('data-since')).toBe('3');
      expect(await page.getByTestId('live-dirty').getAttribute('data-dirty-pages')).toBe(String(last.dirtyPages));
      expect(await page.getByTestId('live-dirty').textContent()).toContain(new Intl.NumberFormat('en-US').format(last.dirtyPages));
      // The drawn line itself changes with every burst.
      const d = await chart.locator('.recharts-line-curve').first().getAttribute('d');
      expect(d).toBeTruthy();
      paths.push(d!);
    }
    expect(new Set(paths).size).toBe(3);
    // The per-iteration points are untouched: still one per pre-dump.
    expect(await page.getByTestId('convergence-point').count()).toBe(3);
    await h.screenshot('dashboard-live-dirty', { fullPage: true });
  });

  it('ran under the strict CSP without a violation or a page error', () => {
    expect(h.consoleErrors.filter((e) => /Content Security Policy|Refused to|pageerror/i.test(e))).toEqual([]);
  });
});

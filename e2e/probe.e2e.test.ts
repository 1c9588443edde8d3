/**
 * The service probe in the console, in Chromium against the real engine: set in the plan
 * form, run by the engine through a real cutover attempt, and shown on the dashboard beside
 * the freeze window. The test sshd has no CRIU, so the migration fails at its first CRIU step
 * and rolls back; the probe runs from just before that step until it settles after the
 * rollback. Its target is a real HTTP server here that refuses (503) its 4th to 8th requests:
 * the failure run is set by count, not by time. Needs `npm run build` first.
 */
import type { ChildProcess } from 'node:child_process';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fs from 'node:fs';
import { journalPath, readJournal, replay } from '../electron/engine/journal/journal.ts';
import { renderReport } from '../electron/engine/journal/report.ts';
import { fillColdPlan, startLoopbackPair, type Harness } from './harness.ts';

let h: Harness;
let sleeper: ChildProcess;
let server: http.Server;
let url: string;
let requests = 0;

beforeAll(async () => {
  server = http.createServer((_req, res) => {
    requests += 1;
    res.writeHead(requests >= 4 && requests <= 8 ? 503 : 200).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/health`;
  ({ h, sleeper } = await startLoopbackPair());
});

afterAll(async () => {
  sleeper?.kill();
  await h?.close();
  server?.closeAllConnections();
  await new Promise((r) => server?.close(r));
});

describe('client-visible downtime on the dashboard', () => {
  it('the plan form takes a probe; the dashboard shows the gap, the counts and the runs from the engine', { timeout: 240_000 }, async () => {
    const { page } = h;
    await fillColdPlan(h, sleeper.pid!);

    const fields = page.getByTestId('probe-fields');
    await fields.getByLabel('Service probe').selectOption('http');
    await fields.getByLabel('Probe URL').fill(url);
    await fields.getByLabel('Probe interval (ms)').fill('5');
    await page.getByRole('button', { name: 'Run preflight' }).click();
    // Out of bounds: refused next to the field, nothing sent.
    await fields.locator('[data-field="probeIntervalMs"] .field-error').waitFor();
    await fields.getByLabel('Probe interval (ms)').fill('20');
    expect(await fields.locator('.field-error').count()).toBe(0);

    await page.getByRole('button', { name: 'Run preflight' }).click();
    await page.getByTestId('preflight-summary').waitFor({ timeout: 120_000 });
    await page.getByLabel(/Override blockers/).check();
    await page.getByRole('button', { name: /^Start/ }).click();
    const dialog = page.getByRole('dialog', { name: 'Start this migration?' });
    await dialog.waitFor();
    await dialog.getByRole('button', { name: 'Start migration' }).click();

    await page.getByTestId('outcome').waitFor({ timeout: 120_000 });
    const panel = page.locator('[data-testid="client-downtime"][data-final="true"]');
    await panel.waitFor({ timeout: 30_000 });
    // Answered, refused (the 4th to 8th requests), answered again.
    expect(await panel.getByTestId('probe-run').evaluateAll((els) => els.map((e) => e.getAttribute('data-ok')))).toEqual(['true', 'false', 'true']);
    expect(await panel.getByTestId('probe-counts').textContent()).toMatch(/^\d+ \(\d+ answered, 5 failed\)$/);
    expect(await panel.getByTestId('probe-gap').textContent()).toMatch(/^[\d,]+ ms$/);
    // No CRIU on the test host: the freeze never began, and the panel says so beside the gap.
    expect(await panel.getByTestId('probe-freeze').textContent()).toBe('—');
    expect(await panel.getByTestId('probe-strip').getAttribute('aria-label')).toMatch(/^Probe timeline: answered .*, failed .*, answered /);
    expect(requests).toBeGreaterThan(8);
    // The outcome's summary carries the gap too.
    expect(await page.getByTestId('outcome').textContent()).toMatch(/Longest gap clients saw: \d+ ms \(http .* from local; 5 of \d+ attempts failed\)/);
    await h.screenshot('client-downtime', { fullPage: true });

    // The journal keeps the final result once (summary and runs), never an event per attempt; the report shows it.
    const id = await page.getByTestId('dashboard').getAttribute('data-migration-id');
    const lines = fs.readFileSync(journalPath(id!, { env: { FERRY_HOME: h.home.ferryHome } }), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { event?: { type: string; live?: boolean; result?: { runs: unknown[] } } });
    const probes = lines.filter((l) => l.event?.type === 'service-probe');
    expect(probes.map((l) => l.event!.live ?? false)).toEqual([false]);
    expect(probes[0]!.event!.result!.runs).toHaveLength(3);
    const report = renderReport(replay(readJournal(journalPath(id!, { env: { FERRY_HOME: h.home.ferryHome } })).records));
    expect(report).toMatch(/## Client-visible downtime[\s\S]*\| longest gap clients saw \| \d+ ms \|/);
  });

  it('ran under the strict CSP without a violation or a page error', () => {
    expect(h.consoleErrors.filter((e) => /Content Security Policy|Refused to|pageerror/i.test(e))).toEqual([]);
  });
});

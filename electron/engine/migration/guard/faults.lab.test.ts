/**
 * The cutover survives losing the console: CI's bounded subset of the fault matrix (every fault
 * once, some combined) against real CRIU in the lab, one boot. `npm run chaos` runs every
 * phase x fault (chaos.ts). After each cell: the process ran in at most one place at every
 * observation, runs in exactly one place once settled, its own verification is OK and its
 * counter went on, nothing is left behind, and the seconds from fault to settled are printed.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { journalPath, readJournal, replay } from '../../journal/journal.ts';
import { engineLab, FULL_LAB } from '../../testing/lab.ts';
import { cleanCell, row, runCell, TABLE_HEAD, type CellMode, type CellResult, type Fault, type FaultPhase } from './faults.testing.ts';

const lab = engineLab('ferry-faults-', 13);
const rows: string[] = [];

function expectOnePlace(r: CellResult, where?: 'source' | 'target'): void {
  rows.push(row(r));
  console.log(`[faults] ${TABLE_HEAD.split('\n')[0]}\n[faults] ${row(r)}${r.notes.length ? `\n[faults] notes: ${r.notes.join('; ')}` : ''}`);
  expect(r.injected, 'the fault went in at its phase').toBe(true);
  expect(r.bothSeen, 'observations with the process running on both hosts').toBe(0);
  expect(['source', 'target']).toContain(r.where);
  if (where) expect(r.where).toBe(where);
  expect(r.verify, "the workload's own verification").toBe('OK');
  expect(r.counterAfter ?? 0, 'the counter went on').toBeGreaterThan(r.counterBefore);
  expect(r.leftovers, 'left behind').toBe('');
}

const cell = (phase: FaultPhase, faults: Fault[], name: string, delayMs = 0, mode?: CellMode) => runCell({ env: lab.env, hub: lab.hub }, { phase, faults, name, delayMs, mode });

describe.skipIf(process.env.FERRY_SKIP_LAB === '1').sequential('the cutover survives losing the console (fault matrix, CI subset)', () => {
  lab.useInSuite(() => cleanCell({ env: lab.env, hub: lab.hub }));
  afterAll(() => console.log(`[faults]\n${TABLE_HEAD}\n${rows.join('\n')}`));

  it('console killed in the final dump while the hosts cannot reach each other: the guards hold, then the source resumes', async () => {
    const r = await cell('final-dump', ['console-killed', 'hosts-link-cut'], 'killdump', 1000);
    expectOnePlace(r, 'source');
    expect(r.settled).toBe('source resumed by guard');
    expect(r.outcome).toBe('rolled-back');
  }, 8 * 60_000);

  // The source's SSH link cut (from the host's side) rides on the frozen-target cell, the one cell
  // where the console lives on: it must see its source link die and hand over (a decision in its
  // journal), while the frozen target makes the guards wait. The console killed is the first cell's.
  it("the source's SSH link dies during the restore while the target is frozen: the console hands over, one copy, where the guards agreed", async () => {
    const r = await cell('restore', ['source-ssh-cut', 'target-frozen'], 'srcsshfrozen', 1000);
    expectOnePlace(r);
    // A restore the target guard had started ends with the copy kept there; otherwise the source resumes.
    expect(r.settled).toBe(r.where === 'target' ? 'target kept by guard' : 'source resumed by guard');
    const decisions = replay(readJournal(journalPath(r.migrationId!, { env: lab.env })).records).decisions.map((e) => `${e.action}: ${e.reason}`);
    expect(decisions.find((d) => d.startsWith('lease lost')), "the console saw its source link die").toMatch(/lease on lab-source ended/);
    expect(decisions.some((d) => d.startsWith('handed over to the guards')), 'the console handed over').toBe(true);
  }, 8 * 60_000);

  it("the target's SSH link dies during the restore: the console sees a dead link and the hosts still end with one copy", async () => {
    const r = await cell('restore', ['target-ssh-cut'], 'sshcut', 500);
    expectOnePlace(r);
  }, 8 * 60_000);

  it('the page server killed in the final dump: the console rolls back through the target guard', async () => {
    const r = await cell('final-dump', ['page-server-killed'], 'pskill', 300);
    expectOnePlace(r, 'source');
    expect(r.outcome).toBe('rolled-back');
  }, 8 * 60_000);

  // --- post-copy guard
  it.runIf(FULL_LAB)('post-copy: console killed while pages still follow: the target keeps its copy, the dump sends the last page on its own and ends the source copy', async () => {
    const r = await cell('postcopy', ['console-killed'], 'pckill', 1000, 'postcopy');
    expectOnePlace(r, 'target');
    expect(r.settled).toBe('target kept by guard');
    expect(r.outcome).toBe('committed');
  }, 8 * 60_000);

  it.runIf(FULL_LAB)('post-copy: console killed before the restore: the source guard stops the lazy dump and the source runs on', async () => {
    const r = await cell('lazy-pages', ['console-killed'], 'pcearly', 300, 'postcopy');
    expectOnePlace(r, 'source');
    expect(r.settled).toBe('source resumed by guard');
    expect(r.outcome).toBe('rolled-back');
  }, 8 * 60_000);
  // --- end post-copy guard
});

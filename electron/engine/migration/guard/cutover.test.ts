/**
 * The console's side of the wired guards, without a lab: how a source guard's state reads as a
 * settlement, and what the journal makes of the guards' decisions once a console journaled them
 * (`ferry journal list`'s "settled" column, the next step of an unfinished guarded migration).
 * The wiring itself runs against real CRIU in faults.lab.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { replay } from '../../journal/journal.ts';
import { MIGRATION_ID, convergingEvents } from '../../journal/journal.fixture.ts';
import { guardDir, guardPort, settledFrom } from './cutover.ts';
import { guardDecisionEvents, parseGuardStatus, type GuardLogEntry } from './guard.ts';

const status = (state: string, leaseLost = true) =>
  parseGuardStatus(`${JSON.stringify({ kind: 'state', found: true, alive: false, role: 'source', state, pid: 1, leaseLost })}\n`);

describe('settledFrom', () => {
  it('reads the source guard: resumed, killed, holding, or still the console’s', () => {
    expect(settledFrom(status('resumed'))).toBe('source resumed by guard');
    expect(settledFrom(status('killed'))).toBe('target kept by guard');
    expect(settledFrom(status('hold'))).toBe('held by guards');
    expect(settledFrom(status('frozen', false))).toBeUndefined();
    expect(settledFrom(status('released'))).toBeUndefined();
    expect(settledFrom(status('frozen', true))).toBe('guards did not settle');
  });

  it('puts the guard beside the images, never inside, and one port above the page server', () => {
    expect(guardDir('/var/lib/ferry', 'abc')).toBe('/var/lib/ferry/abc.guard');
    expect(guardPort(27000)).toBe(27001);
  });
});

describe('the journal of a guarded cutover', () => {
  const guardStart = (host: string) => ({
    type: 'command-started' as const,
    commandId: `g-${host}`,
    migrationId: MIGRATION_ID,
    host,
    argv: ['python3', `/var/lib/ferry/${MIGRATION_ID}.guard/guard.py`, 'start', `/var/lib/ferry/${MIGRATION_ID}.guard`, '--role', host === 'lab-source' ? 'source' : 'target'],
    sudo: false,
    startedAt: new Date().toISOString(),
  });

  it('an unfinished one says the guards settle on their own and recover reads what they did', () => {
    const events = convergingEvents({ stopAfter: 'final-dump' }).map((t) => t.event);
    const r = replay([guardStart('lab-source'), guardStart('lab-target'), ...events].map((event, i) => ({ seq: i, at: new Date().toISOString(), event })) as never, { id: MIGRATION_ID });
    expect(r.summary.finished).toBe(false);
    expect(r.summary.nextStep).toMatch(/^Cutover guards ran on lab-source and lab-target: .*ferry journal recover/);
    expect(r.summary.settled).toBeUndefined();
  });

  it("journaled guard decisions show in the summary as how the hosts settled (ferry journal list's column)", () => {
    const log: GuardLogEntry[] = [
      { at: '2026-11-30T10:00:00.000Z', mono: 1, role: 'source', event: 'lease-lost', ageMs: 10100, state: 'frozen' },
      { at: '2026-11-30T10:00:00.600Z', mono: 2, role: 'source', event: 'command', argv: ['kill', '-CONT', '--', '50000'], code: 0, ms: 3 },
      { at: '2026-11-30T10:00:00.610Z', mono: 3, role: 'source', event: 'state', from: 'frozen', to: 'resumed', why: 'no restore started: the target drops its images, the source copy resumes' },
      { at: '2026-11-30T10:00:00.620Z', mono: 4, role: 'source', event: 'no-answer', peer: '10.0.0.2:27001' },
    ];
    const decisions = guardDecisionEvents(MIGRATION_ID, 'lab-source', log);
    // The repeated no-answer lines are not decisions; the rest are, in the guard's own words.
    expect(decisions.map((d) => d.type === 'decision' && d.action)).toEqual(['guard on lab-source: lease-lost', 'guard on lab-source: ran kill -CONT -- 50000 (exit 0, 3 ms)', 'guard on lab-source: frozen → resumed']);
    const events = [...convergingEvents({ stopAfter: 'final-dump' }).map((t) => t.event), ...decisions, { type: 'decision', migrationId: MIGRATION_ID, by: 'policy', action: 'hosts settled', reason: 'source resumed by guard', at: new Date().toISOString() }];
    const r = replay(events.map((event, i) => ({ seq: i, at: new Date().toISOString(), event })) as never, { id: MIGRATION_ID });
    expect(r.summary.settled).toBe('source resumed by guard');
  });
});

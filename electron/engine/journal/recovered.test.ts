import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { createJournal, readJournal, replay, type Replay } from './journal.ts';
import { MIGRATION_ID, convergingEvents, type TimedEvent } from './journal.fixture.ts';
import { commitSummary, journaledCutover } from './recovered.ts';

function journaled(events: TimedEvent[]): Replay {
  let now = events[0]!.at;
  const home = mkdtempSync(path.join(os.tmpdir(), 'ferry-recovered-'));
  const j = createJournal(MIGRATION_ID, { env: { FERRY_HOME: home }, now: () => now });
  for (const e of events) {
    now = e.at;
    j.append(e.event);
  }
  j.close();
  const r = readJournal(j.path);
  return replay(r.records, { id: j.id });
}

describe('a commit recovered from the journal of an interrupted migration', () => {
  it('takes the freeze window from the journal: the final dump start to the restore end', () => {
    // The converging lab run, interrupted after the restore ended and before the outcome.
    const events = convergingEvents().filter((e) => e.event.type !== 'outcome' && !(e.event.type === 'phase' && ['verify', 'committed'].includes(e.event.phase)));
    const r = journaled(events);
    const c = journaledCutover(r);
    const dump = r.commands.find((x) => x.argv.includes('dump'))!;
    const restore = r.commands.find((x) => x.argv.includes('restore'))!;
    expect(c.freezeWindowMs).toBe(Date.parse(restore.endedAt!) - Date.parse(dump.startedAt));
    expect(c.freezeWindowMs).toBeGreaterThan(0);
    expect(c.preDumps).toBe(3);
    expect(c.predictedMs).toBe(Math.round(r.estimates[r.estimates.length - 1]!.estimate.predictedMs));
    const line = commitSummary({ pid: 50000, target: 'lab-target', ...c, recovered: true });
    expect(line).toBe(`PID 50000 now runs on lab-target; freeze window ${c.freezeWindowMs} ms (predicted ${c.predictedMs} ms) after 3 pre-dump(s), committed on recovery from the journal of an interrupted migration.`);
  });

  it('says the freeze window is not known when the journal has no end of the restore, never "undefined"', () => {
    const r = journaled(convergingEvents({ stopAfter: 'restore-started' }));
    const c = journaledCutover(r);
    expect(c.freezeWindowMs).toBeUndefined();
    const line = commitSummary({ pid: 50000, target: 'lab-target', ...c, recovered: true });
    expect(line).not.toMatch(/undefined|n\/a/);
    expect(line).toContain('freeze window not known');
    expect(line).toContain('after 3 pre-dump(s)');
  });

  it('names no prediction when nothing was predicted', () => {
    expect(commitSummary({ pid: 1, target: 't', preDumps: 0, recovered: true })).not.toMatch(/undefined|n\/a|predicted/);
  });
});

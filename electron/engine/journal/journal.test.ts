import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { EngineEvent } from '../../../shared/api.ts';
import { ferryFiles, ferryPaths } from '../../paths.ts';
import {
  REDACTED,
  createJournal,
  journalPath,
  listJournals,
  newJournalId,
  openJournal,
  readJournal,
  redact,
  redactArgv,
  replay,
  type JournalOptions,
} from './journal.ts';
import { MIGRATION_ID, convergingEvents, convergingPlan, type TimedEvent } from './journal.fixture.ts';

let home: string;
let opts: JournalOptions;
beforeEach(() => {
  home = fs.mkdtempSync(path.join(os.tmpdir(), 'ferry-journal-'));
  opts = { env: { FERRY_HOME: home } };
});
afterEach(() => {
  vi.restoreAllMocks();
  fs.rmSync(home, { recursive: true, force: true });
});

/** Journal timed events with the clock set to each event's own time. */
function write(events: TimedEvent[], id = MIGRATION_ID) {
  let now = events[0]?.at ?? new Date();
  const j = createJournal(id, { ...opts, now: () => now });
  for (const e of events) {
    now = e.at;
    j.append(e.event);
  }
  j.close();
  return j.path;
}

describe('append', () => {
  it('writes one fsynced JSON line per event, in FERRY_HOME, named by id; dir 0700, file 0600', () => {
    const fsync = vi.spyOn(fs, 'fsyncSync');
    const j = createJournal(MIGRATION_ID, { ...opts, now: () => new Date('2026-11-23T05:15:40.024Z') });
    expect(j.path).toBe(path.join(ferryFiles(ferryPaths({ FERRY_HOME: home })).journals, `${MIGRATION_ID}.jsonl`));
    const before = fsync.mock.calls.length;
    const rec = j.append({ type: 'migration-started', migrationId: MIGRATION_ID, plan: convergingPlan, at: '2026-11-23T05:15:40.024Z' });
    expect(fsync.mock.calls.length).toBe(before + 1);
    expect(rec.seq).toBe(1);
    j.append({ type: 'phase', migrationId: MIGRATION_ID, phase: 'precopy', at: '2026-11-23T05:15:40.100Z' });
    j.close();
    const text = fs.readFileSync(j.path, 'utf8');
    expect(text.split('\n')).toHaveLength(3);
    expect(text.startsWith('{"seq":1,"at":"2026-11-23T05:15:40.024Z","event":{"type":"migration-started"')).toBe(true);
    expect(readJournal(j.path).records.map((r) => [r.seq, r.event.type])).toEqual([
      [1, 'migration-started'],
      [2, 'phase'],
    ]);
    expect(fs.statSync(j.path).mode & 0o777).toBe(0o600);
    expect(fs.statSync(path.dirname(j.path)).mode & 0o777).toBe(0o700);
  });

  it('createJournal(plan) makes an id (time + random) and writes migration-started itself', () => {
    const j = createJournal(convergingPlan, { ...opts, now: () => new Date('2026-11-23T05:15:29.493Z') });
    expect(j.id).toMatch(/^2026-11-23T05-15-29Z-[0-9a-f]{6}$/);
    expect(path.basename(j.path)).toBe(`${j.id}.jsonl`);
    expect(() => j.append({ type: 'migration-started', migrationId: j.id, plan: convergingPlan, at: '' })).toThrow(/already has its migration-started/);
    j.close();
    const r = readJournal(j.path);
    expect(r.records[0]?.event).toMatchObject({ type: 'migration-started', migrationId: j.id });
    expect(newJournalId(new Date('2026-01-02T03:04:05.678Z'))).toMatch(/^2026-01-02T03-04-05Z-[0-9a-f]{6}$/);
  });

  it('refuses to append after the outcome, to a closed journal, or events of another migration', () => {
    const j = createJournal(MIGRATION_ID, opts);
    expect(() => j.append({ type: 'phase', migrationId: 'other', phase: 'precopy', at: '' })).toThrow(/does not belong/);
    j.append({ type: 'outcome', migrationId: MIGRATION_ID, outcome: 'rolled-back', at: '', summary: 'x' });
    expect(j.finished).toBe(true);
    expect(() => j.append({ type: 'phase', migrationId: MIGRATION_ID, phase: 'failed', at: '' })).toThrow(/already has its outcome/);
    j.close();
    expect(() => j.append({ type: 'phase', migrationId: MIGRATION_ID, phase: 'failed', at: '' })).toThrow(/closed/);
    // and after reopening
    const again = openJournal(MIGRATION_ID, opts);
    expect(() => again.append({ type: 'phase', migrationId: MIGRATION_ID, phase: 'failed', at: '' })).toThrow(/already has its outcome/);
    again.close();
  });

  it('never overwrites an existing journal', () => {
    createJournal(MIGRATION_ID, opts).close();
    expect(() => createJournal(MIGRATION_ID, opts)).toThrow(/EEXIST/);
  });

  it('rejects ids that could escape the journals directory', () => {
    expect(() => journalPath('../../etc/passwd', opts)).toThrow(/Not a migration id/);
    expect(() => journalPath('a/b', opts)).toThrow(/Not a migration id/);
  });
});

describe('secrets stay out of the journal', () => {
  it('redacts env-style assignments, secret-named options and fields, URL passwords', () => {
    expect(redactArgv(['env', 'AWS_SECRET=abc', 'DB_PASS=hunter2', 'LANG=C', 'criu', 'dump', '--password=pw', '--token', 'tkn', 'x=1'])).toEqual([
      'env',
      `AWS_SECRET=${REDACTED}`,
      `DB_PASS=${REDACTED}`,
      'LANG=C',
      'criu',
      'dump',
      `--password=${REDACTED}`,
      '--token',
      REDACTED,
      'x=1',
    ]);
    const e = redact<EngineEvent>({
      type: 'migration-started',
      migrationId: MIGRATION_ID,
      at: '',
      plan: { ...convergingPlan, healthCheck: { kind: 'http', url: 'https://ops:s3cr3t@app.internal/health', argv: ['curl', '-H', 'token: abc123'] } },
    });
    const text = JSON.stringify(e);
    expect(text).not.toMatch(/s3cr3t|abc123/);
    expect(text).toContain(`https://ops:${REDACTED}@app.internal/health`);
    const nested = redact({ session: { password: 'pw', passphrase: 'pp', apiToken: 'tt', port: 22 } });
    expect(nested).toEqual({ session: { password: REDACTED, passphrase: REDACTED, apiToken: REDACTED, port: 22 } });
  });

  it('append writes the redacted form', () => {
    const j = createJournal(MIGRATION_ID, opts);
    j.append({ type: 'command-started', commandId: 'c1', migrationId: MIGRATION_ID, host: 'h', argv: ['env', 'TOKEN=xyz', 'true'], sudo: false, startedAt: '' });
    j.append({ type: 'command-output', commandId: 'c1', migrationId: MIGRATION_ID, stream: 'stdout', text: 'password=hunter2\n' });
    j.close();
    const text = fs.readFileSync(j.path, 'utf8');
    expect(text).not.toMatch(/xyz|hunter2/);
  });
});

describe('readJournal', () => {
  it('tolerates a torn last line (crash mid-write) and reports it', () => {
    const p = write(convergingEvents().slice(0, 5));
    const whole = fs.readFileSync(p, 'utf8');
    fs.appendFileSync(p, '{"seq":6,"at":"2026-11-23T05:15:42.000Z","event":{"type":"phase","migr');
    const r = readJournal(p);
    expect(r.records).toHaveLength(5);
    expect(r.torn).toEqual({ line: 6, text: expect.stringContaining('"seq":6') });
    expect(r.damaged).toEqual([]);
    const rp = replay(r.records, { torn: r.torn });
    expect(rp.warnings[0]).toMatch(/line 6.*cut by a crash/);
    // Reopening keeps the torn bytes as evidence and starts the next record on a new line.
    const j = openJournal(MIGRATION_ID, opts);
    expect(j.seq).toBe(5);
    j.append({ type: 'phase', migrationId: MIGRATION_ID, phase: 'rolling-back', at: '2026-11-23T05:20:00.000Z' });
    j.close();
    const after = readJournal(p);
    expect(after.records.map((x) => x.seq)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(after.torn).toBeUndefined();
    expect(after.damaged).toHaveLength(1); // the old torn line, now in the middle
    expect(fs.readFileSync(p, 'utf8').startsWith(whole)).toBe(true);
  });

  it('a complete last record without its newline is kept', () => {
    const p = write(convergingEvents().slice(0, 3));
    fs.truncateSync(p, fs.statSync(p).size - 1);
    const r = readJournal(p);
    expect(r.records).toHaveLength(3);
    expect(r.torn).toBeUndefined();
  });
});

describe('replay of the converging lab run (real CRIU numbers)', () => {
  it('rebuilds phase, iterations, commands, estimates, decisions and outcome', () => {
    const r = readJournal(write(convergingEvents()));
    const rp = replay(r.records);
    expect(rp.id).toBe(MIGRATION_ID);
    expect(rp.phase).toBe('committed');
    expect(rp.iterations.map((i) => i.pagesWritten)).toEqual([33861, 5799, 2724, 2719]);
    expect(rp.iterations[3]?.frozenTimeUs).toBe(637775);
    expect(rp.estimates).toHaveLength(3);
    expect(rp.estimates.map((e) => e.recommendation.kind)).toEqual(['continue', 'continue', 'continue']);
    expect(rp.decisions.map((d) => d.action)).toEqual(['one-more', 'one-more', 'cutover-now']);
    expect(rp.commands).toHaveLength(10);
    const preDump1 = rp.commands[1]!;
    expect(preDump1).toMatchObject({ host: 'lab-source', code: 0, durationMs: 5892, finished: true, phase: 'precopy' });
    expect(preDump1.argv.slice(0, 4)).toEqual(['criu', 'pre-dump', '-t', '50000']);
    expect(rp.commands[9]).toMatchObject({ host: 'lab-target', phase: 'restore', durationMs: 1322 });
    expect(rp.commands[8]?.pipeTo?.host).toBe('lab-target');
    expect(rp.finalDumpDone).toBe(true);
    expect(rp.restoreDone).toBe(true);
    expect(rp.imagesRoot).toBe(`/var/lib/ferry/${MIGRATION_ID}`);
    expect(rp.outcome).toMatchObject({ outcome: 'committed', freezeWindowMs: 8997 });
    expect(rp.summary).toEqual({
      id: MIGRATION_ID,
      source: 'lab-source',
      target: 'lab-target',
      pid: 50000,
      process: 'PID 50000',
      startedAt: '2026-11-23T05:15:40.024Z',
      lastPhase: 'committed',
      finished: true,
      outcome: 'committed',
      nextStep: undefined,
    });
  });
});

describe('nextStep for an unfinished migration', () => {
  const stepAfter = (events: TimedEvent[], extra: EngineEvent[] = []) => {
    const all = [...events, ...extra.map((event) => ({ at: events[events.length - 1]!.at, event }))];
    return replay(readJournal(write(all)).records).summary;
  };

  it('during pre-copy: roll back the target, the source was never stopped', () => {
    const s = stepAfter(convergingEvents({ stopAfter: 'precopy' }));
    expect(s.finished).toBe(false);
    expect(s.lastPhase).toBe('precopy');
    expect(s.nextStep).toMatch(/^Roll back: stop the page server on lab-target \(criu page-server on port 27000/);
    expect(s.nextStep).toContain(`delete its images (/var/lib/ferry/${MIGRATION_ID} on lab-target)`);
    expect(s.nextStep).toContain('The source was never stopped');
  });

  it('before anything ran: nothing to undo', () => {
    const s = stepAfter(convergingEvents().slice(0, 2));
    expect(s.lastPhase).toBe('preflight');
    expect(s.nextStep).toMatch(/^Nothing to undo/);
  });

  it('final dump started but not finished: check the source state, then roll back', () => {
    const ev = convergingEvents({ stopAfter: 'final-dump' });
    const cut = ev.findIndex((e) => e.event.type === 'command-started' && e.event.argv[1] === 'dump');
    const s = stepAfter(ev.slice(0, cut + 1));
    expect(s.lastPhase).toBe('cutover');
    expect(s.nextStep).toMatch(/^The final dump on lab-source did not complete in the journal/);
    expect(s.nextStep).toContain('kill -CONT 50000');
    expect(s.nextStep).toMatch(/had not finished: check that no criu is still running there/);
  });

  it('after the final dump, before restore: the source is frozen; resume it', () => {
    const s = stepAfter(convergingEvents({ stopAfter: 'final-dump' }));
    expect(s.lastPhase).toBe('cutover');
    expect(s.nextStep).toMatch(/^The source tree is frozen on lab-source .*nothing was restored on lab-target/);
    expect(s.nextStep).toContain('`kill -CONT 50000` on lab-source');
  });

  it('during restore: check the target, then resume or kill the frozen source', () => {
    const s = stepAfter(convergingEvents({ stopAfter: 'restore-started' }));
    expect(s.lastPhase).toBe('restore');
    expect(s.nextStep).toMatch(/^The source tree is frozen on lab-source \(--leave-stopped\)\. Check whether the process runs on lab-target: `ps -o pid,stat,comm -p 50000` on lab-target\./);
    expect(s.nextStep).toContain('If it does not, resume the source with `kill -CONT 50000` on lab-source');
    expect(s.nextStep).toContain('kill the frozen source: `kill -KILL 50000` on lab-source');
    expect(s.nextStep).toContain('Never resume the source while the copy on lab-target runs');
  });

  it('during a rollback: lists its plan and where it stood', () => {
    const ev = convergingEvents({ stopAfter: 'final-dump' });
    const s = stepAfter(ev, [
      { type: 'rollback-plan', migrationId: MIGRATION_ID, steps: ['kill -CONT 50000 on lab-source', 'stop the page server on lab-target'], at: '' },
      { type: 'phase', migrationId: MIGRATION_ID, phase: 'rolling-back', at: '' },
    ]);
    expect(s.lastPhase).toBe('rolling-back');
    expect(s.nextStep).toMatch(/^A rollback was under way when the journal stops \(its plan: 1\. kill -CONT 50000 on lab-source 2\. stop the page server on lab-target\)\. Where it stood: The source tree is frozen/);
  });
});

describe('listJournals', () => {
  it('lists summaries newest first, unfinished ones with their next step', () => {
    const all = convergingEvents();
    write(all.map((e) => ({ at: e.at, event: shift(e.event, '2026-11-23T05-15-29Z-aaaaaa', 0) })), '2026-11-23T05-15-29Z-aaaaaa');
    const older = all.slice(0, 4).map((e) => ({ at: new Date(e.at.getTime() - 86_400_000), event: shift(e.event, '2026-11-22T05-15-29Z-bbbbbb', -86_400_000) }));
    write(older, '2026-11-22T05-15-29Z-bbbbbb');
    const l = listJournals(opts);
    expect(l.map((s) => s.id)).toEqual(['2026-11-23T05-15-29Z-aaaaaa', '2026-11-22T05-15-29Z-bbbbbb']);
    expect(l[0]?.finished).toBe(true);
    expect(l[1]?.finished).toBe(false);
    expect(l[1]?.nextStep).toBeDefined();
  });

  it('names a process by its selector when it never resolved to a PID (not "PID 0")', () => {
    const [started, ...rest] = convergingEvents().slice(0, 2);
    const ev = started!.event as Extract<EngineEvent, { type: 'migration-started' }>;
    const unresolved = { at: started!.at, event: { ...ev, plan: { ...ev.plan, pid: 0, select: { kind: 'unit' as const, unit: 'redis-server.service' } } } };
    const s = replay(readJournal(write([unresolved, ...rest])).records).summary;
    expect(s.pid).toBe(0);
    expect(s.process).toBe('unit redis-server.service');
  });

  it('is empty when there is no journal directory yet', () => {
    expect(listJournals(opts)).toEqual([]);
  });
});

function shift(e: EngineEvent, id: string, ms: number): EngineEvent {
  const moved = JSON.parse(JSON.stringify(e)) as Record<string, unknown>;
  if ('migrationId' in moved) moved.migrationId = id;
  if (typeof moved.at === 'string') moved.at = new Date(Date.parse(moved.at) + ms).toISOString();
  return moved as unknown as EngineEvent;
}

describe('write failure', () => {
  it('closes the journal and refuses further appends (no record glued to a partial line)', () => {
    const j = createJournal(MIGRATION_ID, opts);
    const spy = vi.spyOn(fs, 'fsyncSync').mockImplementationOnce(() => {
      throw Object.assign(new Error('ENOSPC: no space left on device'), { code: 'ENOSPC' });
    });
    expect(() => j.append({ type: 'phase', migrationId: MIGRATION_ID, phase: 'precopy', at: '' })).toThrow(/Could not write phase .*ENOSPC/);
    spy.mockRestore();
    expect(() => j.append({ type: 'phase', migrationId: MIGRATION_ID, phase: 'precopy', at: '' })).toThrow(/closed/);
  });
});

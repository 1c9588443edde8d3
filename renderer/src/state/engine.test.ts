import { describe, expect, it } from 'vitest';
import type { EngineEvent } from '../../../shared/api.ts';
import { activeMigration, applyEvent, applyEvents, commandsOf, emptyEngineState, latestEstimate, MAX_OUTPUT_CHARS } from './engine.ts';
import { commandHosts, commandLine, commandStatus, exitLabel } from './commands.ts';
import { timeline } from './timeline.ts';
import { at, CONVERGING_ID, convergingEvents, convergingUntilCutover, RECORDED_ITERATIONS } from './fixtures.ts';

const run = (events: EngineEvent[]) => applyEvents(emptyEngineState(), events);

describe('the converging migration (FACTS.md) folded into the store', () => {
  const s = run(convergingEvents());
  const m = s.migrations[CONVERGING_ID]!;

  it('follows the migration it saw start and records the plan', () => {
    expect(s.watchedMigrationId).toBe(CONVERGING_ID);
    expect(m.plan?.pid).toBe(50000);
    expect(m.startedAt).toBe(at('05:15:40.010'));
  });

  it('builds the phase timeline with the engine times, ending committed', () => {
    expect(m.phase).toBe('committed');
    expect(m.phases.map((p) => p.phase)).toEqual(['planned', 'preflight', 'precopy', 'cutover', 'restore', 'verify', 'committed']);
    const steps = timeline(m);
    expect(steps.map((x) => [x.phase, x.status])).toEqual([
      ['planned', 'done'],
      ['preflight', 'done'],
      ['precopy', 'done'],
      ['cutover', 'done'],
      ['restore', 'done'],
      ['verify', 'done'],
      ['committed', 'done'],
    ]);
    expect(steps.find((x) => x.phase === 'cutover')?.at).toBe(at('05:15:54.000'));
    expect(steps.find((x) => x.phase === 'committed')?.note).toBe('the process runs on lab-target');
    expect(activeMigration(s)).toBeUndefined();
  });

  it('keeps one chart point per iteration, with CRIU numbers unchanged', () => {
    expect(m.iterations.map((i) => i.index)).toEqual([1, 2, 3, 4]);
    expect(m.iterations.map((i) => i.pagesWritten)).toEqual([33861, 5799, 2724, 2719]);
    expect(m.iterations.map((i) => i.pagesSkippedParent)).toEqual([0, 28062, 31137, 31142]);
    expect(m.iterations.map((i) => i.kind)).toEqual(['pre-dump', 'pre-dump', 'pre-dump', 'dump']);
    expect(m.iterations[3]!.frozenTimeUs).toBe(637775);
    // Derived by the engine (shared/estimate.ts), stored as sent.
    expect(m.iterations[0]!.dirtyPagesPerSec).toBeUndefined();
    expect(m.iterations[1]!.dirtyPagesPerSec).toBeGreaterThan(0);
    expect(m.iterations[0]!.bandwidthBytesPerSec).toBeCloseTo((33861 * 4096) / 3.786016, 3);
  });

  it('a replayed iteration event replaces its point instead of adding one', () => {
    const again = applyEvent(s, convergingEvents().find((e) => e.type === 'iteration')!);
    expect(again.migrations[CONVERGING_ID]!.iterations).toHaveLength(4);
  });

  it('keeps every estimate, the latest one on top, tied to the iteration it followed', () => {
    expect(m.estimates.map((e) => e.afterIteration)).toEqual([1, 2, 3]);
    const last = latestEstimate(m)!;
    const sent = convergingEvents().filter((e): e is Extract<EngineEvent, { type: 'estimate' }> => e.type === 'estimate').pop()!;
    expect(last.estimate).toEqual(sent.estimate);
    expect(last.recommendation).toEqual(sent.recommendation);
    expect(last.estimate.budgetMs).toBe(300);
    expect(last.estimate.lowMs).toBeLessThanOrEqual(last.estimate.predictedMs);
    expect(last.estimate.highMs).toBeGreaterThanOrEqual(last.estimate.predictedMs);
  });

  it('logs every command with host, argv, duration and exit code; the image copy reads a | b', () => {
    const cmds = commandsOf(s.commands, CONVERGING_ID);
    // ps, 4 × (page server + pre-dump/dump), the image copy, restore, kill of the frozen source.
    expect(cmds).toHaveLength(12);
    expect(cmds.every((c) => c.finished?.code === 0)).toBe(true);
    expect(cmds.map(exitLabel).every((l) => l === 'exit 0')).toBe(true);
    const predump1 = cmds.find((c) => c.record.argv[1] === 'pre-dump')!;
    expect(predump1.record.host).toBe('lab-source');
    expect(predump1.finished?.durationMs).toBe(5892);
    const copy = cmds.find((c) => c.record.pipeTo)!;
    expect(commandHosts(copy.record)).toBe('lab-source → lab-target');
    expect(commandLine(copy.record)).toBe(
      `tar -C /root/converging/${CONVERGING_ID}/4 -cf - '--exclude=*.log' --exclude=stats-dump '--exclude=*.pid' . | tar -C /root/converging/${CONVERGING_ID}/4 -xf -`,
    );
    const ps = cmds[0]!;
    expect(ps.output.map((o) => o.text).join('')).toContain('50000       1   50000 141252 Ss  wl.py');
  });

  it('shows the outcome with the freeze window measured and predicted as sent', () => {
    expect(m.outcome?.outcome).toBe('committed');
    expect(m.outcome?.freezeWindowMs).toBe(8997);
    expect(m.outcome?.predictedMs).toBe(latestEstimate(m)!.estimate.predictedMs);
  });

  it('records the transfer and the user decision', () => {
    expect(m.transfer).toEqual({ label: 'copying the images', doneBytes: 51200, totalBytes: 51200 });
    expect(m.decisions).toEqual([{ by: 'user', action: 'cutover-now', reason: 'requested during precopy', at: at('05:15:53.990') }]);
  });
});

describe('mid-migration and failures', () => {
  it('is active (top bar) while pre-copy waits for the user', () => {
    const s = run(convergingUntilCutover());
    const m = activeMigration(s)!;
    expect(m.phase).toBe('precopy');
    expect(m.iterations).toHaveLength(3);
    expect(timeline(m).find((x) => x.phase === 'precopy')?.status).toBe('current');
    expect(timeline(m).find((x) => x.phase === 'cutover')?.status).toBe('pending');
  });

  it('a rollback branches the timeline, skips the rest of the main path, and keeps the error with host, evidence and hint', () => {
    const id = 'm-rb';
    const s = run([
      { type: 'migration-started', migrationId: id, plan: convergingEvents()[0]!.type === 'migration-started' ? (convergingEvents()[0] as Extract<EngineEvent, { type: 'migration-started' }>).plan : (undefined as never), at: at('06:00:00.000') },
      { type: 'phase', migrationId: id, phase: 'preflight', at: at('06:00:00.100') },
      { type: 'phase', migrationId: id, phase: 'precopy', at: at('06:00:01.000') },
      { type: 'phase', migrationId: id, phase: 'cutover', at: at('06:00:05.000') },
      { type: 'command-started', commandId: 'c1', migrationId: id, host: 'lab-target', argv: ['criu', 'restore', '-D', '/w/4', '-d'], sudo: true, startedAt: at('06:00:06.000') },
      { type: 'command-output', commandId: 'c1', migrationId: id, stream: 'stderr', text: 'Error (criu/cr-restore.c:1480): Can\'t fork for 50000: File exists\n' },
      { type: 'command-finished', commandId: 'c1', migrationId: id, code: 1, signal: null, durationMs: 812, timedOut: false, endedAt: at('06:00:06.812') },
      { type: 'error', migrationId: id, error: { code: 'criu-pid-taken', host: 'lab-target', message: 'PID 50000 is taken on lab-target', evidence: "Can't fork for 50000: File exists", hint: 'Free the PID on the target' } },
      { type: 'rollback-plan', migrationId: id, steps: ['resume the frozen process tree on lab-source (kill -CONT 50000)'], at: at('06:00:07.000') },
      { type: 'phase', migrationId: id, phase: 'rolling-back', at: at('06:00:07.001'), note: 'after an error' },
      { type: 'phase', migrationId: id, phase: 'rolled-back', at: at('06:00:08.000') },
      { type: 'outcome', migrationId: id, outcome: 'rolled-back', at: at('06:00:08.001'), summary: 'Rolled back' },
    ]);
    const m = s.migrations[id]!;
    expect(timeline(m).map((x) => `${x.phase}:${x.status}`)).toEqual([
      'planned:done',
      'preflight:done',
      'precopy:done',
      'cutover:done',
      'restore:skipped',
      'verify:skipped',
      'committed:skipped',
      'rolling-back:done',
      'rolled-back:done',
    ]);
    expect(m.errors[0]).toMatchObject({ host: 'lab-target', evidence: "Can't fork for 50000: File exists", hint: 'Free the PID on the target' });
    expect(m.rollbackPlan?.steps).toHaveLength(1);
    const c = commandsOf(s.commands, id)[0]!;
    expect(commandStatus(c)).toBe('failed');
    expect(exitLabel(c)).toBe('exit 1');
    expect(commandLine(c.record)).toBe('sudo criu restore -D /w/4 -d');
    expect(s.lastError).toBeUndefined();
  });

  it('a cold migration shows pre-copy as skipped', () => {
    const id = 'cold';
    const s = run([
      { type: 'phase', migrationId: id, phase: 'preflight', at: at('07:00:00.000') },
      { type: 'phase', migrationId: id, phase: 'cutover', at: at('07:00:01.000') },
    ]);
    expect(timeline(s.migrations[id]!).find((x) => x.phase === 'precopy')?.status).toBe('skipped');
  });

  it('a command that timed out or was killed says so', () => {
    const s = run([
      { type: 'command-started', commandId: 'x', host: 'h', argv: ['sleep', '999'], sudo: false, startedAt: at('08:00:00.000') },
      { type: 'command-finished', commandId: 'x', code: null, signal: 'KILL', durationMs: 60000, timedOut: true, endedAt: at('08:01:00.000') },
      { type: 'command-started', commandId: 'y', host: 'h', argv: ['sleep', '1'], sudo: false, startedAt: at('08:00:00.000') },
    ]);
    expect(exitLabel(s.commands.byId.x!)).toBe('timed out (signal KILL)');
    expect(commandStatus(s.commands.byId.x!)).toBe('timed-out');
    expect(commandStatus(s.commands.byId.y!)).toBe('running');
    // Commands outside a migration (preflight.run) are listed on their own.
    expect(commandsOf(s.commands, undefined)).toHaveLength(2);
  });

  it('caps a chatty command\'s output, keeping the newest text and counting what was dropped', () => {
    let s = run([{ type: 'command-started', commandId: 'c', host: 'h', argv: ['yes'], sudo: false, startedAt: at('09:00:00.000') }]);
    const chunk = 'y\n'.repeat(1000);
    for (let i = 0; i < 100; i++) s = applyEvent(s, { type: 'command-output', commandId: 'c', stream: i % 10 === 9 ? 'stderr' : 'stdout', text: chunk });
    const c = s.commands.byId.c!;
    expect(c.outputChars).toBe(MAX_OUTPUT_CHARS);
    expect(c.droppedChars).toBe(100 * chunk.length - MAX_OUTPUT_CHARS);
    expect(c.output.map((o) => o.text).join('').length).toBe(MAX_OUTPUT_CHARS);
    expect(c.output[c.output.length - 1]!.stream).toBe('stderr');
  });

  it('session states feed the trust prompt; a changed key leaves the failed state with its error', () => {
    const prompt = { alias: 'box', host: '127.0.0.1', port: 2222, keyType: 'ssh-ed25519', fingerprint: 'SHA256:' + 'A'.repeat(43) };
    let s = run([{ type: 'session-state', alias: 'box', state: { kind: 'awaiting-trust', prompt } }]);
    expect(s.trustPrompt).toEqual(prompt);
    s = applyEvent(s, { type: 'session-state', alias: 'box', state: { kind: 'ready' } });
    expect(s.trustPrompt).toBeUndefined();
    s = applyEvent(s, { type: 'session-state', alias: 'moved', state: { kind: 'failed', error: { code: 'host-key-changed', host: 'moved', message: 'WARNING: CHANGED' } } });
    expect(s.sessions.moved).toMatchObject({ kind: 'failed', error: { code: 'host-key-changed' } });
  });

  it('a second console follows a new migration only when the one it follows has finished', () => {
    const plan = (convergingEvents()[0] as Extract<EngineEvent, { type: 'migration-started' }>).plan;
    let s = run([{ type: 'migration-started', migrationId: 'a', plan, at: at('10:00:00.000') }]);
    s = applyEvent(s, { type: 'migration-started', migrationId: 'b', plan, at: at('10:00:01.000') });
    expect(s.watchedMigrationId).toBe('a');
    s = applyEvent(s, { type: 'outcome', migrationId: 'a', outcome: 'failed', at: at('10:00:02.000'), summary: 'x' });
    s = applyEvent(s, { type: 'migration-started', migrationId: 'c', plan, at: at('10:00:03.000') });
    expect(s.watchedMigrationId).toBe('c');
  });

  it('lab progress and errors outside a migration', () => {
    const s = run([
      { type: 'lab-progress', progress: { step: 'image', message: 'downloading', fraction: 0.5 } },
      { type: 'error', error: { code: 'x', message: 'boom' } },
    ]);
    expect(s.labProgress).toHaveLength(1);
    expect(s.lastError?.message).toBe('boom');
  });
});

it('the recorded iterations are the ones in FACTS.md', () => {
  expect(RECORDED_ITERATIONS.map((r) => r.written)).toEqual([33861, 5799, 2724, 2719]);
});

/**
 * Traffic hooks in real migrations (real CRIU in the lab VMs): hooks on this machine, the
 * source and the target run at their phase boundaries, in order, and a failing before-cutover
 * hook aborts the cutover with nothing dumped and the drain undone.
 */
import fs, { rmSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { LOCAL_HOST } from '../../../shared/api.ts';
import type { Hook } from '../../../shared/domain.ts';
import { startWorkload, workloadStatus } from '../../lab/index.ts';
import { journalPath, readJournal, replay } from '../journal/journal.ts';
import { renderReport, renderRunbook } from '../journal/report.ts';
import { engineLab, WORKLOAD_PID } from '../testing/lab.ts';

const lab = engineLab('ferry-hooks-', 6);
const { root, env, plan, sh, pidsOn, waitForCounterAbove, migrate } = lab;
// Marker files the hooks write: on this machine in the test's own directory, on the VMs in /tmp.
const LOCAL_MARKS = path.join(root, 'marks');
const VM_MARKS = '/tmp/ferry-hook-marks';

/** A hook that appends "<label> <epoch seconds.ns> <state of the workload on its host>" to a marker file. */
function marker(name: string, on: Hook['on'], file: string): Hook {
  const dir = on === 'local' ? LOCAL_MARKS : VM_MARKS;
  return {
    name,
    on,
    argv: ['sh', '-c', 'mkdir -p "$1" && printf "%s %s %s\\n" "$2" "$(date +%s.%N)" "$(cut -d" " -f3 /proc/$3/stat 2>/dev/null || echo absent)" >> "$1/$4"', 'mark', dir, name, String(WORKLOAD_PID), file],
    timeoutMs: 30_000,
  };
}

async function cleanVms() {
  await lab.cleanVms([VM_MARKS]);
  rmSync(LOCAL_MARKS, { recursive: true, force: true });
}

/** Marker lines as [label, seconds since the epoch, process state]. */
function parseMarks(text: string): Array<[string, number, string]> {
  return text
    .trim()
    .split('\n')
    .filter(Boolean)
    .map((l) => {
      const [label, at, state] = l.split(' ');
      return [label!, Number(at), state!];
    });
}

const criuSub = (argv: string[]) => argv[argv.findIndex((a) => a === 'criu') + 1];

describe.skipIf(process.env.FERRY_SKIP_LAB === '1').sequential('traffic hooks against real CRIU', () => {
  lab.useInSuite(cleanVms);

  it('runs hooks on this machine, the source and the target in order around the cutover; the migration commits', async () => {
    const name = 'hooks';
    // Small: the hooks' order around the cutover is the point, not the size.
    await startWorkload({ env, host: 'source', mib: 16, rate: 1000, pid: WORKLOAD_PID, name }, lab.hub);
    const before = await waitForCounterAbove('source', name, 0);
    const p = plan({
      hooks: {
        beforeCutover: [marker('drain-lb', 'local', 'local'), marker('stop-accepting', 'source', 'source')],
        afterRestore: [marker('switch-target', 'target', 'target'), marker('undrain-lb', 'local', 'local')],
        onRollback: [marker('undo', 'local', 'rollback')],
      },
    });
    const m = migrate(p, (e, control) => {
      if (e.type === 'estimate') control('cutover-now');
    });
    const r = await m.done;
    expect(r.error).toBeUndefined();
    expect(r.outcome).toBe('committed');
    const after = await waitForCounterAbove('target', name, before.counter);
    expect(after.verify).toBe('OK');
    expect(after.bad).toBe(0);

    // Order in the journal: both before-cutover hooks ended before the final dump started;
    // after-restore hooks ran after the restore and the verification, before the source was killed.
    const j = replay(readJournal(journalPath(m.id, { env })).records);
    expect(j.hooks.map((h) => `${h.phase}:${h.name}:${h.outcome}`)).toEqual([
      'before-cutover:drain-lb:ok',
      'before-cutover:stop-accepting:ok',
      'after-restore:switch-target:ok',
      'after-restore:undrain-lb:ok',
    ]);
    const seqOf = (pred: (c: (typeof j.commands)[number]) => boolean) => j.commands.find(pred)?.seq ?? -1;
    const dump = j.commands.find((c) => criuSub(c.argv) === 'dump')!;
    const restore = j.commands.find((c) => c.argv.includes('restore'))!;
    const hookCmd = (n: string) => j.commands.find((c) => c.hook?.name === n)!;
    expect(hookCmd('stop-accepting').host).toBe('lab-source');
    expect(hookCmd('switch-target').host).toBe('lab-target');
    expect(hookCmd('drain-lb').host).toBe(LOCAL_HOST);
    expect(hookCmd('stop-accepting').seq).toBeLessThan(dump.seq);
    expect(hookCmd('switch-target').seq).toBeGreaterThan(restore.seq);
    const killSource = seqOf((c) => c.host === 'lab-source' && c.argv[0] === 'kill' && c.argv[1] === '-KILL');
    expect(hookCmd('undrain-lb').seq).toBeLessThan(killSource);

    // The markers themselves: on this machine, timestamps around the final dump and restore
    // (same clock as the journal); on the VMs, what each hook saw of the workload.
    const local = parseMarks(fs.readFileSync(path.join(LOCAL_MARKS, 'local'), 'utf8'));
    expect(local.map((x) => x[0])).toEqual(['drain-lb', 'undrain-lb']);
    expect(local[0]![1] * 1000).toBeLessThan(Date.parse(dump.startedAt));
    expect(local[1]![1] * 1000).toBeGreaterThan(Date.parse(restore.endedAt!));
    expect(fs.existsSync(path.join(LOCAL_MARKS, 'rollback'))).toBe(false);
    const src = parseMarks((await sh('lab-source', 'cat "$1"/source', VM_MARKS)).stdout);
    // Before the final dump the workload still ran on the source (not frozen: state S or R).
    expect(src.map((x) => [x[0], x[2]])).toEqual([['stop-accepting', expect.stringMatching(/^[SR]$/)]]);
    const tgt = parseMarks((await sh('lab-target', 'cat "$1"/target', VM_MARKS)).stdout);
    // After restore it already ran on the target when the hook switched traffic there.
    expect(tgt.map((x) => [x[0], x[2]])).toEqual([['switch-target', expect.stringMatching(/^[SR]$/)]]);

    // Report and runbook name every hook run; the local one runs without ssh in the runbook.
    const report = renderReport(j);
    expect(report).toContain('## Traffic hooks');
    for (const n of ['drain-lb', 'stop-accepting', 'switch-target', 'undrain-lb']) expect(report).toContain(n);
    const runbook = renderRunbook(j);
    expect(runbook).toMatch(/before-cutover hook "drain-lb"\)\n'sh' '-c' /);
    expect(runbook).toMatch(/before-cutover hook "stop-accepting"\)\nssh -n lab-source -- /);
  }, 15 * 60_000);

  it('a failing before-cutover hook aborts the cutover: nothing dumped, the source never frozen, the drain undone, nothing left on the target', async () => {
    const name = 'hookfail';
    await startWorkload({ env, host: 'source', mib: 32, rate: 1000, pid: WORKLOAD_PID, name }, lab.hub);
    await waitForCounterAbove('source', name, 0);
    const p = plan({
      mode: 'cold',
      hooks: {
        beforeCutover: [marker('drain-lb', 'local', 'local'), { name: 'refuse', on: 'source', argv: ['sh', '-c', 'echo "the load balancer said no" >&2; exit 7'], timeoutMs: 30_000 }, marker('never', 'local', 'local')],
        afterRestore: [],
        onRollback: [marker('undrain-lb', 'local', 'local'), marker('source-undo', 'source', 'source')],
      },
    });
    const m = migrate(p);
    const r = await m.done;
    expect(r.outcome).toBe('rolled-back');
    expect(r.error?.code).toBe('hook-failed');
    expect(r.error?.host).toBe('lab-source');
    expect(r.error?.message).toMatch(/before-cutover hook "refuse" failed on lab-source: exit 7/);
    expect(r.error?.evidence).toBe('the load balancer said no');

    const j = replay(readJournal(journalPath(m.id, { env })).records);
    // No dump of any kind ran: cold mode never pre-dumps, and the final dump (and its page server) never started.
    expect(j.commands.filter((c) => c.argv.includes('criu') && ['dump', 'pre-dump', 'page-server', 'restore'].includes(criuSub(c.argv) ?? '')).map((c) => c.argv.join(' '))).toEqual([]);
    expect(j.finalDumpDone).toBe(false);
    expect(j.hooks.map((h) => `${h.phase}:${h.name}:${h.outcome}`)).toEqual([
      'before-cutover:drain-lb:ok',
      'before-cutover:refuse:failed',
      'on-rollback:undrain-lb:ok',
      'on-rollback:source-undo:ok',
    ]);
    // The rollback announced the hooks it would run, before running them.
    expect(j.rollbackPlans[0]!.steps.join('\n')).toMatch(/on-rollback hook "undrain-lb" on local/);
    expect(j.rollbackPlans[0]!.steps.join('\n')).toMatch(/on-rollback hook "source-undo" on lab-source/);
    expect(j.summary.outcome).toBe('rolled-back');

    // The undo ran after the drain, with the workload running on the source (never frozen).
    const local = parseMarks(fs.readFileSync(path.join(LOCAL_MARKS, 'local'), 'utf8'));
    expect(local.map((x) => x[0])).toEqual(['drain-lb', 'undrain-lb']);
    expect(local[1]![1]).toBeGreaterThan(local[0]![1]);
    const src = parseMarks((await sh('lab-source', 'cat "$1"/source', VM_MARKS)).stdout);
    expect(src.map((x) => [x[0], x[2]])).toEqual([['source-undo', expect.stringMatching(/^[SR]$/)]]);
    const s1 = await workloadStatus('source', { env, name }, lab.hub);
    await new Promise((res) => setTimeout(res, 2500));
    const s2 = await workloadStatus('source', { env, name }, lab.hub);
    expect(s2.counter).toBeGreaterThan(s1.counter);
    expect(s2.verify).toBe('OK');
    expect((await pidsOn('lab-source')).get(WORKLOAD_PID)).toMatch(/^[SR]/);
    // Nothing on the target: no process, no images, no page server.
    expect((await pidsOn('lab-target')).has(WORKLOAD_PID)).toBe(false);
    const leftovers = await sh('lab-target', 'ls /var/lib/ferry 2>/dev/null; ss -Htln "sport = :27000"; pgrep -x criu; exit 0');
    expect(leftovers.stdout.trim()).toBe('');
  }, 15 * 60_000);
});

/**
 * The evacuation playbook against the lab (one boot, slot 16): ansible-playbook from Debian's
 * ansible-core runs `ferry migrate --plan FILE --auto --json` for plan files written by
 * `ferry plan new`, two at a time. Small self-verifying workloads (8 MiB). Every plan names the
 * same page-server port, as `ferry plan new` writes it: the engine reserves a free pair from the
 * plan's range on the target, so two migrations at once never reach for one port.
 */
import { execa } from 'execa';
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { startWorkload } from '../electron/lab/index.ts';
import { engineLab } from '../electron/engine/testing/lab.ts';
import { FERRY_CLI, migrationSpan, runEvacuation } from './testing.ts';

const lab = engineLab('ferry-evacuate-lab-', 16);
// Outside the lab's root (removed at the end): the run directories and, after a failure, the
// journals stay for a look; removed when every test passed.
const kept = mkdtempSync(path.join(os.tmpdir(), 'ferry-evacuate-runs-'));
let passed = 0;
afterAll(() => {
  if (passed === 1) rmSync(kept, { recursive: true, force: true });
  else process.stdout.write(`[evacuate] run directories and journals kept in ${kept}\n`);
});

/** The workloads as the source's ps shows them: printed before each rollout. */
async function showWorkloads(when: string): Promise<void> {
  const ps = await lab.sh('lab-source', 'ps -eo pid,stat,etime,rss,args | grep -e "[f]erry-workload" -e "[c]riu"; exit 0');
  process.stdout.write(`[evacuate] on lab-source ${when}:\n${ps.stdout}`);
}

interface Workload {
  name: string;
  pid: number;
}

/** Start each workload on the source and write its plan with the real CLI; the counters before. */
async function prepare(ws: Workload[]): Promise<{ plans: string[]; before: Map<string, number> }> {
  const before = new Map<string, number>();
  const plans: string[] = [];
  for (const w of ws) {
    const started = await startWorkload({ env: lab.env, host: 'source', mib: 8, rate: 200, pid: w.pid, name: w.name }, lab.hub);
    // The plan names the PID the workload got (the one asked for, unless something forked in between).
    if (started.pid !== w.pid) process.stdout.write(`[evacuate] ${w.name} asked for PID ${w.pid}, got ${started.pid}\n`);
    w.pid = started.pid;
    plans.push(await planFile(w));
  }
  for (const w of ws) before.set(w.name, (await lab.waitForCounterAbove('source', w.name, 0)).counter);
  return { plans, before };
}

async function planFile(w: Workload): Promise<string> {
  // 6 s: the lab's downtime budget under TCG (as `ferry rehearse` uses). The policy cuts over
  // rather than rolling back when pre-copy stops converging: two guests' worth of migrations
  // share one host CPU here, and this suite is about the rollout, not the policy.
  const r = await execa(
    FERRY_CLI[0]!,
    [...FERRY_CLI.slice(1), 'plan', 'new', '--source', 'lab-source', '--target', 'lab-target', '--pid', String(w.pid), '--max-downtime', '6s', '--on-not-converging', 'cutover', '--auto'],
    { env: lab.env },
  );
  const file = path.join(lab.root, `${w.name}.yaml`);
  await writeFile(file, r.stdout);
  return file;
}

/** The workload runs on the target only, and its own check of its memory says OK. */
async function expectMovedIntact(w: Workload, counterBefore: number): Promise<void> {
  const after = await lab.waitForCounterAbove('target', w.name, counterBefore);
  expect(after.verify, `${w.name} verifies its memory on the target`).toBe('OK');
  expect(after.bad).toBe(0);
  const [src, tgt] = await Promise.all([lab.pidsOn('lab-source'), lab.pidsOn('lab-target')]);
  expect(tgt.get(w.pid), `${w.name} (PID ${w.pid}) on the target`).toMatch(/^[SR]/);
  expect(src.has(w.pid), `${w.name} (PID ${w.pid}) still on the source`).toBe(false);
}

describe.skipIf(process.env.FERRY_SKIP_LAB === '1').sequential('evacuating a host with the playbook (lab)', () => {
  lab.useInSuite();
  // Before the lab (and its journals) go: keep the journals beside the run directories.
  afterAll(() => {
    if (passed !== 1) cpSync(path.join(lab.env.FERRY_HOME!, 'data', 'journals'), path.join(kept, 'journals'), { recursive: true });
  });

  // One rollout covers both: three workloads move two at a time, and a plan that fails in
  // preflight is reported while the others still move (one boot, one rollout: CI's lab time).
  it('moves three workloads two at a time, each verified on the target, and reports a plan that fails preflight while the others still move', async () => {
    const ws: Workload[] = [
      { name: 'evac-a', pid: 50000 },
      { name: 'evac-b', pid: 50100 },
      { name: 'evac-c', pid: 50200 },
    ];
    const { plans, before } = await prepare(ws);
    // Nothing runs as PID 50300 on the source: this one fails in preflight.
    const ghost = await planFile({ name: 'evac-ghost', pid: 50300 });
    const runDir = path.join(kept, 'run-all');
    await showWorkloads('before the rollout');
    // Batches of two: evac-a and evac-b side by side, then the ghost beside evac-c. One failure
    // is allowed, so evac-c's batch still starts and moves.
    const r = await runEvacuation({ plans: [plans[0]!, plans[1]!, ghost, plans[2]!], runDir, env: lab.env, parallel: 2, maxFailures: 1 });
    process.stdout.write(`\n[evacuate] three workloads and one plan failing in preflight, two at a time:\n${r.table ?? r.output.slice(-4000)}\n`);
    expect(r.exitCode, r.output.slice(-4000)).toBe(2);
    expect(r.rows?.map((x) => [x.plan, x.outcome, x.runs_on])).toEqual([
      ['evac-a', 'committed', 'lab-target'],
      ['evac-b', 'committed', 'lab-target'],
      ['evac-ghost', 'failed', 'lab-source'],
      ['evac-c', 'committed', 'lab-target'],
    ]);
    for (const row of r.rows!.filter((x) => x.outcome === 'committed')) {
      expect(row.freeze_window_ms).toBeGreaterThan(0);
      expect(row.unit).toMatch(/^ferry-.+\.scope$/);
    }
    const ghostRow = r.rows![2]!;
    expect(ghostRow.error).toMatch(/^preflight-failed: .*50300/);
    expect(ghostRow.freeze_window_ms).toBeNull();
    expect(r.table).toContain('3 of 4 moved');
    expect(r.table).toMatch(/^evac-ghost: preflight-failed: /m);
    expect(r.output).toContain('1 of 4 did not move');
    // Two at a time: the first two ran side by side, the third began once both had ended.
    const [a, b, c] = ws.map((w) => migrationSpan(runDir, w.name));
    expect(a!.startedAt).toBeLessThan(b!.endedAt);
    expect(b!.startedAt).toBeLessThan(a!.endedAt);
    expect(c!.startedAt).toBeGreaterThanOrEqual(Math.max(a!.endedAt, b!.endedAt));
    for (const w of ws) await expectMovedIntact(w, before.get(w.name)!);
    passed++;
  }, 12 * 60_000);
});

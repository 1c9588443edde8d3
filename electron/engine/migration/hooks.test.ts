/**
 * Remote traffic hooks through the CommandRunner over a real OpenSSH server on 127.0.0.1:
 * a source or target hook runs on that host's session, is recorded with its hook, and its
 * exit code and timeout become the hook's outcome.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { newPlan, type EngineEvent } from '../../../shared/api.ts';
import type { Hook, MigrationPlan } from '../../../shared/domain.ts';
import { SshHub } from '../../ssh/index.ts';
import { hostBlock, knownHostsLine, makeTestHome, type TestHome } from '../../ssh/testing/fixture.ts';
import { startSshd, type TestSshd } from '../../ssh/testing/sshd.ts';
import { describeHook, hookError, runHooks } from './hooks.ts';
import { journalPath, createJournal, readJournal, replay } from '../journal/journal.ts';
import { renderReport, renderRunbook } from '../journal/report.ts';
import { CommandRunner } from '../commands/runner.ts';

let sshd: TestSshd;
let th: TestHome;
let hub: SshHub;

beforeAll(async () => {
  th = makeTestHome();
  sshd = await startSshd();
  // Source and target are two aliases of the same test sshd.
  fs.writeFileSync(th.sshConfig, [hostBlock('src', sshd), hostBlock('dst', sshd)].join('\n'));
  fs.writeFileSync(th.userKnownHosts, knownHostsLine(sshd));
  hub = new SshHub({ env: th.env, killGraceMs: 500 });
});
afterAll(async () => {
  await hub?.closeAll();
  await sshd?.stop();
  th?.cleanup();
});

let journals = 0;
// Generous: a busy machine's sshd can take long to start a login shell; only 'hang' is meant to time out.
const hook = (over: Partial<Hook>): Hook => ({ name: 'h', on: 'source', argv: ['true'], timeoutMs: 120_000, ...over });

function setup(hooks: MigrationPlan['hooks']) {
  const plan = newPlan({ source: 'src', target: 'dst', pid: 4242, hooks });
  const migrationId = `2026-11-23T08-00-00Z-abc12${++journals}`;
  const journal = createJournal(migrationId, { env: th.env });
  const events: EngineEvent[] = [];
  const record = (e: EngineEvent) => {
    journal.append(e);
    events.push(e);
  };
  record({ type: 'migration-started', migrationId, plan, at: new Date().toISOString() });
  const run = new CommandRunner(record, (a) => hub.session(a), () => 'root', migrationId);
  return { plan, migrationId, journal, events, ctx: { plan, migrationId, run, record, env: th.env } };
}

describe('remote hooks over ssh', () => {
  test('source and target hooks run on their host, in order; outcomes, timeouts and records as the journal replays them', { timeout: 600_000 }, async () => {
    const marks = path.join(th.home, 'marks');
    const write = (label: string) => ['sh', '-c', 'echo "$1 $(id -un)" >> "$2"', 'sh', label, marks];
    const { events, journal, migrationId, plan, ctx } = setup({
      beforeCutover: [hook({ name: 'drain', on: 'source', argv: write('drain') }), hook({ name: 'check', on: 'target', argv: ['sh', '-c', 'echo "pool busy" >&2; exit 9'] }), hook({ name: 'never', on: 'target', argv: write('never') })],
      afterRestore: [],
      onRollback: [hook({ name: 'hang', on: 'target', argv: ['sleep', '60'], timeoutMs: 400 }), hook({ name: 'undrain', on: 'source', argv: write('undrain') })],
    });
    const before = await runHooks(ctx, 'before-cutover', 'stop');
    // On a mismatch, say why each hook ended as it did.
    expect(before.map((r) => [r.hook.name, r.host, r.outcome]), JSON.stringify(before.map((r) => [r.detail, r.evidence]))).toEqual([
      ['drain', 'src', 'ok'],
      ['check', 'dst', 'failed'],
    ]);
    const err = hookError('before-cutover', before[1]!, 'Ferry did not cut over.');
    expect(err).toMatchObject({ code: 'hook-failed', host: 'dst', message: 'The before-cutover hook "check" failed on dst: exit 9', evidence: 'pool busy', hint: 'Ferry did not cut over.' });

    const rollback = await runHooks(ctx, 'on-rollback', 'all');
    expect(rollback.map((r) => [r.hook.name, r.outcome]), JSON.stringify(rollback.map((r) => [r.detail, r.evidence]))).toEqual([
      ['hang', 'timed-out'],
      ['undrain', 'ok'],
    ]);
    expect(hookError('on-rollback', rollback[0]!, 'x').code).toBe('hook-timeout');
    // Both ran as the test sshd's user, in order; the hook after the failure never ran.
    const user = (await hub.session('src').exec(['id', '-un'])).stdout.trim();
    expect(fs.readFileSync(marks, 'utf8')).toBe(`drain ${user}\nundrain ${user}\n`);
    journal.close();

    const j = replay(readJournal(journalPath(migrationId, { env: th.env })).records);
    expect(j.hooks.map((h) => `${h.phase}:${h.name}:${h.outcome}`)).toEqual(['before-cutover:drain:ok', 'before-cutover:check:failed', 'on-rollback:hang:timed-out', 'on-rollback:undrain:ok']);
    const cmds = j.commands.map((c) => [c.host, c.hook?.name, c.code ?? null, c.timedOut]);
    expect(cmds).toEqual([
      ['src', 'drain', 0, false],
      ['dst', 'check', 9, false],
      ['dst', 'hang', null, true],
      ['src', 'undrain', 0, false],
    ]);
    // Each hook event points at its command.
    for (const h of j.hooks) expect(j.commands.find((c) => c.commandId === h.commandId)?.hook?.name).toBe(h.name);
    expect(events.filter((e) => e.type === 'hook')).toHaveLength(4);

    const report = renderReport(j);
    expect(report).toMatch(/\| before-cutover \| check \| dst \| failed \| .* \| exit 9 \|/);
    expect(report).toMatch(/\| on-rollback \| hang \| dst \| timed-out \|/);
    const runbook = renderRunbook(j);
    expect(runbook).toMatch(/on src, .*\(before-cutover hook "drain"\)\nssh -n src -- "'sh' '-c' /);
    // The failed and timed-out hooks are commented out like any failed command.
    expect(runbook).toMatch(/\(before-cutover hook "check"\): exit 9\n# ssh -n dst -- "'sh' '-c' /);
    expect(describeHook(plan, 'on-rollback', plan.hooks!.onRollback[1]!)).toBe(`the on-rollback hook "undrain" on src: 'sh' '-c' 'echo "$1 $(id -un)" >> "$2"' 'sh' 'undrain' '${marks}'`);
  });

  test('a local hook in the runbook runs without ssh and names the variables it needs', async () => {
    const { journal, migrationId, ctx } = setup({
      beforeCutover: [hook({ name: 'drain', on: 'local', argv: ['sh', '-c', 'test -n "$LB_TOKEN"'], env: ['LB_TOKEN'] })],
      afterRestore: [],
      onRollback: [],
    });
    const runs = await runHooks({ ...ctx, env: { ...th.env, LB_TOKEN: 'sekret-value' } }, 'before-cutover', 'stop');
    expect(runs[0]!.outcome).toBe('ok');
    journal.close();
    const text = fs.readFileSync(journalPath(migrationId, { env: th.env }), 'utf8');
    expect(text).not.toContain('sekret-value');
    const runbook = renderRunbook(replay(readJournal(journalPath(migrationId, { env: th.env })).records));
    expect(runbook).toMatch(/on local, .*\(before-cutover hook "drain"; needs LB_TOKEN in the environment\)\n'sh' '-c' 'test -n "\$LB_TOKEN"'\n/);
  });
});

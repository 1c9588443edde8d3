/**
 * Commands on this machine (local traffic hooks) through the CommandRunner, as real
 * processes: recorded like remote commands under the host 'local', with exit codes, streamed
 * output, a timeout that stops the whole process group, and no secret in any record.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { LOCAL_HOST, newPlan, type EngineEvent } from '../../../shared/api.ts';
import type { Hook } from '../../../shared/domain.ts';
import { FerryError } from '../../../shared/errors.ts';
import { runHook, runHooks } from '../migration/hooks.ts';
import { LocalHost } from './local.ts';
import { CommandRunner } from './runner.ts';

let dir: string;
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ferry-local-'));
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

function runner(env: NodeJS.ProcessEnv = process.env) {
  const events: EngineEvent[] = [];
  const run = new CommandRunner(
    (e) => events.push(e),
    () => {
      throw new Error('no remote host in this test');
    },
    () => 'root',
    'mig-1',
    new LocalHost({ env, killGraceMs: 300 }),
  );
  return { run, events };
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

describe('CommandRunner on the local host', () => {
  test('records the command like a remote one, streams its output, returns its exit code', async () => {
    const { run, events } = runner();
    const r = await run.run(LOCAL_HOST, ['sh', '-c', 'echo out; echo err >&2; exit 3']);
    expect(r).toMatchObject({ host: LOCAL_HOST, code: 3, signal: null, stdout: 'out\n', stderr: 'err\n', timedOut: false });
    const started = events.find((e) => e.type === 'command-started');
    expect(started).toMatchObject({ host: LOCAL_HOST, argv: ['sh', '-c', 'echo out; echo err >&2; exit 3'], sudo: false, migrationId: 'mig-1' });
    const output = events.flatMap((e) => (e.type === 'command-output' ? [`${e.stream}:${e.text}`] : []));
    expect(output.sort()).toEqual(['stderr:err\n', 'stdout:out\n']);
    expect(events[events.length - 1]).toMatchObject({ type: 'command-finished', code: 3, timedOut: false });
  });

  test('a timeout stops the command and everything it started (its process group)', async () => {
    const { run, events } = runner();
    const pidFile = path.join(dir, 'child.pid');
    // The shell starts a child that would outlive a plain kill of the shell.
    const r = await run.run(LOCAL_HOST, ['sh', '-c', 'sleep 300 & echo $! > "$1"; wait', 'sh', pidFile], { timeoutMs: 500 });
    expect(r.timedOut).toBe(true);
    expect(r.code).toBeNull();
    expect(r.signal).toBe('TERM');
    const child = Number(fs.readFileSync(pidFile, 'utf8').trim());
    expect(child).toBeGreaterThan(1);
    // Reaped by init shortly after the group's TERM.
    for (let i = 0; i < 50 && alive(child); i++) await new Promise((res) => setTimeout(res, 100));
    expect(alive(child)).toBe(false);
    expect(events[events.length - 1]).toMatchObject({ type: 'command-finished', timedOut: true });
  });

  test('a program that does not exist is an error naming this machine, recorded as finished without a code', async () => {
    const { run, events } = runner();
    const e = await run.run(LOCAL_HOST, ['ferry-no-such-program-xyz']).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(FerryError);
    expect((e as FerryError).code).toBe('local-command-failed');
    expect((e as FerryError).host).toBe(LOCAL_HOST);
    expect((e as FerryError).message).toMatch(/ferry-no-such-program-xyz.*no such program/);
    expect(events.map((x) => x.type)).toEqual(['command-started', 'command-finished']);
  });

  test('runs with a minimal environment: only the base variables and the ones a hook names', async () => {
    const { run } = runner({ PATH: process.env.PATH, HOME: '/home/x', SECRET_TOKEN: 's3cr3t', OTHER: 'no' });
    const r = await run.run(LOCAL_HOST, ['env'], { env: { LB_TOKEN: 'abc' } });
    const vars = Object.fromEntries(r.stdout.trim().split('\n').map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
    expect(vars.HOME).toBe('/home/x');
    expect(vars.LB_TOKEN).toBe('abc');
    expect(vars.SECRET_TOKEN).toBeUndefined();
    expect(vars.OTHER).toBeUndefined();
  });
});

describe('hooks on the local host', () => {
  const plan = newPlan({ source: 'src', target: 'dst', pid: 4242 });
  const hook = (over: Partial<Hook>): Hook => ({ name: 'drain', on: 'local', argv: ['true'], timeoutMs: 5000, ...over });

  test('a hook run is a command marked with its hook plus a hook event; env values never reach a record', async () => {
    const { run, events } = runner({ PATH: process.env.PATH, LB_TOKEN: 'tok-123456' });
    const out = path.join(dir, 'drained');
    const h = hook({ argv: ['sh', '-c', 'printf %s "$LB_TOKEN" > "$1"; echo drained', 'sh', out], env: ['LB_TOKEN'] });
    const r = await runHook({ plan, migrationId: 'mig-1', run, record: (e) => events.push(e), env: { LB_TOKEN: 'tok-123456' } }, 'before-cutover', h);
    expect(r.outcome).toBe('ok');
    expect(fs.readFileSync(out, 'utf8')).toBe('tok-123456');
    const started = events.find((e) => e.type === 'command-started');
    expect(started).toMatchObject({ host: LOCAL_HOST, hook: { phase: 'before-cutover', name: 'drain', on: 'local', env: ['LB_TOKEN'] } });
    const ev = events.find((e) => e.type === 'hook');
    expect(ev).toMatchObject({ type: 'hook', phase: 'before-cutover', name: 'drain', on: 'local', outcome: 'ok', commandId: started && 'commandId' in started ? started.commandId : 'x' });
    expect(JSON.stringify(events)).not.toContain('tok-123456');
  });

  test('failing, timing out and missing variables are failed runs; stop mode ends at the first failure, all mode runs every hook', async () => {
    const { run, events } = runner();
    const ctx = { plan, migrationId: 'mig-1', run, record: (e: EngineEvent) => events.push(e), env: {} as NodeJS.ProcessEnv };
    const p = {
      ...plan,
      hooks: {
        beforeCutover: [hook({ name: 'a', argv: ['sh', '-c', 'echo nope >&2; exit 4'] }), hook({ name: 'b' })],
        afterRestore: [],
        onRollback: [hook({ name: 'slow', argv: ['sleep', '30'], timeoutMs: 300 }), hook({ name: 'needs-env', env: ['NOT_SET_ANYWHERE'] }), hook({ name: 'fine' })],
      },
    };
    const stop = await runHooks({ ...ctx, plan: p }, 'before-cutover', 'stop');
    expect(stop.map((r) => [r.hook.name, r.outcome, r.detail, r.evidence])).toEqual([['a', 'failed', 'exit 4', 'nope']]);
    const all = await runHooks({ ...ctx, plan: p }, 'on-rollback', 'all');
    expect(all.map((r) => [r.hook.name, r.outcome])).toEqual([
      ['slow', 'timed-out'],
      ['needs-env', 'failed'],
      ['fine', 'ok'],
    ]);
    expect(all[1]!.detail).toMatch(/NOT_SET_ANYWHERE not set/);
    const hookEvents = events.flatMap((e) => (e.type === 'hook' ? [`${e.phase}:${e.name}:${e.outcome}`] : []));
    expect(hookEvents).toEqual(['before-cutover:a:failed', 'on-rollback:slow:timed-out', 'on-rollback:needs-env:failed', 'on-rollback:fine:ok']);
    // The hook whose variable is missing never started: no command for it.
    expect(events.filter((e) => e.type === 'command-started').map((e) => (e.type === 'command-started' ? e.hook?.name : ''))).toEqual(['a', 'slow', 'fine']);
  });
});

describe('an interrupted migration whose hooks ran', () => {
  test('the next step after a crash says to undo the hooks with the on-rollback ones, once the source runs', async () => {
    const { replay } = await import('../journal/journal.ts');
    const plan = newPlan({
      source: 'src',
      target: 'dst',
      pid: 4242,
      hooks: { beforeCutover: [{ name: 'drain', on: 'local', argv: ['true'], timeoutMs: 1000 }], afterRestore: [], onRollback: [{ name: 'undrain', on: 'local', argv: ['true'], timeoutMs: 1000 }] },
    });
    const at = '2026-11-23T08:00:00.000Z';
    const id = 'm1';
    const events: EngineEvent[] = [
      { type: 'migration-started', migrationId: id, plan, at },
      { type: 'phase', migrationId: id, phase: 'cutover', at },
      { type: 'command-started', commandId: 'c1', migrationId: id, host: LOCAL_HOST, argv: ['true'], sudo: false, startedAt: at, hook: { phase: 'before-cutover', name: 'drain', on: 'local' } },
      { type: 'command-finished', commandId: 'c1', migrationId: id, code: 0, signal: null, durationMs: 5, timedOut: false, endedAt: at },
      { type: 'hook', migrationId: id, phase: 'before-cutover', name: 'drain', on: 'local', commandId: 'c1', outcome: 'ok', durationMs: 5, at },
    ];
    const r = replay(events.map((event, i) => ({ seq: i + 1, at, event })));
    expect(r.hooks.map((h) => h.name)).toEqual(['drain']);
    expect(r.commands[0]!.hook?.name).toBe('drain');
    expect(r.summary.nextStep).toMatch(/The source was never stopped/);
    expect(r.summary.nextStep).toMatch(/Traffic hooks ran: after the process runs on src again, undo them with the plan's on-rollback hooks \("undrain" on this machine\)/);
    // Once the on-rollback hooks ran, there is nothing more to say about them.
    const undone = replay([...events, { type: 'hook', migrationId: id, phase: 'on-rollback', name: 'undrain', on: 'local', outcome: 'ok', durationMs: 1, at } as EngineEvent].map((event, i) => ({ seq: i + 1, at, event })));
    expect(undone.summary.nextStep).not.toMatch(/Traffic hooks ran/);
  });
});

describe('stdin for local commands', () => {
  test('data and streams reach the command', async () => {
    const { run } = runner();
    expect((await run.run(LOCAL_HOST, ['cat'], { stdin: 'hello' })).stdout).toBe('hello');
    expect((await run.run(LOCAL_HOST, ['wc', '-c'], { stdin: Buffer.alloc(100_000, 1) })).stdout.trim()).toBe('100000');
    const file = path.join(dir, 'in.txt');
    fs.writeFileSync(file, 'from a stream');
    expect((await run.run(LOCAL_HOST, ['cat'], { stdin: fs.createReadStream(file) })).stdout).toBe('from a stream');
    // Without stdin, a command reading it sees end of file at once instead of hanging.
    expect((await run.run(LOCAL_HOST, ['cat'], { timeoutMs: 10_000 })).timedOut).toBe(false);
  });
});

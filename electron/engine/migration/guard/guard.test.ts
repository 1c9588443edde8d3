/**
 * The cutover guards on this machine: two real guard processes (source and target roles),
 * real TCP on 127.0.0.1 between them, a real frozen tree and real restored processes.
 * After each case: no observation saw two running copies; once settled, exactly one runs.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { describe, expect, test, type TestContext } from 'vitest';
import { GuardClient, EXIT_REFUSED, guardDecisionEvents, guardDecisions, parseGuardStatus } from './guard.ts';
import { LOCAL_HOST } from '../../../../shared/api.ts';
import { failingRestore, fakeRestore, isRunning, procState, sleepMs, startPair, stateOf, until, type Pair } from './guard.testing.ts';

/** A pair for one test, cleaned up when it ends (the cases run concurrently: each waits mostly on leases). */
async function pairFor(ctx: TestContext, o?: Parameters<typeof startPair>[0]): Promise<Pair> {
  const p = await startPair(o);
  ctx.onTestFinished(() => p.cleanup());
  return p;
}

/** Wait until the source guard has settled; print the time from lease loss. */
async function settled(p: Pair, lostAt: number, label: string, timeoutMs = 20_000): Promise<string> {
  const s = await until('the source guard to settle', async () => {
    const st = stateOf(p.source.dir);
    return st === 'resumed' || st === 'killed' ? st : undefined;
  }, timeoutMs);
  // The state file is replaced just before the log line is appended: wait for the line too.
  const log = await until('the settling log line', async () => (await p.source.status()).log.find((e) => e.event === 'state' && (e.to === 'resumed' || e.to === 'killed')));
  console.log(`[guard] ${label}: settled (${s}) ${Date.now() - lostAt} ms after the lease was lost (guard's own count: ${String(log?.sinceLeaseLostMs)} ms from lease-lost)`);
  return s;
}

function expectOneCopy(p: Pair): void {
  p.observer.stop();
  expect(p.observer.both, 'observations with two running copies').toBe(0);
  expect(p.observer.running(), 'running copies once settled').toBe(1);
}

describe.concurrent('cutover guard, source and target on this machine', () => {
  test('lease lost before any restore: the target aborts and drops its images, the source resumes, a late restore is refused', async (ctx) => {
    const p = await pairFor(ctx);
    expect(procState(p.tree.pid)).toBe('T');
    const lostAt = await p.loseLease();
    expect(await settled(p, lostAt, 'lease lost before restore')).toBe('resumed');
    expect(procState(p.tree.pid)).toMatch(/^[SR]/);
    const { source, target } = await p.status();
    expect(target.state?.state).toBe('aborted');
    expect(existsSync(p.images)).toBe(false);
    expect(source.log.some((e) => e.event === 'command' && (e.argv as string[]).join(' ') === `kill -CONT -- ${p.tree.pid}`)).toBe(true);
    // What the console will journal when it reaches the hosts again.
    const journal = [...guardDecisionEvents('m1', 'source', source.log), ...guardDecisionEvents('m1', 'target', target.log)].map((e) => (e.type === 'decision' ? `${e.action} | ${e.reason}` : ''));
    expect(journal).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^guard on source: lease-lost/),
        expect.stringMatching(/^guard on source: frozen → resumed \| no restore started/),
        `guard on source: ran kill -CONT -- ${p.tree.pid} (exit 0, ${String(source.log.find((e) => e.event === 'command')?.ms)} ms) | `,
        expect.stringMatching(/^guard on target: waiting → aborted/),
        expect.stringMatching(/^guard on target: answered target-clear to the source \(source copy frozen\)/),
      ]),
    );
    // A restore command that arrives late is refused by the target guard: nothing starts.
    const late = await p.target.restore(fakeRestore(p.pidfile), 10_000);
    expect(late.result.code).toBe(EXIT_REFUSED);
    expect(late.reply?.refused).toMatch(/aborted/);
    await sleepMs(300);
    expect(p.restoredPid()).toBeUndefined();
    expectOneCopy(p);
    // Every command the console ran is recorded; the secret never is.
    expect(JSON.stringify(p.events)).not.toContain(p.secret);
    expect(p.events.filter((e) => e.type === 'command-started').length).toBeGreaterThan(4);
  });

  test("only the target's lease lost: the target aborts by itself and refuses the restore; the source, asked later, resumes", async (ctx) => {
    const p = await pairFor(ctx);
    const [sourceLease, targetLease] = p.leases;
    await targetLease!.stop();
    await until('the target to abort on its own lease', () => stateOf(p.target.dir) === 'aborted');
    expect(String((await p.target.status()).log.find((e) => e.event === 'state')?.why)).toMatch(/lease ran out before any restore/);
    expect(existsSync(p.images)).toBe(false);
    expect(stateOf(p.source.dir)).toBe('frozen');
    expect((await p.target.restore(fakeRestore(p.pidfile), 10_000)).result.code).toBe(EXIT_REFUSED);
    const lostAt = Date.now();
    await sourceLease!.stop();
    expect(await settled(p, lostAt, 'target lease first, then source')).toBe('resumed');
    expectOneCopy(p);
  });

  test('lease lost while the restore runs: the source waits, then the restored copy is kept and the source copy killed', async (ctx) => {
    const p = await pairFor(ctx);
    const restoring = p.target.restore(fakeRestore(p.pidfile, 6), 30_000);
    await until('restore-started', () => stateOf(p.target.dir) === 'restoring');
    const lostAt = await p.loseLease();
    await until('the source to be told to wait', () => stateOf(p.source.dir) === 'settling');
    expect(procState(p.tree.pid)).toBe('T');
    expect((await restoring).result.code).toBe(0);
    expect(await settled(p, lostAt, 'lease lost while restore running')).toBe('killed');
    expect(isRunning(p.restoredPid())).toBe(true);
    expect((await p.target.status()).state?.state).toBe('kept');
    expectOneCopy(p);
  });

  test('restore succeeded, then the lease is lost: the target keeps its copy, the source copy is killed', async (ctx) => {
    const p = await pairFor(ctx);
    const r = await p.target.restore(fakeRestore(p.pidfile), 30_000);
    expect(r.result.code).toBe(0);
    expect(r.reply?.state).toBe('restored');
    const lostAt = await p.loseLease();
    expect(await settled(p, lostAt, 'restore succeeded')).toBe('killed');
    const { source, target } = await p.status();
    expect(target.state?.state).toBe('kept');
    expect(source.log.some((e) => e.event === 'command' && (e.argv as string[])[1] === '-KILL')).toBe(true);
    // A second restore is refused: the guard already ran one.
    expect((await p.target.restore(fakeRestore(`${p.pidfile}.2`), 10_000)).result.code).toBe(EXIT_REFUSED);
    expectOneCopy(p);
  });

  test('restore failed and nothing runs on the target: the source resumes', async (ctx) => {
    const p = await pairFor(ctx);
    const r = await p.target.restore(failingRestore, 30_000);
    expect(r.result.code).toBe(1);
    expect(r.result.stderr).toContain('fake restore failure');
    expect(r.reply?.state).toBe('restore-failed');
    const lostAt = await p.loseLease();
    expect(await settled(p, lostAt, 'restore failed')).toBe('resumed');
    expect((await p.target.status()).state?.state).toBe('aborted');
    expectOneCopy(p);
  });

  test('past the commit point: the source copy is killed when the console is lost before killing it', async (ctx) => {
    const p = await pairFor(ctx);
    expect((await p.target.restore(fakeRestore(p.pidfile), 30_000)).result.code).toBe(0);
    expect(await p.target.commit()).toMatchObject({ ok: true, state: 'committed' });
    const lostAt = await p.loseLease();
    expect(await settled(p, lostAt, 'past commit')).toBe('killed');
    expect((await p.target.status()).state?.state).toBe('committed');
    expectOneCopy(p);
  });

  test('lease lost while criu dump still holds the tree (ptrace): the source waits for it, then resumes', async (ctx) => {
    const p = await pairFor(ctx);
    // A stand-in for criu dump: it seizes the tree with ptrace for a few seconds, as the dump does.
    const holder = spawn('python3', ['-c', 'import ctypes,sys,time\nctypes.CDLL(None).ptrace(0x4206, int(sys.argv[1]), 0, 0)\nprint("held", flush=True)\ntime.sleep(float(sys.argv[2]))', String(p.tree.pid), '6'], { stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise((r) => holder.stdout!.once('data', r));
    const lostAt = await p.loseLease();
    await until('the source guard to wait for the dump', () => stateOf(p.source.dir) === 'settling');
    const s = await p.source.status();
    expect(String(s.log.find((e) => e.event === 'state' && e.to === 'settling')?.why)).toMatch(/criu dump/);
    expect(s.log.some((e) => e.event === 'answer')).toBe(false);
    expect(procState(p.tree.pid)).toMatch(/^[Tt]/);
    await new Promise((r) => holder.once('exit', r));
    expect(await settled(p, lostAt, 'dump still running')).toBe('resumed');
    expectOneCopy(p);
  });

  // --- post-copy guard: the source tree is held by criu's lazy dump for the whole page transfer.
  test('post-copy, lease lost before the restore: the source guard stops the lazy dump, the tree runs on, then the daemon goes', async (ctx) => {
    const p = await pairFor(ctx, { lazy: true });
    const lazy = p.lazy!;
    expect(procState(p.tree.pid)).toBe('t');
    const lostAt = await p.loseLease();
    expect(await settled(p, lostAt, 'post-copy, lease lost before restore')).toBe('resumed');
    expect(procState(p.tree.pid)).toMatch(/^[SR]/);
    await until('the lazy dump to be gone', () => lazy.dump.exitCode !== null || lazy.dump.signalCode !== null);
    expect(lazy.dump.signalCode).toBe('SIGTERM');
    const { source, target } = await p.status();
    expect(target.state?.state).toBe('aborted');
    expect(source.log.some((e) => e.event === 'lazy-dump-stopped' && e.pid === lazy.dump.pid)).toBe(true);
    // The daemon is stopped only after the source said it resumed (its disconnect would otherwise end the dump as done).
    await until('the lazy-pages daemon to be stopped', () => lazy.daemon.signalCode === 'SIGTERM');
    const order = target.log.map((e) => (e.event === 'command' && (e.argv as string[]).includes(String(lazy.daemon.pid)) ? 'daemon-stopped' : e.event === 'source-settled' ? 'source-settled' : '')).filter(Boolean);
    expect(order).toEqual(['source-settled', 'daemon-stopped']);
    expectOneCopy(p);
  });

  test('post-copy, lease lost while pages still follow: the target keeps its copy and the source waits for the dump to send the last page', async (ctx) => {
    const p = await pairFor(ctx, { lazy: true });
    const lazy = p.lazy!;
    expect((await p.target.restore(fakeRestore(p.pidfile), 30_000)).result.code).toBe(0);
    const lostAt = await p.loseLease();
    await until('the source guard to wait for the last page', () => stateOf(p.source.dir) === 'settling' || undefined);
    await sleepMs(1500);
    // Nothing killed the source copy or the dump meanwhile: the target's missing pages still come from there.
    expect(stateOf(p.source.dir)).toBe('settling');
    expect(procState(p.tree.pid)).toBe('t');
    expect(lazy.dump.exitCode).toBeNull();
    expect((await p.target.status()).state?.state).toBe('kept');
    lazy.finish();
    expect(await settled(p, lostAt, 'post-copy, lease lost while pages follow')).toBe('killed');
    const { source } = await p.status();
    expect(source.log.some((e) => e.event === 'command' && (e.argv as string[])[1] === '-KILL')).toBe(false);
    expect(source.log.some((e) => e.event === 'lazy-dump-ended')).toBe(true);
    expect(lazy.daemon.exitCode === null && lazy.daemon.signalCode === null).toBe(true);
    expectOneCopy(p);
  });

  test('post-copy, the lazy dump fails while pages still follow (CRIU resumes the source tree): the source guard freezes it again and holds', async (ctx) => {
    const p = await pairFor(ctx, { lazy: true });
    expect((await p.target.restore(fakeRestore(p.pidfile), 30_000)).result.code).toBe(0);
    await p.loseLease();
    await until('the source guard to wait for the last page', () => stateOf(p.source.dir) === 'settling' || undefined);
    p.lazy!.fail();
    await until('the source guard to hold', () => stateOf(p.source.dir) === 'hold' || undefined);
    expect(procState(p.tree.pid)).toBe('T');
    const { source } = await p.status();
    expect(source.log.some((e) => e.event === 'command' && (e.argv as string[]).join(' ') === `kill -STOP -- ${p.tree.pid}`)).toBe(true);
    expect(String(source.log.filter((e) => e.event === 'state').at(-1)?.why)).toMatch(/lazy dump ended before the last page/);
    // The restored copy runs; the source copy is frozen, not killed: a person chooses. (The
    // moment between CRIU resuming it and the guard's SIGSTOP is the one post-copy cannot close.)
    expect(isRunning(p.restoredPid())).toBe(true);
    expect(p.tree.exitCode === null && p.tree.signalCode === null).toBe(true);
  });
  // --- end post-copy guard

  test('the console rolls back after the restore (verify failed): the target copy is killed, then the source resumes', async (ctx) => {
    const p = await pairFor(ctx);
    expect((await p.target.restore(fakeRestore(p.pidfile), 30_000)).result.code).toBe(0);
    const restored = p.restoredPid();
    expect(isRunning(restored)).toBe(true);
    expect(await p.target.rollback()).toMatchObject({ ok: true, state: 'aborted', answer: 'target-clear' });
    expect(isRunning(restored)).toBe(false);
    expect(existsSync(p.images)).toBe(false);
    const lostAt = await p.loseLease();
    expect(await settled(p, lostAt, 'console rolled back')).toBe('resumed');
    expectOneCopy(p);
  });

  test('target host frozen (its guard SIGSTOPped): the source holds frozen, then settles after SIGCONT', async (ctx) => {
    const p = await pairFor(ctx);
    process.kill(p.guardPids.target, 'SIGSTOP');
    const lostAt = await p.loseLease();
    await until('the source guard to hold', () => stateOf(p.source.dir) === 'hold');
    await sleepMs(2000);
    expect((await p.source.status()).state?.state).toBe('hold');
    expect(procState(p.tree.pid)).toBe('T');
    process.kill(p.guardPids.target, 'SIGCONT');
    expect(await settled(p, lostAt, 'target frozen 2 s+')).toBe('resumed');
    expect((await p.source.status()).log.some((e) => e.event === 'no-answer')).toBe(true);
    expectOneCopy(p);
  });

  test('the link refused (target guard gone, its port closed): the source holds the safe state, until its hard maximum', async (ctx) => {
    const p = await pairFor(ctx, { maxMs: 12_000 });
    expect((await p.target.restore(fakeRestore(p.pidfile), 30_000)).result.code).toBe(0);
    process.kill(p.guardPids.target, 'SIGKILL');
    await p.loseLease();
    await until('the source guard to hold', () => stateOf(p.source.dir) === 'hold');
    await sleepMs(2500);
    const s = await p.source.status();
    expect(s.state?.state).toBe('hold');
    expect(s.log.filter((e) => e.event === 'no-answer').length).toBeGreaterThan(1);
    expect(String(s.log.find((e) => e.event === 'no-answer')?.detail)).toMatch(/refused/i);
    // Safe: the source copy stays frozen, the target's copy runs as it is.
    expect(procState(p.tree.pid)).toBe('T');
    // Bounded: at its hard maximum the guard exits, leaving the safe state for a person.
    await until('the source guard to reach its hard maximum', () => (existsSync(`/proc/${p.guardPids.source}`) ? undefined : true), 30_000);
    const last = await p.source.status();
    expect(last.alive).toBe(false);
    expect(last.log.map((e) => e.event)).toContain('hard-maximum');
    expect(procState(p.tree.pid)).toBe('T');
    expectOneCopy(p);
  });

  test('wrong HMAC: a request with another secret is refused and logged, and changes nothing', async (ctx) => {
    const p = await pairFor(ctx);
    const stranger = new GuardClient(p.run, LOCAL_HOST, p.target.dir, 'ab'.repeat(32));
    expect(await stranger.ask('frozen')).toMatchObject({ error: 'unauthenticated' });
    const r = await stranger.restore(fakeRestore(p.pidfile), 10_000);
    expect(r.result.code).not.toBe(0);
    const t = await p.target.status();
    expect(t.state?.state).toBe('waiting');
    expect(t.log.filter((e) => e.event === 'rejected')).toHaveLength(2);
    expect(p.restoredPid()).toBeUndefined();
    // The real console's restore still works.
    expect((await p.target.restore(fakeRestore(p.pidfile), 30_000)).result.code).toBe(0);
    p.observer.stop();
    expect(p.observer.both).toBe(0);
  });

  test('a forged answer (not signed with the secret) never resumes the source', async (ctx) => {
    // Someone on the migration link answers the source guard "target-clear" without the secret.
    const fake: Server = createServer((c) => {
      c.write('{"hello":"00","role":"target"}\n');
      c.once('data', () => c.end(`${JSON.stringify({ rep: { answer: 'target-clear', why: 'forged' }, cnonce: 'x', mac: '00' })}\n`));
    });
    await new Promise<void>((r) => fake.listen(0, '127.0.0.1', r));
    try {
      const p = await pairFor(ctx, { peer: `127.0.0.1:${(fake.address() as { port: number }).port}` });
      await p.loseLease();
      await until('the source guard to hold', () => stateOf(p.source.dir) === 'hold');
      await sleepMs(1500);
      expect(procState(p.tree.pid)).toBe('T');
      const s = await p.source.status();
      expect(s.state?.state).toBe('hold');
      expect(String(s.log.find((e) => e.event === 'no-answer')?.detail)).toMatch(/not signed/);
    } finally {
      fake.close();
    }
  });

  test('the console finishes normally: release ends both guards, their logs stay readable', async (ctx) => {
    const p = await pairFor(ctx);
    expect((await p.target.restore(fakeRestore(p.pidfile), 30_000)).result.code).toBe(0);
    expect(await p.target.commit()).toMatchObject({ ok: true });
    process.kill(p.tree.pid!, 'SIGKILL'); // the console's commit kills the frozen source copy
    expect(await p.source.release()).toMatchObject({ ok: true });
    expect(await p.target.release()).toMatchObject({ ok: true });
    await until('both guards to exit', () => !existsSync(`/proc/${p.guardPids.source}`) && !existsSync(`/proc/${p.guardPids.target}`) ? true : undefined);
    const { source, target } = await p.status();
    expect([source.alive, target.alive]).toEqual([false, false]);
    expect([source.state?.state, target.state?.state]).toEqual(['released', 'released']);
    expect(guardDecisions(target.log).map((e) => e.event)).toEqual(expect.arrayContaining(['restore-started', 'restore-finished', 'state']));
  });
});

describe('starting a guard', () => {
  test('a bad start is a clear error and leaves no guard running: its dir inside the images, a second guard, no secret', async (ctx) => {
    const p = await pairFor(ctx);
    const inside = new GuardClient(p.run, LOCAL_HOST, `${p.images}/guard`, p.secret);
    await expect(inside.start({ role: 'target', pids: [1], listen: '127.0.0.1:0', images: [p.images] })).rejects.toMatchObject({
      code: 'guard-start-failed',
      evidence: expect.stringMatching(/must not be inside the images/),
    });
    await expect(p.target.start({ role: 'target', pids: [1], listen: '127.0.0.1:0' })).rejects.toMatchObject({ evidence: expect.stringMatching(/already runs/) });
    const noSecret = new GuardClient(p.run, LOCAL_HOST, `${p.root}/other-guard`, '');
    await expect(noSecret.start({ role: 'target', pids: [1], listen: '127.0.0.1:0' })).rejects.toMatchObject({ evidence: expect.stringMatching(/secret/) });
    expect(existsSync(`${p.root}/other-guard/guard.state`)).toBe(false);
  });
});

describe('parseGuardStatus', () => {
  test('a state line and log lines; a torn last line is skipped', () => {
    const s = parseGuardStatus(
      [
        '{"role":"source","state":"hold","pid":42,"kind":"state","found":true,"alive":true}',
        '{"kind":"log","at":"2026-01-01T00:00:00.000Z","mono":5,"role":"source","event":"lease-lost","ageMs":10012}',
        '{"kind":"log","at":"2026-01-01T00:00:00.1',
      ].join('\n'),
    );
    expect(s).toMatchObject({ found: true, alive: true, state: { state: 'hold', pid: 42 } });
    expect(s.log.map((e) => e.event)).toEqual(['lease-lost']);
    expect(parseGuardStatus('{"kind":"state","found":false,"alive":false}\n')).toEqual({ found: false, alive: false, log: [] });
  });
});

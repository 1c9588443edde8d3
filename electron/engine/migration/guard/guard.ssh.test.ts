/**
 * The guards as the console will really start them: over SSH, through the CommandRunner, to
 * two hosts (two real sshd on 127.0.0.1). Then the console is lost: its connections close,
 * or both sshd die from the host's side. The guards outlive their SSH channels, the leases
 * stop with them, and the hosts settle without the console.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import type { EngineEvent } from '../../../../shared/api.ts';
import { CommandRunner } from '../../commands/runner.ts';
import { SshHub } from '../../../ssh/index.ts';
import { hostBlock, knownHostsLine, makeTestHome, type TestHome } from '../../../ssh/testing/fixture.ts';
import { startSshd, type TestSshd } from '../../../ssh/testing/sshd.ts';
import { GuardClient, newGuardSecret } from './guard.ts';
import { frozenTree, Observer, procState, until } from './guard.testing.ts';

let a: TestSshd;
let b: TestSshd;
let th: TestHome;
let hub: SshHub;
let cleanup: (() => void)[] = [];

beforeEach(async () => {
  [a, b] = await Promise.all([startSshd(), startSshd()]);
  th = makeTestHome();
  fs.writeFileSync(th.sshConfig, hostBlock('source', a) + hostBlock('target', b));
  fs.writeFileSync(th.userKnownHosts, knownHostsLine(a) + knownHostsLine(b));
  hub = new SshHub({ env: th.env, killGraceMs: 500 });
});
afterEach(async () => {
  for (const f of cleanup) f();
  cleanup = [];
  await hub?.closeAll();
  await Promise.all([a?.stop(), b?.stop()]);
  th?.cleanup();
});

async function armOverSsh() {
  const events: EngineEvent[] = [];
  const run = new CommandRunner((e) => events.push(e), (alias) => hub.session(alias), () => 'root');
  const secret = newGuardSecret();
  const root = fs.mkdtempSync(path.join(a.dir, 'migration-'));
  const images = path.join(root, 'images');
  fs.mkdirSync(images);
  const tree = frozenTree();
  const pids = [tree.pid!];
  const source = new GuardClient(run, 'source', path.join(root, 'source-guard'), secret);
  const target = new GuardClient(run, 'target', path.join(root, 'target-guard'), secret);
  const leases = [source.lease(300), target.lease(300)];
  const t = await target.start({ role: 'target', pids, leaseMs: 3000, maxMs: 120_000, listen: '127.0.0.1:0', images: [images] });
  const s = await source.start({ role: 'source', pids, leaseMs: 3000, maxMs: 120_000, peer: t.listen });
  cleanup.push(() => {
    for (const pid of [tree.pid, s.pid, t.pid]) {
      try {
        process.kill(pid!, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
  });
  const observer = new Observer(tree.pid!, () => undefined);
  return { events, secret, tree, source, target, leases, guardPids: [s.pid, t.pid], observer, images };
}

describe('cutover guard over SSH', () => {
  test("the console's connections close: the guards survive their channels and SIGHUP, the leases end, the source resumes", async () => {
    const m = await armOverSsh();
    expect(procState(m.tree.pid)).toBe('T');
    // The guard ignores the hang-up sshd may send a session's processes.
    for (const pid of m.guardPids) process.kill(pid, 'SIGHUP');
    const lostAt = Date.now();
    await hub.closeAll();
    for (const end of await Promise.all(m.leases.map((l) => l.done))) expect(end.stopped).toBe(false);
    await until('the source copy to run again', () => (/^[SR]/.test(procState(m.tree.pid) ?? '') ? true : undefined), 30_000);
    console.log(`[guard over ssh] connections closed: source resumed ${Date.now() - lostAt} ms later`);
    const status = await new GuardClient(new CommandRunner(() => undefined, (h) => hub.session(h), () => 'root'), 'target', m.target.dir, m.secret).status();
    expect(status.state?.state).toBe('aborted');
    expect(fs.existsSync(m.images)).toBe(false);
    m.observer.stop();
    expect(m.observer.running()).toBe(1);
    // The secret went on stdin only: no recorded command carries it.
    expect(JSON.stringify(m.events)).not.toContain(m.secret);
  });

  test('both SSH links die from the hosts side (sshd killed): the guards settle on their own', async () => {
    const m = await armOverSsh();
    const lostAt = Date.now();
    await Promise.all([a.kill(), b.kill()]);
    for (const end of await Promise.all(m.leases.map((l) => l.done))) expect(end).toMatchObject({ stopped: false, why: expect.stringMatching(/lost/) });
    await until('the source copy to run again', () => (/^[SR]/.test(procState(m.tree.pid) ?? '') ? true : undefined), 30_000);
    console.log(`[guard over ssh] sshd killed: source resumed ${Date.now() - lostAt} ms later`);
    for (const pid of m.guardPids) await until('the guards to exit once settled', () => (fs.existsSync(`/proc/${pid}`) ? undefined : true));
    m.observer.stop();
    expect(m.observer.running()).toBe(1);
  });
});

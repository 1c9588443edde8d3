/**
 * The claims as migrations take them: over SSH (a real sshd on 127.0.0.1), through the
 * CommandRunner, in a scratch root instead of /run/ferry. Several engines are simulated by
 * claim contexts with their own engine PIDs and journals.
 */
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import type { JournalSummary } from '../../../shared/domain.ts';
import { newPlan, type EngineEvent } from '../../../shared/api.ts';
import { replay } from '../journal/journal.ts';
import type { FerryError } from '../../../shared/errors.ts';
import { CommandRunner } from '../commands/runner.ts';
import { SshHub } from '../../ssh/index.ts';
import { hostBlock, knownHostsLine, makeTestHome, type TestHome } from '../../ssh/testing/fixture.ts';
import { startSshd, type TestSshd } from '../../ssh/testing/sshd.ts';
import { Claims, judgeHolder, parseHolder, type ClaimContext } from './claims.ts';

let sshd: TestSshd;
let th: TestHome;
let hub: SshHub;
let root: string;
const servers: net.Server[] = [];

beforeEach(async () => {
  sshd = await startSshd();
  th = makeTestHome();
  fs.writeFileSync(th.sshConfig, hostBlock('host', sshd));
  fs.writeFileSync(th.userKnownHosts, knownHostsLine(sshd));
  hub = new SshHub({ env: th.env });
  root = fs.mkdtempSync(path.join(sshd.dir, 'claims-'));
});
afterEach(async () => {
  for (const s of servers.splice(0)) s.close();
  await hub?.closeAll();
  await sshd?.stop();
  th?.cleanup();
});

/** One engine: its own PID and journals; `dead` engines' PIDs are reported gone. */
function engine(pid: number, journals: Record<string, Partial<JournalSummary>> = {}, dead: number[] = []): ClaimContext {
  return {
    console: 'console-a',
    engine: pid,
    isAlive: (p) => !dead.includes(p),
    journal: (id) => (journals[id] ? ({ id, finished: false, lastPhase: 'precopy', ...journals[id] } as JournalSummary) : undefined),
  };
}

function claims(id: string, ctx: ClaimContext, notes: string[] = []) {
  const run = new CommandRunner(() => undefined, (a) => hub.session(a), () => 'root', id);
  return new Claims({ run, migrationId: id, ctx, root, note: (action, reason) => notes.push(`${action}: ${reason}`) });
}

const link = (kind: string, name: string) => path.join(root, kind, name);
/** A claim is a symlink to its holder's text, not to a file: existsSync would follow it and always say no. */
const held = (file: string) => fs.lstatSync(file, { throwIfNoEntry: false }) !== undefined;

describe('the process claim', () => {
  test('one migration of a PID at a time: the second is refused naming the first, alive', async () => {
    const first = claims('mig-1', engine(1001));
    await first.claimProcess('host', 4242);
    const holder = parseHolder(fs.readlinkSync(link('pids', '4242')));
    expect(holder).toMatchObject({ migration: 'mig-1', console: 'console-a', engine: 1001 });

    const second = claims('mig-2', engine(1002));
    const err = (await second.claimProcess('host', 4242).catch((e: FerryError) => e)) as FerryError;
    expect(err.code).toBe('process-claimed');
    expect(err.message).toBe(`PID 4242 on host is already being migrated by migration mig-1: migration mig-1 (engine PID 1001 on console-a, since ${holder!.at}): its engine is running`);
    expect(err.hint).toMatch(/Wait for mig-1 to finish/);

    // Released at the end: the next one takes it.
    expect(await first.release()).toEqual([]);
    expect(held(link('pids', '4242'))).toBe(false);
    await second.claimProcess('host', 4242);
    expect(parseHolder(fs.readlinkSync(link('pids', '4242')))?.migration).toBe('mig-2');
  });

  test("a dead engine's claim is taken over with a journal line; one that died past the freeze needs recovery", async () => {
    await claims('mig-1', engine(1001)).claimProcess('host', 4242);
    const notes: string[] = [];
    await claims('mig-2', engine(1002, { 'mig-1': { lastPhase: 'precopy' } }, [1001]), notes).claimProcess('host', 4242);
    expect(parseHolder(fs.readlinkSync(link('pids', '4242')))?.migration).toBe('mig-2');
    expect(notes).toEqual([expect.stringMatching(/^took over a stale process claim: .*pids\/4242 on host was held by migration mig-1 .*its engine is gone and its journal stops at precopy$/)]);

    // mig-2's engine died during the cutover: mig-3 must not take the (maybe frozen) process.
    const err = (await claims('mig-3', engine(1003, { 'mig-2': { lastPhase: 'cutover' } }, [1002])).claimProcess('host', 4242).catch((e: FerryError) => e)) as FerryError;
    expect(err.code).toBe('process-claimed');
    expect(err.message).toMatch(/its engine is gone and its journal stops at cutover/);
    expect(err.hint).toMatch(/ferry journal recover mig-2/);
    // Recovery releases every claim of mig-2.
    const run = new CommandRunner(() => undefined, (a) => hub.session(a), () => 'root');
    await Claims.releaseAll(run, ['host'], 'mig-2', root);
    expect(held(link('pids', '4242'))).toBe(false);
  });

  test('a holder on another console is reported as unknown, never taken over', () => {
    const text = JSON.stringify({ migration: 'mig-9', console: 'console-b', engine: 77, at: '2026-11-30T00:00:00.000Z' });
    const j = judgeHolder(text, engine(1001, {}, [77]));
    expect(j.state).toBe('unknown');
    expect(j.why).toMatch(/another console, and Ferry cannot see from here whether it is still alive/);
    expect(judgeHolder(text.replace('console-b', 'console-a'), engine(1001, { 'mig-9': { finished: true, outcome: 'committed' } })).state).toBe('dead');
  });

  test('two engines racing for one PID: exactly one wins', async () => {
    const results = await Promise.allSettled(Array.from({ length: 4 }, (_, i) => claims(`mig-${i}`, engine(2000 + i)).claimProcess('host', 99)));
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    expect(results.filter((r) => r.status === 'rejected').map((r) => ((r as PromiseRejectedResult).reason as FerryError).code)).toEqual(['process-claimed', 'process-claimed', 'process-claimed']);
  });
});

describe('the journal keeps what was resolved', () => {
  test("replay applies plan-resolved: the selector's PID and the reserved port", () => {
    const plan = newPlan({ source: 'a', target: 'b', pid: 0, select: { kind: 'unit', unit: 'app.service' } });
    const at = '2026-11-30T00:00:00.000Z';
    const events: EngineEvent[] = [
      { type: 'migration-started', migrationId: 'm', plan, at },
      { type: 'plan-resolved', migrationId: 'm', pid: 812, pageServerPort: 27002, at, note: 'unit app.service is PID 812 on a' },
    ];
    const r = replay(events.map((event, i) => ({ seq: i + 1, at, event })));
    expect(r.plan).toMatchObject({ pid: 812, pageServerPort: 27002, select: { kind: 'unit', unit: 'app.service' } });
    expect(r.summary.pid).toBe(812);
    expect(r.summary.nextStep).toMatch(/process 812 on a/);
  });
});

describe('the port pair', () => {
  const listen = (port: number) =>
    new Promise<void>((resolve, reject) => {
      const s = net.createServer().listen(port, '127.0.0.1', () => resolve());
      s.on('error', reject);
      servers.push(s);
    });
  /** A free range on this machine: two pairs (the first made busy below) and room for the rest. */
  async function freeRange(): Promise<number> {
    for (let first = 39000 + (process.pid % 500) * 8; ; first += 8) {
      const ok = await Promise.all(
        Array.from({ length: 8 }, (_, i) => new Promise<boolean>((r) => { const s = net.createServer().once('error', () => r(false)).listen(first + i, '127.0.0.1', () => s.close(() => r(true))); })),
      );
      if (ok.every(Boolean)) return first;
    }
  }

  test('skips a pair something listens on and pairs other migrations reserved; released at the end', async () => {
    const first = await freeRange();
    await listen(first + 1); // the guard's half of the first pair is busy
    const range = { first, last: first + 5 };
    const a = claims('mig-a', engine(1));
    const b = claims('mig-b', engine(2));
    // A preflight alone asks which pair a start would get, and takes nothing.
    expect(await claims('preflight', engine(9)).reservePorts('host', range, { dryRun: true })).toBe(first + 2);
    expect(fs.readdirSync(path.join(root, 'ports'))).toEqual([]);
    const pa = await a.reservePorts('host', range);
    const pb = await b.reservePorts('host', range);
    expect(pa).toBe(first + 2);
    expect(pb).toBe(first + 4);
    expect(parseHolder(fs.readlinkSync(link('ports', String(pa))))?.migration).toBe('mig-a');
    const err = (await claims('mig-c', engine(3)).reservePorts('host', range).catch((e: FerryError) => e)) as FerryError;
    expect(err.code).toBe('no-free-port');
    expect(err.message).toBe(`No free pair of ports in ${first}-${first + 5} on host: 1 pair(s) in use, 2 reserved by other migrations`);
    expect(err.hint).toContain('--port-range');
    await a.release();
    expect(await claims('mig-c', engine(3)).reservePorts('host', range)).toBe(first + 2);
  });

  test('post-copy reserves one pair on both hosts (the lazy dump on the source, the guard on the target), released on both', async () => {
    // Two hosts on one machine: a second alias of the same sshd, each with its own claims root.
    fs.appendFileSync(th.sshConfig, hostBlock('host2', sshd));
    const rootOn = (host: string) => path.join(root, host);
    const both = (id: string, pid: number) => {
      const run = new CommandRunner(() => undefined, (a) => hub.session(a), () => 'root', id);
      return new Claims({ run, migrationId: id, ctx: engine(pid), root: rootOn, note: () => undefined });
    };
    const first = await freeRange();
    const range = { first, last: first + 7 };
    // Another migration already holds the first pair on the target only.
    const other = both('mig-other', 1);
    expect(await other.reservePorts('host2', range)).toBe(first);
    const a = both('mig-a', 2);
    const p = await a.reservePortsOnBoth('host', 'host2', range);
    expect(p).toBe(first + 2);
    for (const host of ['host', 'host2']) expect(parseHolder(fs.readlinkSync(path.join(rootOn(host), 'ports', String(p))))?.migration).toBe('mig-a');
    // A second post-copy from another source to the same target gets the next pair, not a clash on the guard's port.
    const b = both('mig-b', 3);
    expect(await b.reservePortsOnBoth('host', 'host2', range)).toBe(first + 4);
    expect(await a.release()).toEqual([]);
    for (const host of ['host', 'host2']) expect(fs.readdirSync(path.join(rootOn(host), 'ports'))).not.toContain(String(p));
    expect(fs.readdirSync(path.join(rootOn('host2'), 'ports')).sort()).toEqual([String(first), String(first + 4)]);
  });

  test("a dead engine's reservation is taken over", async () => {
    const first = await freeRange();
    await claims('mig-a', engine(1)).reservePorts('host', { first, last: first + 1 });
    const notes: string[] = [];
    expect(await claims('mig-b', engine(2, {}, [1]), notes).reservePorts('host', { first, last: first + 1 })).toBe(first);
    expect(notes[0]).toMatch(/^took over a stale port reservation: .* held by migration mig-a .*its engine is gone \(no journal of it on this machine\)$/);
  });
});

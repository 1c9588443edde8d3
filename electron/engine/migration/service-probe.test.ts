/**
 * The service probe against real servers on 127.0.0.1 that the test closes for a while and
 * reopens: from this machine (TCP and HTTP, in the engine) and from a host over a real
 * OpenSSH server (the python3 program, through the CommandRunner). No timing assertions: the
 * structure (ok, then a failure run, then ok again) and the gap's lower bound (it holds the
 * whole time the test kept the service closed) are what must hold.
 */
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { EngineEvent } from '../../../shared/api.ts';
import type { ServiceProbe, ServiceProbeResult } from '../../../shared/domain.ts';
import { withProbeDefaults } from '../../../shared/probe.ts';
import { SshHub } from '../../ssh/index.ts';
import { hostBlock, knownHostsLine, makeTestHome, type TestHome } from '../../ssh/testing/fixture.ts';
import { startSshd, type TestSshd } from '../../ssh/testing/sshd.ts';
import { CommandRunner } from '../commands/runner.ts';
import { parseProbeLine, ServiceProbeRun } from './service-probe.ts';

type Server = net.Server | http.Server;

function listen(server: Server, port = 0): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve((server.address() as net.AddressInfo).port));
  });
}
function close(server: Server): Promise<void> {
  if ('closeAllConnections' in server) server.closeAllConnections();
  return new Promise((resolve) => server.close(() => resolve()));
}
const tcpServer = () => net.createServer((s) => s.destroy());
const httpServer = () => http.createServer((_req, res) => res.writeHead(204).end());

async function until(what: string, cond: () => boolean, limitMs = 60_000): Promise<void> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > limitMs) throw new Error(`waited too long for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/**
 * Serve, close, reopen on the same port while the probe runs. Returns the probe's result and
 * how long the test kept the port closed, measured from after close() to before listen(): the
 * shortest span the service was certainly down.
 */
async function outage(make: () => Server, start: (port: number) => ServiceProbeRun, holdMs = 300) {
  let server = make();
  const port = await listen(server);
  const p = start(port);
  const count = (ok: boolean) => p.result().runs.filter((r) => r.ok === ok).reduce((n, r) => n + r.attempts, 0);
  await until('answers before the outage', () => count(true) >= 5);
  await close(server);
  const closedAt = performance.now();
  const failsBefore = count(false);
  await until('failures during the outage', () => count(false) >= failsBefore + 3);
  await new Promise((r) => setTimeout(r, holdMs));
  const openAt = performance.now();
  server = make();
  await listen(server, port);
  const oksBefore = count(true);
  await until('answers after the outage', () => count(true) >= oksBefore + 5);
  const result = await p.finish(0);
  await close(server);
  return { result, closedMs: openAt - closedAt };
}

/** error: refused, or reset for a connection the server accepted just before it closed. */
function expectOutageSeen(result: ServiceProbeResult, closedMs: number, error: RegExp) {
  // On a mismatch, show the timeline.
  const shown = JSON.stringify(result.runs);
  expect(result.runs.map((r) => r.ok), shown).toEqual([true, false, true]);
  const [before, fail, after] = result.runs as [ServiceProbeResult['runs'][0], ServiceProbeResult['runs'][0], ServiceProbeResult['runs'][0]];
  expect(before.startMs).toBeLessThanOrEqual(fail.startMs);
  expect(fail.startMs).toBeLessThanOrEqual(after.startMs);
  expect(fail.error, shown).toMatch(error);
  expect(result.attempts).toBe(result.successes + result.failures);
  expect(result.failures).toBe(fail.attempts);
  const g = result.longestGap!;
  expect(g).toMatchObject({ recovered: true, fromStart: false, failures: fail.attempts });
  expect(g.startMs).toBeLessThanOrEqual(fail.startMs);
  expect(g.endMs).toBeGreaterThanOrEqual(after.startMs);
  // A lower bound only (1 ms for the rounding of the reported times).
  expect(g.ms, shown).toBeGreaterThanOrEqual(Math.floor(closedMs) - 1);
  return g;
}

const noRunner = new CommandRunner(() => {}, () => {
  throw new Error('a local probe runs no command');
}, () => 'root');
const figures: string[] = [];
afterAll(() => {
  // What the probe measured, for the report (not asserted).
  if (figures.length) console.log(`service probe figures:\n${figures.join('\n')}`);
});

describe('from this machine', () => {
  test('TCP connect: answers, refused while closed, answers again; the gap holds the outage', { timeout: 120_000 }, async () => {
    const { result, closedMs } = await outage(tcpServer, (port) => new ServiceProbeRun({ probe: withProbeDefaults({ kind: 'tcp', target: `127.0.0.1:${port}`, intervalMs: 20, timeoutMs: 500 }), run: noRunner }));
    const g = expectOutageSeen(result, closedMs, /ECONNREFUSED|ECONNRESET/);
    expect(result.note).toBeUndefined();
    figures.push(`local tcp: closed ${closedMs.toFixed(0)} ms, gap ${g.ms} ms, ${result.attempts} attempts, ${result.failures} failed`);
  });

  test('HTTP GET on a fresh connection: the same, and a live view while it runs', { timeout: 120_000 }, async () => {
    const live: ServiceProbeResult[] = [];
    const { result, closedMs } = await outage(httpServer, (port) => new ServiceProbeRun({ probe: withProbeDefaults({ kind: 'http', target: `http://127.0.0.1:${port}/health`, intervalMs: 20, timeoutMs: 500 }), run: noRunner, onLive: (r) => live.push(r) }));
    const g = expectOutageSeen(result, closedMs, /ECONNREFUSED|ECONNRESET/);
    expect(live.length).toBeGreaterThan(0);
    expect(live[live.length - 1]!.attempts).toBeLessThanOrEqual(result.attempts);
    figures.push(`local http: closed ${closedMs.toFixed(0)} ms, gap ${g.ms} ms, ${result.attempts} attempts, ${result.failures} failed`);
  });

  test('an HTTP error status counts as a failure with its status; the freeze is placed on the timeline', { timeout: 60_000 }, async () => {
    let status = 503;
    const server = http.createServer((_req, res) => res.writeHead(status).end());
    const port = await listen(server);
    const p = new ServiceProbeRun({ probe: withProbeDefaults({ kind: 'http', target: `http://127.0.0.1:${port}/`, intervalMs: 20 }), run: noRunner });
    const freezeAt = Date.now();
    p.markFreeze(freezeAt, freezeAt + 100);
    await until('failures', () => p.result().failures >= 3);
    status = 200;
    await until('answers', () => p.result().successes >= 3);
    const r = await p.finish(0);
    await close(server);
    expect(r.runs.map((x) => x.ok)).toEqual([false, true]);
    expect(r.runs[0]!.error).toBe('HTTP 503');
    expect(r.longestGap).toMatchObject({ fromStart: true, recovered: true });
    expect(r.freeze!.endMs! - r.freeze!.startMs).toBe(100);
  });
});

describe('from a host over ssh', () => {
  let sshd: TestSshd;
  let th: TestHome;
  let hub: SshHub;
  beforeAll(async () => {
    th = makeTestHome();
    sshd = await startSshd();
    fs.writeFileSync(th.sshConfig, hostBlock('box', sshd));
    fs.writeFileSync(th.userKnownHosts, knownHostsLine(sshd));
    hub = new SshHub({ env: th.env, killGraceMs: 500 });
  });
  afterAll(async () => {
    await hub?.closeAll();
    await sshd?.stop();
    th?.cleanup();
  });

  function remote(probe: ServiceProbe) {
    const events: EngineEvent[] = [];
    const run = new CommandRunner((e) => events.push(e), (a) => hub.session(a), () => 'root', 'mig-probe');
    return { events, p: new ServiceProbeRun({ probe, run }) };
  }

  test('the python3 probe on the host sees the local service go away and come back; one journaled command, its output not streamed', { timeout: 180_000 }, async () => {
    let events: EngineEvent[] = [];
    let running: Promise<boolean> = Promise.resolve(false);
    const { result, closedMs } = await outage(tcpServer, (port) => {
      const r = remote(withProbeDefaults({ kind: 'tcp', target: `127.0.0.1:${port}`, from: 'box', intervalMs: 20, timeoutMs: 500 }));
      events = r.events;
      running = r.p.started().then(() => r.p.isRunning);
      return r.p;
    });
    // The cutover waits for this before the final dump: the program on the host was making attempts.
    expect(await running).toBe(true);
    const g = expectOutageSeen(result, closedMs, /ECONNREFUSED|ECONNRESET/);
    expect(result.note).toBeUndefined();
    const started = events.filter((e) => e.type === 'command-started');
    expect(started).toHaveLength(1);
    expect(started[0]).toMatchObject({ host: 'box', migrationId: 'mig-probe' });
    expect((started[0] as { argv: string[] }).argv.slice(0, 2)).toEqual(['python3', '-c']);
    // It ended because its stdin closed (exit 0), and no attempt went to the journal.
    expect(events.find((e) => e.type === 'command-finished')).toMatchObject({ code: 0 });
    expect(events.filter((e) => e.type === 'command-output')).toEqual([]);
    figures.push(`remote tcp (over ssh): closed ${closedMs.toFixed(0)} ms, gap ${g.ms} ms, ${result.attempts} attempts, ${result.failures} failed`);
  });

  test('remote HTTP probe: the same through an outage', { timeout: 180_000 }, async () => {
    const { result, closedMs } = await outage(httpServer, (port) => remote(withProbeDefaults({ kind: 'http', target: `http://127.0.0.1:${port}/x?y=1`, from: 'box', intervalMs: 20, timeoutMs: 500 })).p);
    const g = expectOutageSeen(result, closedMs, /ECONNREFUSED|ECONNRESET/);
    figures.push(`remote http (over ssh): closed ${closedMs.toFixed(0)} ms, gap ${g.ms} ms, ${result.attempts} attempts, ${result.failures} failed`);
  });

  test('a probe that cannot run says why in its result and makes no attempts', { timeout: 60_000 }, async () => {
    const { p } = remote(withProbeDefaults({ kind: 'tcp', target: '127.0.0.1:1', from: 'nosuchhost' }));
    await p.started();
    expect(p.isRunning).toBe(false);
    const r = await p.finish(0);
    expect(r.attempts).toBe(0);
    expect(r.note).toMatch(/the probe stopped/);
  });
});

test('the program lines parse; anything else is ignored', () => {
  expect(parseProbeLine('H')).toEqual({ kind: 'header' });
  expect(parseProbeLine('A 1.5 2.0 ok -')).toEqual({ kind: 'attempt', attempt: { startMs: 1.5, endMs: 2, ok: true } });
  expect(parseProbeLine('A 3 503.1 fail timeout')).toEqual({ kind: 'attempt', attempt: { startMs: 3, endMs: 503.1, ok: false, error: 'timeout' } });
  expect(parseProbeLine('A 3 4 fail HTTP_503')).toMatchObject({ attempt: { error: 'HTTP 503' } });
  expect(parseProbeLine('E stopped')).toEqual({ kind: 'end', why: 'stopped' });
  expect(parseProbeLine('Traceback (most recent call last):')).toBeUndefined();
});

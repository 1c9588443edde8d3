import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { newPlan } from '../../../shared/api.ts';
import { LocalHost } from '../commands/local.ts';
import { CommandRunner } from '../commands/runner.ts';
import { parseFeatureCheckDetailed } from '../../criu/index.ts';
import { readText } from '../../criu/test-fixtures.ts';
import { checkTls, featuresFor, guardChecks, movedAddresses, parseRouteSource } from './preflight.ts';
import { checkBoundAddresses } from './inventory-policy.ts';
import type { InetSocket } from './inventory.ts';

describe('preflight for post-copy', () => {
  it('asks the target, and only the target, for uffd-noncoop', () => {
    expect(featuresFor('postcopy', 'target')).toEqual(['uffd-noncoop']);
    expect(featuresFor('postcopy', 'source')).toEqual([]);
    expect(featuresFor('precopy', 'target')).toEqual(['mem_dirty_track']);
    expect(featuresFor('cold', 'target')).toEqual([]);
  });

  it('reads the real `criu check --feature uffd-noncoop` answer (fixtures/criu/check)', () => {
    const out = readText('check/06-feature-uffd-noncoop.txt');
    expect(parseFeatureCheckDetailed(out, 0, 'uffd-noncoop').status).toBe('supported');
  });

  it("finds the source's address on the route to the target", () => {
    expect(parseRouteSource('10.0.0.2 dev ens4 src 10.0.0.1 uid 0 \n    cache \n')).toBe('10.0.0.1');
    expect(parseRouteSource('fd00::2 from :: dev eth1 proto kernel src fd00::1 metric 256 pref medium')).toBe('fd00::1');
    expect(parseRouteSource('RTNETLINK answers: Network is unreachable')).toBeUndefined();
  });
});

// TLS for page streams
describe('preflight: CRIU with TLS', () => {
  // Each host is this machine with a fake `criu` first on PATH: its --help with or without the
  // TLS lines (criu prints them only when built with GnuTLS). The probe itself runs for real.
  const dirs: string[] = [];
  afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));
  const fakeCriu = (withTls: boolean) => {
    const dir = mkdtempSync(join(tmpdir(), 'ferry-fake-criu-'));
    dirs.push(dir);
    const help = `Usage:\\n  criu dump|pre-dump -t PID [<options>]\\n${withTls ? '  --tls-cacert FILE     trust certificates signed only by this CA\\n  --tls                 use TLS to secure remote connection\\n' : ''}Other options:\\n`;
    writeFileSync(join(dir, 'criu'), `#!/bin/sh\nprintf '${help}'\n`);
    chmodSync(join(dir, 'criu'), 0o755);
    return new LocalHost({ env: { PATH: `${dir}:${process.env.PATH}` } });
  };
  const hosts: Record<string, LocalHost> = { a: fakeCriu(true), b: fakeCriu(false) };
  const run = new CommandRunner(() => {}, (alias) => hosts[alias] as never, () => 'root');

  it('passes a host whose criu has TLS, fails one without, with what to do', async () => {
    const checks = await checkTls(newPlan({ source: 'a', target: 'b', pid: 1 }), run);
    expect(checks.map((c) => [c.host, c.status])).toEqual([['a', 'pass'], ['b', 'fail']]);
    expect(checks[1]!.fix).toMatch(/tls: false/);
  });

  it('with tls: false asks nothing and warns that pages travel in clear', async () => {
    const checks = await checkTls(newPlan({ source: 'a', target: 'b', pid: 1, tls: false }), run);
    expect(checks).toHaveLength(1);
    expect(checks[0]!.status).toBe('warn');
    expect(checks[0]!.detail).toMatch(/in clear/);
  });
});

describe('bound addresses and the service address', () => {
  it('counts the plan service address as one the target will have', () => {
    expect(movedAddresses({ serviceAddress: { address: '10.0.0.100/24', sourceInterface: 'eth1', targetInterface: 'br0' } })).toEqual(['10.0.0.100']);
    expect(movedAddresses({})).toEqual([]);
  });
  it('passes a socket bound to the service address once Ferry moves it, and fails it otherwise', () => {
    const sockets: InetSocket[] = [{ inode: 1, proto: 'tcp', state: 'LISTEN', local: '10.0.0.100', localPort: 6379, remote: '0.0.0.0', remotePort: 0 }];
    expect(checkBoundAddresses(sockets, ['10.0.0.2'], movedAddresses({ serviceAddress: { address: '10.0.0.100/24', sourceInterface: 'eth1', targetInterface: 'eth1' } }), 'lab-target').status).toBe('pass');
    expect(checkBoundAddresses(sockets, ['10.0.0.2'], movedAddresses({}), 'lab-target').status).toBe('fail');
  });
});

// Cutover guards: python3 on both hosts, the guard's port free on the target.
describe('preflight: the cutover guard', () => {
  const dirs: string[] = [];
  afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));
  // A host whose python3 is this script (first on PATH); the real one otherwise.
  const withPython = (script?: string) => {
    if (!script) return new LocalHost();
    const dir = mkdtempSync(join(tmpdir(), 'ferry-fake-python-'));
    dirs.push(dir);
    writeFileSync(join(dir, 'python3'), `#!/bin/sh\n${script}\n`);
    chmodSync(join(dir, 'python3'), 0o755);
    return new LocalHost({ env: { PATH: `${dir}:${process.env.PATH}` } });
  };
  const hosts: Record<string, LocalHost> = {
    real: withPython(),
    none: withPython('echo "sh: 1: python3: not found" >&2; exit 127'),
    old: withPython('echo 3.5; exit 1'),
  };
  const run = new CommandRunner(() => {}, (alias) => hosts[alias] as never, () => 'root');

  it('passes a host with python3 3.6+, fails one without (naming the package) and one too old', async () => {
    const checks = await guardChecks(newPlan({ source: 'real', target: 'none', pid: 1, pageServerPort: 1 }), run);
    const python = checks.filter((c) => c.id === 'guard-python');
    expect(python.map((c) => [c.host, c.status])).toEqual([['real', 'pass'], ['none', 'fail']]);
    expect(python[0]!.detail).toMatch(/^python3 3\.\d+$/);
    expect(python[1]!.detail).toContain('python3 is not installed (sh: 1: python3: not found)');
    expect(python[1]!.fix).toMatch(/apt-get install python3-minimal/);
    const old = await guardChecks(newPlan({ source: 'real', target: 'old', pid: 1, pageServerPort: 1 }), run);
    expect(old.find((c) => c.host === 'old' && c.id === 'guard-python')?.detail).toBe('python3 3.5 is older than 3.6');
  });

  it("fails when the guard's port (page server + 1) is taken on the target", async () => {
    const server = createServer().listen(0, '127.0.0.1');
    await new Promise((r) => server.once('listening', r));
    try {
      const port = (server.address() as { port: number }).port;
      const checks = await guardChecks(newPlan({ source: 'real', target: 'real', pid: 1, pageServerPort: port - 1 }), run);
      expect(checks.find((c) => c.id === 'guard-port')).toMatchObject({ status: 'fail', host: 'real' });
      const free = await guardChecks(newPlan({ source: 'real', target: 'real', pid: 1, pageServerPort: port }), run);
      expect(free.find((c) => c.id === 'guard-port')?.status).toBe('pass');
    } finally {
      server.close();
    }
  });
});

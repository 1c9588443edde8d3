import { execFileSync } from 'node:child_process';
import { mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LOCAL_HOST, type EngineEvent } from '../../../shared/api.ts';
import { CommandRunner } from '../commands/runner.ts';
import { installTls, makeMigrationTls, refusedPeer, refusedPeerError, removeTls, tlsPaths, type MigrationTls } from './tls.ts';

// The cert maker runs the system's openssl for real, as recorded local commands.
describe('per-migration TLS material', () => {
  const events: EngineEvent[] = [];
  const run = new CommandRunner(
    (e) => events.push(e),
    () => {
      throw new Error('no remote hosts here');
    },
    () => 'root',
    'm1',
  );
  let work: string;
  let tls: MigrationTls;

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'ferry-tls-test-'));
    tls = await makeMigrationTls(run, '2026-11-30T20-00-00Z-abcdef', [
      { alias: 'src', address: '10.0.0.1' },
      { alias: 'dst', address: 'target.example' },
    ]);
  });
  afterAll(async () => {
    await rm(work, { recursive: true, force: true });
  });

  const openssl = (...args: string[]) => execFileSync('openssl', args, { encoding: 'utf8' });

  it('makes a CA and one EC P-256 key pair per host, each certificate signed by that CA', async () => {
    for (const alias of ['src', 'dst']) {
      const h = tls.hosts[alias]!;
      expect(h.key).toMatch(/^-----BEGIN PRIVATE KEY-----/);
      const d = await mkdtemp(join(work, `${alias}-`));
      await writeFile(join(d, 'ca.pem'), h.ca);
      await writeFile(join(d, 'cert.pem'), h.cert);
      expect(openssl('verify', '-CAfile', join(d, 'ca.pem'), '-purpose', 'sslserver', join(d, 'cert.pem'))).toMatch(/cert\.pem: OK/);
      expect(openssl('verify', '-CAfile', join(d, 'ca.pem'), '-purpose', 'sslclient', join(d, 'cert.pem'))).toMatch(/cert\.pem: OK/);
      const text = openssl('x509', '-in', join(d, 'cert.pem'), '-noout', '-text');
      expect(text).toMatch(/ASN1 OID: prime256v1/);
      expect(text).toContain(alias === 'src' ? 'IP Address:10.0.0.1' : 'DNS:target.example');
    }
    // Both hosts share one CA; a certificate from another migration's CA is not accepted.
    expect(tls.hosts.src!.ca).toBe(tls.hosts.dst!.ca);
    const other = await makeMigrationTls(run, 'other', [{ alias: 'x', address: '10.0.0.9' }]);
    const d = await mkdtemp(join(work, 'other-'));
    await writeFile(join(d, 'ca.pem'), tls.hosts.src!.ca);
    await writeFile(join(d, 'cert.pem'), other.hosts.x!.cert);
    expect(() => execFileSync('openssl', ['verify', '-CAfile', join(d, 'ca.pem'), join(d, 'cert.pem')], { stdio: 'pipe' })).toThrow();
  });

  it('backdates the certificates an hour (a lagging host clock still accepts them) and keeps them short-lived', async () => {
    const d = await mkdtemp(join(work, 'dates-'));
    await writeFile(join(d, 'cert.pem'), tls.hosts.dst!.cert);
    const dates = openssl('x509', '-in', join(d, 'cert.pem'), '-noout', '-startdate', '-enddate');
    const notBefore = Date.parse(/notBefore=(.*)/.exec(dates)![1]!);
    const notAfter = Date.parse(/notAfter=(.*)/.exec(dates)![1]!);
    expect(Date.now() - notBefore).toBeGreaterThan(50 * 60_000);
    expect(notAfter - Date.now()).toBeLessThan(25 * 3600_000);
  });

  it('installs a host share as root-only files (key 0600, dir 0700) and removes them', async () => {
    const mig = join(work, 'mig');
    const paths = await installTls(run, LOCAL_HOST, mig, tls.hosts.dst!);
    expect(paths).toEqual(tlsPaths(mig));
    expect((await stat(join(mig, 'tls'))).mode & 0o777).toBe(0o700);
    expect((await stat(paths.key)).mode & 0o777).toBe(0o600);
    expect(execFileSync('openssl', ['verify', '-CAfile', paths.cacert, paths.cert], { encoding: 'utf8' })).toMatch(/OK/);
    await removeTls(run, LOCAL_HOST, mig);
    expect(await readdir(mig)).toEqual([]);
  });

  it('puts no key material in what the journal holds: commands are recorded by path only', () => {
    const journal = JSON.stringify(events);
    expect(events.some((e) => e.type === 'command-started' && e.argv.includes('genpkey'))).toBe(true);
    expect(journal).not.toMatch(/-----BEGIN/);
    expect(journal).not.toMatch(/PRIVATE KEY/);
    for (const h of Object.values(tls.hosts)) {
      const body = h.key.split('\n').filter((l) => l && !l.startsWith('-----'));
      for (const line of body) expect(journal).not.toContain(line);
    }
  });

  it('tells a refused peer from the page server log', () => {
    const log = '(00.01) Accepted connection from 10.0.0.1:41234\n(00.02) Error (criu/tls.c:234): tls: TLS handshake failed: Error in the certificate.\n';
    const r = refusedPeer(log)!;
    expect(r).toEqual({ peer: '10.0.0.1:41234', why: 'TLS handshake failed: Error in the certificate.' });
    const e = refusedPeerError('dst', 'src', 27000, r, '/w/1/page-server.log');
    expect(e.host).toBe('dst');
    expect(e.message).toContain('10.0.0.1:41234');
    expect(refusedPeer('(00.01) Accepted connection from 10.0.0.1:41234\n(00.02) page-server: done\n')).toBeUndefined();
    // Post-copy: the source's lazy dump is the listener, and the target the peer it expects.
    const lazy = refusedPeerError('src', 'dst', 27000, { peer: '10.0.0.9:5555', why: 'TLS handshake failed: Certificate is required.' }, '/w/2/dump.log', 'lazy dump');
    expect(lazy.host).toBe('src');
    expect(lazy.message).toMatch(/^The lazy dump on src refused 10\.0\.0\.9:5555: it connected to port 27000 before dst/);
    expect(lazy.hint).toMatch(/find 10\.0\.0\.9 and stop it/);
  });
});

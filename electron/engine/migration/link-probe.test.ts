import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { LOCAL_HOST, type EngineEvent } from '../../../shared/api.ts';
import { CommandRunner } from '../commands/runner.ts';
import { measureLink, parseLinkProbe, receiveArgv, sendArgv } from './link-probe.ts';
import { makeMigrationTls } from './tls.ts';

// Both ends run for real (python3 on this machine), as recorded local commands over 127.0.0.1.
const freePort = () =>
  new Promise<number>((resolve) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });

describe('the link measured before the bandwidth cap goes on', () => {
  const events: EngineEvent[] = [];
  const run = new CommandRunner((e) => events.push(e), () => { throw new Error('no remote hosts here'); }, () => 'root', 'm1');
  const dirs: string[] = [];
  afterAll(async () => {
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  });

  it('parses the receiver\'s bytes and seconds, and refuses a transfer too small to time', () => {
    expect(parseLinkProbe('16777216 0.5\n', true)).toEqual({ bytes: 16777216, ms: 500, tls: true });
    expect(parseLinkProbe('4194304 2.0e-01', false)).toEqual({ bytes: 4194304, ms: 200 });
    expect(parseLinkProbe('1000 0.001', false)).toBeUndefined();
    expect(parseLinkProbe('16777216 0', false)).toBeUndefined();
    expect(parseLinkProbe('Traceback (most recent call last):', false)).toBeUndefined();
    // Argument lists, never a shell string; the TLS files follow the numbers.
    expect(receiveArgv(27000, { cacert: '/w/ca.pem', cert: '/w/cert.pem', key: '/w/key.pem' }).slice(-4)).toEqual(['27000', '/w/ca.pem', '/w/cert.pem', '/w/key.pem']);
    expect(sendArgv('10.0.0.2', 27000, undefined, 8, 1).slice(-4)).toEqual(['10.0.0.2', '27000', '8', '1']);
  });

  it('times a plain TCP transfer to the page server\'s port, both ends recorded', async () => {
    const port = await freePort();
    const r = await measureLink(run, { source: LOCAL_HOST, target: LOCAL_HOST, targetAddress: '127.0.0.1', port });
    expect(r.problem).toBeUndefined();
    expect(r.link!.bytes).toBeGreaterThanOrEqual(1 << 20);
    expect(r.link!.bytes).toBeLessThanOrEqual(16 << 20);
    expect(r.link!.ms).toBeGreaterThan(0);
    expect(r.link!.tls).toBeUndefined();
    const started = events.filter((e) => e.type === 'command-started' && e.argv.includes('python3'));
    expect(started.length).toBe(2);
  }, 60_000);

  it('times it over TLS with the migration\'s keys, the way the page stream goes', async () => {
    const tls = await makeMigrationTls(run, 'link-probe-test', [{ alias: 'src', address: '127.0.0.1' }, { alias: 'dst', address: '127.0.0.1' }]);
    const write = async (alias: string) => {
      const d = await mkdtemp(join(tmpdir(), `ferry-link-${alias}-`));
      dirs.push(d);
      const h = tls.hosts[alias]!;
      await writeFile(join(d, 'ca.pem'), h.ca);
      await writeFile(join(d, 'cert.pem'), h.cert);
      await writeFile(join(d, 'key.pem'), h.key, { mode: 0o600 });
      return { cacert: join(d, 'ca.pem'), cert: join(d, 'cert.pem'), key: join(d, 'key.pem') };
    };
    // One file set serves both ends here (one local host); each end loads its own on real hosts.
    const files = await write('src');
    const port = await freePort();
    const r = await measureLink(run, { source: LOCAL_HOST, target: LOCAL_HOST, targetAddress: '127.0.0.1', port, tls: files });
    expect(r.problem).toBeUndefined();
    expect(r.link).toMatchObject({ tls: true });
    expect(r.link!.bytes).toBeGreaterThanOrEqual(1 << 20);
  }, 60_000);

  it('says why when the port is taken (the receiver cannot listen), and does not throw', async () => {
    // Someone else holds the port: it swallows what the sender sends, the receiver cannot bind.
    const other = createServer((c) => c.resume());
    const port = await new Promise<number>((resolve) => other.listen(0, '127.0.0.1', () => resolve((other.address() as { port: number }).port)));
    try {
      const r = await measureLink(run, { source: LOCAL_HOST, target: LOCAL_HOST, targetAddress: '127.0.0.1', port });
      expect(r.link).toBeUndefined();
      expect(r.problem).toMatch(/^local: .*Address already in use/);
    } finally {
      other.close();
    }
  }, 90_000);
});

import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { SshHub, pipeBetween, type SessionState, type TrustPrompt } from './index.ts';
import { eventually, hostBlock, knownHostsLine, makeTestHome, type TestHome } from './testing/fixture.ts';
import { startSshd, type TestSshd } from './testing/sshd.ts';

// Links between hosts: piping host to host, reconnecting after the server dies, ProxyJump.
let a: TestSshd;
let b: TestSshd;
let th: TestHome;

beforeAll(async () => {
  [a, b] = await Promise.all([startSshd({ logLevel: 'DEBUG' }), startSshd()]);
  th = makeTestHome();
  fs.writeFileSync(th.sshConfig, hostBlock('src', a) + hostBlock('dst', b));
  fs.writeFileSync(th.userKnownHosts, knownHostsLine(a) + knownHostsLine(b));
});
afterAll(async () => {
  await Promise.all([a?.stop(), b?.stop()]);
  th?.cleanup();
});

describe('pipeBetween', () => {
  test('5 MB of random data from one host into another: same sha256 on both ends, byte count returned', async () => {
    const hub = new SshHub({ env: th.env });
    try {
      const f = path.join(a.dir, 'payload');
      const g = path.join(b.dir, 'received');
      const progress: number[] = [];
      const r = await pipeBetween(
        hub.session('src'),
        ['sh', '-c', `head -c 5000000 /dev/urandom > ${f} && cat ${f}`],
        hub.session('dst'),
        ['sh', '-c', `cat > ${g}`],
        { timeoutMs: 30_000, onBytes: (n) => progress.push(n) },
      );
      expect(r.bytes).toBe(5_000_000);
      // Progress as the data passed: rising, ending at the total.
      expect(progress.length).toBeGreaterThan(1);
      expect(progress.every((n, i) => i === 0 || n > progress[i - 1]!)).toBe(true);
      expect(progress[progress.length - 1]).toBe(5_000_000);
      expect(r.from.code).toBe(0);
      expect(r.to.code).toBe(0);
      const sumA = (await hub.session('src').exec(['sha256sum', f])).stdout.split(' ')[0];
      const sumB = (await hub.session('dst').exec(['sha256sum', g])).stdout.split(' ')[0];
      expect(sumA).toMatch(/^[0-9a-f]{64}$/);
      expect(sumB).toBe(sumA);
    } finally {
      await hub.closeAll();
    }
  });

  test('abort stops both ends', async () => {
    const hub = new SshHub({ env: th.env, killGraceMs: 500 });
    try {
      const ac = new AbortController();
      setTimeout(() => ac.abort(), 500);
      const r = await pipeBetween(hub.session('src'), ['sh', '-c', 'while :; do echo x; sleep 0.01; done'], hub.session('dst'), ['cat'], { signal: ac.signal });
      expect(r.from.cancelled).toBe(true);
      expect(r.to.cancelled).toBe(true);
      expect(r.bytes).toBeGreaterThan(0);
    } finally {
      await hub.closeAll();
    }
  });
});

describe('reconnect', () => {
  test('server killed -> in-flight exec fails clearly -> reconnecting -> server back on the same port -> ready, exec works', async () => {
    const c = await startSshd();
    const home = makeTestHome();
    fs.writeFileSync(home.sshConfig, hostBlock('flaky', c));
    fs.writeFileSync(home.userKnownHosts, knownHostsLine(c));
    const hub = new SshHub({ env: home.env, keepaliveMs: 1000, reconnect: { initialDelayMs: 200, maxDelayMs: 1000, maxAttempts: 30 } });
    try {
      const s = hub.session('flaky');
      const states: SessionState[] = [];
      s.on('state', (st: SessionState) => states.push(st));
      expect((await s.exec(['echo', 'before'])).stdout).toBe('before\n');
      const inflight = s.exec(['sleep', '30']);
      await new Promise((r) => setTimeout(r, 300));
      await c.kill();
      await expect(inflight).rejects.toMatchObject({ code: 'connection-lost', host: 'flaky' });
      await eventually(() => states.filter((x) => x.kind === 'reconnecting').length >= 2, 'two reconnect attempts');
      const rec = states.find((x) => x.kind === 'reconnecting') as Extract<SessionState, { kind: 'reconnecting' }>;
      expect(rec).toMatchObject({ attempt: 1, delayMs: 200 });
      await c.restart();
      // An exec issued while reconnecting waits for the link instead of failing.
      expect((await s.exec(['echo', 'after'])).stdout).toBe('after\n');
      expect(s.state.kind).toBe('ready');
      const kinds = states.map((x) => x.kind);
      expect(kinds.slice(kinds.lastIndexOf('reconnecting'))).toEqual(['reconnecting', 'ready']);

      // The host key is checked again on every reconnect: a new key stops the retries loudly.
      await c.kill();
      c.regenerateHostKey();
      await c.restart();
      await eventually(() => s.state.kind === 'failed', 'session to fail', 15_000);
      expect(s.state).toMatchObject({ kind: 'failed', error: { code: 'host-key-changed' } });
    } finally {
      await hub.closeAll();
      await c.stop();
      home.cleanup();
    }
  });
});

describe('ProxyJump', () => {
  test('target reached through a jump host (and through a two-hop chain), each hop with its own host-key check', async () => {
    const home = makeTestHome();
    fs.writeFileSync(
      home.sshConfig,
      [
        hostBlock('jump', a),
        hostBlock('jump2', a),
        hostBlock('behind', b, ['ProxyJump jump']),
        hostBlock('behind2', b, ['ProxyJump jump,jump2']),
      ].join(''),
    );
    fs.writeFileSync(home.userKnownHosts, knownHostsLine(a)); // the target's key is not known yet
    const prompts: TrustPrompt[] = [];
    const hub = new SshHub({ env: home.env, trust: async (p) => (prompts.push(p), true) });
    try {
      const mark = a.log().length;
      expect((await hub.session('behind').exec(['echo', 'through'])).stdout).toBe('through\n');
      expect(prompts).toEqual([expect.objectContaining({ alias: 'behind', host: '127.0.0.1', port: b.port })]);
      expect(a.log().slice(mark)).toMatch(new RegExp(`server_request_direct_tcpip: .*target 127\\.0\\.0\\.1 port ${b.port}`));
      expect(hub.session('jump').state.kind).toBe('ready'); // the hop is the shared session for that alias
      expect((await hub.session('behind2').exec(['echo', 'two hops'])).stdout).toBe('two hops\n');
      expect(prompts).toHaveLength(1); // the target's key was saved the first time
    } finally {
      await hub.closeAll();
      home.cleanup();
    }
  });
});

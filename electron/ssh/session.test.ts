import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import { SshHub, type SessionState, type TrustPrompt } from './index.ts';
import { hostBlock, knownHostsLine, makeTestHome, type TestHome } from './testing/fixture.ts';
import { keygen, startSshd, type TestSshd } from './testing/sshd.ts';

// Host-key trust and authentication against a real OpenSSH server.
let sshd: TestSshd;
const homes: TestHome[] = [];
const hubs: SshHub[] = [];

beforeAll(async () => {
  // DEBUG so the log shows every userauth request (or proves there was none).
  sshd = await startSshd({ logLevel: 'DEBUG' });
});
afterAll(async () => {
  await sshd?.stop();
});
afterEach(async () => {
  await Promise.all(hubs.splice(0).map((h) => h.closeAll()));
  for (const h of homes.splice(0)) h.cleanup();
});

function setup(config: string, opts: { trust?: (p: TrustPrompt) => Promise<boolean>; env?: NodeJS.ProcessEnv; passphrase?: (k: string) => Promise<string | undefined> } = {}) {
  const th = makeTestHome(opts.env);
  homes.push(th);
  fs.writeFileSync(th.sshConfig, config);
  const hub = new SshHub({ env: th.env, trust: opts.trust, passphrase: opts.passphrase });
  hubs.push(hub);
  return { th, hub };
}

const logSince = (mark: number) => sshd.log().slice(mark);

describe('host key trust', () => {
  test('unknown key -> awaiting-trust with ssh-keygen fingerprint -> accepted -> saved -> no prompt next time', async () => {
    const prompts: TrustPrompt[] = [];
    const { th, hub } = setup(hostBlock('box', sshd), { trust: async (p) => (prompts.push(p), true) });
    const states: SessionState[] = [];
    const s = hub.session('box');
    s.on('state', (st: SessionState) => states.push(st));
    await s.connect();
    expect(s.state.kind).toBe('ready');
    expect(states.map((x) => x.kind)).toEqual(['connecting', 'awaiting-trust', 'connecting', 'ready']);
    const fp = execFileSync('ssh-keygen', ['-lf', `${sshd.hostKeyPath}.pub`]).toString().split(/\s+/)[1];
    expect(prompts).toEqual([{ alias: 'box', host: '127.0.0.1', port: sshd.port, keyType: 'ssh-ed25519', fingerprint: fp }]);
    expect(fs.readFileSync(th.ferryKnownHosts, 'utf8')).toBe(knownHostsLine(sshd));
    expect((await hub.resolve('box')).keyKnown).toBe(true);

    // A new hub (a new Ferry run) finds the key in Ferry's known_hosts and never asks.
    const hub2 = new SshHub({ env: th.env, trust: async () => { throw new Error('must not ask'); } });
    hubs.push(hub2);
    expect((await hub2.session('box').exec(['true'])).code).toBe(0);
  });

  test('unknown key refused -> host-key-unknown-refused, and no authentication was attempted', async () => {
    const mark = sshd.log().length;
    const { hub } = setup(hostBlock('box', sshd)); // default decider refuses
    const e = await hub.session('box').connect().catch((x) => x);
    expect(e.code).toBe('host-key-unknown-refused');
    expect(e.host).toBe('box');
    expect(e.message).toContain('SHA256:');
    expect(hub.session('box').state.kind).toBe('failed');
    // sshd saw the key exchange but never a userauth request.
    await new Promise((r) => setTimeout(r, 200));
    const log = logSince(mark);
    expect(log).toMatch(/Connection from 127\.0\.0\.1|kex/);
    expect(log).not.toMatch(/userauth|publickey|Accepted/);
  });

  test('a key in ~/.ssh/known_hosts hashed by ssh-keygen -H is trusted without asking', async () => {
    const { th, hub } = setup(hostBlock('box', sshd));
    fs.writeFileSync(th.userKnownHosts, knownHostsLine(sshd));
    execFileSync('ssh-keygen', ['-H', '-f', th.userKnownHosts], { stdio: 'ignore' });
    expect(fs.readFileSync(th.userKnownHosts, 'utf8')).toMatch(/^\|1\|/);
    expect((await hub.session('box').exec(['echo', 'ok'])).stdout).toBe('ok\n');
  });

  test('changed host key -> host-key-changed naming file:line and the ssh-keygen -R fix; decider never asked', async () => {
    const other = await startSshd();
    try {
      const { th, hub } = setup(hostBlock('moved', other), { trust: async () => { throw new Error('must not ask'); } });
      fs.writeFileSync(th.userKnownHosts, `# old entry\n${knownHostsLine(other)}`);
      expect((await hub.session('moved').exec(['true'])).code).toBe(0);
      await hub.session('moved').close();
      other.regenerateHostKey();
      await other.restart();
      const mark = other.log().length;
      const e = await hub.session('moved').connect().catch((x) => x);
      expect(e.code).toBe('host-key-changed');
      expect(e.message).toContain(`${th.userKnownHosts}:2`);
      const newFp = execFileSync('ssh-keygen', ['-lf', `${other.hostKeyPath}.pub`]).toString().split(/\s+/)[1]!;
      expect(e.message).toContain(newFp);
      expect(e.hint).toContain(`ssh-keygen -R '[127.0.0.1]:${other.port}' -f ${th.userKnownHosts}`);
      expect(other.log().slice(mark)).not.toMatch(/Accepted publickey/);
    } finally {
      await other.stop();
    }
  });

  test('@revoked key -> host-key-revoked, decider never asked', async () => {
    const { th, hub } = setup(hostBlock('box', sshd), { trust: async () => { throw new Error('must not ask'); } });
    const [type, b64] = fs.readFileSync(`${sshd.hostKeyPath}.pub`, 'utf8').split(/\s+/);
    fs.writeFileSync(th.userKnownHosts, `${knownHostsLine(sshd)}@revoked * ${type} ${b64}\n`);
    const e = await hub.session('box').connect().catch((x) => x);
    expect(e.code).toBe('host-key-revoked');
    expect(e.message).toContain(`${th.userKnownHosts}:2`);
  });
});

describe('authentication', () => {
  test('IdentityFile key auth', async () => {
    const mark = sshd.log().length;
    const { th, hub } = setup(hostBlock('box', sshd));
    fs.writeFileSync(th.userKnownHosts, knownHostsLine(sshd));
    expect((await hub.session('box').exec(['whoami'])).stdout).toBe('root\n');
    // The same log level does show userauth requests, so their absence above means something.
    expect(logSince(mark)).toMatch(/userauth/);
    expect(logSince(mark)).toMatch(/Accepted publickey for root/);
  });

  test('ssh-agent auth via SSH_AUTH_SOCK (no key files at all)', async () => {
    const { th } = setup('');
    const sock = path.join(th.home, 'agent.sock');
    const out = execFileSync('ssh-agent', ['-a', sock, '-s']).toString();
    const pid = Number(/SSH_AGENT_PID=(\d+)/.exec(out)![1]);
    try {
      execFileSync('ssh-add', [sshd.clientKeyPath], { env: { ...process.env, SSH_AUTH_SOCK: sock }, stdio: 'ignore' });
      const cfg = `Host viaagent\n  HostName 127.0.0.1\n  Port ${sshd.port}\n  User root\n`;
      const { th: th2, hub } = setup(cfg, { env: { SSH_AUTH_SOCK: sock } });
      fs.writeFileSync(th2.userKnownHosts, knownHostsLine(sshd));
      const mark = sshd.log().length;
      expect((await hub.session('viaagent').exec(['echo', 'agent'])).stdout).toBe('agent\n');
      expect(logSince(mark)).toMatch(/Accepted publickey for root/);
    } finally {
      process.kill(pid);
    }
  });

  test('wrong key -> auth-failed naming the user and the identities tried', async () => {
    const { th } = setup('');
    const wrong = path.join(th.home, 'wrong_key');
    keygen(wrong);
    const { th: th2, hub } = setup(hostBlock('box', { port: sshd.port, clientKeyPath: wrong }));
    fs.writeFileSync(th2.userKnownHosts, knownHostsLine(sshd));
    const e = await hub.session('box').connect().catch((x) => x);
    expect(e.code).toBe('auth-failed');
    expect(e.message).toContain('root@127.0.0.1');
    expect(e.message).toContain(wrong);
    expect(e.hint).toMatch(/authorized_keys/);
    expect(hub.session('box').state).toMatchObject({ kind: 'failed', error: { code: 'auth-failed' } });
  });

  test('encrypted key: passphrase hook unlocks it; without one a key-passphrase error, secret never shown', async () => {
    const { th } = setup('');
    const enc = path.join(th.home, 'enc_key');
    keygen(enc, 'ed25519', ['-N', 'hunter2-secret']);
    fs.appendFileSync(path.join(sshd.dir, 'authorized_keys'), fs.readFileSync(`${enc}.pub`));
    const cfg = hostBlock('enc', { port: sshd.port, clientKeyPath: enc });

    const asked: string[] = [];
    const ok = setup(cfg, { passphrase: async (k) => (asked.push(k), 'hunter2-secret') });
    fs.writeFileSync(ok.th.userKnownHosts, knownHostsLine(sshd));
    expect((await ok.hub.session('enc').exec(['true'])).code).toBe(0);
    expect(asked).toEqual([enc]);

    const none = setup(cfg);
    fs.writeFileSync(none.th.userKnownHosts, knownHostsLine(sshd));
    const e = await none.hub.session('enc').connect().catch((x) => x);
    expect(e.code).toBe('key-passphrase');
    expect(e.message).toContain(enc);

    const bad = setup(cfg, { passphrase: async () => 'wrong-guess' });
    fs.writeFileSync(bad.th.userKnownHosts, knownHostsLine(sshd));
    const e2 = await bad.hub.session('enc').connect().catch((x) => x);
    expect(e2.code).toBe('key-passphrase');
    expect(e2.message).toMatch(/passphrase .* is wrong/);
    expect(JSON.stringify([e, e2])).not.toMatch(/hunter2|wrong-guess/);
  });

  test('nothing listening -> host-unreachable naming host:port', async () => {
    const { th, hub } = setup('Host dead\n  HostName 127.0.0.1\n  Port 1\n');
    void th;
    const e = await hub.session('dead').exec(['true']).catch((x) => x);
    expect(e.code).toBe('host-unreachable');
    expect(e.message).toContain('127.0.0.1:1');
    expect(e.hint).toMatch(/port 1/);
  });
});

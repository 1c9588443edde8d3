import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, test } from 'vitest';
import { isFerryError } from '../../shared/errors.ts';
import { SshHub } from './index.ts';
import { parseJumpSpec } from './hub.ts';
import { makeTestHome, type TestHome } from './testing/fixture.ts';

let th: TestHome;
afterEach(() => th?.cleanup());

function hubWith(userConfig: string, ferryConfig?: string): SshHub {
  th = makeTestHome({ USER: 'alice' });
  fs.writeFileSync(th.sshConfig, userConfig);
  if (ferryConfig !== undefined) fs.writeFileSync(th.ferrySshConfig, ferryConfig);
  return new SshHub({ env: th.env });
}

describe('ssh config', () => {
  test('first obtained value wins across matching blocks, wildcards and negation apply', async () => {
    const hub = hubWith(`
# comment
Host web1 web2
  HostName %h.example.com
  Port 2222
  IdentityFile ~/.ssh/web_key
Host web* !web3
  Port 3333
  User deploy
  IdentityFile ~/.ssh/second
Host *
  User fallback
  IdentitiesOnly yes
`);
    const w1 = await hub.resolve('web1');
    expect(w1).toMatchObject({ alias: 'web1', hostname: 'web1.example.com', port: 2222, user: 'deploy', identitiesOnly: true });
    // IdentityFile accumulates in order, with ~ expanded.
    expect(w1.identityFiles).toEqual([path.join(th.home, '.ssh/web_key'), path.join(th.home, '.ssh/second')]);
    expect(await hub.resolve('web9')).toMatchObject({ hostname: 'web9', port: 3333, user: 'deploy' });
    // Negated pattern vetoes the web* block entirely.
    expect(await hub.resolve('web3')).toMatchObject({ hostname: 'web3', port: 22, user: 'fallback' });
  });

  test('defaults: current user, port 22, OpenSSH default identity files, key=value syntax and quotes', async () => {
    const hub = hubWith('Host q\n  HostName="10.0.0.5"\n  IdentityFile "~/.ssh/my key"\n');
    const q = await hub.resolve('q');
    expect(q).toMatchObject({ hostname: '10.0.0.5', user: 'alice', port: 22, proxyJump: [], identityFilesFromConfig: true });
    expect(q.identityFiles).toEqual([path.join(th.home, '.ssh/my key')]);
    const d = await hub.resolve('nowhere');
    expect(d.identityFiles).toEqual(['id_ed25519', 'id_ecdsa', 'id_rsa'].map((k) => path.join(th.home, '.ssh', k)));
    expect(d.identityFilesFromConfig).toBe(false);
  });

  test("Ferry's ssh_config is read after ~/.ssh/config; listHosts skips patterns", async () => {
    const hub = hubWith('Host shared\n  Port 1111\nHost *.lab\n  User labber\n', 'Host shared\n  Port 2222\n  User ferry\nHost lab-source lab-target\n  HostName 192.168.56.10\nHost !x *\n  Compression yes\n');
    expect(await hub.resolve('shared')).toMatchObject({ port: 1111, user: 'ferry' });
    expect(await hub.resolve('lab-source')).toMatchObject({ hostname: '192.168.56.10' });
    expect(await hub.listHosts()).toEqual(['shared', 'lab-source', 'lab-target']);
  });

  test('ProxyJump: comma list kept in order, none disables it, hop syntax parses', async () => {
    const hub = hubWith('Host target\n  ProxyJump bastion,admin@inner:2200\nHost direct\n  ProxyJump none\nHost *\n  ProxyJump fallback\n');
    expect((await hub.resolve('target')).proxyJump).toEqual(['bastion', 'admin@inner:2200']);
    expect((await hub.resolve('direct')).proxyJump).toEqual([]);
    expect((await hub.resolve('other')).proxyJump).toEqual(['fallback']);
    expect(parseJumpSpec('admin@inner:2200')).toEqual({ user: 'admin', host: 'inner', port: 2200 });
    expect(parseJumpSpec('[::1]:22')).toEqual({ user: undefined, host: '::1', port: 22 });
    expect(parseJumpSpec('bastion')).toEqual({ user: undefined, host: 'bastion', port: undefined });
  });

  test('Include is expanded in place, relative to ~/.ssh', async () => {
    const hub = hubWith('Include conf.d/*.conf\nHost inc\n  Port 9\n');
    fs.mkdirSync(path.join(th.home, '.ssh/conf.d'));
    fs.writeFileSync(path.join(th.home, '.ssh/conf.d/a.conf'), 'Host inc\n  Port 7\n  User incl\n');
    expect(await hub.resolve('inc')).toMatchObject({ port: 7, user: 'incl' });
    expect(await hub.listHosts()).toEqual(['inc']);
  });

  test('a bad Port is an ssh-config error naming file and line', async () => {
    const hub = hubWith('Host bad\n\n  Port eighty\n');
    const e = await hub.resolve('bad').catch((x) => x);
    expect(isFerryError(e)).toBe(true);
    expect(e.code).toBe('ssh-config');
    expect(e.message).toContain(`${th.sshConfig}:3`);
  });

  test('a ProxyJump loop is refused instead of hanging', async () => {
    const hub = hubWith('Host a\n  ProxyJump b\nHost b\n  ProxyJump a\n');
    const e = await hub.session('a').connect().catch((x) => x);
    expect(e.code).toBe('ssh-config');
    expect(e.message).toMatch(/loops: a -> b -> a/);
    await hub.closeAll();
  });
});

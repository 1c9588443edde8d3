import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { fingerprintOf, keyTypeOf } from './fingerprint.ts';
import { appendKnownHost, checkHostKey, loadKnownHosts, parseKnownHosts } from './known-hosts.ts';
import { keygen } from './testing/sshd.ts';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ferry-kh-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

function newKey(name: string, type = 'ed25519'): { blob: Buffer; line: string; pub: string } {
  const f = path.join(dir, name);
  keygen(f, type);
  const [t, b64] = fs.readFileSync(`${f}.pub`, 'utf8').trim().split(/\s+/);
  return { blob: Buffer.from(b64!, 'base64'), line: `${t} ${b64}`, pub: `${f}.pub` };
}

describe('known_hosts', () => {
  const a = newKey('a');
  const b = newKey('b');
  const ec = newKey('ec', 'ecdsa');

  test('fingerprint matches ssh-keygen -lf exactly', () => {
    for (const k of [a, ec]) {
      const out = execFileSync('ssh-keygen', ['-lf', k.pub, '-E', 'sha256']).toString();
      expect(out.split(/\s+/)[1]).toBe(fingerprintOf(k.blob));
      expect(fingerprintOf(k.blob)).not.toContain('=');
    }
    expect(keyTypeOf(a.blob)).toBe('ssh-ed25519');
    expect(keyTypeOf(ec.blob)).toBe('ecdsa-sha2-nistp256');
  });

  test('plain host lists, [host]:port, negation, comments', () => {
    const text = `# comment\n\nweb1,10.0.0.1 ${a.line}\n[10.0.0.1]:2222 ${b.line}\n*.lab,!evil.lab ${a.line}\n`;
    const lines = parseKnownHosts(text, 'KH');
    expect(lines).toHaveLength(3);
    expect(checkHostKey(lines, 'web1', 22, a.blob)).toMatchObject({ kind: 'known', line: 3 });
    expect(checkHostKey(lines, '10.0.0.1', 22, a.blob).kind).toBe('known');
    // Port 2222 looks up "[10.0.0.1]:2222" only, so key a there is a change of key.
    expect(checkHostKey(lines, '10.0.0.1', 2222, b.blob).kind).toBe('known');
    expect(checkHostKey(lines, '10.0.0.1', 2222, a.blob)).toMatchObject({ kind: 'changed', file: 'KH', line: 4, oldFingerprint: fingerprintOf(b.blob) });
    expect(checkHostKey(lines, 'db.lab', 22, a.blob).kind).toBe('known');
    expect(checkHostKey(lines, 'evil.lab', 22, a.blob).kind).toBe('unknown');
    // A known key of another type is not a change: the host may offer several.
    expect(checkHostKey(lines, 'web1', 22, ec.blob)).toEqual({ kind: 'unknown', otherTypesKnown: ['ssh-ed25519'] });
  });

  test('hashed |1|salt|hash entries written by ssh-keygen -H', async () => {
    const f = path.join(dir, 'hashed');
    fs.writeFileSync(f, `[127.0.0.1]:2022 ${a.line}\nmyhost ${b.line}\n`);
    execFileSync('ssh-keygen', ['-H', '-f', f], { stdio: 'ignore' });
    const text = fs.readFileSync(f, 'utf8');
    expect(text).toMatch(/^\|1\|/m);
    expect(text).not.toContain('127.0.0.1');
    const lines = await loadKnownHosts([f]);
    expect(checkHostKey(lines, '127.0.0.1', 2022, a.blob).kind).toBe('known');
    expect(checkHostKey(lines, 'MyHost', 22, b.blob).kind).toBe('known');
    expect(checkHostKey(lines, '127.0.0.1', 22, a.blob).kind).toBe('unknown');
    expect(checkHostKey(lines, 'myhost', 22, a.blob)).toMatchObject({ kind: 'changed', line: 2 });
  });

  test('@revoked wins over a matching plain line; @cert-authority lines are not host keys', () => {
    const text = `web1 ${a.line}\n@revoked * ${a.line}\n@cert-authority *.lab ${b.line}\n@bogus x ${b.line}\n`;
    const lines = parseKnownHosts(text, 'KH');
    expect(checkHostKey(lines, 'web1', 22, a.blob)).toEqual({ kind: 'revoked', file: 'KH', line: 2 });
    expect(checkHostKey(lines, 'x.lab', 22, b.blob).kind).toBe('unknown');
  });

  test('appendKnownHost writes OpenSSH format that ssh-keygen -F finds', async () => {
    const f = path.join(dir, 'sub', 'known_hosts');
    await appendKnownHost(f, '127.0.0.1', 2200, a.blob);
    await appendKnownHost(f, 'plain.example', 22, b.blob);
    expect(fs.readFileSync(f, 'utf8')).toBe(`[127.0.0.1]:2200 ${a.line}\nplain.example ${b.line}\n`);
    expect(execFileSync('ssh-keygen', ['-F', '[127.0.0.1]:2200', '-f', f]).toString()).toContain(a.line);
    expect(fs.statSync(f).mode & 0o777).toBe(0o600);
  });
});

import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { SshHub, type HostSession } from './index.ts';
import { eventually, hostBlock, knownHostsLine, makeTestHome, processesMatching, type TestHome } from './testing/fixture.ts';
import { startSshd, type TestSshd } from './testing/sshd.ts';

// Running commands and moving files over one real OpenSSH connection.
let sshd: TestSshd;
let th: TestHome;
let hub: SshHub;
let s: HostSession;
let fakeBin: string;

beforeAll(async () => {
  th = makeTestHome();
  // A fake sudo that behaves like `sudo -n` for a user without NOPASSWD; sshd puts it first on PATH.
  fakeBin = path.join(th.home, 'fakebin');
  fs.mkdirSync(fakeBin);
  fs.writeFileSync(path.join(fakeBin, 'sudo'), '#!/bin/sh\necho "sudo: a password is required" >&2\nexit 1\n', { mode: 0o755 });
  sshd = await startSshd();
  fs.writeFileSync(th.sshConfig, hostBlock('box', sshd));
  fs.writeFileSync(th.userKnownHosts, knownHostsLine(sshd));
  hub = new SshHub({ env: th.env, killGraceMs: 1000 });
  s = hub.session('box');
});
afterAll(async () => {
  await hub?.closeAll();
  await sshd?.stop();
  th?.cleanup();
});

const uniq = () => `${Math.floor(Math.random() * 9000) + 1000}.${Math.floor(Math.random() * 1000)}`;

describe('exec', () => {
  test('stdout, stderr, exit code, and the exact command sent', async () => {
    const r = await s.exec(['sh', '-c', 'echo out; echo err >&2; exit 7']);
    expect(r).toMatchObject({ host: 'box', code: 7, signal: null, stdout: 'out\n', stderr: 'err\n', timedOut: false, cancelled: false });
    expect(r.command).toBe(`echo "FERRY-PGID $$" >&2; exec 'sh' '-c' 'echo out; echo err >&2; exit 7'`);
    expect(r.argv).toEqual(['sh', '-c', 'echo out; echo err >&2; exit 7']);
    expect(Date.parse(r.endedAt)).toBeGreaterThanOrEqual(Date.parse(r.startedAt));
  });

  test('killed by a signal -> signal name, no code', async () => {
    const r = await s.exec(['sh', '-c', 'kill -TERM $$']);
    expect(r).toMatchObject({ code: null, signal: 'TERM' });
    expect((await s.exec(['sh', '-c', 'kill -KILL $$'])).signal).toBe('KILL');
  });

  test('stdin from a string, a Buffer and a stream; streaming callbacks; env', async () => {
    expect((await s.exec(['cat'], { stdin: 'hello' })).stdout).toBe('hello');
    expect((await s.exec(['wc', '-c'], { stdin: Buffer.alloc(100000, 1) })).stdout.trim()).toBe('100000');
    const src = fs.createReadStream(sshd.hostKeyPath + '.pub');
    expect((await s.exec(['cat'], { stdin: src })).stdout).toBe(fs.readFileSync(sshd.hostKeyPath + '.pub', 'utf8'));
    const chunks: string[] = [];
    const errs: string[] = [];
    await s.exec(['sh', '-c', 'echo a; echo b >&2'], { onStdout: (c) => chunks.push(c.toString()), onStderr: (c) => errs.push(c.toString()) });
    expect(chunks.join('')).toBe('a\n');
    expect(errs.join('')).toBe('b\n');
    expect((await s.exec(['sh', '-c', 'echo "$FERRY_X"'], { env: { FERRY_X: "it's $HOME" } })).stdout).toBe("it's $HOME\n");
  });

  test('20 MiB of output: everything streamed (hash matches), buffer capped at maxOutputBytes', async () => {
    const n = 20 * 1024 * 1024;
    const expected = createHash('sha256').update(Buffer.alloc(n, 'x')).digest('hex');
    const h = createHash('sha256');
    let streamed = 0;
    const r = await s.exec(['sh', '-c', `head -c ${n} /dev/zero | tr '\\000' x`], {
      onStdout: (c) => {
        h.update(c);
        streamed += c.length;
      },
    });
    expect(streamed).toBe(n);
    expect(h.digest('hex')).toBe(expected);
    expect(r.stdout.length).toBe(16 * 1024 * 1024);
    expect(r.truncated).toBe(true);
    const full = await s.exec(['sh', '-c', `head -c ${n} /dev/zero | tr '\\000' x`], { maxOutputBytes: 32 * 1024 * 1024 });
    expect(full.stdout.length).toBe(n);
    expect(createHash('sha256').update(full.stdout).digest('hex')).toBe(expected);
    expect(full.truncated).toBeUndefined();
  });

  test('timeout kills the remote command (gone from the process list)', async () => {
    const tag = uniq();
    const t0 = Date.now();
    const r = await s.exec(['sleep', tag], { timeoutMs: 500 });
    expect(r.timedOut).toBe(true);
    expect(r.code === null || r.code !== 0).toBe(true);
    expect(Date.now() - t0).toBeLessThan(5000);
    await eventually(() => processesMatching(`sleep ${tag}`).length === 0, `sleep ${tag} to exit`);
  });

  test('AbortSignal cancels, and kills the whole process group (shell and its child)', async () => {
    const tag = uniq();
    const ac = new AbortController();
    const p = s.exec(['sh', '-c', `sleep ${tag}; echo never`]);
    void p;
    const p2 = s.exec(['sh', '-c', `sleep ${tag}; echo never`], { signal: ac.signal });
    await eventually(() => processesMatching(`sleep ${tag}`).length === 2, 'both sleeps to start');
    ac.abort();
    const r = await p2;
    expect(r.cancelled).toBe(true);
    expect(r.stdout).toBe('');
    await eventually(() => processesMatching(`sleep ${tag}`).length === 1, 'the cancelled sleep to exit');
    // The other command was untouched: once its sleep ends, its shell goes on to echo.
    const pid = processesMatching(`sleep ${tag}`)[0]!.split(' ')[0]!;
    process.kill(Number(pid));
    expect(await p).toMatchObject({ code: 0, stdout: 'never\n', cancelled: false });
  });

  test('already-aborted signal: nothing runs', async () => {
    const ac = new AbortController();
    ac.abort();
    const r = await s.exec(['touch', path.join(sshd.dir, 'should-not-exist')], { signal: ac.signal });
    expect(r.cancelled).toBe(true);
    expect(fs.existsSync(path.join(sshd.dir, 'should-not-exist'))).toBe(false);
  });

  test('many concurrent commands share the one connection (more than MaxSessions allows at once)', async () => {
    const rs = await Promise.all(Array.from({ length: 30 }, (_, i) => s.exec(['sh', '-c', `sleep 0.1; echo ${i}`])));
    expect(rs.map((r) => r.stdout)).toEqual(Array.from({ length: 30 }, (_, i) => `${i}\n`));
  });

  test('spawn: streams with backpressure and signals', async () => {
    const p = s.spawn(['sh', '-c', 'cat; echo done >&2']);
    const got: Buffer[] = [];
    p.stdout.on('data', (c: Buffer) => got.push(c));
    p.stdin.write('part1 ');
    p.stdin.end('part2');
    const r = await p.done;
    expect(Buffer.concat(got).toString()).toBe('part1 part2');
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe('done\n');
    const k = s.spawn(['sleep', uniq()]);
    setTimeout(() => k.kill('INT'), 300);
    expect((await k.done).signal).toBe('INT');
  });

  test('empty argv and NUL are refused before anything is sent', async () => {
    await expect(s.exec([])).rejects.toMatchObject({ code: 'exec-invalid-argv' });
    await expect(s.exec(['echo', 'a\0b'])).rejects.toMatchObject({ code: 'exec-invalid-argv' });
    expect(() => s.spawn(['x\0'])).toThrow(/NUL/);
  });
});

describe('sudo', () => {
  test("sudo -n asking for a password -> 'sudo-password' with the next step", async () => {
    const other = await startSshd({ config: [`SetEnv PATH=${fakeBin}:/usr/bin:/bin`] });
    try {
      fs.appendFileSync(th.sshConfig, hostBlock('nopw', other));
      fs.appendFileSync(th.userKnownHosts, knownHostsLine(other));
      const e = await hub.session('nopw').exec(['id'], { sudo: true }).catch((x) => x);
      expect(e.code).toBe('sudo-password');
      expect(e.evidence).toBe('sudo: a password is required');
      expect(e.hint).toMatch(/NOPASSWD|root/);
      // Without sudo the same host runs fine.
      expect((await hub.session('nopw').exec(['true'])).code).toBe(0);
    } finally {
      await hub.session('nopw').close();
      await other.stop();
    }
  });
});

describe('sftp', () => {
  test('writeFile is atomic-by-rename with the given mode; readFile reads it back; overwrite keeps working', async () => {
    const f = path.join(sshd.dir, 'files', 'a.conf');
    fs.mkdirSync(path.dirname(f));
    await s.writeFile(f, 'one\n', { mode: 0o640 });
    expect(fs.readFileSync(f, 'utf8')).toBe('one\n');
    expect(fs.statSync(f).mode & 0o777).toBe(0o640);
    await s.writeFile(f, Buffer.from('two\n'));
    expect((await s.readFile(f)).toString()).toBe('two\n');
    expect(fs.statSync(f).mode & 0o777).toBe(0o640); // kept from the file it replaced
    expect(fs.readdirSync(path.dirname(f))).toEqual(['a.conf']); // no temp files left
    const big = Buffer.alloc(3 * 1024 * 1024, 7);
    await s.writeFile(f, big);
    expect((await s.readFile(f)).equals(big)).toBe(true);
  });

  test('missing file -> remote-file-missing naming the path', async () => {
    const e = await s.readFile('/nonexistent/ferry/file').catch((x) => x);
    expect(e.code).toBe('remote-file-missing');
    expect(e.message).toContain('/nonexistent/ferry/file');
  });
});

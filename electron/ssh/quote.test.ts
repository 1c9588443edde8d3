import fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { isFerryError } from '../../shared/errors.ts';
import { SshHub, quoteArgv, type HostSession } from './index.ts';
import { hostBlock, knownHostsLine, makeTestHome, type TestHome } from './testing/fixture.ts';
import { startSshd, type TestSshd } from './testing/sshd.ts';

describe('quoteArgv', () => {
  test('single-quotes every argument; embedded quotes are closed, escaped and reopened', () => {
    expect(quoteArgv(['echo', 'a b', "it's", ''])).toBe(`'echo' 'a b' 'it'\\''s' ''`);
  });
  test('refuses empty argv and NUL with a FerryError', () => {
    for (const bad of [[], ['a\0']]) {
      let err: unknown;
      try {
        quoteArgv(bad);
      } catch (e) {
        err = e;
      }
      expect(isFerryError(err)).toBe(true);
      expect((err as { code: string }).code).toBe('exec-invalid-argv');
    }
  });
});

// Seeded generator so a failure can be reproduced exactly.
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const ATOMS = [
  "'", '"', '\\', '$', '`', ';', '&', '|', '>', '<', '(', ')', '{', '}', '*', '?', '[', ']', '~', '#', '!', '%', '=',
  ' ', '\t', '\n', '\r', '-', '--', '-n', '-e', '$(id)', '`id`', '${HOME}', "'\\''", '$((1+1))', '&&', '||', '*.*',
  'é', '日本', '🚢', '\u202e', '\x01', '\x7f', 'a', 'Z', '0', '%s', '%n', '\\0', '$\'\\x41\'', '!!', '$@', '$*',
];

function hostile(r: () => number): string {
  const len = Math.floor(r() * 12);
  let s = '';
  for (let i = 0; i < len; i++) s += ATOMS[Math.floor(r() * ATOMS.length)];
  return s;
}

describe('quoting against a real shell over SSH', () => {
  let sshd: TestSshd;
  let th: TestHome;
  let hub: SshHub;
  let s: HostSession;
  beforeAll(async () => {
    sshd = await startSshd();
    th = makeTestHome();
    fs.writeFileSync(th.sshConfig, hostBlock('box', sshd));
    fs.writeFileSync(th.userKnownHosts, knownHostsLine(sshd));
    hub = new SshHub({ env: th.env });
    s = hub.session('box');
  });
  afterAll(async () => {
    await hub?.closeAll();
    await sshd?.stop();
    th?.cleanup();
  });

  // The remote printf gets the args and echoes each back NUL-terminated: exact round trip.
  const roundTrip = async (args: string[]) => {
    const r = await s.exec(['printf', '%s\\0', ...args], { maxOutputBytes: 64 * 1024 * 1024 });
    expect(r.code).toBe(0);
    const got = r.stdout.split('\0');
    expect(got.pop()).toBe('');
    return got;
  };

  test('200 seeded hostile argument lists arrive exactly as given', async () => {
    const r = rng(0xfe77);
    const cases = Array.from({ length: 200 }, () => Array.from({ length: 1 + Math.floor(r() * 5) }, () => hostile(r)));
    // sshd starts each command in ~0.1 s, so four cases share one command line (quoting is per argument anyway).
    const batches = Array.from({ length: 50 }, (_, i) => cases.slice(i * 4, i * 4 + 4).flat());
    const results = await Promise.all(batches.map((b) => roundTrip(b)));
    results.forEach((got, i) => expect(got).toEqual(batches[i]));
    expect(batches.flat().length).toBe(cases.flat().length);
  });

  test('very long argument and many arguments; over the 128 KiB shell limit is refused up front', async () => {
    const long = "x'y\"z$".repeat(12000); // ~72 KB, ~108 KB once quoted
    expect(await roundTrip([long])).toEqual([long]);
    await expect(s.exec(['printf', '%s', long + long])).rejects.toMatchObject({ code: 'exec-too-long' });
    const many = Array.from({ length: 2000 }, (_, i) => `arg ${i} '$`);
    expect(await roundTrip(many)).toEqual(many);
  });

  test('NUL inside an argument is refused before anything is sent', async () => {
    const before = sshd.log().length;
    await expect(s.exec(['printf', '%s', 'a\0b'])).rejects.toMatchObject({ code: 'exec-invalid-argv' });
    expect(sshd.log().slice(before)).not.toMatch(/Starting session/);
  });
});

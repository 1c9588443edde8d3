import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { hostBlock, knownHostsLine, makeTestHome, type TestHome } from '../../ssh/testing/fixture.ts';
import { startSshd, type TestSshd } from '../../ssh/testing/sshd.ts';

// `ferry hosts` and `ferry exec` as a user runs them (non-TTY: stdin is not a terminal here).
const run = promisify(execFile);
const bin = path.resolve(import.meta.dirname, '../bin.js');
let sshd: TestSshd;
let th: TestHome;

async function ferry(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const r = await run(process.execPath, [bin, ...args], { env: th.env, timeout: 30_000 });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (e) {
    const x = e as { code: number; stdout: string; stderr: string };
    return { code: x.code, stdout: x.stdout, stderr: x.stderr };
  }
}

beforeAll(async () => {
  sshd = await startSshd();
  th = makeTestHome();
  fs.writeFileSync(th.sshConfig, hostBlock('box', sshd) + 'Host *.pattern\n  User nobody\n');
});
afterAll(async () => {
  await sshd?.stop();
  th?.cleanup();
});

describe('ferry hosts / exec', () => {
  test('--help works for both', async () => {
    expect((await ferry(['hosts', '--help'])).stdout).toMatch(/List host aliases/);
    const h = await ferry(['exec', '--help']);
    expect(h.stdout).toMatch(/--trust-fingerprint/);
    expect(h.stdout).toMatch(/--timeout <seconds>/);
  });

  test('unknown key without a terminal is refused, naming the fingerprint to pass; the right one is accepted', async () => {
    const fp = (await run('ssh-keygen', ['-lf', `${sshd.hostKeyPath}.pub`])).stdout.split(/\s+/)[1]!;
    const hosts = await ferry(['hosts']);
    expect(hosts.stdout).toMatch(new RegExp(`^box\\s+root@127\\.0\\.0\\.1:${sshd.port}\\s+key unknown`, 'm'));
    expect(hosts.stdout).not.toMatch(/pattern/);

    const refused = await ferry(['exec', 'box', '--', 'echo', 'hi']);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain(`--trust-fingerprint ${fp}`);

    const wrong = await ferry(['exec', 'box', '--trust-fingerprint', 'SHA256:nope', '--', 'echo', 'hi']);
    expect(wrong.code).toBe(1);

    const ok = await ferry(['exec', 'box', '--trust-fingerprint', fp, '--', 'echo', 'hi there']);
    expect(ok).toMatchObject({ code: 0, stdout: 'hi there\n' });
    expect(fs.readFileSync(th.ferryKnownHosts, 'utf8')).toBe(knownHostsLine(sshd));
    expect((await ferry(['hosts'])).stdout).toMatch(/^box\s+\S+\s+key known/m);
  });

  test('exit code, signals and timeout become the exit status; stderr streams through', async () => {
    fs.writeFileSync(th.userKnownHosts, knownHostsLine(sshd));
    const r = await ferry(['exec', 'box', '--', 'sh', '-c', 'echo oops >&2; exit 42']);
    expect(r).toMatchObject({ code: 42, stderr: 'oops\n' });
    expect((await ferry(['exec', 'box', '--', 'sh', '-c', 'kill -TERM $$'])).code).toBe(128 + 15);
    const t = await ferry(['exec', 'box', '--timeout', '0.5', '--', 'sleep', '30']);
    expect(t.code).toBe(124);
    expect((await ferry(['exec', 'box', '--timeout', 'soon', '--', 'true'])).stderr).toMatch(/seconds/);
  });
});

describe('ferry ps', () => {
  test('lists the processes a migration could take, as a table and as JSON, filtered', async () => {
    const fp = (await run('ssh-keygen', ['-lf', `${sshd.hostKeyPath}.pub`])).stdout.split(/\s+/)[1]!;
    const { spawn } = await import('node:child_process');
    const sleeper = spawn('sleep', ['61.5'], { stdio: 'ignore', detached: true });
    try {
      const json = await ferry(['ps', 'box', 'sleep 61.5', '--json', '--trust-fingerprint', fp]);
      expect(json.code, json.stderr).toBe(0);
      const out = JSON.parse(json.stdout) as { host: string; processes: { pid: number; sessionLeader: boolean; tree: number; listening: number[]; command: string }[] };
      expect(out.host).toBe('box');
      // (ferry itself matches too: its own command line holds the filter.)
      expect(out.processes.find((p) => p.pid === sleeper.pid)).toEqual(expect.objectContaining({ sessionLeader: true, tree: 1, listening: [], command: 'sleep 61.5' }));
      for (const p of out.processes) expect(p.command).toContain('sleep 61.5');
      const table = await ferry(['ps', 'box', 'sleep 61.5', '--trust-fingerprint', fp]);
      expect(table.stdout).toMatch(new RegExp(`^${sleeper.pid} +1 +\\d+M +yes +- `, 'm'));
    } finally {
      sleeper.kill('SIGKILL');
    }
  });
});

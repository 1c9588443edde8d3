/**
 * Post-copy guard: the lazy dump and the lazy-pages daemon must outlive the console's SSH
 * session. outlivesConsole() wraps their argv; here it runs for real on this machine.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { LOCAL_HOST } from '../../../shared/api.ts';
import { LocalHost } from '../commands/local.ts';
import { CommandRunner } from '../commands/runner.ts';
import { outlivesConsole, withDetachedOutput } from './postcopy.ts';

describe('outlivesConsole', () => {
  it('sends stdio to a file (not the channel), ignores SIGHUP, and writes the PID the command keeps', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'ferry-outlives-'));
    try {
      const out = path.join(dir, 'criu.out');
      const pidfile = path.join(dir, 'daemon.pid');
      // The "command": says something on both streams, reports whether SIGHUP is ignored and its own PID.
      const probe = ['sh', '-c', 'echo to-stdout; echo to-stderr >&2; sed -n "s/^SigIgn:\\s*//p" /proc/$$/status; echo "pid $$"'];
      const [cmd, ...args] = outlivesConsole(probe, out, pidfile);
      const r = spawnSync(cmd!, args, { encoding: 'utf8' });
      expect(r.status).toBe(0);
      expect(r.stdout + r.stderr).toBe(''); // nothing reaches the channel
      const lines = readFileSync(out, 'utf8').trim().split('\n');
      expect(lines.slice(0, 2)).toEqual(['to-stdout', 'to-stderr']);
      expect(BigInt(`0x${lines[2]}`) & 1n).toBe(1n); // SIGHUP (bit 0) ignored
      expect(lines[3]).toBe(`pid ${readFileSync(pidfile, 'utf8').trim()}`);
      // Without a pidfile nothing is written, and the output still goes to the file.
      const [c2, ...a2] = outlivesConsole(['echo', 'again'], out);
      expect(spawnSync(c2!, a2, { encoding: 'utf8' }).stdout).toBe('');
      expect(readFileSync(out, 'utf8').trim().split('\n').at(-1)).toBe('again');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('the evidence of a failed command that outlived the console', () => {
  it('is read back from its output file: the SSH channel carried nothing', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'ferry-detached-'));
    try {
      const noRemoteHost = () => {
        throw new Error('no remote host in this test');
      };
      const run = new CommandRunner(() => undefined, noRemoteHost, () => 'root', 'mig-1', new LocalHost({ env: process.env, killGraceMs: 300 }));
      const out = path.join(dir, 'dump.out');
      const failing = outlivesConsole(['sh', '-c', 'echo "Error (criu/tls.c:229): tls: no certificate" >&2; exit 1'], out);
      const r = await run.run(LOCAL_HOST, failing);
      expect(r.code).toBe(1);
      expect(r.stdout + r.stderr).toBe('');
      const evidence = await withDetachedOutput(run, LOCAL_HOST, r, out);
      expect(evidence).toMatchObject({ code: 1, stderr: 'Error (criu/tls.c:229): tls: no certificate\n' });
      // A result that has its own output keeps it; a missing file leaves the result as it was.
      const own = { ...r, stderr: 'said on the channel' };
      expect(await withDetachedOutput(run, LOCAL_HOST, own, out)).toBe(own);
      expect(await withDetachedOutput(run, LOCAL_HOST, r, path.join(dir, 'absent.out'))).toBe(r);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

/**
 * Post-copy guard: the lazy dump and the lazy-pages daemon must outlive the console's SSH
 * session. outlivesConsole() wraps their argv; here it runs for real on this machine.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { outlivesConsole } from './postcopy.ts';

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

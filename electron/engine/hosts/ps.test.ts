import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseOpenFiles, parsePs, processTree } from './ps.ts';

describe('parsePs', () => {
  it('reads every column, keeping spaces inside the command line', () => {
    const out = parsePs(
      ['    1       0     1 root     11840 Ss   /sbin/init splash', '50000       1 50000 root    133000 Ss   python3 /usr/local/bin/ferry-workload 128 1000', 'garbage'].join('\n'),
    );
    expect(out).toEqual([
      { pid: 1, ppid: 0, sid: 1, user: 'root', rssKiB: 11840, state: 'Ss', command: '/sbin/init splash' },
      { pid: 50000, ppid: 1, sid: 50000, user: 'root', rssKiB: 133000, state: 'Ss', command: 'python3 /usr/local/bin/ferry-workload 128 1000' },
    ]);
  });

  it('reads the process list recorded in the lab (header and comment lines skipped)', () => {
    // The fixture uses the same columns minus sid; re-shape it to Ferry's column order.
    const text = readFileSync(new URL('../../../../shared/fixtures/criu/check/16-ps-source.txt', import.meta.url), 'utf8');
    const rows = text.split('\n').filter((l) => /^\s*\d+\s/.test(l));
    const reshaped = rows.map((l) => {
      const [pid, ppid, user, rss, stat, ...cmd] = l.trim().split(/\s+/);
      return `${pid} ${ppid} ${pid} ${user} ${rss} ${stat} ${cmd.join(' ')}`;
    });
    const procs = parsePs(reshaped.join('\n'));
    expect(procs).toHaveLength(rows.length);
    expect(procs.find((p) => p.pid === 1)?.command).toBe('systemd');
  });
});

describe('processTree', () => {
  it('returns the root and all descendants, and nothing else', () => {
    const mk = (pid: number, ppid: number) => ({ pid, ppid, sid: 1, user: 'root', rssKiB: 1, state: 'S', command: `p${pid}` });
    const all = [mk(1, 0), mk(10, 1), mk(11, 10), mk(12, 11), mk(20, 1), mk(13, 10)];
    expect(processTree(all, 10).map((p) => p.pid)).toEqual([10, 11, 13, 12]);
    expect(processTree(all, 99)).toEqual([]);
  });
});

describe('parseOpenFiles', () => {
  it('classifies regular files, sockets, pipes and devices', () => {
    const out = parseOpenFiles(
      ['50000\t0\tother\t\t/dev/null', '50000\t1\tregular\t1234\t/root/wl.out', '50000\t3\tother\t\tsocket:[123]', '50000\t4\tother\t\tpipe:[9]', '50000\t5\tother\t\tanon_inode:[eventfd]'].join('\n'),
    );
    expect(out.map((f) => f.kind)).toEqual(['device', 'regular', 'socket', 'pipe', 'anon']);
    expect(out[1]).toEqual({ pid: 50000, fd: 1, path: '/root/wl.out', kind: 'regular', size: 1234 });
  });
});

import type { OpenFile, ProcessInfo } from '../../../shared/domain.ts';

/** The exact `ps` Ferry runs to list processes; the parser below reads its columns. */
export const psArgv = ['ps', '-eo', 'pid=,ppid=,sid=,user=,rss=,stat=,args='];

/** Parse `ps -eo pid=,ppid=,sid=,user=,rss=,stat=,args=` (no header). */
export function parsePs(stdout: string): ProcessInfo[] {
  const out: ProcessInfo[] = [];
  for (const line of stdout.split('\n')) {
    const m = /^\s*(\d+)\s+(\d+)\s+(\d+)\s+(\S+)\s+(\d+)\s+(\S+)\s*(.*)$/.exec(line);
    if (!m) continue;
    out.push({
      pid: Number(m[1]),
      ppid: Number(m[2]),
      sid: Number(m[3]),
      user: m[4]!,
      rssKiB: Number(m[5]),
      state: m[6]!,
      command: m[7] ?? '',
    });
  }
  return out;
}

/** The process and all its descendants, parent before child: what CRIU dumps for `-t PID`. */
export function processTree(all: ProcessInfo[], root: number): ProcessInfo[] {
  const byParent = new Map<number, ProcessInfo[]>();
  for (const p of all) {
    const list = byParent.get(p.ppid) ?? [];
    list.push(p);
    byParent.set(p.ppid, list);
  }
  const top = all.find((p) => p.pid === root);
  if (!top) return [];
  const tree: ProcessInfo[] = [];
  const queue = [top];
  while (queue.length) {
    const p = queue.shift()!;
    tree.push(p);
    queue.push(...(byParent.get(p.pid) ?? []).filter((c) => c.pid !== p.pid));
  }
  return tree;
}

/**
 * Lists every fd of the given PIDs as "pid<TAB>fd<TAB>type<TAB>size<TAB>target". A fixed
 * script: PIDs arrive as positional arguments, never spliced into the text.
 */
export const openFilesScript = [
  'for pid in "$@"; do',
  '  for fd in /proc/$pid/fd/*; do',
  '    [ -e "$fd" ] || [ -L "$fd" ] || continue',
  '    t=$(readlink "$fd") || continue',
  '    if [ -f "$fd" ]; then s=$(stat -L -c %s "$fd" 2>/dev/null); k=regular; else s=; k=other; fi',
  '    printf "%s\\t%s\\t%s\\t%s\\t%s\\n" "$pid" "${fd##*/}" "$k" "$s" "$t"',
  '  done',
  'done',
].join('\n');

export function openFilesArgv(pids: number[]): string[] {
  return ['sh', '-c', openFilesScript, 'ferry-open-files', ...pids.map(String)];
}

export function parseOpenFiles(stdout: string): OpenFile[] {
  const files: OpenFile[] = [];
  for (const line of stdout.split('\n')) {
    const parts = line.split('\t');
    if (parts.length < 5) continue;
    const [pid, fd, k, size, ...rest] = parts;
    const target = rest.join('\t');
    const kind: OpenFile['kind'] =
      k === 'regular'
        ? 'regular'
        : target.startsWith('socket:')
          ? 'socket'
          : target.startsWith('pipe:')
            ? 'pipe'
            : target.startsWith('anon_inode:')
              ? 'anon'
              : target.startsWith('/dev/')
                ? 'device'
                : 'other';
    files.push({ pid: Number(pid), fd: Number(fd), path: target, kind, size: size ? Number(size) : undefined });
  }
  return files;
}

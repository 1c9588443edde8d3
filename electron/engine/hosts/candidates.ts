/**
 * Choosing what to move: `ferry ps HOST` lists the processes a migration could take, with what
 * preflight will weigh (tree size and memory, session leader, listening ports, cgroup and
 * systemd unit), read by one short read-only python3 program on the host. And the selectors a
 * plan may name a process by instead of a PID (a systemd unit, a pidfile), resolved on the
 * source at preflight.
 */
import type { MigrationPlan, ProcessSelector } from '../../../shared/domain.ts';
import { FerryError } from '../../../shared/errors.ts';
import type { CommandRunner } from '../commands/runner.ts';

/** One process as `ferry ps` shows it (also its --json shape, documented in the README). */
export interface Candidate {
  pid: number;
  ppid: number;
  /** Session id; the process leads its session when sid == pid (CRIU wants that, or --shell-job). */
  sid: number;
  sessionLeader: boolean;
  user: string;
  command: string;
  /** The process and its descendants: what a migration of this PID dumps. */
  tree: number;
  rssKiB: number;
  treeRssKiB: number;
  /** TCP ports the tree listens on. */
  listening: number[];
  /** The process's cgroup (v2 path, or the name=systemd one). */
  cgroup: string;
  /** The systemd unit its cgroup belongs to (service or scope), when there is one. */
  unit?: string;
}

/**
 * Reads /proc only. Kernel threads (no cmdline) are left out. Listening sockets come from
 * /proc/net/tcp{,6} (state 0A), matched to the tree's socket inodes.
 */
export const CANDIDATES_PY = String.raw`
import os, json, re
procs = {}
for d in os.listdir('/proc'):
    if not d.isdigit(): continue
    p = int(d)
    try:
        with open('/proc/%d/stat' % p) as f: st = f.read()
        with open('/proc/%d/cmdline' % p, 'rb') as f: cmd = f.read().replace(b'\0', b' ').decode('utf-8', 'replace').strip()
        rest = st[st.rindex(')') + 2:].split()
        ppid, sid = int(rest[1]), int(rest[3])
        rss = 0; uid = None
        with open('/proc/%d/status' % p) as f:
            for line in f:
                if line.startswith('VmRSS:'): rss = int(line.split()[1])
                elif line.startswith('Uid:'): uid = int(line.split()[1])
        cg = ''
        with open('/proc/%d/cgroup' % p) as f:
            for line in f:
                parts = line.rstrip('\n').split(':', 2)
                if len(parts) == 3 and (parts[0] == '0' or parts[1] == 'name=systemd'): cg = parts[2]
    except (OSError, ValueError, IndexError):
        continue
    if not cmd or p == 2 or ppid == 2: continue
    procs[p] = {'pid': p, 'ppid': ppid, 'sid': sid, 'uid': uid, 'rss': rss, 'cmd': cmd, 'cg': cg}
try:
    import pwd
    names = {u.pw_uid: u.pw_name for u in pwd.getpwall()}
except Exception:
    names = {}
listen = {}
for fn in ('/proc/net/tcp', '/proc/net/tcp6'):
    try:
        with open(fn) as f:
            next(f)
            for line in f:
                c = line.split()
                if c[3] == '0A': listen[c[9]] = int(c[1].rsplit(':', 1)[1], 16)
    except OSError:
        pass
kids = {}
for p in procs.values(): kids.setdefault(p['ppid'], []).append(p['pid'])
def ports(p):
    out = set()
    try:
        for fd in os.listdir('/proc/%d/fd' % p):
            try: t = os.readlink('/proc/%d/fd/%s' % (p, fd))
            except OSError: continue
            m = re.match(r'socket:\[(\d+)\]', t)
            if m and m.group(1) in listen: out.add(listen[m.group(1)])
    except OSError:
        pass
    return out
own = {p: ports(p) for p in procs}
out = []
for p in sorted(procs):
    tree, todo = [], [p]
    while todo:
        q = todo.pop()
        if q in procs and q not in tree:
            tree.append(q); todo.extend(kids.get(q, []))
    i = procs[p]
    unit = None
    for part in reversed(i['cg'].split('/')):
        if part.endswith('.service') or part.endswith('.scope'):
            unit = part; break
    lp = set()
    for q in tree: lp |= own[q]
    out.append({'pid': p, 'ppid': i['ppid'], 'sid': i['sid'], 'sessionLeader': i['sid'] == p,
                'user': names.get(i['uid'], str(i['uid'])), 'command': i['cmd'][:300], 'tree': len(tree),
                'rssKiB': i['rss'], 'treeRssKiB': sum(procs[q]['rss'] for q in tree),
                'listening': sorted(lp), 'cgroup': i['cg'], **({'unit': unit} if unit else {})})
print(json.dumps(out))
`;

export const candidatesArgv = ['python3', '-c', CANDIDATES_PY];

export function parseCandidates(stdout: string): Candidate[] {
  const v = JSON.parse(stdout) as unknown;
  if (!Array.isArray(v)) throw new Error('not a list');
  return v as Candidate[];
}

/** Processes whose command, user or unit contains `filter` (case-insensitive), all without one. */
export function filterCandidates(all: Candidate[], filter?: string): Candidate[] {
  if (!filter) return all;
  const f = filter.toLowerCase();
  return all.filter((c) => c.command.toLowerCase().includes(f) || c.user.toLowerCase() === f || (c.unit ?? '').toLowerCase().includes(f));
}

/** The table `ferry ps` prints. */
export function candidatesTable(rows: Candidate[]): string {
  const head = ['PID', 'TREE', 'RSS', 'LEADER', 'LISTEN', 'UNIT', 'USER', 'COMMAND'];
  const body = rows.map((c) => [
    String(c.pid),
    String(c.tree),
    `${Math.round(c.treeRssKiB / 1024)}M`,
    c.sessionLeader ? 'yes' : 'no',
    c.listening.join(',') || '-',
    c.unit ?? '-',
    c.user,
    c.command.slice(0, 60),
  ]);
  const w = head.map((h, i) => Math.max(h.length, ...body.map((r) => r[i]!.length)));
  return [head, ...body].map((r) => r.map((x, i) => (i === r.length - 1 ? x : x.padEnd(w[i]!))).join('  ')).join('\n');
}

/** Read the candidates on a host (one python3 run through the CommandRunner). */
export async function listCandidates(run: CommandRunner, host: string): Promise<Candidate[]> {
  const r = await run.run(host, candidatesArgv, { quiet: true, timeoutMs: 60_000 });
  if (r.code !== 0) {
    throw new FerryError({
      code: 'ps-failed',
      host,
      message: `Could not list the processes on ${host} (exit ${r.code ?? r.signal})`,
      evidence: r.stderr.trim().split('\n').pop(),
      hint: /python3: (not found|No such file)|command not found/.test(r.stderr) ? `Install python3 on ${host}.` : 'Run it again with -v to see the command.',
    });
  }
  try {
    return parseCandidates(r.stdout);
  } catch (e) {
    throw new FerryError({ code: 'ps-failed', host, message: `The process list from ${host} was not readable: ${(e as Error).message}`, evidence: r.stdout.slice(0, 200) });
  }
}

// --- selectors ---

export function selectorArgv(s: ProcessSelector): string[] {
  return s.kind === 'unit' ? ['systemctl', 'show', '--property=MainPID', '--value', '--', s.unit] : ['cat', '--', s.path];
}

/** The PID a selector's command printed, or why there is none. */
export function parseSelected(s: ProcessSelector, code: number | null, stdout: string, stderr: string): { pid: number } | { problem: string } {
  const first = stdout.trim().split('\n')[0]?.trim() ?? '';
  if (s.kind === 'unit') {
    if (code !== 0) return { problem: `systemctl show failed (exit ${code}): ${stderr.trim().split('\n').pop() ?? ''}` };
    const n = Number(first);
    if (!/^\d+$/.test(first)) return { problem: `systemctl printed no MainPID (${JSON.stringify(first.slice(0, 60))})` };
    if (n === 0) return { problem: `unit ${s.unit} has no main process (not running, not loaded, or Type=oneshot)` };
    return { pid: n };
  }
  if (code !== 0) return { problem: `could not read ${s.path}: ${stderr.trim().split('\n').pop() ?? `exit ${code}`}` };
  if (!/^\d+$/.test(first) || Number(first) < 1) return { problem: `${s.path} holds no PID on its first line (${JSON.stringify(first.slice(0, 60))})` };
  return { pid: Number(first) };
}

/** Resolve the plan's selector on the source; a plan without one keeps its PID. */
export async function resolveSelector(run: CommandRunner, plan: Pick<MigrationPlan, 'source' | 'pid' | 'select'>): Promise<number> {
  const s = plan.select;
  if (!s) {
    if (plan.pid > 0) return plan.pid;
    throw new FerryError({ code: 'no-process', host: plan.source, message: 'The plan names no process: no PID and no selector', hint: 'Give --pid N, --unit NAME or --pidfile PATH (plan file: process: { pid | unit | pidfile }).' });
  }
  const r = await run.run(plan.source, selectorArgv(s), { timeoutMs: 30_000 });
  const got = parseSelected(s, r.code, r.stdout, r.stderr);
  if ('problem' in got) {
    throw new FerryError({
      code: 'selector-unresolved',
      host: plan.source,
      message: `No process for ${s.kind === 'unit' ? `unit ${s.unit}` : `pidfile ${s.path}`} on ${plan.source}: ${got.problem}`,
      hint: s.kind === 'unit' ? `Check \`systemctl status ${s.unit}\` on ${plan.source}; \`ferry ps ${plan.source}\` lists processes with their units.` : `Check that the service that writes ${s.path} runs on ${plan.source}.`,
    });
  }
  return got.pid;
}

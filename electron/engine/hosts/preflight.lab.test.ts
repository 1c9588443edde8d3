/**
 * Preflight's inventory against the lab's real kernel and CRIU 3.17.1: each
 * case that CRIU would fail on (or carry incompletely) is refused before anything is frozen,
 * with its message; what each network lock needs is measured; and a TCP server with a
 * connected client migrates with the lock preflight chose.
 */
import { describe, expect, it } from 'vitest';
import { CommandRunner } from '../commands/runner.ts';
import { journalPath, readJournal, replay } from '../journal/journal.ts';
import { engineLab } from '../testing/lab.ts';
import { inventoryChecks } from './preflight.ts';
import { ZOO_PY, zooArgs, type ZooOptions } from './inventory-zoo.ts';

const lab = engineLab('ferry-preflight-', 7);
const { sh } = lab;
const started: number[] = [];

/** Start a program in the source VM as a session leader at a chosen PID (like the lab's workload). */
async function startAt(pid: number, cwd: string, argv: string[]): Promise<number> {
  const r = await lab.session('lab-source').exec(
    ['sh', '-c', 'pid=$1; cd "$2"; shift 2; echo $((pid - 1)) > /proc/sys/kernel/ns_last_pid; setsid "$@" </dev/null >"/tmp/ferry-pf-$pid.out" 2>&1 & echo $!', 'sh', String(pid), cwd, ...argv],
    { timeoutMs: 60_000 },
  );
  expect(r.code, r.stderr).toBe(0);
  const got = Number(r.stdout.trim());
  started.push(got);
  return got;
}

async function startZoo(pid: number, o: Omit<ZooOptions, 'ready'>, cwd = '/root'): Promise<number> {
  const ready = `/tmp/ferry-pf-${pid}.ready`;
  const got = await startAt(pid, cwd, ['python3', '-c', ZOO_PY, ...zooArgs({ ready, ...o })]);
  const w = await sh('lab-source', 'for i in $(seq 100); do [ -e "$1" ] && exit 0; sleep 0.2; done; cat "$2" >&2; exit 1', ready, `/tmp/ferry-pf-${pid}.out`);
  expect(w.code, w.stderr).toBe(0);
  return got;
}

/** Kill what the suite started: SIGTERM lets the zoo remove its SysV objects and its daemon. */
async function clean(): Promise<void> {
  for (const alias of ['lab-source', 'lab-target']) {
    for (const pid of started) await sh(alias, 'kill -TERM "$1" 2>/dev/null; sleep 0.3; kill -KILL -- -"$1" "$1" 2>/dev/null; exit 0', String(pid));
  }
  started.length = 0;
  await lab.cleanVms(['/root/www-pf', '/tmp/pf.fifo', '/tmp/pf.lock', '/tmp/pf-dump']);
}

const criuSub = (argv: string[]) => argv[argv.findIndex((a) => a === 'criu') + 1];

describe.skipIf(process.env.FERRY_SKIP_LAB === '1').sequential('preflight inventory in the lab', () => {
  lab.useInSuite(clean);

  it('refuses each case CRIU would fail or carry incompletely, with its message, before anything is dumped', async () => {
    // The source alone has these: the web root and the FIFO.
    expect((await sh('lab-source', 'mkdir -p /root/www-pf && echo hi > /root/www-pf/index.html && mkfifo -m 0640 /tmp/pf.fifo')).code).toBe(0);
    const cases = [
      { pid: await startZoo(51001, { tcp: 7001 }), id: 'tcp-established', msg: /established connection\(s\).*without --tcp-established/ },
      { pid: await startAt(51011, '/root/www-pf', ['python3', '-m', 'http.server', '8089']), id: 'paths-on-target', msg: /cwd \/root\/www-pf \(missing\)/ },
      { pid: await startZoo(51021, { sem: true, msg: true }), id: 'sysv-ipc', msg: /semaphore array .* last operated on by the tree|message queue/ },
      { pid: await startZoo(51031, { daemon: true }), id: 'session-members', msg: /share the tree's session .* PID \d+ \(python3 -c/ },
      { pid: await startZoo(51041, { fifo: '/tmp/pf.fifo' }), id: 'paths-on-target', msg: /fifo \/tmp\/pf\.fifo \(missing\)/ },
      { pid: await startZoo(51051, { flock: '/tmp/pf.lock' }), id: 'file-locks', msg: /FLOCK WRITE on \/tmp\/pf\.lock.*without --file-locks/ },
    ];
    await new Promise((r) => setTimeout(r, 1000)); // http.server binds
    const events: unknown[] = [];
    const run = new CommandRunner((e) => events.push(e), (a) => lab.session(a), () => 'root');
    for (const c of cases) {
      const r = await inventoryChecks(lab.plan({ pid: c.pid }), run, [c.pid]);
      const hit = r.checks.find((x) => x.id === c.id);
      expect(hit?.status, `${c.id} for PID ${c.pid}: ${JSON.stringify(r.checks)}`).toBe('fail');
      expect(hit!.detail).toMatch(c.msg);
      expect(hit!.fix).toBeTruthy();
      console.log(`PID ${c.pid}: ${hit!.id}: ${hit!.detail}`);
    }
    // SysV message queue too, in the same program as the semaphore.
    const ipc = (await inventoryChecks(lab.plan({ pid: cases[2]!.pid }), run, [cases[2]!.pid])).checks.find((x) => x.id === 'sysv-ipc')!;
    expect(ipc.detail).toMatch(/semaphore array/);
    expect(ipc.detail).toMatch(/message queue/);

    // Through a whole migration: the file lock case is refused in preflight, nothing dumped.
    const m = lab.migrate(lab.plan({ pid: cases[5]!.pid, mode: 'cold' }));
    const res = await m.done;
    expect(res.outcome).toBe('failed');
    expect(res.error?.code).toBe('preflight-failed');
    expect(res.error?.message).toMatch(/nothing was dumped. First: File locks/);
    const j = replay(readJournal(journalPath(m.id, { env: lab.env })).records);
    expect(j.commands.filter((c) => c.argv.includes('criu') && ['dump', 'pre-dump', 'page-server', 'restore'].includes(criuSub(c.argv) ?? '')).length).toBe(0);
    expect((await lab.pidsOn('lab-source')).get(cases[5]!.pid)).toMatch(/^[SR]/);
  }, 8 * 60_000);

  it('measures what each network lock needs, then migrates a connected TCP server with the lock preflight chose', async () => {
    const pid = await startZoo(52001, { tcp: 7002 });
    // What each method needs, on a real connected socket (--leave-running: the tree goes on).
    // iptables runs iptables-restore from PATH; nftables goes through criu's own libnftables.
    const dumpWith = (lock: string, path: string) =>
      sh('lab-source', 'rm -rf /tmp/pf-dump; mkdir -p /tmp/pf-dump; PATH=$3 /usr/sbin/criu dump -t "$1" -D /tmp/pf-dump --leave-running --tcp-established --network-lock "$2" -o dump.log -v4; c=$?; tail -n 3 /tmp/pf-dump/dump.log; exit $c', String(pid), lock, path);
    const full = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
    const noSbin = '/usr/bin:/bin';
    const outcomes: Record<string, number | null> = {};
    for (const [lock, path, label] of [['iptables', full, 'iptables'], ['nftables', full, 'nftables'], ['iptables', noSbin, 'iptables without iptables-restore on PATH'], ['nftables', noSbin, 'nftables without nft on PATH']] as const) {
      const r = await sh('lab-source', 'true').then(() => dumpWith(lock, path));
      outcomes[label] = r.code;
      console.log(`criu dump --tcp-established --network-lock ${label}: exit ${r.code}${r.code ? `: ${r.stdout.trim().split('\n').pop()}` : ''}`);
    }
    expect(outcomes['iptables']).toBe(0);
    expect(outcomes['nftables']).toBe(0);
    expect(outcomes['iptables without iptables-restore on PATH']).not.toBe(0);
    expect(outcomes['nftables without nft on PATH']).toBe(0);
    await sh('lab-source', 'rm -rf /tmp/pf-dump');

    // Without --tcp-established preflight refuses; with it, auto picks iptables (both VMs have it).
    const m = lab.migrate(lab.plan({ pid, mode: 'cold', tcpEstablished: true }));
    const res = await m.done;
    const j = replay(readJournal(journalPath(m.id, { env: lab.env })).records);
    const dump = j.commands.find((c) => criuSub(c.argv) === 'dump');
    const restore = j.commands.find((c) => criuSub(c.argv) === 'restore');
    expect(dump?.argv.join(' ')).toContain('--tcp-established --network-lock iptables');
    expect(restore?.argv.join(' ')).toContain('--network-lock iptables');
    expect(res.outcome, JSON.stringify(res.error)).toBe('committed');
    const outcome = m.events.find((e) => e.type === 'outcome');
    expect(outcome && 'summary' in outcome ? outcome.summary : '').toMatch(/only the process's presence on the target was checked/);
    // The connection came along: on the target the tree holds both ends, established.
    const ss = await sh('lab-target', 'ss -Htn state established "( sport = :7002 or dport = :7002 )"');
    expect(ss.stdout.trim().split('\n').length).toBe(2);
    expect((await lab.pidsOn('lab-source')).has(pid)).toBe(false);
  }, 8 * 60_000);
});

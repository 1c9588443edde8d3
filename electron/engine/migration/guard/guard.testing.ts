/**
 * Helpers for the guard's tests on this machine: two guards (source and target roles) in
 * their own temp dirs, driven through a real CommandRunner on the 'local' host, a real
 * frozen tree, fake restores that start (or fail to start) a real process, and an observer
 * that checks the one-copy invariant from /proc.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { LOCAL_HOST, type EngineEvent } from '../../../../shared/api.ts';
import { CommandRunner } from '../../commands/runner.ts';
import { GuardClient, newGuardSecret, type GuardStatus, type Lease } from './guard.ts';

/** /proc/PID/stat's state letter, or undefined when there is no such process. */
export function procState(pid: number | undefined): string | undefined {
  if (!pid) return undefined;
  try {
    return readFileSync(`/proc/${pid}/stat`, 'utf8').split(')').pop()!.trim().split(' ')[0];
  } catch {
    return undefined;
  }
}
/**
 * Running, as the invariant counts it: present, neither stopped nor a zombie, and still able
 * to run its own code. A stopped task that was just sent SIGKILL wakes up only to exit (state R
 * or D for a moment under load): with SIGKILL pending or PF_EXITING set it never runs user code again.
 */
export const isRunning = (pid: number | undefined) => {
  const s = procState(pid);
  if (s === undefined || /^[TtZX]/.test(s)) return false;
  try {
    const flags = Number(readFileSync(`/proc/${pid}/stat`, 'utf8').split(')').pop()!.trim().split(' ')[6]);
    if (flags & 0x4) return false; // PF_EXITING
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const pending = [...status.matchAll(/^(?:SigPnd|ShdPnd):\s*([0-9a-f]+)/gm)].some((m) => (BigInt(`0x${m[1]}`) & (1n << 8n)) !== 0n);
    return !pending;
  } catch {
    return false; // gone between the two reads
  }
};

/** A guard's state, read straight from its state file (cheaper than `status` for polling). */
export function stateOf(dir: string): string | undefined {
  try {
    return (JSON.parse(readFileSync(path.join(dir, 'guard.state'), 'utf8')) as { state?: string }).state;
  } catch {
    return undefined;
  }
}

export const sleepMs = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function until<T>(what: string, fn: () => Promise<T | undefined> | T | undefined, timeoutMs = 20_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleepMs(50);
  }
}

/** A process tree of one: `sleep` as a session leader, stopped like `criu dump --leave-stopped` leaves it. */
export function frozenTree(): ChildProcess {
  const p = spawn('sleep', ['600'], { detached: true, stdio: 'ignore' });
  process.kill(p.pid!, 'SIGSTOP');
  return p;
}

/** A restore argv that starts a real detached process and writes its PID (like criu restore -d --pidfile). */
export function fakeRestore(pidfile: string, delayS = 0): string[] {
  return ['sh', '-c', 'sleep "$2"; setsid sleep 600 </dev/null >/dev/null 2>&1 & echo $! > "$1"', 'fake-restore', pidfile, String(delayS)];
}
export const failingRestore = ['sh', '-c', 'echo "Error (criu/cr-restore.c:1): fake restore failure" >&2; exit 1'];

/** Samples /proc every 20 ms: at no observation may both copies run. */
export class Observer {
  readonly samples: { source?: string; target?: string }[] = [];
  both = 0;
  private readonly timer: NodeJS.Timeout;
  constructor(private readonly sourcePid: number, private readonly targetPid: () => number | undefined) {
    this.timer = setInterval(() => this.sample(), 20);
  }
  sample(): void {
    const t = this.targetPid();
    this.samples.push({ source: procState(this.sourcePid), target: procState(t) });
    if (isRunning(this.sourcePid) && isRunning(t)) this.both += 1;
  }
  stop(): void {
    clearInterval(this.timer);
    this.sample();
  }
  running(): number {
    return Number(isRunning(this.sourcePid)) + Number(isRunning(this.targetPid()));
  }
}

export interface Pair {
  root: string;
  secret: string;
  events: EngineEvent[];
  run: CommandRunner;
  source: GuardClient;
  target: GuardClient;
  images: string;
  pidfile: string;
  tree: ChildProcess;
  guardPids: { source: number; target: number };
  /** Post-copy only: the lazy dump and daemon stand-ins. */
  lazy?: LazyStandIns;
  leases: Lease[];
  restoredPid(): number | undefined;
  observer: Observer;
  /** Stop renewing both leases, as a lost console or dropped SSH links would; returns when. */
  loseLease(): Promise<number>;
  status(): Promise<{ source: GuardStatus; target: GuardStatus }>;
  cleanup(): Promise<void>;
}

// --- post-copy guard: stand-ins for criu's lazy dump and lazy-pages daemon (their comm is `criu`).
/**
 * The lazy dump: seizes the tree with ptrace and stops it (state t, as the dump holds it), writes
 * its "serving" line, then either is stopped (SIGTERM: it dies, the kernel detaches, the tree runs
 * on, as CRIU lets it go) or, once FINISH exists ("every page sent"), kills the tree and exits 0
 * (FINISH reading `fail`: the transfer failed, it exits 1 and the tree runs on).
 */
const FAKE_LAZY_DUMP = `import ctypes, os, signal, sys, time
libc = ctypes.CDLL(None, use_errno=True)
pid, log, finish = int(sys.argv[1]), sys.argv[2], sys.argv[3]
if libc.ptrace(0x4206, pid, 0, 0) != 0: sys.exit('seize failed')
libc.ptrace(0x4207, pid, 0, 0)
time.sleep(0.3)
with open(log, 'a') as f: f.write('(00.300000) Starting page server on port 27000\\n')
while not os.path.exists(finish): time.sleep(0.05)
if open(finish).read() == 'fail': sys.exit(1)
os.kill(pid, signal.SIGKILL)
`;
export const LAZY_READY_LINE = 'Starting page server on port';

export interface LazyStandIns {
  dump: ChildProcess;
  daemon: ChildProcess;
  dumpLog: string;
  daemonPidfile: string;
  /** "The last page arrived": the dump kills the source tree and exits 0. */
  finish(): void;
  /** The transfer failed (its link reset): the dump exits 1 and the tree runs on, as CRIU resumes it. */
  fail(): void;
}

function lazyStandIns(root: string, tree: number): LazyStandIns {
  const bin = path.join(root, 'bin');
  mkdirSync(bin);
  // A process's comm is the name it was executed by: python3 (the interpreter itself, not a shim) run as `criu`.
  symlinkSync(execFileSync('python3', ['-c', 'import os, sys; print(os.path.realpath(sys.executable))']).toString().trim(), path.join(bin, 'criu'));
  const dumpLog = path.join(root, 'dump.log');
  const finishFile = path.join(root, 'last-page');
  const dump = spawn(path.join(bin, 'criu'), ['-c', FAKE_LAZY_DUMP, String(tree), dumpLog, finishFile], { stdio: 'ignore' });
  const daemon = spawn(path.join(bin, 'criu'), ['-c', 'import time; time.sleep(600)'], { stdio: 'ignore' });
  const daemonPidfile = path.join(root, 'target-images', 'lazy-pages.pid');
  writeFileSync(daemonPidfile, `${daemon.pid}\n`);
  return { dump, daemon, dumpLog, daemonPidfile, finish: () => writeFileSync(finishFile, ''), fail: () => writeFileSync(finishFile, 'fail') };
}
// --- end post-copy guard

/** Both guards armed around a frozen tree, leases renewed every 200 ms (post-copy: the tree held by a lazy dump). */
export async function startPair(o: { leaseMs?: number; maxMs?: number; peer?: string; lazy?: boolean } = {}): Promise<Pair> {
  const root = mkdtempSync(path.join(tmpdir(), 'ferry-guard-'));
  const images = path.join(root, 'target-images');
  mkdirSync(images);
  writeFileSync(path.join(images, 'pages-1.img'), 'not really pages');
  const pidfile = path.join(images, 'restored.pid');
  const secret = newGuardSecret();
  const events: EngineEvent[] = [];
  const run = new CommandRunner((e) => events.push(e), () => {
    throw new Error('only the local host here');
  }, () => 'root');
  const tree = o.lazy ? spawn('sleep', ['600'], { detached: true, stdio: 'ignore' }) : frozenTree();
  const pids = [tree.pid!];
  const lazy = o.lazy ? lazyStandIns(root, tree.pid!) : undefined;
  if (lazy) await until('the lazy dump to hold the tree', () => procState(tree.pid) === 't');
  const leaseMs = o.leaseMs ?? 3000;
  const target = new GuardClient(run, LOCAL_HOST, path.join(root, 'target-guard'), secret);
  const source = new GuardClient(run, LOCAL_HOST, path.join(root, 'source-guard'), secret);
  // Renewing starts first, so the lease never runs out while a guard is still starting.
  const leases = [source.lease(200), target.lease(200)];
  // On one machine the tree's PID is taken on "the target" too: the guard records it as someone else's.
  const t = await target.start({ role: 'target', pids, leaseMs, maxMs: o.maxMs ?? 120_000, listen: '127.0.0.1:0', images: [images], restoredPidfile: pidfile, afterResumePidfiles: lazy ? [lazy.daemonPidfile] : undefined });
  const s = await source.start({ role: 'source', pids, leaseMs, maxMs: o.maxMs ?? 120_000, peer: o.peer ?? t.listen, ...(lazy ? { lazyDumpLog: lazy.dumpLog, lazyReady: LAZY_READY_LINE } : {}) });
  const restoredPid = () => {
    try {
      return Number(readFileSync(pidfile, 'utf8').trim()) || undefined;
    } catch {
      return undefined;
    }
  };
  const observer = new Observer(tree.pid!, restoredPid);
  return {
    root,
    secret,
    events,
    run,
    source,
    target,
    images,
    pidfile,
    tree,
    guardPids: { source: s.pid, target: t.pid },
    lazy,
    leases,
    restoredPid,
    observer,
    async loseLease() {
      const at = Date.now();
      await Promise.all(leases.map((l) => l.stop()));
      return at;
    },
    async status() {
      const [a, b] = await Promise.all([source.status(), target.status()]);
      return { source: a, target: b };
    },
    async cleanup() {
      observer.stop();
      await Promise.all(leases.map((l) => l.stop().catch(() => undefined)));
      for (const pid of [tree.pid, restoredPid(), s.pid, t.pid, lazy?.dump.pid, lazy?.daemon.pid]) {
        try {
          if (pid) process.kill(pid, 'SIGCONT');
          if (pid) process.kill(pid, 'SIGKILL');
        } catch {
          /* gone */
        }
      }
      rmSync(root, { recursive: true, force: true });
    },
  };
}

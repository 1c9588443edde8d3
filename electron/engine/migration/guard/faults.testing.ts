/**
 * The cutover fault matrix, shared by the lab suite (faults.lab.test.ts, CI's subset) and
 * `npm run chaos` (chaos.ts, every phase x fault). One cell: a small workload on the source,
 * `ferry migrate` as a child process (so the console can be SIGKILLed), one or more faults
 * injected when the console reaches a phase, then: watch both hosts until the process runs in
 * exactly one place, bring a console back (`journal recover`) when the first one is gone, and
 * check what is left. No vitest here: the caller asserts.
 */
import net from 'node:net';
import path from 'node:path';
import { execa, type ResultPromise } from 'execa';
import type { EngineEvent } from '../../../../shared/api.ts';
import { labPaths } from '../../../lab/context.ts';
import { startWorkload, workloadStatus } from '../../../lab/index.ts';
import { vmFiles } from '../../../lab/vm.ts';
import type { SshHub } from '../../../ssh/index.ts';
import { listJournals } from '../../journal/journal.ts';
import { MigrationService } from '../../migrations.ts';

export const PHASES = ['precopy', 'final-dump', 'copy', 'restore', 'verify', 'commit'] as const;
/**
 * Post-copy's phases: the lazy dump freezing and serving ('final-dump'), the target's lazy-pages
 * daemon started but no restore yet ('lazy-pages'), the restore ('restore'), pages still
 * following from the source ('postcopy'), and the commit once every page arrived.
 */
export const POSTCOPY_PHASES = ['final-dump', 'lazy-pages', 'restore', 'postcopy', 'commit'] as const;
export type FaultPhase = (typeof PHASES)[number] | (typeof POSTCOPY_PHASES)[number];
export type CellMode = 'cold' | 'precopy' | 'postcopy';
export const FAULTS = ['console-killed', 'source-ssh-cut', 'target-ssh-cut', 'page-server-killed', 'hosts-link-cut', 'target-frozen'] as const;
export type Fault = (typeof FAULTS)[number];

export const FAULT_PID = 50000;
/** How long a link stays cut or the target frozen: longer than the guards' lease (10 s). */
export const OUTAGE_MS = 15_000;

export interface FaultLab {
  env: NodeJS.ProcessEnv;
  hub: SshHub;
}

export interface CellResult {
  phase: FaultPhase;
  mode: CellMode;
  faults: Fault[];
  /** The phase was reached and the faults injected (a cold migration has no pre-copy, say). */
  injected: boolean;
  /** The journal's outcome once a console finished it, and how the hosts settled (guards). */
  outcome: string;
  settled?: string;
  where: 'source' | 'target' | 'both' | 'none';
  /** From the first fault to exactly one running copy (and no console still working). */
  settleS?: number;
  /** Observations (about one a second) at which the process ran on both hosts. */
  bothSeen: number;
  observations: number;
  counterBefore: number;
  counterAfter?: number;
  verify?: string;
  /** What stayed behind on either host: files in the work dir (kept CRIU logs aside), criu, guards, ports. */
  leftovers: string;
  migrationId?: string;
  notes: string[];
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** One command to a qemu VM's monitor (link down/up, stop/cont). */
export async function monitor(env: NodeJS.ProcessEnv, host: 'source' | 'target', command: string): Promise<void> {
  const sock = vmFiles(labPaths(env).runDir, host).monitor;
  await new Promise<void>((resolve, reject) => {
    const s = net.connect(sock);
    const t = setTimeout(() => s.end(), 500);
    s.on('connect', () => s.write(`${command}\n`));
    s.on('data', () => undefined);
    s.on('error', (e) => {
      clearTimeout(t);
      reject(e);
    });
    s.on('close', () => {
      clearTimeout(t);
      resolve();
    });
  });
}

function sh(lab: FaultLab, alias: string, script: string, ...args: string[]) {
  return lab.hub.session(alias).exec(['sh', '-c', script, 'sh', ...args], { timeoutMs: 20_000 });
}

/** PID's state letter on a host ('' when absent, '?' when the host did not answer) and how many guards run there. */
async function stateOn(lab: FaultLab, alias: string): Promise<{ st: string; guards: number }> {
  const r = await sh(lab, alias, 'echo "$(ps -o stat= -p "$1")"; pgrep -c -x ferry-guard; exit 0', String(FAULT_PID)).catch(() => undefined);
  if (!r || r.timedOut || r.code !== 0) return { st: '?', guards: 0 };
  const [st = '', guards = '0'] = r.stdout.split('\n');
  return { st: st.trim(), guards: Number(guards.trim()) || 0 };
}
const running = (st: string) => /^[RSD]/.test(st);

/** Whether this event is where the fault goes in. */
function reached(phase: FaultPhase, e: EngineEvent): boolean {
  if (e.type === 'phase') return (phase === 'verify' && e.phase === 'verify') || (phase === 'postcopy' && e.phase === 'postcopy');
  if (e.type !== 'command-started') return false;
  const criu = e.argv.findIndex((a) => a === 'criu' || a.endsWith('/criu'));
  const guard = e.argv[1]?.endsWith('/guard.py') ? e.argv[2] : undefined;
  switch (phase) {
    case 'precopy':
      return criu >= 0 && e.argv[criu + 1] === 'pre-dump';
    case 'final-dump':
      return criu >= 0 && e.argv[criu + 1] === 'dump';
    case 'lazy-pages':
      return criu >= 0 && e.argv[criu + 1] === 'lazy-pages';
    case 'copy':
      return !!e.pipeTo && e.argv.includes('-cf') && !e.pipeTo.argv.some((a) => a.includes('copy-probe'));
    case 'restore':
      // Through the target guard; an unguarded restore (criu restore run directly) counts too.
      return guard === 'restore' || (!guard && criu >= 0 && e.argv[criu + 1] === 'restore');
    case 'commit':
      return guard === 'commit';
    default:
      return false;
  }
}

async function inject(lab: FaultLab, fault: Fault, cli: ResultPromise, notes: string[]): Promise<void> {
  switch (fault) {
    case 'console-killed':
      cli.kill('SIGKILL');
      return;
    case 'source-ssh-cut':
    case 'target-ssh-cut': {
      // Every sshd connection but our own ($PPID): the console sees a dead link, not a clean close.
      const alias = fault === 'source-ssh-cut' ? 'lab-source' : 'lab-target';
      const r = await sh(lab, alias, 'me=$PPID; for p in $(pgrep -f "^sshd: root@notty"); do [ "$p" = "$me" ] || kill -KILL "$p"; done; exit 0');
      if (r.code !== 0) notes.push(`ssh cut on ${alias}: ${r.stderr.trim()}`);
      return;
    }
    case 'page-server-killed': {
      const r = await lab.hub.session('lab-target').exec(['pkill', '-KILL', '-f', '^criu page-server'], { timeoutMs: 20_000 });
      if (r.code !== 0) notes.push('no page server was running to kill');
      return;
    }
    case 'hosts-link-cut':
      await monitor(lab.env, 'target', 'set_link n1 off');
      setTimeout(() => void monitor(lab.env, 'target', 'set_link n1 on').catch(() => undefined), OUTAGE_MS);
      return;
    case 'target-frozen':
      await monitor(lab.env, 'target', 'stop');
      setTimeout(() => void monitor(lab.env, 'target', 'cont').catch(() => undefined), OUTAGE_MS);
      return;
  }
}

/**
 * One cell of the matrix. `mode`: cold is quickest (one dump); pre-copy for the pre-copy phase.
 * `delayMs`: how long after the phase began the faults go in (the restore needs a moment to start).
 */
export async function runCell(
  lab: FaultLab,
  o: { phase: FaultPhase; faults: Fault[]; name: string; mib?: number; delayMs?: number; mode?: CellMode; /** How long to watch for one running copy (default 6 min). */ settleMs?: number },
): Promise<CellResult> {
  const notes: string[] = [];
  const mode = o.mode ?? (o.phase === 'precopy' ? 'precopy' : 'cold');
  await startWorkload({ env: lab.env, host: 'source', mib: o.mib ?? 8, rate: 100, pid: FAULT_PID, name: o.name }, lab.hub);
  let counterBefore = 0;
  for (let i = 0; i < 30 && counterBefore === 0; i++) {
    counterBefore = (await workloadStatus('source', { env: lab.env, name: o.name }, lab.hub).catch(() => undefined))?.counter ?? 0;
    if (!counterBefore) await sleep(1000);
  }
  const cli = execa(
    'node',
    [path.resolve('electron/cli/bin.js'), 'migrate', '--source', 'lab-source', '--target', 'lab-target', '--pid', String(FAULT_PID), '--auto', '--mode', mode, '--max-iterations', '2', '--max-downtime', '60s', '--no-tls', '--json', ...(mode === 'postcopy' ? ['--accept-postcopy-risk'] : [])],
    { env: lab.env, reject: false, buffer: false },
  );
  let cliDone = false;
  void cli.then(() => (cliDone = true));
  // Why a console ended before the phase (its last error line), for the notes.
  let stderrTail = '';
  cli.stderr?.on('data', (b: Buffer) => (stderrTail = (stderrTail + b.toString()).slice(-400)));
  let migrationId: string | undefined;
  let faultAt: number | undefined;
  let buf = '';
  const fired = new Promise<boolean>((resolve) => {
    cli.stdout!.on('data', (b: Buffer) => {
      buf += b.toString();
      let i: number;
      while ((i = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        let e: EngineEvent;
        try {
          e = JSON.parse(line) as EngineEvent;
        } catch {
          continue;
        }
        if (e.type === 'migration-started') migrationId = e.migrationId;
        if (faultAt === undefined && reached(o.phase, e)) {
          faultAt = Date.now();
          void sleep(o.delayMs ?? 0)
            .then(async () => {
              faultAt = Date.now();
              for (const f of o.faults) await inject(lab, f, cli, notes);
            })
            .then(() => resolve(true), (err: unknown) => (notes.push(`injecting: ${String(err)}`), resolve(true)));
        }
      }
    });
    void cli.then(() => faultAt === undefined && resolve(false));
  });
  // Observe both hosts about once a second until the process runs in exactly one place and no console works on it.
  let bothSeen = 0;
  let observations = 0;
  let settledAt: number | undefined;
  const deadline = Date.now() + (o.settleMs ?? 6 * 60_000);
  const injected = await Promise.race([fired, sleep(5 * 60_000).then(() => false)]);
  if (!injected) notes.push(`phase not reached; the console said: ${stderrTail.trim().split('\n').slice(-2).join(' / ') || '(nothing on stderr)'}`);
  let where: CellResult['where'] = 'none';
  for (;;) {
    const [a, b] = await Promise.all([stateOn(lab, 'lab-source'), stateOn(lab, 'lab-target')]);
    const [s, t] = [a.st, b.st];
    observations += 1;
    if (running(s) && running(t)) bothSeen += 1;
    const one = (running(s) && t === '') || (running(t) && s === '');
    // Settled: one copy runs, no console works on it, and no guard still decides.
    if (one && cliDone && a.guards + b.guards === 0) {
      where = running(s) ? 'source' : 'target';
      settledAt = Date.now();
      break;
    }
    if (Date.now() > deadline) {
      where = running(s) && running(t) ? 'both' : running(s) ? 'source' : running(t) ? 'target' : 'none';
      notes.push(`not settled: source ${s || 'absent'}, target ${t || 'absent'}, console ${cliDone ? 'ended' : 'still running'}, guards ${a.guards}+${b.guards}`);
      cli.kill('SIGKILL');
      break;
    }
    await sleep(1000);
  }
  await cli.catch(() => undefined);
  // The console comes back when the first one is gone: it journals the guards' decisions and finishes.
  let journal = migrationId ? listJournals({ env: lab.env }).find((j) => j.id === migrationId) : undefined;
  if (journal && !journal.finished) {
    const service = new MigrationService((alias) => lab.hub.session(alias), () => undefined, lab.env);
    await service.recover(journal.id).catch((e: unknown) => notes.push(`recover: ${e instanceof Error ? e.message : String(e)}`));
    journal = listJournals({ env: lab.env }).find((j) => j.id === migrationId);
  }
  const host = where === 'target' ? 'target' : 'source';
  const status = where === 'source' || where === 'target' ? await waitCounter(lab, host, o.name, counterBefore) : undefined;
  const left = await Promise.all(
    ['lab-source', 'lab-target'].map((alias) =>
      sh(lab, alias, 'cd /var/lib/ferry 2>/dev/null && ls -A | grep -v "\\.logs$"; pgrep -a -x criu; pgrep -a ferry-guard; ss -Htln "( sport = :27000 or sport = :27001 )"; exit 0')
        .then((r) => r.stdout.trim() && `${alias}: ${r.stdout.trim().replace(/\n/g, '; ')}`)
        .catch(() => `${alias}: unreachable`),
    ),
  );
  return {
    phase: o.phase,
    mode,
    faults: o.faults,
    injected,
    outcome: journal?.outcome ?? (journal ? `unfinished at ${journal.lastPhase}` : 'no journal'),
    settled: journal?.settled,
    where,
    settleS: settledAt && faultAt ? Math.round((settledAt - faultAt) / 100) / 10 : undefined,
    bothSeen,
    observations,
    counterBefore,
    counterAfter: status?.counter,
    verify: status?.verify,
    leftovers: left.filter(Boolean).join(' | '),
    migrationId,
    notes,
  };
}

async function waitCounter(lab: FaultLab, host: 'source' | 'target', name: string, above: number) {
  let last;
  for (let i = 0; i < 30; i++) {
    last = await workloadStatus(host, { env: lab.env, name }, lab.hub).catch(() => undefined);
    if (last && last.counter > above && last.host === host) return last;
    await sleep(1000);
  }
  return last;
}

/** Clean both VMs between cells: workloads, criu, guards, work dirs; the link up and the target running. */
export async function cleanCell(lab: FaultLab): Promise<void> {
  await monitor(lab.env, 'target', 'cont').catch(() => undefined);
  await monitor(lab.env, 'target', 'set_link n1 on').catch(() => undefined);
  for (const alias of ['lab-source', 'lab-target']) {
    const s = lab.hub.session(alias);
    await s.exec(['pkill', '-KILL', '-f', '/usr/local/bin/ferry-workload']);
    await s.exec(['pkill', '-KILL', '-x', 'criu']);
    await s.exec(['pkill', '-KILL', '-x', 'ferry-guard']);
    await s.exec(['rm', '-rf', '--', '/var/lib/ferry', '/var/lib/ferry-workload']);
  }
}

/** One line of the matrix table. */
export function row(r: CellResult): string {
  const settle = r.settleS === undefined ? '-' : `${r.settleS}`;
  return `| ${r.mode === 'postcopy' ? 'postcopy: ' : ''}${r.phase} | ${r.faults.join(' + ')} | ${r.injected ? r.outcome : 'not reached'}${r.settled ? ` (settled: ${r.settled})` : ''} | ${r.where} | ${settle} | ${r.bothSeen}/${r.observations} | ${r.verify ?? '-'} ${r.counterBefore}→${r.counterAfter ?? '-'} | ${r.leftovers || 'nothing'} |`;
}
export const TABLE_HEAD = '| phase | fault | outcome | runs on | s to settle | both running (obs) | verify, counter | left behind |\n|---|---|---|---|---|---|---|---|';

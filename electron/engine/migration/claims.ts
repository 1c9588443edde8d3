/**
 * Many migrations at once: what one migration claims on the hosts so that another (another CLI
 * process, another console, a playbook's fork) cannot take it too.
 *
 * - The process: `/run/ferry/pids/<PID>` on the source. One migration of a PID at a time.
 * - The page-server port: `/run/ferry/ports/<P>` on the host that listens (the target for pre-copy
 *   and cold, the source for post-copy's lazy dump) reserves P and P + 1 (the cutover guard's),
 *   taken from the plan's port range after `ss` says both are free.
 *
 * A claim is a symlink whose target is the holder (migration id, console host, engine PID,
 * time): `ln -s` creates it with its content in one atomic step, and every operation runs under
 * one flock on the host, so check-and-take is atomic across engines. /run is a tmpfs: a reboot,
 * which frees every PID and port, clears the claims too. Each is released at the migration's end
 * (commit, rollback, error) and by `ferry journal recover`.
 *
 * A claim whose engine died is stale. From the console that holds it Ferry can tell (the engine's
 * PID is gone, or its journal has an outcome); from another console it cannot, and says so.
 */
import os from 'node:os';
import type { JournalSummary } from '../../../shared/domain.ts';
import { FerryError } from '../../../shared/errors.ts';
import type { CommandRunner } from '../commands/runner.ts';

/** Where the claims live on every host (tmpfs). */
export const CLAIMS_ROOT = '/run/ferry';

export interface Holder {
  /** The migration id. */
  migration: string;
  /** The machine the engine runs on (os.hostname()). */
  console: string;
  /** The engine's process id there. */
  engine: number;
  /** When it was taken (ISO). */
  at: string;
}

/**
 * The host side: one script for every operation, under an flock of `ROOT/.mutex`.
 *   take KIND NAME HOLDER             exit 0: taken; exit 1: held, the holder on stdout
 *   replace KIND NAME HOLDER OLD      take over a stale claim, only if it still holds OLD
 *   list KIND                         one "NAME<TAB>HOLDER" line per claim
 *   release ID                        remove every claim whose holder names migration ID
 * Exit 3: the claims directory or its lock could not be had.
 */
export const CLAIM_SCRIPT = [
  'root=$1; op=$2; shift 2',
  'mkdir -p -m 0755 "$root/pids" "$root/ports" || exit 3',
  'exec 9>"$root/.mutex" || exit 3',
  'flock -w 20 9 || exit 3',
  'case $op in',
  'take) f="$root/$1/$2"; if cur=$(readlink -- "$f"); then printf "%s\\n" "$cur"; exit 1; fi; ln -s -- "$3" "$f" || exit 3 ;;',
  'replace) f="$root/$1/$2"; cur=$(readlink -- "$f") || cur=; if [ "$cur" != "$4" ]; then printf "%s\\n" "$cur"; exit 1; fi; rm -f -- "$f" && ln -s -- "$3" "$f" || exit 3 ;;',
  'list) for f in "$root/$1"/*; do [ -L "$f" ] && printf "%s\\t%s\\n" "${f##*/}" "$(readlink -- "$f")"; done; exit 0 ;;',
  'release) for f in "$root"/pids/* "$root"/ports/*; do [ -L "$f" ] || continue; case $(readlink -- "$f") in *"\\"migration\\":\\"$1\\""*) rm -f -- "$f" ;; esac; done; exit 0 ;;',
  '*) exit 2 ;;',
  'esac',
].join('\n');

export type ClaimKind = 'pids' | 'ports';

export function claimArgv(root: string, op: 'take' | 'replace' | 'list' | 'release', ...args: string[]): string[] {
  return ['sh', '-c', CLAIM_SCRIPT, 'ferry-claim', root, op, ...args];
}

export function holderText(h: Holder): string {
  return JSON.stringify({ migration: h.migration, console: h.console, engine: h.engine, at: h.at });
}

export function parseHolder(text: string): Holder | undefined {
  try {
    const v = JSON.parse(text.trim()) as Partial<Holder>;
    if (typeof v.migration === 'string' && typeof v.console === 'string' && typeof v.engine === 'number' && typeof v.at === 'string') return v as Holder;
  } catch {
    /* not ours, or damaged: judged below as unknown */
  }
  return undefined;
}

/** `list` output: claim name -> holder text. */
export function parseClaimList(stdout: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of stdout.split('\n')) {
    const tab = line.indexOf('\t');
    if (tab > 0) out.set(line.slice(0, tab), line.slice(tab + 1));
  }
  return out;
}

/** The TCP ports something listens on, from `ss -Hltn` (Local Address:Port is the 4th column). */
export function parseListeningPorts(stdout: string): Set<number> {
  const out = new Set<number>();
  for (const line of stdout.split('\n')) {
    const local = line.trim().split(/\s+/)[3];
    const m = local ? /:(\d+)$/.exec(local) : null;
    if (m) out.add(Number(m[1]));
  }
  return out;
}

/** What this engine knows about itself and its journals, to judge other holders. */
export interface ClaimContext {
  console: string;
  engine: number;
  /** Whether a process with this PID runs on this machine. */
  isAlive(pid: number): boolean;
  /** This machine's journal of a migration, if there is one. */
  journal(id: string): JournalSummary | undefined;
}

export function localClaimContext(journal: (id: string) => JournalSummary | undefined): ClaimContext {
  return {
    console: os.hostname(),
    engine: process.pid,
    isAlive: (pid) => {
      try {
        process.kill(pid, 0);
        return true;
      } catch (e) {
        return (e as NodeJS.ErrnoException).code === 'EPERM';
      }
    },
    journal,
  };
}

/** Phases after which a dead holder may have left the source frozen: recover before taking over. */
const PAST_FREEZE = new Set(['cutover', 'restore', 'postcopy', 'verify', 'committed', 'rolling-back', 'failed']);

export interface Judgement {
  /** alive: its engine runs; dead: it is gone (stale); unknown: held from another console. */
  state: 'alive' | 'dead' | 'unknown';
  /** In words, for the refusal and the journal. */
  why: string;
  /** A dead holder whose migration may have left the process frozen: recover it first. */
  needsRecovery?: boolean;
}

export function judgeHolder(text: string, ctx: ClaimContext): Judgement {
  const h = parseHolder(text);
  if (!h) return { state: 'unknown', why: `a claim Ferry cannot read (${text.slice(0, 120)})` };
  const who = `migration ${h.migration} (engine PID ${h.engine} on ${h.console}, since ${h.at})`;
  if (h.console !== ctx.console) {
    return { state: 'unknown', why: `${who}: it runs from another console, and Ferry cannot see from here whether it is still alive` };
  }
  const j = ctx.journal(h.migration);
  if (j?.finished) return { state: 'dead', why: `${who}: its journal says it ended (${j.outcome})` };
  if (h.engine !== ctx.engine && !ctx.isAlive(h.engine)) {
    const frozen = j !== undefined && PAST_FREEZE.has(j.lastPhase);
    return {
      state: 'dead',
      why: `${who}: its engine is gone${j ? ` and its journal stops at ${j.lastPhase}` : ' (no journal of it on this machine)'}`,
      ...(frozen ? { needsRecovery: true } : {}),
    };
  }
  return { state: 'alive', why: `${who}: its engine is running` };
}

/**
 * The claims one migration holds, taken and released through its CommandRunner (so they are
 * journaled and appear in the runbook).
 */
export class Claims {
  private readonly holder: string;
  private pidHost?: string;
  private readonly portHosts = new Set<string>();

  constructor(
    private readonly o: {
      run: CommandRunner;
      migrationId: string;
      ctx: ClaimContext;
      /** A journal line when a stale claim is taken over. */
      note(action: string, reason: string): void;
      /** Where the claims live (/run/ferry); per host where hosts share one filesystem, as in tests. */
      root?: string | ((host: string) => string);
    },
  ) {
    this.holder = holderText({ migration: o.migrationId, console: o.ctx.console, engine: o.ctx.engine, at: new Date().toISOString() });
  }

  private rootOn(host: string): string {
    const r = this.o.root ?? CLAIMS_ROOT;
    return typeof r === 'string' ? r : r(host);
  }

  private async take(host: string, kind: ClaimKind, name: string): Promise<{ taken: true } | { taken: false; holder: string }> {
    const r = await this.o.run.run(host, claimArgv(this.rootOn(host), 'take', kind, name, this.holder), { quiet: true });
    if (r.code === 0) return { taken: true };
    if (r.code === 1) return { taken: false, holder: r.stdout.trim() };
    throw new FerryError({
      code: 'claim-failed',
      host,
      message: `Could not take Ferry's claim ${this.rootOn(host)}/${kind}/${name} on ${host} (exit ${r.code ?? r.signal})`,
      evidence: r.stderr.trim().split('\n').pop(),
      hint: `Ferry keeps its claims in ${this.rootOn(host)} (a tmpfs) and locks them with flock (util-linux): check both exist on ${host} and that Ferry has root there.`,
    });
  }

  private async replace(host: string, kind: ClaimKind, name: string, old: string): Promise<boolean> {
    const r = await this.o.run.run(host, claimArgv(this.rootOn(host), 'replace', kind, name, this.holder, old), { quiet: true });
    return r.code === 0;
  }

  /**
   * Claim the process on the source: refused (FerryError 'process-claimed') while another
   * migration holds it, naming that migration and whether its engine is alive; a dead
   * holder's claim is taken over with a journal line.
   */
  async claimProcess(host: string, pid: number): Promise<void> {
    for (let attempt = 0; attempt < 3; attempt++) {
      const t = await this.take(host, 'pids', String(pid));
      if (t.taken) {
        this.pidHost = host;
        return;
      }
      const j = judgeHolder(t.holder, this.o.ctx);
      const file = `${this.rootOn(host)}/pids/${pid}`;
      if (j.state === 'dead' && !j.needsRecovery) {
        if (await this.replace(host, 'pids', String(pid), t.holder)) {
          this.pidHost = host;
          this.o.note('took over a stale process claim', `${file} on ${host} was held by ${j.why}`);
          return;
        }
        continue; // someone else took it meanwhile: look again
      }
      const h = parseHolder(t.holder);
      throw new FerryError({
        code: 'process-claimed',
        host,
        message: `PID ${pid} on ${host} is already being migrated by ${h ? `migration ${h.migration}` : 'another migration'}: ${j.why}`,
        evidence: `${file} -> ${t.holder}`,
        hint:
          j.state === 'alive'
            ? `Wait for ${h?.migration ?? 'it'} to finish, or roll it back (ferry journal list shows it).`
            : j.needsRecovery
              ? `Its engine died after the final dump started, so the process may be frozen: run \`ferry journal recover ${h?.migration}\` (it releases the claim), then start again.`
              : `If that migration is gone (check \`ferry journal list\` on ${h?.console ?? 'its console'}), remove ${file} on ${host} by hand and start again.`,
      });
    }
    throw new FerryError({ code: 'process-claimed', host, message: `PID ${pid} on ${host}: its claim kept changing hands`, hint: 'Another migration of it is starting at the same moment; wait and look at `ferry journal list`.' });
  }

  /**
   * Reserve a free pair of ports (P, P + 1) in [first, last] on `host`: not listening (ss),
   * not reserved by a live migration. Returns P.
   */
  async reservePorts(host: string, range: { first: number; last: number }, opts: { dryRun?: boolean } = {}): Promise<number> {
    const ss = await this.o.run.run(host, ['ss', '-Hltn'], { quiet: true });
    const listening = ss.code === 0 ? parseListeningPorts(ss.stdout) : new Set<number>();
    const list = await this.o.run.run(host, claimArgv(this.rootOn(host), 'list', 'ports'), { quiet: true });
    const reserved = parseClaimList(list.stdout);
    let busy = 0;
    let held = 0;
    for (let p = range.first; p + 1 <= range.last; p += 2) {
      if (listening.has(p) || listening.has(p + 1)) {
        busy += 1;
        continue;
      }
      const cur = reserved.get(String(p));
      if (cur !== undefined) {
        const j = judgeHolder(cur, this.o.ctx);
        if (j.state === 'dead' && opts.dryRun) return p;
        if (j.state === 'dead' && (await this.replace(host, 'ports', String(p), cur))) {
          this.o.note('took over a stale port reservation', `${this.rootOn(host)}/ports/${p} on ${host} was held by ${j.why}`);
          this.portHosts.add(host);
          return p;
        }
        held += 1;
        continue;
      }
      if (opts.dryRun) return p;
      const t = await this.take(host, 'ports', String(p));
      if (t.taken) {
        this.portHosts.add(host);
        return p;
      }
      held += 1; // taken by another migration since the list
    }
    throw new FerryError({
      code: 'no-free-port',
      host,
      message: `No free pair of ports in ${range.first}-${range.last} on ${host}: ${busy} pair(s) in use, ${held} reserved by other migrations`,
      evidence: ss.code === 0 ? undefined : `ss -Hltn failed (exit ${ss.code}): only Ferry's reservations were checked`,
      hint: `Give a wider range (--port-range ${range.first}-${range.last + 100}, plan: page_server.port_range), or wait for other migrations to end (ferry journal list).`,
    });
  }

  /**
   * Post-copy listens on both hosts with one port number: the source's lazy dump on P, the
   * target's cutover guard on P + 1. Reserve the same pair on both: the first pair free on
   * the target from `range.first`, then the first free on the source from there, then that
   * very pair on the target (another migration may have taken it in between: say so).
   */
  async reservePortsOnBoth(first: string, second: string, range: { first: number; last: number }): Promise<number> {
    const from = await this.reservePorts(second, range, { dryRun: true });
    const p = await this.reservePorts(first, { first: from, last: range.last });
    try {
      await this.reservePorts(second, { first: p, last: p + 1 });
    } catch (e) {
      if (!(e instanceof FerryError) || e.code !== 'no-free-port') throw e;
      throw new FerryError({
        code: 'no-free-port',
        host: second,
        message: `Ports ${p}-${p + 1} are free on ${first} but not on ${second}; post-copy needs the same pair on both`,
        evidence: e.message,
        hint: 'Another migration took them a moment ago: start this one again, or give a wider range (--port-range, plan: page_server.port_range).',
      });
    }
    return p;
  }

  /** Release whatever this migration holds (a failure is reported, never fatal). */
  async release(): Promise<string[]> {
    const problems: string[] = [];
    for (const host of new Set([this.pidHost, ...this.portHosts].filter((h): h is string => !!h))) {
      const r = await this.o.run.run(host, claimArgv(this.rootOn(host), 'release', this.o.migrationId), { quiet: true }).catch((e: Error) => ({ code: -1, stderr: e.message }));
      if (r.code !== 0) problems.push(`${host}: ${r.stderr.trim() || `exit ${r.code}`}`);
    }
    this.pidHost = undefined;
    this.portHosts.clear();
    return problems;
  }

  /** Recovery: release every claim of migration `id` on these hosts, whatever this engine took. */
  static async releaseAll(run: CommandRunner, hosts: string[], id: string, root = CLAIMS_ROOT): Promise<void> {
    for (const host of new Set(hosts)) await run.run(host, claimArgv(root, 'release', id), { quiet: true }).catch(() => undefined);
  }
}

/**
 * The bandwidth cap on the page stream (plan.bandwidthCap), applied on the source with the
 * kernel's traffic control. On the source's interface toward the target (`ip route get`):
 *
 *   tc qdisc add dev IF root handle fe77: htb default 0          unclassified traffic bypasses it
 *   tc class add dev IF parent fe77: classid fe77:1 htb rate R ceil R
 *   tc filter add dev IF parent fe77: protocol ip prio 1 u32 \
 *        match ip dst TARGET/32 match ip dport PORT 0xffff flowid fe77:1
 *
 * so only packets to the page server's address and port are shaped; SSH, the service's own
 * traffic and everything else on the interface go out as before (htb sends packets no filter
 * classified, `default 0`, straight out). States:
 *
 *   off ──apply()──▶ on ──remove()──▶ off          unknown (recovery) ──remove()──▶ off
 *
 * The cap goes on before the first pre-dump and off before the final dump (during: precopy,
 * the default: a capped final dump lengthens the freeze) or at commit/rollback (during:
 * precopy-and-dump; removing it inside the freeze would cost a round trip there). Removal
 * deletes only a root qdisc with Ferry's handle, so it is safe to run again and after a crash
 * (`ferry journal recover`). Every command goes through the CommandRunner: journaled, in the
 * runbook. Argv builders and parsers are pure.
 */
import { isIP } from 'node:net';
import { checkOf, type CheckResult, type MigrationPlan } from '../../../shared/domain.ts';
import { FerryError } from '../../../shared/errors.ts';
import { capCoversDump, describeBandwidth } from '../../../shared/bandwidth-cap.ts';
import type { CommandRunner } from '../commands/runner.ts';

/** Ferry's qdisc handle: only a root qdisc with this handle is ever deleted. */
export const CAP_HANDLE = 'fe77:';
export const CAP_CLASS = 'fe77:1';

export type CapState = 'off' | 'on' | 'unknown';

/** The page stream as tc matches it: the interface it leaves by, the target's address and port. */
export interface CapRoute {
  iface: string;
  ip: string;
}

/** "10.0.0.2 dev eth1 src 10.0.0.1 uid 0" → eth1. */
export function parseRouteDev(stdout: string): string | undefined {
  return /\bdev\s+(\S+)/.exec(stdout)?.[1];
}

/** `getent ahosts NAME`: the first address it prints. */
export function parseGetent(stdout: string): string | undefined {
  const first = stdout.trim().split(/\s+/)[0];
  return first && isIP(first) ? first : undefined;
}

/** The root qdisc of `tc qdisc show dev IF`: "qdisc fq_codel 0: root refcnt 2 ..." → { kind, handle }. */
export function parseRootQdisc(stdout: string): { kind: string; handle: string } | undefined {
  const m = /^qdisc (\S+) (\S+) root\b/m.exec(stdout);
  return m ? { kind: m[1]!, handle: m[2]! } : undefined;
}

/** Bytes that went through Ferry's class, from `tc -s class show dev IF classid fe77:1` (" Sent 123 bytes 4 pkt"). */
export function parseClassSent(stdout: string): number | undefined {
  const m = /\bSent (\d+) bytes/.exec(stdout);
  return m ? Number(m[1]) : undefined;
}

export function capArgvs(route: CapRoute, port: number, bytesPerSecond: number): string[][] {
  const bits = `${Math.round(bytesPerSecond * 8)}bit`;
  const v6 = isIP(route.ip) === 6;
  return [
    ['tc', 'qdisc', 'add', 'dev', route.iface, 'root', 'handle', CAP_HANDLE, 'htb', 'default', '0'],
    ['tc', 'class', 'add', 'dev', route.iface, 'parent', CAP_HANDLE, 'classid', CAP_CLASS, 'htb', 'rate', bits, 'ceil', bits],
    [
      'tc', 'filter', 'add', 'dev', route.iface, 'parent', CAP_HANDLE, 'protocol', v6 ? 'ipv6' : 'ip', 'prio', '1', 'u32',
      'match', v6 ? 'ip6' : 'ip', 'dst', `${route.ip}/${v6 ? 128 : 32}`,
      'match', v6 ? 'ip6' : 'ip', 'dport', String(port), '0xffff',
      'flowid', CAP_CLASS,
    ],
  ];
}

/** Delete Ferry's root qdisc on IF if it is there (and nothing else): safe to run twice. */
export function uncapArgv(iface: string): string[] {
  return ['sh', '-c', 'tc qdisc show dev "$1" | grep -q "^qdisc htb $2 root" || exit 0; exec tc qdisc del dev "$1" root handle "$2"', 'ferry-uncap', iface, CAP_HANDLE];
}

export function classStatsArgv(iface: string): string[] {
  return ['tc', '-s', 'class', 'show', 'dev', iface, 'classid', CAP_CLASS];
}

/** The target's address as an IP (the page server's address may be a name), then the source's interface toward it. */
export async function capRoute(run: CommandRunner, host: string, address: string): Promise<{ route?: CapRoute; problem?: string }> {
  let ip = isIP(address) ? address : undefined;
  if (!ip) {
    const r = await run.run(host, ['getent', 'ahosts', address], { quiet: true });
    ip = r.code === 0 ? parseGetent(r.stdout) : undefined;
    if (!ip) return { problem: `${host} cannot resolve the page server's address ${address}` };
  }
  const r = await run.run(host, ['ip', '-o', 'route', 'get', ip], { quiet: true });
  const iface = r.code === 0 ? parseRouteDev(r.stdout) : undefined;
  if (!iface) return { problem: `${host} has no route to ${ip}: ${(r.stderr || r.stdout).trim() || `exit ${r.code}`}` };
  return { route: { iface, ip } };
}

export interface CapContext {
  plan: MigrationPlan;
  run: CommandRunner;
  /** A policy decision for the journal (cap on, cap off). */
  decide(action: string, reason: string): void;
}

/** The cap on one migration's page stream; see the module comment. */
export class BandwidthCapOnSource {
  state: CapState = 'off';
  private route?: CapRoute;

  constructor(private readonly ctx: CapContext) {}

  private get cap() {
    return this.ctx.plan.bandwidthCap!;
  }

  /** Post-copy's pages flow from the source's lazy dump the other way round: not capped. */
  get applies(): boolean {
    return this.ctx.plan.mode !== 'postcopy';
  }

  private words(): string {
    const { plan } = this.ctx;
    return `${describeBandwidth(this.cap.bytesPerSecond)} on ${plan.source} ${this.route?.iface ?? '?'} for the page stream to ${this.route?.ip ?? plan.targetAddress}:${plan.pageServerPort}`;
  }

  /** Cap the page stream now; a failure leaves nothing installed. */
  async apply(): Promise<void> {
    if (!this.applies || this.state === 'on') return;
    const { plan, run } = this.ctx;
    const found = await capRoute(run, plan.source, plan.targetAddress);
    if (!found.route) throw new FerryError({ code: 'bandwidth-cap-failed', host: plan.source, message: `Could not cap the page stream: ${found.problem}`, hint: 'Check page_server.address, or remove bandwidth_cap from the plan.' });
    this.route = found.route;
    this.state = 'unknown';
    try {
      for (const argv of capArgvs(this.route, plan.pageServerPort, this.cap.bytesPerSecond)) {
        await run.run(plan.source, argv, { check: true, what: 'capping the page stream (tc)' });
      }
    } catch (e) {
      await this.remove().catch(() => undefined);
      throw e;
    }
    this.state = 'on';
    this.ctx.decide('bandwidth cap on', `page stream capped at ${this.words()} (tc htb on the source; other traffic untouched), ${capCoversDump(this.cap) ? 'pre-copy and the final dump' : 'pre-copy only: the final dump runs uncapped'}`);
  }

  /** Before the final dump: off unless the cap covers it; a cold migration capped throughout gets it now. */
  async beforeFinalDump(): Promise<void> {
    if (capCoversDump(this.cap)) await this.apply();
    else await this.remove();
  }

  /** Take the cap off (idempotent; only Ferry's qdisc). Records how many bytes it shaped. */
  async remove(): Promise<void> {
    if (!this.applies || this.state === 'off') return;
    const { plan, run } = this.ctx;
    if (!this.route) {
      const found = await capRoute(run, plan.source, plan.targetAddress);
      if (!found.route) throw new FerryError({ code: 'bandwidth-cap-failed', host: plan.source, message: `Could not find the interface the cap is on: ${found.problem}`, hint: `Remove it by hand: tc qdisc del dev IFACE root handle ${CAP_HANDLE}` });
      this.route = found.route;
    }
    const stats = await run.run(plan.source, classStatsArgv(this.route.iface), { quiet: true });
    const sent = stats.code === 0 ? parseClassSent(stats.stdout) : undefined;
    await run.run(plan.source, uncapArgv(this.route.iface), { check: true, what: 'removing the bandwidth cap (tc)' });
    const was = this.state;
    this.state = 'off';
    if (was === 'on') this.ctx.decide('bandwidth cap off', `removed from ${plan.source} ${this.route.iface}${sent !== undefined ? `: ${(sent / 1048576).toFixed(1)} MiB of pages went through it` : ''}`);
  }

  /** Recovery: whatever the journal says, the cap may still be on. */
  recovering(): void {
    if (this.applies) this.state = 'unknown';
  }

  rollbackSteps(): string[] {
    if (!this.applies || this.state === 'off') return [];
    return [`remove the bandwidth cap on ${this.ctx.plan.source} (tc qdisc del dev ${this.route?.iface ?? 'IFACE'} root handle ${CAP_HANDLE})`];
  }
}

// ---- Preflight ---------------------------------------------------------------------

const check = checkOf('bandwidth-cap', 'Bandwidth cap');

/**
 * Read-only checks for plan.bandwidthCap: tc exists on the source, the source routes the page
 * server's address over a known interface, and that interface's root qdisc is the kernel's
 * default (Ferry will not replace someone's own shaping, and a leftover cap of Ferry's is named).
 */
export async function bandwidthCapChecks(plan: MigrationPlan, run: CommandRunner): Promise<CheckResult[]> {
  const cap = plan.bandwidthCap;
  if (!cap) return [];
  const { source } = plan;
  const rate = describeBandwidth(cap.bytesPerSecond);
  if (plan.mode === 'postcopy') return [check('warn', undefined, `post-copy's pages are not capped (the cap applies to pre-copy and cold page streams); ${rate} is ignored`, 'Use mode precopy to cap the page stream, or remove bandwidth_cap.')];
  const out: CheckResult[] = [];
  if (plan.mode === 'cold' && !capCoversDump(cap)) {
    out.push(check('warn', undefined, `a cold migration has no pre-copy: a cap on pre-copy only (${rate}) does nothing`, 'Write bandwidth_cap: { rate: ..., during: precopy-and-dump } (or --cap-final-dump) to cap the dump, or remove the cap.'));
    return out;
  }
  const tc = await run.run(source, ['tc', '-V'], { quiet: true });
  if (tc.code !== 0) return [check('fail', source, `tc (iproute2) is not available on ${source}: ${(tc.stderr || tc.stdout).trim() || `exit ${tc.code}`}`, 'Install iproute2 on the source (apt-get install iproute2), or remove bandwidth_cap.')];
  const found = await capRoute(run, source, plan.targetAddress);
  if (!found.route) return [check('fail', source, found.problem!, 'Check page_server.address: the source must route to it.')];
  const { iface, ip } = found.route;
  const q = await run.run(source, ['tc', 'qdisc', 'show', 'dev', iface], { quiet: true });
  const root = q.code === 0 ? parseRootQdisc(q.stdout) : undefined;
  if (q.code !== 0) out.push(check('fail', source, `cannot read the qdiscs of ${iface} on ${source}: ${q.stderr.trim()}`, 'Run as root, or remove bandwidth_cap.'));
  else if (root?.handle === CAP_HANDLE) {
    out.push(check('fail', source, `${iface} on ${source} still has a bandwidth cap of Ferry's (qdisc htb ${CAP_HANDLE}), left by an interrupted migration`, `Finish that migration (ferry journal list, ferry journal recover ID), or remove it: tc qdisc del dev ${iface} root handle ${CAP_HANDLE}`));
  } else if (root && root.handle !== '0:') {
    out.push(check('fail', source, `${iface} on ${source} has its own root qdisc (${root.kind} ${root.handle}): Ferry does not replace someone's traffic shaping`, 'Remove bandwidth_cap from the plan and cap the page stream in your own qdisc (destination port of the page server).'));
  } else {
    const dump = capCoversDump(cap) ? 'pre-copy and the final dump (the freeze gets longer)' : 'pre-copy only';
    out.push(check('pass', source, `${rate} on ${iface} for ${ip}:${plan.pageServerPort} during ${dump}; other traffic untouched`));
  }
  return out;
}

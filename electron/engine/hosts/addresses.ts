/**
 * Where hosts reach each other for migration traffic (the page server, lazy pages). An SSH
 * alias such as `lab-target` means nothing to the source, and the address Ferry's SSH
 * connection uses (127.0.0.1:2222 for the lab) is not where the source reaches the target.
 * A host carries its migration address in Ferry's ssh_config (`FerryMigrationAddress`,
 * written by `ferry lab up` for the lab, settable for any host); when the address is wrong,
 * preflight names one that works from what the hosts say (`ip route get`, `ip addr`).
 */
import type { MigrationPlan } from '../../../shared/domain.ts';
import type { CommandRunner } from '../commands/runner.ts';

/** The ssh_config keyword (OpenSSH skips it after `IgnoreUnknown FerryMigrationAddress`). */
export const MIGRATION_ADDRESS_KEY = 'FerryMigrationAddress';

/** The plan with its default page-server address (the target's alias) replaced by the address the target carries. */
export async function withMigrationAddress(plan: MigrationPlan, addressOf: (alias: string) => Promise<string | undefined>): Promise<MigrationPlan> {
  if (plan.targetAddress !== plan.target) return plan; // given explicitly: the user's word stands
  const address = await addressOf(plan.target).catch(() => undefined);
  return address ? { ...plan, targetAddress: address } : plan;
}

export interface HostAddress {
  address: string;
  dev: string;
}

/** Global-scope addresses from `ip -o addr show` (no loopback, no link-local). */
export function parseAddresses(stdout: string): HostAddress[] {
  const out: HostAddress[] = [];
  for (const line of stdout.split('\n')) {
    const m = /^\d+:\s+(\S+)\s+inet6?\s+([0-9a-fA-F.:]+)\/\d+.*\bscope global\b/.exec(line);
    if (m) out.push({ dev: m[1]!, address: m[2]! });
  }
  return out;
}

/** One line of `ip -o route get ADDR`: local (an address of the asking host), direct (on a link), or via a gateway. */
export function parseRoute(stdout: string): { kind: 'local' | 'direct' | 'via'; dev?: string; src?: string } | undefined {
  const line = stdout.trim().split('\n')[0] ?? '';
  if (!line || /error|unreachable|invalid/i.test(line)) return undefined;
  const dev = /\bdev\s+(\S+)/.exec(line)?.[1];
  const src = /\bsrc\s+(\S+)/.exec(line)?.[1];
  if (/^local\b/.test(line)) return { kind: 'local', dev, src };
  return { kind: /\bvia\s/.test(line) ? 'via' : 'direct', dev, src };
}

/**
 * The address the source should use for the target: one of the target's global addresses
 * that is not also the source's own (the lab's user-mode 10.0.2.15 is on both), preferring
 * one on a directly connected link, IPv4 first. Also what the source's route to the given address is.
 */
export async function suggestTargetAddress(plan: MigrationPlan, run: CommandRunner): Promise<{ route: string; suggestion?: HostAddress & { via: string } }> {
  const quiet = { quiet: true } as const;
  const given = await run.run(plan.source, ['ip', '-o', 'route', 'get', plan.targetAddress], quiet).catch(() => undefined);
  // `ip -o` joins continuation lines with a backslash: keep the route itself.
  const route = given ? (given.code === 0 ? given.stdout : given.stderr || given.stdout).trim().split('\n')[0]!.replace(/\s*\\.*$/, '').trim() : 'unknown';
  const addrs = await run.run(plan.target, ['ip', '-o', 'addr', 'show'], quiet).catch(() => undefined);
  const candidates: (HostAddress & { via: string; rank: number })[] = [];
  for (const a of parseAddresses(addrs?.stdout ?? '')) {
    const r = await run.run(plan.source, ['ip', '-o', 'route', 'get', a.address], quiet).catch(() => undefined);
    const parsed = r && r.code === 0 ? parseRoute(r.stdout) : undefined;
    if (!parsed || parsed.kind === 'local') continue;
    // On a direct link first, IPv4 before IPv6 (a user-mode NIC's fec0:: prefix looks on-link on both VMs).
    candidates.push({ ...a, via: parsed.dev ?? '?', rank: (parsed.kind === 'direct' ? 0 : 2) + (a.address.includes(':') ? 1 : 0) });
  }
  candidates.sort((x, y) => x.rank - y.rank);
  const best = candidates.find((c) => c.address !== plan.targetAddress);
  return { route, suggestion: best ? { address: best.address, dev: best.dev, via: best.via } : undefined };
}

/** The fix line of a failed page-server reachability check, naming the address to use when there is one. */
export function addressFix(plan: MigrationPlan, found: { route: string; suggestion?: HostAddress & { via: string } }, port: number): string {
  const route = `route from ${plan.source} to ${plan.targetAddress}: ${found.route}`;
  if (!found.suggestion) return `${route}. Check the address the source uses for the target (--target-address) and any firewall between them on TCP ${port}.`;
  const s = found.suggestion;
  return (
    `${route}. ${plan.target} has ${s.address} (${s.dev}), which ${plan.source} reaches on ${s.via}: use --target-address ${s.address}, ` +
    `or set it once under \`Host ${plan.target}\` as \`${MIGRATION_ADDRESS_KEY} ${s.address}\` in Ferry's ssh_config. Also check any firewall on TCP ${port}.`
  );
}

/**
 * The service address that moves with the process (plan.serviceAddress). Inside the freeze
 * window, after the final dump returned (the tree is stopped with --leave-stopped and, with
 * --tcp-established, CRIU's per-connection DROP rules are in place on the source):
 *
 *   released   the source deletes the address from its interface
 *   guarded    the target drops packets to the address (a client's retransmit that reached
 *              the target before the restored socket exists would be answered with a RST
 *              and kill the connection)
 *   on-target  the target adds the address and announces it (gratuitous ARP, or an
 *              unsolicited neighbour advertisement for IPv6)
 *   (restore)
 *   in-service the guard is removed: clients' retransmits reach the restored sockets
 *
 * A rollback undoes what was done, in reverse, before the source resumes: the target drops
 * the guard and the address, the source adds it back and announces it. Every step is a
 * command through the CommandRunner (journaled, in the runbook). Argv builders are pure.
 */
import { checkOf, type CheckResult, type MigrationPlan, type ServiceAddress } from '../../../shared/domain.ts';
import { FerryError } from '../../../shared/errors.ts';
import { parseServiceAddress, type ParsedServiceAddress } from '../../../shared/service-address.ts';
import type { CommandRunner } from '../commands/runner.ts';

/** Where the address is, in the order the cutover moves it. */
export type AddressState = 'on-source' | 'released' | 'guarded' | 'on-target' | 'in-service';

/** The comment that marks Ferry's guard rule, so only ours is ever deleted. */
export const GUARD_COMMENT = 'ferry-service-address';
/** CRIU's mark for its own repair traffic (SOCCR_MARK): its connection locks match `! --mark 0xc114`. */
export const CRIU_LOCK_MARK = '0xc114';

function parsed(sa: ServiceAddress): ParsedServiceAddress {
  const p = parseServiceAddress(sa.address);
  if (!p) throw new FerryError({ code: 'invalid-argument', message: `Not a service address: ${sa.address}`, hint: 'Write it with its prefix, like 10.0.0.100/24.' });
  return p;
}

export function addrDelArgv(sa: ServiceAddress, iface: string): string[] {
  return ['ip', 'addr', 'del', sa.address, 'dev', iface];
}

/** IPv6: nodad, so the address is usable at once (a tentative address cannot be bound by the restore). */
export function addrAddArgv(sa: ServiceAddress, iface: string): string[] {
  return ['ip', 'addr', 'add', sa.address, 'dev', iface, ...(parsed(sa).family === 6 ? ['nodad'] : [])];
}

/** iptables (ip6tables) rule spec of the guard: drop everything addressed to the service address. */
function guardSpec(sa: ServiceAddress): string[] {
  const p = parsed(sa);
  return ['INPUT', '-d', p.ip, '-m', 'comment', '--comment', GUARD_COMMENT, '-j', 'DROP'];
}

export function guardAddArgv(sa: ServiceAddress): string[] {
  return [parsed(sa).family === 6 ? 'ip6tables' : 'iptables', '-w', '-I', ...guardSpec(sa)];
}

export function guardDelArgv(sa: ServiceAddress): string[] {
  return [parsed(sa).family === 6 ? 'ip6tables' : 'iptables', '-w', '-D', ...guardSpec(sa)];
}

/**
 * An unsolicited neighbour advertisement (RFC 4861 7.2.6): ICMPv6 type 136 with the Override
 * flag and the interface's link-layer address, to all-nodes, hop limit 255. python3 raw
 * socket; the kernel fills in the checksum. $1 interface, $2 address.
 */
const UNSOLICITED_NA = `import socket,struct,sys
ifname,addr=sys.argv[1],sys.argv[2]
mac=bytes.fromhex(open('/sys/class/net/%s/address'%ifname).read().strip().replace(':',''))
idx=socket.if_nametoindex(ifname)
s=socket.socket(socket.AF_INET6,socket.SOCK_RAW,socket.IPPROTO_ICMPV6)
s.setsockopt(socket.IPPROTO_IPV6,socket.IPV6_MULTICAST_HOPS,255)
s.setsockopt(socket.IPPROTO_IPV6,socket.IPV6_MULTICAST_IF,idx)
msg=struct.pack('!BBHI',136,0,0,0x20000000)+socket.inet_pton(socket.AF_INET6,addr)+bytes([2,1])+mac
for _ in range(2): s.sendto(msg,('ff02::1',0,0,idx))
`;

/**
 * Tell the link the address moved. IPv4: two gratuitous ARP requests (Debian's arping,
 * Habets': -U unsolicited, -i interface, 100 ms apart, give up after 1 s). -S makes the
 * sender the service address itself: without it Habets' arping sends from the interface's
 * primary address (10.0.0.2 on the lab's br0, seen on the wire), an ordinary who-has that
 * updates no neighbour's entry for the service address, and clients kept sending to the old
 * host until their entry expired (nginx keep-alive clients stalled ~110 s in the lab). arping
 * exits 1 when nothing answers, the normal case for an announcement: the wrapper makes that
 * 0, so the journal and the runbook show it as the success it is. IPv6: an unsolicited NA.
 */
export function announceArgv(sa: ServiceAddress, iface: string): string[] {
  const p = parsed(sa);
  if (p.family === 6) return ['python3', '-c', UNSOLICITED_NA, iface, p.ip];
  return ['sh', '-c', 'arping "$@"; s=$?; [ "$s" -le 1 ] || exit "$s"', 'ferry-announce', '-U', '-S', p.ip, '-c', '2', '-W', '0.1', '-w', '1', '-i', iface, p.ip];
}

/** Duplicate address probe from the target (sender 0.0.0.0, like DAD): who answers for the address? */
export function probeArgv(sa: ServiceAddress, iface: string): string[] {
  return ['arping', '-0', '-c', '2', '-W', '0.3', '-w', '2', '-i', iface, parsed(sa).ip];
}

/** MAC addresses that answered an arping: "60 bytes from 52:54:00:12:34:56 (10.0.0.100): index=0 ...". */
export function parseArpingReplies(stdout: string): string[] {
  const macs = new Set<string>();
  for (const m of stdout.matchAll(/bytes from ([0-9a-f]{2}(?::[0-9a-f]{2}){5})\b/gi)) macs.add(m[1]!.toLowerCase());
  return [...macs];
}

/** Addresses (with prefix) on an interface, from `ip -o addr show dev IF`. */
export function parseIpAddrs(stdout: string): string[] {
  const out: string[] = [];
  for (const m of stdout.matchAll(/\binet6?\s+(\S+)/g)) out.push(m[1]!);
  return out;
}

/** Same address, whatever the spelling of an IPv6 one (fd00::0100 vs fd00::100); prefix ignored. */
export function sameIp(a: string, b: string): boolean {
  const norm = (s: string) => {
    const ip = s.split('/')[0]!.toLowerCase();
    if (!ip.includes(':')) return ip;
    const [head, tail] = ip.includes('::') ? ip.split('::') : [ip, undefined];
    const h = head ? head.split(':') : [];
    const t = tail ? tail.split(':') : [];
    const groups = tail === undefined ? h : [...h, ...Array(8 - h.length - t.length).fill('0'), ...t];
    return groups.map((g) => g.replace(/^0+(?=.)/, '')).join(':');
  };
  return norm(a) === norm(b);
}

/**
 * CRIU's per-connection locks for the service address left on a host by a dump with
 * --leave-stopped (iptables method: rules `-m mark ! --mark 0xc114 -j DROP` naming both ends
 * of each connection). After a rollback they would keep the resumed process's clients cut
 * off; after a commit they are dead rules. Deletes only rules that carry CRIU's mark and the
 * service address. $1 the address (no prefix).
 */
export function unlockCriuRulesArgv(sa: ServiceAddress): string[] {
  const p = parsed(sa);
  const [save, tables] = p.family === 6 ? ['ip6tables-save', 'ip6tables'] : ['iptables-save', 'iptables'];
  return [
    'sh',
    '-c',
    `command -v ${save} >/dev/null || exit 0
${save} -t filter | grep -e '--mark ${CRIU_LOCK_MARK}' | grep -F -e " $1/" | sed -n 's/^-A /-D /p' | while read -r rule; do
  # iptables-save prints these rules without quotes: word splitting gives back the argv.
  ${tables} -w -t filter $rule && echo "unlocked: $rule"
done
exit 0`,
    'ferry-unlock',
    p.ip,
  ];
}

const p4or6 = (sa: ServiceAddress) => (parsed(sa).family === 6 ? 'python3' : 'arping');

export interface MoveContext {
  plan: MigrationPlan;
  run: CommandRunner;
}

/**
 * One migration's service address: where it is now (one derived state) and the steps that
 * move it forward at cutover or back at rollback.
 */
export class ServiceAddressMove {
  state: AddressState = 'on-source';

  constructor(private readonly ctx: MoveContext) {}

  private get sa(): ServiceAddress {
    return this.ctx.plan.serviceAddress!;
  }

  /** What a cutover does with the address, for the plan's description. */
  cutoverSteps(): string[] {
    const { source, target } = this.ctx.plan;
    const sa = this.sa;
    return [
      `release ${sa.address} on ${source} (${sa.sourceInterface})`,
      `guard ${sa.address} on ${target} until the restore is done`,
      `add ${sa.address} on ${target} (${sa.targetInterface}) and announce it`,
      `drop the guard on ${target} once the restore is done`,
    ];
  }

  /** What a rollback would do with the address now, in order (all before the source resumes). */
  rollbackSteps(): string[] {
    const { source, target } = this.ctx.plan;
    const sa = this.sa;
    const s = this.state;
    const steps: string[] = [];
    if (s === 'on-target' || s === 'in-service') steps.push(`remove ${sa.address} from ${target} (${sa.targetInterface})`);
    if (s === 'guarded' || s === 'on-target') steps.push(`drop the guard for ${sa.address} on ${target}`);
    if (s !== 'on-source') steps.push(`add ${sa.address} back on ${source} (${sa.sourceInterface}) and announce it`);
    if (this.ctx.plan.tcpEstablished && s !== 'on-source') steps.push(`remove CRIU's connection locks for ${sa.address} on ${source}`);
    return steps;
  }

  /** Inside the freeze window, after the final dump: the address leaves the source and waits, guarded, on the target. */
  async moveToTarget(): Promise<void> {
    const { source, target } = this.ctx.plan;
    const sa = this.sa;
    const run = this.ctx.run;
    const del = await run.run(source, addrDelArgv(sa, sa.sourceInterface));
    // Preflight warned when it was not there: nothing to release then.
    if (del.code !== 0 && !/Cannot assign requested address/i.test(del.stderr)) {
      throw new FerryError({ code: 'service-address-failed', host: source, message: `Could not release ${sa.address} on ${source}`, evidence: del.stderr.trim(), hint: `Check \`ip addr show dev ${sa.sourceInterface}\` on ${source}.` });
    }
    this.state = 'released';
    await run.run(target, guardAddArgv(sa), { check: true, what: `guarding ${sa.address} on ${target}` });
    this.state = 'guarded';
    await run.run(target, addrAddArgv(sa, sa.targetInterface), { check: true, what: `adding ${sa.address} on ${target}` });
    this.state = 'on-target';
    const r = await run.run(target, announceArgv(sa, sa.targetInterface));
    if (r.code !== 0) {
      throw new FerryError({ code: 'service-address-failed', host: target, message: `Could not announce ${sa.address} on ${target} (exit ${r.code ?? r.signal})`, evidence: (r.stderr || r.stdout).trim().split('\n').pop(), hint: `Check that ${p4or6(sa)} works on ${target}.` });
    }
  }

  /** After the restore: clients' packets may reach the restored sockets now. */
  async openOnTarget(): Promise<void> {
    if (this.state !== 'on-target') return;
    const { target } = this.ctx.plan;
    await this.ctx.run.run(target, guardDelArgv(this.sa), { check: true, what: `dropping the guard for ${this.sa.address} on ${target}` });
    this.state = 'in-service';
  }

  /** After commit: CRIU's connection locks on the source are dead rules now. Best effort. */
  async cleanUpSource(): Promise<void> {
    if (!this.ctx.plan.tcpEstablished || this.state === 'on-source') return;
    await this.ctx.run.run(this.ctx.plan.source, unlockCriuRulesArgv(this.sa));
  }

  /** Rollback: the address goes back to the source, announced, before the source resumes. Throws on the first failure. */
  async moveBack(): Promise<void> {
    const { source, target, tcpEstablished } = this.ctx.plan;
    const sa = this.sa;
    const run = this.ctx.run;
    if (this.state === 'on-source') return;
    if (this.state === 'on-target' || this.state === 'in-service') {
      const r = await run.run(target, addrDelArgv(sa, sa.targetInterface));
      if (r.code !== 0 && !/Cannot assign requested address/i.test(r.stderr)) {
        throw new FerryError({ code: 'service-address-failed', host: target, message: `Could not remove ${sa.address} from ${target}`, evidence: r.stderr.trim(), hint: `Remove it by hand: ip addr del ${sa.address} dev ${sa.targetInterface}` });
      }
    }
    if (this.state === 'guarded' || this.state === 'on-target') {
      await run.run(target, guardDelArgv(sa), { check: true, what: `dropping the guard for ${sa.address} on ${target}` });
    }
    this.state = 'released';
    const add = await run.run(source, addrAddArgv(sa, sa.sourceInterface));
    if (add.code !== 0 && !/File exists/i.test(add.stderr)) {
      throw new FerryError({ code: 'service-address-failed', host: source, message: `Could not add ${sa.address} back on ${source}`, evidence: add.stderr.trim(), hint: `Add it by hand: ip addr add ${sa.address} dev ${sa.sourceInterface}` });
    }
    this.state = 'on-source';
    await run.run(source, announceArgv(sa, sa.sourceInterface));
    if (tcpEstablished) await run.run(source, unlockCriuRulesArgv(sa));
  }
}

// ---- Preflight ---------------------------------------------------------------------

const check = checkOf('service-address', 'Service address');

/**
 * Read-only checks for plan.serviceAddress: the address is on the source's interface (warn
 * if not), the target's interface exists, the address is not assigned on the target, the
 * target can guard it (iptables), and nobody but the source answers for it on the target's
 * link (arping from the target, sender 0.0.0.0 like duplicate address detection).
 */
export async function serviceAddressChecks(plan: MigrationPlan, run: CommandRunner): Promise<CheckResult[]> {
  const sa = plan.serviceAddress;
  if (!sa) return [];
  const { source, target } = plan;
  const p = parseServiceAddress(sa.address);
  if (!p) return [check('fail', undefined, `${sa.address} is not an address with a prefix`, 'Write it like 10.0.0.100/24.')];
  if (plan.mode === 'postcopy') {
    return [check('fail', undefined, 'a service address moves in pre-copy and cold cutovers only', 'Use mode precopy or cold, or move the address with hooks.')];
  }
  const out: CheckResult[] = [];
  const [src, mac, tgtLink, tgtAddrs, fw] = await Promise.all([
    run.run(source, ['ip', '-o', 'addr', 'show', 'dev', sa.sourceInterface]),
    run.run(source, ['cat', `/sys/class/net/${sa.sourceInterface}/address`]),
    run.run(target, ['ip', '-o', 'link', 'show', 'dev', sa.targetInterface]),
    run.run(target, ['ip', '-o', 'addr', 'show']),
    run.run(target, ['sh', '-c', 'command -v "$1"', 'ferry-which', p.family === 6 ? 'ip6tables' : 'iptables']),
  ]);
  if (src.code !== 0) {
    out.push(check('fail', source, `${source} has no interface ${sa.sourceInterface}: ${src.stderr.trim()}`, 'Name the interface the address lives on now (ip -o addr show).'));
  } else if (!parseIpAddrs(src.stdout).some((a) => sameIp(a, p.ip))) {
    out.push(check('warn', source, `${p.ip} is not on ${sa.sourceInterface} of ${source}; Ferry will add it on ${target} only`, `Add it first if clients use it now: ip addr add ${sa.address} dev ${sa.sourceInterface}`));
  } else {
    out.push(check('pass', source, `${sa.address} is on ${sa.sourceInterface} of ${source}`));
  }
  if (tgtLink.code !== 0) {
    out.push(check('fail', target, `${target} has no interface ${sa.targetInterface}: ${tgtLink.stderr.trim()}`, `Name an interface of ${target} on the clients' network (ip -o link show).`));
    return out;
  }
  const assigned = tgtAddrs.stdout.split('\n').find((l) => parseIpAddrs(l).some((a) => sameIp(a, p.ip)));
  if (assigned) {
    out.push(check('fail', target, `${p.ip} is already assigned on ${target}: ${assigned.trim().replace(/\s+/g, ' ')}`, `Remove it from ${target} (ip addr del), or pick the address clients really use.`));
    return out;
  }
  if (fw.code !== 0) {
    out.push(check('fail', target, `${target} has no ${p.family === 6 ? 'ip6tables' : 'iptables'}: Ferry guards the address there while the restore runs`, 'Install iptables on the target (Debian: apt-get install iptables).'));
    return out;
  }
  if (p.family === 6) {
    out.push(check('pass', target, `${sa.targetInterface} exists and ${p.ip} is free on ${target} (IPv6: not probed on the link)`));
    return out;
  }
  const probe = await run.run(target, probeArgv(sa, sa.targetInterface), { timeoutMs: 15_000 });
  if (probe.code !== 0 && probe.code !== 1) {
    out.push(check('warn', target, `could not probe ${p.ip} from ${target} (arping exit ${probe.code ?? probe.signal}): ${(probe.stderr || probe.stdout).trim().split('\n').pop()}`, `Install arping on ${target}; Ferry needs it to announce the address.`));
    return out;
  }
  const sourceMac = mac.stdout.trim().toLowerCase();
  const others = parseArpingReplies(probe.stdout).filter((m) => m !== sourceMac);
  out.push(
    others.length
      ? check('fail', target, `${p.ip} answers from ${others.join(', ')} on ${target}'s link, not only from ${source}`, 'Another host holds this address: pick a free one, or remove it there.')
      : check('pass', target, `${sa.targetInterface} exists; ${p.ip} is free on ${target} and nobody but ${source} answers for it`),
  );
  return out;
}

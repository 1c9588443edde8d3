/**
 * The service address's pure parts: validation (shared), argv builders, output parsers, the
 * plan file and CLI round trip, and the rollback preview as the address moves.
 */
import { describe, expect, test } from 'vitest';
import { newPlan, planSchema } from '../../../shared/api.ts';
import { interfaceNameProblem, parseServiceAddress, serviceAddressProblem } from '../../../shared/service-address.ts';
import { parsePlanYaml, renderPlanYaml, overridePlan, validatePlan } from '../plans/plan-file.ts';
import { serviceAddressFromOptions } from '../../cli/commands/migrate.ts';
import type { CommandRunner } from '../commands/runner.ts';
import {
  addrAddArgv,
  addrDelArgv,
  announceArgv,
  guardAddArgv,
  guardDelArgv,
  parseArpingReplies,
  parseIpAddrs,
  probeArgv,
  sameIp,
  ServiceAddressMove,
  serviceAddressChecks,
  unlockCriuRulesArgv,
} from './service-address.ts';

const v4 = { address: '10.0.0.100/24', sourceInterface: 'eth1', targetInterface: 'br0' };
const v6 = { address: 'fd00::100/64', sourceInterface: 'eth1', targetInterface: 'eth1' };

describe('service address validation', () => {
  test.each([
    ['10.0.0.100/24', { family: 4, ip: '10.0.0.100', prefix: 24 }],
    ['192.168.1.1/32', { family: 4, ip: '192.168.1.1', prefix: 32 }],
    ['fd00::100/64', { family: 6, ip: 'fd00::100', prefix: 64 }],
    ['2001:db8:0:0:0:0:0:1/128', { family: 6, ip: '2001:db8:0:0:0:0:0:1', prefix: 128 }],
  ])('%s parses', (text, want) => {
    expect(parseServiceAddress(text)).toEqual(want);
    expect(serviceAddressProblem(text)).toBeUndefined();
  });

  test.each(['10.0.0.100', '10.0.0.256/24', '10.0.0/24', '10.0.0.100/33', '10.0.0.100/0', '010.0.0.1/24', 'fd00::100/129', 'fd00:::1/64', '1:2:3:4:5:6:7:8:9/64', 'fd00::1::2/64', 'host.example/24', '10.0.0.100/24 ', ''])(
    '%j is refused with a reason',
    (text) => {
      expect(parseServiceAddress(text)).toBeUndefined();
      expect(serviceAddressProblem(text)).toMatch(/prefix length/);
    },
  );

  test('interface names', () => {
    for (const ok of ['eth1', 'br0', 'enp0s3', 'veth-b', 'bond0.100']) expect(interfaceNameProblem(ok)).toBeUndefined();
    for (const bad of ['', 'a'.repeat(16), 'eth 1', 'eth1/2', '..', 'eth1:0', '-rf;x']) expect(interfaceNameProblem(bad), bad).toBeDefined();
  });

  test('the plan schema takes a plan with or without one and names the bad field', () => {
    const plan = newPlan({ source: 'a', target: 'b', pid: 5 });
    expect(planSchema.safeParse(plan).success).toBe(true);
    expect(planSchema.safeParse({ ...plan, serviceAddress: v4 }).success).toBe(true);
    const bad = planSchema.safeParse({ ...plan, serviceAddress: { ...v4, address: '10.0.0.100' } });
    expect(bad.success).toBe(false);
    expect(bad.error!.issues[0]!.path).toEqual(['serviceAddress', 'address']);
    expect(planSchema.safeParse({ ...plan, serviceAddress: { ...v4, targetInterface: 'br 0' } }).success).toBe(false);
  });
});

describe('argv builders', () => {
  test('address moves are plain ip commands; IPv6 is added without DAD so the restore can bind it at once', () => {
    expect(addrDelArgv(v4, 'eth1')).toEqual(['ip', 'addr', 'del', '10.0.0.100/24', 'dev', 'eth1']);
    expect(addrAddArgv(v4, 'br0')).toEqual(['ip', 'addr', 'add', '10.0.0.100/24', 'dev', 'br0']);
    expect(addrAddArgv(v6, 'eth1')).toEqual(['ip', 'addr', 'add', 'fd00::100/64', 'dev', 'eth1', 'nodad']);
  });

  test('the guard drops only packets to the address, marked with its comment; delete matches add', () => {
    expect(guardAddArgv(v4)).toEqual(['iptables', '-w', '-I', 'INPUT', '-d', '10.0.0.100', '-m', 'comment', '--comment', 'ferry-service-address', '-j', 'DROP']);
    expect(guardDelArgv(v4).slice(3)).toEqual(guardAddArgv(v4).slice(3));
    expect(guardDelArgv(v4)[2]).toBe('-D');
    expect(guardAddArgv(v6)[0]).toBe('ip6tables');
  });

  test('announce: gratuitous ARP (Habets arping) for IPv4, an unsolicited NA for IPv6', () => {
    const arp = announceArgv(v4, 'br0');
    // Sender and target are both the service address (a true gratuitous ARP), not the interface's own address.
    expect(arp.slice(3)).toEqual(['ferry-announce', '-U', '-S', '10.0.0.100', '-c', '2', '-W', '0.1', '-w', '1', '-i', 'br0', '10.0.0.100']);
    expect(arp[2]).toBe('arping "$@"; s=$?; [ "$s" -le 1 ] || exit "$s"'); // nobody answering a gratuitous ARP is success
    const na = announceArgv(v6, 'eth1');
    expect(na.slice(0, 2)).toEqual(['python3', '-c']);
    expect(na.slice(3)).toEqual(['eth1', 'fd00::100']);
    expect(na[2]).toContain('136'); // ICMPv6 neighbour advertisement
    expect(na[2]).toContain('0x20000000'); // the Override flag
  });

  test('the probe asks with sender 0.0.0.0 from the target interface', () => {
    expect(probeArgv(v4, 'br0')).toEqual(['arping', '-0', '-c', '2', '-W', '0.3', '-w', '2', '-i', 'br0', '10.0.0.100']);
  });

  test("CRIU's locks are removed by mark and address only, the address as an argument", () => {
    const argv = unlockCriuRulesArgv(v4);
    expect(argv.slice(0, 2)).toEqual(['sh', '-c']);
    expect(argv.slice(3)).toEqual(['ferry-unlock', '10.0.0.100']);
    expect(argv[2]).toContain("--mark 0xc114");
    expect(argv[2]).not.toContain('10.0.0.100');
    expect(unlockCriuRulesArgv(v6)[2]).toContain('ip6tables-save');
  });
});

describe('parsers', () => {
  test('arping replies: the MACs that answered', () => {
    const out = `ARPING 10.0.0.100
60 bytes from 52:54:00:aa:00:01 (10.0.0.100): index=0 time=1.2 msec
60 bytes from 52:54:00:AA:00:01 (10.0.0.100): index=1 time=1.1 msec
60 bytes from 52:54:00:bb:00:02 (10.0.0.100): index=2 time=1.1 msec

--- 10.0.0.100 statistics ---
2 packets transmitted, 3 packets received,   0% unanswered (1 extra)`;
    expect(parseArpingReplies(out)).toEqual(['52:54:00:aa:00:01', '52:54:00:bb:00:02']);
    expect(parseArpingReplies('ARPING 10.0.0.100\nTimeout\n--- 10.0.0.100 statistics ---\n2 packets transmitted, 0 packets received, 100% unanswered')).toEqual([]);
  });

  test('ip -o addr show', () => {
    const out = `3: eth1    inet 10.0.0.1/24 brd 10.0.0.255 scope global eth1\\       valid_lft forever preferred_lft forever
3: eth1    inet 10.0.0.100/24 scope global secondary eth1\\       valid_lft forever preferred_lft forever
3: eth1    inet6 fd00::0100/64 scope global \\       valid_lft forever preferred_lft forever`;
    expect(parseIpAddrs(out)).toEqual(['10.0.0.1/24', '10.0.0.100/24', 'fd00::0100/64']);
    expect(sameIp('10.0.0.100/24', '10.0.0.100')).toBe(true);
    expect(sameIp('10.0.0.10/24', '10.0.0.100')).toBe(false);
    expect(sameIp('fd00::0100/64', 'fd00:0:0::100')).toBe(true);
    expect(sameIp('fd00::1', 'fd00::100')).toBe(false);
  });
});

describe('plan file, CLI flags', () => {
  const plan = { ...newPlan({ source: 'a', target: 'b', pid: 5 }), serviceAddress: v4 };

  test('round-trips through the plan file', () => {
    const yaml = renderPlanYaml(plan);
    expect(yaml).toContain('service_address: { address: 10.0.0.100/24, source_interface: eth1, target_interface: br0 }');
    expect(parsePlanYaml(yaml, 'p.yaml')).toEqual(plan);
  });

  test('target_interface defaults to source_interface; a bad address points at its line', () => {
    const base = 'source: a\ntarget: b\nprocess: { pid: 5 }\n';
    expect(parsePlanYaml(`${base}service_address: { address: 10.0.0.100/24, source_interface: eth1 }\n`, 'p.yaml').serviceAddress).toEqual({ ...v4, targetInterface: 'eth1' });
    expect(() => parsePlanYaml(`${base}service_address: { address: 10.0.0.100, source_interface: eth1 }\n`, 'p.yaml')).toThrow(/p\.yaml:4:\d+: service_address\.address: must have its prefix length/);
    expect(() => parsePlanYaml(`${base}service_address: { address: 10.0.0.100/24 }\n`, 'p.yaml')).toThrow(/service_address\.source_interface: missing/);
    expect(() => parsePlanYaml(`${base}service_address: { address: 10.0.0.100/24, source_interface: eth1, iface: x }\n`, 'p.yaml')).toThrow(/iface/);
  });

  test('flags: both or neither; one interface for both hosts or SOURCE,TARGET; over a file keeps what is not given', () => {
    expect(serviceAddressFromOptions({})).toEqual({});
    expect(serviceAddressFromOptions({ serviceAddress: '10.0.0.100/24', serviceInterface: ['eth1'] })).toEqual({ serviceAddress: { ...v4, targetInterface: 'eth1' } });
    expect(serviceAddressFromOptions({ serviceAddress: '10.0.0.100/24', serviceInterface: ['eth1', 'br0'] })).toEqual({ serviceAddress: v4 });
    expect(() => serviceAddressFromOptions({ serviceAddress: '10.0.0.100/24' })).toThrow(/go together/);
    expect(overridePlan(plan, { serviceAddress: '10.0.0.101/24' }).serviceAddress).toEqual({ ...v4, address: '10.0.0.101/24' });
    expect(() => validatePlan(overridePlan(plan, { serviceAddress: '10.0.0.101' }))).toThrow(/service_address\.address/);
  });
});

describe('ServiceAddressMove', () => {
  /** A runner that records argv and answers from a script: the order of commands is the point. */
  function fakeRunner(answer: (host: string, argv: string[]) => { code: number; stderr?: string } = () => ({ code: 0 })) {
    const ran: string[] = [];
    const run = {
      async run(host: string, argv: string[], opts: { check?: boolean } = {}) {
        ran.push(`${host}: ${argv.slice(0, 4).join(' ')}`);
        const a = answer(host, argv);
        if (opts.check && a.code !== 0) throw new Error(`${argv[0]} failed`);
        return { code: a.code, signal: null, stdout: '', stderr: a.stderr ?? '', truncated: false };
      },
    } as unknown as CommandRunner;
    return { run, ran };
  }
  const plan = { ...newPlan({ source: 'src', target: 'dst', pid: 5, tcpEstablished: true }), serviceAddress: v4 };

  test('cutover: release, guard, add, announce; open after restore; the rollback preview follows each state', async () => {
    const { run, ran } = fakeRunner();
    const m = new ServiceAddressMove({ plan, run });
    expect(m.rollbackSteps()).toEqual([]);
    await m.moveToTarget();
    expect(m.state).toBe('on-target');
    expect(m.rollbackSteps()).toEqual([
      'remove 10.0.0.100/24 from dst (br0)',
      'drop the guard for 10.0.0.100/24 on dst',
      'add 10.0.0.100/24 back on src (eth1) and announce it',
      "remove CRIU's connection locks for 10.0.0.100/24 on src",
    ]);
    await m.openOnTarget();
    expect(m.state).toBe('in-service');
    expect(m.rollbackSteps()[1]).toBe('add 10.0.0.100/24 back on src (eth1) and announce it');
    expect(ran).toEqual(['src: ip addr del 10.0.0.100/24', 'dst: iptables -w -I INPUT', 'dst: ip addr add 10.0.0.100/24', 'dst: sh -c arping "$@"; s=$?; [ "$s" -le 1 ] || exit "$s" ferry-announce', 'dst: iptables -w -D INPUT']);
  });

  test('rollback after a failed add: drops the guard, gives the address back to the source and unlocks there', async () => {
    const { run, ran } = fakeRunner((h, argv) => ({ code: h === 'dst' && argv[1] === 'addr' && argv[2] === 'add' ? 2 : 0 }));
    const m = new ServiceAddressMove({ plan, run });
    await expect(m.moveToTarget()).rejects.toThrow();
    expect(m.state).toBe('guarded');
    ran.length = 0;
    await m.moveBack();
    expect(m.state).toBe('on-source');
    expect(ran).toEqual(['dst: iptables -w -D INPUT', 'src: ip addr add 10.0.0.100/24', 'src: sh -c arping "$@"; s=$?; [ "$s" -le 1 ] || exit "$s" ferry-announce', 'src: sh -c command -v iptables-save >/dev/null || exit 0\niptables-save -t filter | grep -e \'--mark 0xc114\' | grep -F -e " $1/" | sed -n \'s/^-A /-D /p\' | while read -r rule; do\n  # iptables-save prints these rules without quotes: word splitting gives back the argv.\n  iptables -w -t filter $rule && echo "unlocked: $rule"\ndone\nexit 0 ferry-unlock']);
  });

  test('an address already gone from the source is not a failure; another error is', async () => {
    const gone = fakeRunner((h, argv) => (h === 'src' && argv[2] === 'del' ? { code: 2, stderr: 'RTNETLINK answers: Cannot assign requested address' } : { code: 0 }));
    await new ServiceAddressMove({ plan, run: gone.run }).moveToTarget();
    const busy = fakeRunner((h, argv) => (h === 'src' && argv[2] === 'del' ? { code: 2, stderr: 'RTNETLINK answers: Operation not permitted' } : { code: 0 }));
    const m = new ServiceAddressMove({ plan, run: busy.run });
    await expect(m.moveToTarget()).rejects.toThrow(/Could not release 10.0.0.100\/24 on src/);
    expect(m.state).toBe('on-source');
  });
});

describe('preflight checks (answers as the hosts would give them)', () => {
  const SRC_MAC = '52:54:00:aa:00:01';
  type Answers = { srcAddrs?: string; srcCode?: number; tgtLinkCode?: number; tgtAddrs?: string; iptables?: boolean; arping?: string };
  function hostsSaying(a: Answers) {
    return {
      async run(host: string, argv: string[]) {
        const r = (code: number, stdout = '', stderr = '') => ({ code, signal: null, stdout, stderr, truncated: false });
        const cmd = argv.join(' ');
        if (host === 'src' && cmd.startsWith('ip -o addr show dev')) return r(a.srcCode ?? 0, a.srcAddrs ?? '3: eth1    inet 10.0.0.100/24 scope global secondary eth1', a.srcCode ? 'Device "eth1" does not exist.' : '');
        if (host === 'src' && argv[0] === 'cat') return r(0, `${SRC_MAC}\n`);
        if (host === 'dst' && cmd.startsWith('ip -o link show')) return r(a.tgtLinkCode ?? 0, '', a.tgtLinkCode ? 'Device "br0" does not exist.' : '');
        if (host === 'dst' && cmd === 'ip -o addr show') return r(0, a.tgtAddrs ?? '4: br0    inet 10.0.0.2/24 brd 10.0.0.255 scope global br0');
        if (host === 'dst' && argv[0] === 'sh') return r(a.iptables === false ? 1 : 0, '/usr/sbin/iptables');
        if (host === 'dst' && argv[0] === 'arping') return r(a.arping ? 0 : 1, a.arping ?? 'Timeout\nTimeout');
        throw new Error(`unexpected ${host}: ${cmd}`);
      },
    } as unknown as CommandRunner;
  }
  const plan = { ...newPlan({ source: 'src', target: 'dst', pid: 5 }), serviceAddress: v4 };
  const verdicts = async (a: Answers, p = plan) => (await serviceAddressChecks(p, hostsSaying(a))).map((c) => `${c.status} ${c.host}: ${c.detail}`);

  test('ready: on the source, the interface exists on the target, only the source answers for it', async () => {
    const v = await verdicts({ arping: `60 bytes from ${SRC_MAC} (10.0.0.100): index=0 time=1 msec` });
    expect(v).toEqual(['pass src: 10.0.0.100/24 is on eth1 of src', 'pass dst: br0 exists; 10.0.0.100 is free on dst and nobody but src answers for it']);
  });

  test('blockers and warnings, each naming the host', async () => {
    expect((await verdicts({ srcAddrs: '3: eth1    inet 10.0.0.1/24 scope global eth1' }))[0]).toMatch(/^warn src: 10\.0\.0\.100 is not on eth1/);
    expect((await verdicts({ srcCode: 1 }))[0]).toMatch(/^fail src: src has no interface eth1/);
    expect((await verdicts({ tgtLinkCode: 1 }))[1]).toMatch(/^fail dst: dst has no interface br0/);
    expect((await verdicts({ tgtAddrs: '4: br0    inet 10.0.0.100/24 scope global secondary br0' }))[1]).toMatch(/^fail dst: 10\.0\.0\.100 is already assigned on dst/);
    expect((await verdicts({ iptables: false }))[1]).toMatch(/^fail dst: dst has no iptables/);
    expect((await verdicts({ arping: `60 bytes from ${SRC_MAC} (10.0.0.100): index=0\n60 bytes from 52:54:00:cc:00:09 (10.0.0.100): index=1` }))[1]).toMatch(/^fail dst: 10\.0\.0\.100 answers from 52:54:00:cc:00:09/);
    expect(await verdicts({}, { ...plan, mode: 'postcopy' })).toEqual(['fail undefined: a service address moves in pre-copy and cold cutovers only']);
    expect(await serviceAddressChecks(newPlan({ source: 'src', target: 'dst', pid: 5 }), hostsSaying({}))).toEqual([]);
  });
});

/**
 * The bandwidth cap: argv builders and parsers, the plan file and CLI round trip, and the cap
 * itself with the kernel's real traffic control in a network namespace of this machine (tc on
 * its loopback): installed, shaping only the page server's port, removed, and only Ferry's.
 */
import { execa } from 'execa';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { newPlan, planSchema } from '../../../shared/api.ts';
import type { MigrationPlan } from '../../../shared/domain.ts';
import { checkPlanYaml, overridePlan, parsePlanYaml, renderPlanYaml, validatePlan } from '../plans/plan-file.ts';
import { bandwidthCapFromOptions, bandwidthArg } from '../../cli/commands/migrate.ts';
import type { CommandRunner } from '../commands/runner.ts';
import {
  BandwidthCapOnSource,
  bandwidthCapChecks,
  CAP_HANDLE,
  capArgvs,
  parseClassSent,
  parseGetent,
  parseRootQdisc,
  parseRouteDev,
  uncapArgv,
} from './bandwidth-cap.ts';

const MiB = 1024 * 1024;
const HEAD = 'source: lab-source\ntarget: lab-target\nprocess: { pid: 50000 }\n';

describe('tc argv and parsers', () => {
  test('htb root, one class at the rate in bits, a u32 filter on the destination address and port', () => {
    const [qdisc, cls, filter] = capArgvs({ iface: 'eth1', ip: '10.0.0.2' }, 27000, 20 * MiB);
    expect(qdisc).toEqual(['tc', 'qdisc', 'add', 'dev', 'eth1', 'root', 'handle', 'fe77:', 'htb', 'default', '0']);
    expect(cls).toEqual(['tc', 'class', 'add', 'dev', 'eth1', 'parent', 'fe77:', 'classid', 'fe77:1', 'htb', 'rate', '167772160bit', 'ceil', '167772160bit']);
    expect(filter!.join(' ')).toBe('tc filter add dev eth1 parent fe77: protocol ip prio 1 u32 match ip dst 10.0.0.2/32 match ip dport 27000 0xffff flowid fe77:1');
    const v6 = capArgvs({ iface: 'eth1', ip: 'fd00::2' }, 27000, MiB)[2]!.join(' ');
    expect(v6).toContain('protocol ipv6 prio 1 u32 match ip6 dst fd00::2/128 match ip6 dport 27000 0xffff');
    expect(uncapArgv('eth1')).toEqual(['sh', '-c', expect.stringContaining('tc qdisc del dev "$1" root handle "$2"'), 'ferry-uncap', 'eth1', 'fe77:']);
  });

  test('parsers', () => {
    expect(parseRouteDev('10.0.0.2 dev eth1 src 10.0.0.1 uid 0 \\    cache ')).toBe('eth1');
    expect(parseRouteDev('RTNETLINK answers: Network is unreachable')).toBeUndefined();
    expect(parseGetent('10.0.0.2      STREAM db-b\n10.0.0.2      DGRAM  \n')).toBe('10.0.0.2');
    expect(parseGetent('')).toBeUndefined();
    expect(parseRootQdisc('qdisc fq_codel 0: root refcnt 2 limit 10240p flows 1024\n')).toEqual({ kind: 'fq_codel', handle: '0:' });
    expect(parseRootQdisc('qdisc htb fe77: root refcnt 2 r2q 10 default 0\nqdisc fq_codel 0: parent fe77:1\n')).toEqual({ kind: 'htb', handle: 'fe77:' });
    expect(parseClassSent('class htb fe77:1 root prio 0 rate 8Mbit ceil 8Mbit\n Sent 1048576 bytes 20 pkt (dropped 0, overlimits 3 requeues 0)\n')).toBe(1048576);
  });
});

describe('bandwidth cap in plans and flags', () => {
  const base = newPlan({ source: 'lab-source', target: 'lab-target', pid: 50000 });

  test('off by default; a rate alone caps pre-copy only; round-trips', () => {
    expect(base.bandwidthCap).toBeUndefined();
    expect(renderPlanYaml(base)).not.toContain('bandwidth_cap:');
    expect(parsePlanYaml(`${HEAD}bandwidth_cap: 20MiB/s\n`, 'p.yaml').bandwidthCap).toEqual({ bytesPerSecond: 20 * MiB });
    const plan = parsePlanYaml(`${HEAD}bandwidth_cap: { rate: 100Mbit/s, during: precopy-and-dump }\n`, 'p.yaml');
    expect(plan.bandwidthCap).toEqual({ bytesPerSecond: 12_500_000, during: 'precopy-and-dump' });
    const text = renderPlanYaml(plan);
    expect(text).toContain('bandwidth_cap: { rate: 12500KB/s, during: precopy-and-dump }');
    expect(text).toMatch(/#\s+bandwidth_cap\s+the page stream's rate/);
    expect(parsePlanYaml(text, 'p.yaml')).toStrictEqual(plan);
    expect(parsePlanYaml(`${HEAD}bandwidth_cap: none\n`, 'p.yaml').bandwidthCap).toBeUndefined();
  });

  test('errors point at the line and column, in the file\'s words', () => {
    const issues = (yaml: string) => {
      const r = checkPlanYaml(yaml);
      return r.ok ? [] : r.issues.map((i) => `${i.line}:${i.col} ${i.path}: ${i.message}`);
    };
    expect(issues(`${HEAD}bandwidth_cap: 20MiB\n`)).toEqual([expect.stringMatching(/^4:16 bandwidth_cap: must be a rate with its unit/)]);
    expect(issues(`${HEAD}bandwidth_cap: { rate: 1KiB/s }\n`)).toEqual([expect.stringMatching(/^4:\d+ bandwidth_cap\.rate: must be at least 64KiB\/s/)]);
    expect(issues(`${HEAD}bandwidth_cap: { rate: 20MiB/s, during: always }\n`)).toEqual([expect.stringMatching(/^4:\d+ bandwidth_cap\.during: must be precopy or precopy-and-dump/)]);
    expect(issues(`${HEAD}bandwidth_cap: { during: precopy }\n`)).toEqual([expect.stringMatching(/bandwidth_cap\.rate: missing/)]);
    expect(issues(`${HEAD}bandwidth_cap: { rate: 20MiB/s, limit: 1 }\n`)[0]).toMatch(/limit: unknown key/);
  });

  test('the schema refuses a rate out of bounds, by name', () => {
    expect(planSchema.safeParse({ ...base, bandwidthCap: { bytesPerSecond: 20 * MiB } }).success).toBe(true);
    const bad = planSchema.safeParse({ ...base, bandwidthCap: { bytesPerSecond: 10 } });
    expect(bad.error?.issues[0]?.path).toEqual(['bandwidthCap', 'bytesPerSecond']);
    expect(() => validatePlan({ ...base, bandwidthCap: { bytesPerSecond: 10 } })).toThrow(/bandwidth_cap\.rate: must be at least 64KiB\/s/);
  });

  test('flags: --max-bandwidth alone caps pre-copy; --cap-final-dump needs a rate; over a file they adjust it', () => {
    expect(bandwidthArg('20MiB/s')).toBe(20 * MiB);
    expect(() => bandwidthArg('20')).toThrow(/--max-bandwidth 20: must be a rate/);
    expect(bandwidthCapFromOptions({ maxBandwidth: 20 * MiB })).toEqual({ bandwidthCap: { bytesPerSecond: 20 * MiB, during: 'precopy' } });
    expect(bandwidthCapFromOptions({ maxBandwidth: 20 * MiB, capFinalDump: true }).bandwidthCap?.during).toBe('precopy-and-dump');
    expect(bandwidthCapFromOptions({})).toEqual({});
    expect(() => bandwidthCapFromOptions({ capFinalDump: true })).toThrow(/--cap-final-dump needs a cap/);
    const file = parsePlanYaml(`${HEAD}bandwidth_cap: { rate: 20MiB/s, during: precopy-and-dump }\n`, 'p.yaml');
    expect(overridePlan(file, { maxBandwidth: 5 * MiB }).bandwidthCap).toEqual({ bytesPerSecond: 5 * MiB, during: 'precopy-and-dump' });
    expect(overridePlan(file, { capFinalDump: false }).bandwidthCap).toEqual({ bytesPerSecond: 20 * MiB, during: 'precopy' });
    expect(() => overridePlan(base, { capFinalDump: true })).toThrow(/needs a cap/);
  });

  test('ferry plan new writes the cap the flags give', { timeout: 120_000 }, async () => {
    const bin = path.resolve(import.meta.dirname, '../../cli/bin.js');
    const r = await execa(process.execPath, [bin, 'plan', 'new', '--source', 'a', '--target', 'b', '--pid', '42', '--max-bandwidth', '20MiB/s'], { reject: false, stdin: 'ignore', timeout: 60_000 });
    expect(r.exitCode, r.stderr).toBe(0);
    expect(parsePlanYaml(r.stdout, 'new.yaml').bandwidthCap).toEqual({ bytesPerSecond: 20 * MiB, during: 'precopy' });
  });
});

// ---- The real kernel: a network namespace on this machine stands in for the source ----------

const NS = `ferry-cap-${randomBytes(3).toString('hex')}`;
const canNetns = await execa('ip', ['netns', 'add', NS], { reject: false }).then((r) => r.exitCode === 0);

/** A CommandRunner whose one host is the namespace: each argv runs there for real, recorded in `ran`. */
function nsRunner() {
  const ran: string[][] = [];
  const run = {
    async run(_host: string, argv: string[], opts: { check?: boolean } = {}) {
      ran.push(argv);
      const r = await execa('ip', ['netns', 'exec', NS, ...argv], { reject: false, timeout: 30_000 });
      if (opts.check && r.exitCode !== 0) throw new Error(`${argv.join(' ')} failed: ${r.stderr}`);
      return { code: r.exitCode ?? null, signal: null, stdout: r.stdout, stderr: r.stderr, truncated: false };
    },
  } as unknown as CommandRunner;
  return { run, ran };
}
const sh = (script: string) => execa('ip', ['netns', 'exec', NS, 'sh', '-c', script], { reject: false, timeout: 30_000 });
/** Send `mib` MiB to 127.0.0.1:port in the namespace (a python3 listener takes it). */
const send = (port: number, mib: number) =>
  execa('ip', ['netns', 'exec', NS, 'python3', '-c', SEND, String(port), String(mib)], { timeout: 60_000 });
const SEND = `import socket,sys,threading
port,mib=int(sys.argv[1]),int(sys.argv[2])
l=socket.socket();l.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEADDR,1);l.bind(('127.0.0.1',port));l.listen(1)
def sink():
  c,_=l.accept()
  while c.recv(65536): pass
t=threading.Thread(target=sink);t.start()
s=socket.create_connection(('127.0.0.1',port));s.sendall(b'x'*(mib<<20));s.close();t.join()
`;

describe.skipIf(!canNetns)('the cap with the kernel\'s traffic control (network namespace, loopback)', () => {
  const plan: MigrationPlan = { ...newPlan({ source: 'src', target: 'dst', pid: 5, targetAddress: '127.0.0.1' }), pageServerPort: 27123, bandwidthCap: { bytesPerSecond: 16 * MiB } };
  const decisions: string[] = [];
  beforeAll(async () => {
    await sh('ip link set lo up');
  });
  afterAll(async () => {
    await execa('ip', ['netns', 'del', NS], { reject: false });
  });

  test('preflight passes on a default qdisc; apply shapes only the page server\'s port; remove leaves the default', async () => {
    const { run, ran } = nsRunner();
    const pre = await bandwidthCapChecks(plan, run);
    expect(pre.map((c) => `${c.status} ${c.detail}`)).toEqual([expect.stringMatching(/^pass 16 MiB\/s on lo for 127\.0\.0\.1:27123 during pre-copy only/)]);

    const cap = new BandwidthCapOnSource({ plan, run, decide: (a, r) => decisions.push(`${a}: ${r}`) });
    await cap.apply();
    expect(cap.state).toBe('on');
    expect(parseRootQdisc((await sh('tc qdisc show dev lo')).stdout)).toEqual({ kind: 'htb', handle: CAP_HANDLE });
    expect(cap.rollbackSteps()).toEqual(['remove the bandwidth cap on src (tc qdisc del dev lo root handle fe77:)']);

    // Another port's traffic is not classified into the cap; the page server's is.
    await send(27124, 2);
    const otherPort = parseClassSent((await sh('tc -s class show dev lo classid fe77:1')).stdout)!;
    expect(otherPort).toBeLessThan(64 * 1024);
    await send(27123, 2);
    const pagePort = parseClassSent((await sh('tc -s class show dev lo classid fe77:1')).stdout)!;
    expect(pagePort - otherPort).toBeGreaterThanOrEqual(2 * MiB);

    // A second preflight now names the leftover cap.
    const again = await bandwidthCapChecks(plan, nsRunner().run);
    expect(again[0]).toMatchObject({ status: 'fail', detail: expect.stringMatching(/still has a bandwidth cap of Ferry's/) });

    await cap.remove();
    expect(cap.state).toBe('off');
    expect(parseRootQdisc((await sh('tc qdisc show dev lo')).stdout)?.handle).toBe('0:');
    expect(decisions).toEqual([expect.stringMatching(/^bandwidth cap on: page stream capped at 16 MiB\/s on src lo for the page stream to 127\.0\.0\.1:27123/), expect.stringMatching(/^bandwidth cap off: removed from src lo: [\d.]+ MiB of pages went through it/)]);
    // Every command is an argv of its own; removal ran the guarded delete.
    expect(ran.some((a) => a[0] === 'sh' && a[3] === 'ferry-uncap')).toBe(true);
    await cap.remove(); // twice is harmless
  });

  test('recovery removes a cap the journal left on; a foreign root qdisc is refused and never deleted', async () => {
    const { run } = nsRunner();
    for (const argv of capArgvs({ iface: 'lo', ip: '127.0.0.1' }, 27123, MiB)) await run.run('src', argv, { check: true });
    const cap = new BandwidthCapOnSource({ plan, run, decide: () => undefined });
    cap.recovering();
    await cap.remove();
    expect(parseRootQdisc((await sh('tc qdisc show dev lo')).stdout)?.handle).toBe('0:');

    const foreign = await sh('tc qdisc add dev lo root handle 1: htb');
    expect(foreign.exitCode, foreign.stderr).toBe(0);
    const pre = await bandwidthCapChecks(plan, run);
    expect(pre[0]).toMatchObject({ status: 'fail', detail: expect.stringMatching(/has its own root qdisc \(htb 1:\)/) });
    cap.recovering();
    await cap.remove();
    expect(parseRootQdisc((await sh('tc qdisc show dev lo')).stdout)).toEqual({ kind: 'htb', handle: '1:' });
    await sh('tc qdisc del dev lo root');
  });

  test('post-copy is not capped (warned); cold is capped only when the final dump is', async () => {
    const { run, ran } = nsRunner();
    const post = await bandwidthCapChecks({ ...plan, mode: 'postcopy' }, run);
    expect(post).toEqual([expect.objectContaining({ status: 'warn', detail: expect.stringMatching(/post-copy's pages are not capped/) })]);
    const cold = await bandwidthCapChecks({ ...plan, mode: 'cold' }, run);
    expect(cold).toEqual([expect.objectContaining({ status: 'warn', detail: expect.stringMatching(/no pre-copy/) })]);
    const pc = new BandwidthCapOnSource({ plan: { ...plan, mode: 'postcopy' }, run, decide: () => undefined });
    await pc.apply();
    expect(ran).toEqual([]);
    // Cold with the final dump capped: on before the dump.
    const cd = new BandwidthCapOnSource({ plan: { ...plan, mode: 'cold', bandwidthCap: { bytesPerSecond: MiB, during: 'precopy-and-dump' } }, run, decide: () => undefined });
    await cd.beforeFinalDump();
    expect(parseRootQdisc((await sh('tc qdisc show dev lo')).stdout)?.handle).toBe(CAP_HANDLE);
    await cd.remove();
    expect(parseRootQdisc((await sh('tc qdisc show dev lo')).stdout)?.handle).toBe('0:');
  });
});

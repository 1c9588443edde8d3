/**
 * The workload zoo in the lab (one boot, slot 8): Redis with a client writing over one kept
 * connection, nginx with keep-alive clients, and a python3 tree with shared memory and pipes.
 * The clients live in a network namespace on the target VM bridged onto the private link
 * (services-zoo.ts), and the service address 10.0.0.100 moves from the source's link
 * interface to the target's br0 inside the freeze window. Each workload checks itself.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, test } from 'vitest';
import { engineLab, FULL_LAB } from '../testing/lab.ts';
import { cleanZoo, SERVICE_IP, setUpClientNetwork, ZOO_CASES, ZOO_PIDS, zooTable, type ZooKind, type ZooResult } from './services-zoo.ts';

const lab = engineLab('ferry-services-lab-', 8);
let ifs: { sourceInterface: string; targetInterface: string };
const hosts = { session: (a: 'lab-source' | 'lab-target') => lab.session(a), env: lab.env };

const rows: ZooResult[] = [];
function report(r: ZooResult): void {
  rows.push(r);
  // The figures go to the output, not into assertions (no timing assertions in tests).
  process.stdout.write(`[zoo] ${r.kind}: ${r.outcome}, freeze ${r.freezeMs} ms (predicted ${r.predictedMs}), longest client-side gap ${r.clientGapMs} ms; ${r.detail}\n`);
}

async function expectOnlyOnTarget(kind: ZooKind): Promise<void> {
  const [src, tgt] = await Promise.all([lab.pidsOn('lab-source'), lab.pidsOn('lab-target')]);
  expect(tgt.get(ZOO_PIDS[kind]), `${kind} on the target`).toMatch(/^[SR]/);
  expect(src.has(ZOO_PIDS[kind]), `${kind} still on the source`).toBe(false);
}

describe('services keep their clients through a migration (lab)', () => {
  beforeAll(async () => {
    await lab.up();
    ifs = await setUpClientNetwork(hosts);
  }, 30 * 60_000);
  afterAll(async () => {
    if (rows.length) process.stdout.write(`\n${zooTable(rows)}\n`);
    await cleanZoo(hosts).catch(() => undefined);
    await lab.down();
  }, 120_000);
  beforeEach(() => cleanZoo(hosts, ifs.sourceInterface), 120_000);

  test('Redis: every acknowledged write survives and the client keeps its one connection', async () => {
    const r = await ZOO_CASES.redis(hosts, ifs);
    report(r);
    expect(r.outcome, r.why).toBe('committed');
    expect(r.dataVerified, r.detail).toBe(true);
    expect(r.connectionKept, r.detail).toBe(true);
    expect(r.detail).toContain(`${SERVICE_IP}:6379`); // ss on the target shows the restored connection
    await expectOnlyOnTarget('redis');
    // The announcement reached the client: it sends to the target's MAC (the target never ARPed for it).
    const targetMac = (await lab.sh('lab-target', 'cat /sys/class/net/br0/address')).stdout.trim();
    expect(r.serviceNeighbor, 'the client still sends to the old host').toContain(`lladdr ${targetMac}`);
    // The address moved: it is on the target's br0 and gone from the source; the guard is gone.
    expect((await lab.sh('lab-target', 'ip -o addr show dev br0')).stdout).toContain(`${SERVICE_IP}/24`);
    expect((await lab.sh('lab-source', 'ip -o addr show')).stdout).not.toContain(`${SERVICE_IP}/`);
    expect((await lab.sh('lab-target', 'iptables -S INPUT')).stdout).not.toContain('ferry-service-address');
    // Each step of the move is a journaled command.
    const commands = r.events.flatMap((e) => (e.type === 'command-started' ? [e.argv.join(' ')] : []));
    expect(commands.some((c) => c.startsWith('ip addr del 10.0.0.100/24'))).toBe(true);
    expect(commands.some((c) => c.includes('ferry-announce -U'))).toBe(true);
  }, 10 * 60_000);

  test.skipIf(!FULL_LAB)('nginx: keep-alive clients keep getting answers over the same connections', async () => {
    const r = await ZOO_CASES.http(hosts, ifs);
    report(r);
    expect(r.outcome, r.why).toBe('committed');
    expect(r.dataVerified, r.detail).toBe(true);
    expect(r.connectionKept, r.detail).toBe(true);
    await expectOnlyOnTarget('http');
  }, 10 * 60_000);

  // The tree's own checks (each process checks the shared region against the token it got
  // through the pipes) hold across the migration. One pre-dump keeps the case short.
  test('a process tree sharing anonymous memory and pipes migrates intact', async () => {
    const r = await ZOO_CASES.tree(hosts, ifs);
    report(r);
    const est = [...r.events].reverse().find((e) => e.type === 'estimate');
    if (est?.type === 'estimate') process.stdout.write(`[zoo] tree: freeze ${r.freezeMs} ms against the band ${Math.round(est.estimate.lowMs)}-${Math.round(est.estimate.highMs)} ms\n`);
    expect(r.outcome, r.why).toBe('committed');
    expect(r.dataVerified, r.detail).toBe(true);
    expect(r.detail).toMatch(/after: .*host=target .*bad=0 childbad=0,0/);
    await expectOnlyOnTarget('tree');
  }, 10 * 60_000);
});

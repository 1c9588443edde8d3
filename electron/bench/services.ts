/**
 * npm run bench:services — figures, not a pass/fail test. Boots its own lab (slot 8, like
 * services.lab.test.ts; run it under the lab lock), sets up the clients' namespace on the
 * target, and migrates each zoo workload (Redis with a RESP client, nginx with keep-alive
 * clients, a python3 tree with shared memory and pipes) once, or --runs N times. One row per
 * migration: committed or refused (and why), freeze window predicted and measured, the
 * longest gap the client saw by its own clock, connection kept, data verified.
 *
 *   flock /tmp/ferry-lab.lock npm run bench:services -- [--runs 1] [--only redis,http,tree]
 */
import { rmSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { labDown, labUp } from '../lab/index.ts';
import { isolatedLab } from '../lab/testing.ts';
import { SshHub } from '../ssh/index.ts';
import { cleanZoo, setUpClientNetwork, ZOO_CASES, ZOO_KINDS, zooTable, type ZooKind, type ZooResult } from '../engine/migration/services-zoo.ts';

const { values } = parseArgs({ options: { runs: { type: 'string', default: '1' }, only: { type: 'string' } } });
const runs = Number(values.runs);
const kinds = (values.only ? values.only.split(',') : ZOO_KINDS) as ZooKind[];


async function main() {
  if (!Number.isInteger(runs) || runs < 1) throw new Error('--runs takes a whole number, 1 or more');
  for (const k of kinds) if (!ZOO_KINDS.includes(k)) throw new Error(`--only takes ${ZOO_KINDS.join(', ')}; got ${k}`);
  const { root, env, ports } = isolatedLab('ferry-bench-services-', 8);
  process.stderr.write('lab up (slot 8)…\n');
  const t0 = Date.now();
  const up = await labUp({ env, ports, sshTimeoutMs: 420_000 });
  const hub = new SshHub({ env });
  const hosts = { session: (a: 'lab-source' | 'lab-target') => hub.session(a), env };
  const rows: ZooResult[] = [];
  try {
    const ifs = await setUpClientNetwork(hosts);
    for (let run = 1; run <= runs; run++) {
      for (const kind of kinds) {
        await cleanZoo(hosts, ifs.sourceInterface);
        process.stderr.write(`run ${run}/${runs}: ${kind}…\n`);
        const r = await ZOO_CASES[kind](hosts, ifs).catch((e: Error): ZooResult => ({ kind, outcome: 'failed', why: e.message, dataVerified: false, detail: e.message, events: [] }));
        process.stderr.write(`  ${r.outcome}${r.why ? ` (${r.why})` : ''}: ${r.detail}\n`);
        rows.push(r);
      }
    }
    await cleanZoo(hosts, ifs.sourceInterface);
  } finally {
    await hub.closeAll();
    await labDown({ env });
    rmSync(root, { recursive: true, force: true });
  }
  process.stdout.write(`\nbench:services — lab accel ${up.accel}, ${runs} run(s), ${((Date.now() - t0) / 1000).toFixed(0)} s in all\n\n`);
  process.stdout.write(`${zooTable(rows)}\n`);
  process.stdout.write('\n(gap: redis and http from the client\'s own clock in the client namespace; tree: the program\'s own longest round trip, wall clock)\n');
}

main().catch((e) => {
  process.stderr.write(`bench:services: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exitCode = 1;
});

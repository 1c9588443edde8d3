/**
 * npm run bench:restore — does the target's image directory on tmpfs shorten the restore (the
 * freeze window's floor) against the disk? In the lab's target VM, one workload is dumped and
 * restored locally, in turn, with its images:
 *   disk, just written   dumped to the work directory's disk, restored at once (what a cutover
 *                        does: the page server has just written them, they sit in the page cache);
 *   tmpfs                dumped to a tmpfs Ferry would mount, restored at once;
 *   disk, cold cache     dumped to disk, synced, the page cache dropped, restored (what a
 *                        restore pays when the images were evicted: over the memory cliff).
 * Each restore is `criu restore -d -v4` as Ferry runs it, timed inside the guest (no ssh round
 * trip). Prints every run and the medians. Bounded: a fixed number of runs, each step with a
 * timeout; the VMs go down at the end.
 *
 *   npm run bench:restore -- [--mib 128] [--runs 3] [--lab-slot 19]
 */
import { rmSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { dump, restore } from '../criu/index.ts';
import { labDown, labUp, startWorkload, workloadStatus } from '../lab/index.ts';
import { isolatedLab } from '../lab/testing.ts';
import { SshHub } from '../ssh/index.ts';
import { table } from '../cli/progress.ts';
import { median } from '../engine/dirty/dirty.ts';

const { values } = parseArgs({
  options: {
    mib: { type: 'string', default: '128' },
    runs: { type: 'string', default: '3' },
    'lab-slot': { type: 'string', default: '19' },
  },
});
const mib = Number(values.mib);
const runs = Math.min(10, Math.max(1, Number(values.runs)));
const PID = 50000;
const BASE = '/var/lib/ferry-bench-restore';
const DISK = `${BASE}/disk`;
const TMPFS = `${BASE}/tmpfs`;

type Case = 'disk, just written' | 'tmpfs' | 'disk, cold cache';

async function main() {
  const slot = isolatedLab('ferry-bench-restore-', Number(values['lab-slot']));
  const env = slot.env;
  process.stderr.write('lab up…\n');
  await labUp({ env, sshTimeoutMs: 420_000, ports: slot.ports });
  const hub = new SshHub({ env });
  const s = hub.session('lab-target');
  const sh = async (script: string, ...args: string[]) => {
    const r = await s.exec(['sh', '-c', script, 'sh', ...args], { timeoutMs: 300_000 });
    if (r.code !== 0) throw new Error(`lab-target: ${script.slice(0, 80)}… exit ${r.code}: ${(r.stderr || r.stdout).trim().split('\n').slice(-3).join(' | ')}`);
    return r.stdout;
  };
  // "RC MS" of one command, timed in the guest.
  const timed = async (argv: string[]) => {
    const out = await sh('t0=$(date +%s%N); "$@" >/dev/null 2>&1; rc=$?; t1=$(date +%s%N); echo "$rc $(( (t1 - t0) / 1000000 ))"', ...argv);
    const [rc, ms] = out.trim().split(/\s+/).map(Number);
    return { rc: rc!, ms: ms! };
  };
  const rows: string[][] = [];
  const figures: Record<Case, number[]> = { 'disk, just written': [], tmpfs: [], 'disk, cold cache': [] };
  try {
    // Plain argv for pkill: `pkill -f` inside `sh -c` would match the shell running it.
    await s.exec(['pkill', '-KILL', '-f', '/usr/local/bin/ferry-workload']);
    await sh('umount "$1" 2>/dev/null; rm -rf -- "$2"; mkdir -p "$1" "$3" && mount -t tmpfs -o size=70%,mode=0700 ferry-bench "$1"', TMPFS, BASE, DISK);
    process.stderr.write(`starting a ${mib} MiB workload on the target…\n`);
    const name = `bench-restore-${Date.now()}`;
    await startWorkload({ env, host: 'target', mib, rate: 1000, pid: PID, name }, hub);
    const until = Date.now() + 10 * 60_000;
    while (!((await workloadStatus('target', { env, name }, hub).catch(() => undefined))?.counter ?? 0)) {
      if (Date.now() > until) throw new Error('the workload did not start counting within 10 minutes');
      await new Promise((r) => setTimeout(r, 2000));
    }
    const meminfo = await sh('grep -E "^(MemTotal|MemAvailable):" /proc/meminfo; df -h "$1" "$2" | tail -n 2', DISK, TMPFS);
    process.stderr.write(meminfo);
    const one = async (run: number, c: Case) => {
      const dir = `${c === 'tmpfs' ? TMPFS : DISK}/r${run}`;
      await sh('rm -rf -- "$1"/r* && mkdir -p "$2"', c === 'tmpfs' ? TMPFS : DISK, dir);
      const d = await timed(dump({ pid: PID, imagesDir: dir, log: 'dump.log', verbosity: 4 }));
      if (d.rc !== 0) throw new Error(`dump to ${dir} failed (exit ${d.rc}): ${await sh('tail -n 5 "$1"/dump.log', dir)}`);
      const images = Number((await sh('du -sk -- "$1" | cut -f1', dir)).trim()) / 1024;
      if (c === 'disk, cold cache') await sh('sync && echo 3 > /proc/sys/vm/drop_caches');
      const r = await timed(restore({ imagesDir: dir, detach: true, log: 'restore.log', verbosity: 4, pidfile: `${dir}/restored.pid` }));
      if (r.rc !== 0) throw new Error(`restore from ${dir} failed (exit ${r.rc}): ${await sh('tail -n 5 "$1"/restore.log', dir)}`);
      figures[c].push(r.ms);
      rows.push([String(run), c, `${images.toFixed(0)} MiB`, `${d.ms} ms`, `${r.ms} ms`]);
      process.stderr.write(`run ${run} ${c}: dump ${d.ms} ms, restore ${r.ms} ms\n`);
    };
    for (let run = 1; run <= runs; run++) {
      for (const c of ['disk, just written', 'tmpfs', 'disk, cold cache'] as const) await one(run, c);
    }
    const status = await workloadStatus('target', { env, name }, hub);
    process.stdout.write(`\nbench:restore — ${mib} MiB workload in the lab's target VM (TCG), criu restore -d -v4 timed in the guest; after the last restore the workload says verify=${status.verify}\n${meminfo}\n`);
    process.stdout.write(`${table(['run', 'images', 'size', 'dump', 'restore'], rows)}\n\n`);
    const med = (c: Case) => median(figures[c]);
    process.stdout.write(
      `${table(['images', 'restore (median)', 'runs', 'vs disk, just written'], (['disk, just written', 'tmpfs', 'disk, cold cache'] as const).map((c) => [c, `${Math.round(med(c))} ms`, figures[c].join(', '), `${((med(c) / med('disk, just written')) * 100).toFixed(0)}%`]))}\n`,
    );
  } finally {
    await s.exec(['pkill', '-KILL', '-f', '/usr/local/bin/ferry-workload']).catch(() => undefined);
    await s.exec(['sh', '-c', 'umount "$1"; rm -rf -- "$2"', 'sh', TMPFS, BASE], { timeoutMs: 60_000 }).catch(() => undefined);
    await hub.closeAll();
    await labDown({ env });
    rmSync(slot.root, { recursive: true, force: true });
  }
}

main().catch((e) => {
  process.stderr.write(`bench:restore: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exitCode = 1;
});

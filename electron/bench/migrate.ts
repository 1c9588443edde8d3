/**
 * npm run bench:migrate — figures, not a pass/fail test. In one run on the lab, the same
 * workload migrated cold and with pre-copy; prints, side by side, the freeze window (host
 * clock, final dump start to restore done), the ratio pre-copy/cold, the prediction made
 * before cutover and its error, iterations, bytes sent over the page server per byte of
 * resident memory, bytes that passed through the console, and the prediction error with lab
 * defaults against the error with costs learned from earlier runs between the same hosts.
 *
 * Both runs use TLS on their page streams (the default); a third, pre-copy with TLS off, gives
 * TLS's cost side by side: page-server bandwidth and freeze window, on and off
 * (--no-tls-compare skips it).
 *
 *   npm run bench:migrate -- [--mib 256] [--rate 1000] [--runs 1] [--no-tls-compare]
 *
 * Size sweep: `--sizes 64,256,512` migrates each size cold and with pre-copy (TLS on, no TLS
 * comparison) and prints, per size and mode, the freeze windows and their ratio, predicted
 * against measured with the band, whether the measured window fell inside the band, and the
 * restore's share of the window; medians over --runs. `--memory MiB` boots the lab's VMs with
 * that much memory (512 MiB needs more than the default 1024 to stay off the memory cliff).
 *
 *   npm run bench:migrate -- --sizes 64,256,512 [--runs 3] [--rate 1000] [--memory 2048]
 */
import { parseArgs } from 'node:util';
import { defaultPolicy, newPlan } from '../../shared/api.ts';
import { predictionWithDefaultCosts, type DowntimeEstimateDetail } from '../../shared/estimate.ts';
import { MigrationService } from '../engine/migrations.ts';
import type { MigrationResult } from '../engine/migration/migration.ts';
import { labDown, labUp, startWorkload, workloadStatus, LINK_ADDR } from '../lab/index.ts';
import { SshHub } from '../ssh/index.ts';
import { table } from '../cli/progress.ts';

const { values } = parseArgs({
  options: {
    mib: { type: 'string', default: '256' },
    rate: { type: 'string', default: '1000' },
    runs: { type: 'string', default: '1' },
    'tls-compare': { type: 'boolean', default: true },
    // Size sweep.
    sizes: { type: 'string' },
    memory: { type: 'string' },
  },
  allowNegative: true,
});
const mib = Number(values.mib);
const rate = Number(values.rate);
const runs = Number(values.runs);

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? (s[Math.floor((s.length - 1) / 2)]! + s[Math.ceil((s.length - 1) / 2)]!) / 2 : NaN;
};

async function main() {
  if (values.sizes !== undefined) return sweep();
  process.stderr.write(`lab up…\n`);
  const up = await labUp({});
  const hub = new SshHub();
  type Series = 'cold' | 'precopy' | 'precopy-tls-off';
  const results: Record<Series, MigrationResult[]> = { cold: [], precopy: [], 'precopy-tls-off': [] };
  const series: Series[] = values['tls-compare'] ? ['cold', 'precopy', 'precopy-tls-off'] : ['cold', 'precopy'];
  try {
    for (let run = 0; run < runs; run++) {
      for (const s of series) {
        const mode = s === 'cold' ? 'cold' : 'precopy';
        const name = `bench-${s}-${run}`;
        const wl = await freshWorkload(hub, mib, name);
        const plan = benchPlan(wl.pid, mode, s !== 'precopy-tls-off');
        process.stderr.write(`run ${run + 1}/${runs}: ${s}, ${mib} MiB at ${rate} pages/s…\n`);
        const service = new MigrationService((a) => hub.session(a), () => undefined);
        const r = await service.start(plan).done;
        const after = r.outcome === 'committed' ? await workloadStatus('target', { name }, hub).catch(() => undefined) : undefined;
        process.stderr.write(`  ${r.outcome}, freeze ${r.freezeWindowMs} ms, target ${after?.raw ?? 'n/a'}\n`);
        if (r.outcome !== 'committed' || after?.verify !== 'OK') throw new Error(`${mode} run did not migrate intact: ${r.error?.message ?? after?.raw}`);
        results[s].push(r);
      }
    }
  } finally {
    await hub.closeAll();
  }

  const row = (mode: Series) => {
    const rs = results[mode];
    const freeze = median(rs.map((r) => r.freezeWindowMs ?? NaN));
    const pred = median(rs.map((r) => r.predictedMs ?? NaN));
    const err = median(rs.map((r) => (r.predictedMs !== undefined && r.freezeWindowMs ? (r.predictedMs - r.freezeWindowMs) / r.freezeWindowMs : NaN)));
    const pages = median(rs.map((r) => r.iterations.reduce((s, i) => s + i.pagesWritten * 4096, 0) / (r.residentBytes ?? NaN)));
    const viaConsole = median(rs.map((r) => r.bytesThroughConsole));
    const migrated = median(rs.map((r) => r.iterations.reduce((s, i) => s + i.pagesWritten * 4096, 0)));
    return {
      mode,
      freeze,
      cells: [
        mode,
        `${Math.round(freeze)} ms`,
        Number.isNaN(pred) ? '-' : `${Math.round(pred)} ms`,
        Number.isNaN(err) ? '-' : `${err >= 0 ? '+' : ''}${(err * 100).toFixed(1)}%`,
        String(median(rs.map((r) => r.iterations.filter((i) => i.kind === 'pre-dump').length))),
        pages.toFixed(2),
        `${(viaConsole / 1024).toFixed(0)} KiB (${((viaConsole / migrated) * 100).toFixed(2)}%)`,
      ],
    };
  };
  const cold = row('cold');
  const pre = row('precopy');
  process.stdout.write(`\nbench:migrate — ${mib} MiB workload dirtying ${rate} pages/s, lab accel ${up.accel}, ${runs} run(s) each, medians\n\n`);
  process.stdout.write(
    `${table(['mode', 'freeze window', 'predicted', 'pred. error', 'pre-dumps', 'page-server bytes / RSS', 'through console (of migrated)'], [cold.cells, pre.cells])}\n`,
  );
  process.stdout.write(`\npre-copy / cold freeze window: ${(pre.freeze / cold.freeze).toFixed(2)}x (goal ≤ 0.2x)\n`);
  const errors = results.precopy.map((r) => (r.predictedMs !== undefined && r.freezeWindowMs ? `${(((r.predictedMs - r.freezeWindowMs) / r.freezeWindowMs) * 100).toFixed(1)}%` : '-'));
  process.stdout.write(`pre-copy prediction error per run: ${errors.join(', ')} (goal within 25%)\n`);

  // The same cutover predicted twice: with lab defaults for what only history can supply, and
  // with the costs learned from earlier journals between these hosts (what the engine used).
  const pct = (p: number, m: number) => `${p >= m ? '+' : ''}${(((p - m) / m) * 100).toFixed(1)}%`;
  const learning = results.precopy.flatMap((r, i) => {
    const e = r.estimateAtCutover as DowntimeEstimateDetail | undefined;
    if (!e?.terms || !r.freezeWindowMs) return [];
    const before = predictionWithDefaultCosts(e);
    const learnedFrom = String(e.learnedFromRuns ?? 0);
    return [{ cells: [String(i + 1), learnedFrom, `${Math.round(r.freezeWindowMs)} ms`, `${Math.round(before)} ms`, pct(before, r.freezeWindowMs), `${Math.round(e.predictedMs)} ms`, pct(e.predictedMs, r.freezeWindowMs)], before: Math.abs(before - r.freezeWindowMs) / r.freezeWindowMs, after: Math.abs(e.predictedMs - r.freezeWindowMs) / r.freezeWindowMs }];
  });
  if (learning.length) {
    process.stdout.write(`\nprediction error before and after learning (pre-copy runs)\n\n`);
    process.stdout.write(`${table(['run', 'past runs learned from', 'measured', 'defaults only', 'error', 'learned', 'error'], learning.map((l) => l.cells))}\n`);
    process.stdout.write(`median |error|: ${(median(learning.map((l) => l.before)) * 100).toFixed(1)}% with defaults, ${(median(learning.map((l) => l.after)) * 100).toFixed(1)}% with learned costs\n`);
  }

  // Restore probe and band: the band at cutover, whether the measured window fell in
  // it, and what the restore term rested on.
  for (const [i, r] of results.precopy.entries()) {
    const e = r.estimateAtCutover as DowntimeEstimateDetail | undefined;
    if (!e?.terms || !r.freezeWindowMs) continue;
    const inBand = r.freezeWindowMs >= e.lowMs && r.freezeWindowMs <= e.highMs;
    const t = e.terms.find((x) => x.name === 'restore');
    process.stdout.write(
      `\npre-copy run ${i + 1}: measured ${Math.round(r.freezeWindowMs)} ms, predicted ${Math.round(e.predictedMs)} ms, band ${Math.round(e.lowMs)}–${Math.round(e.highMs)} ms: ${inBand ? 'inside' : 'OUTSIDE'} the band\n` +
        `  restore term ${Math.round(t?.ms ?? NaN)} ms (${t?.source}): ${t?.detail}\n`,
    );
  }

  // TLS's cost: the same pre-copy with the page streams encrypted and in clear.
  if (results['precopy-tls-off'].length) {
    const bw = (rs: MigrationResult[]) => median(rs.flatMap((r) => r.iterations.filter((i) => i.kind === 'pre-dump' && i.bandwidthBytesPerSec).map((i) => i.bandwidthBytesPerSec!)));
    const tlsRow = (label: string, rs: MigrationResult[]) => [label, `${(bw(rs) / 1048576).toFixed(1)} MiB/s`, `${Math.round(median(rs.map((r) => r.freezeWindowMs ?? NaN)))} ms`];
    const on = results.precopy;
    const off = results['precopy-tls-off'];
    process.stdout.write(`\nTLS on the page streams: pre-copy with TLS on and off\n\n`);
    process.stdout.write(`${table(['page streams', 'page-server bandwidth (pre-dumps)', 'freeze window'], [tlsRow('TLS', on), tlsRow('plain TCP', off)])}\n`);
    process.stdout.write(`TLS / plain: bandwidth ${(bw(on) / bw(off)).toFixed(2)}x, freeze window ${(median(on.map((r) => r.freezeWindowMs ?? NaN)) / median(off.map((r) => r.freezeWindowMs ?? NaN))).toFixed(2)}x\n`);
  }
}

// ---------------------------------------------------------------------------------------------
// Size sweep: cold and pre-copy at each size, medians over runs, the issue's goals at the end.

interface SweepRun {
  result: MigrationResult;
  /** Host wall clock of `criu restore` (its recorded command), inside the freeze window. */
  restoreMs?: number;
}

/** One migration of a fresh workload of `size` MiB, auto mode; its result and the restore's duration. */
/** The lab plan every bench run uses: auto, cutting over when pre-copy stops converging. */
function benchPlan(pid: number, mode: 'cold' | 'precopy', tls: boolean) {
  return newPlan({
    source: 'lab-source',
    target: 'lab-target',
    pid,
    mode,
    policy: { ...defaultPolicy, onNotConverging: 'cutover' },
    auto: true,
    targetAddress: LINK_ADDR.target,
    tls,
  });
}

/** A new workload on the source, with no earlier one left on either VM; 5 s to settle its dirty rate. */
async function freshWorkload(hub: SshHub, mib: number, name: string) {
  for (const alias of ['lab-source', 'lab-target']) {
    await hub.session(alias).exec(['pkill', '-KILL', '-f', '/usr/local/bin/ferry-workload']);
    await hub.session(alias).exec(['rm', '-rf', '--', '/var/lib/ferry-workload']);
  }
  const wl = await startWorkload({ host: 'source', mib, rate, name }, hub);
  await new Promise((r) => setTimeout(r, 5000));
  return wl;
}

async function migrateOnce(hub: SshHub, size: number, mode: 'cold' | 'precopy', label: string): Promise<SweepRun> {
  const name = `bench-${label}`;
  const wl = await freshWorkload(hub, size, name);
  const plan = benchPlan(wl.pid, mode, true);
  const restoreIds = new Set<string>();
  let restoreMs: number | undefined;
  const service = new MigrationService(
    (a) => hub.session(a),
    (e) => {
      if (e.type === 'command-started' && e.argv.includes('restore') && e.argv.some((a) => a.endsWith('criu'))) restoreIds.add(e.commandId);
      if (e.type === 'command-finished' && restoreIds.has(e.commandId)) restoreMs = e.durationMs;
    },
  );
  const r = await service.start(plan).done;
  const after = r.outcome === 'committed' ? await workloadStatus('target', { name }, hub).catch(() => undefined) : undefined;
  process.stderr.write(`  ${r.outcome}, freeze ${r.freezeWindowMs} ms (predicted ${r.predictedMs ?? '-'} ms), restore ${restoreMs ?? '?'} ms, target ${after?.raw ?? 'n/a'}\n`);
  if (r.outcome !== 'committed' || after?.verify !== 'OK') throw new Error(`${mode} run at ${size} MiB did not migrate intact: ${r.error?.message ?? after?.raw}`);
  return { result: r, restoreMs };
}

async function sweep() {
  const sizes = values.sizes!.split(',').map((x) => Number(x.trim()));
  if (!sizes.length || sizes.some((x) => !Number.isInteger(x) || x < 1 || x > 512)) throw new Error(`--sizes takes MiB from 1 to 512, comma-separated (e.g. 64,256,512), got ${values.sizes}`);
  const memoryMiB = values.memory !== undefined ? Number(values.memory) : undefined;
  if (memoryMiB !== undefined && (!Number.isInteger(memoryMiB) || memoryMiB < 512)) throw new Error(`--memory takes MiB, at least 512, got ${values.memory}`);
  process.stderr.write(`lab up${memoryMiB ? ` (${memoryMiB} MiB per VM)` : ''}…\n`);
  const up = await labUp({ ...(memoryMiB ? { memoryMiB } : {}) });
  if (up.alreadyUp && memoryMiB) process.stderr.write(`note: the lab was already up; its VMs keep the memory they booted with (ferry lab down first for --memory ${memoryMiB})\n`);
  const hub = new SshHub();
  const modes = ['cold', 'precopy'] as const;
  const runsOf = new Map<string, SweepRun[]>();
  try {
    for (let run = 0; run < runs; run++) {
      for (const size of sizes) {
        for (const mode of modes) {
          process.stderr.write(`run ${run + 1}/${runs}: ${mode}, ${size} MiB at ${rate} pages/s…\n`);
          const key = `${size}/${mode}`;
          runsOf.set(key, [...(runsOf.get(key) ?? []), await migrateOnce(hub, size, mode, `${size}-${mode}-${run}`)]);
        }
      }
    }
  } finally {
    await hub.closeAll();
    // A lab this run booted goes down with it; one that was up stays up.
    if (!up.alreadyUp) await labDown({}).catch(() => undefined);
  }

  const ms = (x: number) => (Number.isNaN(x) ? '-' : `${Math.round(x)} ms`);
  const signed = (x: number) => (Number.isNaN(x) ? '-' : `${x >= 0 ? '+' : ''}${(x * 100).toFixed(1)}%`);
  const rows: string[][] = [];
  const goals: string[] = [];
  const freezeOf = (size: number, mode: string) => median((runsOf.get(`${size}/${mode}`) ?? []).map((r) => r.result.freezeWindowMs ?? NaN));
  for (const size of sizes) {
    const cold = freezeOf(size, 'cold');
    for (const mode of modes) {
      const rs = runsOf.get(`${size}/${mode}`) ?? [];
      const freeze = freezeOf(size, mode);
      const est = rs.map((r) => r.result.estimateAtCutover as DowntimeEstimateDetail | undefined);
      const pred = median(rs.map((r) => r.result.predictedMs ?? NaN));
      const low = median(est.map((e) => e?.lowMs ?? NaN));
      const high = median(est.map((e) => e?.highMs ?? NaN));
      const err = median(rs.map((r) => (r.result.predictedMs !== undefined && r.result.freezeWindowMs ? (r.result.predictedMs - r.result.freezeWindowMs) / r.result.freezeWindowMs : NaN)));
      const inBand = rs.filter((r, i) => est[i] && r.result.freezeWindowMs !== undefined && r.result.freezeWindowMs >= est[i]!.lowMs && r.result.freezeWindowMs <= est[i]!.highMs).length;
      const predicted = rs.filter((r, i) => est[i] && r.result.freezeWindowMs !== undefined).length;
      const share = median(rs.map((r) => (r.restoreMs !== undefined && r.result.freezeWindowMs ? r.restoreMs / r.result.freezeWindowMs : NaN)));
      rows.push([
        `${size} MiB`,
        mode,
        ms(freeze),
        mode === 'cold' ? '1.00' : (freeze / cold).toFixed(2),
        ms(pred),
        Number.isNaN(low) ? '-' : `${Math.round(low)}–${Math.round(high)} ms`,
        signed(err),
        predicted ? `${inBand}/${predicted}` : '- (no estimate: cold has no pre-dump)',
        Number.isNaN(share) ? '-' : `${Math.round(share * 100)}%`,
      ]);
      if (mode === 'precopy' && predicted) {
        const met = inBand === predicted && Math.abs(err) <= 0.25;
        goals.push(`${size} MiB pre-copy: measured ${ms(freeze)} ${inBand === predicted ? 'inside' : 'OUTSIDE'} the band in ${inBand}/${predicted} run(s), median error ${signed(err)} (goal: inside the band and within 25%): ${met ? 'met' : 'NOT met'}`);
      }
    }
    if (size === 256) {
      const ratio = freezeOf(256, 'precopy') / cold;
      goals.push(`256 MiB pre-copy / cold: ${ratio.toFixed(2)} (goal ≤ 0.15): ${ratio <= 0.15 ? 'met' : 'NOT met'}`);
    }
  }
  if (!sizes.includes(256)) goals.push('256 MiB pre-copy / cold (goal ≤ 0.15): not measured in this sweep');
  process.stdout.write(`\nbench:migrate size sweep — workloads dirtying ${rate} pages/s, lab accel ${up.accel}${memoryMiB && !up.alreadyUp ? `, ${memoryMiB} MiB per VM` : ''}, ${runs} run(s) each, medians\n\n`);
  process.stdout.write(`${table(['size', 'mode', 'freeze window', '/ cold', 'predicted', 'band', 'pred. error', 'inside band', 'restore share'], rows)}\n\n`);
  process.stdout.write(`goals:\n${goals.map((g) => `  ${g}`).join('\n')}\n`);
}

main().catch((e) => {
  process.stderr.write(`bench:migrate: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exitCode = 1;
});

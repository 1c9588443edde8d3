/**
 * What a migration measures, outside any freeze, so the downtime estimate rests on this link
 * and this target instead of defaults: the cutover's copy path timed once (the same tar
 * stream into a scratch directory), the link timed uncapped before a bandwidth cap goes on
 * (for the final dump's rate), the target's cost of reading the page images a restore will
 * read (and its free memory), and CRIU's own numbers for each dump and for the restore. A
 * measurement that fails leaves the estimate on its defaults (or the report without the
 * restore's numbers); only a dump's missing statistics stop the migration.
 */
import type { EngineEvent } from '../../../shared/api.ts';
import type { MigrationPlan } from '../../../shared/domain.ts';
import { FerryError, toErrorInfo } from '../../../shared/errors.ts';
import { capCoversDump, describeBandwidth, linkBytesPerSec, type LinkMeasure } from '../../../shared/bandwidth-cap.ts';
import { parseDdTotals, type RestoreProbe } from '../../../shared/restore-cost.ts';
import type { CriuTlsOptions } from '../../criu/argv.ts';
import { decodeStats, type DumpStats } from '../../criu/index.ts';
import type { CommandRunner } from '../commands/runner.ts';
import { parseMemAvailable } from '../hosts/preflight.ts';
import { STEP_TIMEOUTS } from './limits.ts';
import { measureLink } from './link-probe.ts';

/** Restore probe: at most this much of each page image is read, within this bound. */
export const RESTORE_PROBE_MIB = 128;
export const RESTORE_PROBE_TIMEOUT_S = 60;

/**
 * Time the cutover's copy path once, outside any freeze: the same tar stream (`copyArgv`: the
 * first pre-dump's metadata and the files to sync) into `probeDir` on the target, deleted
 * after. `measured` gets the bytes and the time as soon as the stream ends.
 */
export async function measureCopy(
  run: CommandRunner,
  { source, target }: Pick<MigrationPlan, 'source' | 'target'>,
  probeDir: string,
  copyArgv: string[],
  measured: (r: { bytes: number; durationMs: number }) => void,
): Promise<void> {
  await run.run(target, ['mkdir', '-p', '--', probeDir], { check: true, what: 'creating the copy probe directory' });
  const r = await run.pipe(source, copyArgv, target, ['tar', '-C', probeDir, '-xf', '-'], { timeoutMs: STEP_TIMEOUTS.copy, what: 'timing the copy path', check: false });
  measured(r);
  await run.run(target, ['rm', '-rf', '--', probeDir]);
}

/**
 * Bandwidth cap: a cap on pre-copy only leaves the final dump uncapped, and the capped
 * pre-dumps cannot show how fast that will be: time one transfer over the page server's path
 * before the cap goes on (link-probe.ts), and say in the journal what the estimate will use.
 * Nothing is measured when the plan has no cap, the cap does not apply on this link
 * (`capApplies`), or the cap covers the final dump too.
 */
export async function measureLinkBeforeCap(
  ctx: { run: CommandRunner; plan: MigrationPlan; migrationId: string; record(event: EngineEvent): void },
  capApplies: boolean,
  tls: CriuTlsOptions | undefined,
): Promise<LinkMeasure | undefined> {
  const { plan } = ctx;
  const cap = plan.bandwidthCap;
  if (!cap || !capApplies || capCoversDump(cap)) return undefined;
  const { source, target } = plan;
  const r = await measureLink(ctx.run, { source, target, targetAddress: plan.targetAddress, port: plan.pageServerPort, tls });
  const rate = linkBytesPerSec(r.link);
  ctx.record({
    type: 'decision',
    migrationId: ctx.migrationId,
    by: 'policy',
    action: r.link ? 'link measured before the cap' : 'link not measured',
    reason: r.link
      ? `${source} → ${target}:${plan.pageServerPort}${r.link.tls ? ' over TLS' : ''}: ${(r.link.bytes / 1048576).toFixed(1)} MiB in ${Math.round(r.link.ms)} ms = ${describeBandwidth(rate!)} uncapped; the estimate predicts the uncapped final dump at this rate and pre-copy at the cap's ${describeBandwidth(cap.bytesPerSecond)}`
      : `timing the link before the cap failed (${r.problem}): the estimate predicts the uncapped final dump at the capped pre-dumps' rate, an upper bound on its time`,
    at: new Date().toISOString(),
  });
  return r.link;
}

/**
 * Restore probe: measure on the target what the restore will pay there. Read the page images
 * the first pre-dump wrote, once past the page cache (O_DIRECT: what a restore over the memory
 * cliff pays) and once through it (the way restore reads them), at most RESTORE_PROBE_MIB per
 * file, and read MemAvailable. The estimate then uses it as a measured term and tells whether
 * images and the restored process fit in memory together. Undefined when the reads failed:
 * the estimate stays on its defaults and the migration goes on.
 */
export async function measureRestore(run: CommandRunner, target: string, imagesDir: string): Promise<RestoreProbe | undefined> {
  const read = async (direct: boolean) => {
    const r = await run.run(
      target,
      ['timeout', String(RESTORE_PROBE_TIMEOUT_S), 'sh', '-c', 'cd "$1" && n=$2 && shift 2 && for f in pages-*.img; do dd if="$f" of=/dev/null bs=1M count="$n" "$@" || exit; done', 'ferry-restore-probe', imagesDir, String(RESTORE_PROBE_MIB), ...(direct ? ['iflag=direct'] : [])],
      { what: direct ? 'reading the page images past the page cache (restore probe)' : 'reading the page images as restore will (restore probe)' },
    );
    return r.code === 0 ? parseDdTotals(r.stderr) : undefined;
  };
  const cold = await read(true);
  const warm = await read(false);
  const mem = parseMemAvailable((await run.run(target, ['cat', '/proc/meminfo'], { quiet: true })).stdout);
  if (!warm || warm.bytes === 0) return undefined;
  return {
    readBytes: warm.bytes,
    readMs: warm.seconds * 1000,
    ...(cold && cold.bytes > 0 ? { coldReadBytes: cold.bytes, coldReadMs: cold.seconds * 1000 } : {}),
    ...(mem !== undefined ? { memAvailableBytes: mem * 1024 } : {}),
  };
}

/** CRIU's own numbers for a pre-dump or dump: its stats-dump image, read from the host that dumped. */
export async function readDumpStats(run: CommandRunner, host: string, dir: string): Promise<DumpStats> {
  const buf = await run.readFile(host, `${dir}/stats-dump`);
  const s = decodeStats(buf, `${host}:${dir}/stats-dump`);
  if (s.kind !== 'dump') throw new FerryError({ code: 'stats-image-invalid', host, message: `${dir}/stats-dump holds restore stats, not dump stats` });
  return s;
}

/**
 * CRIU's own numbers for the restore (its stats-restore image on the target), journaled for
 * the report. Read once the process runs again; a missing or unreadable file is journaled as
 * an error with the hint that only the statistics are missing, never fatal.
 */
export async function recordRestoreStats(ctx: { run: CommandRunner; plan: Pick<MigrationPlan, 'target'>; migrationId: string; record(event: EngineEvent): void }, dir: string): Promise<void> {
  const { target } = ctx.plan;
  await ctx.run
    .readFile(target, `${dir}/stats-restore`, { quiet: true })
    .then((buf) => decodeStats(buf, `${target}:${dir}/stats-restore`))
    .then((rs) => {
      if (rs.kind === 'restore') {
        const { kind: _kind, ...stats } = rs;
        ctx.record({ type: 'restore-stats', migrationId: ctx.migrationId, stats });
      }
    })
    .catch((e) => ctx.record({ type: 'error', migrationId: ctx.migrationId, error: { ...toErrorInfo(e), hint: 'The restore succeeded; only its statistics are missing from the report.' } }));
}

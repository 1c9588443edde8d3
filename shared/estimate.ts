/**
 * Downtime estimate for a pre-copy cutover: pure math on CRIU's own numbers (stats-dump) and
 * the host clock. No Node, no DOM: this runs in the engine and in the renderer.
 *
 * ## What is predicted
 * The cutover's freeze window as Ferry measures it: host clock from the start of the final
 * `criu dump --leave-stopped` to the end of `criu restore` on the target:
 *
 *     window  = dumpWall + copy + restore
 *     dumpWall = frozen + dumpOverhead            (criu start-up, image writing, ssh round trip)
 *     frozen   = dumpFixed + drain(P) + P * 4096 / bandwidth   (CRIU's frozen_time of the final dump)
 *     restore  = restoreFixed + restorePerPage * totalPages   (restore reads every page, parent chain included)
 *     P        = min(totalPages, dirtyRate * interval)       (or a live soft-dirty count, projected)
 *
 * Why `frozen` splits that way (CRIU 3.17.1, read off the lab's stats images): in a final dump
 * the pages are written to the page server while the tree is frozen, and memwrite_time is
 * nested inside memdump_time. frozen_time − memdump_time was 307.8, 303.8 and 305.1 ms in the
 * three recorded final dumps (converging, non-converging, rollback) whatever the page count
 * (2719, 32988, 3749 pages): that is `dumpFixed`. memdump_time − memwrite_time (draining the
 * pages into pipes) is `drain`; memwrite_time is P pages over the page-server bandwidth.
 *
 * ## Measured vs default
 * Measured from the pre-dumps of this migration: dirty rate, bandwidth, drain, total pages.
 * Fixed costs come from `costs` when the caller measured them (a rehearsal, an earlier
 * migration of the same process); otherwise from the defaults below, each of which widens the
 * band and is named in `basis`.
 *
 * ## pages_scanned
 * Never used: it is inflated in final dumps (98862 against 36462 in the pre-dumps of the same
 * process, fixtures/criu/non-converging).
 */
import type { DowntimeEstimate, IterationStats } from './domain.ts';
import { msPerPage, restoreMemory, type RestoreMemory, type RestoreProbe } from './restore-cost.ts';
// Bandwidth cap: the final dump's rate and the convergence under the plan's cap.
import { capCoversDump, describeConvergence, finalDumpBandwidth, predictConvergence, type BandwidthCapPlan, type Convergence, type LinkMeasure } from './bandwidth-cap.ts';

export const PAGE_SIZE = 4096;

/**
 * Lab figures behind the tree constants below (CRIU 3.17.1 under TCG, slot 14, 2026-12-01): the
 * services zoo's python3 tree (3 processes, 16 MiB anonymous shared memory), final dumps' -v4
 * logs. Per further process, the time from one task's "Dumping task" to the next one's, for the
 * children (few pages each in incremental dumps): 0.83, 0.35 s (local images), 1.77, 0.85 s (page
 * server), 1.17, 0.65, 0.83, 0.86 s (cold, page server; their pages included): median ~0.84 s,
 * 800 ms taken. Shared memory, from the last task to "Unfreezing": 2908 pages in 0.22 s, 2549
 * in 0.23 s = 0.077, 0.09 ms/page. Restore: `criu restore` of the 3-process tree 1.09 and 1.72 s
 * where one process of its private pages would take ~0.39 s: ~0.35-0.65 s per further process.
 * Per socket on the dump side these runs could not separate from the rest (the nginx dump's
 * wall clock, 3.0 s, includes its second process): 100 ms is a guess kept small; the cost the lab
 * did show for servers is on the restore side (SERVER_COSTS below).
 */
const TREE_COSTS = { dumpPerProcessMs: 800, restorePerProcessMs: 450, dumpPerSocketMs: 100, shmemDumpMsPerPage: 0.085 } as const;
/**
 * Servers (same lab run, nginx with two keep-alive connections and the service address moved;
 * freeze window 15.3 s, the estimate without these terms 8.7 s): from the journaled commands'
 * start times, the address move (release on the source, guard, add and announce on the target)
 * took 3.9 s, and the restore of the tree with its established connections 7.0 s, against
 * ~0.8 s for its processes and pages: CRIU's network lock and unlock on the target
 * (iptables-restore) and the TCP repair of each connection. One run each: defaults, ±50%.
 */
const SERVER_COSTS = { addressMoveMs: 3900, connectionsRestoreMs: 6200 } as const;

// ---------------------------------------------------------------------------------------------
// Defaults, all from the rehearsal lab (CRIU 3.17.1, Debian bookworm guests under QEMU TCG, one
// vCPU, VM link over qemu -netdev dgram; fixtures/criu/{converging,non-converging,rollback,lazy}).
// TCG runs guest code ~10x slower than hardware, so on real hosts these overestimate; every one
// of them is reported in `basis` and widens the band by ±DEFAULT_UNCERTAINTY.

/**
 * Final dump, frozen part that does not depend on the pages: frozen_time − memdump_time of the
 * three recorded final dumps: 307.8 (converging), 303.8 (non-converging), 305.1 ms (rollback),
 * all of the same 138 MiB Python process. A full dump of `sleep` measured 122.5 − 13.6 = 109 ms,
 * so it grows with the tree's size (mappings, files): a default, not a law.
 */
export const DEFAULT_DUMP_FIXED_MS = 305;
/**
 * Host wall clock of `criu dump` over ssh minus its frozen_time: 920−638 = 282, 3900−3646 = 254,
 * 900−642 = 258 ms (criu start-up, writing the non-page images, the ssh round trip). Mean 265.
 */
export const DEFAULT_DUMP_OVERHEAD_MS = 265;
/**
 * Copying the final dump's non-page images (~50 KB) and the open files to the target: 5249,
 * 4388, 4294 ms in the lab (rsync over a fresh VM-to-VM ssh connection each time). Median.
 */
export const DEFAULT_COPY_MS = 4400;
/**
 * From the decision to cut over to the final dump's start (the page server, the checks on the
 * target, arming both cutover guards): 7733, 6928 and 8489 ms in the lab's guarded pre-copy
 * runs (bench:migrate size sweep, TCG). Median.
 */
export const DEFAULT_CUTOVER_PREPARE_MS = 7700;
/**
 * The restore's fixed part: host wall clock of the restore command Ferry runs (the target's
 * cutover guard, then `systemd-run --scope`, then `criu restore -d`) minus CRIU's own
 * restore_time (stats-restore). That is python's start-up and the guard's handshake, the
 * transient scope, CRIU's start-up and the ssh round trip; it does not grow with the pages.
 * Lab size sweep (bench:migrate --sizes 64,256,512, 2048 MiB VMs, TCG): 3062, 3696, 2513,
 * 2423 ms at 18192, 18156, 67267, 67155 pages; median 2788. (Before the guard ran the restore,
 * a bare `criu restore -d` had 310 ms of it.)
 */
export const DEFAULT_RESTORE_FIXED_MS = 2800;
/**
 * Per page: `criu restore -d` of 33861/33862 pages in 1322 and 1022 ms (converging,
 * non-converging), 318 ms for 314 resident pages (fixtures/criu/lazy): 0.0255 ms per page
 * beyond its start-up.
 */
export const DEFAULT_RESTORE_MS_PER_PAGE = 0.0255;
/**
 * Restore over the cliff (images and the restored process do not fit in the target's memory
 * together, shared/restore-cost.ts): 21 s for 132755 pages of a 512 MiB process in the 1 GiB
 * lab VMs (docs/CRIU.md): (21000 − 310) / 132755 = 0.156 ms per page, six times the rate below it.
 */
export const DEFAULT_CLIFF_RESTORE_MS_PER_PAGE = 0.156;
/**
 * Restore per page = RESTORE_PER_READ × the probe's read through the page cache per page.
 * Under TCG both are guest CPU work (a kernel copy out of the page cache; the restore adds the
 * page fault and allocation of each restored page), so the probe gauges how fast this target
 * runs right now, load included. (Its O_DIRECT read is faster than the cached one in the lab:
 * the qcow2 disk is served from the host's page cache.) Two lab runs of a 128 MiB workload,
 * slot 12, restore-probe.lab.test.ts, on a busy machine:
 *   probe 0.0427 ms/page, `criu restore` 11185 ms for 34522 pages: (11185 − 310) / 34522 / 0.0427 = 7.4
 *   probe 0.0219 ms/page, `criu restore`  3565 ms for 34354 pages: (3565 − 310) / 34354 / 0.0219 = 4.3
 * The mean, 5.8, puts both within ±35%; the term keeps the default ±50% band.
 */
export const RESTORE_PER_READ = 5.8;
/** The cliff's band: its rate rests on one lab run, so 0.5x–2x. */
export const CLIFF_LOW_FACTOR = 0.5;
export const CLIFF_HIGH_FACTOR = 2;
/** A default term may be off by this fraction either way (other hardware, other process). */
export const DEFAULT_UNCERTAINTY = 0.5;
/**
 * Floor on the dirty rate's relative uncertainty: the lab workloads, asked for a constant rate,
 * achieved 800–1000 and 12000–18000 pages/s second to second (FACTS.md counter deltas): ±20%.
 */
export const MIN_RATE_UNCERTAINTY = 0.2;
/** Floor on the bandwidth's relative uncertainty (the pre-dumps' bandwidths varied 4–23%). */
export const MIN_BANDWIDTH_UNCERTAINTY = 0.1;
/**
 * Drain (pages into pipes) of a final dump was 1.4x (converging) and 2.2x (non-converging) what
 * the pre-dumps' memdump_time predicted; the band takes 0.5x–2.5x of the measured projection.
 */
export const DRAIN_LOW_FACTOR = 0.5;
export const DRAIN_HIGH_FACTOR = 2.5;
/**
 * The tree's shape (processes, sockets, anonymous shared memory): the final dump pays for each
 * whatever the dirty rate, and a one-process estimate missed it (2-5x low for trees and servers).
 * Measured in the lab (services.lab.test.ts' workloads, CRIU 3.17.1 under TCG; see each constant):
 * the per-process part is the dump of each task's non-page state (parasite, VMAs, files, core)
 * from dump.log's timestamps; the restore part from `criu restore`'s wall clock.
 */
export const DEFAULT_DUMP_PER_PROCESS_MS = TREE_COSTS.dumpPerProcessMs;
export const DEFAULT_RESTORE_PER_PROCESS_MS = TREE_COSTS.restorePerProcessMs;
/** Each socket the final dump carries (TCP repair, the network lock's rule, its image). */
export const DEFAULT_DUMP_PER_SOCKET_MS = TREE_COSTS.dumpPerSocketMs;
/** Moving a service address inside the freeze: four journaled commands and arping's wait. */
export const DEFAULT_ADDRESS_MOVE_MS = SERVER_COSTS.addressMoveMs;
/** Restoring established TCP connections: CRIU's network lock and unlock on the target, TCP repair. */
export const DEFAULT_CONNECTIONS_RESTORE_MS = SERVER_COSTS.connectionsRestoreMs;
/**
 * Anonymous shared memory is never in a pre-dump with CRIU 3.17 (pre-dump skips shared
 * mappings) and has no dirty tracking (CRIU_TRACK_SHMEM is off), so the final dump writes all of
 * its allocated pages, each time. Per page (drain and write together) when no pre-dump measured it.
 */
export const DEFAULT_SHMEM_DUMP_MS_PER_PAGE = TREE_COSTS.shmemDumpMsPerPage;

/** A cost the caller measured: ±15% with 3 or more samples, ±30% with fewer. */
export const MEASURED_COST_UNCERTAINTY = { many: 0.15, few: 0.3 } as const;

// ---------------------------------------------------------------------------------------------
// Per-iteration stats

/** The stats-dump fields used here; `DumpStats` from electron/criu/stats.ts fits this shape. */
export interface CriuDumpNumbers {
  freezingTimeUs?: number;
  frozenTimeUs?: number;
  memdumpTimeUs?: number;
  memwriteTimeUs?: number;
  pagesWritten?: number;
  pagesSkippedParent?: number;
}

/**
 * IterationStats plus the host clock start of the CRIU command. The estimate needs it (the
 * interval since the last pre-dump); shared/domain.ts's IterationStats does not carry it yet.
 */
export interface TimedIterationStats extends IterationStats {
  /** Host clock (ms since epoch) when the CRIU command was started. */
  startedAtMs?: number;
}

export interface IterationSample {
  index: number;
  kind: 'pre-dump' | 'dump';
  stats: CriuDumpNumbers;
  /** Host clock, ms since epoch, before and after the CRIU command. */
  startedAtMs: number;
  endedAtMs: number;
}

/** When the tree was frozen (and its dirty bits read), on the host clock. */
export function freezeAtMs(startedAtMs: number, freezingTimeUs: number | undefined): number {
  return startedAtMs + (freezingTimeUs ?? 0) / 1000;
}

/**
 * One iteration's IterationStats from CRIU's stats-dump and the host clock.
 * dirtyPagesPerSec = pages written by this iteration / time between the previous iteration's
 * freeze and this one's (command start + freezing_time); undefined for the first iteration.
 * bandwidthBytesPerSec = pages_written × 4096 / memwrite_time; undefined when memwrite_time is 0.
 */
export function iterationStats(sample: IterationSample, previous?: IterationSample): TimedIterationStats {
  const s = sample.stats;
  const pagesWritten = s.pagesWritten ?? 0;
  const memwriteTimeUs = s.memwriteTimeUs ?? 0;
  const out: TimedIterationStats = {
    index: sample.index,
    kind: sample.kind,
    pagesWritten,
    pagesSkippedParent: s.pagesSkippedParent ?? 0,
    frozenTimeUs: s.frozenTimeUs ?? 0,
    freezingTimeUs: s.freezingTimeUs ?? 0,
    memdumpTimeUs: s.memdumpTimeUs ?? 0,
    memwriteTimeUs,
    wallMs: Math.max(0, sample.endedAtMs - sample.startedAtMs),
    startedAtMs: sample.startedAtMs,
  };
  if (previous) {
    const dt = freezeAtMs(sample.startedAtMs, s.freezingTimeUs) - freezeAtMs(previous.startedAtMs, previous.stats.freezingTimeUs);
    if (dt > 0) out.dirtyPagesPerSec = pagesWritten / (dt / 1000);
  }
  if (memwriteTimeUs > 0) out.bandwidthBytesPerSec = (pagesWritten * PAGE_SIZE) / (memwriteTimeUs / 1e6);
  return out;
}

/**
 * The same as iterationStats, with the predecessor given as the IterationStats already built
 * for it (the engine keeps those): its startedAtMs and freezingTimeUs place its freeze.
 */
export function buildIteration(sample: IterationSample, previous?: TimedIterationStats): TimedIterationStats {
  const prev: IterationSample | undefined =
    previous?.startedAtMs !== undefined
      ? { index: previous.index, kind: previous.kind, stats: { freezingTimeUs: previous.freezingTimeUs }, startedAtMs: previous.startedAtMs, endedAtMs: previous.startedAtMs + previous.wallMs }
      : undefined;
  return iterationStats(sample, prev);
}

/** iterationStats over a whole run, oldest first, each linked to its predecessor. */
export function iterationSeries(samples: readonly IterationSample[]): TimedIterationStats[] {
  return samples.map((s, i) => iterationStats(s, i > 0 ? samples[i - 1] : undefined));
}

// ---------------------------------------------------------------------------------------------
// The estimate

export interface CutoverCosts {
  /** Final dump frozen_time − memdump_time. */
  dumpFixedMs?: number;
  /** Final dump host wall − frozen_time. */
  dumpOverheadMs?: number;
  /** Copying the final images and open files to the target. */
  copyMs?: number;
  restoreMsPerPage?: number;
  restoreFixedMs?: number;
  /**
   * The restore command's fixed part: its host wall minus CRIU's restore_time, the median of
   * the newest past runs. Size does not enter it, so runs of any size teach it; it is the
   * fixed part of every restore term when known.
   */
  restoreOverheadMs?: number;
  /**
   * Each past restore on its own, oldest first: when present the estimate picks
   * from them by size (restoreFromHistory) instead of restoreMsPerPage/restoreFixedMs, so one
   * run of another size, or over the memory cliff, cannot set the rate for this one.
   */
  restoreSamples?: RestoreSample[];
  /**
   * From the decision to cut over to the final dump's start, user hooks left out: the page
   * server, the checks on the target, the guards. Median of past runs.
   */
  cutoverPrepareMs?: number;
  /** How many runs these costs were measured over (narrows their band). */
  samples?: number;
  /** Where the costs come from, in words (e.g. "3 past migrations lab-source → lab-target"). */
  from?: string;
}

// ---------------------------------------------------------------------------------------------
// Restore cost from past runs, robust to size and outliers

export interface RestoreSample {
  pages: number;
  /** Host wall of the restore command. */
  ms: number;
  /** CRIU's own restore_time (stats-restore): the part that grows with the pages. */
  criuMs?: number;
  /** The run's mode: a cold restore of the same size ran 35-50% slower than a pre-copy one in the lab. */
  mode?: string;
  /** When the run started (ISO), for the basis. */
  at?: string;
}

/** Past restores count for this one only within this factor of its size either way. */
export const RESTORE_SIZE_FACTOR = 1.5;
/** Only the newest this many size-matched runs count (the host may have changed since). */
export const RESTORE_RECENT_RUNS = 5;
/** With 3 or more runs, a run whose ms/page is off the median by more than this factor is an outlier. */
export const RESTORE_OUTLIER_FACTOR = 2;

export interface RestoreFromHistory {
  msPerPage: number;
  ms: number;
  /** Relative spread of the runs used (at least the measured-cost floor). */
  rel: number;
  used: RestoreSample[];
  otherSize: number;
  outliers: number;
  older: number;
  note: string;
}

const med = (xs: readonly number[]) => {
  const t = [...xs].sort((a, b) => a - b);
  const m = Math.floor(t.length / 2);
  return t.length % 2 ? t[m]! : (t[m - 1]! + t[m]!) / 2;
};

/**
 * The restore command's fixed part from past runs: host wall minus CRIU's restore_time, the
 * median over the newest RESTORE_RECENT_RUNS runs that have both. Every size teaches it (the
 * guard, the scope and CRIU's start-up cost the same for 64 MiB and for 512 MiB); undefined
 * without such a run.
 */
export function restoreOverheadFromHistory(samples: readonly RestoreSample[]): number | undefined {
  const withCriu = samples.filter((x) => x.criuMs !== undefined && x.ms > 0).slice(-RESTORE_RECENT_RUNS);
  return withCriu.length ? med(withCriu.map((x) => Math.max(0, x.ms - x.criuMs!))) : undefined;
}

/**
 * The restore of `pages` pages from past restores between the same hosts: only runs of a
 * similar size (within RESTORE_SIZE_FACTOR), the newest RESTORE_RECENT_RUNS of them, outliers
 * (ms per page off the median by more than RESTORE_OUTLIER_FACTOR) rejected; the median ms per
 * page of the rest, plus the fixed part `fixedMs`. A run's page part is CRIU's restore_time
 * when recorded, else its wall minus `fixedMs`: a per-page rate taken from the whole wall would
 * spread a fixed cost of seconds over the pages and under-predict smaller restores.
 * Undefined when no past run is of a similar size: a 512 MiB restore over the memory cliff
 * says nothing about a 128 MiB one, and the other way round.
 */
export function restoreFromHistory(samples: readonly RestoreSample[], pages: number, fixedMs = 0, mode?: string): RestoreFromHistory | undefined {
  if (!(pages > 0)) return undefined;
  const valid = samples.filter((x) => x.pages > 0 && x.ms > 0);
  const nearAny = valid.filter((x) => x.pages <= pages * RESTORE_SIZE_FACTOR && x.pages * RESTORE_SIZE_FACTOR >= pages);
  // Runs of this migration's mode when there are any: a cold migration's restore read images the
  // page server had just written during a long freeze, and was slower (lab size sweep).
  const sameMode = mode !== undefined ? nearAny.filter((x) => x.mode === mode) : [];
  const near = sameMode.length ? sameMode : nearAny;
  const otherMode = nearAny.length - near.length;
  const recent = near.slice(-RESTORE_RECENT_RUNS);
  const rate = (x: RestoreSample) => (x.criuMs ?? Math.max(0, x.ms - fixedMs)) / x.pages;
  let used = recent;
  if (recent.length >= 3) {
    const m = med(recent.map(rate));
    used = recent.filter((x) => rate(x) <= m * RESTORE_OUTLIER_FACTOR && rate(x) * RESTORE_OUTLIER_FACTOR >= m);
  }
  const otherSize = valid.length - nearAny.length;
  const older = near.length - recent.length;
  const outliers = recent.length - used.length;
  if (!used.length) return undefined;
  const rates = used.map(rate);
  const msPerPage = med(rates);
  const floor = used.length >= 3 ? MEASURED_COST_UNCERTAINTY.many : MEASURED_COST_UNCERTAINTY.few;
  const rel = spread(rates, floor);
  const sizes = used.map((x) => x.pages);
  const left = [
    otherSize ? `${otherSize} of another size left out` : '',
    otherMode ? `${otherMode} of another mode left out` : '',
    older ? `${older} older left out` : '',
    outliers ? `${outliers} outlier${outliers === 1 ? '' : 's'} rejected` : '',
  ].filter(Boolean);
  const note =
    `restore learned from ${used.length} past run${used.length === 1 ? '' : 's'} of a similar size ` +
    `(${Math.min(...sizes)}–${Math.max(...sizes)} pages, median ${msPerPage.toFixed(4)} ms/page${left.length ? `; ${left.join(', ')}` : ''})` +
    (fixedMs > 0 ? ` + ${formatMs(fixedMs)} fixed` : '');
  return { msPerPage, ms: fixedMs + msPerPage * pages, rel, used, otherSize, outliers, older, note };
}

export interface EstimateInput {
  /** The migration's mode: past restores of the same mode count first. */
  mode?: string;
  /** Iterations so far, oldest first. Only pre-dumps are used (a final dump is the thing predicted). */
  iterations: readonly TimedIterationStats[];
  budgetMs: number;
  /**
   * Host clock (ms) when the final dump would start. Default: the end of the last pre-dump
   * (cut over right away). Needs the last pre-dump's startedAtMs; without it, the final dump is
   * assumed to follow as far behind the last pre-dump as that one followed its predecessor.
   */
  cutoverAtMs?: number;
  /** Alias of cutoverAtMs (the engine passes Date.now() when it estimates a cutover right away). */
  nowMs?: number;
  /**
   * The cutover's preparation is still ahead: from the decision (cutoverAtMs) to the final
   * dump's start Ferry starts the page server, checks the target and arms the guards, and the
   * process dirties pages all along. Adds costs.cutoverPrepareMs (learned) or the lab default
   * to the interval. Off for the estimate made once that work is done, just before the dump.
   */
  prepare?: boolean;
  /**
   * A live count of pages dirtied since the last pre-dump (soft-dirty bits read from
   * /proc/PID/pagemap, which is harmless; never write clear_refs). Projected to cutoverAtMs
   * with the measured rate when `atMs` is given.
   */
  liveDirty?: { pages: number; atMs?: number };
  costs?: CutoverCosts;
  /** Measured restore: page images read on the target during pre-copy, and its MemAvailable. */
  restoreProbe?: RestoreProbe;
  /** What the tree holds (preflight's inventory): the fixed costs a one-process estimate leaves out. */
  tree?: TreeShape;
  /** The plan moves a service address inside the freeze window. */
  movesAddress?: boolean;
  /** The plan's bandwidth cap on the page stream (absent: none). */
  bandwidthCap?: BandwidthCapPlan;
  /** Bandwidth cap: the link measured uncapped before the cap went on (the uncapped final dump's rate). */
  link?: LinkMeasure;
}

/** The tree as the final dump sees it, from preflight's inventory. */
export interface TreeShape {
  processes: number;
  /** TCP, UDP and unix sockets the tree holds. */
  sockets: number;
  /** Established TCP connections (carried with --tcp-established): the restore's network lock. */
  connections?: number;
  /** Allocated pages of anonymous shared memory (counted once per object). */
  sharedPages: number;
}

export type TermName = 'dump-fixed' | 'drain' | 'memwrite' | 'dump-overhead' | 'copy' | 'restore' | 'tree-dump' | 'shared-memory' | 'tree-restore' | 'address-move';

export interface EstimateTerm {
  name: TermName;
  ms: number;
  lowMs: number;
  highMs: number;
  /** 'measured': from this migration's pre-dumps or caller-measured costs; 'default': lab constant. */
  source: 'measured' | 'default';
  detail: string;
  /** Restore only: this migration's probe, the memory cliff, or past runs of a similar size. */
  restoreFrom?: 'probe' | 'cliff' | 'history';
}

/**
 * DowntimeEstimate plus how it was reached. The extra fields are plain data (they can ride in
 * the 'estimate' event); see the report for what the lead may want to move into domain.ts.
 */
export interface DowntimeEstimateDetail extends DowntimeEstimate {
  /** Predicted CRIU frozen_time of the final dump (the source-side freeze). */
  frozen: { ms: number; lowMs: number; highMs: number };
  expectedDirtyPages: number;
  /** The process's pages: iteration 1's pages_written + pages_skipped_parent. */
  totalPages: number;
  dirtyPagesPerSec?: number;
  bandwidthBytesPerSec?: number;
  terms: EstimateTerm[];
  /** How many past migrations the learned costs rest on (absent: nothing learned). */
  learnedFromRuns?: number;
  /** Images + restored process against the target's memory, when its MemAvailable was measured. */
  restoreMemory?: RestoreMemory;
  /** The plan's bandwidth cap, whether it covers the final dump, and pre-copy's convergence under it. */
  bandwidthCap?: {
    bytesPerSecond: number;
    finalDump: boolean;
    convergence?: Convergence;
    /** The rate the final dump's page write was predicted at, and whose it is (the capped pre-dumps', the cap, the uncapped link's). */
    finalDumpBytesPerSecond?: number;
    finalDumpRate?: 'pre-dumps' | 'cap' | 'link';
  };
}

interface Band {
  point: number;
  rel: number;
}

const mean = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0) / (xs.length || 1);

/** Relative spread of a measured series: (max − min) / mean, at least `floor`. */
function spread(xs: readonly number[], floor: number): number {
  if (xs.length < 2) return floor;
  const m = mean(xs);
  if (m <= 0) return floor;
  return Math.max(floor, (Math.max(...xs) - Math.min(...xs)) / m);
}

/**
 * Drain time (memdump − memwrite in a final dump) for `pages`, from the pre-dumps'
 * memdump_time: a least-squares line when the page counts differ enough to fit one,
 * else proportional to the pre-dumps' µs per page.
 */
function drainMs(pre: readonly TimedIterationStats[], pages: number): number {
  const pts = pre.filter((i) => i.pagesWritten > 0).map((i) => [i.pagesWritten, i.memdumpTimeUs / 1000] as const);
  if (pts.length === 0) return 0;
  const xs = pts.map((p) => p[0]);
  if (pts.length >= 2 && Math.max(...xs) > 1.2 * Math.min(...xs)) {
    const mx = mean(xs);
    const my = mean(pts.map((p) => p[1]));
    let sxy = 0;
    let sxx = 0;
    for (const [x, y] of pts) {
      sxy += (x - mx) * (y - my);
      sxx += (x - mx) ** 2;
    }
    const slope = sxy / sxx;
    const intercept = my - slope * mx;
    if (slope > 0 && intercept >= 0) return intercept + slope * pages;
  }
  const perPage = mean(pts.map(([x, y]) => y / x));
  return perPage * pages;
}

export function formatMs(ms: number): string {
  if (!Number.isFinite(ms)) return String(ms);
  const a = Math.abs(ms);
  if (a < 1000) return `${Math.round(ms)} ms`;
  if (a < 10_000) return `${(ms / 1000).toFixed(1)} s`;
  if (a < 60_000) return `${Math.round(ms / 1000)} s`;
  const m = Math.floor(a / 60_000);
  const s = Math.round((a - m * 60_000) / 1000);
  return `${ms < 0 ? '-' : ''}${m} min ${s} s`;
}

export function formatRate(bytesPerSec: number): string {
  const mb = bytesPerSec / 1e6;
  return mb >= 100 ? `${Math.round(mb)} MB/s` : `${mb.toFixed(1)} MB/s`;
}

const pct = (rel: number) => `±${Math.round(rel * 100)}%`;

/**
 * Predict the cutover's freeze window. See the module comment for the equations.
 *
 * `fits` compares the point prediction (not the high end) with the budget, as QEMU compares its
 * expected downtime with downtime-limit: the high end stacks every term's worst case and, with
 * lab defaults at ±50%, would almost never fit. The band and `basis` are there for the user
 * to see how much of the prediction rests on defaults.
 */
/** The final dump's fixed part beyond one process: each further process and each socket. */
export function treeDumpMs(t: TreeShape): number {
  return Math.max(0, t.processes - 1) * DEFAULT_DUMP_PER_PROCESS_MS + Math.max(0, t.sockets) * DEFAULT_DUMP_PER_SOCKET_MS;
}

/** The restore beyond one process: each further process, and the shared pages (not in the pre-dumps' count). */
export function treeRestoreMs(t: TreeShape): number {
  return Math.max(0, t.processes - 1) * DEFAULT_RESTORE_PER_PROCESS_MS + Math.max(0, t.sharedPages) * DEFAULT_RESTORE_MS_PER_PAGE + ((t.connections ?? 0) > 0 ? DEFAULT_CONNECTIONS_RESTORE_MS : 0);
}

export function estimateDowntime(input: EstimateInput): DowntimeEstimateDetail {
  const pre = input.iterations.filter((i) => i.kind === 'pre-dump');
  const costs = input.costs ?? {};
  const costRel = (costs.samples ?? 1) >= 3 ? MEASURED_COST_UNCERTAINTY.many : MEASURED_COST_UNCERTAINTY.few;
  const measuredNotes: string[] = [];
  const defaultNotes: string[] = [];
  const terms: EstimateTerm[] = [];
  const push = (name: TermName, b: Band, source: EstimateTerm['source'], detail: string, lowFactor?: number, highFactor?: number) => {
    const lowMs = lowFactor !== undefined ? b.point * lowFactor : b.point * (1 - b.rel);
    const highMs = highFactor !== undefined ? b.point * highFactor : b.point * (1 + b.rel);
    terms.push({ name, ms: b.point, lowMs: Math.max(0, lowMs), highMs, source, detail });
  };
  const costTerm = (name: TermName, given: number | undefined, dflt: number, what: string) => {
    if (given !== undefined) {
      push(name, { point: given, rel: costRel }, 'measured', `${what} ${formatMs(given)} (measured, ${pct(costRel)})`);
      measuredNotes.push(`${what} ${formatMs(given)}`);
    } else {
      push(name, { point: dflt, rel: DEFAULT_UNCERTAINTY }, 'default', `${what} ${formatMs(dflt)} (lab default, ${pct(DEFAULT_UNCERTAINTY)})`);
      defaultNotes.push(`${what} ${formatMs(dflt)}`);
    }
  };

  const first = pre[0];
  const last = pre[pre.length - 1];
  const totalPages = first ? first.pagesWritten + first.pagesSkippedParent : 0;

  // --- dirty pages expected at cutover
  const rates = pre.map((i) => i.dirtyPagesPerSec).filter((r): r is number => r !== undefined && Number.isFinite(r) && r >= 0);
  const rate = last?.dirtyPagesPerSec;
  const rateRel = spread(rates, MIN_RATE_UNCERTAINTY);
  let pages = 0;
  let pagesLow = 0;
  let pagesHigh = 0;
  let pagesNote = '';
  const decidedAt = input.cutoverAtMs ?? input.nowMs ?? (last?.startedAtMs !== undefined ? last.startedAtMs + last.wallMs : undefined);
  const prepareMs = input.prepare ? Math.max(0, costs.cutoverPrepareMs ?? DEFAULT_CUTOVER_PREPARE_MS) : 0;
  const cutoverAt = decidedAt !== undefined ? decidedAt + prepareMs : undefined;
  const prepareWords = prepareMs > 0 ? ` (with ${formatMs(prepareMs)} to prepare the cutover${costs.cutoverPrepareMs !== undefined ? ', learned' : ', lab default'})` : '';
  const intervalMs = last?.startedAtMs !== undefined && cutoverAt !== undefined ? Math.max(0, cutoverAt - last.startedAtMs) : undefined;
  const cap = (p: number) => Math.min(totalPages, Math.max(0, p));
  if (!last) {
    pagesNote = 'no pre-dump yet: the memory term is unknown';
  } else if (input.liveDirty) {
    const lead = input.liveDirty.atMs !== undefined && cutoverAt !== undefined ? Math.max(0, cutoverAt - input.liveDirty.atMs) / 1000 : 0;
    const extra = rate !== undefined ? rate * lead : 0;
    pages = cap(input.liveDirty.pages + extra);
    pagesLow = cap(input.liveDirty.pages + extra * (1 - rateRel));
    pagesHigh = cap(input.liveDirty.pages + extra * (1 + rateRel));
    pagesNote = `${Math.round(pages)} dirty pages (live soft-dirty count ${input.liveDirty.pages}${lead > 0 ? ` + ${formatMs(lead * 1000)} at the measured rate` : ''})`;
    measuredNotes.push(pagesNote);
  } else if (rate !== undefined) {
    const seconds = intervalMs !== undefined ? intervalMs / 1000 : last.pagesWritten / Math.max(rate, 1e-9);
    pages = cap(rate * seconds);
    pagesLow = cap(rate * (1 - rateRel) * seconds);
    pagesHigh = cap(rate * (1 + rateRel) * seconds);
    const saturated = last.pagesWritten >= 0.9 * totalPages;
    pagesNote =
      `dirty rate ${Math.round(rate)} pages/s (last pre-dump; ${rates.length} measured, ${pct(rateRel)})` +
      (intervalMs !== undefined
        ? ` over ${formatMs(intervalMs)} since the last pre-dump${prepareWords}`
        : ' over an interval as long as the last one (no host clock for the cutover)') +
      ` = ${Math.round(pages)} pages${pages >= totalPages ? ` (capped at the process's ${totalPages} pages)` : ''}` +
      (saturated ? '; the last pre-dump rewrote ≥90% of the process, so the rate is a lower bound' : '');
    measuredNotes.push(pagesNote);
  } else {
    // One pre-dump: no rate yet. Assume everything may be dirty again.
    pages = totalPages;
    pagesLow = 0;
    pagesHigh = totalPages;
    pagesNote = `no dirty rate yet (one pre-dump): assumed all ${totalPages} pages dirty`;
    defaultNotes.push(pagesNote);
  }

  // --- bandwidth to the page server
  const bws = pre.map((i) => i.bandwidthBytesPerSec).filter((b): b is number => b !== undefined && b > 0);
  const sumPages = pre.reduce((a, i) => a + (i.memwriteTimeUs > 0 ? i.pagesWritten : 0), 0);
  const sumWriteS = pre.reduce((a, i) => a + i.memwriteTimeUs, 0) / 1e6;
  const measuredBw = sumWriteS > 0 ? (sumPages * PAGE_SIZE) / sumWriteS : undefined;
  const preBwRel = spread(bws, MIN_BANDWIDTH_UNCERTAINTY);
  // Bandwidth cap: the final dump writes at min(measured, cap) when the cap covers it.
  const capped = capTerms(input.bandwidthCap, measuredBw, last, input.link);
  const bw = capped?.bytesPerSec ?? measuredBw;
  // The uncapped link's rate carries its own band; the pre-dumps' spread otherwise.
  const bwRel = capped?.rel ?? preBwRel;
  if (capped) measuredNotes.push(...capped.notes);

  // --- frozen part of the final dump
  costTerm('dump-fixed', costs.dumpFixedMs, DEFAULT_DUMP_FIXED_MS, 'final-dump fixed part');
  if (last) {
    const d = drainMs(pre, pages);
    const dLow = drainMs(pre, pagesLow) * DRAIN_LOW_FACTOR;
    const dHigh = drainMs(pre, pagesHigh) * DRAIN_HIGH_FACTOR;
    terms.push({
      name: 'drain',
      ms: d,
      lowMs: Math.min(d, dLow),
      highMs: Math.max(d, dHigh),
      source: 'measured',
      detail: `draining ${Math.round(pages)} pages into pipes ${formatMs(d)} (from the pre-dumps' memdump_time; ${DRAIN_LOW_FACTOR}x–${DRAIN_HIGH_FACTOR}x)`,
    });
  }
  if (bw !== undefined) {
    const ms = ((pages * PAGE_SIZE) / bw) * 1000;
    const lowMs = ((pagesLow * PAGE_SIZE) / (bw * (1 + bwRel))) * 1000;
    const highMs = bwRel < 1 ? ((pagesHigh * PAGE_SIZE) / (bw * (1 - bwRel))) * 1000 : ms * 4;
    terms.push({
      name: 'memwrite',
      ms,
      lowMs,
      highMs,
      source: 'measured',
      detail: `writing ${Math.round(pages)} pages at ${formatRate(bw)}${capped?.used === 'link' ? ' (the link measured uncapped)' : capped?.used === 'cap' ? ' (the cap)' : ''} ${formatMs(ms)}`,
    });
    if (capped?.used === 'link') measuredNotes.push(`final dump's bandwidth ${formatRate(bw)} (the link measured uncapped, ${pct(bwRel)}); pre-dumps' bandwidth ${formatRate(measuredBw ?? 0)} under the cap (${bws.length} pre-dump${bws.length === 1 ? '' : 's'})`);
    else measuredNotes.push(`bandwidth ${formatRate(bw)} (${bws.length} pre-dump${bws.length === 1 ? '' : 's'}, ${pct(bwRel)})`);
  } else if (last) {
    defaultNotes.push('no bandwidth measured (memwrite_time 0): memory write time left out');
  }
  // --- the tree's shape: per process, per socket, and the shared memory written whole
  const tree = input.tree;
  if (tree && (tree.processes > 1 || tree.sockets > 0)) {
    const ms = treeDumpMs(tree);
    push('tree-dump', { point: ms, rel: DEFAULT_UNCERTAINTY }, 'default', `${tree.processes - 1} more process(es) × ${DEFAULT_DUMP_PER_PROCESS_MS} ms + ${tree.sockets} socket(s) × ${DEFAULT_DUMP_PER_SOCKET_MS} ms = ${formatMs(ms)} (lab, ${pct(DEFAULT_UNCERTAINTY)})`);
    defaultNotes.push(`tree ${tree.processes} processes, ${tree.sockets} sockets: ${formatMs(ms)}`);
  }
  if (tree && tree.sharedPages > 0) {
    // Measured per page when the pre-dumps drained and wrote pages; CRIU writes it whole each time.
    const d = last ? drainMs(pre, tree.sharedPages) - drainMs(pre, 0) : 0;
    const w = bw !== undefined ? ((tree.sharedPages * PAGE_SIZE) / bw) * 1000 : undefined;
    const measured = last !== undefined && w !== undefined && d > 0;
    const ms = measured ? d + w : tree.sharedPages * DEFAULT_SHMEM_DUMP_MS_PER_PAGE;
    const what = `${tree.sharedPages} pages of shared memory, written whole by the final dump (CRIU pre-dumps skip it)`;
    push('shared-memory', { point: ms, rel: 0 }, measured ? 'measured' : 'default', `${what}: ${formatMs(ms)} (${measured ? "the pre-dumps' drain and bandwidth" : `lab ${DEFAULT_SHMEM_DUMP_MS_PER_PAGE} ms/page`}; ${DRAIN_LOW_FACTOR}x–${DRAIN_HIGH_FACTOR}x)`, DRAIN_LOW_FACTOR, DRAIN_HIGH_FACTOR);
    (measured ? measuredNotes : defaultNotes).push(`${what} ${formatMs(ms)}`);
  }
  const frozenTerms = terms.filter((t) => t.name === 'dump-fixed' || t.name === 'drain' || t.name === 'memwrite' || t.name === 'tree-dump' || t.name === 'shared-memory');
  const frozen = {
    ms: frozenTerms.reduce((a, t) => a + t.ms, 0),
    lowMs: frozenTerms.reduce((a, t) => a + t.lowMs, 0),
    highMs: frozenTerms.reduce((a, t) => a + t.highMs, 0),
  };

  // --- the rest of the window
  costTerm('dump-overhead', costs.dumpOverheadMs, DEFAULT_DUMP_OVERHEAD_MS, 'dump start-up and ssh');
  costTerm('copy', costs.copyMs, DEFAULT_COPY_MS, 'copy of images and files');
  // --- restore: measured on the target when the probe ran, over the cliff when memory is short
  const probe = input.restoreProbe;
  const memory =
    probe?.memAvailableBytes !== undefined && totalPages > 0 ? restoreMemory({ memAvailableBytes: probe.memAvailableBytes, imagesBytes: totalPages * PAGE_SIZE }) : undefined;
  {
    const perPageGiven = costs.restoreMsPerPage !== undefined;
    // The fixed part: learned as wall − CRIU's restore_time when past runs recorded both.
    const fixedGiven = costs.restoreOverheadMs !== undefined || costs.restoreFixedMs !== undefined;
    const fixed = costs.restoreOverheadMs ?? costs.restoreFixedMs ?? DEFAULT_RESTORE_FIXED_MS;
    const warm = msPerPage(probe?.readBytes, probe?.readMs);
    const cold = msPerPage(probe?.coldReadBytes, probe?.coldReadMs);
    const fixedWords = `${formatMs(fixed)}${fixedGiven ? '' : ' (lab default)'}`;
    const history = costs.restoreSamples ? restoreFromHistory(costs.restoreSamples, totalPages, fixed, input.mode) : undefined;
    if (memory && !memory.fits) {
      // At least the lab's cliff rate; more when this target, as measured, restores and reads
      // from disk slower than that (every page then also comes from disk: the O_DIRECT read).
      const measuredPerPage = warm !== undefined ? RESTORE_PER_READ * warm + (cold ?? 0) : undefined;
      const byMeasure = measuredPerPage !== undefined && measuredPerPage > DEFAULT_CLIFF_RESTORE_MS_PER_PAGE;
      const perPage = byMeasure ? measuredPerPage : DEFAULT_CLIFF_RESTORE_MS_PER_PAGE;
      const ms = fixed + perPage * totalPages;
      const rate = byMeasure
        ? `${RESTORE_PER_READ} × the measured cached read ${warm!.toFixed(4)} ms/page${cold !== undefined ? ` + the read from disk ${cold.toFixed(4)} ms/page` : ''}`
        : `the lab's cliff rate ${DEFAULT_CLIFF_RESTORE_MS_PER_PAGE} ms/page`;
      const what = `restore OVER THE MEMORY CLIFF: ${memory.detail}; ${fixedWords} + ${perPage.toFixed(4)} ms/page (${rate}) × ${totalPages} pages = ${formatMs(ms)}`;
      push('restore', { point: ms, rel: 0 }, byMeasure ? 'measured' : 'default', `${what} (${CLIFF_LOW_FACTOR}x–${CLIFF_HIGH_FACTOR}x)`, CLIFF_LOW_FACTOR, CLIFF_HIGH_FACTOR);
      terms[terms.length - 1]!.restoreFrom = 'cliff';
      (byMeasure ? measuredNotes : defaultNotes).push(what);
    } else if (history) {
      // The fixed part swings run to run (2.2–3.7 s in the lab sweep): never narrower than few runs allow.
      const rel = Math.max(history.rel, MEASURED_COST_UNCERTAINTY.few);
      push('restore', { point: history.ms, rel }, 'measured', `${history.note} × ${totalPages} pages = ${formatMs(history.ms)} (${pct(rel)})`);
      terms[terms.length - 1]!.restoreFrom = 'history';
      measuredNotes.push(`${history.note} = ${formatMs(history.ms)}`);
    } else if (warm !== undefined) {
      const perPage = RESTORE_PER_READ * warm;
      const ms = fixed + perPage * totalPages;
      const rel = DEFAULT_UNCERTAINTY;
      const what =
        `restore measured on the target: read ${Math.round(probe!.readBytes / 1048576)} MiB of page images in ${formatMs(probe!.readMs)} ` +
        `(${warm.toFixed(4)} ms/page${cold !== undefined ? `; ${cold.toFixed(4)} ms/page past the page cache` : ''}) × ${RESTORE_PER_READ} (restore per page against that read, lab), ${fixedWords} fixed, × ${totalPages} pages = ${formatMs(ms)}` +
        (memory ? `; ${memory.detail}` : '');
      push('restore', { point: ms, rel }, 'measured', `${what} (${pct(rel)})`);
      terms[terms.length - 1]!.restoreFrom = 'probe';
      measuredNotes.push(what);
    } else {
      // With per-run samples, none of a similar size: the pooled line would be another size's.
      const pooled = costs.restoreSamples ? undefined : costs.restoreMsPerPage;
      const perPage = pooled ?? DEFAULT_RESTORE_MS_PER_PAGE;
      const fixedUsed = costs.restoreSamples ? (costs.restoreOverheadMs ?? DEFAULT_RESTORE_FIXED_MS) : fixed;
      const ms = fixedUsed + perPage * totalPages;
      const measured = pooled !== undefined && fixedGiven;
      const rel = measured ? costRel : DEFAULT_UNCERTAINTY;
      const what = `restore ${formatMs(fixedUsed)} + ${perPage} ms/page × ${totalPages} pages = ${formatMs(ms)}`;
      const otherSizes = costs.restoreSamples?.length ? ` (no past restore of a similar size: ${costs.restoreSamples.length} of other sizes left out)` : '';
      push('restore', { point: ms, rel }, measured ? 'measured' : 'default', `${what} (${measured ? 'measured' : 'lab default'}, ${pct(rel)})${otherSizes}`);
      if (measured) measuredNotes.push(`restore ${formatMs(ms)}`);
      else if (!costs.restoreSamples && (perPageGiven || fixedGiven)) defaultNotes.push(`restore ${formatMs(ms)} (partly default)`);
      else defaultNotes.push(`restore ${formatMs(ms)}${otherSizes}`);
    }
  }

  if (tree && (tree.processes > 1 || tree.sharedPages > 0 || (tree.connections ?? 0) > 0)) {
    const ms = treeRestoreMs(tree);
    const conns = (tree.connections ?? 0) > 0 ? ` + ${tree.connections} TCP connection(s): network lock and repair ${formatMs(DEFAULT_CONNECTIONS_RESTORE_MS)}` : '';
    push('tree-restore', { point: ms, rel: DEFAULT_UNCERTAINTY }, 'default', `restore of ${tree.processes - 1} more process(es) × ${DEFAULT_RESTORE_PER_PROCESS_MS} ms + ${tree.sharedPages} shared pages × ${DEFAULT_RESTORE_MS_PER_PAGE} ms${conns} = ${formatMs(ms)} (lab, ${pct(DEFAULT_UNCERTAINTY)})`);
  }
  if (input.movesAddress) {
    push('address-move', { point: DEFAULT_ADDRESS_MOVE_MS, rel: DEFAULT_UNCERTAINTY }, 'default', `moving the service address ${formatMs(DEFAULT_ADDRESS_MOVE_MS)} (lab, ${pct(DEFAULT_UNCERTAINTY)})`);
    defaultNotes.push(`moving the service address ${formatMs(DEFAULT_ADDRESS_MOVE_MS)}`);
  }
  const predictedMs = terms.reduce((a, t) => a + t.ms, 0);
  const lowMs = terms.reduce((a, t) => a + t.lowMs, 0);
  const highMs = terms.reduce((a, t) => a + t.highMs, 0);
  const fits = last !== undefined && predictedMs <= input.budgetMs;
  const basis =
    (last ? `Measured: ${measuredNotes.join('; ')}.` : 'No pre-dump yet: only fixed costs are counted.') +
    (defaultNotes.length ? ` Defaults (lab, CRIU 3.17.1 under QEMU TCG, ${pct(DEFAULT_UNCERTAINTY)} each): ${defaultNotes.join('; ')}.` : ' No defaults.') +
    (costs.from ? ` Fixed costs learned from ${costs.from}.` : '') +
    ` Predicted CRIU frozen_time ${formatMs(frozen.ms)} (${formatMs(frozen.lowMs)}–${formatMs(frozen.highMs)}).`;
  return {
    predictedMs,
    lowMs,
    highMs,
    budgetMs: input.budgetMs,
    fits,
    basis,
    frozen,
    expectedDirtyPages: pages,
    totalPages,
    dirtyPagesPerSec: rate,
    bandwidthBytesPerSec: bw,
    terms,
    learnedFromRuns: costs.from ? costs.samples : undefined,
    ...(memory ? { restoreMemory: memory } : {}),
    ...(capped ? { bandwidthCap: capped.detail } : {}),
  };
}

// --- Bandwidth cap ---------------------------------------------------------------------------
/** The cap's effect on the estimate: the final dump's rate, the notes for the basis, and pre-copy's convergence under it. */
function capTerms(
  cap: BandwidthCapPlan | undefined,
  measuredBw: number | undefined,
  last: TimedIterationStats | undefined,
  link: LinkMeasure | undefined,
): { bytesPerSec: number | undefined; rel?: number; used?: 'pre-dumps' | 'cap' | 'link'; notes: string[]; detail: NonNullable<DowntimeEstimateDetail['bandwidthCap']> } | undefined {
  if (!cap) return undefined;
  // The final dump: uncapped (the link's rate) unless the cap covers it; pre-copy below: the capped rate.
  const final = finalDumpBandwidth(measuredBw, cap, link);
  const notes = final.note ? [final.note] : [];
  const send = measuredBw === undefined ? cap.bytesPerSecond : Math.min(measuredBw, cap.bytesPerSecond);
  const convergence =
    last?.dirtyPagesPerSec !== undefined
      ? predictConvergence({ startPages: last.pagesWritten, dirtyPagesPerSec: last.dirtyPagesPerSec, sendBytesPerSec: send, fixedMsPerIteration: Math.max(0, last.wallMs - last.memwriteTimeUs / 1000) })
      : undefined;
  if (convergence) notes.push(describeConvergence(convergence, cap, send));
  return {
    bytesPerSec: final.bytesPerSec,
    ...(final.rel !== undefined ? { rel: final.rel } : {}),
    ...(final.used ? { used: final.used } : {}),
    notes,
    detail: {
      bytesPerSecond: cap.bytesPerSecond,
      finalDump: capCoversDump(cap),
      ...(convergence ? { convergence } : {}),
      ...(final.bytesPerSec !== undefined ? { finalDumpBytesPerSecond: final.bytesPerSec } : {}),
      ...(final.used ? { finalDumpRate: final.used } : {}),
    },
  };
}

/**
 * The same prediction without anything learned from past runs: the terms only history supplies
 * (the final dump's fixed part and overhead, the restore) at their lab defaults, the terms this
 * migration measured itself (drain, page writes, the copy timed live) as they were. The
 * difference from `e.predictedMs` is what learning changed.
 */
export function predictionWithDefaultCosts(e: Pick<DowntimeEstimateDetail, 'terms' | 'totalPages'>): number {
  const fallback: Partial<Record<TermName, number>> = {
    'dump-fixed': DEFAULT_DUMP_FIXED_MS,
    'dump-overhead': DEFAULT_DUMP_OVERHEAD_MS,
    restore: DEFAULT_RESTORE_FIXED_MS + DEFAULT_RESTORE_MS_PER_PAGE * e.totalPages,
  };
  // The restore this migration measured itself (its probe, its memory) is not learned: it stays.
  const own = (t: EstimateTerm) => t.name === 'restore' && (t.restoreFrom === 'probe' || t.restoreFrom === 'cliff');
  return e.terms.reduce((sum, t) => sum + (own(t) ? t.ms : (fallback[t.name] ?? t.ms)), 0);
}

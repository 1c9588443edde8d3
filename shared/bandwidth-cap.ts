/**
 * The bandwidth cap on the page stream (plan.bandwidthCap): its words ("20MiB/s"), and what it
 * does to the estimate. Pure math, no Node, no DOM: the engine, the plan file and the renderer
 * share it.
 *
 * A capped page stream sends at most min(link, cap). Two things follow:
 * - the final dump's page write, when the cap covers it, takes pages × 4096 / min(link, cap);
 * - pre-copy converges later, and to a higher floor. Each pre-dump of P pages takes
 *   fixed + P × 4096 / send, and the process dirties `dirty` pages/s meanwhile, so
 *   P' = dirty × (fixed + P / sendPages). With q = dirty / sendPages < 1 that shrinks
 *   geometrically to the floor P* = dirty × fixed / (1 − q); with q ≥ 1 it never shrinks.
 */
import { PAGE_SIZE } from './estimate.ts';

/** When the cap applies: the pre-dumps only (default: the freeze is not lengthened), or the final dump too. */
export type BandwidthCapDuring = 'precopy' | 'precopy-and-dump';

export interface BandwidthCapPlan {
  bytesPerSecond: number;
  /** Absent means 'precopy'. */
  during?: BandwidthCapDuring;
}

/** Bounds: below 64 KiB/s a migration of any size takes hours; tc's rate is a u64 of bytes. */
export const BANDWIDTH_CAP_LIMITS = { min: 64 * 1024, max: 100 * 1024 ** 3 } as const;

const UNITS: Record<string, number> = {
  'B/s': 1,
  'KB/s': 1e3,
  'kB/s': 1e3,
  'MB/s': 1e6,
  'GB/s': 1e9,
  'KiB/s': 1024,
  'MiB/s': 1024 ** 2,
  'GiB/s': 1024 ** 3,
  'bit/s': 1 / 8,
  'kbit/s': 1e3 / 8,
  'Kbit/s': 1e3 / 8,
  'Mbit/s': 1e6 / 8,
  'Gbit/s': 1e9 / 8,
};
const RATE = /^(\d+(?:\.\d+)?)\s*([A-Za-z]+\/s)$/;

/** "20MiB/s", "500 KiB/s", "100Mbit/s" → bytes per second (whole bytes); undefined when not a rate. */
export function parseBandwidth(text: string): number | undefined {
  const m = RATE.exec(text.trim());
  const unit = m ? UNITS[m[2]!] : undefined;
  if (!m || unit === undefined) return undefined;
  const v = Math.round(Number(m[1]) * unit);
  return Number.isFinite(v) && v > 0 ? v : undefined;
}

/** What is wrong with a rate as the user wrote it, or undefined. */
export function bandwidthProblem(text: string): string | undefined {
  const v = parseBandwidth(text);
  if (v === undefined) return 'must be a rate with its unit, like 20MiB/s, 500KiB/s or 100Mbit/s';
  return bytesPerSecondProblem(v);
}

export function bytesPerSecondProblem(v: number): string | undefined {
  if (!Number.isInteger(v) || v < BANDWIDTH_CAP_LIMITS.min) return `must be at least ${formatBandwidth(BANDWIDTH_CAP_LIMITS.min)}`;
  if (v > BANDWIDTH_CAP_LIMITS.max) return `must be at most ${formatBandwidth(BANDWIDTH_CAP_LIMITS.max)}`;
  return undefined;
}

/** Bytes per second as the plan file writes it, exactly (parseBandwidth gives it back): 20MiB/s, 1500KB/s, 12345B/s. */
export function formatBandwidth(bytesPerSecond: number): string {
  for (const [unit, f] of [['GiB/s', 1024 ** 3], ['MiB/s', 1024 ** 2], ['KiB/s', 1024], ['GB/s', 1e9], ['MB/s', 1e6], ['KB/s', 1e3]] as const) {
    if (bytesPerSecond >= f && bytesPerSecond % f === 0) return `${bytesPerSecond / f}${unit}`;
  }
  return `${bytesPerSecond}B/s`;
}

/** For people: "20 MiB/s", "1.5 MiB/s". */
export function describeBandwidth(bytesPerSecond: number): string {
  const mib = bytesPerSecond / 1024 ** 2;
  if (mib >= 1) return `${mib >= 100 ? Math.round(mib) : Number(mib.toFixed(1))} MiB/s`;
  return `${Math.round(bytesPerSecond / 1024)} KiB/s`;
}

export function capCoversDump(cap: BandwidthCapPlan | undefined): boolean {
  return cap?.during === 'precopy-and-dump';
}

/**
 * The migration link measured uncapped, before the cap went on: one timed transfer from the
 * source to the page server's address and port (TLS with the migration's keys when the plan
 * uses TLS), so the final dump, which runs uncapped by default, is not predicted at the rate
 * the cap held the pre-dumps to.
 */
export interface LinkMeasure {
  bytes: number;
  ms: number;
  /** Over TLS, as the page stream goes. */
  tls?: boolean;
}

/** One timed transfer by another program than CRIU: its rate is taken within ±30%. */
export const LINK_MEASURE_UNCERTAINTY = 0.3;

export function linkBytesPerSec(link: LinkMeasure | undefined): number | undefined {
  return link && link.bytes > 0 && link.ms > 0 ? link.bytes / (link.ms / 1000) : undefined;
}

/**
 * The final dump's page-write rate under the plan's cap. With the cap on the final dump too:
 * min(measured, cap) (small pre-dumps can look faster than the cap, their tail sitting in socket
 * buffers). With the cap on pre-copy only, the final dump runs uncapped: at the link's rate
 * measured before the cap went on (never below what the capped pre-dumps managed), with the
 * link measurement's own band `rel`; without that measurement, at the capped pre-dumps' rate,
 * an upper bound on the time, and the note says so. `used` names which rate the final dump got.
 */
export function finalDumpBandwidth(
  measuredBytesPerSec: number | undefined,
  cap: BandwidthCapPlan | undefined,
  link?: LinkMeasure,
): { bytesPerSec: number | undefined; used?: 'pre-dumps' | 'cap' | 'link'; rel?: number; note?: string } {
  if (!cap) return { bytesPerSec: measuredBytesPerSec };
  const c = describeBandwidth(cap.bytesPerSecond);
  if (capCoversDump(cap)) {
    const bw = measuredBytesPerSec === undefined ? cap.bytesPerSecond : Math.min(measuredBytesPerSec, cap.bytesPerSecond);
    return { bytesPerSec: bw, used: bw === measuredBytesPerSec ? 'pre-dumps' : 'cap', note: `the final dump's pages capped at ${c} (min of the measured rate and the cap)` };
  }
  const free = linkBytesPerSec(link);
  const pre = measuredBytesPerSec !== undefined ? `the pre-dumps' ${describeBandwidth(measuredBytesPerSec)}, capped at ${c}, used for pre-copy only` : `the pre-dumps capped at ${c}`;
  if (free !== undefined && link) {
    const how = `${(link.bytes / 1048576).toFixed(1)} MiB in ${Math.round(link.ms)} ms to the page server's port${link.tls ? ' over TLS' : ''}, before the cap went on`;
    if (measuredBytesPerSec !== undefined && measuredBytesPerSec > free) {
      return { bytesPerSec: measuredBytesPerSec, used: 'pre-dumps', note: `the final dump runs uncapped: its pages at the pre-dumps' ${describeBandwidth(measuredBytesPerSec)}, faster than the link measured uncapped (${describeBandwidth(free)}: ${how})` };
    }
    return { bytesPerSec: free, used: 'link', rel: LINK_MEASURE_UNCERTAINTY, note: `the final dump runs uncapped: its pages at the link's ${describeBandwidth(free)} measured uncapped (${how}; ±${Math.round(LINK_MEASURE_UNCERTAINTY * 100)}%); ${pre}` };
  }
  return { bytesPerSec: measuredBytesPerSec, used: 'pre-dumps', note: `the pre-dumps ran capped at ${c} and the link was not measured uncapped; the final dump runs uncapped, so its page write is at most this long` };
}

export interface ConvergenceInput {
  /** Pages the last pre-dump wrote: where the series starts. */
  startPages: number;
  dirtyPagesPerSec: number;
  /** What the page stream sends: min(link, cap) in bytes/s. */
  sendBytesPerSec: number;
  /** Per pre-dump time that does not depend on the pages (criu start-up, freezing, ssh). */
  fixedMsPerIteration: number;
  /** Stop counting after this many pre-dumps. */
  maxIterations?: number;
}

export interface Convergence {
  /** Pages dirtied per page sent: below 1, pre-copy converges. */
  ratio: number;
  converges: boolean;
  /** The least a pre-dump can leave, whatever the number of pre-dumps (converging only). */
  floorPages?: number;
  /** Pre-dumps from startPages until one leaves within 10% of the floor, and how long they take. */
  iterations?: number;
  seconds?: number;
}

/** Where pre-copy goes at this dirty rate and send rate (the module comment's recurrence). */
export function predictConvergence(x: ConvergenceInput): Convergence {
  const sendPages = x.sendBytesPerSec / PAGE_SIZE;
  const ratio = sendPages > 0 ? x.dirtyPagesPerSec / sendPages : Infinity;
  if (!(ratio < 1)) return { ratio, converges: false };
  const fixedS = Math.max(0, x.fixedMsPerIteration) / 1000;
  const floorPages = (x.dirtyPagesPerSec * fixedS) / (1 - ratio);
  const max = x.maxIterations ?? 50;
  let p = x.startPages;
  let seconds = 0;
  let n = 0;
  while (p > floorPages * 1.1 + 1 && n < max) {
    const t = fixedS + p / sendPages;
    seconds += t;
    p = x.dirtyPagesPerSec * t;
    n += 1;
  }
  return { ratio, converges: true, floorPages, iterations: n, seconds };
}

/** The basis's sentence for the convergence under the cap. */
export function describeConvergence(c: Convergence, cap: BandwidthCapPlan, sendBytesPerSec: number): string {
  const head = `pre-copy under the ${describeBandwidth(cap.bytesPerSecond)} cap sends ${describeBandwidth(sendBytesPerSec)}`;
  if (!c.converges) return `${head}, no faster than the process dirties memory (${c.ratio.toFixed(2)} pages dirtied per page sent): it cannot converge under this cap`;
  return (
    `${head} (${c.ratio.toFixed(2)} pages dirtied per page sent): a pre-dump cannot leave fewer than ~${Math.round(c.floorPages!)} pages` +
    (c.iterations ? `, reached in ~${c.iterations} more pre-dump${c.iterations === 1 ? '' : 's'} (~${Math.round(c.seconds!)} s)` : '')
  );
}

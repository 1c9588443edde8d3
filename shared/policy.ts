/**
 * The convergence policy: after each pre-dump, cut over, pre-dump once more, or stop because
 * pre-copy is not converging. A pure function of CRIU's numbers and the downtime estimate.
 *
 * Defaults (`defaultPolicy` in shared/api.ts) and where they come from (docs/CRIU.md):
 * - downtimeBudgetMs 300: QEMU's default downtime-limit (it switches over when the expected
 *   downtime, dirty bytes / bandwidth, is under it).
 * - minPages 64: P.Haul stops pre-dumping when an iteration wrote <= 64 pages (Xen: < 50).
 * - growthThreshold 0.1: P.Haul stops when pages written grew by more than 10% over the
 *   previous iteration: the process dirties memory faster than pre-copy sends it.
 * - maxIterations 8: P.Haul stops after its 9th pre-dump, LXD after 10, Xen after 29; Ferry
 *   stops earlier because every iteration here is a full CRIU run over SSH (seconds each).
 * Flat trend (Ferry's own, not in those tools): the last FLAT_WINDOW pre-dumps all within
 * ±FLAT_BAND of their mean while the estimate does not fit: more iterations will not shrink
 * what is left. The non-converging lab run shows it (33862 → 32993 → 32990 → 32988 pages,
 * never >10% growth, so P.Haul's growth rule alone would have kept going until its limit).
 *
 * Order: cutover (fits, or minPages) wins over every stop rule; then growth, flat, the limit.
 * Fits = the point prediction <= the policy's budget, as in shared/estimate.ts.
 */
import type { ConvergencePolicy, DowntimeEstimate, IterationStats, Recommendation } from './domain.ts';
import { formatMs } from './estimate.ts';

/** Relative band for "flat": every one of the last FLAT_WINDOW pre-dumps within ±5% of their mean. */
export const FLAT_BAND = 0.05;
export const FLAT_WINDOW = 3;

export interface RecommendInput {
  /** Iterations so far, oldest first; only pre-dumps count. */
  iterations: readonly IterationStats[];
  estimate: DowntimeEstimate;
  policy: ConvergencePolicy;
}

const signedPct = (x: number) => `${x >= 0 ? '+' : '−'}${Math.abs(x * 100).toFixed(1)}%`;

export function recommend({ iterations, estimate, policy }: RecommendInput): Recommendation {
  const pre = iterations.filter((i) => i.kind === 'pre-dump');
  const last = pre[pre.length - 1];
  const prev = pre[pre.length - 2];
  const budget = `the ${formatMs(policy.downtimeBudgetMs)} budget`;
  const predicted = `the predicted ${formatMs(estimate.predictedMs)} (${formatMs(estimate.lowMs)}–${formatMs(estimate.highMs)})`;
  const exceeds = `${predicted} exceeds ${budget}`;

  if (!last) return { kind: 'continue', reason: 'No pre-dump yet: nothing measured to decide on.' };

  const trend = prev
    ? `pages written ${prev.pagesWritten} → ${last.pagesWritten}${prev.pagesWritten > 0 ? ` (${signedPct((last.pagesWritten - prev.pagesWritten) / prev.pagesWritten)})` : ''}`
    : `pre-dump 1 wrote ${last.pagesWritten} pages`;

  // The policy's budget is the one that counts (the estimate may have been made against another).
  if (estimate.predictedMs <= policy.downtimeBudgetMs) {
    const risk = estimate.highMs > policy.downtimeBudgetMs ? `; it could reach ${formatMs(estimate.highMs)}` : '';
    return { kind: 'cutover', reason: `${cap(predicted)} fits ${budget} (${trend})${risk}.` };
  }
  if (last.pagesWritten <= policy.minPages) {
    return {
      kind: 'cutover',
      reason:
        `The last pre-dump wrote only ${last.pagesWritten} pages (at most ${policy.minPages}): another pass cannot shrink what is left. ` +
        `${cap(predicted)} ${estimate.predictedMs <= policy.downtimeBudgetMs ? 'fits' : 'exceeds'} ${budget}.`,
    };
  }
  if (prev && prev.pagesWritten > 0 && last.pagesWritten > prev.pagesWritten * (1 + policy.growthThreshold)) {
    const g = (last.pagesWritten - prev.pagesWritten) / prev.pagesWritten;
    return {
      kind: 'not-converging',
      reason:
        `Pages written grew ${prev.pagesWritten} → ${last.pagesWritten} (${signedPct(g)}, more than the ${Math.round(policy.growthThreshold * 100)}% allowed): ` +
        `the process dirties memory faster than pre-copy sends it, and ${exceeds}.`,
    };
  }
  if (pre.length >= FLAT_WINDOW) {
    const window = pre.slice(-FLAT_WINDOW).map((i) => i.pagesWritten);
    const m = window.reduce((a, b) => a + b, 0) / window.length;
    if (m > 0 && window.every((x) => Math.abs(x - m) <= FLAT_BAND * m)) {
      return {
        kind: 'not-converging',
        reason: `Pages written ${window.join(' → ')} (flat, within ±${Math.round(FLAT_BAND * 100)}%) and ${exceeds}: more pre-dumps will not shrink it.`,
      };
    }
  }
  if (pre.length >= policy.maxIterations) {
    return {
      kind: 'not-converging',
      reason: `${pre.length} pre-dumps, the maximum of ${policy.maxIterations}, and ${exceeds} (${trend}).`,
    };
  }
  return { kind: 'continue', reason: `${cap(trend)} and ${exceeds}: another pre-dump should shrink it.` };
}

function cap(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}

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
 * Fits = the band's upper edge <= the policy's budget, unless the policy's
 * cutoverWhen is 'prediction' (then the point prediction, as shared/estimate.ts's `fits`):
 * auto mode must not stake a window on the optimistic half of the band without being told to.
 * With the band rule, "minPages" no longer cuts over over budget: it stops, and
 * onNotConverging says what happens then (journaled with this reason).
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
  // Cutover rule: by default the band's upper edge must fit, not just the prediction.
  const rule = policy.cutoverWhen ?? 'band';
  const edgeMs = rule === 'band' ? estimate.highMs : estimate.predictedMs;
  const fits = edgeMs <= policy.downtimeBudgetMs;
  if (fits) {
    const risk = rule === 'prediction' && estimate.highMs > policy.downtimeBudgetMs ? `; it could reach ${formatMs(estimate.highMs)}` : '';
    const what = rule === 'band' ? `${cap(predicted)}: even the band's upper edge fits ${budget}` : `${cap(predicted)} fits ${budget}`;
    return { kind: 'cutover', reason: `${what} (${trend})${risk}.` };
  }
  const unfit =
    rule === 'band' && estimate.predictedMs <= policy.downtimeBudgetMs
      ? `${predicted} fits ${budget}, but the band's upper edge ${formatMs(estimate.highMs)} does not (cutting over on the prediction is the policy's cutover_when: prediction)`
      : exceeds;
  if (last.pagesWritten <= policy.minPages) {
    // Another pass cannot help; with the band rule that is a stop, and on_not_converging decides.
    if (rule === 'band') {
      return {
        kind: 'not-converging',
        reason: `The last pre-dump wrote only ${last.pagesWritten} pages (at most ${policy.minPages}): another pass cannot shrink what is left, and ${unfit}.`,
      };
    }
    return {
      kind: 'cutover',
      reason:
        `The last pre-dump wrote only ${last.pagesWritten} pages (at most ${policy.minPages}): another pass cannot shrink what is left. ` +
        `${cap(predicted)} exceeds ${budget}.`,
    };
  }
  if (prev && prev.pagesWritten > 0 && last.pagesWritten > prev.pagesWritten * (1 + policy.growthThreshold)) {
    const g = (last.pagesWritten - prev.pagesWritten) / prev.pagesWritten;
    return {
      kind: 'not-converging',
      reason:
        `Pages written grew ${prev.pagesWritten} → ${last.pagesWritten} (${signedPct(g)}, more than the ${Math.round(policy.growthThreshold * 100)}% allowed): ` +
        `the process dirties memory faster than pre-copy sends it, and ${unfit}.`,
    };
  }
  if (pre.length >= FLAT_WINDOW) {
    const window = pre.slice(-FLAT_WINDOW).map((i) => i.pagesWritten);
    const m = window.reduce((a, b) => a + b, 0) / window.length;
    if (m > 0 && window.every((x) => Math.abs(x - m) <= FLAT_BAND * m)) {
      return {
        kind: 'not-converging',
        reason: `Pages written ${window.join(' → ')} (flat, within ±${Math.round(FLAT_BAND * 100)}%) and ${unfit}: more pre-dumps will not shrink it.`,
      };
    }
  }
  if (pre.length >= policy.maxIterations) {
    return {
      kind: 'not-converging',
      reason: `${pre.length} pre-dumps, the maximum of ${policy.maxIterations}, and ${unfit} (${trend}).`,
    };
  }
  return { kind: 'continue', reason: `${cap(trend)} and ${unfit}: another pre-dump should shrink it.` };
}

function cap(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}

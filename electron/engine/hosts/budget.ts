import type { CheckResult, MigrationPlan } from '../../../shared/domain.ts';
import { estimateDowntime, formatMs, type CutoverCosts } from '../../../shared/estimate.ts';

/**
 * Budgets under emulation: a cutover cannot freeze the process for less than its fixed costs
 * (dump start-up, the final dump's fixed part, the copy, the restore's fixed part), whatever
 * pre-copy achieves. When the budget is below that floor (as the estimate will predict it:
 * costs learned from past migrations between these hosts, else the lab defaults), the policy
 * can never see a cutover fit and the migration ends "not converging". Say so before starting,
 * with the smallest budget that could fit.
 */
export function budgetCheck(plan: MigrationPlan, costs?: CutoverCosts): CheckResult | undefined {
  if (plan.mode === 'postcopy') return undefined; // its freeze window has no page copy and no restore of every page
  const floor = estimateDowntime({ iterations: [], budgetMs: plan.policy.downtimeBudgetMs, costs });
  const budget = plan.policy.downtimeBudgetMs;
  const basis = costs?.from ? `costs learned from ${costs.from}` : 'lab defaults, measured under QEMU TCG emulation; past migrations between these hosts replace them';
  const parts = floor.terms.map((t) => `${t.name} ${formatMs(t.ms)}`).join(' + ');
  const title = 'Downtime budget';
  const host = `${plan.source} → ${plan.target}`;
  if (floor.predictedMs <= budget) {
    return { id: 'downtime-budget', host: plan.target, title, status: 'pass', detail: `the fixed costs of a cutover ${host} (${formatMs(floor.predictedMs)}) fit the budget of ${formatMs(budget)}` };
  }
  const smallest = Math.ceil(floor.predictedMs / 100) * 100;
  return {
    id: 'downtime-budget',
    host: plan.target,
    title,
    status: 'warn',
    detail:
      `a cutover ${host} cannot freeze the process for less than about ${formatMs(floor.predictedMs)} (${parts}; ${basis}), ` +
      `above the budget of ${formatMs(budget)}: no prediction will fit, and the policy will stop pre-copy as not converging.`,
    fix: `Use a budget of at least ${smallest}ms (--max-downtime ${smallest}ms; plan: policy.downtime_budget), or cut over by hand when the pages written stop falling.`,
  };
}

import { describe, expect, it } from 'vitest';
import { newPlan } from '../../../shared/api.ts';
import { estimateDowntime, type CutoverCosts } from '../../../shared/estimate.ts';
import { budgetCheck } from './budget.ts';

describe('a downtime budget below what any cutover between these hosts can reach', () => {
  const plan = newPlan({ source: 'lab-source', target: 'lab-target', pid: 50000 });

  it('the default 300 ms budget with the lab defaults (TCG): a warning with the smallest budget that could fit', () => {
    expect(plan.policy.downtimeBudgetMs).toBe(300);
    const floor = estimateDowntime({ iterations: [], budgetMs: 300 }).predictedMs;
    const c = budgetCheck(plan)!;
    expect(c.status).toBe('warn');
    expect(c.detail).toContain('not converging');
    expect(c.detail).toContain('lab defaults');
    const smallest = Number(/--max-downtime (\d+)ms/.exec(c.fix!)?.[1]);
    // The smallest budget is the floor the estimate will predict, rounded up: 100 ms less is below it.
    expect(smallest).toBeGreaterThanOrEqual(floor);
    expect(budgetCheck({ ...plan, policy: { ...plan.policy, downtimeBudgetMs: smallest } })!.status).toBe('pass');
    expect(smallest - 100).toBeLessThan(floor);
  });

  it('uses the costs learned from past migrations between the hosts, and passes a budget they fit', () => {
    const learned: CutoverCosts = { dumpFixedMs: 30, dumpOverheadMs: 20, copyMs: 100, restoreFixedMs: 40, restoreMsPerPage: 0.002, samples: 3, from: '3 past migrations lab-source → lab-target' };
    const c = budgetCheck(plan, learned)!;
    expect(c.status).toBe('pass');
    const tight = budgetCheck({ ...plan, policy: { ...plan.policy, downtimeBudgetMs: 150 } }, learned)!;
    expect(tight.status).toBe('warn');
    expect(tight.detail).toContain('learned from 3 past migrations');
    expect(tight.fix).toContain('--max-downtime 200ms');
  });

  it('stays out of post-copy, whose freeze window has no such floor', () => {
    expect(budgetCheck({ ...plan, mode: 'postcopy' })).toBeUndefined();
  });
});

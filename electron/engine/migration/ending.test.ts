import { describe, expect, it } from 'vitest';
import type { Outcome } from '../../../shared/api.ts';
import type { IterationStats } from '../../../shared/domain.ts';
import { ending, endingSummary, whereItRuns, type EndingFacts } from './ending.ts';

const facts = (over: Partial<EndingFacts> = {}): EndingFacts => ({
  plan: { source: 'src', target: 'dst', pid: 4242, healthCheck: { kind: 'tcp', port: 80 } },
  phase: 'committed',
  rollbackProblems: [],
  sourceFrozen: false,
  iterations: [{ kind: 'pre-dump' } as IterationStats, { kind: 'pre-dump' } as IterationStats, { kind: 'dump' } as IterationStats],
  ...over,
});

describe('how a migration ended', () => {
  it('a committed pre-copy runs on the target, in its scope, and says so with the pre-dumps counted', () => {
    const f = facts({ scope: 'ferry-x', freezeWindowMs: 812, predictedAtCutover: 700 });
    expect(ending(f, 'committed')).toBe('committed');
    expect(whereItRuns(f, 'committed')).toEqual({ runsOn: 'dst', unit: 'ferry-x.scope' });
    const s = endingSummary(f, 'committed');
    expect(s).toContain('PID 4242 now runs on dst');
    expect(s).toContain('freeze window 812 ms (predicted 700 ms) after 2 pre-dump(s)');
    expect(s).toContain('ferry-x.scope');
    expect(s).not.toContain('No health check');
  });

  it('a commit without a health check says only presence was checked', () => {
    const f = facts({ plan: { ...facts().plan, healthCheck: { kind: 'none' } } });
    expect(endingSummary(f, 'committed')).toContain("only the process's presence on the target was checked");
  });

  it('a recovered commit counts the pre-dumps the journal knew, not this engine\'s', () => {
    const f = facts({ recoveredCutover: { preDumps: 5 }, iterations: [] });
    expect(endingSummary(f, 'committed')).toMatch(/after 5 pre-dump\(s\), committed on recovery/);
  });

  it('post-copy past its point of no return stays on the target even when it failed', () => {
    const f = facts({ phase: 'failed', postcopy: { pastPointOfNoReturn: true, pages: { done: 10, total: 10 }, lastPageMs: 90 } });
    expect(ending(f, 'failed')).toBe('only-on-target');
    expect(whereItRuns(f, 'failed')).toEqual({ runsOn: 'dst' });
    expect(endingSummary(f, 'failed', { code: 'x', message: 'boom' })).toBe('Failed (boom) after every page arrived: PID 4242 exists only on dst; check it there.');
  });

  it('a rollback that could not finish names no host and lists what it could not undo', () => {
    const f = facts({ phase: 'failed', rollbackProblems: ['resuming the source on src: ssh lost'] });
    expect(ending(f, 'failed')).toBe('rollback-incomplete');
    expect(whereItRuns(f, 'failed')).toEqual({});
    expect(endingSummary(f, 'failed')).toBe('Failed; rollback incomplete: resuming the source on src: ssh lost.');
    // A frozen source with no rollback problems recorded is still not a clean ending.
    expect(ending(facts({ phase: 'failed', sourceFrozen: true }), 'failed')).toBe('rollback-unchecked');
  });

  it('a failure before anything was frozen leaves the process on the source', () => {
    const f = facts({ phase: 'failed' });
    expect(whereItRuns(f, 'failed')).toEqual({ runsOn: 'src' });
    expect(endingSummary(f, 'failed', { code: 'preflight-failed', message: 'no criu' })).toBe('Failed (no criu). Nothing was changed on src or dst.');
  });

  it('the sentence says "rollback incomplete" exactly when runsOn names no host', () => {
    const cases: [EndingFacts, Outcome][] = [
      [facts(), 'committed'],
      [facts({ phase: 'rolled-back' }), 'rolled-back'],
      [facts({ phase: 'failed' }), 'failed'],
      [facts({ phase: 'failed', sourceFrozen: true }), 'failed'],
      [facts({ phase: 'failed', rollbackProblems: ['x'] }), 'failed'],
    ];
    for (const [f, o] of cases) {
      expect(endingSummary(f, o).includes('rollback incomplete'), `${ending(f, o)}`).toBe(whereItRuns(f, o).runsOn === undefined);
    }
  });
});

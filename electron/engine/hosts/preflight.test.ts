import { describe, expect, it } from 'vitest';
import { parseFeatureCheckDetailed } from '../../criu/index.ts';
import { readText } from '../../criu/test-fixtures.ts';
import { featuresFor, parseRouteSource } from './preflight.ts';

describe('preflight for post-copy', () => {
  it('asks the target, and only the target, for uffd-noncoop', () => {
    expect(featuresFor('postcopy', 'target')).toEqual(['uffd-noncoop']);
    expect(featuresFor('postcopy', 'source')).toEqual([]);
    expect(featuresFor('precopy', 'target')).toEqual(['mem_dirty_track']);
    expect(featuresFor('cold', 'target')).toEqual([]);
  });

  it('reads the real `criu check --feature uffd-noncoop` answer (fixtures/criu/check)', () => {
    const out = readText('check/06-feature-uffd-noncoop.txt');
    expect(parseFeatureCheckDetailed(out, 0, 'uffd-noncoop').status).toBe('supported');
  });

  it("finds the source's address on the route to the target", () => {
    expect(parseRouteSource('10.0.0.2 dev ens4 src 10.0.0.1 uid 0 \n    cache \n')).toBe('10.0.0.1');
    expect(parseRouteSource('fd00::2 from :: dev eth1 proto kernel src fd00::1 metric 256 pref medium')).toBe('fd00::1');
    expect(parseRouteSource('RTNETLINK answers: Network is unreachable')).toBeUndefined();
  });
});

import { describe, expect, it } from 'vitest';
import { newPlan } from '../../../shared/api.ts';
import { confirmPostcopyRisk, planFromOptions, probeFlags, summaryLine } from './migrate.ts';
import { describeEvent } from '../progress.ts';
import { summarizeProbe, withProbeDefaults } from '../../../shared/probe.ts';

const postcopy = newPlan({ source: 'alpha', target: 'beta', pid: 4242, targetAddress: '10.0.0.2', mode: 'postcopy' });

describe('post-copy needs the user to accept the risk first', () => {
  it('refuses without --accept-postcopy-risk and without a terminal, naming both hosts', async () => {
    const err = await confirmPostcopyRisk(postcopy, {}, undefined).catch((e) => e);
    expect(err.code).toBe('postcopy-risk-not-accepted');
    expect(err.message).toMatch(/if alpha dies or the link between them drops before the last page arrives, the process is lost/);
    expect(err.hint).toMatch(/--accept-postcopy-risk/);
  });

  it('asks on a terminal: only "yes" starts it', async () => {
    const asked: string[] = [];
    const ask = (answer: string) => async (q: string) => (asked.push(q), answer);
    await expect(confirmPostcopyRisk(postcopy, {}, ask('no'))).rejects.toMatchObject({ code: 'postcopy-risk-not-accepted' });
    await expect(confirmPostcopyRisk(postcopy, {}, ask(' YES '))).resolves.toBeUndefined();
    expect(asked[0]).toMatch(/^WARNING: Post-copy runs the process on beta/);
  });

  it('does not ask with the flag, nor for pre-copy or cold', async () => {
    const never = async () => {
      throw new Error('asked');
    };
    await expect(confirmPostcopyRisk(postcopy, { acceptPostcopyRisk: true }, never)).resolves.toBeUndefined();
    await expect(confirmPostcopyRisk({ ...postcopy, mode: 'precopy' }, {}, never)).resolves.toBeUndefined();
    await expect(confirmPostcopyRisk({ ...postcopy, mode: 'cold' }, {}, undefined)).resolves.toBeUndefined();
  });
});

// --- Service probe (client-visible downtime) -------------------------------------------------
describe('service probe in the CLI', () => {
  const attempts = [...'ooxxxoo'].map((c, i) => ({ startMs: i * 50, endMs: i * 50 + 1, ok: c === 'o' }));
  const result = summarizeProbe({ probe: withProbeDefaults({ kind: 'tcp', target: '10.0.2.20:6379', from: 'lab-target' }), startedAt: 'T', attempts });

  it('--json carries the probe in the summary line; the live view says the gap once, at the end', () => {
    const line = summaryLine({ migrationId: 'm', outcome: 'committed', iterations: [], bytesThroughConsole: 0, freezeWindowMs: 900, serviceProbe: result });
    expect(line.serviceProbe).toMatchObject({ attempts: 7, failures: 3, longestGap: { ms: 201, recovered: true } });
    expect(summaryLine({ migrationId: 'm', outcome: 'committed', iterations: [], bytesThroughConsole: 0 }).serviceProbe).toBeNull();
    const ev = { type: 'service-probe', migrationId: 'm', result, at: 'T' } as const;
    expect(describeEvent({ ...ev, live: true })).toBeUndefined();
    expect(describeEvent(ev)).toBe('   service probe: longest gap clients saw: 201 ms (tcp 10.0.2.20:6379 from lab-target; 3 of 7 attempts failed)');
  });

  it('flags: a kind and target turn it on; both kinds, or an adjustment alone, are refused', () => {
    expect(planFromOptions({ ...flags, probeTcp: '10.0.2.20:6379', probeTimeout: '0.5s' }).serviceProbe).toEqual({ kind: 'tcp', target: '10.0.2.20:6379', from: 'local', intervalMs: 50, timeoutMs: 500 });
    expect(planFromOptions(flags).serviceProbe).toBeUndefined();
    expect(() => probeFlags({ probeTcp: 'a:1', probeHttp: 'http://a/' })).toThrow(/exclude each other/);
    expect(() => planFromOptions({ ...flags, probeInterval: '20ms' })).toThrow(/--probe-tcp HOST:PORT or --probe-http URL/);
  });
});
const flags = { source: 'a', target: 'b', pid: 42, mode: 'precopy', maxDowntime: '300ms', maxIterations: 8, onNotConverging: 'rollback', port: 27000, workDir: '/var/lib/ferry', sync: [] } as const satisfies Parameters<typeof planFromOptions>[0];

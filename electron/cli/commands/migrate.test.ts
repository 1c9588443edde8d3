import { describe, expect, it } from 'vitest';
import { newPlan } from '../../../shared/api.ts';
import { confirmPostcopyRisk } from './migrate.ts';

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

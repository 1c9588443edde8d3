import { describe, expect, it } from 'vitest';
import { describeEvent } from './progress.ts';

describe('describeEvent: the restore while it runs', () => {
  it('prints the pages the restore loaded, with the freeze so far against the prediction', () => {
    const line = describeEvent({
      type: 'transfer',
      migrationId: 'm',
      label: 'restore on lab-target: pages loaded, freeze 2.4 s of 3.0 s predicted (band up to 4.6 s)',
      doneBytes: 66_377 * 4096,
      totalBytes: 132_755 * 4096,
    });
    expect(line).toBe('   restore on lab-target: pages loaded, freeze 2.4 s of 3.0 s predicted (band up to 4.6 s): 66377 of 132755 pages (49%)');
  });

  it('prints the note that the window passed the band, as a policy decision', () => {
    const line = describeEvent({ type: 'decision', migrationId: 'm', by: 'policy', action: 'restore past its band', reason: 'The freeze window has lasted 4.7 s, past the band…', at: 'x' });
    expect(line).toMatch(/^ {3}decision \(policy\): restore past its band — The freeze window has lasted 4\.7 s/);
  });

  it('the copy of images (no page count) is still left to the transfer bar', () => {
    expect(describeEvent({ type: 'transfer', migrationId: 'm', label: 'images and open files, a → b', doneBytes: 10, totalBytes: 10 })).toBeUndefined();
  });
});

import { describe, expect, it } from 'vitest';
import { buildProgram } from '../main.ts';
import { rehearsalEnding } from './rehearse.ts';

describe('how a rehearsal ends with the lab', () => {
  it('takes down a lab it started, and says so', () => {
    const end = rehearsalEnding({ startedLab: true, keepLab: false, pid: 50000, committed: true });
    expect(end.takeDown).toBe(true);
    expect(end.lines.join('\n')).toMatch(/taking both VMs down.*--keep-lab/);
  });

  it('keeps it with --keep-lab and says it is still up, what to try next, and `ferry lab down`', () => {
    const end = rehearsalEnding({ startedLab: true, keepLab: true, pid: 50000, committed: true });
    expect(end.takeDown).toBe(false);
    const text = end.lines.join('\n');
    expect(text).toContain('still up');
    expect(text).toContain('runs on lab-target as PID 50000');
    expect(text).toContain('--source lab-target --target lab-source --pid 50000');
    expect(text).toContain('ferry lab down');
  });

  it('never takes down a lab that was up before it, and after a rollback points at the source', () => {
    const end = rehearsalEnding({ startedLab: false, keepLab: false, pid: 50000, committed: false });
    expect(end.takeDown).toBe(false);
    expect(end.lines.join('\n')).toMatch(/was up before/);
    expect(end.lines.join('\n')).toContain('--source lab-source --target lab-target');
  });

  it('offers --keep-lab on the command line', () => {
    const rehearse = buildProgram().commands.find((c) => c.name() === 'rehearse')!;
    expect(rehearse.options.map((o) => o.long)).toContain('--keep-lab');
  });
});

import { describe, expect, it } from 'vitest';
import { describeBoot, ProgressDisplay } from './lab.ts';

describe('lab progress display (not a TTY)', () => {
  it('prints one line per step with elapsed time, and throttles running fractions', () => {
    let out = '';
    const d = new ProgressDisplay({ write: (s: string) => (out += s) }, false);
    d.on({ step: 'image', message: 'building' });
    d.on({ step: 'debootstrap', message: 'retrieve 1/100', fraction: 0.1 });
    d.on({ step: 'debootstrap', message: 'retrieve 11/100', fraction: 0.2 });
    d.on({ step: 'ssh', message: 'waiting for SSH on source and target (2 s)', active: true });
    d.on({ step: 'ssh', message: 'waiting for SSH on source and target (4 s)', active: true });
    d.on({ step: 'ssh', host: 'source', message: 'answers SSH', done: true });
    d.stop();
    const lines = out.trim().split('\n');
    expect(lines).toHaveLength(4);
    expect(lines[0]).toMatch(/^\[\s+\d+\.\ds\] image: building$/);
    expect(lines[1]).toContain('debootstrap: retrieve 1/100 10%');
    expect(lines[2]).toContain('waiting for SSH on source and target (2 s)');
    expect(lines[3]).toContain('ssh[source]: answers SSH');
    expect(out).not.toContain('\r');
  });
});

describe('how `ferry lab up` says each VM came up', () => {
  it('names a resume, a first save, and a cold boot with the reason a resume was not possible', () => {
    expect(describeBoot({ how: 'resumed', clockSkewMs: 12 })).toBe('resumed from its saved post-boot state; clock set from the host (12 ms off), random generator reseeded');
    expect(describeBoot({ how: 'resumed', saved: true, clockSkewMs: -3 })).toContain('(saved just now after a cold boot)');
    expect(describeBoot({ how: 'cold' })).toBe('cold boot');
    expect(describeBoot({ how: 'cold', fallback: 'resume failed: qemu exited while loading the saved state of source' })).toBe(
      'cold boot (resume failed: qemu exited while loading the saved state of source)',
    );
  });
});

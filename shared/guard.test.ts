import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, test } from 'vitest';
import { mayRestore, settle, targetLeaseLost, type Settlement } from './guard.ts';
import { ALL_INPUTS, NAMED_CASES } from '../electron/engine/migration/guard/settle-cases.ts';

const GUARD_PY = fileURLToPath(new URL('../electron/engine/migration/guard/guard.py', import.meta.url));

function pythonSettle(inputs: unknown[]): Settlement[] {
  const out = execFileSync('python3', [GUARD_PY, 'settle-table'], { input: JSON.stringify(inputs), encoding: 'utf8' });
  return out.trim().split('\n').map((l) => JSON.parse(l) as Settlement);
}

describe('settle: the guards decision', () => {
  test.each(NAMED_CASES)('$name', (k) => {
    const d = settle(k.input);
    expect({ answer: d.answer, targetNext: d.targetNext, source: d.source }).toEqual({ answer: k.answer, targetNext: k.targetNext, source: k.source });
  });

  test('guard.py decides exactly as shared/guard.ts, on every input', () => {
    const py = pythonSettle(ALL_INPUTS);
    expect(py).toHaveLength(ALL_INPUTS.length);
    ALL_INPUTS.forEach((input, i) => expect({ input, ...py[i] }).toEqual({ input, ...settle(input) }));
  });

  test('the invariant holds on every input', () => {
    for (const input of ALL_INPUTS) {
      const d = settle(input);
      const copyMayRunOnTarget = input.treeOnTarget || ['restoring', 'restored', 'committed', 'kept'].includes(input.target);
      // Never resume the source while a restored copy may run on the target; the target then refuses restores.
      if (d.source === 'resume') expect([copyMayRunOnTarget, d.targetNext]).toEqual([false, 'aborted']);
      // Never drop the target's images or copy when the source's copy is gone.
      if (input.sourceTree === 'gone') expect(d.targetNext === 'aborted' && input.target !== 'aborted').toBe(false);
      // Kill the source only when the target keeps a copy (or is past the commit point).
      if (d.source === 'kill') expect(['kept', 'committed']).toContain(d.targetNext);
      // Past the commit point nothing on the target is ever given up.
      if (input.target === 'committed') expect(d.targetNext).toBe('committed');
    }
  });

  test('restores start only while armed and leased; a lost lease aborts only a target that never restored', () => {
    expect(mayRestore('waiting', true)).toBe(true);
    expect(mayRestore('waiting', false)).toBe(false);
    expect(mayRestore('aborted', true)).toBe(false);
    expect(targetLeaseLost('waiting')).toBe('aborted');
    expect(targetLeaseLost('restoring')).toBe('restoring');
    expect(targetLeaseLost('restored')).toBe('restored');
  });
});

/**
 * A cancelled job (SIGTERM) or a lost terminal (SIGHUP) rolls the migration back instead of
 * ending the CLI at once with the source possibly frozen. The whole path (a real CLI killed
 * mid-pre-copy against the lab) runs in migration.lab.test.ts's full lab.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { guardInterrupt } from './migrate.ts';

describe('the CLI on signals during a migration', () => {
  let unguard: (() => void) | undefined;
  afterEach(() => {
    unguard?.();
    unguard = undefined;
  });

  it.each(['SIGTERM', 'SIGHUP'] as const)('%s asks the engine to roll back, without a question', (signal) => {
    const before = process.listenerCount(signal);
    const control = vi.fn();
    const stderr = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    unguard = guardInterrupt(control);
    expect(process.listenerCount(signal)).toBe(before + 1);
    process.emit(signal, signal);
    stderr.mockRestore();
    expect(control).toHaveBeenCalledExactlyOnceWith('rollback');
    unguard();
    unguard = undefined;
    // Once the migration has ended the CLI's own handlers are gone: a later signal ends it as usual.
    expect(process.listenerCount(signal)).toBe(before);
  });

  it('SIGINT without a terminal rolls back too', () => {
    const tty = process.stdin.isTTY;
    Object.defineProperty(process.stdin, 'isTTY', { value: false, configurable: true });
    const control = vi.fn();
    const stderr = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    try {
      unguard = guardInterrupt(control);
      process.emit('SIGINT', 'SIGINT');
    } finally {
      stderr.mockRestore();
      Object.defineProperty(process.stdin, 'isTTY', { value: tty, configurable: true });
    }
    expect(control).toHaveBeenCalledExactlyOnceWith('rollback');
  });
});

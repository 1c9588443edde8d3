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

  /** Run with stdin a terminal or not, as the CLI would find it. */
  function withTty<T>(tty: boolean, f: () => T): T {
    const was = process.stdin.isTTY;
    Object.defineProperty(process.stdin, 'isTTY', { value: tty, configurable: true });
    try {
      return f();
    } finally {
      Object.defineProperty(process.stdin, 'isTTY', { value: was, configurable: true });
    }
  }

  it.each(['SIGTERM', 'SIGHUP'] as const)('%s (in a terminal) asks the engine to roll back, without a question', (signal) => {
    const before = process.listenerCount(signal);
    const control = vi.fn();
    const stderr = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    unguard = withTty(true, () => guardInterrupt(control));
    expect(process.listenerCount(signal)).toBe(before + 1);
    process.emit(signal, signal);
    stderr.mockRestore();
    expect(control).toHaveBeenCalledExactlyOnceWith('rollback');
    unguard();
    unguard = undefined;
    // Once the migration has ended the CLI's own handlers are gone: a later signal ends it as usual.
    expect(process.listenerCount(signal)).toBe(before);
  });

  it('leaves SIGHUP alone without a terminal (nohup ignores it on purpose); SIGTERM still rolls back', () => {
    const hup = process.listenerCount('SIGHUP');
    const term = process.listenerCount('SIGTERM');
    unguard = withTty(false, () => guardInterrupt(vi.fn()));
    expect(process.listenerCount('SIGHUP')).toBe(hup);
    expect(process.listenerCount('SIGTERM')).toBe(term + 1);
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

/**
 * How long each step of a migration may take, and how large a restore's log may grow. A step
 * that overruns its bound is a failure Ferry rolls back from, never a migration that hangs;
 * a restore that loops writing its log is killed before it fills the target's disk. Every
 * step of the protocol (migration.ts, postcopy, the measurements during pre-copy) reads its
 * bound from here.
 */

/** Bounds for every CRIU step: a step that overruns is a failure we roll back from, not a hang. */
export const STEP_TIMEOUTS = {
  pageServer: 60_000,
  preDump: 10 * 60_000,
  dump: 10 * 60_000,
  copy: 10 * 60_000,
  restore: 5 * 60_000,
  verify: 30_000,
} as const;
/**
 * A restore whose parent images vanished loops forever writing its log (LAB.md). RLIMIT_FSIZE
 * in 512-byte blocks (256 MiB) kills it with SIGXFSZ long before the disk fills.
 */
export const LOG_LIMIT_BLOCKS = 512 * 1024;

/** `argv` run with its file size limited to LOG_LIMIT_BLOCKS (`name` is the shell's $0, seen in ps). */
export function withLogLimit(name: string, argv: string[]): string[] {
  return ['sh', '-c', 'ulimit -f "$1"; shift; exec "$@"', name, String(LOG_LIMIT_BLOCKS), ...argv];
}

import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { LOG_LIMIT_BLOCKS, withLogLimit } from './limits.ts';

describe('the restore log limit', () => {
  it('runs the command itself with RLIMIT_FSIZE at LOG_LIMIT_BLOCKS, its arguments untouched', () => {
    const [sh, ...args] = withLogLimit('ferry-test', ['sh', '-c', 'ulimit -f; printf "%s|" "$@"', 'x', 'a b', '$1']);
    const out = execFileSync(sh!, args, { encoding: 'utf8' });
    expect(out).toBe(`${LOG_LIMIT_BLOCKS}\na b|$1|`);
  });
});

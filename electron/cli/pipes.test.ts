import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { createJournal } from '../engine/journal/journal.ts';
import { MIGRATION_ID, convergingEvents } from '../engine/journal/journal.fixture.ts';

const bin = path.resolve(import.meta.dirname, 'bin.js');
const home = mkdtempSync(path.join(os.tmpdir(), 'ferry-pipes-'));
const env = { ...process.env, FERRY_HOME: home };
// A real journal (the recorded converging lab run) so list, report and runbook have output.
const j = createJournal(MIGRATION_ID, { env });
for (const e of convergingEvents()) j.append(e.event);
j.close();

/** Run the real CLI with the reader of one stream gone before it writes (`| head -0`). */
function withClosedReader(args: string[], closed: 'stdout' | 'stderr'): Promise<{ code: number | null; other: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [bin, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    child[closed].destroy();
    let other = '';
    const open = closed === 'stdout' ? child.stderr : child.stdout;
    open.on('data', (b: Buffer) => (other += b.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, other }));
  });
}

describe('a reader that goes away', () => {
  for (const args of [['journal', 'list'], ['journal', 'report', MIGRATION_ID], ['journal', 'runbook', MIGRATION_ID], ['--help']]) {
    it(`stops \`ferry ${args.join(' ')}\` quietly, with its own exit code`, async () => {
      const r = await withClosedReader(args, 'stdout');
      expect(r.other).not.toMatch(/EPIPE|Unhandled|at /);
      expect(r.other).toBe('');
      expect(r.code).toBe(0);
    });
  }

  it('writes an error to a stderr nobody reads without a trace, and still exits 1', async () => {
    const r = await withClosedReader(['journal', 'report', '2026-01-01T00-00-00Z-abcdef'], 'stderr');
    expect(r.other).toBe('');
    expect(r.code).toBe(1);
  });
});

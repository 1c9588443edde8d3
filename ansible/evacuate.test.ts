/**
 * The evacuation playbook with the real ansible-playbook (Debian's ansible-core) and the real
 * CLI, without a lab: hosts that refuse connections make every migration fail fast in its
 * preflight, which is enough to prove the rollout rules (checks before anything starts,
 * batches, the stop after more than N failures, the summary). The lab test proves the moves.
 */
import { execa } from 'execa';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ANSIBLE_DIR, FERRY_CLI, PLAYBOOK, runEvacuation } from './testing.ts';

const root = mkdtempSync(path.join(os.tmpdir(), 'ferry-evacuate-'));
const env = { ...process.env, FERRY_HOME: path.join(root, 'home'), HOME: path.join(root, 'user') };
// Two aliases on a port where nothing listens: `ferry migrate` fails at once, in preflight.
mkdirSync(path.join(root, 'home', 'config'), { recursive: true });
mkdirSync(path.join(root, 'user'), { recursive: true });
writeFileSync(path.join(root, 'home', 'config', 'ssh_config'), 'Host gone-a gone-b\n  HostName 127.0.0.1\n  Port 9\n');

/** A plan file written by `ferry plan new`, as a user would. */
async function planFile(name: string, pid: number, extra: string[] = []): Promise<string> {
  const r = await execa(FERRY_CLI[0]!, [...FERRY_CLI.slice(1), 'plan', 'new', '--source', 'gone-a', '--target', 'gone-b', '--pid', String(pid), ...extra], { env });
  const file = path.join(root, `${name}.yaml`);
  writeFileSync(file, r.stdout);
  return file;
}

const journals = () => (existsSync(path.join(env.FERRY_HOME, 'data', 'journals')) ? readdirSync(path.join(env.FERRY_HOME, 'data', 'journals')) : []);

describe('the evacuation playbook (ansible-playbook, no lab)', () => {
  it('passes ansible-playbook --syntax-check', async () => {
    const r = await execa('ansible-playbook', ['--syntax-check', PLAYBOOK], { cwd: ANSIBLE_DIR, env, reject: false, all: true });
    expect(r.exitCode, r.all).toBe(0);
  });

  it('starts nothing when one plan file has a problem, and names its line', async () => {
    const good = await planFile('good', 50001);
    const bad = path.join(root, 'bad.yaml');
    writeFileSync(bad, 'source: gone-a\ntarget: gone-b\nprocess: { pid: 50002 }\ndowntime_budget: soon\n');
    const before = journals().length;
    const r = await runEvacuation({ plans: [good, bad], runDir: path.join(root, 'run-bad'), env });
    expect(r.exitCode).not.toBe(0);
    expect(r.output).toContain('Nothing was started');
    expect(r.output).toContain(`${bad}:4:`);
    expect(r.output).toContain('downtime_budget');
    expect(r.rows).toBeUndefined();
    expect(journals().length).toBe(before);
  }, 120_000);

  it('refuses two plans that move the same process', async () => {
    const a = await planFile('twice-1', 50010);
    const b = await planFile('twice-2', 50010, ['--port', '27001']);
    const r = await runEvacuation({ plans: [a, b], runDir: path.join(root, 'run-twice'), env });
    expect(r.exitCode).not.toBe(0);
    expect(r.output).toContain('more than one plan moves gone-a PID 50010');
    expect(r.rows).toBeUndefined();
  }, 120_000);

  it('stops starting batches after more than ferry_max_failures failures; the summary lists every plan', async () => {
    const plans = [await planFile('web-1', 50021), await planFile('web-2', 50022), await planFile('web-3', 50023)];
    const runDir = path.join(root, 'run-stop');
    const r = await runEvacuation({ plans, runDir, env, parallel: 1, maxFailures: 0 });
    // The run fails (a process did not move), after printing the table.
    expect(r.exitCode, r.output).toBe(2);
    expect(r.rows?.map((x) => [x.plan, x.outcome])).toEqual([
      ['web-1', 'failed'],
      ['web-2', 'not-started'],
      ['web-3', 'not-started'],
    ]);
    const [first, second] = r.rows!;
    // What Ferry said, and where the process is: untouched on its source.
    expect(first!.error).toMatch(/^host-unreachable: .*127\.0\.0\.1:9/);
    expect(first!.runs_on).toBe('gone-a');
    expect(first!.pid).toBe(50021);
    expect(first!.freeze_window_ms).toBeNull();
    expect(journals()).toContain(`${first!.migration_id}.jsonl`);
    expect(second!.error).toContain('the rollout stopped after more than 0 failure(s)');
    expect(second!.runs_on).toBe('gone-a');
    // The table as printed, and as kept beside the event streams.
    expect(r.table).toMatch(/^plan\s+process\s+outcome\s+freeze window\s+runs on now\s+migration$/m);
    expect(r.table).toMatch(/^web-1\s+gone-a PID 50021 -> gone-b\s+failed\s+-\s+gone-a\s+\S+$/m);
    expect(r.table).toContain('0 of 3 moved');
    for (const line of r.table!.trim().split('\n')) expect(r.output).toContain(line);
    // Only the first plan ran: its events are kept, the others never started.
    expect(readdirSync(runDir).sort()).toEqual(['summary.json', 'summary.txt', 'web-1.jsonl']);
  }, 180_000);
});

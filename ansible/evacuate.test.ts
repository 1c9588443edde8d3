/**
 * The evacuation playbook with the real ansible-playbook (Debian's ansible-core) and the real
 * CLI, without a lab: hosts that refuse connections make every migration fail fast in its
 * preflight, which is enough to prove the rollout rules (checks before anything starts,
 * batches, the stop after more than N failures, the summary). The lab test proves the moves.
 */
import { execa } from 'execa';
import { appendFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import net from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { ANSIBLE_DIR, FERRY_CLI, PLAYBOOK, runEvacuation } from './testing.ts';

const root = mkdtempSync(path.join(os.tmpdir(), 'ferry-evacuate-'));
const env = { ...process.env, FERRY_HOME: path.join(root, 'home'), HOME: path.join(root, 'user') };
// Two aliases on a port where nothing listens: `ferry migrate` fails at once, in preflight.
mkdirSync(path.join(root, 'home', 'config'), { recursive: true });
mkdirSync(path.join(root, 'user'), { recursive: true });
writeFileSync(path.join(root, 'home', 'config', 'ssh_config'), 'Host gone-a gone-b\n  HostName 127.0.0.1\n  Port 9\n');
// A host that accepts the connection and never says a word (its port is set once it listens).
const held = new Set<net.Socket>();
const silent = net.createServer((s) => (held.add(s), s.on('error', () => undefined)));
afterAll(() => {
  for (const s of held) s.destroy();
  silent.close();
  rmSync(root, { recursive: true, force: true });
});

/** A plan file written by `ferry plan new`, as a user would. */
async function planFile(name: string, pid: number, extra: string[] = [], hosts = ['gone-a', 'gone-b']): Promise<string> {
  const r = await execa(FERRY_CLI[0]!, [...FERRY_CLI.slice(1), 'plan', 'new', '--source', hosts[0]!, '--target', hosts[1]!, '--pid', String(pid), ...extra], { env });
  const file = path.join(root, `${name}.yaml`);
  writeFileSync(file, r.stdout);
  return file;
}

const journals = () => (existsSync(path.join(env.FERRY_HOME, 'data', 'journals')) ? readdirSync(path.join(env.FERRY_HOME, 'data', 'journals')) : []);

describe('the evacuation playbook (ansible-playbook, no lab)', () => {
  it('passes ansible-playbook --syntax-check', async () => {
    const r = await execa('ansible-playbook', ['--syntax-check', PLAYBOOK], { cwd: ANSIBLE_DIR, env, reject: false, all: true });
    expect(r.exitCode, r.all).toBe(0);
    // ansible.cfg applies: no inventory guessed from the directory, no warnings.
    expect(r.all).not.toContain('WARNING');
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

  // One rollout shows every way a migration can end short of a commit, and the stop rule:
  // the first batch of three all fail (more than the two allowed), so the last two never start.
  it('reports each plan that did not move, and stops starting batches after more than ferry_max_failures', async () => {
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    const port = (silent.address() as net.AddressInfo).port;
    appendFileSync(path.join(root, 'home', 'config', 'ssh_config'), `Host mute-a mute-b\n  HostName 127.0.0.1\n  Port ${port}\n  ConnectTimeout 120\n`);
    const plans = [
      await planFile('web-1', 50021), // refused connection: fails in preflight
      await planFile('lazy', 50030, ['--mode', 'postcopy']), // ferry refuses to start it: post-copy risk not accepted
      await planFile('cut', 50040, [], ['mute-a', 'mute-b']), // ferry waits on a silent host and is killed
      await planFile('web-2', 50022),
      await planFile('web-3', 50023),
    ];
    const runDir = path.join(root, 'run-stop');
    // coreutils' timeout kills a ferry still running after 20 s, as a job's deadline would.
    const r = await runEvacuation({ plans, runDir, env, parallel: 3, maxFailures: 2, cli: ['timeout', '-s', 'KILL', '20', ...FERRY_CLI] });
    // The run fails (a process did not move), after printing the table.
    expect(r.exitCode, r.output).toBe(2);
    expect(r.rows?.map((x) => [x.plan, x.outcome, x.runs_on])).toEqual([
      ['web-1', 'failed', 'gone-a'],
      ['lazy', 'did-not-start', 'gone-a'],
      ['cut', 'unfinished', null],
      ['web-2', 'not-started', 'gone-a'],
      ['web-3', 'not-started', 'gone-a'],
    ]);
    const [web1, lazy, cut, web2] = r.rows!;
    // What Ferry said, and where the process is.
    expect(web1!.error).toMatch(/^host-unreachable: .*127\.0\.0\.1:9/);
    expect(web1!).toMatchObject({ pid: 50021, freeze_window_ms: null, exit_code: 1 });
    expect(journals()).toContain(`${web1!.migration_id}.jsonl`);
    expect(lazy!.error).toContain('--accept-postcopy-risk');
    expect(lazy!.migration_id).toBeNull();
    // Killed halfway: its journal exists, and the summary says how to finish it.
    expect(cut!.exit_code).toBe(137);
    expect(cut!.migration_id).toMatch(/^\d{4}-/);
    expect(cut!.error).toContain(`ferry journal recover ${cut!.migration_id}`);
    expect(journals()).toContain(`${cut!.migration_id}.jsonl`);
    expect(web2!.error).toContain('the rollout stopped after more than 2 failure(s)');
    // The table as printed, and as kept beside the event streams.
    expect(r.table).toMatch(/^plan\s+process\s+outcome\s+freeze window\s+runs on now\s+migration$/m);
    expect(r.table).toMatch(/^web-1\s+gone-a PID 50021 -> gone-b\s+failed\s+-\s+gone-a\s+\S+$/m);
    expect(r.table).toMatch(/^cut\s.*unfinished\s+-\s+UNKNOWN: check both hosts/m);
    expect(r.table).toContain('0 of 5 moved');
    for (const line of r.table!.trim().split('\n')) expect(r.output).toContain(line);
    // Only the first batch ran: its event streams are kept, the others never started.
    expect(readdirSync(runDir).sort()).toEqual(['cut.jsonl', 'lazy.jsonl', 'summary.json', 'summary.txt', 'web-1.jsonl']);
  }, 180_000);
});

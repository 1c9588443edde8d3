/**
 * Choosing what to move: `ferry ps`'s program run for real on this machine's /proc, the
 * selectors' parsing, and the plan file and flags that carry a selector and a port range.
 */
import { execFileSync, spawn } from 'node:child_process';
import net from 'node:net';
import { afterAll, describe, expect, test } from 'vitest';
import { newPlan, planSchema } from '../../../shared/api.ts';
import { describeSelector, portRangeOf } from '../../../shared/domain.ts';
import { planFromOptions, portRangeOption } from '../../cli/commands/migrate.ts';
import { checkPlanYaml, overridePlan, parsePlanYaml, renderPlanYaml } from '../plans/plan-file.ts';
import { candidatesArgv, candidatesTable, filterCandidates, parseCandidates, parseSelected, selectorArgv } from './candidates.ts';
import { parseListeningPorts } from '../migration/claims.ts';

describe('ferry ps: the candidates program on a real /proc', () => {
  const child = spawn('sleep', ['60'], { stdio: 'ignore' });
  const server = net.createServer();
  afterAll(() => {
    child.kill('SIGKILL');
    server.close();
  });

  test('lists this test process with its child in its tree, its memory and the port it listens on', async () => {
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    const port = (server.address() as net.AddressInfo).port;
    const rows = parseCandidates(execFileSync(candidatesArgv[0]!, candidatesArgv.slice(1), { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 }));
    const me = rows.find((c) => c.pid === process.pid);
    expect(me).toBeDefined();
    expect(me!.tree).toBeGreaterThanOrEqual(2);
    expect(me!.listening).toContain(port);
    expect(me!.rssKiB).toBeGreaterThan(1024);
    expect(me!.treeRssKiB).toBeGreaterThanOrEqual(me!.rssKiB);
    expect(me!.sessionLeader).toBe(me!.sid === me!.pid);
    const sleeper = rows.find((c) => c.pid === child.pid)!;
    expect(sleeper).toMatchObject({ ppid: process.pid, command: 'sleep 60', tree: 1, listening: [] });
    // No kernel threads (kthreadd's children have no command line).
    expect(rows.some((c) => c.pid === 2 || c.ppid === 2)).toBe(false);
    expect(filterCandidates(rows, 'sleep 60').map((c) => c.pid)).toContain(child.pid);
    const table = candidatesTable([sleeper]);
    expect(table.split('\n')[0]).toMatch(/^PID +TREE +RSS +LEADER +LISTEN +UNIT +USER +COMMAND$/);
    expect(table.split('\n')[1]).toMatch(new RegExp(`^${child.pid} +1 +\\d+M +(yes|no) +- +\\S+ +\\S+ +sleep 60$`));
  });

  test('ss -Hltn: the local port of each listener', () => {
    const out = 'LISTEN 0      128          0.0.0.0:22         0.0.0.0:*\nLISTEN 0      4096            [::]:27000            [::]:*\nLISTEN 0 5 127.0.0.1%lo:53 0.0.0.0:*\n';
    expect([...parseListeningPorts(out)]).toEqual([22, 27000, 53]);
  });
});

describe('selectors', () => {
  const unit = { kind: 'unit', unit: 'redis-server.service' } as const;
  const pidfile = { kind: 'pidfile', path: '/run/app.pid' } as const;

  test('the commands, never a shell', () => {
    expect(selectorArgv(unit)).toEqual(['systemctl', 'show', '--property=MainPID', '--value', '--', 'redis-server.service']);
    expect(selectorArgv(pidfile)).toEqual(['cat', '--', '/run/app.pid']);
  });

  test("systemctl's MainPID, and why there is none", () => {
    expect(parseSelected(unit, 0, '1234\n', '')).toEqual({ pid: 1234 });
    expect(parseSelected(unit, 0, '0\n', '')).toEqual({ problem: 'unit redis-server.service has no main process (not running, not loaded, or Type=oneshot)' });
    expect(parseSelected(unit, 1, '', 'Failed to connect to bus\n')).toEqual({ problem: 'systemctl show failed (exit 1): Failed to connect to bus' });
  });

  test('a pidfile: its first line', () => {
    expect(parseSelected(pidfile, 0, '50100\n', '')).toEqual({ pid: 50100 });
    expect(parseSelected(pidfile, 0, 'hello\n', '')).toEqual({ problem: '/run/app.pid holds no PID on its first line ("hello")' });
    expect(parseSelected(pidfile, 1, '', 'cat: /run/app.pid: No such file or directory\n')).toEqual({ problem: 'could not read /run/app.pid: cat: /run/app.pid: No such file or directory' });
  });

  test('the plan schema: a unit name is not a shell word; a range holds a pair', () => {
    const base = newPlan({ source: 'a', target: 'b', pid: 0 });
    expect(planSchema.safeParse({ ...base, select: unit }).success).toBe(true);
    expect(planSchema.safeParse({ ...base, select: { kind: 'unit', unit: 'x; rm -rf /' } }).success).toBe(false);
    expect(planSchema.safeParse({ ...base, select: { kind: 'unit', unit: '--help' } }).success).toBe(false);
    expect(planSchema.safeParse({ ...base, select: { kind: 'pidfile', path: 'run/app.pid' } }).success).toBe(false);
    expect(planSchema.safeParse({ ...base, portRange: { first: 27000, last: 27000 } }).success).toBe(false);
    expect(portRangeOf(base)).toEqual({ first: 27000, last: 27099 });
    expect(portRangeOf({ ...base, portRange: { first: 30000, last: 30009 } })).toEqual({ first: 30000, last: 30009 });
    expect(describeSelector({ pid: 0, select: unit })).toBe('unit redis-server.service');
  });
});

describe('plan files and flags carry the selector and the range', () => {
  const file = (process: string, pageServer = '') => `source: a\ntarget: b\nprocess: ${process}\n${pageServer}`;

  test('process: { unit } and { pidfile }, page_server.port_range; they round-trip', () => {
    const p = parsePlanYaml(file('{ unit: redis-server.service }', 'page_server: { port: 27000, port_range: 27000-27049 }\n'), 'p.yaml');
    expect(p.pid).toBe(0);
    expect(p.select).toEqual({ kind: 'unit', unit: 'redis-server.service' });
    expect(p.portRange).toEqual({ first: 27000, last: 27049 });
    expect(parsePlanYaml(renderPlanYaml(p), 'p.yaml')).toEqual(p);
    expect(renderPlanYaml(p)).toMatch(/^process: \{ unit: redis-server.service \}$/m);
    expect(renderPlanYaml(p)).toMatch(/port_range: 27000-27049/);
    const q = parsePlanYaml(file('{ pidfile: /run/app.pid }'), 'q.yaml');
    expect(q.select).toEqual({ kind: 'pidfile', path: '/run/app.pid' });
    expect(parsePlanYaml(renderPlanYaml(q), 'q.yaml')).toEqual(q);
    // Old plans stay as they were: no selector, no range written.
    const old = parsePlanYaml(file('{ pid: 42 }'), 'o.yaml');
    expect(old.select).toBeUndefined();
    expect(renderPlanYaml(old).split('\n').filter((l) => !l.startsWith('#')).join('\n')).not.toMatch(/port_range|unit|pidfile/);
  });

  test('problems point at the line, with the next step', () => {
    const both = checkPlanYaml(file('{ pid: 42, unit: x.service }'));
    expect(both.ok).toBe(false);
    if (!both.ok) expect(both.issues[0]).toMatchObject({ line: 3, path: 'process', message: 'give one of pid, unit or pidfile (not pid and unit)' });
    const range = checkPlanYaml(file('{ pid: 42 }', 'page_server: { port_range: 27000 }\n'));
    if (!range.ok) expect(range.issues[0]).toMatchObject({ line: 4, path: 'page_server.port_range', message: 'must be a range of ports like 27000-27099' });
    else expect.unreachable('a single port is not a range');
    const badUnit = checkPlanYaml(file('{ unit: "a b" }'));
    if (!badUnit.ok) expect(badUnit.issues[0]).toMatchObject({ line: 3, path: 'process.unit', message: expect.stringMatching(/not a systemd unit name/) });
    else expect.unreachable('a unit name with a space');
    const zero = checkPlanYaml(file('{ pid: 0 }'));
    expect(zero.ok).toBe(false);
  });

  test('flags: --unit or --pidfile instead of --pid; --pid over a file with a selector replaces it', () => {
    const flags = { source: 'a', target: 'b', mode: 'precopy', maxDowntime: '300ms', maxIterations: 8, onNotConverging: 'rollback', port: 27000, workDir: '/var/lib/ferry', sync: [] as string[] } as const;
    expect(planFromOptions({ ...flags, unit: 'nginx.service', portRange: portRangeOption('27100-27199') })).toMatchObject({ pid: 0, select: { kind: 'unit', unit: 'nginx.service' }, portRange: { first: 27100, last: 27199 } });
    expect(() => planFromOptions({ ...flags, pid: 1, unit: 'nginx.service' })).toThrow(/--pid and --unit exclude each other/);
    expect(() => planFromOptions({ ...flags, unit: 'a.service', pidfile: '/run/a.pid' })).toThrow(/--unit and --pidfile exclude each other/);
    expect(() => planFromOptions(flags)).toThrow(/Name the process: --pid N, --unit NAME or --pidfile PATH/);
    expect(() => portRangeOption('27000')).toThrow(/like 27000-27099/);
    expect(() => portRangeOption('27010-27000')).toThrow();
    const withUnit = parsePlanYaml(file('{ unit: redis-server.service }'), 'p.yaml');
    const byPid = overridePlan(withUnit, { pid: 77 });
    expect(byPid.pid).toBe(77);
    expect(byPid.select).toBeUndefined();
    expect(overridePlan(parsePlanYaml(file('{ pid: 42 }'), 'p.yaml'), { select: { kind: 'pidfile', path: '/run/x.pid' } })).toMatchObject({ pid: 0, select: { kind: 'pidfile', path: '/run/x.pid' } });
  });
});

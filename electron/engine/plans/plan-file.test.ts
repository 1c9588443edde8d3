import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { defaultPolicy, planSchema } from '../../../shared/api.ts';
import type { MigrationPlan } from '../../../shared/domain.ts';
import { FerryError } from '../../../shared/errors.ts';
import { buildProgram } from '../../cli/main.ts';
import { planFileWithFlags } from '../../cli/commands/migrate.ts';
import { checkPlanYaml, loadPlanFile, overridePlan, parsePlanYaml, PlanFileError, renderPlanYaml, showMs, showPercent, validatePlan } from './plan-file.ts';

const FULL = `# Ferry migration plan
source: lab-source
target: lab-target
process: { pid: 50000 }          # later: a selector by command name; for now pid
mode: precopy                    # precopy | cold
downtime_budget: 300ms           # "300ms", "1.5s"
policy: { max_iterations: 8, growth_threshold: 10%, min_pages: 64, on_not_converging: rollback }
page_server: { address: 10.0.0.2, port: 27000 }
work_dir: /var/lib/ferry
file_sync: [/etc/app.conf]
health_check: { command: [curl, -fsS, http://127.0.0.1:8080/health], timeout: 10s }   # or { tcp: 8080 } or { http: URL, status: 200 } or none
retention: delete-on-commit
auto: true
shell_job: false
tcp_established: false
`;

const FULL_PLAN: MigrationPlan = {
  source: 'lab-source',
  target: 'lab-target',
  pid: 50000,
  mode: 'precopy',
  shellJob: false,
  tcpEstablished: false,
  policy: { downtimeBudgetMs: 300, maxIterations: 8, growthThreshold: 0.1, minPages: 64, onNotConverging: 'rollback' },
  auto: true,
  pageServerPort: 27000,
  targetAddress: '10.0.0.2',
  workDir: '/var/lib/ferry',
  fileSync: ['/etc/app.conf'],
  healthCheck: { kind: 'command', argv: ['curl', '-fsS', 'http://127.0.0.1:8080/health'], timeoutMs: 10000 },
  retention: 'delete-on-commit',
};

const MINIMAL = 'source: a\ntarget: b\nprocess: { pid: 42 }\n';

/** The error parsePlanYaml throws for text. */
function errorOf(text: string, file = 'plan.yaml'): PlanFileError {
  try {
    parsePlanYaml(text, file);
  } catch (e) {
    expect(e).toBeInstanceOf(PlanFileError);
    expect(e).toBeInstanceOf(FerryError);
    expect((e as FerryError).code).toBe('plan-invalid');
    return e as PlanFileError;
  }
  throw new Error(`expected ${JSON.stringify(text)} to be refused`);
}

describe('parsePlanYaml', () => {
  test('a full file maps every field', () => {
    expect(parsePlanYaml(FULL, 'plan.yaml')).toStrictEqual(FULL_PLAN);
  });

  test('missing optional fields take the documented defaults', () => {
    expect(parsePlanYaml(MINIMAL, 'plan.yaml')).toStrictEqual({
      source: 'a',
      target: 'b',
      pid: 42,
      mode: 'precopy',
      shellJob: false,
      tcpEstablished: false,
      policy: { ...defaultPolicy },
      auto: false,
      pageServerPort: 27000,
      targetAddress: 'b',
      workDir: '/var/lib/ferry',
      fileSync: [],
      healthCheck: { kind: 'none' },
      retention: 'delete-on-commit',
    });
    // Part of a mapping keeps the defaults for the rest.
    const p = parsePlanYaml(`${MINIMAL}policy: { max_iterations: 3 }\npage_server: { port: 28000 }\ndowntime_budget: 1.5s\n`, 'plan.yaml');
    expect(p.policy).toStrictEqual({ ...defaultPolicy, maxIterations: 3, downtimeBudgetMs: 1500 });
    expect([p.pageServerPort, p.targetAddress]).toEqual([28000, 'b']);
  });

  test('preflight inventory options: absent means off and auto; bad values are named', () => {
    const p = parsePlanYaml(MINIMAL, 'p');
    expect([p.fileLocks, p.extUnixSk, p.networkLock]).toEqual([undefined, undefined, undefined]);
    const q = parsePlanYaml(`${MINIMAL}file_locks: true\next_unix_sk: true\nnetwork_lock: nftables\n`, 'p');
    expect([q.fileLocks, q.extUnixSk, q.networkLock]).toEqual([true, true, 'nftables']);
    expect(errorOf(`${MINIMAL}network_lock: pf\n`).message).toMatch(/network_lock/);
    expect(errorOf(`${MINIMAL}file_locks: yes please\n`).message).toMatch(/file_locks/);
  });

  test('health checks: none, tcp, http; block style works as well as flow', () => {
    expect(parsePlanYaml(`${MINIMAL}health_check: none\n`, 'p').healthCheck).toStrictEqual({ kind: 'none' });
    expect(parsePlanYaml(`${MINIMAL}health_check: { tcp: 8080 }\n`, 'p').healthCheck).toStrictEqual({ kind: 'tcp', port: 8080 });
    expect(parsePlanYaml(`${MINIMAL}health_check:\n  http: http://127.0.0.1:8080/health\n  status: 204\n  timeout: 2s\n`, 'p').healthCheck).toStrictEqual({
      kind: 'http',
      url: 'http://127.0.0.1:8080/health',
      expectStatus: 204,
      timeoutMs: 2000,
    });
    expect(parsePlanYaml(`${MINIMAL}file_sync:\n  - /etc/a\n  - /etc/b c\n`, 'p').fileSync).toEqual(['/etc/a', '/etc/b c']);
  });

  test('policy.cutover_when: band or prediction; absent is band; anything else names the choices', () => {
    expect(parsePlanYaml(`${MINIMAL}policy: { cutover_when: prediction }\n`, 'p').policy.cutoverWhen).toBe('prediction');
    expect(parsePlanYaml(`${MINIMAL}policy: { cutover_when: band }\n`, 'p').policy.cutoverWhen).toBe('band');
    expect(parsePlanYaml(MINIMAL, 'p').policy.cutoverWhen).toBeUndefined();
    const e = errorOf(`${MINIMAL}policy: { cutover_when: upper }\n`);
    expect(e.message).toMatch(/policy\.cutover_when: must be band or prediction/);
    expect(e.hint).toMatch(/upper edge fits the budget/);
    // Round trip: what renderPlanYaml writes reads back the same.
    const p = parsePlanYaml(`${MINIMAL}policy: { cutover_when: prediction }\n`, 'p');
    expect(parsePlanYaml(renderPlanYaml(p), 'p').policy.cutoverWhen).toBe('prediction');
  });

  test('a plain scalar YAML would read as a number is taken as written where text is expected', () => {
    const p = parsePlanYaml('source: 1234\ntarget: b\nprocess: { pid: 1 }\npage_server: { address: 10.0 }\n', 'p');
    expect([p.source, p.targetAddress]).toEqual(['1234', '10.0']);
  });
});

describe('plan file errors name file:line:column and the field', () => {
  test('bad duration', () => {
    const e = errorOf(FULL.replace('300ms', '300'));
    expect(e.message).toBe('plan.yaml:6:18: downtime_budget: must be a duration like 300ms or 1.5s (with its unit)');
    expect(e.hint).toMatch(/300ms or 1\.5s/);
    expect(errorOf(FULL.replace('timeout: 10s', 'timeout: 10 sec')).message).toBe('plan.yaml:11:79: health_check.timeout: must be a duration like 300ms or 1.5s');
  });

  test('bad percentage', () => {
    const e = errorOf(FULL.replace('growth_threshold: 10%', 'growth_threshold: 0.1'));
    expect(e.message).toBe('plan.yaml:7:48: policy.growth_threshold: must be a percentage like 10%');
    expect(e.evidence).toBe('policy: { max_iterations: 8, growth_threshold: 0.1, min_pages: 64, on_not_converging: rollback }');
    expect(e.hint).toMatch(/10%/);
  });

  test('unknown keys are errors, with a guess', () => {
    const e = errorOf(FULL.replace('work_dir:', 'workdir:'));
    expect(e.message).toBe('plan.yaml:9:1: workdir: unknown key');
    expect(e.hint).toMatch(/^Did you mean work_dir\?/);
    expect(errorOf(FULL.replace('min_pages', 'min_page')).message).toBe('plan.yaml:7:53: policy.min_page: unknown key');
    expect(errorOf(`${MINIMAL}pid: 7\n`).hint).toMatch(/process: \{ pid: N \}/);
  });

  test('wrong type', () => {
    expect(errorOf(FULL.replace('max_iterations: 8', 'max_iterations: eight')).message).toBe('plan.yaml:7:27: policy.max_iterations: must be an integer');
    expect(errorOf(FULL.replace('auto: true', 'auto: yes')).message).toBe('plan.yaml:13:7: auto: must be true or false (yes is text in YAML 1.2)');
    expect(errorOf(FULL.replace('file_sync: [/etc/app.conf]', 'file_sync: /etc/app.conf')).message).toBe('plan.yaml:10:12: file_sync: must be a list of absolute paths');
    expect(errorOf(FULL.replace('mode: precopy', 'mode: warm')).message).toBe('plan.yaml:5:7: mode: must be precopy, cold or postcopy');
  });

  test('bad pid', () => {
    expect(errorOf(FULL.replace('pid: 50000', 'pid: "50000"')).message).toBe('plan.yaml:4:17: process.pid: must be a process ID (an integer)');
    const zero = errorOf(FULL.replace('pid: 50000', 'pid: 0'));
    expect(zero.message).toBe('plan.yaml:4:17: process.pid: must be at least 1');
    expect(zero.hint).toMatch(/PID of the process tree root/);
    expect(errorOf(FULL.replace('pid: 50000', 'pid: 5000000')).message).toBe('plan.yaml:4:17: process.pid: must be at most 4194304');
    expect(errorOf('source: a\ntarget: b\nprocess: {}\n').message).toBe('plan.yaml:3:10: process.pid: missing');
  });

  test('relative work dir and file_sync paths (planSchema, placed at the value)', () => {
    const e = errorOf(FULL.replace('work_dir: /var/lib/ferry', 'work_dir: var/lib/ferry'));
    expect(e.message).toBe('plan.yaml:9:11: work_dir: must be an absolute path');
    expect(e.hint).toMatch(/absolute path/);
    expect(errorOf(FULL.replace('[/etc/app.conf]', '[/etc/app.conf, app.conf]')).message).toBe('plan.yaml:10:28: file_sync[1]: must be an absolute path');
  });

  test('schema limits read in the file\'s units', () => {
    expect(errorOf(FULL.replace('300ms', '700s')).message).toBe('plan.yaml:6:18: downtime_budget: must be at most 600s');
    expect(errorOf(FULL.replace('10%', '1500%')).message).toBe('plan.yaml:7:48: policy.growth_threshold: must be at most 1000%');
    expect(errorOf(FULL.replace('source: lab-source', 'source: lab source')).message).toBe('plan.yaml:2:9: source: not a valid host alias');
    expect(errorOf(`${MINIMAL}health_check: { http: not-a-url }\n`).message).toBe('plan.yaml:4:23: health_check.http: must be a URL like http://127.0.0.1:8080/health');
  });

  test('duplicate keys, at the second one, pointing at the first', () => {
    const e = errorOf(FULL.replace('auto: true\n', 'auto: true\nauto: false\n'));
    expect(e.message).toBe('plan.yaml:14:1: auto: duplicate key (first given at line 13, column 1)');
    expect(errorOf(FULL.replace('min_pages: 64', 'min_pages: 64, max_iterations: 9')).message).toBe('plan.yaml:7:68: policy.max_iterations: duplicate key (first given at line 7, column 11)');
  });

  test('YAML syntax errors keep the parser\'s position', () => {
    expect(errorOf(FULL.replace('target: lab-target', 'target: lab: target')).message).toBe('plan.yaml:3:9: YAML syntax error: Nested mappings are not allowed in compact mappings');
    expect(errorOf(`${MINIMAL}\twork_dir: /x\n`).message).toBe('plan.yaml:4:1: YAML syntax error: Tabs are not allowed as indentation');
    expect(errorOf(`${MINIMAL}---\n${MINIMAL}`).message).toMatch(/^plan\.yaml:4:1: YAML syntax error: Source contains multiple documents/);
  });

  test('empty file, missing fields, a value left out, several problems at once', () => {
    expect(errorOf('# nothing yet\n').message).toBe('plan.yaml:1:1: the plan file is empty');
    expect(errorOf('- a\n').message).toMatch(/^plan\.yaml:1:1: a plan file must be a mapping/);
    const e = errorOf('source: a\nprocess:\n');
    expect(e.issues.map((i) => `${i.line}:${i.col} ${i.path}: ${i.message}`)).toEqual(['1:1 target: missing', '2:9 process: has no value']);
    expect(e.message).toBe('plan.yaml:1:1: target: missing\n  plan.yaml:2:9: process: has no value');
    expect(errorOf(`${MINIMAL}mode:\n`).hint).toMatch(/remove the line to use the default/);
  });

  test('checkPlanYaml never throws and gives ranges an editor can underline', () => {
    const r = checkPlanYaml(FULL.replace('growth_threshold: 10%', 'growth_threshold: lots').replace('retention: delete-on-commit', 'retention: forever'));
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.issues.map((i) => [i.path, i.line, i.col, i.endLine, i.endCol])).toEqual([
      ['policy.growth_threshold', 7, 48, 7, 52],
      ['retention', 12, 12, 12, 19],
    ]);
    expect(checkPlanYaml(FULL)).toStrictEqual({ ok: true, plan: FULL_PLAN });
  });
});

describe('renderPlanYaml', () => {
  const plans: MigrationPlan[] = [
    FULL_PLAN,
    parsePlanYaml(MINIMAL, 'p'),
    {
      ...FULL_PLAN,
      source: '1234',
      target: 'host_b@x',
      mode: 'cold',
      shellJob: true,
      tcpEstablished: true,
      policy: { downtimeBudgetMs: 1234, maxIterations: 50, growthThreshold: 0.07, minPages: 0, onNotConverging: 'cutover' },
      auto: false,
      pageServerPort: 1,
      targetAddress: 'fe80::1',
      workDir: '/srv/ferry images #1: x',
      fileSync: ['/etc/a', "/etc/it's", '/etc/b: c', '/etc/#d', '/e'],
      healthCheck: { kind: 'http', url: 'http://127.0.0.1:8080/health?x=1&y=#z', expectStatus: 204, timeoutMs: 100 },
      retention: 'keep',
    },
    { ...FULL_PLAN, policy: { ...FULL_PLAN.policy, growthThreshold: 0.123456789, downtimeBudgetMs: 1 }, healthCheck: { kind: 'tcp', port: 8080 } },
    { ...FULL_PLAN, healthCheck: { kind: 'command', argv: ['sh', '-c', 'test "$(curl -s x)" = ok # yes'] } },
  ];

  test.each(plans.map((p, i) => [i, p] as const))('round-trips plan %i: parse(render(plan)) deep-equals plan', (_, plan) => {
    expect(planSchema.safeParse(plan).success).toBe(true);
    expect(parsePlanYaml(renderPlanYaml(plan), 'rendered.yaml')).toStrictEqual(plan);
  });

  test('writes every field, with comments naming them at the top', () => {
    const text = renderPlanYaml(FULL_PLAN);
    const comments = text.split('\n').filter((l) => l.startsWith('#')).join('\n');
    for (const k of ['source', 'target', 'process', 'mode', 'downtime_budget', 'policy', 'max_iterations', 'growth_threshold', 'page_server', 'work_dir', 'file_sync', 'health_check', 'retention', 'auto', 'shell_job', 'tcp_established']) {
      expect(comments).toContain(k);
    }
    expect(text.split('\n').filter((l) => l && !l.startsWith('#'))).toEqual([
      'source: lab-source',
      'target: lab-target',
      'process: { pid: 50000 }',
      'mode: precopy',
      'downtime_budget: 300ms',
      'policy: { max_iterations: 8, growth_threshold: 10%, min_pages: 64, on_not_converging: rollback }',
      'page_server: { address: 10.0.0.2, port: 27000 }',
      'work_dir: /var/lib/ferry',
      'file_sync: [ /etc/app.conf ]',
      'health_check: { command: [ curl, -fsS, http://127.0.0.1:8080/health ], timeout: 10s }',
      'retention: delete-on-commit',
      'auto: true',
      'shell_job: false',
      'tcp_established: false',
    ]);
  });

  test('durations and percentages read back exactly', () => {
    expect([showMs(300), showMs(1500), showMs(10000), showMs(1)]).toEqual(['300ms', '1.5s', '10s', '1ms']);
    expect([showPercent(0.1), showPercent(0.07), showPercent(0.15), showPercent(10)]).toEqual(['10%', '7%', '15%', '1000%']);
  });
});

describe('flags over a plan file', () => {
  test('overridePlan changes only what is given; a new target moves a defaulted address', () => {
    const base = parsePlanYaml(MINIMAL, 'p');
    expect(overridePlan(base, {})).toStrictEqual(base);
    const o = overridePlan(base, { target: 'c', port: 28000, downtimeBudgetMs: 50, healthCommand: ['true'], keepImages: true });
    expect([o.target, o.targetAddress, o.pageServerPort, o.policy.downtimeBudgetMs, o.retention]).toEqual(['c', 'c', 28000, 50, 'keep']);
    expect(o.healthCheck).toStrictEqual({ kind: 'command', argv: ['true'] });
    expect(overridePlan(FULL_PLAN, { target: 'c' }).targetAddress).toBe('10.0.0.2');
    expect(overridePlan(FULL_PLAN, { healthCommand: ['true'] }).healthCheck).toStrictEqual({ kind: 'command', argv: ['true'], timeoutMs: 10000 });
  });

  test('validatePlan names the field in the file\'s words', () => {
    expect(() => validatePlan({ ...FULL_PLAN, workDir: 'rel' }, 'The plan')).toThrow('The plan is invalid: work_dir: must be an absolute path');
    expect(() => validatePlan({ ...FULL_PLAN, policy: { ...FULL_PLAN.policy, downtimeBudgetMs: 0 } })).toThrow('downtime_budget: must be at least 1ms');
  });

  describe('ferry migrate --plan', () => {
    let dir: string;
    beforeAll(() => {
      dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ferry-plan-'));
      fs.writeFileSync(path.join(dir, 'plan.yaml'), FULL.replace('mode: precopy', 'mode: cold').replace('/var/lib/ferry', '/srv/ferry').replace('max_iterations: 8', 'max_iterations: 20'));
    });
    afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

    /** The plan `ferry migrate ARGS` would run, taken before the action starts anything. */
    async function planFor(args: string[]): Promise<MigrationPlan> {
      const program = buildProgram();
      const migrate = program.commands.find((c) => c.name() === 'migrate')!;
      let plan: MigrationPlan | undefined;
      migrate.hook('preAction', (_, cmd) => {
        const o = cmd.opts() as Parameters<typeof planFileWithFlags>[1] & { plan: string };
        plan = planFileWithFlags(o.plan, o, cmd);
        throw new Error('stop before migrating');
      });
      await expect(program.parseAsync(['node', 'ferry', 'migrate', ...args])).rejects.toThrow('stop before migrating');
      return plan!;
    }

    test('commander defaults do not override the file; typed flags do', async () => {
      const file = path.join(dir, 'plan.yaml');
      expect(await planFor(['--plan', file])).toStrictEqual({ ...FULL_PLAN, mode: 'cold', workDir: '/srv/ferry', policy: { ...FULL_PLAN.policy, maxIterations: 20 } });
      const o = await planFor(['--plan', file, '--work-dir', '/var/lib/ferry', '--max-iterations', '8', '--pid', '7', '--max-downtime', '2s', '--sync', '/a', '/b', '--target', 'other']);
      expect(o).toStrictEqual({ ...FULL_PLAN, mode: 'cold', pid: 7, target: 'other', fileSync: ['/a', '/b'], policy: { ...FULL_PLAN.policy, downtimeBudgetMs: 2000 } });
    });

    test('a flag that makes the plan invalid is refused, naming the field', async () => {
      const program = buildProgram();
      await expect(program.parseAsync(['node', 'ferry', 'migrate', '--plan', path.join(dir, 'plan.yaml'), '--target-address', 'not an address'])).rejects.toThrow(
        /with your flags is invalid: page_server\.address: not an address/,
      );
    });
  });
});

describe('ferry plan (CLI)', () => {
  const bin = path.resolve(import.meta.dirname, '../../cli/bin.js');
  let dir: string;
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ferry-plan-cli-'));
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
  const ferry = (args: string[]) => execa(process.execPath, [bin, ...args], { cwd: dir, reject: false, stdin: 'ignore', timeout: 30_000 });

  test('plan check on a good file prints the normalized plan and exits 0', async () => {
    fs.writeFileSync(path.join(dir, 'good.yaml'), MINIMAL);
    const r = await ferry(['plan', 'check', 'good.yaml']);
    expect(r.exitCode).toBe(0);
    expect(r.stderr).toBe('');
    expect(parsePlanYaml(r.stdout, 'stdout')).toStrictEqual(parsePlanYaml(MINIMAL, 'good.yaml'));
    expect(r.stdout).toContain('work_dir: /var/lib/ferry');
    expect(JSON.parse((await ferry(['plan', 'check', '--json', 'good.yaml'])).stdout)).toStrictEqual(parsePlanYaml(MINIMAL, 'good.yaml'));
  });

  test('plan check on a bad file exits 1 with file:line:column, field and hint on stderr', async () => {
    fs.writeFileSync(path.join(dir, 'bad.yaml'), FULL.replace('growth_threshold: 10%', 'growth_threshold: 0.1'));
    const r = await ferry(['plan', 'check', 'bad.yaml']);
    expect(r.exitCode).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/^ferry: bad\.yaml:7:48: policy\.growth_threshold: must be a percentage like 10%\n/);
    expect(r.stderr).toMatch(/next: Write a percentage like 10%/);
    const missing = await ferry(['plan', 'check', 'nope.yaml']);
    expect(missing.exitCode).toBe(1);
    expect(missing.stderr).toMatch(/Cannot read the plan file nope\.yaml: no such file/);
  });

  test('plan new writes a plan file from flags that plan check accepts', async () => {
    const r = await ferry(['plan', 'new', '--source', 'lab-source', '--target', 'lab-target', '--pid', '50000', '--target-address', '10.0.0.2', '--auto', '--max-downtime', '1.5s', '--sync', '/etc/app.conf']);
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toMatch(/^# Ferry migration plan/);
    fs.writeFileSync(path.join(dir, 'new.yaml'), r.stdout);
    expect(loadPlanFile(path.join(dir, 'new.yaml'))).toStrictEqual({ ...parsePlanYaml(MINIMAL, 'p'), source: 'lab-source', target: 'lab-target', pid: 50000, targetAddress: '10.0.0.2', auto: true, fileSync: ['/etc/app.conf'], policy: { ...defaultPolicy, downtimeBudgetMs: 1500 }, fileLocks: false, extUnixSk: false, networkLock: 'auto', tls: true });
    // Preflight inventory: the CRIU options a preflight finding asks for.
    const locks = await ferry(['plan', 'new', '--source', 'a', '--target', 'b', '--pid', '1', '--file-locks', '--ext-unix-sk', '--network-lock', 'nftables']);
    expect(locks.stdout).toMatch(/^file_locks: true$/m);
    expect(locks.stdout).toMatch(/^ext_unix_sk: true$/m);
    expect(locks.stdout).toMatch(/^network_lock: nftables$/m);
    expect(r.stdout).toMatch(/^tls: true$/m);
    // TLS: --no-tls turns it off in the file; a bad value names the key.
    const off = await ferry(['plan', 'new', '--source', 'a', '--target', 'b', '--pid', '1', '--no-tls']);
    expect(off.stdout).toMatch(/^tls: false$/m);
    expect(parsePlanYaml(`${MINIMAL}\ntls: false\n`, 'p').tls).toBe(false);
    expect(parsePlanYaml(MINIMAL, 'p').tls).toBeUndefined();
    expect(() => parsePlanYaml(`${MINIMAL}\ntls: maybe\n`, 'p')).toThrow(/tls/);
    const bad = await ferry(['plan', 'new', '--source', 'a', '--target', 'b', '--pid', '1', '--work-dir', 'relative']);
    expect(bad.exitCode).toBe(1);
    expect(bad.stderr).toMatch(/work_dir: must be an absolute path/);
  });
});

/**
 * Traffic hooks in plans: the zod schema the console API uses and the YAML plan file
 * (reading with line/column errors, unknown keys refused, writing that round-trips).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { HOOK_TIMEOUT, newPlan, parseRequest, planSchema } from '../../../shared/api.ts';
import type { MigrationPlan } from '../../../shared/domain.ts';
import { checkPlanYaml, parsePlanYaml, PlanFileError, renderPlanYaml, validatePlan } from './plan-file.ts';

const HEAD = 'source: lab-source\ntarget: lab-target\nprocess: { pid: 50000 }\n';

const WITH_HOOKS = `${HEAD}hooks:
  before_cutover:
    - { name: drain, on: local, command: [curl, -fsS, -X, POST, "https://lb/drain?app=1"], timeout: 10s, env: [LB_TOKEN] }
    - name: stop accepting
      on: source
      command: [systemctl, stop, app-accept.socket]
  on_rollback:
    - { name: undrain, on: local, command: [sh, -c, 'curl -fsS "$1"', sh, https://lb/undrain] }
`;

const base = newPlan({ source: 'lab-source', target: 'lab-target', pid: 50000 });

describe('hooks in the plan schema', () => {
  test('newPlan starts with no hooks; a hook without a timeout gets the bounded default', () => {
    expect(base.hooks).toEqual({ beforeCutover: [], afterRestore: [], onRollback: [] });
    const r = planSchema.safeParse({ ...base, hooks: { beforeCutover: [{ name: 'drain', on: 'local', argv: ['true'] }], afterRestore: [], onRollback: [] } });
    expect(r.success && r.data.hooks?.beforeCutover[0]?.timeoutMs).toBe(HOOK_TIMEOUT.defaultMs);
    // A plan without the field (older journals, other faces) is still valid.
    const { hooks: _h, ...old } = base;
    expect(planSchema.safeParse(old).success).toBe(true);
  });

  test('refuses unbounded timeouts, shell strings smuggled with NUL, env on remote hooks and unknown places', () => {
    const withHook = (h: object) => ({ plan: { ...base, hooks: { beforeCutover: [{ name: 'x', on: 'local', argv: ['true'], ...h }], afterRestore: [], onRollback: [] } } });
    const msg = (h: object) => {
      const r = parseRequest('migration.start', withHook(h));
      return r.ok ? 'ok' : r.error.message;
    };
    expect(msg({})).toBe('ok');
    expect(msg({ timeoutMs: HOOK_TIMEOUT.maxMs + 1 })).toMatch(/plan\.hooks\.beforeCutover\.0\.timeoutMs/);
    expect(msg({ timeoutMs: 0 })).toMatch(/timeoutMs/);
    expect(msg({ argv: [] })).toMatch(/argv/);
    expect(msg({ argv: ['sh', 'a\0b'] })).toMatch(/argv/);
    expect(msg({ on: 'elsewhere' })).toMatch(/\.on/);
    expect(msg({ name: 'two\nlines' })).toMatch(/name/);
    expect(msg({ on: 'target', env: ['LB_TOKEN'] })).toMatch(/env: only a local hook/);
    expect(msg({ env: ['NOT-A-NAME'] })).toMatch(/env/);
  });

  test("'local' names this machine, so it cannot be a migration host", () => {
    const r = parseRequest('preflight.run', { plan: { ...base, source: 'local' } });
    expect(!r.ok && r.error.message).toMatch(/plan\.source: 'local' is Ferry's name for this machine/);
  });
});

describe('hooks in plan files', () => {
  test('reads every phase and field; a phase left out has no hooks; timeout defaults to 30s', () => {
    const plan = parsePlanYaml(WITH_HOOKS, 'plan.yaml');
    expect(plan.hooks).toStrictEqual({
      beforeCutover: [
        { name: 'drain', on: 'local', argv: ['curl', '-fsS', '-X', 'POST', 'https://lb/drain?app=1'], timeoutMs: 10_000, env: ['LB_TOKEN'] },
        { name: 'stop accepting', on: 'source', argv: ['systemctl', 'stop', 'app-accept.socket'], timeoutMs: 30_000 },
      ],
      afterRestore: [],
      onRollback: [{ name: 'undrain', on: 'local', argv: ['sh', '-c', 'curl -fsS "$1"', 'sh', 'https://lb/undrain'], timeoutMs: 30_000 }],
    });
    // No hooks key: no hooks field at all (a plan file from before hooks reads as before).
    expect(parsePlanYaml(HEAD, 'p').hooks).toBeUndefined();
  });

  test.each([
    ['hooks: { before: [] }', 4, 10, 'hooks.before', 'unknown key', /Known keys of hooks: before_cutover, after_restore, on_rollback/],
    ['hooks: { after_restore: [ { name: x, on: moon, command: [a] } ] }', 4, 42, 'hooks.after_restore[0].on', 'must be local, source or target', /local \(this machine\)/],
    ['hooks: { on_rollback: [ { name: x, on: local, command: curl } ] }', 4, 56, 'hooks.on_rollback[0].command', expect.stringMatching(/^must be a list of arguments/), /\[sh, -c, 'SCRIPT'\]/],
    ['hooks: { on_rollback: [ { name: x, on: local, command: [a], timeout: 5 } ] }', 4, 70, 'hooks.on_rollback[0].timeout', 'must be a duration like 300ms or 1.5s (with its unit)', /30s/],
    ['hooks: { on_rollback: [ { name: x, on: local, command: [a], timeout: 11m } ] }', 4, 70, 'hooks.on_rollback[0].timeout', 'must be a duration like 300ms or 1.5s', /600s/],
    ['hooks: { on_rollback: [ { name: x, on: local, command: [a], timeout: 601s } ] }', 4, 70, 'hooks.on_rollback[0].timeout', 'must be at most 600s', /600s/],
    ['hooks: { before_cutover: [ { name: x, on: source, command: [a], env: [T] } ] }', 4, 70, 'hooks.before_cutover[0].env', "only a local hook takes variables from Ferry's environment", /only a local hook/],
    ['hooks: { on_rollback: [ { on: local, command: [a] } ] }', 4, 25, 'hooks.on_rollback[0].name', 'missing', /short name/],
    ['hooks: { on_rollback: [ { name: x, on: local, command: [a], shell: true } ] }', 4, 61, 'hooks.on_rollback[0].shell', 'unknown key', /Known keys of hooks\.on_rollback\[0\]: name, on, command, timeout, env/],
    ['hooks: { on_rollback: { name: x } }', 4, 23, 'hooks.on_rollback', 'must be a list of hooks', /list of hooks/],
  ])('%s -> line %i col %i, %s', (yaml, line, col, field, message, hint) => {
    const r = checkPlanYaml(`${HEAD}${yaml}\n`);
    expect(r.ok).toBe(false);
    const issue = !r.ok ? r.issues[0]! : undefined;
    expect(issue).toMatchObject({ line, col, path: field, message });
    expect(issue?.hint).toMatch(hint);
    expect(issue?.source).toBe(yaml);
  });

  test('the error names the file, line and column', () => {
    try {
      parsePlanYaml(`${HEAD}hooks:\n  before_cutover:\n    - { name: x, on: local, command: [] }\n`, 'plan.yaml');
      throw new Error('accepted an empty command');
    } catch (e) {
      expect(e).toBeInstanceOf(PlanFileError);
      expect((e as PlanFileError).message).toMatch(/^plan\.yaml:6:38: hooks\.before_cutover\[0\]\.command: must not be empty/);
    }
  });

  test('round-trips: parse(render(plan)) deep-equals plan, hooks included', () => {
    const plans: MigrationPlan[] = [
      parsePlanYaml(WITH_HOOKS, 'p'),
      base,
      {
        ...base,
        hooks: {
          beforeCutover: [],
          afterRestore: [{ name: 'switch: #1 "dns"', on: 'target', argv: ['sh', '-c', 'echo "$1" # not a comment', 'sh', "it's"], timeoutMs: 1500 }],
          onRollback: [{ name: 'undo', on: 'local', argv: ['/usr/bin/lbctl', '--undo'], timeoutMs: 100, env: [] }],
        },
      },
    ];
    for (const plan of plans) {
      expect(planSchema.safeParse(plan).success).toBe(true);
      expect(parsePlanYaml(renderPlanYaml(plan), 'rendered.yaml')).toStrictEqual(plan);
    }
  });

  test('flags over a file keep its hooks; validatePlan names hook fields in the file words', () => {
    const plan = parsePlanYaml(WITH_HOOKS, 'p');
    expect(validatePlan(plan).hooks).toStrictEqual(plan.hooks);
    const bad = { ...plan, hooks: { ...plan.hooks!, onRollback: [{ name: 'x', on: 'local' as const, argv: ['a'], timeoutMs: 10 }] } };
    expect(() => validatePlan(bad)).toThrow(/hooks\.on_rollback\[0\]\.timeoutMs: must be at least 100/);
  });
});

describe('ferry plan (CLI) with hooks', () => {
  const bin = path.resolve(import.meta.dirname, '../../cli/bin.js');
  let dir: string;
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ferry-plan-hooks-'));
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
  const ferry = (args: string[]) => execa(process.execPath, [bin, ...args], { cwd: dir, reject: false, stdin: 'ignore', timeout: 30_000 });

  test('plan new shows a commented hooks example with the semantics; plan check validates hooks', async () => {
    const r = await ferry(['plan', 'new', '--source', 'a', '--target', 'b', '--pid', '42']);
    expect(r.exitCode).toBe(0);
    const comments = r.stdout.split('\n').filter((l) => l.startsWith('#')).join('\n');
    for (const words of ['before_cutover', 'after_restore', 'on_rollback', 'aborts the cutover', 'never journaled', '- { name: drain, on: local']) expect(comments).toContain(words);
    // The commented example itself is a valid hooks block.
    const example = comments.slice(comments.indexOf('#   hooks:')).split('\n').map((l) => l.replace(/^# {3}/, '')).join('\n');
    expect(checkPlanYaml(`${HEAD}${example}\n`).ok).toBe(true);

    fs.writeFileSync(path.join(dir, 'good.yaml'), WITH_HOOKS);
    const good = await ferry(['plan', 'check', 'good.yaml']);
    expect(good.exitCode).toBe(0);
    expect(parsePlanYaml(good.stdout, 'stdout')).toStrictEqual(parsePlanYaml(WITH_HOOKS, 'good.yaml'));
    fs.writeFileSync(path.join(dir, 'bad.yaml'), WITH_HOOKS.replace('on: source', 'on: src'));
    const bad = await ferry(['plan', 'check', 'bad.yaml']);
    expect(bad.exitCode).toBe(1);
    expect(bad.stderr).toMatch(/^ferry: bad\.yaml:8:11: hooks\.before_cutover\[1\]\.on: must be local, source or target\n/);
  });
});

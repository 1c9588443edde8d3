import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { MigrationPlan } from '../../../shared/domain.ts';
import { FerryError } from '../../../shared/errors.ts';
import { Engine } from '../console.ts';
import { checkPlanYaml, parsePlanYaml } from './plan-file.ts';
import { MAX_RECENT, RecentPlanFiles } from './plan-files.ts';

// A plan file as a person keeps it: comments, a blank line, flow and block maps, defaults left out.
const COMMENTED = `# Web tier move, agreed with ops on Monday
source: lab-source
target: lab-target   # the new box

process: { pid: 50000 }   # the gunicorn master
# keep this short: the load balancer retries after 1s
downtime_budget: 300ms
policy: { max_iterations: 8, growth_threshold: 10% }
health_check:
  command: [curl, -fsS, http://127.0.0.1:8080/health]   # the app's own check
  timeout: 10s
auto: true
`;

let dir: string;
let engine: Engine;
let env: NodeJS.ProcessEnv;

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ferry-planfiles-'));
  env = { ...process.env, HOME: dir, FERRY_HOME: path.join(dir, 'ferry-home') };
  engine = new Engine({ env });
});
afterAll(async () => {
  await engine.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

let n = 0;
/** A fresh file in the temp dir with the given text. */
function file(text: string | undefined, ext = 'yaml'): string {
  const p = path.join(dir, `plan-${++n}.${ext}`);
  if (text !== undefined) fs.writeFileSync(p, text);
  return p;
}

async function refused(p: Promise<unknown>): Promise<FerryError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(FerryError);
    return e as FerryError;
  }
  throw new Error('expected the request to be refused');
}

const topKeys = (text: string) => [...text.matchAll(/^([a-z_]+):/gm)].map((m) => m[1]);

describe('plan-file.open', () => {
  test('a valid file: its plan, its text, no problems', async () => {
    const p = file(COMMENTED);
    const r = await engine.request('plan-file.open', { path: p });
    expect(r.problems).toEqual([]);
    expect(r.plan).toStrictEqual(parsePlanYaml(COMMENTED, p));
    expect(r.text).toBe(COMMENTED);
    expect(r.path).toBe(p);
  });

  test('a bad file: every problem with line, column and field; no plan', async () => {
    const bad = COMMENTED.replace('growth_threshold: 10%', 'growth_threshold: 0.1').replace('auto: true', 'auto: yes');
    const p = file(bad);
    const r = await engine.request('plan-file.open', { path: p });
    expect(r.plan).toBeUndefined();
    expect(r.text).toBe(bad);
    expect(r.problems.map((x) => [x.line, x.column, x.field, x.message])).toEqual([
      [8, 48, 'policy.growth_threshold', 'must be a percentage like 10%'],
      [12, 7, 'auto', 'must be true or false (yes is text in YAML 1.2)'],
    ]);
    expect(r.problems[0]!.source).toBe('policy: { max_iterations: 8, growth_threshold: 0.1 }');
    expect(r.problems[0]!.hint).toMatch(/10%/);
  });

  test('a YAML syntax error is a problem at its line, with no field', async () => {
    const r = await engine.request('plan-file.open', { path: file('source: a\ntarget: b\nprocess: { pid: 1\n') });
    expect(r.problems.length).toBeGreaterThan(0);
    expect(r.problems[0]!.field).toBe('');
    expect(r.problems[0]!.message).toMatch(/YAML syntax error/);
    expect(r.problems[0]!.line).toBeGreaterThanOrEqual(3);
  });

  test('a YAML file that is not a plan: one problem, and its text is not handed out', async () => {
    const r = await engine.request('plan-file.open', { path: file('apiVersion: v1\nkind: Secret\ndata: { token: c2VjcmV0 }\n') });
    expect(r.text).toBeUndefined();
    expect(r.plan).toBeUndefined();
    expect(r.problems).toHaveLength(1);
    expect(r.problems[0]!.message).toMatch(/not a Ferry plan/);
    expect(JSON.stringify(r)).not.toContain('c2VjcmV0');
  });

  test('refusals name the path and the next step', async () => {
    const missing = path.join(dir, 'nope.yaml');
    const e1 = await refused(engine.request('plan-file.open', { path: missing }));
    expect([e1.code, e1.message]).toEqual(['plan-file-missing', `There is no plan file at ${missing}`]);
    expect(e1.hint).toMatch(/Save as/);
    const e2 = await refused(engine.request('plan-file.open', { path: 'plans/web.yaml' }));
    expect(e2.code).toBe('plan-path-relative');
    expect(e2.message).toContain('plans/web.yaml');
    expect(e2.hint).toMatch(/full path/);
    const txt = file('source: a\n', 'txt');
    const e3 = await refused(engine.request('plan-file.open', { path: txt }));
    expect(e3.code).toBe('plan-path-not-yaml');
    expect(e3.message).toContain(txt);
    const e4 = await refused(engine.request('plan-file.open', { path: dir + '/' + 'x.yaml\n' }));
    expect(e4.code).toBe('bad-request');
    fs.mkdirSync(path.join(dir, 'folder.yaml'));
    expect((await refused(engine.request('plan-file.open', { path: path.join(dir, 'folder.yaml') }))).code).toBe('plan-file-unreadable');
  });
});

describe('plan-file.save', () => {
  test('into an existing plan: the change is written, comments, blank lines and key order stay', async () => {
    const p = file(COMMENTED);
    const { plan } = await engine.request('plan-file.open', { path: p });
    const changed: MigrationPlan = { ...plan!, policy: { ...plan!.policy, downtimeBudgetMs: 450, maxIterations: 5 } };
    const r = await engine.request('plan-file.save', { path: p, plan: changed });
    const text = fs.readFileSync(p, 'utf8');
    expect(r).toMatchObject({ path: p, created: false, text });
    expect(parsePlanYaml(text, p)).toStrictEqual(changed);
    expect(text).toContain('downtime_budget: 450ms');
    expect(text).toContain('policy: { max_iterations: 5, growth_threshold: 10% }');
    for (const c of ['# Web tier move, agreed with ops on Monday', '# the new box', '# the gunicorn master', '# keep this short: the load balancer retries after 1s', "# the app's own check"]) {
      expect(text).toContain(c);
    }
    expect(topKeys(text)).toEqual(topKeys(COMMENTED));
    expect(text).toContain('lab-target # the new box\n\nprocess:');
    // Defaults the user left out stay left out.
    expect(text).not.toMatch(/work_dir|retention|page_server/);
  });

  test('a new value for a key the file left out goes in its place; a changed health check replaces the old one', async () => {
    const p = file(COMMENTED);
    const plan = parsePlanYaml(COMMENTED, p);
    const changed: MigrationPlan = { ...plan, workDir: '/srv/ferry', mode: 'cold', healthCheck: { kind: 'tcp', port: 8080 } };
    const { text } = await engine.request('plan-file.save', { path: p, plan: changed });
    expect(parsePlanYaml(text, p)).toStrictEqual(changed);
    expect(topKeys(text)).toEqual(['source', 'target', 'process', 'mode', 'downtime_budget', 'policy', 'work_dir', 'health_check', 'auto']);
    expect(text).toMatch(/health_check:\n {2}tcp: 8080\n/);
    expect(text).not.toContain('curl');
    expect(text).toContain('# Web tier move');
  });

  test('defaults that follow another field: a new target alone pins the old page server address; a new port alone is written alone', async () => {
    const minimal = '# mine\nsource: a\ntarget: b\nprocess: { pid: 42 }\n';
    const p = file(minimal);
    const plan = parsePlanYaml(minimal, p);
    const moved: MigrationPlan = { ...plan, target: 'c' };
    const r = await engine.request('plan-file.save', { path: p, plan: moved });
    expect(parsePlanYaml(r.text, p)).toStrictEqual(moved);
    expect(r.text).toBe('# mine\nsource: a\ntarget: c\nprocess: { pid: 42 }\npage_server: { address: b }\n');
    const q = file(minimal);
    const r2 = await engine.request('plan-file.save', { path: q, plan: { ...plan, pageServerPort: 28000, policy: { ...plan.policy, minPages: 10 } } });
    expect(r2.text).toBe('# mine\nsource: a\ntarget: b\nprocess: { pid: 42 }\npolicy: { min_pages: 10 }\npage_server: { port: 28000 }\n');
  });

  test('a new file is written whole, with the field guide on top; saving it again unchanged changes nothing', async () => {
    const p = file(undefined);
    const plan = parsePlanYaml(COMMENTED, 'x');
    const r = await engine.request('plan-file.save', { path: p, plan });
    expect(r.created).toBe(true);
    const text = fs.readFileSync(p, 'utf8');
    expect(text).toMatch(/^# Ferry migration plan/);
    expect(parsePlanYaml(text, p)).toStrictEqual(plan);
    const again = await engine.request('plan-file.save', { path: p, plan });
    expect(again.created).toBe(false);
    expect(fs.readFileSync(p, 'utf8')).toBe(text);
  });

  test('atomic: no temp file left, the file keeps its mode, a symlink keeps pointing at it', async () => {
    const real = file(COMMENTED);
    fs.chmodSync(real, 0o600);
    const link = path.join(dir, 'link-to-plan.yaml');
    fs.symlinkSync(real, link);
    const plan = parsePlanYaml(COMMENTED, real);
    await engine.request('plan-file.save', { path: link, plan: { ...plan, pid: 4242 } });
    expect(fs.lstatSync(link).isSymbolicLink()).toBe(true);
    expect(parsePlanYaml(fs.readFileSync(real, 'utf8'), real).pid).toBe(4242);
    expect(fs.statSync(real).mode & 0o777).toBe(0o600);
    expect(fs.readdirSync(dir).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });

  test('refuses to overwrite a file that is not a Ferry plan, or a plan with problems, unless asked', async () => {
    const plan = parsePlanYaml(COMMENTED, 'x');
    const other = 'apiVersion: v1\nkind: ConfigMap\n';
    const p = file(other);
    const e = await refused(engine.request('plan-file.save', { path: p, plan }));
    expect(e.code).toBe('plan-file-not-a-plan');
    expect(e.message).toContain(p);
    expect(e.hint).toMatch(/another file name/);
    expect(fs.readFileSync(p, 'utf8')).toBe(other);
    await engine.request('plan-file.save', { path: p, plan, overwrite: true });
    expect(parsePlanYaml(fs.readFileSync(p, 'utf8'), p)).toStrictEqual(plan);

    const broken = COMMENTED.replace('300ms', '300');
    const q = file(broken);
    const e2 = await refused(engine.request('plan-file.save', { path: q, plan }));
    expect(e2.code).toBe('plan-file-has-problems');
    expect(e2.message).toContain(`${path.basename(q)}:7:18: downtime_budget`);
    expect(fs.readFileSync(q, 'utf8')).toBe(broken);
    await engine.request('plan-file.save', { path: q, plan, overwrite: true });
    expect(checkPlanYaml(fs.readFileSync(q, 'utf8')).ok).toBe(true);
  });

  test('refuses other extensions, relative paths, missing folders and invalid plans', async () => {
    const plan = parsePlanYaml(COMMENTED, 'x');
    const e1 = await refused(engine.request('plan-file.save', { path: path.join(dir, 'plan.json'), plan }));
    expect(e1.code).toBe('plan-path-not-yaml');
    expect(e1.hint).toMatch(/\.yaml/);
    expect((await refused(engine.request('plan-file.save', { path: 'plan.yaml', plan }))).code).toBe('plan-path-relative');
    const e3 = await refused(engine.request('plan-file.save', { path: path.join(dir, 'no-such-dir', 'p.yaml'), plan }));
    expect(e3.code).toBe('plan-dir-missing');
    expect(e3.message).toContain(path.join(dir, 'no-such-dir'));
    const e4 = await refused(engine.request('plan-file.save', { path: file(undefined), plan: { ...plan, pid: 0 } }));
    expect(e4.code).toBe('bad-request');
    expect(e4.message).toMatch(/plan\.pid/);
  });
});

describe('plan-file.recent', () => {
  test('opened and saved plans, newest first, once each, bounded, under FERRY_HOME; gone files drop out', async () => {
    const recent = new RecentPlanFiles({ ...env, FERRY_HOME: path.join(dir, 'home-recent') });
    expect(recent.file.startsWith(path.join(dir, 'home-recent'))).toBe(true);
    const paths = Array.from({ length: MAX_RECENT + 3 }, (_, i) => file(`source: a\ntarget: b\nprocess: { pid: ${i + 1} }\n`));
    paths.forEach((p, i) => recent.remember(p, new Date(Date.UTC(2026, 0, 1, 0, i))));
    recent.remember(paths[5]!, new Date(Date.UTC(2026, 0, 2)));
    const listed = recent.list().map((r) => r.path);
    expect(listed).toHaveLength(MAX_RECENT);
    expect(listed[0]).toBe(paths[5]);
    expect(listed.slice(1, 3)).toEqual([paths[12], paths[11]]);
    expect(new Set(listed).size).toBe(listed.length);
    fs.rmSync(paths[12]!);
    expect(recent.list().map((r) => r.path)).not.toContain(paths[12]);
    // A damaged list is an empty one, not an error.
    fs.writeFileSync(recent.file, '{ not json');
    expect(recent.list()).toEqual([]);
  });

  test('the engine remembers what was opened (with text) and saved', async () => {
    const a = file(COMMENTED);
    const b = file(undefined);
    await engine.request('plan-file.open', { path: a });
    await engine.request('plan-file.save', { path: b, plan: parsePlanYaml(COMMENTED, a) });
    await engine.request('plan-file.open', { path: file('kind: Secret\n') });
    const list = await engine.request('plan-file.recent', {});
    expect(list.map((r) => r.path).slice(0, 2)).toEqual([b, a]);
    expect(fs.existsSync(path.join(env.FERRY_HOME!, 'state', 'recent-plans.json'))).toBe(true);
  });
});

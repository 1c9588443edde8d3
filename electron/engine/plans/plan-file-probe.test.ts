/**
 * The service probe in plans: the console API's schema (bounded rate, a target that fits its
 * kind) and the YAML plan file (reading with line/column errors, flags over a file, writing
 * that round-trips).
 */
import path from 'node:path';
import { execa } from 'execa';
import { describe, expect, test } from 'vitest';
import { newPlan, parseRequest, planSchema } from '../../../shared/api.ts';
import { PROBE_LIMITS } from '../../../shared/probe.ts';
import { checkPlanYaml, overridePlan, parsePlanYaml, renderPlanYaml, validatePlan } from './plan-file.ts';

const HEAD = 'source: lab-source\ntarget: lab-target\nprocess: { pid: 50000 }\n';
const base = newPlan({ source: 'lab-source', target: 'lab-target', pid: 50000 });

describe('service probe in the plan schema', () => {
  test('off by default; a probe given with kind and target gets the bounded defaults', () => {
    expect(base.serviceProbe).toBeUndefined();
    expect(planSchema.safeParse(base).success).toBe(true);
    const r = planSchema.safeParse({ ...base, serviceProbe: { kind: 'tcp', target: '10.0.2.20:6379' } });
    expect(r.success && r.data.serviceProbe).toEqual({ kind: 'tcp', target: '10.0.2.20:6379', from: 'local', intervalMs: 50, timeoutMs: 1000 });
  });

  test('refuses an unbounded rate, a target that does not fit its kind, and a bad host alias', () => {
    const msg = (p: object) => {
      const r = parseRequest('migration.start', { plan: { ...base, serviceProbe: { kind: 'tcp', target: '10.0.2.20:6379', ...p } } });
      return r.ok ? 'ok' : r.error.message;
    };
    expect(msg({})).toBe('ok');
    expect(msg({ intervalMs: PROBE_LIMITS.intervalMs.min - 1 })).toMatch(/plan\.serviceProbe\.intervalMs/);
    expect(msg({ intervalMs: PROBE_LIMITS.intervalMs.max + 1 })).toMatch(/intervalMs/);
    expect(msg({ timeoutMs: PROBE_LIMITS.timeoutMs.max + 1 })).toMatch(/timeoutMs/);
    expect(msg({ target: 'http://x/' })).toMatch(/plan\.serviceProbe\.target: a TCP probe needs host:port/);
    expect(msg({ kind: 'http', target: 'x:80' })).toMatch(/an HTTP probe needs an http:\/\/ URL/);
    expect(msg({ from: 'not an alias' })).toMatch(/serviceProbe\.from/);
    expect(msg({ from: 'lab-target', kind: 'http', target: 'http://10.0.2.20:8080/health' })).toBe('ok');
  });
});

describe('service probe in plan files', () => {
  test('reads tcp with defaults and http with every key; round-trips', () => {
    expect(parsePlanYaml(`${HEAD}service_probe: { tcp: 10.0.2.20:6379 }\n`, 'plan.yaml').serviceProbe).toEqual({ kind: 'tcp', target: '10.0.2.20:6379', from: 'local', intervalMs: 50, timeoutMs: 1000 });
    const plan = parsePlanYaml(`${HEAD}service_probe:\n  http: http://10.0.2.20:8080/health?x=1\n  from: lab-target\n  interval: 20ms\n  timeout: 0.5s\n`, 'plan.yaml');
    expect(plan.serviceProbe).toEqual({ kind: 'http', target: 'http://10.0.2.20:8080/health?x=1', from: 'lab-target', intervalMs: 20, timeoutMs: 500 });
    const text = renderPlanYaml(plan);
    expect(text).toContain('service_probe: { http: http://10.0.2.20:8080/health?x=1, from: lab-target, interval: 20ms, timeout: 500ms }');
    expect(text).toMatch(/#\s+service_probe\s+what clients see/);
    expect(parsePlanYaml(text, 'plan.yaml')).toStrictEqual(plan);
    expect(parsePlanYaml(`${HEAD}service_probe: none\n`, 'plan.yaml').serviceProbe).toBeUndefined();
    expect(renderPlanYaml(base)).not.toContain('service_probe:');
  });

  test('errors point at the line and column, in the file\'s words', () => {
    const issues = (yaml: string) => {
      const r = checkPlanYaml(yaml);
      return r.ok ? [] : r.issues.map((i) => `${i.line}:${i.col} ${i.path}: ${i.message}`);
    };
    expect(issues(`${HEAD}service_probe: { tcp: a:1, http: http://a/ }\n`)).toEqual([expect.stringMatching(/^4:\d+ service_probe\.http: choose one of tcp, http \(tcp is already given\)/)]);
    expect(issues(`${HEAD}service_probe: { from: local }\n`)).toEqual([expect.stringMatching(/^4:\d+ service_probe: needs one of tcp, http/)]);
    expect(issues(`${HEAD}service_probe: { tcp: a:1, interval: 5ms }\n`)).toEqual([expect.stringMatching(/^4:\d+ service_probe\.interval: .*20ms/)]);
    expect(issues(`${HEAD}service_probe: { tcp: a:1, every: 5ms }\n`)[0]).toMatch(/every/);
    expect(issues(`${HEAD}service_probe:\n  tcp: redis.lan\n`)).toEqual([expect.stringMatching(/^5:\d+ service_probe.*host:port/)]);
  });

  test('flags over a file: a kind and target replace the probe, the rest adjust it; adjusting nothing is an error', () => {
    const withProbe = parsePlanYaml(`${HEAD}service_probe: { tcp: 10.0.2.20:6379, from: lab-target }\n`, 'plan.yaml');
    expect(overridePlan(withProbe, { serviceProbe: { intervalMs: 100 } }).serviceProbe).toMatchObject({ kind: 'tcp', from: 'lab-target', intervalMs: 100 });
    expect(overridePlan(withProbe, { serviceProbe: { kind: 'http', target: 'http://x/' } }).serviceProbe).toEqual({ kind: 'http', target: 'http://x/', from: 'local', intervalMs: 50, timeoutMs: 1000 });
    expect(() => overridePlan(base, { serviceProbe: { intervalMs: 100 } })).toThrow(/--probe-tcp HOST:PORT or --probe-http URL/);
    expect(() => validatePlan(overridePlan(withProbe, { serviceProbe: { intervalMs: 5 } }))).toThrow(/service_probe\.interval: .*20ms/);
  });
});

describe('ferry plan new / migrate flags (CLI) with a service probe', () => {
  const bin = path.resolve(import.meta.dirname, '../../cli/bin.js');
  const ferry = (args: string[]) => execa(process.execPath, [bin, ...args], { reject: false, stdin: 'ignore', timeout: 60_000 });

  test('plan new writes the probe the flags give; a bad rate or a lone adjustment is refused by name', { timeout: 180_000 }, async () => {
    const ok = await ferry(['plan', 'new', '--source', 'a', '--target', 'b', '--pid', '42', '--probe-http', 'http://10.0.2.20:8080/', '--probe-from', 'b', '--probe-interval', '20ms']);
    expect(ok.exitCode, ok.stderr).toBe(0);
    expect(parsePlanYaml(ok.stdout, 'new.yaml').serviceProbe).toEqual({ kind: 'http', target: 'http://10.0.2.20:8080/', from: 'b', intervalMs: 20, timeoutMs: 1000 });
    const fast = await ferry(['plan', 'new', '--source', 'a', '--target', 'b', '--pid', '42', '--probe-tcp', '10.0.2.20:6379', '--probe-interval', '5ms']);
    expect(fast.exitCode).not.toBe(0);
    expect(fast.stderr).toMatch(/service_probe\.interval/);
    const lone = await ferry(['plan', 'new', '--source', 'a', '--target', 'b', '--pid', '42', '--probe-from', 'b']);
    expect(lone.exitCode).not.toBe(0);
    expect(lone.stderr).toMatch(/--probe-tcp HOST:PORT or --probe-http URL/);
  });
});

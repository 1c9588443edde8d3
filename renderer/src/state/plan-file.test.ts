import { describe, expect, it } from 'vitest';
import { planSchema } from '../../../shared/api.ts';
import type { MigrationPlan } from '../../../shared/domain.ts';
import { defaultDraft, draftToPlan } from './plan.ts';
import { afterOpen, afterSave, checkTypedPath, fileName, hasUnsavedChanges, initialPlanFileState, planToDraft, problemWhere, sameDraft } from './plan-file.ts';

// Every field away from its default, so a field the form drops or mistranslates shows.
const FULL: MigrationPlan = {
  source: 'lab-source',
  target: 'lab-target',
  pid: 50000,
  mode: 'cold',
  shellJob: true,
  tcpEstablished: true,
  policy: { downtimeBudgetMs: 450, maxIterations: 5, growthThreshold: 0.125, minPages: 10, onNotConverging: 'cutover' },
  auto: true,
  pageServerPort: 28000,
  targetAddress: '10.0.0.2',
  workDir: '/srv/ferry',
  fileSync: ['/etc/app.conf', '/etc/app b.conf'],
  healthCheck: { kind: 'command', argv: ['curl', '-fsS', 'http://127.0.0.1:8080/health'], timeoutMs: 10000 },
  retention: 'keep',
  serviceProbe: { kind: 'tcp', target: '10.0.0.2:6379', from: 'lab-target', intervalMs: 20, timeoutMs: 400 },
  fileLocks: true,
  extUnixSk: true,
  networkLock: 'nftables',
  tls: false,
  hooks: {
    beforeCutover: [{ name: 'drain', on: 'local', argv: ['lb-ctl', 'drain', 'app 1'], timeoutMs: 20000, env: ['LB_TOKEN'] }],
    afterRestore: [{ name: 'switch', on: 'target', argv: ['sh', '-c', 'echo up > /run/app.state'], timeoutMs: 30000 }],
    onRollback: [
      { name: 'undrain', on: 'local', argv: ['lb-ctl', 'undrain', 'app 1'], timeoutMs: 20000 },
      { name: 'note', on: 'source', argv: ['logger', 'ferry rolled back'], timeoutMs: 5000 },
    ],
  },
  serviceAddress: { address: '10.0.0.100/24', sourceInterface: 'eth1', targetInterface: 'br0' },
  select: { kind: 'unit', unit: 'app.service' },
  portRange: { first: 27000, last: 27049 },
  bandwidthCap: { bytesPerSecond: 20 * 1024 * 1024, during: 'precopy-and-dump' },
};

const roundTrip = (p: MigrationPlan) => {
  const r = draftToPlan(planToDraft(p));
  if (!r.ok) throw new Error(`draft refused: ${JSON.stringify(r.errors)}`);
  return r.plan;
};

describe('a plan from a file in the form', () => {
  it('the fixture sets every field the plan schema has (a new plan field must be added here)', () => {
    expect(Object.keys(FULL).sort()).toEqual(Object.keys(planSchema.shape).sort());
  });

  it('hooks survive the form; two drafts of the same plan are the same, whatever their hook keys', () => {
    expect(roundTrip(FULL).hooks).toStrictEqual(FULL.hooks);
    expect(sameDraft(planToDraft(FULL), planToDraft(FULL))).toBe(true);
    const fewer = planToDraft(FULL);
    fewer.hooks = fewer.hooks.slice(1);
    expect(sameDraft(fewer, planToDraft(FULL))).toBe(false);
    // Removing every hook in the form removes the file's hooks too.
    const none = planToDraft(FULL);
    none.hooks = [];
    const r = draftToPlan(none);
    expect(r.ok && r.plan.hooks).toBeFalsy();
  });

  it('planToDraft then draftToPlan gives back the same plan, for each kind of health check', () => {
    expect(roundTrip(FULL)).toStrictEqual(FULL);
    for (const healthCheck of [
      { kind: 'none' },
      { kind: 'tcp', port: 8080 },
      { kind: 'tcp', port: 8080, timeoutMs: 2000 },
      { kind: 'http', url: 'http://127.0.0.1:8080/health' },
      { kind: 'http', url: 'http://127.0.0.1:8080/health', expectStatus: 204, timeoutMs: 500 },
    ] as const) {
      expect(roundTrip({ ...FULL, healthCheck })).toStrictEqual({ ...FULL, healthCheck });
    }
    expect(roundTrip({ ...FULL, fileSync: [] })).toStrictEqual({ ...FULL, fileSync: [] });
  });

  it('the service address: emptied in the form removes it; an empty target interface is the source\'s; errors sit at their field', () => {
    expect(roundTrip(FULL).serviceAddress).toStrictEqual(FULL.serviceAddress);
    const none = draftToPlan({ ...planToDraft(FULL), serviceAddress: '' });
    expect(none.ok && 'serviceAddress' in none.plan).toBe(false);
    const same = draftToPlan({ ...planToDraft(FULL), serviceTargetInterface: '' });
    expect(same.ok && same.plan.serviceAddress).toStrictEqual({ ...FULL.serviceAddress, targetInterface: 'eth1' });
    const bad = draftToPlan({ ...planToDraft(FULL), serviceAddress: '10.0.0.100', serviceSourceInterface: 'eth 1' });
    expect(bad.ok).toBe(false);
    if (!bad.ok) {
      expect(bad.errors.serviceAddress).toMatch(/prefix length/);
      expect(bad.errors.serviceSourceInterface).toMatch(/interface name/);
    }
  });

  it('the bandwidth cap: a rate in the form, the final dump only when ticked; emptied removes it; a bad rate sits at its field', () => {
    expect(planToDraft(FULL)).toMatchObject({ maxBandwidth: '20MiB/s', capFinalDump: true });
    const precopyOnly = draftToPlan({ ...planToDraft(FULL), maxBandwidth: '100Mbit/s', capFinalDump: false });
    expect(precopyOnly.ok && precopyOnly.plan.bandwidthCap).toStrictEqual({ bytesPerSecond: 12_500_000, during: 'precopy' });
    // A file's cap without `during` keeps it implicit, so an unchanged form changes nothing.
    const implicit = { ...FULL, bandwidthCap: { bytesPerSecond: 1024 * 1024 } };
    expect(roundTrip(implicit)).toStrictEqual(implicit);
    const none = draftToPlan({ ...planToDraft(FULL), maxBandwidth: ' ' });
    expect(none.ok && 'bandwidthCap' in none.plan).toBe(false);
    const bad = draftToPlan({ ...planToDraft(FULL), maxBandwidth: '20 megs' });
    expect(bad.ok).toBe(false);
    if (!bad.ok) expect(bad.errors.maxBandwidth).toMatch(/rate with its unit/);
    const slow = draftToPlan({ ...planToDraft(FULL), maxBandwidth: '1KiB/s' });
    expect(!slow.ok && slow.errors.maxBandwidth).toMatch(/at least 64KiB\/s/);
  });

  it('shows the values as the form edits them, and keeps the plan as the base', () => {
    const d = planToDraft(FULL);
    expect(d).toMatchObject({ pid: '50000', downtimeBudgetMs: '450', growthThreshold: '0.125', fileSync: '/etc/app.conf\n/etc/app b.conf', healthArgv: 'curl\n-fsS\nhttp://127.0.0.1:8080/health', healthTimeoutMs: '10000' });
    expect(d.base).toBe(FULL);
    // A check that is not http leaves the form's default status for a switch to http.
    expect(d.healthExpectStatus).toBe(defaultDraft().healthExpectStatus);
  });

  it('what the user edits wins over the base; the rest comes from the base', () => {
    const d = { ...planToDraft(FULL), downtimeBudgetMs: '600', target: 'other' };
    const r = draftToPlan(d);
    expect(r.ok && r.plan).toStrictEqual({ ...FULL, target: 'other', policy: { ...FULL.policy, downtimeBudgetMs: 600 } });
  });
});

describe('unsaved changes', () => {
  it('a fresh form has none; an edit has; editing it back has none again', () => {
    const f = initialPlanFileState();
    expect(hasUnsavedChanges(defaultDraft(), f)).toBe(false);
    expect(hasUnsavedChanges({ ...defaultDraft(), pid: '42' }, f)).toBe(true);
    const opened = planToDraft(FULL);
    const tied = { ...f, saved: opened };
    expect(hasUnsavedChanges({ ...opened, maxIterations: '6' }, tied)).toBe(true);
    const edited = { ...opened, maxIterations: '6' };
    expect(hasUnsavedChanges({ ...edited, maxIterations: '5' }, tied)).toBe(false);
    // The base is compared by value: the same plan read again is no change.
    expect(sameDraft(planToDraft(FULL), planToDraft(structuredClone(FULL)))).toBe(true);
    expect(sameDraft(planToDraft(FULL), planToDraft({ ...FULL, pid: 1 }))).toBe(false);
  });
});

describe('opening and saving', () => {
  const typed = { ...defaultDraft(), source: 'a', target: 'b', pid: '7' };

  it('a valid file replaces the form and ties it to the file, with no unsaved changes', () => {
    const f = { ...initialPlanFileState(), rejected: { path: '/p/old.yaml', problems: [] } };
    const r = afterOpen(typed, f, { path: '/p/web.yaml', plan: FULL, text: 'source: ...', problems: [] });
    expect(sameDraft(r.draft, planToDraft(FULL))).toBe(true);
    expect(r.draft.base).toStrictEqual(FULL);
    expect(r.planFile.path).toBe('/p/web.yaml');
    expect(r.planFile.rejected).toBeUndefined();
    expect(hasUnsavedChanges(r.draft, r.planFile)).toBe(false);
  });

  it('a bad file leaves the form and the current file alone, and keeps every problem', () => {
    const f = { ...initialPlanFileState(), path: '/p/web.yaml', saved: typed };
    const problems = [
      { line: 7, column: 48, field: 'policy.growth_threshold', message: 'must be a percentage like 10%' },
      { line: 12, column: 7, field: 'auto', message: 'must be true or false' },
    ];
    const edited = { ...typed, pid: '8' };
    const r = afterOpen(edited, f, { path: '/p/bad.yaml', text: 'x', problems });
    expect(r.draft).toBe(edited);
    expect(r.planFile.path).toBe('/p/web.yaml');
    expect(r.planFile.rejected).toEqual({ path: '/p/bad.yaml', problems, text: 'x' });
    expect(hasUnsavedChanges(r.draft, r.planFile)).toBe(true);
    expect(problemWhere(problems[0]!)).toBe('line 7:48 policy.growth_threshold');
    expect(problemWhere({ line: 3, column: 1, field: '', message: 'YAML syntax error' })).toBe('line 3:1');
  });

  it('a save ties the form to the file as it was sent', () => {
    const f = afterSave(typed, { ...initialPlanFileState(), error: { code: 'x', message: 'old' } }, { path: '/p/new.yaml', created: true });
    expect(f).toMatchObject({ path: '/p/new.yaml', saved: typed, error: undefined, note: 'Saved new file /p/new.yaml' });
    expect(hasUnsavedChanges(typed, f)).toBe(false);
    // An edit made while the save was on its way is still unsaved.
    expect(hasUnsavedChanges({ ...typed, pid: '9' }, f)).toBe(true);
  });

  it('a typed path must be absolute and .yaml or .yml', () => {
    expect(checkTypedPath('  /home/me/web.yaml ')).toEqual({ ok: true, path: '/home/me/web.yaml' });
    expect(checkTypedPath('/home/me/web.YML').ok).toBe(true);
    expect(checkTypedPath('')).toMatchObject({ ok: false, message: /full path/ });
    expect(checkTypedPath('web.yaml')).toMatchObject({ ok: false, message: /starting with \// });
    expect(checkTypedPath('/home/me/web.json')).toMatchObject({ ok: false, message: /\.yaml or \.yml/ });
    expect(fileName('/home/me/plans/web.yaml')).toBe('web.yaml');
  });
});

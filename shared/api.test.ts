import { describe, expect, it } from 'vitest';
import { newPlan, parseRequest, requestSchemas } from './api.ts';

const plan = newPlan({ source: 'lab-source', target: 'lab-target', pid: 50000, auto: true, targetAddress: '10.0.0.2', retention: 'keep' });

describe('parseRequest (the renderer is untrusted)', () => {
  it('accepts every well-formed request', () => {
    expect(parseRequest('hosts.connect', { alias: 'lab-source' })).toMatchObject({ ok: true });
    expect(parseRequest('preflight.run', { plan })).toMatchObject({ ok: true });
    const start = parseRequest('migration.start', { plan });
    expect(start.ok && (start.params as { overrideBlockers: boolean }).overrideBlockers).toBe(false);
  });

  it('refuses unknown methods, including prototype names', () => {
    for (const m of ['nope', '__proto__', 'constructor', 'toString', 42, null]) {
      const r = parseRequest(m, {});
      expect(r.ok).toBe(false);
      expect(!r.ok && r.error.code).toBe('bad-request');
    }
  });

  it('names the bad field', () => {
    const r = parseRequest('processes.inspect', { alias: 'lab-source', pid: -1 });
    expect(r.ok).toBe(false);
    expect(!r.ok && r.error.message).toMatch(/pid/);
    const bad = parseRequest('preflight.run', { plan: { ...plan, workDir: 'relative/dir' } });
    expect(!bad.ok && bad.error.message).toMatch(/plan\.workDir/);
  });

  it('refuses aliases and arguments that could smuggle options or shell', () => {
    expect(parseRequest('hosts.connect', { alias: '-oProxyCommand=sh' }).ok).toBe(false);
    expect(parseRequest('hosts.connect', { alias: '-J' }).ok).toBe(false);
    expect(parseRequest('hosts.connect', { alias: 'a b' }).ok).toBe(false);
    expect(parseRequest('hosts.connect', { alias: 'x;rm' }).ok).toBe(false);
    const hc = { ...plan, healthCheck: { kind: 'command', argv: ['curl', 'a\0b'] } };
    expect(parseRequest('preflight.run', { plan: hc }).ok).toBe(false);
  });

  it('requires the trusted fingerprint in OpenSSH SHA256 form', () => {
    const fp = 'SHA256:' + 'A'.repeat(43);
    expect(parseRequest('hosts.trust', { alias: 'h', fingerprint: fp, accept: true }).ok).toBe(true);
    expect(parseRequest('hosts.trust', { alias: 'h', fingerprint: 'MD5:aa', accept: true }).ok).toBe(false);
  });
});

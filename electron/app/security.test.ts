import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { contentSecurityPolicy, isTrustedSender, webPreferences } from './security.ts';

describe('window hardening', () => {
  it('isolates and sandboxes the renderer', () => {
    expect(webPreferences).toMatchObject({ contextIsolation: true, sandbox: true, nodeIntegration: false, webSecurity: true, webviewTag: false });
  });

  it('ships the same CSP in the page as the shell sends in headers', () => {
    const html = readFileSync(new URL('../../renderer/index.html', import.meta.url), 'utf8');
    const meta = /http-equiv="Content-Security-Policy"\s+content="([^"]+)"/.exec(html)?.[1];
    const norm = (s: string) => new Set(s.split(';').map((d) => d.trim()).filter((d) => d && !d.startsWith('frame-ancestors')));
    expect(meta).toBeDefined();
    expect(norm(meta!)).toEqual(norm(contentSecurityPolicy));
    expect(contentSecurityPolicy).toContain("default-src 'none'");
    const sources = contentSecurityPolicy.split(/[;\s]+/);
    expect(sources).not.toContain('*');
    expect(sources.filter((t) => /^https?:|unsafe-eval/.test(t))).toEqual([]);
  });
});

describe('isTrustedSender', () => {
  const fileApp = 'file:///opt/Ferry/resources/app.asar/out/renderer/index.html';
  it('accepts only the app top frame at the app URL', () => {
    expect(isTrustedSender({ url: fileApp }, true, fileApp)).toBe(true);
    expect(isTrustedSender({ url: fileApp }, false, fileApp)).toBe(false);
    expect(isTrustedSender({ url: 'file:///tmp/evil.html' }, true, fileApp)).toBe(false);
    expect(isTrustedSender({ url: 'https://example.com/' }, true, fileApp)).toBe(false);
    expect(isTrustedSender(null, true, fileApp)).toBe(false);
    expect(isTrustedSender({ url: 'not a url' }, true, fileApp)).toBe(false);
  });
  it('accepts the dev server origin only', () => {
    const dev = 'http://localhost:5173/';
    expect(isTrustedSender({ url: 'http://localhost:5173/index.html' }, true, dev)).toBe(true);
    expect(isTrustedSender({ url: 'http://localhost:5174/' }, true, dev)).toBe(false);
  });
});

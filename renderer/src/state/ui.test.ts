import { describe, expect, it } from 'vitest';
import { availableActions, startReadiness, stopAction } from './controls.ts';
import { isTypingTarget, shortcutOf } from './keys.ts';
import { parseInline, parseMarkdown } from './markdown.ts';
import { defaultDraft, draftToPlan, planKey } from './plan.ts';
import { shellQuote } from './commands.ts';
import { formatMs, formatBytes } from './format.ts';

const el = (tagName: string, extra: Record<string, unknown> = {}) => ({ tagName, ...extra }) as unknown as EventTarget;
const key = (k: string, target: EventTarget | null = el('BODY'), mods: Partial<Record<'ctrlKey' | 'metaKey' | 'altKey' | 'repeat', boolean>> = {}) => ({
  key: k,
  ctrlKey: false,
  metaKey: false,
  altKey: false,
  target,
  ...mods,
});

describe('keyboard shortcuts', () => {
  const letters = ['N', 'C', 'A', 'R'];
  it('fire on plain letters, either case', () => {
    expect(shortcutOf(key('c'), letters, false)).toBe('C');
    expect(shortcutOf(key('R'), letters, false)).toBe('R');
    expect(shortcutOf(key('x'), letters, false)).toBeUndefined();
  });
  it('never while typing, with a modifier, on key repeat, or with a dialog open', () => {
    expect(shortcutOf(key('c', el('INPUT', { type: 'text' })), letters, false)).toBeUndefined();
    expect(shortcutOf(key('c', el('INPUT', { type: 'search' })), letters, false)).toBeUndefined();
    expect(shortcutOf(key('c', el('TEXTAREA')), letters, false)).toBeUndefined();
    expect(shortcutOf(key('c', el('SELECT')), letters, false)).toBeUndefined();
    expect(shortcutOf(key('c', el('DIV', { isContentEditable: true })), letters, false)).toBeUndefined();
    expect(shortcutOf(key('c', el('BODY'), { ctrlKey: true }), letters, false)).toBeUndefined();
    expect(shortcutOf(key('c', el('BODY'), { repeat: true }), letters, false)).toBeUndefined();
    expect(shortcutOf(key('c'), letters, true)).toBeUndefined();
    // A checkbox or a button is not typing.
    expect(isTypingTarget(el('INPUT', { type: 'checkbox' }))).toBe(false);
    expect(isTypingTarget(el('BUTTON'))).toBe(false);
  });
});

describe('controls per phase', () => {
  it('pre-copy offers everything; after the final dump only rollback; finished nothing', () => {
    expect([...availableActions('precopy', false)].sort()).toEqual(['abort', 'cutover-now', 'one-more', 'rollback']);
    expect([...availableActions('restore', false)]).toEqual(['rollback']);
    expect(availableActions('committed', true).size).toBe(0);
    expect(availableActions('rolling-back', false).size).toBe(0);
    expect(stopAction('precopy', false)).toBe('abort');
    expect(stopAction('verify', false)).toBe('rollback');
    expect(stopAction('failed', true)).toBeUndefined();
  });
});

describe('the plan form', () => {
  const filled = { ...defaultDraft(), source: 'a', target: 'b', pid: '4242', targetAddress: '10.0.0.2' };
  it('turns a filled draft into a plan the engine schema accepts, with the documented defaults', () => {
    const r = draftToPlan(filled);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.plan.policy).toEqual({ downtimeBudgetMs: 300, maxIterations: 8, growthThreshold: 0.1, minPages: 64, onNotConverging: 'rollback' });
    expect(r.plan.pageServerPort).toBe(27000);
    expect(r.plan.healthCheck).toEqual({ kind: 'none' });
  });
  it('names the field that is wrong', () => {
    const r = draftToPlan({ ...filled, pid: '', workDir: 'relative', target: 'a', pageServerPort: '70000' });
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(Object.keys(r.errors).sort()).toEqual(['pageServerPort', 'pid', 'target', 'workDir']);
  });
  it('health checks: command argv one per line, tcp port, http url', () => {
    const cmd = draftToPlan({ ...filled, healthKind: 'command', healthArgv: 'curl\n -fsS \nhttp://x/\n' });
    expect(cmd.ok && cmd.plan.healthCheck).toEqual({ kind: 'command', argv: ['curl', '-fsS', 'http://x/'] });
    const tcp = draftToPlan({ ...filled, healthKind: 'tcp', healthPort: '' });
    expect(!tcp.ok && tcp.errors.healthPort).toBeTruthy();
    const http = draftToPlan({ ...filled, healthKind: 'http', healthUrl: 'not a url' });
    expect(!http.ok && http.errors.healthUrl).toBeTruthy();
  });
  it('Start needs a preflight of this very plan without blockers, or the override', () => {
    const r = draftToPlan(filled);
    if (!r.ok) throw new Error('plan');
    const k = planKey(r.plan);
    const report = (blockers: number) => ({ checks: [], blockers });
    expect(startReadiness({ planOk: true, planKey: k, preflight: { status: 'idle' }, override: false, running: false }).ok).toBe(false);
    expect(startReadiness({ planOk: true, planKey: k, preflight: { status: 'ok', planKey: k, value: report(2) }, override: false, running: false })).toEqual({ ok: false, reason: 'Preflight found 2 blocker(s).' });
    expect(startReadiness({ planOk: true, planKey: k, preflight: { status: 'ok', planKey: k, value: report(0) }, override: false, running: false })).toEqual({ ok: true, overridden: false });
    expect(startReadiness({ planOk: true, planKey: k, preflight: { status: 'ok', planKey: 'other', value: report(0) }, override: false, running: false }).ok).toBe(false);
    expect(startReadiness({ planOk: true, planKey: k, preflight: { status: 'ok', planKey: k, value: report(2) }, override: true, running: false })).toEqual({ ok: true, overridden: true });
    expect(startReadiness({ planOk: true, planKey: k, preflight: { status: 'ok', planKey: k, value: report(0) }, override: false, running: true }).ok).toBe(false);
    expect(startReadiness({ planOk: false, preflight: { status: 'idle' }, override: true, running: false }).ok).toBe(false);
  });
});

describe('markdown and display helpers', () => {
  it('reads headings, lists, tables, code and inline code without producing HTML', () => {
    const blocks = parseMarkdown('# Migration x\n\n**Outcome:** ok `a<b>`\n\n- one\n- two\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n```sh\ncriu dump\n```\n');
    expect(blocks.map((b) => b.kind)).toEqual(['heading', 'paragraph', 'list', 'table', 'code']);
    expect(parseInline('x `<script>` **y**')).toEqual([
      { kind: 'text', text: 'x ' },
      { kind: 'code', text: '<script>' },
      { kind: 'text', text: ' ' },
      { kind: 'strong', text: 'y' },
    ]);
  });
  it('quotes argv so the command log is copy-pastable', () => {
    expect(shellQuote('--exclude=*.log')).toBe(`'--exclude=*.log'`);
    expect(shellQuote("it's")).toBe(`'it'\\''s'`);
    expect(shellQuote('')).toBe(`''`);
    expect(shellQuote('/var/lib/ferry')).toBe('/var/lib/ferry');
  });
  it('formats without changing the numbers', () => {
    expect(formatMs(8997)).toBe('8,997 ms');
    expect(formatMs(62627.8)).toBe('62.6 s');
    expect(formatBytes(51200)).toBe('50.0 KiB');
  });
});

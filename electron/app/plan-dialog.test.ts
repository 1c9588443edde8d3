import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { chosenPlanPath, openDialogOptions, parsePlanDialogRequest, PLAN_DIALOG_CHANNEL, saveDialogOptions } from './plan-dialog.ts';

describe('the native plan file dialog request', () => {
  it('accepts open or save, with an optional absolute starting path', () => {
    expect(parsePlanDialogRequest('open', undefined)).toEqual({ ok: true, request: { kind: 'open' } });
    expect(parsePlanDialogRequest('save', '/home/me/web.yaml')).toEqual({ ok: true, request: { kind: 'save', defaultPath: '/home/me/web.yaml' } });
  });
  it('refuses anything else from the renderer', () => {
    for (const [k, p] of [
      ['delete', undefined],
      [{ kind: 'open' }, undefined],
      ['open', 'relative.yaml'],
      ['open', 42],
      ['save', '/tmp/a\0b.yaml'],
      ['save', `/${'a'.repeat(5000)}`],
    ] as const) {
      const r = parsePlanDialogRequest(k, p);
      expect(r.ok).toBe(false);
      if (!r.ok) expect(r.error.error.code).toBe('bad-request');
    }
  });
  it('filters to YAML files and asks before overwriting', () => {
    const open = openDialogOptions();
    expect(open.filters).toEqual([{ name: 'Ferry plan (YAML)', extensions: ['yaml', 'yml'] }]);
    expect(open.properties).toEqual(['openFile']);
    expect(open).not.toHaveProperty('defaultPath');
    const save = saveDialogOptions('/p/web.yaml');
    expect(save.properties).toContain('showOverwriteConfirmation');
    expect(save.defaultPath).toBe('/p/web.yaml');
  });
  it('returns the chosen path, null when canceled, and names a save without extension .yaml', () => {
    expect(chosenPlanPath('open', true, '/x.yaml')).toBeNull();
    expect(chosenPlanPath('save', false, undefined)).toBeNull();
    expect(chosenPlanPath('open', false, '/p/web.yml')).toBe('/p/web.yml');
    expect(chosenPlanPath('save', false, '/p/web')).toBe('/p/web.yaml');
    // Another extension is left for the engine to refuse, with its hint.
    expect(chosenPlanPath('save', false, '/p/web.json')).toBe('/p/web.json');
  });
});

it('the preload invokes the channel the main process handles (it spells the name out)', () => {
  const preload = readFileSync(new URL('./preload.ts', import.meta.url), 'utf8');
  expect(preload).toContain(`ipcRenderer.invoke('${PLAN_DIALOG_CHANNEL}', kind, defaultPath)`);
});

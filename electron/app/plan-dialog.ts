/**
 * The native plan file dialogs' request and options, as plain data: the renderer may ask
 * only for "open" or "save" with an optional absolute starting path, and gets back a path
 * (the engine then checks and reads or writes it). No electron import, so it is tested under Node.
 */
import path from 'node:path';
import type { Reply } from '../../shared/api.ts';

export const PLAN_DIALOG_CHANNEL = 'ferry:pick-plan-file';

export interface PlanDialogRequest {
  kind: 'open' | 'save';
  defaultPath?: string;
}

/** Validate the renderer's arguments; never throws. */
export function parsePlanDialogRequest(kind: unknown, defaultPath: unknown): { ok: true; request: PlanDialogRequest } | { ok: false; error: Reply & { ok: false } } {
  const bad = (message: string) => ({ ok: false as const, error: { ok: false as const, error: { code: 'bad-request', message } } });
  if (kind !== 'open' && kind !== 'save') return bad('Invalid plan file dialog request: kind must be open or save');
  if (defaultPath === undefined || defaultPath === null) return { ok: true, request: { kind } };
  if (typeof defaultPath !== 'string' || defaultPath.length > 4096 || !path.isAbsolute(defaultPath) || /[\0\n]/.test(defaultPath)) {
    return bad('Invalid plan file dialog request: defaultPath must be an absolute path');
  }
  return { ok: true, request: { kind, defaultPath } };
}

export const PLAN_FILTERS = [{ name: 'Ferry plan (YAML)', extensions: ['yaml', 'yml'] }];

/** Options for dialog.showOpenDialog. */
export function openDialogOptions(defaultPath?: string) {
  return { title: 'Open a migration plan', filters: PLAN_FILTERS, properties: ['openFile' as const], ...(defaultPath ? { defaultPath } : {}) };
}

/** Options for dialog.showSaveDialog: it asks before replacing a file. */
export function saveDialogOptions(defaultPath?: string) {
  return { title: 'Save the migration plan', filters: PLAN_FILTERS, properties: ['createDirectory' as const, 'showOverwriteConfirmation' as const], ...(defaultPath ? { defaultPath } : {}) };
}

/** The path a dialog chose; a save without an extension gets .yaml (the engine refuses others). */
export function chosenPlanPath(kind: PlanDialogRequest['kind'], canceled: boolean, chosen: string | undefined): string | null {
  if (canceled || !chosen) return null;
  return kind === 'save' && !/\.ya?ml$/i.test(chosen) && path.extname(chosen) === '' ? `${chosen}.yaml` : chosen;
}

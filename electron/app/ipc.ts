import { dialog, ipcMain, type BrowserWindow, type IpcMainInvokeEvent } from 'electron';
import type { Reply } from '../../shared/api.ts';
import type { Engine } from '../engine/console.ts';
import { chosenPlanPath, parsePlanDialogRequest, openDialogOptions, PLAN_DIALOG_CHANNEL, saveDialogOptions } from './plan-dialog.ts';
import { isTrustedSender } from './security.ts';

export const REQUEST_CHANNEL = 'ferry:request';
export const EVENT_CHANNEL = 'ferry:event';

/**
 * Bind the engine to one window. Requests are accepted only from that window's own top
 * frame at the app's URL, and validated by the engine before anything runs.
 */
export function bindEngine(win: BrowserWindow, engine: Engine, appUrl: string): void {
  const refused = (event: IpcMainInvokeEvent): Reply | undefined => {
    const frame = event.senderFrame;
    const isTop = !!frame && frame === win.webContents.mainFrame && event.sender === win.webContents;
    if (isTrustedSender(frame, isTop, appUrl)) return undefined;
    return { ok: false, error: { code: 'forbidden', message: 'Request refused: it did not come from the Ferry window' } };
  };
  const handler = async (event: IpcMainInvokeEvent, method: unknown, params: unknown): Promise<Reply> => refused(event) ?? engine.handle(method, params);
  ipcMain.handle(REQUEST_CHANNEL, handler);
  // The native open/save dialog answers with a path only; reading and writing go through the engine.
  ipcMain.handle(PLAN_DIALOG_CHANNEL, async (event, kind: unknown, defaultPath: unknown): Promise<Reply> => {
    const no = refused(event);
    if (no) return no;
    const parsed = parsePlanDialogRequest(kind, defaultPath);
    if (!parsed.ok) return parsed.error;
    const r = parsed.request;
    if (r.kind === 'open') {
      const res = await dialog.showOpenDialog(win, openDialogOptions(r.defaultPath));
      return { ok: true, value: chosenPlanPath('open', res.canceled, res.filePaths[0]) };
    }
    const res = await dialog.showSaveDialog(win, saveDialogOptions(r.defaultPath));
    return { ok: true, value: chosenPlanPath('save', res.canceled, res.filePath) };
  });
  const unsubscribe = engine.subscribe((e) => {
    if (!win.isDestroyed()) win.webContents.send(EVENT_CHANNEL, e);
  });
  win.on('closed', () => {
    unsubscribe();
    ipcMain.removeHandler(REQUEST_CHANNEL);
    ipcMain.removeHandler(PLAN_DIALOG_CHANNEL);
  });
}

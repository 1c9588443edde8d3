import { ipcMain, type BrowserWindow, type IpcMainInvokeEvent } from 'electron';
import type { Reply } from '../../shared/api.ts';
import type { Engine } from '../engine/console.ts';
import { isTrustedSender } from './security.ts';

export const REQUEST_CHANNEL = 'ferry:request';
export const EVENT_CHANNEL = 'ferry:event';

/**
 * Bind the engine to one window. Requests are accepted only from that window's own top
 * frame at the app's URL, and validated by the engine before anything runs.
 */
export function bindEngine(win: BrowserWindow, engine: Engine, appUrl: string): void {
  const handler = async (event: IpcMainInvokeEvent, method: unknown, params: unknown): Promise<Reply> => {
    const frame = event.senderFrame;
    const isTop = !!frame && frame === win.webContents.mainFrame && event.sender === win.webContents;
    if (!isTrustedSender(frame, isTop, appUrl)) {
      return { ok: false, error: { code: 'forbidden', message: 'Request refused: it did not come from the Ferry window' } };
    }
    return engine.handle(method, params);
  };
  ipcMain.handle(REQUEST_CHANNEL, handler);
  const unsubscribe = engine.subscribe((e) => {
    if (!win.isDestroyed()) win.webContents.send(EVENT_CHANNEL, e);
  });
  win.on('closed', () => {
    unsubscribe();
    ipcMain.removeHandler(REQUEST_CHANNEL);
  });
}

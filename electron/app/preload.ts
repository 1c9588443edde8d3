// Sandboxed preload: exposes exactly the console API (request + subscribe) and the native
// plan file dialog (answers a path), nothing more.
import { contextBridge, ipcRenderer, type IpcRendererEvent } from 'electron';

contextBridge.exposeInMainWorld('ferryBridge', {
  request: (method: string, params: unknown): Promise<unknown> => ipcRenderer.invoke('ferry:request', method, params),
  // The channel name is spelled out: a sandboxed preload cannot import the main process's modules.
  pickPlanFile: (kind: unknown, defaultPath?: unknown): Promise<unknown> => ipcRenderer.invoke('ferry:pick-plan-file', kind, defaultPath),
  subscribe: (listener: (event: unknown) => void): (() => void) => {
    const h = (_e: IpcRendererEvent, event: unknown) => listener(event);
    ipcRenderer.on('ferry:event', h);
    return () => {
      ipcRenderer.removeListener('ferry:event', h);
    };
  },
});

// Sandboxed preload: exposes exactly the console API (request + subscribe), nothing more.
import { contextBridge, ipcRenderer, type IpcRendererEvent } from 'electron';

contextBridge.exposeInMainWorld('ferryBridge', {
  request: (method: string, params: unknown): Promise<unknown> => ipcRenderer.invoke('ferry:request', method, params),
  subscribe: (listener: (event: unknown) => void): (() => void) => {
    const h = (_e: IpcRendererEvent, event: unknown) => listener(event);
    ipcRenderer.on('ferry:event', h);
    return () => {
      ipcRenderer.removeListener('ferry:event', h);
    };
  },
});

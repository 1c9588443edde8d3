// The Electron shell: the only place besides preload.ts and ipc.ts that imports electron.
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { app, BrowserWindow, session, shell } from 'electron';
import { Engine } from '../engine/console.ts';
import { bindEngine } from './ipc.ts';
import { contentSecurityPolicy, webPreferences } from './security.ts';

const here = path.dirname(fileURLToPath(import.meta.url));
const devUrl = process.env.ELECTRON_RENDERER_URL;
const appUrl = devUrl ?? pathToFileURL(path.join(here, '../renderer/index.html')).toString();

function createWindow(engine: Engine): BrowserWindow {
  const win = new BrowserWindow({
    width: 1280,
    height: 800,
    minWidth: 1024,
    minHeight: 640,
    title: 'Ferry',
    show: false,
    webPreferences: { ...webPreferences, preload: path.join(here, '../preload/index.cjs') },
  });
  win.once('ready-to-show', () => win.show());
  // No new windows, no navigation away from the app, no remote content.
  win.webContents.setWindowOpenHandler(({ url }) => {
    if (url.startsWith('https://')) void shell.openExternal(url);
    return { action: 'deny' };
  });
  win.webContents.on('will-navigate', (e, url) => {
    if (url !== appUrl) e.preventDefault();
  });
  win.webContents.on('will-attach-webview', (e) => e.preventDefault());
  bindEngine(win, engine, appUrl);
  void win.loadURL(appUrl);
  return win;
}

app.enableSandbox();
app.whenReady().then(() => {
  session.defaultSession.setPermissionRequestHandler((_wc, _perm, cb) => cb(false));
  session.defaultSession.setPermissionCheckHandler(() => false);
  session.defaultSession.webRequest.onHeadersReceived((details, cb) => {
    cb({ responseHeaders: { ...details.responseHeaders, 'Content-Security-Policy': [contentSecurityPolicy] } });
  });
  const engine = new Engine();
  createWindow(engine);
  app.on('window-all-closed', () => {
    void engine.close().finally(() => app.quit());
  });
});

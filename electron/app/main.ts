// The Electron shell: the only place besides preload.ts and ipc.ts that imports electron.
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { app, BrowserWindow, dialog, session, shell } from 'electron';
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
  // Closing the window must not leave a migration half done: ask, and roll back if asked to.
  win.on('close', (e) => {
    if (!engine.migrations.activeIds().length) return;
    e.preventDefault();
    const choice = dialog.showMessageBoxSync(win, {
      type: 'warning',
      buttons: ['Keep Ferry open', 'Roll back and quit'],
      defaultId: 0,
      cancelId: 0,
      message: 'A migration is running',
      detail: 'Quitting now would leave it unfinished. Ferry can roll it back first: the process keeps running on the source.',
    });
    if (choice === 1) void engine.migrations.rollbackAll().finally(() => win.destroy());
  });
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

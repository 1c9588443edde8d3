/**
 * The window's security settings in one place, so the shell and its test read the same
 * values. This file must not import electron: it is plain data checked under Node.
 */
export const webPreferences = {
  contextIsolation: true,
  sandbox: true,
  nodeIntegration: false,
  nodeIntegrationInWorker: false,
  nodeIntegrationInSubFrames: false,
  webSecurity: true,
  allowRunningInsecureContent: false,
  webviewTag: false,
  spellcheck: false,
} as const;

/**
 * The renderer loads only its own bundle. connect-src allows the web bridge's WebSocket
 * on loopback (web mode) and nothing else; Electron mode talks over IPC only.
 */
export const contentSecurityPolicy = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "font-src 'self'",
  "connect-src 'self' ws://127.0.0.1:* ws://localhost:*",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
  "object-src 'none'",
].join('; ');

/** Only the app's own top frame, loaded from the app's own URL, may call the engine. */
export function isTrustedSender(frame: { url: string; top?: unknown } | null | undefined, isTop: boolean, appUrl: string): boolean {
  if (!frame || !isTop) return false;
  try {
    const u = new URL(frame.url);
    const app = new URL(appUrl);
    if (u.protocol !== app.protocol) return false;
    if (u.protocol === 'file:') return u.pathname === app.pathname;
    return u.origin === app.origin;
  } catch {
    return false;
  }
}

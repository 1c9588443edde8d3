import { randomBytes, timingSafeEqual } from 'node:crypto';
import { createReadStream, existsSync, statSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';
import { FerryError } from '../../shared/errors.ts';
import type { Engine } from '../engine/console.ts';

const LOOPBACK = new Set(['127.0.0.1', '::1', 'localhost']);
const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.json': 'application/json',
};

export interface WebBridge {
  url: string;
  port: number;
  token: string;
  close(): Promise<void>;
}

function sameToken(given: string | null, token: string): boolean {
  if (!given) return false;
  const a = Buffer.from(given);
  const b = Buffer.from(token);
  return a.length === b.length && timingSafeEqual(a, b);
}

/**
 * Web mode: the built renderer over HTTP and the console API over a WebSocket, for the
 * end-to-end tests and for watching from a browser on this machine. Loopback only; the
 * API needs the per-run token and a page from this very origin (no other site, and no
 * DNS-rebound name, can drive the engine).
 */
export async function startWebBridge(opts: { engine: Engine; rendererDir: string; host?: string; port?: number; token?: string }): Promise<WebBridge> {
  const host = opts.host ?? '127.0.0.1';
  if (!LOOPBACK.has(host)) {
    throw new FerryError({
      code: 'non-loopback-bind',
      message: `Web mode refuses to listen on ${host}: it would let other machines drive migrations`,
      hint: 'Bind to 127.0.0.1 (the default) and use SSH port forwarding to watch from elsewhere.',
    });
  }
  const index = path.join(opts.rendererDir, 'index.html');
  if (!existsSync(index)) {
    throw new FerryError({ code: 'renderer-not-built', message: `No built renderer at ${opts.rendererDir}`, hint: 'Run `npm run build` first.' });
  }
  const token = opts.token ?? randomBytes(24).toString('hex');
  const root = path.resolve(opts.rendererDir);

  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const rel = url.pathname === '/' ? 'index.html' : decodeURIComponent(url.pathname).replace(/^\/+/, '');
    const file = path.resolve(root, rel);
    if (!file.startsWith(root + path.sep) || !existsSync(file) || !statSync(file).isFile()) {
      res.writeHead(404).end('not found');
      return;
    }
    res.writeHead(200, {
      'Content-Type': TYPES[path.extname(file)] ?? 'application/octet-stream',
      'X-Content-Type-Options': 'nosniff',
      'Cache-Control': 'no-store',
    });
    createReadStream(file).pipe(res);
  });

  const wss = new WebSocketServer({ noServer: true, maxPayload: 1 << 20 });
  const clients = new Set<WebSocket>();
  server.on('upgrade', (req, socket, head) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const port = (server.address() as AddressInfo).port;
    const origins = [`http://127.0.0.1:${port}`, `http://localhost:${port}`, `http://[::1]:${port}`];
    const originOk = req.headers.origin === undefined || origins.includes(req.headers.origin);
    const hostOk = origins.some((o) => o.endsWith(`//${req.headers.host}`));
    if (url.pathname !== '/api' || !sameToken(url.searchParams.get('token'), token) || !originOk || !hostOk) {
      socket.end('HTTP/1.1 401 Unauthorized\r\nConnection: close\r\n\r\n');
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      clients.add(ws);
      ws.on('close', () => clients.delete(ws));
      ws.on('message', async (data) => {
        let msg: { id?: unknown; method?: unknown; params?: unknown };
        try {
          msg = JSON.parse(String(data));
        } catch {
          return;
        }
        if (typeof msg.id !== 'number') return;
        const reply = await opts.engine.handle(msg.method, msg.params);
        if (ws.readyState === ws.OPEN) ws.send(JSON.stringify({ id: msg.id, reply }));
      });
    });
  });
  const unsubscribe = opts.engine.subscribe((event) => {
    const text = JSON.stringify({ event });
    for (const ws of clients) if (ws.readyState === ws.OPEN) ws.send(text);
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', (e: NodeJS.ErrnoException) =>
      reject(
        e.code === 'EADDRINUSE'
          ? new FerryError({ code: 'port-in-use', message: `Port ${opts.port} on ${host} is already in use`, hint: 'Pick another port with --port, or stop what uses it.' })
          : e,
      ),
    );
    server.listen(opts.port ?? 0, host, resolve);
  });
  const port = (server.address() as AddressInfo).port;
  const shownHost = host === '::1' ? '[::1]' : host;
  return {
    url: `http://${shownHost}:${port}/?token=${token}`,
    port,
    token,
    close: async () => {
      unsubscribe();
      for (const ws of clients) ws.terminate();
      await new Promise<void>((r) => wss.close(() => r()));
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

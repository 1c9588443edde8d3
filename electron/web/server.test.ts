import { mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { Engine } from '../engine/console.ts';
import { startWebBridge, type WebBridge } from './server.ts';

const home = mkdtempSync(path.join(os.tmpdir(), 'ferry-web-'));
const rendererDir = path.join(home, 'renderer');
mkdirSync(path.join(rendererDir, 'assets'), { recursive: true });
writeFileSync(path.join(rendererDir, 'index.html'), '<!doctype html><title>Ferry</title>');
writeFileSync(path.join(rendererDir, 'assets', 'app.js'), 'console.log(1)');
writeFileSync(path.join(home, 'secret.txt'), 'not for the browser');

const env = { ...process.env, HOME: home, FERRY_HOME: path.join(home, 'ferry') };
let engine: Engine;
let bridge: WebBridge;

function open(url: string, headers: Record<string, string> = {}): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { headers });
    ws.once('open', () => resolve(ws));
    ws.once('error', reject);
    ws.once('unexpected-response', (_req, res) => reject(new Error(`HTTP ${res.statusCode}`)));
  });
}

function ask(ws: WebSocket, id: number, method: string, params: unknown): Promise<{ id: number; reply: { ok: boolean; value?: unknown; error?: { code: string; message: string } } }> {
  return new Promise((resolve) => {
    const onMsg = (d: WebSocket.RawData) => {
      const msg = JSON.parse(String(d));
      if (msg.id === id) {
        ws.off('message', onMsg);
        resolve(msg);
      }
    };
    ws.on('message', onMsg);
    ws.send(JSON.stringify({ id, method, params }));
  });
}

beforeAll(async () => {
  engine = new Engine({ env });
  bridge = await startWebBridge({ engine, rendererDir });
});
afterAll(async () => {
  await bridge.close();
  await engine.close();
});

describe('web bridge', () => {
  const api = () => `ws://127.0.0.1:${bridge.port}/api`;
  const origin = () => ({ Origin: `http://127.0.0.1:${bridge.port}` });

  it('binds loopback only and refuses any other address', async () => {
    await expect(startWebBridge({ engine, rendererDir, host: '0.0.0.0' })).rejects.toMatchObject({ code: 'non-loopback-bind' });
    await expect(startWebBridge({ engine, rendererDir, host: '192.168.1.10' })).rejects.toMatchObject({ code: 'non-loopback-bind' });
    expect(bridge.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/\?token=[0-9a-f]{48}$/);
  });

  it('refuses a missing or wrong token, and a foreign origin', async () => {
    await expect(open(api(), origin())).rejects.toThrow(/401/);
    await expect(open(`${api()}?token=${'0'.repeat(48)}`, origin())).rejects.toThrow(/401/);
    await expect(open(`${api()}?token=${bridge.token.slice(0, -1)}`, origin())).rejects.toThrow(/401/);
    await expect(open(`${api()}?token=${bridge.token}`, { Origin: 'http://evil.example' })).rejects.toThrow(/401/);
  });

  it('answers validated requests with the right token, and refuses bad ones with the reason', async () => {
    const ws = await open(`${api()}?token=${bridge.token}`, origin());
    const bad = await ask(ws, 1, 'processes.inspect', { alias: 'x', pid: 'one' });
    expect(bad.reply.ok).toBe(false);
    expect(bad.reply.error?.code).toBe('bad-request');
    expect(bad.reply.error?.message).toMatch(/pid/);
    const unknown = await ask(ws, 2, 'shell.exec', { cmd: 'id' });
    expect(unknown.reply.error?.code).toBe('bad-request');
    const list = await ask(ws, 3, 'hosts.list', {});
    expect(list.reply).toEqual({ ok: true, value: [] });
    ws.close();
  });

  it('pushes engine events to connected pages', async () => {
    const ws = await open(`${api()}?token=${bridge.token}`, origin());
    const got = new Promise((resolve) => ws.once('message', (d) => resolve(JSON.parse(String(d)))));
    engine.events.emit({ type: 'lab-progress', progress: { step: 'boot', message: 'booting source' } });
    expect(await got).toEqual({ event: { type: 'lab-progress', progress: { step: 'boot', message: 'booting source' } } });
    ws.close();
  });

  it('serves the renderer, and nothing outside it', async () => {
    const base = `http://127.0.0.1:${bridge.port}`;
    expect((await fetch(`${base}/`)).status).toBe(200);
    expect(await (await fetch(`${base}/assets/app.js`)).text()).toBe('console.log(1)');
    expect((await fetch(`${base}/../secret.txt`)).status).toBe(404);
    expect((await fetch(`${base}/%2e%2e/secret.txt`)).status).toBe(404);
  });
});

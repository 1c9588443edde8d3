import type { ConsoleApi, EngineEvent, Method, Params, Reply, Results } from '../../../shared/api.ts';
import { FerryError } from '../../../shared/errors.ts';

/** What Electron's preload exposes on window.ferryBridge. */
export interface Bridge {
  request(method: string, params: unknown): Promise<unknown>;
  subscribe(listener: (event: unknown) => void): () => void;
  /** The native open/save dialog for a plan file (Electron only): a Reply with the chosen path, or null. */
  pickPlanFile?(kind: 'open' | 'save', defaultPath?: string): Promise<unknown>;
}

declare global {
  interface Window {
    ferryBridge?: Bridge;
  }
}

function unwrap<T>(reply: unknown): T {
  const r = reply as Reply<T>;
  if (r && r.ok === true) return r.value;
  if (r && r.ok === false) throw new FerryError(r.error);
  throw new FerryError({ code: 'bad-reply', message: 'The engine sent a reply Ferry does not understand' });
}

/** The console API over Electron's preload bridge. */
export function bridgeClient(bridge: Bridge): ConsoleApi {
  return {
    async request<M extends Method>(method: M, params: Params<M>): Promise<Results[M]> {
      return unwrap<Results[M]>(await bridge.request(method, params));
    },
    subscribe(listener: (e: EngineEvent) => void) {
      return bridge.subscribe((e) => listener(e as EngineEvent));
    },
  };
}

/**
 * The console API over the web bridge's WebSocket (web mode). The token comes from the
 * page URL the bridge printed; requests are correlated by id.
 */
export function webSocketClient(url: string): ConsoleApi {
  const listeners = new Set<(e: EngineEvent) => void>();
  const waiting = new Map<number, (reply: unknown) => void>();
  let nextId = 1;
  let socket: Promise<WebSocket> | undefined;

  const open = (): Promise<WebSocket> => {
    socket ??= new Promise((resolve, reject) => {
      const ws = new WebSocket(url);
      ws.onopen = () => resolve(ws);
      ws.onerror = () => reject(new FerryError({ code: 'bridge-unreachable', message: 'Cannot reach the Ferry engine', hint: 'Is `ferry ui --web` still running?' }));
      ws.onclose = () => {
        socket = undefined;
        for (const w of waiting.values()) w({ ok: false, error: { code: 'bridge-closed', message: 'The connection to the Ferry engine closed' } });
        waiting.clear();
      };
      ws.onmessage = (m) => {
        const msg = JSON.parse(String(m.data)) as { id?: number; reply?: unknown; event?: EngineEvent };
        if (msg.event) for (const l of listeners) l(msg.event);
        if (msg.id !== undefined) {
          waiting.get(msg.id)?.(msg.reply);
          waiting.delete(msg.id);
        }
      };
    });
    return socket;
  };

  return {
    async request<M extends Method>(method: M, params: Params<M>): Promise<Results[M]> {
      const ws = await open();
      const id = nextId++;
      const reply = new Promise<unknown>((resolve) => waiting.set(id, resolve));
      ws.send(JSON.stringify({ id, method, params }));
      return unwrap<Results[M]>(await reply);
    },
    subscribe(listener) {
      listeners.add(listener);
      void open().catch(() => undefined);
      return () => listeners.delete(listener);
    },
  };
}

/** Pick the transport this page was loaded with. */
export function connectConsole(loc: Location = window.location): ConsoleApi {
  if (window.ferryBridge) return bridgeClient(window.ferryBridge);
  const token = new URLSearchParams(loc.search).get('token') ?? '';
  const proto = loc.protocol === 'https:' ? 'wss:' : 'ws:';
  return webSocketClient(`${proto}//${loc.host}/api?token=${encodeURIComponent(token)}`);
}

/** The desktop's native plan file dialogs, when this page runs in the Electron shell; web mode has none. */
export function planFilePicker(bridge: Bridge | undefined = globalThis.window?.ferryBridge): ((kind: 'open' | 'save', defaultPath?: string) => Promise<string | undefined>) | undefined {
  const pick = bridge?.pickPlanFile;
  if (!pick) return undefined;
  return async (kind, defaultPath) => unwrap<string | null>(await pick.call(bridge, kind, defaultPath)) ?? undefined;
}

import { create } from 'zustand';
import type { EngineEvent } from '../../shared/api.ts';
import type { HostInfo, SessionState, TrustPrompt } from '../../shared/domain.ts';
import type { FerryErrorInfo } from '../../shared/errors.ts';

/** Console state, fed only by the engine's event stream and request results. */
export interface ConsoleState {
  hosts: HostInfo[];
  sessions: Record<string, SessionState>;
  trustPrompt?: TrustPrompt;
  lastError?: FerryErrorInfo;
  setHosts(hosts: HostInfo[]): void;
  apply(event: EngineEvent): void;
  setError(error?: FerryErrorInfo): void;
  clearTrust(): void;
}

export const useConsole = create<ConsoleState>((set) => ({
  hosts: [],
  sessions: {},
  setHosts: (hosts) => set({ hosts }),
  setError: (lastError) => set({ lastError }),
  clearTrust: () => set({ trustPrompt: undefined }),
  apply: (event) =>
    set((s) => {
      switch (event.type) {
        case 'session-state': {
          const next: Partial<ConsoleState> = { sessions: { ...s.sessions, [event.alias]: event.state } };
          if (event.state.kind === 'awaiting-trust') next.trustPrompt = event.state.prompt;
          else if (s.trustPrompt?.alias === event.alias) next.trustPrompt = undefined;
          return next;
        }
        case 'error':
          return { lastError: event.error };
        default:
          return {};
      }
    }),
}));

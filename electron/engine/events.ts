import type { EngineEvent, Unsubscribe } from '../../shared/api.ts';

/**
 * The engine's event stream. Listeners that throw are isolated: one broken face must not
 * stop the others (or the engine) from hearing what happened.
 */
export class EventStream {
  private listeners = new Set<(e: EngineEvent) => void>();

  emit(event: EngineEvent): void {
    for (const l of this.listeners) {
      try {
        l(event);
      } catch {
        // A face's bug is its own; the engine carries on.
      }
    }
  }

  subscribe(listener: (e: EngineEvent) => void): Unsubscribe {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}

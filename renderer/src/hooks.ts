import { useEffect } from 'react';
import type { MigrationAction } from '../../shared/domain.ts';
import { shortcutOf } from './state/keys.ts';
import { ACTION_WORDS } from './state/words.ts';
import { availableActions } from './state/controls.ts';
import { activeMigration } from './state/engine.ts';
import { useConsole } from './store.ts';

const BY_KEY = new Map<string, MigrationAction>(
  (Object.keys(ACTION_WORDS) as MigrationAction[]).map((a) => [ACTION_WORDS[a].key, a]),
);

/** N, C, A, R open the matching confirmation while a migration runs; never while typing or in a dialog. */
export function useMigrationShortcuts(): void {
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      const s = useConsole.getState();
      const m = activeMigration(s);
      if (!m) return;
      const modalOpen = !!s.confirm || !!s.trustPrompt || !!document.querySelector('[aria-modal="true"]');
      const k = shortcutOf(e, [...BY_KEY.keys()], modalOpen);
      const action = k ? BY_KEY.get(k) : undefined;
      if (!action || !availableActions(m.phase, false).has(action)) return;
      e.preventDefault();
      s.askConfirm(action);
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, []);
}

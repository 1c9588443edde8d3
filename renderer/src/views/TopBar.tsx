import { isFinished } from '../state/engine.ts';
import { stopAction } from '../state/controls.ts';
import { PHASE_LABEL } from '../state/timeline.ts';
import { ACTION_WORDS } from '../state/words.ts';
import { useConsole, type ThemeChoice } from '../store.ts';

function ThemeToggle() {
  const theme = useConsole((s) => s.theme);
  const setTheme = useConsole((s) => s.setTheme);
  return (
    <label className="theme-toggle">
      <span className="sr-only">Theme</span>
      <select aria-label="Theme" value={theme} onChange={(e) => setTheme(e.target.value as ThemeChoice)}>
        <option value="system">System theme</option>
        <option value="light">Light</option>
        <option value="dark">Dark</option>
      </select>
    </label>
  );
}

/** The active migration's phase, always visible, with its stop button one click away. */
function MigrationStatus() {
  const watched = useConsole((s) => (s.watchedMigrationId ? s.migrations[s.watchedMigrationId] : undefined));
  const askConfirm = useConsole((s) => s.askConfirm);
  const setView = useConsole((s) => s.setView);
  if (!watched) return <span className="muted" data-testid="phase" data-phase="none">No migration running</span>;
  const finished = isFinished(watched);
  const stop = stopAction(watched.phase, finished);
  const what = watched.plan ? `PID ${watched.plan.pid}: ${watched.plan.source} → ${watched.plan.target}` : watched.id;
  return (
    <div className="migration-status" role="status" aria-label="Active migration">
      <button type="button" className="link" onClick={() => setView('migrate')} title={watched.id}>
        {what}
      </button>
      <span className={`phase-badge phase-${watched.phase}`} data-testid="phase" data-phase={watched.phase}>
        {PHASE_LABEL[watched.phase]}
      </span>
      {stop && (
        <button type="button" className="danger" data-testid="topbar-stop" onClick={() => askConfirm(stop)} aria-keyshortcuts={ACTION_WORDS[stop].key}>
          {stop === 'abort' ? 'Abort migration' : 'Roll back migration'} <kbd>{ACTION_WORDS[stop].key}</kbd>
        </button>
      )}
    </div>
  );
}

export function TopBar() {
  return (
    <header className="topbar">
      <span className="brand">Ferry</span>
      <MigrationStatus />
      <span className="spacer" />
      <ThemeToggle />
    </header>
  );
}

import { useEffect } from 'react';
import { ErrorBox } from './components/ErrorBox.tsx';
import { useMigrationShortcuts } from './hooks.ts';
import { useConsole, type View } from './store.ts';
import { ControlDialog } from './views/ControlDialog.tsx';
import { HistoryView } from './views/HistoryView.tsx';
import { HostsView } from './views/HostsView.tsx';
import { LabView } from './views/LabView.tsx';
import { MigrateView } from './views/MigrateView.tsx';
import { TopBar } from './views/TopBar.tsx';
import { TrustDialog } from './views/TrustDialog.tsx';

const NAV: Array<{ view: View; label: string }> = [
  { view: 'hosts', label: 'Hosts' },
  { view: 'migrate', label: 'Migrate' },
  { view: 'history', label: 'History' },
  { view: 'lab', label: 'Lab' },
];

function Nav() {
  const view = useConsole((s) => s.view);
  const setView = useConsole((s) => s.setView);
  return (
    <nav className="nav" aria-label="Views">
      <ul>
        {NAV.map((n) => (
          <li key={n.view}>
            <button type="button" className={view === n.view ? 'active' : ''} aria-current={view === n.view ? 'page' : undefined} onClick={() => setView(n.view)}>
              {n.label}
            </button>
          </li>
        ))}
      </ul>
    </nav>
  );
}

export function App() {
  const view = useConsole((s) => s.view);
  const theme = useConsole((s) => s.theme);
  const lastError = useConsole((s) => s.lastError);
  const setError = useConsole((s) => s.setError);
  useMigrationShortcuts();
  useEffect(() => {
    if (theme === 'system') delete document.documentElement.dataset.theme;
    else document.documentElement.dataset.theme = theme;
  }, [theme]);
  return (
    <div className="app">
      <TopBar />
      <Nav />
      <main className="content" data-view={view}>
        {lastError && <ErrorBox error={lastError} onDismiss={() => setError(undefined)} testId="global-error" />}
        {view === 'hosts' && <HostsView />}
        {view === 'migrate' && <MigrateView />}
        {view === 'history' && <HistoryView />}
        {view === 'lab' && <LabView />}
      </main>
      <TrustDialog />
      <ControlDialog />
    </div>
  );
}

import type { ConsoleApi } from '../../shared/api.ts';
import { HostsView } from './views/HostsView.tsx';
import { TrustDialog } from './views/TrustDialog.tsx';
import { useConsole } from './store.ts';

export function App({ api }: { api: ConsoleApi }) {
  const lastError = useConsole((s) => s.lastError);
  const setError = useConsole((s) => s.setError);
  return (
    <div className="app">
      <header className="topbar">
        <span className="brand">Ferry</span>
        <span className="tagline">live migration console</span>
      </header>
      {lastError && (
        <div className="error-banner" role="alert">
          <strong>{lastError.host ? `${lastError.host}: ` : ''}{lastError.message}</strong>
          {lastError.evidence && <div className="evidence">{lastError.evidence}</div>}
          {lastError.hint && <div className="hint">Next: {lastError.hint}</div>}
          <button onClick={() => setError(undefined)}>Dismiss</button>
        </div>
      )}
      <main>
        <HostsView api={api} />
      </main>
      <TrustDialog api={api} />
    </div>
  );
}

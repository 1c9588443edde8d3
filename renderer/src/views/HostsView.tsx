import { useEffect } from 'react';
import type { HostInfo, SessionState } from '../../../shared/domain.ts';
import { useActions } from '../actions.ts';
import { ErrorBox } from '../components/ErrorBox.tsx';
import { Loading } from '../components/Loading.tsx';
import { useConsole } from '../store.ts';
import { HostFactsPanel } from './HostFacts.tsx';

export function sessionLabel(s: SessionState | undefined): string {
  if (!s) return 'not connected';
  switch (s.kind) {
    case 'reconnecting':
      return `reconnecting (attempt ${s.attempt})`;
    case 'failed':
      return 'failed';
    case 'awaiting-trust':
      return 'waiting for your trust decision';
    default:
      return s.kind;
  }
}

function HostRow({ h }: { h: HostInfo }) {
  const actions = useActions();
  const session = useConsole((s) => s.sessions[h.alias]);
  const selected = useConsole((s) => s.selectedHost === h.alias);
  const busy = session?.kind === 'connecting' || session?.kind === 'awaiting-trust' || session?.kind === 'reconnecting';
  return (
    <>
      <tr data-host={h.alias} className={selected ? 'selected' : ''} aria-selected={selected}>
        <td>
          <button type="button" className="link host-name" onClick={() => void actions.loadFacts(h.alias)} title="Show host facts">
            {h.alias}
          </button>{' '}
          {h.lab && <span className="tag">lab</span>}
        </td>
        <td>
          {h.user}@{h.hostname}:{h.port}
          {h.proxyJump.length > 0 && <span className="muted"> via {h.proxyJump.join(' → ')}</span>}
        </td>
        <td>{h.keyKnown ? 'known' : <span className="muted">unknown</span>}</td>
        <td className={`state state-${session?.kind ?? 'idle'}`} data-testid={`session-${h.alias}`} data-state={session?.kind ?? 'idle'}>
          {sessionLabel(session)}
        </td>
        <td className="row-actions">
          {session?.kind === 'ready' ? (
            <button type="button" onClick={() => void actions.disconnect(h.alias)} aria-label={`Disconnect ${h.alias}`}>
              Disconnect
            </button>
          ) : (
            <button type="button" className="primary" disabled={busy} onClick={() => void actions.connect(h.alias)} aria-label={`Connect ${h.alias}`}>
              Connect
            </button>
          )}
          <button type="button" onClick={() => void actions.loadFacts(h.alias)} aria-label={`Host facts for ${h.alias}`}>
            Facts
          </button>
        </td>
      </tr>
      {session?.kind === 'failed' && (
        <tr className="error-row">
          <td colSpan={5}>
            <ErrorBox error={session.error} testId={`session-error-${h.alias}`} />
          </td>
        </tr>
      )}
    </>
  );
}

export function HostsView() {
  const actions = useActions();
  const hosts = useConsole((s) => s.hosts);
  const selected = useConsole((s) => s.selectedHost);
  useEffect(() => {
    if (useConsole.getState().hosts.status === 'idle') void actions.listHosts();
  }, [actions]);
  return (
    <div className="hosts-layout">
      <section className="panel" aria-labelledby="hosts-title">
        <div className="panel-head">
          <h2 id="hosts-title">Hosts</h2>
          <button type="button" onClick={() => void actions.listHosts()}>
            Reload
          </button>
        </div>
        {hosts.status === 'loading' && <Loading what="Reading ~/.ssh/config" />}
        {hosts.status === 'error' && <ErrorBox error={hosts.error} />}
        {hosts.status === 'ok' && hosts.value.length === 0 && <p className="muted">No hosts in ~/.ssh/config or Ferry's ssh_config yet.</p>}
        {hosts.status === 'ok' && hosts.value.length > 0 && (
          <table className="hosts">
            <thead>
              <tr>
                <th>Host</th>
                <th>Address</th>
                <th>Host key</th>
                <th>Session</th>
                <th />
              </tr>
            </thead>
            <tbody>
              {hosts.value.map((h) => (
                <HostRow key={h.alias} h={h} />
              ))}
            </tbody>
          </table>
        )}
      </section>
      {selected && <HostFactsPanel alias={selected} />}
    </div>
  );
}

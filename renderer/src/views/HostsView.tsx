import { useEffect } from 'react';
import type { ConsoleApi } from '../../../shared/api.ts';
import type { SessionState } from '../../../shared/domain.ts';
import { toErrorInfo } from '../../../shared/errors.ts';
import { useConsole } from '../store.ts';

function stateLabel(s: SessionState | undefined): string {
  if (!s) return 'not connected';
  switch (s.kind) {
    case 'reconnecting':
      return `reconnecting (attempt ${s.attempt})`;
    case 'failed':
      return `failed: ${s.error.message}`;
    case 'awaiting-trust':
      return 'waiting for your trust decision';
    default:
      return s.kind;
  }
}

export function HostsView({ api }: { api: ConsoleApi }) {
  const hosts = useConsole((s) => s.hosts);
  const sessions = useConsole((s) => s.sessions);
  const setHosts = useConsole((s) => s.setHosts);
  const setError = useConsole((s) => s.setError);

  useEffect(() => {
    api.request('hosts.list', {}).then(setHosts, (e) => setError(toErrorInfo(e)));
  }, [api, setHosts, setError]);

  const connect = (alias: string) => api.request('hosts.connect', { alias }).catch((e) => setError(toErrorInfo(e)));

  return (
    <section className="panel" aria-label="Hosts">
      <h2>Hosts</h2>
      {hosts.length === 0 && <p className="muted">No hosts in ~/.ssh/config or Ferry's ssh_config yet.</p>}
      <table className="hosts">
        <thead>
          <tr>
            <th>Host</th>
            <th>Address</th>
            <th>Key</th>
            <th>Session</th>
            <th />
          </tr>
        </thead>
        <tbody>
          {hosts.map((h) => (
            <tr key={h.alias} data-host={h.alias}>
              <td>
                {h.alias} {h.lab && <span className="tag">lab</span>}
              </td>
              <td>
                {h.user}@{h.hostname}:{h.port}
                {h.proxyJump.length > 0 && <span className="muted"> via {h.proxyJump.join(' → ')}</span>}
              </td>
              <td>{h.keyKnown ? 'known' : 'unknown'}</td>
              <td className={`state state-${sessions[h.alias]?.kind ?? 'idle'}`}>{stateLabel(sessions[h.alias])}</td>
              <td>
                <button onClick={() => void connect(h.alias)} disabled={sessions[h.alias]?.kind === 'ready'}>
                  Connect
                </button>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}

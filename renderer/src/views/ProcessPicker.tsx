import { useMemo, useState } from 'react';
import type { ProcessDetail } from '../../../shared/domain.ts';
import { useActions } from '../actions.ts';
import { ErrorBox } from '../components/ErrorBox.tsx';
import { Loading } from '../components/Loading.tsx';
import { formatBytes, formatInt } from '../state/format.ts';
import { useConsole } from '../store.ts';

const MAX_ROWS = 500;

/** The processes on the source, filterable; picking one inspects it and fills the plan's PID. */
export function ProcessPicker({ alias }: { alias: string }) {
  const actions = useActions();
  const list = useConsole((s) => s.processes[alias]);
  const picked = useConsole((s) => (s.inspected.alias === alias ? s.inspected.pid : undefined));
  const [filter, setFilter] = useState('');
  const rows = useMemo(() => {
    if (list?.status !== 'ok') return [];
    const f = filter.trim().toLowerCase();
    return f ? list.value.filter((p) => `${p.pid} ${p.user} ${p.command}`.toLowerCase().includes(f)) : list.value;
  }, [list, filter]);
  return (
    <section className="panel" aria-labelledby="picker-title">
      <div className="panel-head">
        <h2 id="picker-title">Processes on {alias}</h2>
        <input type="search" placeholder="Filter by PID, user or command" aria-label="Filter processes" value={filter} onChange={(e) => setFilter(e.target.value)} />
        <button type="button" onClick={() => void actions.listProcesses(alias)}>
          {list ? 'Refresh' : 'List processes'}
        </button>
      </div>
      {!list && <p className="muted">List the source's processes to pick the one to migrate.</p>}
      {list?.status === 'loading' && <Loading what={`Running ps on ${alias}`} />}
      {list?.status === 'error' && <ErrorBox error={list.error} />}
      {list?.status === 'ok' && (
        <div className="scroll" style={{ maxHeight: 260 }}>
          <table className="processes" data-testid="process-list">
            <thead>
              <tr>
                <th>PID</th>
                <th>User</th>
                <th className="num">RSS</th>
                <th>Command</th>
              </tr>
            </thead>
            <tbody>
              {rows.slice(0, MAX_ROWS).map((p) => (
                <tr key={p.pid} className={picked === p.pid ? 'selected' : ''} aria-selected={picked === p.pid} onClick={() => void actions.inspect(alias, p.pid)}>
                  <td>
                    <button type="button" className="link" onClick={(e) => (e.stopPropagation(), void actions.inspect(alias, p.pid))}>
                      {p.pid}
                    </button>
                  </td>
                  <td>{p.user}</td>
                  <td className="num">{formatBytes(p.rssKiB * 1024)}</td>
                  <td className="command" title={p.command}>
                    {p.command}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
          {rows.length > MAX_ROWS && <p className="muted">Showing {MAX_ROWS} of {formatInt(rows.length)}; narrow the filter.</p>}
        </div>
      )}
    </section>
  );
}

function Detail({ d, target }: { d: ProcessDetail; target: string }) {
  const regular = d.openFiles.filter((f) => f.kind === 'regular');
  // One file open on several descriptors is still one file to have on the target.
  const regularPaths = new Set(regular.map((f) => f.path));
  return (
    <>
      <p>
        PID <strong>{d.pid}</strong> ({d.command}), {d.user}, RSS {formatBytes(d.rssKiB * 1024)}, state {d.state}
        {d.sessionLeader ? ', session leader' : ''}.
      </p>
      <h3>Process tree ({d.tree.length})</h3>
      <ul className="tree" data-testid="process-tree">
        {d.tree.map((p) => (
          <li key={p.pid}>
            <code>{p.pid}</code> <span className="muted">ppid {p.ppid}</span> {p.command}
          </li>
        ))}
      </ul>
      <h3>Open files ({d.openFiles.length})</h3>
      {regular.length > 0 && (
        <p className="warn-text">
          {regularPaths.size} regular file(s){regular.length > regularPaths.size ? ` on ${regular.length} descriptors` : ''}: each must exist on {target || 'the target'} with the same size, or restore fails.
        </p>
      )}
      <div className="scroll" style={{ maxHeight: 200 }}>
        <table className="open-files" data-testid="open-files">
          <thead>
            <tr>
              <th>PID</th>
              <th>FD</th>
              <th>Kind</th>
              <th>Path</th>
              <th className="num">Size</th>
            </tr>
          </thead>
          <tbody>
            {d.openFiles.map((f) => (
              <tr key={`${f.pid}:${f.fd}`} className={f.kind === 'regular' ? 'must-exist' : ''}>
                <td>{f.pid}</td>
                <td>{f.fd}</td>
                <td>{f.kind === 'regular' ? <span className="tag warn" title="Must exist on the target">regular · must exist on target</span> : f.kind}</td>
                <td className="command">{f.path}</td>
                <td className="num">{f.size === undefined ? '' : formatBytes(f.size)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </>
  );
}

export function ProcessDetailPanel() {
  const inspected = useConsole((s) => s.inspected);
  const target = useConsole((s) => s.draft.target);
  if (inspected.status === 'idle') return null;
  return (
    <section className="panel" aria-labelledby="detail-title">
      <h2 id="detail-title">Process {inspected.pid}</h2>
      {inspected.status === 'loading' && <Loading what="Reading its tree and open files" />}
      {inspected.status === 'error' && <ErrorBox error={inspected.error} />}
      {inspected.status === 'ok' && <Detail d={inspected.value} target={target} />}
    </section>
  );
}

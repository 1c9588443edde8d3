import { useEffect } from 'react';
import { useActions } from '../actions.ts';
import { ErrorBox } from '../components/ErrorBox.tsx';
import { Loading } from '../components/Loading.tsx';
import { formatBytes, formatDateTime } from '../state/format.ts';
import { useConsole } from '../store.ts';

function Progress() {
  const progress = useConsole((s) => s.labProgress);
  const last = progress[progress.length - 1];
  if (!last) return null;
  const pct = last.fraction === undefined ? undefined : Math.round(last.fraction * 100);
  return (
    <div className="lab-progress" data-testid="lab-progress">
      <div>
        <strong>{last.step}</strong>: {last.message}
      </div>
      <div className={`progress${pct === undefined ? ' indeterminate' : ''}`} role="progressbar" aria-label={last.step} aria-valuemin={0} aria-valuemax={100} aria-valuenow={pct}>
        <div className="progress-fill" style={{ width: pct === undefined ? '30%' : `${pct}%` }} />
      </div>
      <ol className="lab-steps scroll">
        {progress.slice(-20).map((p, i) => (
          <li key={i} className="muted small">
            {p.step}: {p.message}
          </li>
        ))}
      </ol>
    </div>
  );
}

/** The rehearsal lab: two VMs with CRIU, for practising a migration before the real one. */
export function LabView() {
  const actions = useActions();
  const lab = useConsole((s) => s.lab);
  const busy = useConsole((s) => s.labBusy);
  useEffect(() => {
    void actions.labStatus();
  }, [actions]);
  const notAvailable = lab.status === 'error' && lab.error.code === 'not-available';
  // Offer what makes sense now: no start while both VMs run, no stop while none does.
  const vms = lab.status === 'ok' ? lab.value.vms : [];
  const allRunning = vms.length > 0 && vms.every((v) => v.running);
  const noneRunning = lab.status === 'ok' && vms.every((v) => !v.running);
  return (
    <section className="panel" aria-labelledby="lab-title" data-testid="lab">
      <div className="panel-head">
        <h2 id="lab-title">Rehearsal lab</h2>
        <button type="button" className="primary" disabled={!!busy || notAvailable || allRunning} onClick={() => void actions.labUpDown('up')}>
          Start the lab
        </button>
        <button type="button" disabled={!!busy || notAvailable || noneRunning} onClick={() => void actions.labUpDown('down')}>
          Stop the lab
        </button>
        <button type="button" className="link" onClick={() => void actions.labStatus()}>
          Refresh
        </button>
      </div>
      <p className="muted">Two local VMs (source and target) with CRIU, to rehearse a migration before running it on real hosts.</p>
      {busy && <Loading what={busy === 'up' ? 'Starting the lab' : 'Stopping the lab'} />}
      <Progress />
      {lab.status === 'loading' && <Loading what="Asking for the lab's status" />}
      {notAvailable && (
        <div className="notice" role="status" data-testid="lab-not-available">
          <strong>{lab.error.message}.</strong> Status, start and stop will work here once the engine serves the lab.
          {lab.error.hint && <div className="muted small">{lab.error.hint}</div>}
        </div>
      )}
      {lab.status === 'error' && !notAvailable && <ErrorBox error={lab.error} />}
      {lab.status === 'ok' && (
        <>
          <dl className="facts">
            <dt>Image</dt>
            <dd>
              <code>{lab.value.image.path}</code> {lab.value.image.ready ? <span className="good">ready</span> : <span className="bad">not built</span>}
              {lab.value.image.sizeBytes !== undefined && <> · {formatBytes(lab.value.image.sizeBytes)}</>}
              {lab.value.image.builtAt && <> · built {formatDateTime(lab.value.image.builtAt)}</>}
            </dd>
            <dt>Acceleration</dt>
            <dd>{lab.value.accel === 'kvm' ? 'KVM' : 'TCG (software emulation: slow, about 10x)'}</dd>
          </dl>
          <table>
            <thead>
              <tr>
                <th>VM</th>
                <th>Alias</th>
                <th>Running</th>
                <th>SSH port</th>
                <th>Reachable</th>
              </tr>
            </thead>
            <tbody>
              {lab.value.vms.map((v) => (
                <tr key={v.name}>
                  <td>{v.name}</td>
                  <td>{v.alias}</td>
                  <td>{v.running ? `yes (pid ${v.pid ?? '?'})` : 'no'}</td>
                  <td>{v.sshPort ?? '–'}</td>
                  <td className={v.reachable ? 'good' : 'bad'} title={v.problem ? `${v.problem.message}${v.problem.hint ? ` ${v.problem.hint}` : ''}` : undefined}>
                    {v.reachable ? 'yes' : v.problem && v.problem.code !== 'host-unreachable' ? `no: ${v.problem.message}` : 'no'}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </>
      )}
    </section>
  );
}

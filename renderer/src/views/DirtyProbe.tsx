import { useState } from 'react';
import { useActions } from '../actions.ts';
import { ErrorBox } from '../components/ErrorBox.tsx';
import { Loading } from '../components/Loading.tsx';
import { formatBytes, formatInt } from '../state/format.ts';
import { useConsole } from '../store.ts';

/**
 * "Measure dirty rate": before migrating, clear the process's soft-dirty bits on the source,
 * wait N seconds, count (like QEMU's calc-dirty-rate). The engine refuses it once a migration
 * of the process has started, so it sits with the plan, not on the dashboard.
 */
export function DirtyProbePanel() {
  const actions = useActions();
  const source = useConsole((s) => s.draft.source);
  const pidText = useConsole((s) => s.draft.pid);
  const probe = useConsole((s) => s.dirtyProbe);
  const [seconds, setSeconds] = useState('5');
  const pid = Number(pidText);
  const secs = Number(seconds);
  const ready = !!source && Number.isInteger(pid) && pid > 0 && Number.isInteger(secs) && secs >= 1 && secs <= 60;
  const reason = !source ? 'Choose a source host first.' : !(Number.isInteger(pid) && pid > 0) ? 'Choose a process first.' : 'Wait 1 to 60 seconds.';
  const stale = probe.status !== 'idle' && (probe.alias !== source || probe.pid !== pid);
  return (
    <section className="panel" aria-labelledby="dirty-probe-title" data-testid="dirty-probe">
      <div className="panel-head">
        <h2 id="dirty-probe-title">Dirty rate</h2>
        <label className="inline">
          Seconds{' '}
          <input type="number" min={1} max={60} value={seconds} onChange={(e) => setSeconds(e.target.value)} aria-label="Seconds to measure" style={{ width: '4.5em' }} />
        </label>
        <button type="button" disabled={!ready || probe.status === 'loading'} title={ready ? 'Clear the soft-dirty bits, wait, count' : reason} onClick={() => void actions.measureDirtyRate(source, pid, secs)}>
          Measure dirty rate
        </button>
      </div>
      <p className="muted small">
        How many pages the process writes in a few seconds, before any migration: pre-copy only converges when the link copies clearly faster than this. It resets the process's soft-dirty bits, so
        Ferry refuses it while the process is being migrated.
      </p>
      {stale && <p className="warn-text">This result is for PID {probe.pid} on {probe.alias}.</p>}
      {probe.status === 'loading' && <Loading what={`Measuring PID ${probe.pid} on ${probe.alias} for ${probe.seconds} s`} />}
      {probe.status === 'error' && <ErrorBox error={probe.error} title="The dirty rate could not be measured" testId="dirty-probe-error" />}
      {probe.status === 'ok' && (
        <div data-testid="dirty-probe-result" data-pages-per-sec={Math.round(probe.value.pagesPerSec)}>
          <div className="kpis">
            <div className="kpi">
              <span className="kpi-label">Dirtied in {probe.value.seconds.toFixed(1)} s</span>
              <span className="kpi-value">{formatInt(probe.value.dirtyPages)} pages</span>
            </div>
            <div className="kpi">
              <span className="kpi-label">Rate</span>
              <span className="kpi-value">
                {formatInt(probe.value.pagesPerSec)} pages/s · {formatBytes(probe.value.bytesPerSec)}/s
              </span>
            </div>
            <div className="kpi">
              <span className="kpi-label">Resident</span>
              <span className="kpi-value">{formatInt(probe.value.presentPages)} pages</span>
            </div>
          </div>
          <p data-testid="dirty-probe-verdict">{probe.value.verdict}</p>
        </div>
      )}
    </section>
  );
}

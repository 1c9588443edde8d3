import { ErrorBox } from '../../components/ErrorBox.tsx';
import { useConsole } from '../../store.ts';
import type { Decision } from '../../state/engine.ts';
import { formatDateTime, formatMs, formatTime } from '../../state/format.ts';
import { ClientDowntime } from './ClientDowntime.tsx';
import { CommandLog } from './CommandLog.tsx';
import { Controls } from './Controls.tsx';
import { ConvergenceChart, RatesChart } from './Charts.tsx';
import { EstimatePanel } from './Estimate.tsx';
import { OutcomeBanner } from './Outcome.tsx';
import { PhaseTimeline } from './PhaseTimeline.tsx';
import { TransferBar } from './TransferBar.tsx';

/** The live migration, fed by the events carrying its migrationId. */
export function Dashboard({ migrationId }: { migrationId: string }) {
  const m = useConsole((s) => s.migrations[migrationId]);
  if (!m) return <p className="panel muted">Waiting for the engine's first event for {migrationId}…</p>;
  const p = m.plan;
  return (
    <div className="dashboard" data-testid="dashboard" data-migration-id={m.id}>
      <section className="panel dash-head" aria-label="Migration">
        <div>
          <h2>
            {p ? (
              <>
                PID {p.pid}: {p.source} → {p.target}
              </>
            ) : (
              m.id
            )}
          </h2>
          <div className="muted small">
            {m.id}
            {m.startedAt && <> · started {formatDateTime(m.startedAt)}</>}
            {p && (
              <>
                {' '}
                · {p.mode === 'precopy' ? 'pre-copy' : p.mode === 'postcopy' ? 'post-copy' : 'cold'} · budget {formatMs(p.policy.downtimeBudgetMs)} · {p.auto ? 'auto' : 'manual'} · page server {p.targetAddress}:{p.pageServerPort}
              </>
            )}
          </div>
        </div>
        <Controls m={m} />
      </section>
      {m.outcome && <OutcomeBanner m={m} />}
      <ClientDowntime m={m} />
      {p?.mode === 'postcopy' && m.phase === 'postcopy' && !m.outcome && (
        <p className="panel warn-text" role="status" data-testid="postcopy-state">
          Post-copy: pages still on {p.source}. PID {p.pid} runs on {p.target}; if {p.source} dies or the link drops before the last page arrives, the process is lost.
        </p>
      )}
      {m.errors.map((e, i) => (
        <ErrorBox key={i} error={e} testId="migration-error" />
      ))}
      <PhaseTimeline m={m} />
      <div className="chart-row">
        <ConvergenceChart m={m} />
        <EstimatePanel m={m} />
      </div>
      <div className="chart-row">
        <RatesChart m={m} />
        <section className="panel" aria-labelledby="decisions-title">
          <h2 id="decisions-title">Transfer and decisions</h2>
          <TransferBar m={m} />
          {m.rollbackPlan && (
            <div className="rollback-plan" data-testid="rollback-plan">
              <strong>Rollback plan ({formatTime(m.rollbackPlan.at)})</strong>
              <ol>
                {m.rollbackPlan.steps.map((s, i) => (
                  <li key={i}>{s}</li>
                ))}
              </ol>
            </div>
          )}
          <Decisions decisions={m.decisions} />
        </section>
      </div>
      <CommandLog migrationId={m.id} />
    </div>
  );
}

/**
 * The user's and the policy's decisions first; preflight passes (a score of them, all alike)
 * folded into one line, warnings and failures kept in view.
 */
function Decisions({ decisions }: { decisions: Decision[] }) {
  const passes = decisions.filter((d) => d.action === 'preflight pass');
  const shown = decisions.filter((d) => d.action !== 'preflight pass');
  if (decisions.length === 0) return <p className="muted">No decisions yet.</p>;
  const item = (d: Decision, i: number) => (
    <li key={i}>
      <span className="muted">{formatTime(d.at)}</span> <span className={`tag ${d.by}`}>{d.by}</span> <strong>{d.action}</strong>: {d.reason}
    </li>
  );
  return (
    <div className="decisions scroll" data-testid="decisions">
      {shown.length > 0 && <ul>{shown.map(item)}</ul>}
      {passes.length > 0 && (
        <details data-testid="preflight-passes">
          <summary className="muted">{passes.length} preflight check(s) passed</summary>
          <ul>{passes.map(item)}</ul>
        </details>
      )}
    </div>
  );
}

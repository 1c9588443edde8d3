import { useState } from 'react';
import type { CheckResult } from '../../../shared/domain.ts';
import { useActions } from '../actions.ts';
import { ErrorBox } from '../components/ErrorBox.tsx';
import { Loading } from '../components/Loading.tsx';
import { migratingSameProcess } from '../state/engine.ts';
import { startReadiness } from '../state/controls.ts';
import { draftToPlan, planKey } from '../state/plan.ts';
import { useConsole } from '../store.ts';
import { CommandLog } from './dashboard/CommandLog.tsx';

const ICON: Record<CheckResult['status'], string> = { pass: '✓', warn: '!', fail: '✗' };

function Check({ c }: { c: CheckResult }) {
  return (
    <li className={`check check-${c.status}`} data-testid="preflight-check" data-status={c.status}>
      <span className="check-icon" aria-label={c.status}>
        {ICON[c.status]}
      </span>
      <div>
        <div className="check-title">
          {c.host && <span className="muted">{c.host}: </span>}
          {c.title}
        </div>
        <div className="check-detail">{c.detail}</div>
        {c.status !== 'pass' && c.fix && (
          <div className="check-fix">
            <span className="label">Fix</span> {c.fix}
          </div>
        )}
      </div>
    </li>
  );
}

/** Preflight for the plan as it stands, and the Start button it gates. */
export function PreflightPanel({ onInvalid }: { onInvalid: () => void }) {
  const actions = useActions();
  const draft = useConsole((s) => s.draft);
  const preflight = useConsole((s) => s.preflight);
  const override = useConsole((s) => s.overrideBlockers);
  const askConfirm = useConsole((s) => s.askConfirm);
  const [showAll, setShowAll] = useState(false);
  const parsed = draftToPlan(draft);
  // Many migrations at once: only another migration of this same process blocks Start.
  const running = useConsole((s) => !!migratingSameProcess(s, parsed.ok ? parsed.plan : undefined));
  const key = parsed.ok ? planKey(parsed.plan) : undefined;
  const current = preflight.planKey === key;
  const ready = startReadiness({ planOk: parsed.ok, planKey: key, preflight: { status: preflight.status, planKey: preflight.planKey, value: preflight.status === 'ok' ? preflight.value : undefined }, override, running });
  const run = () => (parsed.ok ? void actions.preflight(parsed.plan) : onInvalid());
  const checks = preflight.status === 'ok' ? preflight.value.checks : [];
  const shown = showAll ? checks : checks.filter((c) => c.status !== 'pass');
  return (
    <section className="panel" aria-labelledby="preflight-title">
      <div className="panel-head">
        <h2 id="preflight-title">Preflight</h2>
        <button type="button" onClick={run} disabled={preflight.status === 'loading'}>
          {preflight.status === 'idle' ? 'Run preflight' : 'Run preflight again'}
        </button>
      </div>
      {preflight.status !== 'idle' && !current && <p className="warn-text">The plan changed since this preflight ran: run it again.</p>}
      {preflight.status === 'loading' && <Loading what="Checking both hosts" />}
      {preflight.status === 'error' && <ErrorBox error={preflight.error} title="Preflight could not run" />}
      {preflight.status === 'ok' && (
        <>
          <p className={preflight.value.blockers > 0 ? 'bad' : 'good'} data-testid="preflight-summary">
            {preflight.value.blockers > 0
              ? `${preflight.value.blockers} blocker(s): Ferry will not start until they are fixed.`
              : `No blockers (${checks.filter((c) => c.status === 'warn').length} warning(s)).`}
          </p>
          <ul className="checklist" data-testid="preflight-checklist">
            {shown.map((c) => (
              <Check key={`${c.host ?? ''}:${c.id}`} c={c} />
            ))}
          </ul>
          <button type="button" className="link" onClick={() => setShowAll((v) => !v)}>
            {showAll ? 'Hide passed checks' : `Show all ${checks.length} checks`}
          </button>
        </>
      )}
      {preflight.status !== 'idle' && (
        <details className="preflight-commands">
          <summary>Commands preflight ran</summary>
          <CommandLog migrationId={undefined} title="Preflight commands" />
        </details>
      )}
      <div className="start-row">
        <label className="override">
          <input type="checkbox" checked={override} onChange={(e) => actions.setOverride(e.target.checked)} /> Override blockers (I know CRIU may fail; Ferry will roll back)
        </label>
        <button
          type="button"
          className="primary big"
          disabled={!ready.ok}
          aria-keyshortcuts="S"
          onClick={() => (parsed.ok ? askConfirm('start') : onInvalid())}
          title={ready.ok ? 'Start the migration' : ready.reason}
        >
          Start <kbd>S</kbd>
        </button>
        {!ready.ok && <span className="muted" data-testid="start-reason">{ready.reason}</span>}
      </div>
    </section>
  );
}

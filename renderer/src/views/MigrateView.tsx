import { useEffect, useState } from 'react';
import { shortcutOf } from '../state/keys.ts';
import { migratingSameProcess } from '../state/engine.ts';
import { MigrationList } from './MigrationList.tsx';
import { startReadiness } from '../state/controls.ts';
import { draftToPlan, planKey } from '../state/plan.ts';
import { useConsole } from '../store.ts';
import { Dashboard } from './dashboard/Dashboard.tsx';
import { PlanFileBar } from './PlanFileBar.tsx';
import { PlanForm } from './PlanForm.tsx';
import { PreflightPanel } from './Preflight.tsx';
import { DirtyProbePanel } from './DirtyProbe.tsx';
import { ProcessDetailPanel, ProcessPicker } from './ProcessPicker.tsx';

/** S starts (through its confirmation) when Start is enabled. */
function useStartShortcut() {
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      const s = useConsole.getState();
      if (s.view !== 'migrate' || (s.watchedMigrationId && !s.planning)) return;
      if (!shortcutOf(e, ['S'], !!s.confirm || !!s.trustPrompt)) return;
      const parsed = draftToPlan(s.draft);
      const key = parsed.ok ? planKey(parsed.plan) : undefined;
      const pf = s.preflight;
      const ready = startReadiness({ planOk: parsed.ok, planKey: key, preflight: { status: pf.status, planKey: pf.planKey, value: pf.status === 'ok' ? pf.value : undefined }, override: s.overrideBlockers, running: !!migratingSameProcess(s, parsed.ok ? parsed.plan : undefined) });
      if (!ready.ok) return;
      e.preventDefault();
      s.askConfirm('start');
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, []);
}

function PlanSection() {
  const source = useConsole((s) => s.draft.source);
  const [showErrors, setShowErrors] = useState(false);
  useStartShortcut();
  return (
    <div className="plan-layout">
      <section className="panel plan-panel" aria-labelledby="plan-title">
        <h2 id="plan-title">Plan</h2>
        <PlanFileBar onInvalid={() => setShowErrors(true)} />
        <PlanForm showErrors={showErrors} />
      </section>
      <div className="plan-side">
        {source ? <ProcessPicker alias={source} /> : <p className="panel muted">Choose a source host to list its processes.</p>}
        <ProcessDetailPanel />
        <PreflightPanel onInvalid={() => setShowErrors(true)} />
        <DirtyProbePanel />
      </div>
    </div>
  );
}

export function MigrateView() {
  const watched = useConsole((s) => s.watchedMigrationId);
  const planning = useConsole((s) => s.planning);
  if (watched && !planning) {
    return (
      <>
        <MigrationList />
        <Dashboard migrationId={watched} />
        {/* Many migrations at once: another may start while this one runs. */}
        <div className="center">
          <button type="button" onClick={() => useConsole.setState({ planning: true })}>
            Plan another migration
          </button>
        </div>
      </>
    );
  }
  return (
    <>
      <MigrationList />
      {watched && (
        <div className="center">
          <button type="button" className="link" onClick={() => useConsole.setState({ planning: false })}>
            Back to the migration dashboard
          </button>
        </div>
      )}
      <PlanSection />
    </>
  );
}

import { useCallback, useEffect, useState } from 'react';
import { POSTCOPY_MODES, postcopyRisk, type MigrationAction, type MigrationPlan, type RollbackPreview } from '../../../shared/domain.ts';
import type { FerryErrorInfo } from '../../../shared/errors.ts';
import { useActions } from '../actions.ts';
import { Dialog } from '../components/Dialog.tsx';
import { ErrorBox } from '../components/ErrorBox.tsx';
import { Loading } from '../components/Loading.tsx';
import { activeMigration } from '../state/engine.ts';
import { draftToPlan } from '../state/plan.ts';
import { ACTION_WORDS } from '../state/words.ts';
import { formatMs } from '../state/format.ts';
import { useConsole, type Loadable } from '../store.ts';

function RollbackSteps({ migrationId }: { migrationId: string }) {
  const actions = useActions();
  const [preview, setPreview] = useState<Loadable<RollbackPreview>>({ status: 'loading' });
  useEffect(() => {
    let live = true;
    void actions.rollbackPreview(migrationId).then((p) => live && setPreview(p));
    return () => {
      live = false;
    };
  }, [actions, migrationId]);
  if (preview.status === 'loading' || preview.status === 'idle') return <Loading what="Asking the engine what a rollback would do" />;
  if (preview.status === 'error') return <ErrorBox error={preview.error} title="Ferry could not list the rollback steps" />;
  return (
    <>
      {preview.value.pointOfNoReturn && (
        <p className="warn-text" data-testid="point-of-no-return">
          Point of no return: {preview.value.pointOfNoReturn}
        </p>
      )}
      <ol className="rollback-steps" data-testid="rollback-steps">
        {preview.value.steps.map((s, i) => (
          <li key={i}>{s}</li>
        ))}
      </ol>
    </>
  );
}

function StartBody({ plan }: { plan: MigrationPlan }) {
  const override = useConsole((s) => s.overrideBlockers);
  return (
    <>
      <p>
        Ferry will migrate PID <strong>{plan.pid}</strong> from <strong>{plan.source}</strong> to <strong>{plan.target}</strong> ({plan.mode === 'precopy' ? 'pre-copy' : plan.mode === 'postcopy' ? 'post-copy' : 'cold'}).
      </p>
      <ul>
        {plan.mode === 'precopy' ? (
          <li>
            It runs pre-dumps while the process keeps running, streaming pages to a page server on {plan.target} ({plan.targetAddress}:{plan.pageServerPort}).
            {plan.auto
              ? ` In auto mode it cuts over when the estimate's ${plan.policy.cutoverWhen === 'prediction' ? 'prediction' : 'upper edge'} fits the ${formatMs(plan.policy.downtimeBudgetMs)} budget; if pre-copy stops converging it will ${plan.policy.onNotConverging === 'cutover' ? 'cut over anyway' : 'roll back'}.`
              : ' In manual mode it waits for you after each pre-dump: one more, cut over, or roll back.'}
          </li>
        ) : plan.mode === 'postcopy' ? (
          <li>
            The process is frozen only while its metadata moves (criu dump --lazy-pages); it then runs on {plan.target} at once, and its memory pages follow from {plan.source}, on demand and in the background.
            Rollback is possible until the last page arrived; after that the process exists only on {plan.target}.
          </li>
        ) : (
          <li>The process is frozen for the whole dump, copy and restore.</li>
        )}
        {plan.mode !== 'postcopy' && (
          <li>At cutover the source is frozen (criu dump --leave-stopped) and restored on {plan.target}; the source copy is killed only after the target is verified.</li>
        )}
        <li>Images go to {plan.workDir}/&lt;migration&gt; on both hosts ({plan.retention === 'keep' ? 'kept afterwards' : 'deleted on commit'}).</li>
        {plan.hooks && plan.hooks.beforeCutover.length + plan.hooks.afterRestore.length + plan.hooks.onRollback.length > 0 && (
          <li data-testid="start-hooks">
            Your hooks run {plan.hooks.beforeCutover.length} before cutover (one failing aborts it), {plan.hooks.afterRestore.length} after restore (one failing rolls back) and {plan.hooks.onRollback.length} on rollback.
          </li>
        )}
      </ul>
      {override && <p className="warn-text">You chose to override preflight blockers: CRIU may fail, and Ferry will roll back.</p>}
    </>
  );
}

/** The confirmation every control goes through: says what will happen, then asks once. */
export function ControlDialog() {
  const actions = useActions();
  const confirm = useConsole((s) => s.confirm);
  const askConfirm = useConsole((s) => s.askConfirm);
  const migration = useConsole((s) => activeMigration(s));
  const draft = useConsole((s) => s.draft);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<FerryErrorInfo>();
  const [acceptedRisk, setAcceptedRisk] = useState(false);
  const cancel = useCallback(() => {
    setError(undefined);
    setAcceptedRisk(false);
    askConfirm(undefined);
  }, [askConfirm]);
  if (!confirm) return null;

  if (confirm === 'start') {
    const parsed = draftToPlan(draft);
    if (!parsed.ok) return null;
    const go = async () => {
      setBusy(true);
      const e = await actions.start(parsed.plan);
      setBusy(false);
      if (e) setError(e);
      else {
        askConfirm(undefined);
        useConsole.getState().setView('migrate');
      }
    };
    const risky = POSTCOPY_MODES.includes(parsed.plan.mode);
    return (
      <Dialog title="Start this migration?" onCancel={cancel} testId="confirm-dialog" tone={risky ? 'danger' : 'normal'}>
        <StartBody plan={parsed.plan} />
        {risky && (
          <label className="warn-text" data-testid="postcopy-accept">
            <input type="checkbox" checked={acceptedRisk} onChange={(e) => setAcceptedRisk(e.target.checked)} /> {postcopyRisk(parsed.plan.source, parsed.plan.target)} I accept this.
          </label>
        )}
        {error && <ErrorBox error={error} />}
        <div className="actions">
          <button type="button" onClick={cancel} data-autofocus>
            Cancel
          </button>
          <button type="button" className="primary" disabled={busy || (risky && !acceptedRisk)} onClick={() => void go()}>
            Start migration
          </button>
        </div>
      </Dialog>
    );
  }

  const words = ACTION_WORDS[confirm];
  if (!migration) {
    return (
      <Dialog title={words.title} onCancel={cancel} testId="confirm-dialog">
        <p>No migration is running any more.</p>
        <div className="actions">
          <button type="button" onClick={cancel}>
            Close
          </button>
        </div>
      </Dialog>
    );
  }
  const send = async (action: MigrationAction) => {
    setBusy(true);
    const r = await actions.control(migration.id, action);
    setBusy(false);
    if (r.status === 'error') {
      setError(r.error);
      return;
    }
    if (r.status === 'ok') useConsole.setState({ controlNote: { action, ...r.value } });
    askConfirm(undefined);
  };
  return (
    <Dialog title={words.title} onCancel={cancel} testId="confirm-dialog" tone={words.danger ? 'danger' : 'normal'}>
      <p>{words.explain}</p>
      {(confirm === 'abort' || confirm === 'rollback') && <RollbackSteps migrationId={migration.id} />}
      {error && <ErrorBox error={error} />}
      <div className="actions">
        <button type="button" onClick={cancel} data-autofocus>
          Cancel
        </button>
        <button type="button" className={words.danger ? 'danger solid' : 'primary'} disabled={busy} onClick={() => void send(confirm)}>
          {words.confirm}
        </button>
      </div>
    </Dialog>
  );
}

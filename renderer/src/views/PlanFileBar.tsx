import { useEffect, useId, useMemo, useState } from 'react';
import { Dialog } from '../components/Dialog.tsx';
import { ErrorBox } from '../components/ErrorBox.tsx';
import { useActions } from '../actions.ts';
import { createPlanFileActions, type PlanFileActions } from '../plan-file-actions.ts';
import { checkTypedPath, fileName, hasUnsavedChanges, problemWhere } from '../state/plan-file.ts';
import { useConsole } from '../store.ts';

type Chooser = 'open' | 'save';

/**
 * The plan form's file: Open, Save, Save as, Revert, the file's name and an unsaved-changes
 * marker. The desktop uses its native dialogs; web mode asks for a path and lists recent plans.
 */
export function PlanFileBar({ onInvalid }: { onInvalid?: () => void }) {
  const { api } = useActions();
  const files = useMemo(() => createPlanFileActions(api), [api]);
  const f = useConsole((s) => s.planFile);
  const dirty = useConsole((s) => hasUnsavedChanges(s.draft, s.planFile));
  const [chooser, setChooser] = useState<Chooser>();
  useEffect(() => {
    void files.loadRecent();
  }, [files]);

  const save = async (path: string, overwrite = false) => {
    if (!(await files.save(path, overwrite))) onInvalid?.();
  };
  const [askDiscard, setAskDiscard] = useState(false);
  const openFile = async (discard = false) => {
    if (!files.pick) return setChooser('open');
    // The native dialog cannot warn that the form's changes go; ask first.
    if (dirty && !discard) return setAskDiscard(true);
    const p = await files.pick('open', f.path);
    if (p) await files.open(p);
  };
  const saveAs = async () => {
    if (!files.pick) return setChooser('save');
    const p = await files.pick('save', f.path);
    if (p) await save(p);
  };
  const busy = !!f.busy;

  return (
    <div className="plan-file" data-testid="plan-file">
      <div className="plan-file-bar" role="toolbar" aria-label="Plan file">
        <span className="plan-file-name" data-testid="plan-file-name" title={f.path ?? 'This plan is not saved in a file'}>
          {f.path ? fileName(f.path) : 'No file'}
        </span>
        {dirty && (
          <span className="plan-file-dirty" data-testid="plan-file-dirty" title="The form has changes the file does not">
            ● unsaved changes
          </span>
        )}
        <span className="plan-file-actions">
          <button type="button" disabled={busy} onClick={() => void openFile()}>
            Open…
          </button>
          <button type="button" disabled={busy || (!!f.path && !dirty)} onClick={() => void (f.path ? save(f.path) : saveAs())}>
            Save
          </button>
          <button type="button" disabled={busy} onClick={() => void saveAs()}>
            Save as…
          </button>
          <button type="button" disabled={busy || !f.path || !dirty} onClick={() => void files.revert()} title="Read the file again, dropping the form's changes">
            Revert
          </button>
        </span>
      </div>
      {askDiscard && (
        <Dialog title="Discard the unsaved changes?" onCancel={() => setAskDiscard(false)}>
          <p>Opening another plan replaces the form. Its changes are not saved{f.path ? ` in ${fileName(f.path)}` : ''}.</p>
          <div className="actions">
            <button type="button" data-autofocus onClick={() => setAskDiscard(false)}>
              Keep editing
            </button>
            <button
              type="button"
              className="danger"
              onClick={() => {
                setAskDiscard(false);
                void openFile(true);
              }}
            >
              Discard and open…
            </button>
          </div>
        </Dialog>
      )}
      {chooser && <PathChooser kind={chooser} files={files} dirty={dirty} onDone={() => setChooser(undefined)} onSave={save} />}
      {f.note && !f.error && (
        <p className="plan-file-note muted" role="status" data-testid="plan-file-note">
          {f.note}
        </p>
      )}
      {f.error && (
        <div>
          <ErrorBox error={f.error} testId="plan-file-error" onDismiss={() => files.dismiss()} />
          {f.error.overwritePath && (
            <button type="button" className="danger" onClick={() => void save(f.error!.overwritePath!, true)}>
              Replace {fileName(f.error.overwritePath)} with this plan
            </button>
          )}
        </div>
      )}
      {f.rejected && <Problems rejected={f.rejected} onDismiss={() => files.dismiss()} />}
    </div>
  );
}

/** Web mode's stand-in for the native dialogs: a path field and the recent plans. */
function PathChooser({ kind, files, dirty, onDone, onSave }: { kind: Chooser; files: PlanFileActions; dirty: boolean; onDone: () => void; onSave: (path: string) => Promise<void> }) {
  const id = useId();
  const current = useConsole((s) => s.planFile.path);
  const recent = useConsole((s) => s.planFile.recent);
  const [typed, setTyped] = useState(current ?? '');
  const [touched, setTouched] = useState(false);
  const checked = checkTypedPath(typed);
  const go = async (path: string) => {
    onDone();
    if (kind === 'open') await files.open(path);
    else await onSave(path);
  };
  return (
    <form
      className="plan-file-chooser"
      aria-label={kind === 'open' ? 'Open a plan file' : 'Save the plan as'}
      onSubmit={(e) => {
        e.preventDefault();
        setTouched(true);
        if (checked.ok) void go(checked.path);
      }}
    >
      <div className={`field${touched && !checked.ok ? ' invalid' : ''}`}>
        <label htmlFor={id}>Plan file path</label>
        <input id={id} className="mono" autoFocus placeholder="/home/you/plans/web.yaml" value={typed} aria-invalid={touched && !checked.ok} onChange={(e) => setTyped(e.target.value)} />
        {touched && !checked.ok && (
          <span className="field-error" role="alert">
            {checked.message}
          </span>
        )}
      </div>
      {kind === 'open' && dirty && <p className="warn-text">Opening another plan drops the form's unsaved changes.</p>}
      <div className="plan-file-chooser-buttons">
        <button type="submit" className="primary">
          {kind === 'open' ? 'Open' : 'Save'}
        </button>
        <button type="button" onClick={onDone}>
          Cancel
        </button>
      </div>
      {recent.length > 0 && (
        <div className="plan-file-recent">
          <span className="muted">Recent plans</span>
          <ul data-testid="plan-file-recent">
            {recent.map((r) => (
              <li key={r.path}>
                <button type="button" className="link mono" title={`Last used ${new Date(r.at).toLocaleString()}`} onClick={() => (kind === 'open' ? void go(r.path) : setTyped(r.path))}>
                  {r.path}
                </button>
              </li>
            ))}
          </ul>
        </div>
      )}
    </form>
  );
}

/** A file that could not be opened: each problem at its line and field, and the file's text with those lines marked. */
function Problems({ rejected, onDismiss }: { rejected: NonNullable<ReturnType<typeof useConsole.getState>['planFile']['rejected']>; onDismiss: () => void }) {
  const lines = rejected.text?.split('\n') ?? [];
  if (lines.length && lines[lines.length - 1] === '') lines.pop();
  const bad = new Set(rejected.problems.map((p) => p.line));
  const n = rejected.problems.length;
  return (
    <div className="error-box plan-file-problems" role="alert" data-testid="plan-file-problems">
      <div className="error-title">
        {fileName(rejected.path)} was not opened: {n} problem{n === 1 ? '' : 's'}. The form is unchanged.
      </div>
      <ol>
        {rejected.problems.map((p, i) => (
          <li key={i} data-testid="plan-file-problem" data-line={p.line} data-field={p.field}>
            <span className="problem-where mono">{problemWhere(p)}</span>: {p.message}
            {p.source !== undefined && <pre className="problem-source">{p.source}</pre>}
            {p.hint && (
              <div className="error-hint">
                <span className="label">Next</span> {p.hint}
              </div>
            )}
          </li>
        ))}
      </ol>
      {lines.length > 0 && (
        <details>
          <summary>Show {rejected.path}</summary>
          <pre className="plan-file-text" data-testid="plan-file-text">
            {lines.map((l, i) => (
              <div key={i} className={bad.has(i + 1) ? 'bad-line' : undefined}>
                <span className="line-no">{i + 1}</span>
                {l}
              </div>
            ))}
          </pre>
        </details>
      )}
      <button type="button" className="link" onClick={onDismiss}>
        Dismiss
      </button>
    </div>
  );
}

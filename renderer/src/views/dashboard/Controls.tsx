import type { MigrationAction } from '../../../../shared/domain.ts';
import { availableActions } from '../../state/controls.ts';
import { isFinished, type MigrationState } from '../../state/engine.ts';
import { ACTION_WORDS } from '../../state/words.ts';
import { useConsole } from '../../store.ts';

const ORDER: MigrationAction[] = ['one-more', 'cutover-now', 'abort', 'rollback'];

/** One more pre-dump, Cut over now, Abort, Roll back: each opens its confirmation (also by key). */
export function Controls({ m }: { m: MigrationState }) {
  const askConfirm = useConsole((s) => s.askConfirm);
  const note = useConsole((s) => s.controlNote);
  const available = availableActions(m.phase, isFinished(m));
  return (
    <div className="controls" role="toolbar" aria-label="Migration controls">
      {ORDER.map((a) => {
        const w = ACTION_WORDS[a];
        return (
          <button
            key={a}
            type="button"
            className={a === 'cutover-now' ? 'primary' : a === 'one-more' ? '' : 'danger'}
            disabled={!available.has(a)}
            aria-keyshortcuts={w.key}
            data-testid={`control-${a}`}
            onClick={() => askConfirm(a)}
          >
            {w.label} <kbd aria-hidden="true">{w.key}</kbd>
          </button>
        );
      })}
      {note && !isFinished(m) && (
        <span className={`control-note ${note.accepted ? 'good' : 'bad'}`} role="status" data-testid="control-note">
          {note.accepted ? '' : 'Refused: '}
          {note.note}
        </span>
      )}
    </div>
  );
}

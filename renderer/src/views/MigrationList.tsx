import { useConsole } from '../store.ts';
import { isFinished, migrationList } from '../state/engine.ts';
import { PHASE_LABEL } from '../state/timeline.ts';
import { describeSelector } from '../../../shared/domain.ts';

/**
 * Many migrations at once: every migration this console has seen, each with its phase; a
 * click opens its own dashboard. Shown once there is more than one to choose between.
 */
export function MigrationList() {
  // Select the record (stable between events), sort outside the selector.
  const list = migrationList(useConsole((s) => s.migrations));
  const watched = useConsole((s) => s.watchedMigrationId);
  const planning = useConsole((s) => s.planning);
  const watch = useConsole((s) => s.watch);
  const running = list.filter((m) => !isFinished(m)).length;
  if (list.length < 2 && !(planning && list.length)) return null;
  return (
    <nav className="panel migration-list" aria-label="Migrations" data-testid="migration-list">
      <h2>
        Migrations <span className="muted small">{running} running</span>
      </h2>
      <ul>
        {list.map((m) => {
          const p = m.plan;
          const current = m.id === watched && !planning;
          return (
            <li key={m.id}>
              <button
                type="button"
                className="link"
                aria-current={current ? 'page' : undefined}
                data-testid="migration-row"
                data-migration-id={m.id}
                data-phase={m.phase}
                onClick={() => watch(m.id)}
                title={m.id}
              >
                {p ? `${p.pid > 0 ? `PID ${p.pid}` : describeSelector(p)}: ${p.source} → ${p.target}` : m.id}
                {p && <span className="muted small"> · port {p.pageServerPort}</span>}
              </button>{' '}
              <span className={`phase-badge phase-${m.phase}`}>{PHASE_LABEL[m.phase]}</span>
            </li>
          );
        })}
      </ul>
    </nav>
  );
}

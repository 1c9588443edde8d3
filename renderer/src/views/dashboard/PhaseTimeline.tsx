import type { MigrationState } from '../../state/engine.ts';
import { formatTime } from '../../state/format.ts';
import { timeline } from '../../state/timeline.ts';

export function PhaseTimeline({ m }: { m: MigrationState }) {
  const steps = timeline(m);
  return (
    <section className="panel" aria-labelledby="timeline-title">
      <h2 id="timeline-title" className="sr-only">
        Phases
      </h2>
      <ol className="timeline" data-testid="phase-timeline">
        {steps.map((s) => (
          <li key={s.phase} className={`step step-${s.status} phase-${s.phase}`} data-phase={s.phase} data-status={s.status} aria-current={s.status === 'current' ? 'step' : undefined} title={s.note ?? s.at}>
            <span className="step-dot" aria-hidden="true" />
            <span className="step-label">{s.label}</span>
            <span className="step-time">{s.at ? formatTime(s.at) : s.status === 'skipped' ? 'skipped' : ''}</span>
          </li>
        ))}
      </ol>
    </section>
  );
}

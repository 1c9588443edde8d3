import type { MigrationState } from '../../state/engine.ts';
import { formatMs } from '../../state/format.ts';

const TITLE = { committed: 'Migration committed', 'rolled-back': 'Migration rolled back', failed: 'Migration failed' } as const;

export function OutcomeBanner({ m }: { m: MigrationState }) {
  const o = m.outcome!;
  return (
    <section className={`panel outcome outcome-${o.outcome}`} role="status" data-testid="outcome" data-outcome={o.outcome}>
      <h2>{TITLE[o.outcome]}</h2>
      <p>{o.summary}</p>
      {(o.freezeWindowMs !== undefined || o.predictedMs !== undefined) && (
        <dl className="freeze">
          <dt>Freeze window, measured</dt>
          <dd data-testid="freeze-measured">{formatMs(o.freezeWindowMs)}</dd>
          <dt>Predicted at cutover</dt>
          <dd data-testid="freeze-predicted">{formatMs(o.predictedMs)}</dd>
          {m.plan && (
            <>
              <dt>Budget</dt>
              <dd>{formatMs(m.plan.policy.downtimeBudgetMs)}</dd>
            </>
          )}
        </dl>
      )}
    </section>
  );
}

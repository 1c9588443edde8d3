import { Area, CartesianGrid, ComposedChart, Line, ReferenceLine, ResponsiveContainer, Tooltip, XAxis, YAxis } from 'recharts';
import type { DowntimeEstimate } from '../../../../shared/domain.ts';
import { useChartColors } from '../../components/theme.ts';
import { decimateBy } from '../../state/decimate.ts';
import { latestEstimate, type MigrationState } from '../../state/engine.ts';
import { formatMs, formatMsTick } from '../../state/format.ts';
import { recommendationHeadline } from '../../state/words.ts';

/** The band (low–high) and the prediction against the budget, drawn to one scale. */
function BandGauge({ e }: { e: DowntimeEstimate }) {
  const max = Math.max(e.highMs, e.budgetMs) * 1.1 || 1;
  const pos = (v: number) => `${Math.min(100, (v / max) * 100)}%`;
  return (
    <div className="gauge" aria-hidden="true">
      <div className={`gauge-band ${e.fits ? 'fits' : 'over'}`} style={{ left: pos(e.lowMs), width: `calc(${pos(e.highMs)} - ${pos(e.lowMs)})` }} />
      <div className="gauge-predicted" style={{ left: pos(e.predictedMs) }} />
      <div className="gauge-budget" style={{ left: pos(e.budgetMs) }}>
        <span>budget</span>
      </div>
    </div>
  );
}

export function EstimatePanel({ m }: { m: MigrationState }) {
  const c = useChartColors();
  const last = latestEstimate(m);
  const axisMax = Math.max(0, ...m.estimates.map((p) => Math.max(p.estimate.highMs, p.estimate.budgetMs)));
  const live = m.phase === 'precopy' && !m.outcome;
  // The engine re-estimates when the cutover starts; that point is labelled as such.
  const data = decimateBy(m.estimates, (p) => p.estimate.predictedMs).map((p, i, all) => ({
    name: p.live ? `${p.afterIteration} (live)` : i > 0 && all[i - 1]!.afterIteration === p.afterIteration ? `${p.afterIteration} (cutover)` : String(p.afterIteration),
    predicted: p.estimate.predictedMs,
    band: [p.estimate.lowMs, p.estimate.highMs] as [number, number],
    budget: p.estimate.budgetMs,
  }));
  return (
    <section className="panel chart" aria-labelledby="estimate-title" data-testid="estimate" data-points={m.estimates.length}>
      <h2 id="estimate-title">Downtime estimate</h2>
      {!last ? (
        <p className="muted chart-empty">The estimate appears after the first pre-dump.</p>
      ) : (
        <>
          <div className="estimate-numbers">
            <div className="kpi">
              <span className="kpi-label">Predicted freeze</span>
              <span className={`kpi-value ${last.estimate.fits ? 'good' : 'bad'}`} data-testid="estimate-predicted">
                {formatMs(last.estimate.predictedMs)}
              </span>
            </div>
            <div className="kpi">
              <span className="kpi-label">Band</span>
              <span className="kpi-value" data-testid="estimate-band">
                {formatMs(last.estimate.lowMs)} – {formatMs(last.estimate.highMs)}
              </span>
            </div>
            <div className="kpi">
              <span className="kpi-label">Budget</span>
              <span className="kpi-value" data-testid="estimate-budget">
                {formatMs(last.estimate.budgetMs)} {last.estimate.fits ? '(fits)' : '(over)'}
              </span>
            </div>
          </div>
          <BandGauge e={last.estimate} />
          <div className={`recommendation rec-${last.recommendation.kind}`} data-testid="recommendation" data-kind={last.recommendation.kind}>
            {!live && <span className="muted">The policy's last word (after iteration {last.afterIteration}): </span>}
            <strong>{recommendationHeadline(last.recommendation)}.</strong> {last.recommendation.reason}
          </div>
          <details className="basis">
            <summary>What the estimate rests on</summary>
            <p>{last.estimate.basis}</p>
          </details>
          <div className="chart-box" aria-hidden="true">
            <ResponsiveContainer width="100%" height={150}>
              <ComposedChart data={data} margin={{ top: 8, right: 8, bottom: 0, left: 8 }}>
                <CartesianGrid stroke={c.grid} vertical={false} />
                <XAxis dataKey="name" stroke={c.text} tick={{ fontSize: 12 }} />
                <YAxis stroke={c.text} tick={{ fontSize: 12 }} tickFormatter={(v: number) => formatMsTick(v, axisMax)} width={56} />
                <Tooltip formatter={(v) => (Array.isArray(v) ? `${formatMs(Number(v[0]))} – ${formatMs(Number(v[1]))}` : formatMs(Number(v)))} />
                <Area dataKey="band" name="band" fill={c.band} fillOpacity={0.15} stroke="none" isAnimationActive={false} />
                <Line dataKey="predicted" name="predicted" stroke={c.band} strokeWidth={2} isAnimationActive={false} />
                <ReferenceLine y={last.estimate.budgetMs} stroke={c.budget} strokeDasharray="4 3" label={{ value: `budget ${formatMs(last.estimate.budgetMs)}`, fill: c.budget, fontSize: 11, position: 'insideTopLeft' }} />
              </ComposedChart>
            </ResponsiveContainer>
          </div>
          <div className="muted small">Predicted freeze and its band after each pre-dump; dashed: the budget.</div>
        </>
      )}
    </section>
  );
}

import { Bar, CartesianGrid, ComposedChart, Legend, Line, ResponsiveContainer, Tooltip, XAxis, YAxis } from 'recharts';
import { useChartColors } from '../../components/theme.ts';
import { decimateBy } from '../../state/decimate.ts';
import type { MigrationState } from '../../state/engine.ts';
import { formatBytes, formatInt, formatRate, formatUs } from '../../state/format.ts';

const CHART_HEIGHT = 220;
const iterLabel = (i: number, kind: string) => (kind === 'dump' ? `${i} (final)` : String(i));

/** Pages written and skipped per iteration: one point per 'iteration' event, CRIU's own counts. */
export function ConvergenceChart({ m }: { m: MigrationState }) {
  const c = useChartColors();
  const data = decimateBy(m.iterations, (i) => i.pagesWritten).map((i) => ({
    name: iterLabel(i.index, i.kind),
    index: i.index,
    written: i.pagesWritten,
    skipped: i.pagesSkippedParent,
  }));
  return (
    <section className="panel chart" aria-labelledby="convergence-title" data-testid="convergence-chart" data-points={m.iterations.length}>
      <h2 id="convergence-title">Convergence: pages per iteration</h2>
      {data.length === 0 ? (
        <p className="muted chart-empty">The first pre-dump's numbers appear here when it finishes.</p>
      ) : (
        <div className="chart-box" aria-hidden="true">
          <ResponsiveContainer width="100%" height={CHART_HEIGHT}>
            <ComposedChart data={data} margin={{ top: 8, right: 8, bottom: 0, left: 8 }}>
              <CartesianGrid stroke={c.grid} vertical={false} />
              <XAxis dataKey="name" stroke={c.text} tick={{ fontSize: 12 }} />
              <YAxis stroke={c.text} tick={{ fontSize: 12 }} tickFormatter={(v: number) => formatInt(v)} width={64} />
              <Tooltip formatter={(v) => formatInt(Number(v))} />
              <Legend />
              <Bar dataKey="written" name="pages written" fill={c.written} isAnimationActive={false} />
              <Line dataKey="skipped" name="pages skipped (in parent)" stroke={c.skipped} strokeWidth={2} isAnimationActive={false} />
            </ComposedChart>
          </ResponsiveContainer>
        </div>
      )}
      <table className="points compact">
        <caption className="sr-only">Iterations, as CRIU's stats-dump reports them</caption>
        <thead>
          <tr>
            <th>Iteration</th>
            <th className="num">Pages written</th>
            <th className="num">Skipped (parent)</th>
            <th className="num">Frozen</th>
            <th className="num">Memwrite</th>
          </tr>
        </thead>
        <tbody>
          {m.iterations.map((i) => (
            <tr key={i.index} data-testid="convergence-point" data-iteration={i.index} data-kind={i.kind} data-pages-written={i.pagesWritten} data-pages-skipped={i.pagesSkippedParent}>
              <td>
                {i.index} <span className="muted">{i.kind}</span>
              </td>
              <td className="num">{formatInt(i.pagesWritten)}</td>
              <td className="num">{formatInt(i.pagesSkippedParent)}</td>
              <td className="num">{formatUs(i.frozenTimeUs)}</td>
              <td className="num">{formatUs(i.memwriteTimeUs)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}

/** Dirty-page rate and page-server bandwidth per iteration (IterationStats, as the engine derived them). */
export function RatesChart({ m }: { m: MigrationState }) {
  const c = useChartColors();
  const series = m.iterations.filter((i) => i.dirtyPagesPerSec !== undefined || i.bandwidthBytesPerSec !== undefined);
  const data = decimateBy(series, (i) => i.dirtyPagesPerSec ?? i.bandwidthBytesPerSec).map((i) => ({
    name: iterLabel(i.index, i.kind),
    rate: i.dirtyPagesPerSec,
    bandwidth: i.bandwidthBytesPerSec,
  }));
  const last = m.iterations[m.iterations.length - 1];
  return (
    <section className="panel chart" aria-labelledby="rates-title" data-testid="rates-chart" data-points={series.length}>
      <h2 id="rates-title">Dirty-page rate and bandwidth</h2>
      <div className="kpis">
        <div className="kpi" data-testid="dirty-rate">
          <span className="kpi-label">Dirty rate</span>
          <span className="kpi-value">{last?.dirtyPagesPerSec === undefined ? '—' : `${formatInt(last.dirtyPagesPerSec)} pages/s`}</span>
        </div>
        <div className="kpi" data-testid="bandwidth">
          <span className="kpi-label">Page-server bandwidth</span>
          <span className="kpi-value">{formatRate(last?.bandwidthBytesPerSec)}</span>
        </div>
      </div>
      {data.length === 0 ? (
        <p className="muted chart-empty">Rates appear after the first pre-dump (the dirty rate after the second).</p>
      ) : (
        <div className="chart-box" aria-hidden="true">
          <ResponsiveContainer width="100%" height={CHART_HEIGHT - 40}>
            <ComposedChart data={data} margin={{ top: 8, right: 8, bottom: 0, left: 8 }}>
              <CartesianGrid stroke={c.grid} vertical={false} />
              <XAxis dataKey="name" stroke={c.text} tick={{ fontSize: 12 }} />
              <YAxis yAxisId="rate" stroke={c.rate} tick={{ fontSize: 12 }} tickFormatter={(v: number) => formatInt(v)} width={64} />
              <YAxis yAxisId="bw" orientation="right" stroke={c.bandwidth} tick={{ fontSize: 12 }} tickFormatter={(v: number) => formatBytes(v)} width={72} />
              <Tooltip formatter={(v, name) => (name === 'bandwidth' ? formatRate(Number(v)) : `${formatInt(Number(v))} pages/s`)} />
              <Legend />
              <Line yAxisId="rate" dataKey="rate" name="dirty pages/s" stroke={c.rate} strokeWidth={2} connectNulls isAnimationActive={false} />
              <Line yAxisId="bw" dataKey="bandwidth" name="bandwidth" stroke={c.bandwidth} strokeWidth={2} connectNulls isAnimationActive={false} />
            </ComposedChart>
          </ResponsiveContainer>
        </div>
      )}
    </section>
  );
}

import { Bar, CartesianGrid, ComposedChart, Legend, Line, ResponsiveContainer, Tooltip, XAxis, YAxis } from 'recharts';
import { useChartColors } from '../../components/theme.ts';
import { decimateBy } from '../../state/decimate.ts';
import { liveChartData, liveNow, liveSeries } from '../../state/dirty.ts';
import type { MigrationState } from '../../state/engine.ts';
import { formatBytes, formatInt, formatRate, formatUs } from '../../state/format.ts';
import { capCoversDump, describeBandwidth } from '../../../../shared/bandwidth-cap.ts';

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
  const now = liveNow(m);
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
        {m.plan?.bandwidthCap && (
          // Bandwidth cap: the page stream's limit beside what it measured.
          <div className="kpi" data-testid="bandwidth-cap" data-bytes-per-second={m.plan.bandwidthCap.bytesPerSecond}>
            <span className="kpi-label">Bandwidth cap (tc on the source)</span>
            <span className="kpi-value">
              {describeBandwidth(m.plan.bandwidthCap.bytesPerSecond)}, {capCoversDump(m.plan.bandwidthCap) ? 'pre-copy and final dump' : 'pre-copy only'}
            </span>
          </div>
        )}
        <div className="kpi" data-testid="live-dirty" data-dirty-pages={now?.dirtyPages ?? ''}>
          <span className="kpi-label">Dirty now (live, since pre-dump {now?.sinceIteration ?? '—'})</span>
          <span className="kpi-value">
            {now === undefined
              ? '—'
              : `${formatInt(now.dirtyPages)} pages (${formatBytes(now.dirtyPages * 4096)})${now.ratePagesPerSec !== undefined ? `, +${formatInt(now.ratePagesPerSec)}/s` : ''}`}
          </span>
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
      <LiveDirtyChart m={m} />
    </section>
  );
}

/**
 * The dirty set between pre-dumps, a few samples a second (read-only soft-dirty counts on the
 * source): distinct from the per-iteration points above, it moves while the migration waits.
 */
function LiveDirtyChart({ m }: { m: MigrationState }) {
  const c = useChartColors();
  const series = liveSeries(m);
  if (series.length === 0) return null;
  const data = liveChartData(series);
  const lastPoint = series[series.length - 1]!;
  return (
    <div className="live-dirty" data-testid="live-dirty-chart" data-points={series.length} data-drawn={data.length} data-last-dirty={lastPoint.dirtyPages} data-since={lastPoint.sinceIteration}>
      <div className="muted small">
        Live dirty set since pre-dump {lastPoint.sinceIteration}: the pages the next dump would copy now
        {m.phase === 'precopy' ? '' : ' (sampling ended)'}.
      </div>
      <div className="chart-box" aria-hidden="true">
        <ResponsiveContainer width="100%" height={140}>
          <ComposedChart data={data} margin={{ top: 8, right: 8, bottom: 0, left: 8 }}>
            <CartesianGrid stroke={c.grid} vertical={false} />
            <XAxis dataKey="t" type="number" domain={[0, 'dataMax']} stroke={c.text} tick={{ fontSize: 12 }} tickFormatter={(v: number) => `${v} s`} />
            <YAxis yAxisId="pages" stroke={c.rate} tick={{ fontSize: 12 }} tickFormatter={(v: number) => formatInt(v)} width={64} />
            <YAxis yAxisId="rate" orientation="right" stroke={c.skipped} tick={{ fontSize: 12 }} tickFormatter={(v: number) => formatInt(v)} width={72} />
            <Tooltip formatter={(v, name) => (name === 'dirty pages' ? formatInt(Number(v)) : `${formatInt(Number(v))} pages/s`)} labelFormatter={(v) => `${v} s`} />
            <Legend />
            <Line yAxisId="pages" dataKey="dirty" name="dirty pages" stroke={c.rate} strokeWidth={2} dot={false} isAnimationActive={false} />
            <Line yAxisId="rate" dataKey="rate" name="growth pages/s" stroke={c.skipped} strokeWidth={1} strokeDasharray="4 3" dot={false} connectNulls isAnimationActive={false} />
          </ComposedChart>
        </ResponsiveContainer>
      </div>
    </div>
  );
}

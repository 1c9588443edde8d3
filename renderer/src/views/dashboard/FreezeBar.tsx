import { Bar, BarChart, CartesianGrid, Legend, ReferenceLine, ResponsiveContainer, Tooltip, XAxis, YAxis } from 'recharts';
import type { FreezePhases } from '../../../../shared/api.ts';
import { useChartColors } from '../../components/theme.ts';
import { formatMs } from '../../state/format.ts';

const PHASES = [
  { key: 'dump', name: 'dump (source frozen)' },
  { key: 'copy', name: 'copy to the target' },
  { key: 'restore', name: 'restore on the target' },
] as const;

/**
 * The freeze window as a bar split into its phases (final dump, copy, restore), the measured
 * one beside the prediction the cutover was decided on, against the budget.
 */
export function FreezeBar({ measured, predicted, measuredMs, predictedMs, budgetMs }: { measured: FreezePhases; predicted?: FreezePhases; measuredMs?: number; predictedMs?: number; budgetMs?: number }) {
  const c = useChartColors();
  const colors = { dump: c.written, copy: c.bandwidth, restore: c.rate };
  const rows = [
    { name: 'measured', ...measured },
    ...(predicted ? [{ name: 'predicted', ...predicted }] : []),
  ];
  return (
    <section
      className="panel chart"
      aria-labelledby="freeze-bar-title"
      data-testid="freeze-bar"
      data-measured-ms={measuredMs ?? ''}
      data-predicted-ms={predictedMs ?? ''}
      data-measured-phases={PHASES.map((p) => measured[p.key] ?? '').join(',')}
      data-predicted-phases={predicted ? PHASES.map((p) => predicted[p.key] ?? '').join(',') : ''}
    >
      <h2 id="freeze-bar-title">Freeze window: {formatMs(measuredMs)} measured, {formatMs(predictedMs)} predicted</h2>
      <div className="chart-box" aria-hidden="true">
        <ResponsiveContainer width="100%" height={60 + 44 * rows.length}>
          <BarChart data={rows} layout="vertical" margin={{ top: 20, right: 24, bottom: 0, left: 8 }}>
            <CartesianGrid stroke={c.grid} horizontal={false} />
            <XAxis type="number" stroke={c.text} tick={{ fontSize: 12 }} tickFormatter={(v: number) => formatMs(v)} domain={[0, (max: number) => Math.max(max, budgetMs ?? 0)]} />
            <YAxis type="category" dataKey="name" stroke={c.text} tick={{ fontSize: 12 }} width={80} />
            <Tooltip formatter={(v) => formatMs(Number(v))} />
            <Legend />
            {PHASES.map((p) => (
              <Bar key={p.key} dataKey={p.key} name={p.name} stackId="freeze" fill={colors[p.key]} isAnimationActive={false} />
            ))}
            {budgetMs !== undefined && <ReferenceLine x={budgetMs} stroke={c.budget} strokeDasharray="4 3" label={{ value: `budget ${formatMs(budgetMs)}`, fill: c.budget, fontSize: 12, position: 'top' }} />}
          </BarChart>
        </ResponsiveContainer>
      </div>
      <table className="points compact">
        <caption className="sr-only">The freeze window's phases, measured and predicted</caption>
        <thead>
          <tr>
            <th>Phase</th>
            <th className="num">Measured</th>
            <th className="num">Predicted</th>
          </tr>
        </thead>
        <tbody>
          {PHASES.map((p) => (
            <tr key={p.key} data-testid="freeze-phase" data-phase={p.key}>
              <td>{p.name}</td>
              <td className="num">{formatMs(measured[p.key])}</td>
              <td className="num">{formatMs(predicted?.[p.key])}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}

import type { MigrationState } from '../../state/engine.ts';
import { formatMs } from '../../state/format.ts';
import { probeStrip } from '../../state/probe.ts';

/**
 * Service probe: the longest gap clients saw beside the freeze window, and a strip of the
 * probe's answered (green) and failed (red) runs, with the freeze window marked when known.
 */
export function ClientDowntime({ m }: { m: MigrationState }) {
  const view = m.serviceProbe;
  if (!view) return null;
  const r = view.result;
  const g = r.longestGap;
  const strip = probeStrip(r);
  const gapText = !g ? (r.attempts ? 'none' : '–') : `${formatMs(g.ms)}${g.recovered ? '' : ' (no answer since)'}`;
  return (
    <section className="panel client-downtime" aria-labelledby="client-downtime-title" data-testid="client-downtime" data-final={view.final}>
      <h2 id="client-downtime-title">Client-visible downtime{view.final ? '' : ' (probing…)'}</h2>
      <div className="muted small">
        {r.probe.kind === 'tcp' ? 'TCP connect to' : 'HTTP GET of'} <span className="mono">{r.probe.target}</span> from {r.probe.from === 'local' ? 'this machine' : r.probe.from}, every {formatMs(r.probe.intervalMs)}
      </div>
      <dl className="freeze">
        <dt>Longest gap clients saw</dt>
        <dd data-testid="probe-gap" className={g ? (g.recovered ? 'warn-text' : 'bad') : 'good'}>
          {gapText}
        </dd>
        <dt>Freeze window</dt>
        <dd data-testid="probe-freeze">{formatMs(m.outcome?.freezeWindowMs)}</dd>
        <dt>Attempts</dt>
        <dd data-testid="probe-counts">
          {r.attempts} ({r.successes} answered, {r.failures} failed)
        </dd>
      </dl>
      {strip.segments.length > 0 && (
        <div className="probe-strip" role="img" aria-label={`Probe timeline: ${r.runs.map((x) => `${x.ok ? 'answered' : 'failed'} ${formatMs(x.startMs)}–${formatMs(x.endMs)}`).join(', ')}`} data-testid="probe-strip">
          {strip.segments.map((s, i) => (
            <span
              key={i}
              className={`probe-run ${s.ok ? 'ok' : 'fail'}`}
              data-testid="probe-run"
              data-ok={s.ok}
              style={{ left: `${s.leftPct}%`, width: `${s.widthPct}%` }}
              title={`${s.ok ? 'answered' : `failed${s.error ? ` (${s.error})` : ''}`}: ${s.attempts} attempt(s), ${formatMs(s.startMs)} – ${formatMs(s.endMs)}`}
            />
          ))}
          {strip.freeze && <span className="probe-freeze" data-testid="probe-freeze-mark" style={{ left: `${strip.freeze.leftPct}%`, width: `${strip.freeze.widthPct}%` }} title="freeze window" />}
        </div>
      )}
      {r.note && <p className="muted small" data-testid="probe-note">{r.note}</p>}
    </section>
  );
}

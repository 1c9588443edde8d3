import { criuSubcommand, type Replay } from './journal.ts';

/** What a journal says about a cutover an interrupted engine started (for `journal recover --commit`). */
export interface JournaledCutover {
  preDumps: number;
  /** From the final dump's start to the restore's end, both as journaled; unknown without them. */
  freezeWindowMs?: number;
  /** The last prediction made before the final dump started. */
  predictedMs?: number;
  /** The systemd scope the restore ran in (without `.scope`), when it had one. */
  unit?: string;
}

const isCriu = (argv: readonly string[], sub: string): boolean => criuSubcommand(argv) === sub;

export function journaledCutover(r: Replay): JournaledCutover {
  const dump = [...r.commands].reverse().find((c) => isCriu(c.argv, 'dump'));
  const restore = [...r.commands].reverse().find((c) => isCriu(c.argv, 'restore'));
  const preDumps = r.iterations.filter((i) => i.kind === 'pre-dump').length;
  const freezeWindowMs =
    dump && restore?.endedAt && restore.code === 0 && restore.seq > dump.seq ? Date.parse(restore.endedAt) - Date.parse(dump.startedAt) : undefined;
  const before = dump ? r.estimates.filter((e) => e.seq < dump.seq) : [];
  const last = before[before.length - 1];
  const unit = restore?.argv.find((a) => a.startsWith('--unit='))?.slice('--unit='.length);
  return { preDumps, freezeWindowMs, predictedMs: last ? Math.round(last.estimate.predictedMs) : undefined, ...(unit ? { unit } : {}) };
}

/** The one-line summary of a committed pre-copy or cold migration; says what is not known instead of "undefined". */
export function commitSummary(o: { pid: number; target: string; preDumps: number; freezeWindowMs?: number; predictedMs?: number; recovered?: boolean; unit?: string }): string {
  const window = o.freezeWindowMs !== undefined ? `freeze window ${o.freezeWindowMs} ms` : 'freeze window not known (the journal has no end of the restore)';
  const predicted = o.predictedMs !== undefined ? ` (predicted ${o.predictedMs} ms)` : '';
  const how = o.recovered ? ', committed on recovery from the journal of an interrupted migration' : '';
  const unit = o.unit ? ` It runs in the systemd unit ${o.unit} on ${o.target}.` : '';
  return `PID ${o.pid} now runs on ${o.target}; ${window}${predicted} after ${o.preDumps} pre-dump(s)${how}.${unit}`;
}

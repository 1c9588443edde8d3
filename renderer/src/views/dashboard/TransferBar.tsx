import type { MigrationState } from '../../state/engine.ts';
import { formatBytes } from '../../state/format.ts';

/** The latest 'transfer' event as a progress bar; without a total, bytes so far. */
export function TransferBar({ m }: { m: MigrationState }) {
  const t = m.transfer;
  if (!t) return null;
  const known = t.totalBytes !== undefined && t.totalBytes > 0;
  const pct = known ? Math.min(100, (t.doneBytes / t.totalBytes!) * 100) : undefined;
  return (
    <div className="transfer" data-testid="transfer">
      <div className="transfer-label">
        {t.label}: {formatBytes(t.doneBytes)}
        {known && ` of ${formatBytes(t.totalBytes)}`}
        {/* Post-copy and the restore count CRIU's 4 KiB pages; say them as CRIU does. */}
        {known && (t.label.startsWith('post-copy') || t.label.startsWith('restore')) && ` (${Math.round(t.doneBytes / 4096)} of ${Math.round(t.totalBytes! / 4096)} pages)`}
      </div>
      <div
        className={`progress${known ? '' : ' indeterminate'}`}
        role="progressbar"
        aria-label={t.label}
        aria-valuemin={0}
        aria-valuemax={known ? t.totalBytes : undefined}
        aria-valuenow={known ? t.doneBytes : undefined}
        aria-valuetext={known ? `${formatBytes(t.doneBytes)} of ${formatBytes(t.totalBytes)}` : `${formatBytes(t.doneBytes)} so far`}
      >
        <div className="progress-fill" style={{ width: pct === undefined ? '30%' : `${pct}%` }} />
      </div>
    </div>
  );
}

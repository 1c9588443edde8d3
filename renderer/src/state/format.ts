/** Display formatting only: every number shown is the engine's, merely given units. */
const nf = new Intl.NumberFormat('en-US');

export function formatInt(n: number | undefined): string {
  return n === undefined ? '—' : nf.format(Math.round(n));
}

export function formatBytes(n: number | undefined): string {
  if (n === undefined) return '—';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let u = 0;
  while (Math.abs(v) >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${u === 0 ? v : v.toFixed(v >= 100 ? 0 : 1)} ${units[u]}`;
}

export function formatRate(bytesPerSec: number | undefined): string {
  return bytesPerSec === undefined ? '—' : `${formatBytes(bytesPerSec)}/s`;
}

export function formatMs(ms: number | undefined): string {
  if (ms === undefined) return '—';
  if (Math.abs(ms) < 10_000) return `${nf.format(Math.round(ms))} ms`;
  return `${(ms / 1000).toFixed(1)} s`;
}

/** Chart axis ticks: one unit per axis (s from 1 s up, else ms). */
export function formatMsTick(ms: number, axisMaxMs: number): string {
  return axisMaxMs >= 1000 ? `${(ms / 1000).toFixed(ms % 1000 === 0 ? 0 : 1)} s` : `${Math.round(ms)} ms`;
}

/** Microseconds from CRIU's stats, shown in ms with the precision CRIU gave. */
export function formatUs(us: number | undefined): string {
  return us === undefined ? '—' : `${(us / 1000).toFixed(1)} ms`;
}

/** Local wall-clock time with milliseconds; the ISO string stays available as a title. */
export function formatTime(iso: string | undefined): string {
  if (!iso) return '';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  return `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}.${p(d.getMilliseconds(), 3)}`;
}

export function formatDateTime(iso: string | undefined): string {
  if (!iso) return '';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return `${d.toLocaleDateString('en-CA')} ${formatTime(iso)}`;
}

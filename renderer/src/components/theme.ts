import { useEffect, useState } from 'react';
import { useConsole } from '../store.ts';

const dark = () => globalThis.matchMedia?.('(prefers-color-scheme: dark)');

/** The theme in effect: the user's choice, or the system's when they chose "system". */
export function useResolvedTheme(): 'light' | 'dark' {
  const choice = useConsole((s) => s.theme);
  const [systemDark, setSystemDark] = useState(() => dark()?.matches ?? false);
  useEffect(() => {
    const mq = dark();
    if (!mq) return;
    const on = () => setSystemDark(mq.matches);
    mq.addEventListener('change', on);
    return () => mq.removeEventListener('change', on);
  }, []);
  return choice === 'system' ? (systemDark ? 'dark' : 'light') : choice;
}

/** Chart colours per theme (SVG attributes cannot read CSS variables reliably). */
export function useChartColors() {
  const t = useResolvedTheme();
  return t === 'dark'
    ? { written: '#60a5fa', skipped: '#6b7280', rate: '#f59e0b', bandwidth: '#34d399', band: '#60a5fa', budget: '#f87171', grid: '#2a303a', text: '#9aa3ae' }
    : { written: '#2563eb', skipped: '#9ca3af', rate: '#b45309', bandwidth: '#047857', band: '#2563eb', budget: '#b91c1c', grid: '#e5e7eb', text: '#4b5563' };
}

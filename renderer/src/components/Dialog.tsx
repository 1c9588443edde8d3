import { useEffect, useId, useRef, type ReactNode } from 'react';

/**
 * A modal dialog: labelled by its title, Escape cancels, focus starts on the safe choice
 * (the element marked data-autofocus, else the first button) and comes back when it closes.
 */
export function Dialog({ title, children, onCancel, testId, tone }: { title: string; children: ReactNode; onCancel: () => void; testId?: string; tone?: 'danger' | 'normal' }) {
  const id = useId();
  const ref = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const previous = document.activeElement as HTMLElement | null;
    const el = ref.current;
    const first = el?.querySelector<HTMLElement>('[data-autofocus]') ?? el?.querySelector<HTMLElement>('button');
    first?.focus();
    const onKey = (e: KeyboardEvent) => {
      if (e.key === 'Escape') {
        e.preventDefault();
        onCancel();
      }
    };
    window.addEventListener('keydown', onKey);
    return () => {
      window.removeEventListener('keydown', onKey);
      previous?.focus?.();
    };
  }, [onCancel]);
  return (
    <div className="modal-backdrop">
      <div ref={ref} className={`modal${tone === 'danger' ? ' danger' : ''}`} role="dialog" aria-modal="true" aria-labelledby={id} data-testid={testId}>
        <h3 id={id}>{title}</h3>
        {children}
      </div>
    </div>
  );
}

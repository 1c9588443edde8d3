/** Keyboard shortcuts for the migration controls: plain letters, never while the user types. */
export interface KeyLike {
  key: string;
  ctrlKey: boolean;
  metaKey: boolean;
  altKey: boolean;
  repeat?: boolean;
  target: EventTarget | null;
}

interface ElementLike {
  tagName?: string;
  isContentEditable?: boolean;
  type?: string;
  closest?: (sel: string) => unknown;
}

const TEXT_INPUT_TYPES = new Set(['text', 'number', 'search', 'email', 'url', 'password', 'tel', 'date', 'time', '']);

/** True when the key press belongs to a field (typing, choosing) rather than to the console. */
export function isTypingTarget(target: EventTarget | null): boolean {
  const el = target as ElementLike | null;
  if (!el || typeof el.tagName !== 'string') return false;
  const tag = el.tagName.toUpperCase();
  if (el.isContentEditable) return true;
  if (tag === 'TEXTAREA' || tag === 'SELECT') return true;
  if (tag === 'INPUT') return TEXT_INPUT_TYPES.has((el.type ?? '').toLowerCase());
  return false;
}

/** The shortcut letter a key press means, or undefined when it must not fire. */
export function shortcutOf(e: KeyLike, letters: readonly string[], modalOpen: boolean): string | undefined {
  if (modalOpen || e.ctrlKey || e.metaKey || e.altKey || e.repeat) return undefined;
  if (isTypingTarget(e.target)) return undefined;
  const k = e.key.length === 1 ? e.key.toUpperCase() : '';
  return letters.includes(k) ? k : undefined;
}

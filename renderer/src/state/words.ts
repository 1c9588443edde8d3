import type { Recommendation } from '../../../shared/domain.ts';
import type { MigrationAction } from '../../../shared/domain.ts';

/** The policy's recommendation as a headline; the engine's reason follows it verbatim. */
export function recommendationHeadline(r: Recommendation): string {
  switch (r.kind) {
    case 'continue':
      return 'Keep pre-copying: another iteration should shrink the freeze';
    case 'cutover':
      return 'Ready to cut over';
    case 'not-converging':
      return 'Pre-copy is not converging';
  }
}

export interface ActionWords {
  label: string;
  key: string;
  title: string;
  /** What will happen, for the confirmation dialog. */
  explain: string;
  confirm: string;
  danger: boolean;
}

export const ACTION_WORDS: Record<MigrationAction, ActionWords> = {
  'one-more': {
    label: 'One more pre-dump',
    key: 'N',
    title: 'Run one more pre-dump?',
    explain:
      'Ferry will run one more pre-copy iteration: a page server on the target and a criu pre-dump on the source. The process keeps running on the source; it is frozen only briefly while its dirty pages are read.',
    confirm: 'Run one more pre-dump',
    danger: false,
  },
  'cutover-now': {
    label: 'Cut over now',
    key: 'C',
    title: 'Cut over now?',
    explain:
      'At the next safe point Ferry will run the final criu dump with --leave-stopped: the process is frozen on the source, its images are copied to the target, and it is restored there. The process is stopped for the freeze window shown in the estimate. If restore or verify fails, Ferry resumes the source.',
    confirm: 'Cut over now',
    danger: true,
  },
  abort: {
    label: 'Abort',
    key: 'A',
    title: 'Abort this migration?',
    explain: 'Ferry will stop at the next safe point and undo what it did, in this order:',
    confirm: 'Abort the migration',
    danger: true,
  },
  rollback: {
    label: 'Roll back',
    key: 'R',
    title: 'Roll back this migration?',
    explain: 'Ferry will roll back at the next safe point, in this order:',
    confirm: 'Roll back the migration',
    danger: true,
  },
};

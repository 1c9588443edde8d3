/**
 * The cutover guard's decision, pure: what the target guard answers when it is asked to
 * settle, and what the source guard then does. guard.py (electron/engine/migration/guard/)
 * mirrors this table line for line; both are tested against the same cases. The protocol
 * around it is described in electron/engine/migration/guard/README.md.
 */

/** The target guard's states. `waiting`: armed, no restore yet; the rest say what happened. */
export type TargetState = 'waiting' | 'restoring' | 'restored' | 'restore-failed' | 'committed' | 'aborted' | 'kept' | 'released';
/** The source guard's states. `settling`: the lease was lost and the target said "wait". */
export type SourceState = 'frozen' | 'settling' | 'hold' | 'resumed' | 'killed' | 'released';
/** The source's copy of the tree, as the asker sees it on its host (root PID's /proc state). */
export type SourceTree = 'frozen' | 'running' | 'gone';
/** The target's answer. */
export type Answer = 'target-clear' | 'keep-target' | 'wait' | 'hold';
/** What the source guard does with an answer. `none`: nothing is left to do on the source. */
export type SourceAction = 'resume' | 'kill' | 'wait' | 'hold' | 'none';

export interface SettleInput {
  target: TargetState;
  /** Any of the tree's PIDs (not taken before the guard started) exists on the target. */
  treeOnTarget: boolean;
  sourceTree: SourceTree;
}

export interface Settlement {
  answer: Answer;
  /** The target guard's state once it answered. */
  targetNext: TargetState;
  source: SourceAction;
  /** Why, in words: goes into both guards' logs and, later, the journal. */
  why: string;
}

/** The commit point: from here the target keeps its copy whatever happens. */
export const COMMIT_POINT: TargetState = 'committed';

/**
 * Settle once the lease is lost (or the console asks to roll back). The invariant: never
 * resume the source while a restored copy may run on the target; never let the target drop
 * its copy (or its images) when the source's copy is gone.
 */
export function settle({ target, treeOnTarget, sourceTree }: SettleInput): Settlement {
  const s = (answer: Answer, targetNext: TargetState, why: string): Settlement => ({ answer, targetNext, source: sourceAction(answer, sourceTree), why });
  if (target === 'restoring') return s('wait', target, 'the restore is running: ask again when it ended');
  if (target === 'released') return s('hold', target, 'the console took over this migration: the guards decide nothing');
  const copyOnTarget = target === 'committed' || target === 'kept' || (target === 'restored' && treeOnTarget);
  if (sourceTree === 'gone') {
    if (copyOnTarget) return s('keep-target', target === 'restored' ? 'kept' : target, 'the source copy is gone: the target keeps the only copy');
    return s('hold', target, 'the source copy is gone and none runs on the target: keeping the images for a person to decide');
  }
  if (target === 'committed') {
    return sourceTree === 'running'
      ? s('hold', target, 'past the commit point but the source copy runs: two copies, a person must choose')
      : s('keep-target', target, 'past the commit point: the target keeps its copy, the source copy goes');
  }
  if (target === 'kept') {
    return sourceTree === 'running' ? s('hold', target, 'the target kept its copy but the source copy runs: a person must choose') : s('keep-target', target, 'the target already kept its copy');
  }
  if (target === 'restored') {
    if (!treeOnTarget) {
      return sourceTree === 'running'
        ? s('target-clear', 'aborted', 'the restored copy exited and the source copy runs: the target drops its images')
        : s('hold', target, 'the restored copy ran and exited: resuming the source would run it twice, a person must choose');
    }
    return sourceTree === 'running'
      ? s('hold', target, 'the restored copy runs and so does the source copy: a person must choose')
      : s('keep-target', 'kept', 'the restored copy runs and has talked to clients: keep it, the source copy goes');
  }
  if (target === 'restore-failed' && treeOnTarget) return s('hold', target, 'criu restore failed but part of the tree runs on the target: a person must choose');
  if (treeOnTarget) return s('hold', target, "the tree's PIDs run on the target though no restore ran through the guard: a person must choose");
  // waiting, aborted, or a failed restore that left nothing running: the source's copy is the one.
  return s('target-clear', 'aborted', target === 'restore-failed' ? 'the restore failed and nothing of it runs: the source copy resumes' : 'no restore started: the target drops its images, the source copy resumes');
}

function sourceAction(answer: Answer, tree: SourceTree): SourceAction {
  if (answer === 'target-clear') return tree === 'frozen' ? 'resume' : 'none';
  if (answer === 'keep-target') return tree === 'gone' ? 'none' : 'kill';
  return answer;
}

/** The target guard's own lease ran out and no source guard asked yet. */
export function targetLeaseLost(target: TargetState): TargetState {
  return target === 'waiting' ? 'aborted' : target;
}

/** The target guard starts a restore only when armed and its lease is live. */
export function mayRestore(target: TargetState, leaseLive: boolean): boolean {
  return target === 'waiting' && leaseLive;
}

/** States in which a guard has nothing left to decide. */
export const SETTLED: readonly (TargetState | SourceState)[] = ['resumed', 'killed', 'aborted', 'kept', 'committed', 'released'];

/**
 * The settle table's cases, shared by the TypeScript test (shared/guard.ts) and the python
 * mirror's (guard.py settle-table): the named cases are the protocol as the README states it.
 */
import type { Answer, SettleInput, SourceAction, SourceTree, TargetState } from '../../../../shared/guard.ts';

export interface SettleCase {
  name: string;
  input: SettleInput;
  answer: Answer;
  targetNext: TargetState;
  source: SourceAction;
}

const c = (name: string, target: TargetState, treeOnTarget: boolean, sourceTree: SourceTree, answer: Answer, targetNext: TargetState, source: SourceAction): SettleCase => ({
  name,
  input: { target, treeOnTarget, sourceTree },
  answer,
  targetNext,
  source,
});

export const NAMED_CASES: SettleCase[] = [
  c('restore never started: target aborts, source resumes', 'waiting', false, 'frozen', 'target-clear', 'aborted', 'resume'),
  c('target already aborted on its own lease: source resumes', 'aborted', false, 'frozen', 'target-clear', 'aborted', 'resume'),
  c('restore running: wait', 'restoring', false, 'frozen', 'wait', 'restoring', 'wait'),
  c('restore failed, nothing runs: source resumes', 'restore-failed', false, 'frozen', 'target-clear', 'aborted', 'resume'),
  c('restore failed but part of the tree runs: hold', 'restore-failed', true, 'frozen', 'hold', 'restore-failed', 'hold'),
  c('restored and running: keep the target, kill the source', 'restored', true, 'frozen', 'keep-target', 'kept', 'kill'),
  c('restored copy exited: hold (it ran; resuming would run it twice)', 'restored', false, 'frozen', 'hold', 'restored', 'hold'),
  c('past the commit point: source killed', 'committed', true, 'frozen', 'keep-target', 'committed', 'kill'),
  c('past the commit point, target copy gone: still no resume', 'committed', false, 'frozen', 'keep-target', 'committed', 'kill'),
  c('source copy gone, nothing on target: hold, images kept', 'waiting', false, 'gone', 'hold', 'waiting', 'hold'),
  c('source copy gone, target restored: keep it', 'restored', true, 'gone', 'keep-target', 'kept', 'none'),
  c('source resumed by hand, no restore: target aborts', 'waiting', false, 'running', 'target-clear', 'aborted', 'none'),
  c('two running copies: hold', 'restored', true, 'running', 'hold', 'restored', 'hold'),
];

export const ALL_INPUTS: SettleInput[] = (['waiting', 'restoring', 'restored', 'restore-failed', 'committed', 'aborted', 'kept', 'released'] as TargetState[]).flatMap((target) =>
  [false, true].flatMap((treeOnTarget) => (['frozen', 'running', 'gone'] as SourceTree[]).map((sourceTree) => ({ target, treeOnTarget, sourceTree }))),
);

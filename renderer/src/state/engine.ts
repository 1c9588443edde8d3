/**
 * Everything the console knows from the engine's event stream, as pure data, and the one
 * pure function that folds an event into it. The zustand store (../store.ts) wraps this;
 * tests drive it directly with recorded events. Numbers are stored exactly as the engine
 * sent them: nothing here recomputes a number the engine already computed.
 */
import type { CommandRecord, EngineEvent, Outcome } from '../../../shared/api.ts';
import type {
  DowntimeEstimate,
  IterationStats,
  LabProgress,
  MigrationPlan,
  Phase,
  Recommendation,
  SessionState,
  TrustPrompt,
} from '../../../shared/domain.ts';
import type { FerryErrorInfo } from '../../../shared/errors.ts';
import { addDirtySample, type DirtyPoint } from './dirty.ts';
import { addProbeResult, type ProbeView } from './probe.ts';

/** Per command, the newest output kept (the engine already caps a command at 256 KiB). */
export const MAX_OUTPUT_CHARS = 64 * 1024;
/** Commands kept in the log; the journal keeps them all. */
export const MAX_COMMANDS = 2000;
export const MAX_LAB_PROGRESS = 200;

export interface OutputChunk {
  stream: 'stdout' | 'stderr';
  text: string;
}

export interface CommandFinish {
  code: number | null;
  signal: string | null;
  durationMs: number;
  timedOut: boolean;
  endedAt: string;
}

export interface CommandEntry {
  record: CommandRecord;
  /** Consecutive chunks of one stream are merged; the oldest are dropped past MAX_OUTPUT_CHARS. */
  output: OutputChunk[];
  outputChars: number;
  droppedChars: number;
  finished?: CommandFinish;
}

export interface CommandLog {
  order: string[];
  byId: Record<string, CommandEntry>;
}

export interface PhaseMark {
  phase: Phase;
  at: string;
  note?: string;
}

export interface EstimatePoint {
  /** How many iterations had been reported when the estimate arrived. */
  afterIteration: number;
  estimate: DowntimeEstimate;
  recommendation: Recommendation;
  /** Redone from the live dirty set between pre-dumps; only the newest of an interval is kept. */
  live?: boolean;
}

export interface Decision {
  by: 'user' | 'policy';
  action: string;
  reason: string;
  at: string;
}

export interface TransferState {
  label: string;
  doneBytes: number;
  totalBytes?: number;
}

export interface OutcomeState {
  outcome: Outcome;
  at: string;
  freezeWindowMs?: number;
  predictedMs?: number;
  summary: string;
}

export interface MigrationState {
  id: string;
  plan?: MigrationPlan;
  startedAt?: string;
  phase: Phase;
  phases: PhaseMark[];
  /** One entry per iteration index, in index order (a replayed event replaces, never duplicates). */
  iterations: IterationStats[];
  estimates: EstimatePoint[];
  transfer?: TransferState;
  decisions: Decision[];
  rollbackPlan?: { steps: string[]; at: string };
  errors: FerryErrorInfo[];
  outcome?: OutcomeState;
  /** Live dirty-set samples between pre-dumps (bounded; see state/dirty.ts). */
  dirty?: DirtyPoint[];
  /** Service probe: what clients saw, live during the cutover, then the final result. */
  serviceProbe?: ProbeView;
}

export interface EngineState {
  sessions: Record<string, SessionState>;
  trustPrompt?: TrustPrompt;
  migrations: Record<string, MigrationState>;
  /** The migration the dashboard follows: the one this console started, else the newest seen. */
  watchedMigrationId?: string;
  commands: CommandLog;
  labProgress: LabProgress[];
  /** The newest error that belongs to no migration. */
  lastError?: FerryErrorInfo;
}

export const emptyEngineState = (): EngineState => ({
  sessions: {},
  migrations: {},
  commands: { order: [], byId: {} },
  labProgress: [],
});

export const TERMINAL_PHASES: readonly Phase[] = ['committed', 'rolled-back', 'failed'];

export function isFinished(m: MigrationState | undefined): boolean {
  return !!m && (m.outcome !== undefined || TERMINAL_PHASES.includes(m.phase));
}

/** The watched migration while it still runs: what the top bar shows and the stop button acts on. */
export function activeMigration(s: EngineState): MigrationState | undefined {
  const m = s.watchedMigrationId ? s.migrations[s.watchedMigrationId] : undefined;
  return m && !isFinished(m) ? m : undefined;
}

/**
 * Many migrations at once: an unfinished migration of this plan's process (same source, same
 * PID or selector), which a second start would only meet as a refusal from the engine.
 */
export function migratingSameProcess(s: EngineState, plan: MigrationPlan | undefined): MigrationState | undefined {
  if (!plan) return undefined;
  const key = (p: MigrationPlan) => (p.select ? JSON.stringify(p.select) : `pid ${p.pid}`);
  return Object.values(s.migrations).find((m) => !isFinished(m) && m.plan?.source === plan.source && (key(m.plan) === key(plan) || (plan.pid > 0 && m.plan.pid === plan.pid)));
}

/** Every migration this console has seen, running ones first, newest first within each. */
export function migrationList(migrations: EngineState['migrations']): MigrationState[] {
  return Object.values(migrations).sort((a, b) => Number(isFinished(a)) - Number(isFinished(b)) || (b.startedAt ?? '').localeCompare(a.startedAt ?? ''));
}

export function newMigration(id: string): MigrationState {
  return { id, phase: 'planned', phases: [], iterations: [], estimates: [], decisions: [], errors: [] };
}

function withMigration(s: EngineState, id: string, f: (m: MigrationState) => MigrationState): EngineState {
  const m = s.migrations[id] ?? newMigration(id);
  return { ...s, migrations: { ...s.migrations, [id]: f(m) } };
}

function addPhase(m: MigrationState, mark: PhaseMark): MigrationState {
  const last = m.phases[m.phases.length - 1];
  if (last && last.phase === mark.phase && last.at === mark.at) return m;
  return { ...m, phase: mark.phase, phases: [...m.phases, mark] };
}

function upsertIteration(list: IterationStats[], it: IterationStats): IterationStats[] {
  const rest = list.filter((x) => x.index !== it.index);
  return [...rest, it].sort((a, b) => a.index - b.index);
}

function appendOutput(entry: CommandEntry, chunk: OutputChunk): CommandEntry {
  const output = entry.output.slice();
  const last = output[output.length - 1];
  if (last && last.stream === chunk.stream) output[output.length - 1] = { stream: last.stream, text: last.text + chunk.text };
  else output.push(chunk);
  let outputChars = entry.outputChars + chunk.text.length;
  let droppedChars = entry.droppedChars;
  while (outputChars > MAX_OUTPUT_CHARS && output.length) {
    const first = output[0]!;
    const over = outputChars - MAX_OUTPUT_CHARS;
    if (first.text.length <= over) {
      output.shift();
      outputChars -= first.text.length;
      droppedChars += first.text.length;
    } else {
      output[0] = { stream: first.stream, text: first.text.slice(over) };
      outputChars -= over;
      droppedChars += over;
    }
  }
  return { ...entry, output, outputChars, droppedChars };
}

export function applyCommandEvent(log: CommandLog, e: EngineEvent): CommandLog {
  switch (e.type) {
    case 'command-started': {
      const { type: _t, ...record } = e;
      if (log.byId[record.commandId]) return log;
      let order = [...log.order, record.commandId];
      const byId = { ...log.byId, [record.commandId]: { record, output: [], outputChars: 0, droppedChars: 0 } };
      while (order.length > MAX_COMMANDS) {
        const [drop, ...rest] = order;
        delete byId[drop!];
        order = rest;
      }
      return { order, byId };
    }
    case 'command-output': {
      const entry = log.byId[e.commandId];
      if (!entry) return log;
      return { ...log, byId: { ...log.byId, [e.commandId]: appendOutput(entry, { stream: e.stream, text: e.text }) } };
    }
    case 'command-finished': {
      const entry = log.byId[e.commandId];
      if (!entry) return log;
      const finished: CommandFinish = { code: e.code, signal: e.signal, durationMs: e.durationMs, timedOut: e.timedOut, endedAt: e.endedAt };
      return { ...log, byId: { ...log.byId, [e.commandId]: { ...entry, finished } } };
    }
    default:
      return log;
  }
}

/** Fold one engine event into the state. Pure: returns a new state, or the same one if nothing changed. */
export function applyEvent(s: EngineState, e: EngineEvent): EngineState {
  switch (e.type) {
    case 'session-state': {
      const next: EngineState = { ...s, sessions: { ...s.sessions, [e.alias]: e.state } };
      if (e.state.kind === 'awaiting-trust') next.trustPrompt = e.state.prompt;
      else if (s.trustPrompt?.alias === e.alias) next.trustPrompt = undefined;
      return next;
    }
    case 'migration-started': {
      const next = withMigration(s, e.migrationId, (m) =>
        addPhase({ ...m, plan: e.plan, startedAt: e.at }, { phase: 'planned', at: e.at }),
      );
      // Follow it unless this console is already following a migration that still runs.
      const watched = s.watchedMigrationId ? s.migrations[s.watchedMigrationId] : undefined;
      if (!watched || isFinished(watched) || s.watchedMigrationId === e.migrationId) next.watchedMigrationId = e.migrationId;
      return next;
    }
    case 'phase':
      return withMigration(s, e.migrationId, (m) => addPhase(m, { phase: e.phase, at: e.at, note: e.note }));
    case 'iteration':
      return withMigration(s, e.migrationId, (m) => ({ ...m, iterations: upsertIteration(m.iterations, e.stats) }));
    case 'estimate':
      return withMigration(s, e.migrationId, (m) => {
        const point: EstimatePoint = { afterIteration: m.iterations.length, estimate: e.estimate, recommendation: e.recommendation, ...(e.live ? { live: true } : {}) };
        const prev = m.estimates[m.estimates.length - 1];
        // A live re-estimate replaces the previous live one of the same interval: one a second would crowd the chart.
        const keep = e.live && prev?.live && prev.afterIteration === point.afterIteration ? m.estimates.slice(0, -1) : m.estimates;
        return { ...m, estimates: [...keep, point] };
      });
    case 'dirty-sample':
      return withMigration(s, e.migrationId, (m) => ({ ...m, dirty: addDirtySample(m.dirty, e) }));
    case 'transfer':
      return withMigration(s, e.migrationId, (m) => ({ ...m, transfer: { label: e.label, doneBytes: e.doneBytes, totalBytes: e.totalBytes } }));
    case 'decision':
      return withMigration(s, e.migrationId, (m) => ({ ...m, decisions: [...m.decisions, { by: e.by, action: e.action, reason: e.reason, at: e.at }] }));
    case 'rollback-plan':
      return withMigration(s, e.migrationId, (m) => ({ ...m, rollbackPlan: { steps: e.steps, at: e.at } }));
    case 'outcome':
      return withMigration(s, e.migrationId, (m) => ({
        ...m,
        outcome: { outcome: e.outcome, at: e.at, freezeWindowMs: e.freezeWindowMs, predictedMs: e.predictedMs, summary: e.summary },
      }));
    case 'plan-resolved':
      // Many migrations at once: the PID a selector named and the port reserved, fixed at preflight.
      return withMigration(s, e.migrationId, (m) => (m.plan ? { ...m, plan: { ...m.plan, pid: e.pid, pageServerPort: e.pageServerPort } } : m));
    case 'service-probe':
      return withMigration(s, e.migrationId, (m) => ({ ...m, serviceProbe: addProbeResult(m.serviceProbe, e.result, !!e.live) }));
    case 'command-started':
    case 'command-output':
    case 'command-finished': {
      const commands = applyCommandEvent(s.commands, e);
      return commands === s.commands ? s : { ...s, commands };
    }
    case 'lab-progress':
      return { ...s, labProgress: [...s.labProgress, e.progress].slice(-MAX_LAB_PROGRESS) };
    case 'error':
      if (e.migrationId) return withMigration(s, e.migrationId, (m) => ({ ...m, errors: [...m.errors, e.error] }));
      return { ...s, lastError: e.error };
    default:
      return s;
  }
}

export function applyEvents(s: EngineState, events: readonly EngineEvent[]): EngineState {
  return events.reduce(applyEvent, s);
}

/** Commands of one migration (or, with `undefined`, those run outside any migration: preflight). */
export function commandsOf(log: CommandLog, migrationId: string | undefined): CommandEntry[] {
  return log.order.map((id) => log.byId[id]!).filter((c) => c.record.migrationId === migrationId);
}

export function latestEstimate(m: MigrationState | undefined): EstimatePoint | undefined {
  return m?.estimates[m.estimates.length - 1];
}

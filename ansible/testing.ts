/**
 * What the playbook's tests share: run evacuate.yml with the real ansible-playbook (from
 * Debian's ansible-core) against the real CLI of this checkout, and read what it left: its
 * output, summary.json and each migration's event stream. Test code only.
 */
import { execa } from 'execa';
import { readFileSync } from 'node:fs';
import path from 'node:path';

export const ANSIBLE_DIR = path.resolve(import.meta.dirname);
export const PLAYBOOK = path.join(ANSIBLE_DIR, 'evacuate.yml');
/** The CLI as the playbook runs it: an argv prefix. */
export const FERRY_CLI = ['node', path.resolve(ANSIBLE_DIR, '../electron/cli/bin.js')];

/** One row of summary.json (see roles/ferry_migrate/tasks/main.yml). */
export interface EvacuationRow {
  plan: string;
  file: string;
  source: string;
  target: string;
  pid: number;
  outcome: 'committed' | 'rolled-back' | 'failed' | 'unfinished' | 'did-not-start' | 'not-started';
  freeze_window_ms: number | null;
  predicted_ms: number | null;
  runs_on: string | null;
  unit: string | null;
  migration_id: string | null;
  error: string | null;
  /** ferry's exit code (null: never ran). */
  exit_code: number | null;
  /** Its event stream (ferry --json), RUN_DIR/PLAN.jsonl. */
  log: string | null;
}

export interface Evacuation {
  exitCode: number;
  /** ansible-playbook's own output (the summary table is in it). */
  output: string;
  /** summary.json, or undefined when the run stopped before the summary. */
  rows?: EvacuationRow[];
  /** summary.txt: the table as printed. */
  table?: string;
  runDir: string;
}

export async function runEvacuation(o: {
  plans: string[];
  runDir: string;
  env: NodeJS.ProcessEnv;
  parallel?: number;
  maxFailures?: number;
  migrateArgs?: string[];
  /** The CLI's argv prefix (default FERRY_CLI). */
  cli?: string[];
}): Promise<Evacuation> {
  const vars = {
    ferry_plans: o.plans,
    ferry_run_dir: o.runDir,
    ferry_cli: o.cli ?? FERRY_CLI,
    ...(o.parallel !== undefined ? { ferry_parallel: o.parallel } : {}),
    ...(o.maxFailures !== undefined ? { ferry_max_failures: o.maxFailures } : {}),
    ...(o.migrateArgs ? { ferry_migrate_args: o.migrateArgs } : {}),
  };
  // cwd: the playbook's directory, so ansible.cfg there applies (as the README says to run it).
  const r = await execa('ansible-playbook', [PLAYBOOK, '-e', JSON.stringify(vars)], {
    cwd: ANSIBLE_DIR,
    env: { ...o.env, ANSIBLE_NOCOLOR: '1', ANSIBLE_FORCE_COLOR: '0' },
    reject: false,
    all: true,
  });
  const read = (f: string) => {
    try {
      return readFileSync(path.join(o.runDir, f), 'utf8');
    } catch {
      return undefined;
    }
  };
  const json = read('summary.json');
  return { exitCode: r.exitCode ?? -1, output: r.all ?? '', rows: json ? (JSON.parse(json) as EvacuationRow[]) : undefined, table: read('summary.txt'), runDir: o.runDir };
}

/** A migration's event stream as the playbook kept it (RUN_DIR/PLAN.jsonl): when it started and ended. */
export function migrationSpan(runDir: string, plan: string): { startedAt: number; endedAt: number } {
  const events = readFileSync(path.join(runDir, `${plan}.jsonl`), 'utf8')
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as { type: string; at?: string });
  const at = (type: string) => {
    const e = events.find((x) => x.type === type);
    if (!e?.at) throw new Error(`no ${type} event in ${plan}.jsonl`);
    return Date.parse(e.at);
  };
  return { startedAt: at('migration-started'), endedAt: at('outcome') };
}

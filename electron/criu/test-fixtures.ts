/**
 * Test-only helpers to read the CRIU 3.17.1 lab fixtures (real outputs, see fixtures/criu/INDEX.md).
 * FERRY_CRIU_FIXTURES overrides the location; by default they sit beside the repo in ../shared.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const FIXTURES = path.resolve(
  process.env.FERRY_CRIU_FIXTURES ?? path.join(path.dirname(fileURLToPath(import.meta.url)), '../../../shared/fixtures/criu'),
);

if (!fs.existsSync(path.join(FIXTURES, 'INDEX.md'))) {
  throw new Error(`CRIU fixtures not found at ${FIXTURES} (set FERRY_CRIU_FIXTURES)`);
}

export const fx = (...p: string[]): string => path.join(FIXTURES, ...p);
export const readText = (...p: string[]): string => fs.readFileSync(fx(...p), 'utf8');
export const readBytes = (...p: string[]): Uint8Array => new Uint8Array(fs.readFileSync(fx(...p)));

/** Every regular file under dir (relative to FIXTURES), sorted; symlinks (`parent`) are skipped. */
export function walk(dir = ''): string[] {
  const out: string[] = [];
  for (const e of fs.readdirSync(fx(dir), { withFileTypes: true })) {
    const rel = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...walk(rel));
    else if (e.isFile()) out.push(rel);
  }
  return out.sort();
}

export interface CritShow {
  /** Fixture file holding the output (run.log or a .json). */
  source: string;
  vm?: string;
  /** The path crit was given, in the guest. */
  guestPath?: string;
  json: { magic: string; entries: Record<string, unknown>[] };
}

/**
 * Every `crit show <path>` in a run.log, with its JSON output. run.log indents command output by
 * 4 spaces and ends each step with `rc=N  host-end: ...`.
 */
export function critShowsInRunLog(rel: string): CritShow[] {
  const lines = readText(rel).split('\n');
  const out: CritShow[] = [];
  for (let i = 0; i < lines.length; i++) {
    const m = /^\[(\w+)\]# crit show (\S+?)(?:;.*)?$/.exec(lines[i] ?? '');
    if (!m) continue;
    const body: string[] = [];
    let depth = 0;
    for (let j = i + 1; j < lines.length; j++) {
      const l = (lines[j] ?? '').replace(/^ {4}/, '');
      body.push(l);
      depth += (l.match(/[{[]/g)?.length ?? 0) - (l.match(/[}\]]/g)?.length ?? 0);
      if (depth === 0 && body.join('').trim() !== '') break;
    }
    out.push({ source: rel, vm: m[1], guestPath: m[2], json: JSON.parse(body.join('\n')) });
  }
  return out;
}

/** A `check/NN-*.txt` file: `# host: ...`, `$ command`, output, `[exit code: N]`. */
export function readCheckFile(name: string): { command: string; output: string; exitCode: number } {
  const text = readText('check', name);
  const lines = text.split('\n');
  const cmdIdx = lines.findIndex((l) => l.startsWith('$ '));
  const exitIdx = lines.findIndex((l) => /^\[exit code: \d+\]$/.test(l));
  if (cmdIdx < 0 || exitIdx < 0) throw new Error(`unexpected format: ${name}`);
  return {
    command: (lines[cmdIdx] ?? '').slice(2),
    output: lines.slice(cmdIdx + 1, exitIdx).join('\n'),
    exitCode: Number(/\d+/.exec(lines[exitIdx] ?? '')?.[0]),
  };
}

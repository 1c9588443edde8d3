/**
 * Plan files for the console: open one (its plan, or every problem with line, column and
 * field), save one, and remember the recent ones. The CLI reads the same files through
 * plan-file.ts; this module adds what an editor needs on top:
 *
 * - Saving into a plan file that exists keeps the user's comments, key order, blank lines and
 *   flow/block style: only the values whose meaning changed are rewritten (yaml's Document API),
 *   and keys left out (defaults) stay left out unless their value changes.
 * - Writes are atomic: a temp file in the same directory, fsync, rename, fsync the directory.
 * - Only .yaml/.yml files at absolute paths; a file that is not a Ferry plan is neither shown
 *   (its text never reaches the renderer) nor overwritten unless the user says so.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { isCollection, isMap, isScalar, parseDocument, type Document, type Node, type Pair, type YAMLMap } from 'yaml';
import type { PlanFileOpened, PlanFileProblem, PlanFileSaved, RecentPlanFile } from '../../../shared/api.ts';
import type { MigrationPlan } from '../../../shared/domain.ts';
import { FerryError } from '../../../shared/errors.ts';
import { ferryPaths } from '../../paths.ts';
import { checkPlanYaml, formatPlanIssue, renderPlanYaml, type PlanIssue } from './plan-file.ts';

/** Plan files are a few hundred bytes; anything this big is not one. */
export const MAX_PLAN_FILE_BYTES = 256 * 1024;
export const MAX_RECENT = 10;

/** A plan file names its hosts and process at the top level; nothing else Ferry might be shown does. */
const PLAN_LIKE = /^(source|target|process)\s*:/m;

export function toProblem(i: PlanIssue): PlanFileProblem {
  return { line: i.line, column: i.col, field: i.path, message: i.message, ...(i.hint ? { hint: i.hint } : {}), ...(i.source ? { source: i.source } : {}) };
}

/** Absolute, .yaml or .yml: the only paths the console reads or writes plans at. */
export function checkPlanPath(p: string): string {
  if (!path.isAbsolute(p)) {
    throw new FerryError({ code: 'plan-path-relative', message: `The plan file path ${p} is not absolute`, hint: 'Give the full path, starting with /, e.g. /home/you/plans/web.yaml.' });
  }
  if (!/\.ya?ml$/i.test(p)) {
    throw new FerryError({ code: 'plan-path-not-yaml', message: `${p} is not a .yaml or .yml file`, hint: 'Plan files end in .yaml or .yml: choose a name like web-tier.yaml.' });
  }
  return path.normalize(p);
}

/** A file's text, or undefined when there is no file; other failures name the path. */
function readPlanText(p: string): string | undefined {
  let st: fs.Stats;
  try {
    st = fs.statSync(p);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw unreadable(p, e);
  }
  if (!st.isFile()) throw new FerryError({ code: 'plan-file-unreadable', message: `${p} is not a regular file`, hint: 'Choose a .yaml file, not a directory or device.' });
  if (st.size > MAX_PLAN_FILE_BYTES) {
    throw new FerryError({ code: 'plan-file-too-large', message: `${p} is ${st.size} bytes: too large for a plan file (at most ${MAX_PLAN_FILE_BYTES})`, hint: 'Check that this is the plan file you meant.' });
  }
  try {
    return fs.readFileSync(p, 'utf8');
  } catch (e) {
    throw unreadable(p, e);
  }
}

function unreadable(p: string, e: unknown): FerryError {
  const err = e as NodeJS.ErrnoException;
  return new FerryError(
    { code: 'plan-file-unreadable', message: `Cannot read ${p}: ${err.code === 'EACCES' ? 'permission denied' : err.message}`, hint: 'Check the file\'s permissions, or choose another file.' },
    { cause: e },
  );
}

/** Open a plan file. A bad plan is an answer (its problems), not an error; a missing file is an error. */
export function openPlanFile(file: string): PlanFileOpened {
  const p = checkPlanPath(file);
  const text = readPlanText(p);
  if (text === undefined) {
    throw new FerryError({ code: 'plan-file-missing', message: `There is no plan file at ${p}`, hint: 'Check the path, or save the current plan there with Save as.' });
  }
  if (!PLAN_LIKE.test(text)) {
    return {
      path: p,
      problems: [{ line: 1, column: 1, field: '', message: 'not a Ferry plan: it has no source, target or process at the top level', hint: 'Open a plan written by Ferry (Save as, or `ferry plan new`).' }],
    };
  }
  const r = checkPlanYaml(text);
  return r.ok ? { path: p, plan: r.plan, text, problems: [] } : { path: p, text, problems: r.issues.map(toProblem) };
}

/** The plan file's own keys and values for a plan, as renderPlanYaml writes them (durations as "300ms", ...). */
function fileValues(plan: MigrationPlan): Record<string, unknown> {
  return parseDocument(renderPlanYaml(plan)).toJS() as Record<string, unknown>;
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function keyOf(pair: Pair): unknown {
  return isScalar(pair.key) ? pair.key.value : pair.key;
}

/**
 * Rewrite, in place, the values of `map` whose meaning differs between `was` and `now` (both
 * in the file's words). Unchanged keys keep their node (text, comments, style); a changed
 * scalar keeps its comments and quoting; a key no longer wanted is removed; a new key goes
 * after its predecessor in the canonical order.
 */
function mergeMap(doc: Document, map: YAMLMap, was: Record<string, unknown>, now: Record<string, unknown>): void {
  const order = Object.keys(now);
  for (const [k, v] of Object.entries(now)) {
    if (isDeepStrictEqual(was[k], v)) continue;
    const pair = map.items.find((p) => keyOf(p) === k) as Pair<unknown, unknown> | undefined;
    if (pair) {
      const old = pair.value as Node | null;
      if (isMap(old) && isRecord(v) && isRecord(was[k])) mergeMap(doc, old, was[k] as Record<string, unknown>, v);
      else if (isScalar(old) && !isRecord(v) && !Array.isArray(v)) old.value = v;
      else {
        const node = newNode(doc, v, old);
        if (old) {
          node.comment = old.comment;
          node.commentBefore = old.commentBefore;
        }
        pair.value = node;
      }
      continue;
    }
    // Place it after the nearest key before it (canonically) that the file has.
    let at = 0;
    for (let i = order.indexOf(k) - 1; i >= 0; i--) {
      const idx = map.items.findIndex((p) => keyOf(p) === order[i]);
      if (idx >= 0) {
        at = idx + 1;
        break;
      }
    }
    // A mapping the file left out gets only the keys that differ from their defaults.
    const w = was[k];
    const value = isRecord(v) && isRecord(w) ? Object.fromEntries(Object.entries(v).filter(([kk, vv]) => !isDeepStrictEqual(w[kk], vv))) : v;
    map.items.splice(at, 0, doc.createPair(k, newNode(doc, value, null)));
  }
  // Keys the new plan does not have (a timeout taken out, another health check kind).
  map.items = map.items.filter((p) => {
    const k = keyOf(p);
    return typeof k !== 'string' || k in now || !(k in was);
  });
}

/** A node for a new value: in the style of the one it replaces, else flow for short collections, as renderPlanYaml writes them. */
function newNode(doc: Document, v: unknown, old: Node | null): Node {
  const node = doc.createNode(v) as Node;
  if (isCollection(node)) node.flow = isCollection(old) ? !!old.flow : isMap(node) || (Array.isArray(v) && v.length <= 3);
  return node;
}

/** The text of `plan` written into an existing valid plan file's text, keeping what the user wrote. */
export function mergePlanText(existing: string, was: MigrationPlan, plan: MigrationPlan): string {
  const doc = parseDocument(existing);
  if (!isMap(doc.contents)) return renderPlanYaml(plan);
  const now = fileValues(plan);
  let meant = fileValues(was);
  // A left-out key's default can depend on another (the page server address is the target):
  // when the merged file means something else, merge again from what it means now.
  for (let pass = 0; pass < 3; pass++) {
    mergeMap(doc, doc.contents, meant, now);
    const back = checkPlanYaml(doc.toString({ lineWidth: 0 }));
    if (!back.ok || samePlan(back.plan, plan)) break;
    meant = fileValues(back.plan);
  }
  return doc.toString({ lineWidth: 0 });
}

/** Equal plans, as they travel (JSON): an optional field left undefined is the same as one left out. */
function samePlan(a: MigrationPlan, b: MigrationPlan): boolean {
  return isDeepStrictEqual(JSON.parse(JSON.stringify(a)), JSON.parse(JSON.stringify(b)));
}

/** Write a file atomically: temp file beside it, fsync, rename over, fsync the directory. */
export function writeFileAtomic(file: string, text: string, mode?: number): void {
  const dir = path.dirname(file);
  const tmp = path.join(dir, `.${path.basename(file)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  let fd: number | undefined;
  try {
    fd = fs.openSync(tmp, 'wx', mode ?? 0o644);
    if (mode !== undefined) fs.fchmodSync(fd, mode);
    fs.writeFileSync(fd, text);
    fs.fsyncSync(fd);
    fs.closeSync(fd);
    fd = undefined;
    fs.renameSync(tmp, file);
  } catch (e) {
    if (fd !== undefined) fs.closeSync(fd);
    fs.rmSync(tmp, { force: true });
    throw e;
  }
  try {
    const dfd = fs.openSync(dir, 'r');
    try {
      fs.fsyncSync(dfd);
    } finally {
      fs.closeSync(dfd);
    }
  } catch {
    /* some filesystems cannot fsync a directory; the rename is done */
  }
}

/**
 * Save a plan. Into a valid plan file: merged, keeping the user's text. Over a file that is
 * not a valid Ferry plan: refused unless overwrite, then written fresh. New file: written fresh.
 */
export function savePlanFile(file: string, plan: MigrationPlan, overwrite = false): PlanFileSaved {
  const given = checkPlanPath(file);
  // Saving through a symlink writes the file it points at, and leaves the link.
  let p = given;
  try {
    p = fs.realpathSync(given);
  } catch {
    /* no such file yet */
  }
  const dir = path.dirname(p);
  if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) {
    throw new FerryError({ code: 'plan-dir-missing', message: `Cannot save ${given}: the folder ${dir} does not exist`, hint: 'Create the folder first, or choose another place.' });
  }
  const existing = readPlanText(p);
  let text: string;
  let mode: number | undefined;
  if (existing === undefined) text = renderPlanYaml(plan);
  else {
    mode = fs.statSync(p).mode & 0o7777;
    const r = PLAN_LIKE.test(existing) ? checkPlanYaml(existing) : undefined;
    if (r?.ok) text = mergePlanText(existing, r.plan, plan);
    else if (overwrite) text = renderPlanYaml(plan);
    else if (!r) {
      throw new FerryError({
        code: 'plan-file-not-a-plan',
        message: `${given} already exists and is not a Ferry plan; Ferry did not overwrite it`,
        hint: 'Choose another file name, or confirm that this file should be replaced by the plan.',
      });
    } else {
      throw new FerryError({
        code: 'plan-file-has-problems',
        message: `${given} is a plan file with problems (${formatPlanIssue(path.basename(given), r.issues[0]!)}); Ferry did not overwrite it`,
        hint: 'Open it to see and fix its problems, or confirm that it should be replaced by the current plan (its comments are lost).',
      });
    }
  }
  // Never write a file that would read back as another plan than the one saved.
  const back = checkPlanYaml(text);
  if (!back.ok || !samePlan(back.plan, plan)) {
    throw new FerryError({
      code: 'plan-file-roundtrip',
      message: `Saving ${given} would not read back as this plan${back.ok ? '' : `: ${formatPlanIssue(path.basename(given), back.issues[0]!)}`}; the file is unchanged`,
      hint: 'Save to a new file with Save as, and report this.',
    });
  }
  try {
    writeFileAtomic(p, text, mode);
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    throw new FerryError(
      { code: 'plan-file-unwritable', message: `Cannot write ${given}: ${err.code === 'EACCES' ? 'permission denied' : err.message}`, hint: 'Choose a folder you can write to, or fix its permissions.' },
      { cause: e },
    );
  }
  return { path: given, plan, text, created: existing === undefined };
}

/** The plans opened or saved lately, newest first, kept under Ferry's state directory. */
export class RecentPlanFiles {
  readonly file: string;

  constructor(env: NodeJS.ProcessEnv = process.env) {
    this.file = path.join(ferryPaths(env).state, 'recent-plans.json');
  }

  /** Entries whose file still exists. */
  list(): RecentPlanFile[] {
    return this.read().filter((r) => fs.existsSync(r.path));
  }

  remember(p: string, at = new Date()): void {
    const next = [{ path: p, at: at.toISOString() }, ...this.read().filter((r) => r.path !== p)].slice(0, MAX_RECENT);
    try {
      fs.mkdirSync(path.dirname(this.file), { recursive: true, mode: 0o700 });
      writeFileAtomic(this.file, `${JSON.stringify({ version: 1, files: next }, null, 2)}\n`, 0o600);
    } catch {
      /* the list is a convenience: failing to keep it must not fail an open or a save */
    }
  }

  private read(): RecentPlanFile[] {
    try {
      const j = JSON.parse(fs.readFileSync(this.file, 'utf8')) as { files?: unknown };
      if (!Array.isArray(j.files)) return [];
      return j.files
        .filter((r): r is RecentPlanFile => isRecord(r) && typeof r.path === 'string' && path.isAbsolute(r.path) && typeof r.at === 'string')
        .map((r) => ({ path: r.path, at: r.at }))
        .slice(0, MAX_RECENT);
    } catch {
      return [];
    }
  }
}

/** The console's plan-file requests. */
export class PlanFileService {
  readonly recent: RecentPlanFiles;

  constructor(env?: NodeJS.ProcessEnv) {
    this.recent = new RecentPlanFiles(env);
  }

  open(file: string): PlanFileOpened {
    const r = openPlanFile(file);
    if (r.text !== undefined) this.recent.remember(r.path);
    return r;
  }

  save(file: string, plan: MigrationPlan, overwrite = false): PlanFileSaved {
    const r = savePlanFile(file, plan, overwrite);
    this.recent.remember(r.path);
    return r;
  }
}

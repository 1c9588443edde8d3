/**
 * A migration plan as a YAML file: what `ferry migrate --plan FILE` runs, what `ferry plan
 * new` writes, and what the console will open and edit. The file speaks the user's words
 * (snake_case keys, "300ms", "10%"); this module maps it to a MigrationPlan and validates
 * that with the same planSchema the console API uses.
 *
 * Errors point into the file: "plan.yaml:7:18: policy.growth_threshold: must be a
 * percentage like 10%". Unknown and duplicate keys are errors, so a typo never silently
 * falls back to a default. checkPlanYaml never throws and returns every problem with its
 * range (for an editor); parsePlanYaml and loadPlanFile throw a PlanFileError.
 */
import fs from 'node:fs';
import {
  Document,
  isAlias,
  isMap,
  isScalar,
  isSeq,
  LineCounter,
  parseDocument,
  type Node,
  type ParsedNode,
  type Scalar,
  type YAMLMap,
  type YAMLSeq,
} from 'yaml';
import type { z } from 'zod';
import { defaultPolicy, HOOK_TIMEOUT, planSchema } from '../../../shared/api.ts';
import type { HealthCheck, Hook, MigrationPlan, PlanHooks, PortRange, ProcessSelector, ServiceAddress, ServiceProbe } from '../../../shared/domain.ts';
import { PROBE_LIMITS, withProbeDefaults } from '../../../shared/probe.ts';
import { FerryError } from '../../../shared/errors.ts';
import { bandwidthProblem, formatBandwidth, parseBandwidth, type BandwidthCapPlan } from '../../../shared/bandwidth-cap.ts';

/** What a plan file gets for a field it leaves out. */
export const PLAN_FILE_DEFAULTS = {
  mode: 'precopy',
  policy: defaultPolicy,
  pageServerPort: 27000,
  workDir: '/var/lib/ferry',
  fileSync: [] as string[],
  healthCheck: { kind: 'none' } as HealthCheck,
  retention: 'delete-on-commit',
  auto: false,
  shellJob: false,
  tcpEstablished: false,
} as const;

/** One problem in a plan file. Lines and columns are 1-based; the end is exclusive. */
export interface PlanIssue {
  line: number;
  col: number;
  endLine: number;
  endCol: number;
  /** The field in the file's own words, e.g. "policy.growth_threshold", "file_sync[1]"; "" for syntax errors. */
  path: string;
  message: string;
  hint?: string;
  /** The file's line the problem is on, verbatim. */
  source?: string;
}

export type PlanCheck = { ok: true; plan: MigrationPlan } | { ok: false; issues: PlanIssue[] };

const MAX_LISTED = 10;

/** A FerryError (code 'plan-invalid') that also carries every problem found, in file order. */
export class PlanFileError extends FerryError {
  readonly file: string;
  readonly issues: PlanIssue[];

  constructor(file: string, issues: PlanIssue[]) {
    const [first] = issues;
    const rest = issues.slice(1, MAX_LISTED).map((i) => `\n  ${formatPlanIssue(file, i)}`);
    const more = issues.length > MAX_LISTED ? `\n  … and ${issues.length - MAX_LISTED} more` : '';
    super({
      code: 'plan-invalid',
      message: `${first ? formatPlanIssue(file, first) : `${file}: invalid plan`}${rest.join('')}${more}`,
      hint: first?.hint,
      // The file's line, when there is one problem; with several it would read as the last one's.
      evidence: issues.length === 1 ? first?.source : undefined,
    });
    this.name = 'PlanFileError';
    this.file = file;
    this.issues = issues;
  }
}

/** "plan.yaml:7:18: policy.growth_threshold: must be a percentage like 10%". */
export function formatPlanIssue(file: string, i: PlanIssue): string {
  return `${file}:${i.line}:${i.col}: ${i.path ? `${i.path}: ` : ''}${i.message}`;
}

/** Parse and validate a plan file's text. Never throws: every problem comes back with its position. */
export function checkPlanYaml(text: string): PlanCheck {
  const lineCounter = new LineCounter();
  // uniqueKeys off: duplicates are reported below, with the field path and both positions.
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: false, strict: true });
  const r = new PlanReader(text, doc, lineCounter);
  const syntax = [...doc.errors, ...doc.warnings];
  if (syntax.length) {
    return {
      ok: false,
      issues: syntax.map((e) =>
        r.issue(e.pos, '', `YAML syntax error: ${e.message}`, 'Fix the YAML syntax at this position; quote values that contain ": " or " #".'),
      ),
    };
  }
  const plan = r.read();
  if (!plan || r.issues.length) return { ok: false, issues: sortIssues(r.issues) };
  const parsed = planSchema.safeParse(plan);
  if (!parsed.success) return { ok: false, issues: sortIssues(parsed.error.issues.map((i) => r.fromSchema(i))) };
  return { ok: true, plan: parsed.data };
}

/** Parse and validate a plan file's text; throws PlanFileError naming fileName, line and column. */
export function parsePlanYaml(text: string, fileName: string): MigrationPlan {
  const r = checkPlanYaml(text);
  if (!r.ok) throw new PlanFileError(fileName, r.issues);
  return r.plan;
}

/** Read, parse and validate a plan file. Errors name the path as given. */
export function loadPlanFile(file: string): MigrationPlan {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    throw new FerryError(
      {
        code: 'plan-unreadable',
        message: `Cannot read the plan file ${file}: ${err.code === 'ENOENT' ? 'no such file' : err.code === 'EISDIR' ? 'it is a directory' : err.message}`,
        hint: 'Check the path, or write a new plan with `ferry plan new --source A --target B --pid N > plan.yaml`.',
      },
      { cause: e },
    );
  }
  return parsePlanYaml(text, file);
}

// ---------------------------------------------------------------------------------------
// Reading

const DURATION = /^(\d+(?:\.\d+)?)\s*(ms|s)$/;
const PERCENT = /^(\d+(?:\.\d+)?)\s*%$/;

const ROOT_KEYS = [
  'source',
  'target',
  'process',
  'mode',
  'downtime_budget',
  'policy',
  'page_server',
  'work_dir',
  'file_sync',
  'health_check',
  'retention',
  'auto',
  'shell_job',
  'tcp_established',
  'hooks',
  'service_probe',
  // Preflight inventory.
  'file_locks',
  'ext_unix_sk',
  'network_lock',
  'tls',
  'service_address',
  // Bandwidth cap.
  'bandwidth_cap',
] as const;
/** Service probe: exactly one of tcp/http, the rest optional. */
const PROBE_KINDS = ['tcp', 'http'] as const;
const PROBE_KEYS = [...PROBE_KINDS, 'from', 'interval', 'timeout'] as const;
/** Hook phases as the file names them -> the plan's keys. */
const HOOK_PHASE_KEYS = { before_cutover: 'beforeCutover', after_restore: 'afterRestore', on_rollback: 'onRollback' } as const;
const HOOK_KEYS = ['name', 'on', 'command', 'timeout', 'env'] as const;
const POLICY_KEYS = ['max_iterations', 'growth_threshold', 'min_pages', 'on_not_converging', 'cutover_when'] as const;
const HEALTH_KINDS = ['command', 'tcp', 'http'] as const;

const HINTS: Record<string, string> = {
  source: 'Name the host by its alias in ~/.ssh/config or Ferry\'s ssh_config (`ferry hosts` lists them).',
  target: 'Name the host by its alias in ~/.ssh/config or Ferry\'s ssh_config (`ferry hosts` lists them).',
  process: 'Write process: { pid: 50000 }, process: { unit: redis-server.service } (its MainPID) or process: { pidfile: /run/app.pid }.',
  'process.unit': 'Write a systemd unit name, like redis-server.service: Ferry migrates its main process (MainPID on the source).',
  'process.pidfile': 'Write the absolute path of a file holding the PID on the source, like /run/app.pid.',
  'page_server.port_range': 'Write two ports with a dash, like 27000-27099: Ferry reserves a free pair (port and port + 1) in it on the listening host.',
  'process.pid': 'Write the PID of the process tree root on the source, an integer from 1 to 4194304, e.g. process: { pid: 50000 }.',
  mode: 'Write precopy (iterative pre-dumps), cold (one dump) or postcopy (runs on the target at once, pages follow; the process is lost if the source dies before the last page).',
  downtime_budget: 'Write a duration with its unit, like 300ms or 1.5s (at most 600s).',
  policy: 'Write policy: { max_iterations: 8, growth_threshold: 10%, min_pages: 64, on_not_converging: rollback }; every key is optional.',
  'policy.max_iterations': 'Write an integer from 1 to 50.',
  'policy.growth_threshold': 'Write a percentage like 10%: pre-copy is not converging when the pages written grow by more than this.',
  'policy.min_pages': 'Write an integer, 0 or more.',
  'policy.on_not_converging': 'Write rollback or cutover.',
  // Cutover rule
  'policy.cutover_when': "Write band (auto mode cuts over only when the estimate's upper edge fits the budget) or prediction (when the point prediction fits).",
  page_server: 'Write page_server: { address: 10.0.0.2, port: 27000 }; both keys are optional.',
  'page_server.address': "Write the target's address as the source reaches it: a host name or an IP address.",
  'page_server.port': 'Write a TCP port, an integer from 1 to 65535.',
  work_dir: 'Write an absolute path, like /var/lib/ferry.',
  file_sync: 'Write a list of absolute paths, like [/etc/app.conf].',
  health_check:
    'Write none, { command: [curl, -fsS, http://127.0.0.1:8080/health] }, { tcp: 8080 } or { http: http://127.0.0.1:8080/health, status: 200 }; each may add timeout: 10s.',
  'health_check.timeout': 'Write a duration with its unit, like 10s (from 100ms to 600s).',
  'health_check.tcp': 'Write a TCP port, an integer from 1 to 65535.',
  'health_check.status': 'Write an HTTP status code from 100 to 599.',
  retention: 'Write delete-on-commit or keep.',
  auto: 'Write true (the policy decides when to cut over) or false (you decide).',
  shell_job: 'Write true or false.',
  tcp_established: 'Write true or false.',
  // Service probe (client-visible downtime)
  service_probe: `Write none, or { tcp: 10.0.0.5:6379 } or { http: http://10.0.0.5:8080/health }; each may add from: local | HOST, interval: ${PROBE_LIMITS.intervalMs.default}ms, timeout: ${PROBE_LIMITS.timeoutMs.default}ms.`,
  'service_probe.from': "Write local (this machine) or a host alias the probe runs on (it needs python3 there).",
  'service_probe.interval': `Write a duration from ${PROBE_LIMITS.intervalMs.min}ms to ${PROBE_LIMITS.intervalMs.max}ms: one attempt this often.`,
  'service_probe.timeout': `Write a duration from ${PROBE_LIMITS.timeoutMs.min}ms to ${PROBE_LIMITS.timeoutMs.max / 1000}s: an attempt with no answer by then failed.`,
  file_locks: 'Write true or false.',
  ext_unix_sk: 'Write true or false.',
  network_lock: 'Write auto (what both hosts can run), iptables or nftables.',
  tls: 'Write true (page streams encrypted and authenticated; the default) or false (plain TCP, only on a network you trust).',
  service_address: 'Write service_address: { address: 10.0.0.100/24, source_interface: eth1, target_interface: eth1 }; target_interface defaults to source_interface.',
  'service_address.address': 'Write an IPv4 or IPv6 address with its prefix length, like 10.0.0.100/24 or fd00::100/64.',
  'service_address.source_interface': 'Write the interface the address is on at the source, like eth1.',
  'service_address.target_interface': 'Write the interface of the target to put it on, like eth1 or br0.',
  // Bandwidth cap.
  bandwidth_cap: 'Write none, a rate like 20MiB/s (pre-copy only), or { rate: 20MiB/s, during: precopy | precopy-and-dump }.',
  'bandwidth_cap.rate': 'Write a rate with its unit, like 20MiB/s, 500KiB/s or 100Mbit/s (at least 64KiB/s).',
  'bandwidth_cap.during': 'Write precopy (the pre-dumps only; the default) or precopy-and-dump (the final dump too, which lengthens the freeze).',
  hooks: 'Write hooks: { before_cutover: [...], after_restore: [...], on_rollback: [...] }; each phase is optional and lists hooks like { name: drain, on: local, command: [curl, -fsS, https://lb/drain], timeout: 30s }.',
  ...Object.fromEntries(
    Object.keys(HOOK_PHASE_KEYS).flatMap((ph) => [
      [`hooks.${ph}`, 'Write a list of hooks, each like { name: drain, on: local, command: [curl, -fsS, https://lb/drain], timeout: 30s }.'],
      [`hooks.${ph}.name`, 'Write a short name for the hook, shown in the command log and the report.'],
      [`hooks.${ph}.on`, 'Write local (this machine), source or target.'],
      [`hooks.${ph}.command`, "Write the command as a list of arguments, like [curl, -fsS, https://lb/drain]; for a shell write [sh, -c, 'SCRIPT']."],
      [`hooks.${ph}.timeout`, `Write a duration with its unit, like 30s (from ${HOOK_TIMEOUT.minMs}ms to ${HOOK_TIMEOUT.maxMs / 1000}s).`],
      [`hooks.${ph}.env`, "Write a list of variable names from Ferry's environment, like [LB_TOKEN]; only a local hook takes them."],
    ]),
  ),
};

function hintFor(path: string): string | undefined {
  for (let p = path.replace(/\[\d+\]/g, ''); p; p = p.includes('.') ? p.slice(0, p.lastIndexOf('.')) : '') {
    if (HINTS[p]) return HINTS[p];
  }
  return undefined;
}

/** Where a MigrationPlan field came from in the file, for schema errors. */
interface Origin {
  node: ParsedNode;
  path: string;
  /** How a number of this field reads in the file (durations, percentages). */
  show?: (n: number) => string;
}

type Range = readonly [number, number, ...number[]];

class PlanReader {
  readonly issues: PlanIssue[] = [];
  private readonly origins = new Map<string, Origin>();

  constructor(
    private readonly text: string,
    private readonly doc: Document.Parsed,
    private readonly lc: LineCounter,
  ) {}

  issue(range: Range | undefined, path: string, message: string, hint = hintFor(path)): PlanIssue {
    const [start, end] = range ?? [0, 0];
    const a = this.lc.linePos(start);
    const b = this.lc.linePos(Math.max(start, end));
    const lineStart = this.lc.lineStarts[a.line - 1] ?? 0;
    const nl = this.text.indexOf('\n', lineStart);
    const source = this.text.slice(lineStart, nl < 0 ? undefined : nl).replace(/\r$/, '').slice(0, 200);
    return { line: a.line, col: a.col, endLine: b.line, endCol: b.col, path, message, ...(hint ? { hint } : {}), ...(source.trim() ? { source } : {}) };
  }

  private fail(node: ParsedNode | null | undefined, path: string, message: string, hint?: string): undefined {
    this.issues.push(this.issue(node?.range, path, message, hint ?? hintFor(path)));
    return undefined;
  }

  private deref(node: unknown): ParsedNode | null {
    if (isAlias(node)) return (node.resolve(this.doc) as ParsedNode | undefined) ?? null;
    return (node as ParsedNode | null) ?? null;
  }

  private note(planPath: string, node: ParsedNode, path: string, show?: (n: number) => string): void {
    this.origins.set(planPath, { node, path, ...(show ? { show } : {}) });
  }

  /**
   * The entries of a mapping, refusing unknown and duplicate keys. Returns key -> value node
   * (null for a key with no value) and where each key sits.
   */
  private entries(node: ParsedNode, path: string, known: readonly string[]): Map<string, { key: ParsedNode; value: ParsedNode | null }> | undefined {
    if (!isMap(node)) {
      return this.fail(node, path, path ? 'must be a mapping of keys to values' : 'a plan file must be a mapping of plan fields (source: ..., target: ..., process: ...)');
    }
    const out = new Map<string, { key: ParsedNode; value: ParsedNode | null }>();
    for (const pair of (node as YAMLMap<ParsedNode, ParsedNode | null>).items) {
      const key = this.deref(pair.key);
      const name = isScalar(key) ? String(key.value) : '';
      const at = path ? `${path}.${name}` : name;
      if (!isScalar(key) || !known.includes(name)) {
        const guess = isScalar(key) ? closest(name, known) : undefined;
        const hint =
          path === '' && name === 'pid'
            ? 'The PID goes under process: write process: { pid: N }.'
            : path === 'process'
              ? 'Name the process by one of pid, unit or pidfile: process: { pid: N }, { unit: NAME } or { pidfile: PATH }.'
              : `${guess ? `Did you mean ${guess}? ` : ''}Known keys${path ? ` of ${path}` : ''}: ${known.join(', ')}.`;
        this.fail(key ?? node, isScalar(key) ? at : path, isScalar(key) ? 'unknown key' : 'keys must be plain names', hint);
        continue;
      }
      const first = out.get(name);
      if (first) {
        const p = this.lc.linePos(first.key.range[0]);
        this.fail(key, at, `duplicate key (first given at line ${p.line}, column ${p.col})`, 'Give each key once; remove one of the two.');
        continue;
      }
      out.set(name, { key, value: this.deref(pair.value) });
    }
    return out;
  }

  /** The value of an entry, or undefined (with an issue) when it has none. */
  private present(e: { key: ParsedNode; value: ParsedNode | null }, path: string): ParsedNode | undefined {
    const v = e.value;
    if (v === null || (isScalar(v) && v.value === null)) {
      const required = ['source', 'target', 'process', 'process.pid', 'health_check.command', 'health_check.tcp', 'health_check.http'].includes(path);
      return this.fail(v ?? e.key, path, 'has no value', `${hintFor(path) ?? ''}${required ? '' : ' Or remove the line to use the default.'}`.trim());
    }
    return v;
  }

  private scalar(node: ParsedNode): Scalar.Parsed | undefined {
    return isScalar(node) ? (node as Scalar.Parsed) : undefined;
  }

  /** Text; a plain scalar YAML read as a number (an alias "1234", an address "10.0") is taken as written. */
  private str(node: ParsedNode, path: string, what = 'must be text'): string | undefined {
    const s = this.scalar(node);
    if (s && typeof s.value === 'string') return s.value;
    if (s && typeof s.value === 'number' && s.type === 'PLAIN' && s.source) return s.source;
    return this.fail(node, path, what);
  }

  private int(node: ParsedNode, path: string, what = 'must be an integer'): number | undefined {
    const s = this.scalar(node);
    if (s && typeof s.value === 'number' && Number.isInteger(s.value)) return s.value;
    return this.fail(node, path, what);
  }

  private bool(node: ParsedNode, path: string): boolean | undefined {
    const s = this.scalar(node);
    if (s && typeof s.value === 'boolean') return s.value;
    const yamlOne = s && typeof s.value === 'string' && /^(yes|no|on|off|y|n)$/i.test(s.value);
    return this.fail(node, path, `must be true or false${yamlOne ? ` (${String(s.value)} is text in YAML 1.2)` : ''}`);
  }

  private oneOf<T extends string>(node: ParsedNode, path: string, values: readonly T[]): T | undefined {
    const s = this.scalar(node);
    if (s && typeof s.value === 'string' && (values as readonly string[]).includes(s.value)) return s.value as T;
    return this.fail(node, path, `must be ${values.slice(0, -1).join(', ')} or ${values[values.length - 1]}`);
  }

  private duration(node: ParsedNode, path: string): number | undefined {
    const s = this.scalar(node);
    const m = s && typeof s.value === 'string' ? DURATION.exec(s.value.trim()) : null;
    if (!m) {
      const bare = s && typeof s.value === 'number';
      return this.fail(node, path, `must be a duration like 300ms or 1.5s${bare ? ' (with its unit)' : ''}`);
    }
    return Math.round(Number(m[1]) * (m[2] === 's' ? 1000 : 1));
  }

  private percent(node: ParsedNode, path: string): number | undefined {
    const s = this.scalar(node);
    const m = s && typeof s.value === 'string' ? PERCENT.exec(s.value.trim()) : null;
    if (!m) return this.fail(node, path, 'must be a percentage like 10%');
    return Number(m[1]) / 100;
  }

  private strList(node: ParsedNode, path: string, planPath: string, what: string): string[] | undefined {
    if (!isSeq(node)) return this.fail(node, path, what);
    const out: string[] = [];
    let ok = true;
    (node as YAMLSeq<ParsedNode>).items.forEach((raw, i) => {
      const item = this.deref(raw);
      const p = `${path}[${i}]`;
      const v = item && !(isScalar(item) && item.value === null) ? this.str(item, p) : this.fail(item ?? node, p, 'has no value');
      if (v === undefined) ok = false;
      else {
        out.push(v);
        this.note(`${planPath}.${i}`, item!, p);
      }
    });
    return ok ? out : undefined;
  }

  /** Map the document to a MigrationPlan (unvalidated); undefined when something is missing or mistyped. */
  read(): MigrationPlan | undefined {
    const root = this.doc.contents as ParsedNode | null;
    if (!root) {
      this.fail(null, '', 'the plan file is empty', 'Write source, target and process: { pid: N } at least, or generate a plan with `ferry plan new`.');
      return undefined;
    }
    const top = this.entries(root, '', ROOT_KEYS);
    if (!top) return undefined;
    const get = (k: (typeof ROOT_KEYS)[number]) => {
      const e = top.get(k);
      return e ? this.present(e, k) : undefined;
    };
    const required = (k: string, hint: string) => {
      if (!top.has(k)) this.fail(root, k, 'missing', hint);
    };
    required('source', `Add source: ALIAS, the host the process runs on now. ${HINTS.source}`);
    required('target', `Add target: ALIAS, the host to move it to. ${HINTS.target}`);
    required('process', 'Add process: { pid: N } (or { unit: NAME }, { pidfile: PATH }), the process tree root on the source.');

    const n = (k: (typeof ROOT_KEYS)[number], planPath: string, f: (node: ParsedNode) => unknown, show?: (n: number) => string) => {
      const node = get(k);
      if (!node) return undefined;
      this.note(planPath, node, k, show);
      return f(node);
    };

    const source = n('source', 'source', (v) => this.str(v, 'source')) as string | undefined;
    const target = n('target', 'target', (v) => this.str(v, 'target')) as string | undefined;
    const targetNode = get('target');
    if (targetNode) this.note('targetAddress', targetNode, 'page_server.address (the target, by default)');

    let pid: number | undefined;
    // Many migrations at once: a process named by systemd unit or pidfile instead of a PID.
    let select: ProcessSelector | undefined;
    const proc = get('process');
    if (proc) {
      this.note('pid', proc, 'process');
      const e = this.entries(proc, 'process', ['pid', 'unit', 'pidfile']);
      const named = e ? (['pid', 'unit', 'pidfile'] as const).filter((k) => e.has(k)) : [];
      if (e && named.length > 1) this.fail(proc, 'process', `give one of pid, unit or pidfile (not ${named.join(' and ')})`, HINTS.process);
      else if (e && (named[0] === 'unit' || named[0] === 'pidfile')) {
        const k = named[0];
        const v = this.present(e.get(k)!, `process.${k}`);
        const text = v && this.str(v, `process.${k}`);
        if (v && text !== undefined) {
          this.note('select', v, `process.${k}`);
          this.note(k === 'unit' ? 'select.unit' : 'select.path', v, `process.${k}`);
          pid = 0;
          select = k === 'unit' ? { kind: 'unit', unit: text } : { kind: 'pidfile', path: text };
        }
      } else if (e) {
        const pe = e.get('pid');
        if (!pe) this.fail(proc, 'process.pid', 'missing');
        else {
          const v = this.present(pe, 'process.pid');
          if (v) {
            this.note('pid', v, 'process.pid');
            pid = this.int(v, 'process.pid', 'must be a process ID (an integer)');
            if (pid === 0) pid = this.fail(v, 'process.pid', 'must be at least 1', HINTS['process.pid']);
          }
        }
      }
    }

    const mode = n('mode', 'mode', (v) => this.oneOf(v, 'mode', ['precopy', 'cold', 'postcopy'] as const)) as MigrationPlan['mode'] | undefined;
    const downtimeBudgetMs = n('downtime_budget', 'policy.downtimeBudgetMs', (v) => this.duration(v, 'downtime_budget'), showMs) as number | undefined;

    const policy: Partial<MigrationPlan['policy']> = {};
    const pol = get('policy');
    if (pol) {
      this.note('policy', pol, 'policy');
      const e = this.entries(pol, 'policy', POLICY_KEYS);
      const field = (k: (typeof POLICY_KEYS)[number], planKey: keyof MigrationPlan['policy'], f: (v: ParsedNode, p: string) => unknown, show?: (n: number) => string) => {
        const pe = e?.get(k);
        const v = pe && this.present(pe, `policy.${k}`);
        if (!v) return;
        this.note(`policy.${planKey}`, v, `policy.${k}`, show);
        const x = f(v, `policy.${k}`);
        if (x !== undefined) (policy as Record<string, unknown>)[planKey] = x;
      };
      field('max_iterations', 'maxIterations', (v, p) => this.int(v, p));
      field('growth_threshold', 'growthThreshold', (v, p) => this.percent(v, p), showPercent);
      field('min_pages', 'minPages', (v, p) => this.int(v, p));
      field('on_not_converging', 'onNotConverging', (v, p) => this.oneOf(v, p, ['rollback', 'cutover'] as const));
      field('cutover_when', 'cutoverWhen', (v, p) => this.oneOf(v, p, ['band', 'prediction'] as const));
    }

    let targetAddress: string | undefined;
    let pageServerPort: number | undefined;
    let portRange: PortRange | undefined;
    const ps = get('page_server');
    if (ps) {
      this.note('pageServerPort', ps, 'page_server');
      const e = this.entries(ps, 'page_server', ['address', 'port', 'port_range']);
      const a = e?.get('address');
      const av = a && this.present(a, 'page_server.address');
      if (av) {
        this.note('targetAddress', av, 'page_server.address');
        targetAddress = this.str(av, 'page_server.address');
      }
      const p = e?.get('port');
      const pv = p && this.present(p, 'page_server.port');
      if (pv) {
        this.note('pageServerPort', pv, 'page_server.port');
        pageServerPort = this.int(pv, 'page_server.port', 'must be a TCP port (an integer)');
      }
      // Many migrations at once: the ports Ferry may reserve a pair from.
      const r = e?.get('port_range');
      const rv = r && this.present(r, 'page_server.port_range');
      if (rv) {
        this.note('portRange', rv, 'page_server.port_range');
        const m = /^(\d+)-(\d+)$/.exec(this.str(rv, 'page_server.port_range', 'must be a range of ports like 27000-27099') ?? '');
        if (m) portRange = { first: Number(m[1]), last: Number(m[2]) };
        else if (!this.issues.some((i) => i.path === 'page_server.port_range')) this.fail(rv, 'page_server.port_range', 'must be a range of ports like 27000-27099');
      }
    }

    const workDir = n('work_dir', 'workDir', (v) => this.str(v, 'work_dir')) as string | undefined;
    const fileSync = n('file_sync', 'fileSync', (v) => this.strList(v, 'file_sync', 'fileSync', 'must be a list of absolute paths')) as string[] | undefined;
    const healthCheck = n('health_check', 'healthCheck', (v) => this.health(v)) as HealthCheck | undefined;
    const retention = n('retention', 'retention', (v) => this.oneOf(v, 'retention', ['delete-on-commit', 'keep'] as const)) as MigrationPlan['retention'] | undefined;
    const auto = n('auto', 'auto', (v) => this.bool(v, 'auto')) as boolean | undefined;
    const shellJob = n('shell_job', 'shellJob', (v) => this.bool(v, 'shell_job')) as boolean | undefined;
    const tcpEstablished = n('tcp_established', 'tcpEstablished', (v) => this.bool(v, 'tcp_established')) as boolean | undefined;
    const hooks = n('hooks', 'hooks', (v) => this.hooks(v)) as PlanHooks | undefined;
    const serviceProbe = n('service_probe', 'serviceProbe', (v) => this.serviceProbe(v)) as ServiceProbe | undefined;
    const fileLocks = n('file_locks', 'fileLocks', (v) => this.bool(v, 'file_locks')) as boolean | undefined;
    const extUnixSk = n('ext_unix_sk', 'extUnixSk', (v) => this.bool(v, 'ext_unix_sk')) as boolean | undefined;
    const networkLock = n('network_lock', 'networkLock', (v) => this.oneOf(v, 'network_lock', ['auto', 'iptables', 'nftables'] as const)) as MigrationPlan['networkLock'] | undefined;
    const tls = n('tls', 'tls', (v) => this.bool(v, 'tls')) as boolean | undefined;
    const serviceAddress = n('service_address', 'serviceAddress', (v) => this.serviceAddress(v)) as ServiceAddress | undefined;
    const bandwidthCap = n('bandwidth_cap', 'bandwidthCap', (v) => this.bandwidthCap(v)) as BandwidthCapPlan | undefined;

    if (this.issues.length || source === undefined || target === undefined || pid === undefined) return undefined;
    const d = PLAN_FILE_DEFAULTS;
    return {
      source,
      target,
      pid,
      mode: mode ?? d.mode,
      shellJob: shellJob ?? d.shellJob,
      tcpEstablished: tcpEstablished ?? d.tcpEstablished,
      policy: { ...d.policy, ...(downtimeBudgetMs !== undefined ? { downtimeBudgetMs } : {}), ...policy },
      auto: auto ?? d.auto,
      pageServerPort: pageServerPort ?? d.pageServerPort,
      targetAddress: targetAddress ?? target,
      workDir: workDir ?? d.workDir,
      fileSync: fileSync ?? [...d.fileSync],
      healthCheck: healthCheck ?? { ...d.healthCheck },
      retention: retention ?? d.retention,
      ...(hooks ? { hooks } : {}),
      ...(serviceProbe ? { serviceProbe } : {}),
      ...(select ? { select } : {}),
      ...(portRange ? { portRange } : {}),
      ...(fileLocks !== undefined ? { fileLocks } : {}),
      ...(extUnixSk !== undefined ? { extUnixSk } : {}),
      ...(networkLock !== undefined ? { networkLock } : {}),
      ...(tls !== undefined ? { tls } : {}),
      ...(serviceAddress ? { serviceAddress } : {}),
      ...(bandwidthCap ? { bandwidthCap } : {}),
    };
  }

  // --- bandwidth cap
  /** bandwidth_cap: none | 20MiB/s | { rate: 20MiB/s, during: precopy | precopy-and-dump }. */
  private bandwidthCap(node: ParsedNode): BandwidthCapPlan | undefined {
    const P = 'bandwidth_cap';
    const rate = (v: ParsedNode, path: string): number | undefined => {
      const text = this.str(v, path, 'must be a rate like 20MiB/s');
      if (text === undefined) return undefined;
      const problem = bandwidthProblem(text);
      if (problem) return this.fail(v, path, problem);
      this.note('bandwidthCap.bytesPerSecond', v, path, formatBandwidth);
      return parseBandwidth(text);
    };
    if (isScalar(node)) {
      if (node.value === 'none') return undefined;
      const bytesPerSecond = rate(node, P);
      return bytesPerSecond === undefined ? undefined : { bytesPerSecond };
    }
    const e = this.entries(node, P, ['rate', 'during']);
    if (!e) return undefined;
    const re = e.get('rate');
    if (!re) return this.fail(node, `${P}.rate`, 'missing');
    const rv = this.present(re, `${P}.rate`);
    const bytesPerSecond = rv && rate(rv, `${P}.rate`);
    const de = e.get('during');
    const dv = de && this.present(de, `${P}.during`);
    if (dv) this.note('bandwidthCap.during', dv, `${P}.during`);
    const during = dv ? this.oneOf(dv, `${P}.during`, ['precopy', 'precopy-and-dump'] as const) : undefined;
    if (bytesPerSecond === undefined || (de && !during)) return undefined;
    return { bytesPerSecond, ...(during ? { during } : {}) };
  }

  /** service_probe: none | { tcp: HOST:PORT | http: URL, from, interval, timeout }. */
  private serviceProbe(node: ParsedNode): ServiceProbe | undefined {
    const P = 'service_probe';
    if (isScalar(node) && node.value === 'none') return undefined;
    const e = this.entries(node, P, PROBE_KEYS);
    if (!e) return undefined;
    const kinds = PROBE_KINDS.filter((k) => e.has(k));
    if (kinds.length !== 1) {
      if (kinds.length === 0) return this.fail(node, P, 'needs one of tcp, http', hintFor(P));
      return this.fail(e.get(kinds[1]!)!.key, `${P}.${kinds[1]}`, `choose one of tcp, http (${kinds[0]} is already given)`, hintFor(P));
    }
    const kind = kinds[0]!;
    let ok = true;
    const field = <T>(k: (typeof PROBE_KEYS)[number], planKey: string, f: (v: ParsedNode, p: string) => T | undefined, show?: (n: number) => string): T | undefined => {
      const fe = e.get(k);
      if (!fe) return undefined;
      const v = this.present(fe, `${P}.${k}`);
      if (!v) {
        ok = false;
        return undefined;
      }
      this.note(`serviceProbe.${planKey}`, v, `${P}.${k}`, show);
      const x = f(v, `${P}.${k}`);
      if (x === undefined) ok = false;
      return x;
    };
    const target = field(kind, 'target', (v, p) => this.str(v, p));
    const from = field('from', 'from', (v, p) => this.str(v, p));
    const intervalMs = field('interval', 'intervalMs', (v, p) => this.duration(v, p), showMs);
    const timeoutMs = field('timeout', 'timeoutMs', (v, p) => this.duration(v, p), showMs);
    if (!ok || target === undefined) return undefined;
    return withProbeDefaults({ kind, target, ...(from !== undefined ? { from } : {}), ...(intervalMs !== undefined ? { intervalMs } : {}), ...(timeoutMs !== undefined ? { timeoutMs } : {}) });
  }

  // --- service address
  /** service_address: { address: 10.0.0.100/24, source_interface: eth1, target_interface: br0 }. */
  private serviceAddress(node: ParsedNode): ServiceAddress | undefined {
    const P = 'service_address';
    const e = this.entries(node, P, ['address', 'source_interface', 'target_interface']);
    if (!e) return undefined;
    const field = (k: string, planKey: string): string | undefined => {
      const fe = e.get(k);
      if (!fe) return undefined;
      const v = this.present(fe, `${P}.${k}`);
      if (!v) return undefined;
      this.note(`serviceAddress.${planKey}`, v, `${P}.${k}`);
      return this.str(v, `${P}.${k}`);
    };
    const address = field('address', 'address');
    const sourceInterface = field('source_interface', 'sourceInterface');
    const targetInterface = field('target_interface', 'targetInterface') ?? sourceInterface;
    if (!e.get('address')) this.fail(node, `${P}.address`, 'missing');
    if (!e.get('source_interface')) this.fail(node, `${P}.source_interface`, 'missing');
    if (address === undefined || sourceInterface === undefined || targetInterface === undefined) return undefined;
    return { address, sourceInterface, targetInterface };
  }

  /** hooks: { before_cutover: [HOOK...], after_restore: [...], on_rollback: [...] }; a phase left out has none. */
  private hooks(node: ParsedNode): PlanHooks | undefined {
    const e = this.entries(node, 'hooks', Object.keys(HOOK_PHASE_KEYS));
    if (!e) return undefined;
    const out: PlanHooks = { beforeCutover: [], afterRestore: [], onRollback: [] };
    let ok = true;
    for (const [fileKey, planKey] of Object.entries(HOOK_PHASE_KEYS)) {
      const pe = e.get(fileKey);
      if (!pe) continue;
      const P = `hooks.${fileKey}`;
      const list = this.present(pe, P);
      if (!list) {
        ok = false;
        continue;
      }
      this.note(`hooks.${planKey}`, list, P);
      if (!isSeq(list)) {
        this.fail(list, P, 'must be a list of hooks');
        ok = false;
        continue;
      }
      (list as YAMLSeq<ParsedNode>).items.forEach((raw, i) => {
        const h = this.hook(this.deref(raw) ?? list, `${P}[${i}]`, `hooks.${planKey}.${i}`);
        if (h) out[planKey].push(h);
        else ok = false;
      });
    }
    return ok ? out : undefined;
  }

  private hook(node: ParsedNode, P: string, planPath: string): Hook | undefined {
    const e = this.entries(node, P, HOOK_KEYS);
    if (!e) return undefined;
    this.note(planPath, node, P);
    let ok = true;
    const field = <T>(k: (typeof HOOK_KEYS)[number], planKey: string, f: (v: ParsedNode, p: string) => T | undefined, show?: (n: number) => string): T | undefined => {
      const fe = e.get(k);
      if (!fe) {
        if (k === 'name' || k === 'on' || k === 'command') {
          this.fail(node, `${P}.${k}`, 'missing');
          ok = false;
        }
        return undefined;
      }
      const v = this.present(fe, `${P}.${k}`);
      if (!v) {
        ok = false;
        return undefined;
      }
      this.note(`${planPath}.${planKey}`, v, `${P}.${k}`, show);
      const x = f(v, `${P}.${k}`);
      if (x === undefined) ok = false;
      return x;
    };
    const name = field('name', 'name', (v, p) => this.str(v, p));
    const on = field('on', 'on', (v, p) => this.oneOf(v, p, ['local', 'source', 'target'] as const));
    const argv = field('command', 'argv', (v, p) => this.strList(v, p, `${planPath}.argv`, "must be a list of arguments, like [curl, -fsS, https://lb/drain] (for a shell: [sh, -c, 'SCRIPT'])"));
    const timeoutMs = field('timeout', 'timeoutMs', (v, p) => this.duration(v, p), showMs);
    const env = field('env', 'env', (v, p) => this.strList(v, p, `${planPath}.env`, 'must be a list of variable names, like [LB_TOKEN]'));
    if (!ok || name === undefined || on === undefined || argv === undefined) return undefined;
    return { name, on, argv, timeoutMs: timeoutMs ?? HOOK_TIMEOUT.defaultMs, ...(env ? { env } : {}) };
  }

  private health(node: ParsedNode): HealthCheck | undefined {
    const P = 'health_check';
    if (isScalar(node)) {
      if (node.value === 'none') return { kind: 'none' };
      return this.fail(node, P, 'must be none, or a mapping with one of command, tcp, http');
    }
    const e = this.entries(node, P, [...HEALTH_KINDS, 'status', 'timeout']);
    if (!e) return undefined;
    const kinds = [...e.keys()].filter((k): k is (typeof HEALTH_KINDS)[number] => (HEALTH_KINDS as readonly string[]).includes(k));
    if (kinds.length !== 1) {
      if (kinds.length === 0) return this.fail(node, P, 'needs one of command, tcp, http');
      return this.fail(e.get(kinds[1]!)!.key, `${P}.${kinds[1]}`, `choose one of command, tcp, http (${kinds[0]} is already given)`, hintFor(P));
    }
    const kind = kinds[0]!;
    const hc: HealthCheck = { kind };
    let ok = true;
    const v = this.present(e.get(kind)!, `${P}.${kind}`);
    if (!v) ok = false;
    else if (kind === 'command') {
      this.note('healthCheck.argv', v, `${P}.command`);
      const argv = this.strList(v, `${P}.command`, 'healthCheck.argv', 'must be a list of arguments, like [curl, -fsS, http://127.0.0.1:8080/health]');
      if (argv) hc.argv = argv;
      else ok = false;
    } else if (kind === 'tcp') {
      this.note('healthCheck.port', v, `${P}.tcp`);
      const port = this.int(v, `${P}.tcp`, 'must be a TCP port (an integer)');
      if (port !== undefined) hc.port = port;
      else ok = false;
    } else {
      this.note('healthCheck.url', v, `${P}.http`);
      const url = this.str(v, `${P}.http`, 'must be a URL like http://127.0.0.1:8080/health');
      if (url !== undefined) hc.url = url;
      else ok = false;
    }
    const st = e.get('status');
    if (st) {
      if (kind !== 'http') {
        this.fail(st.key, `${P}.status`, 'only an http check has a status', hintFor(P));
        ok = false;
      } else {
        const sv = this.present(st, `${P}.status`);
        if (sv) this.note('healthCheck.expectStatus', sv, `${P}.status`);
        const status = sv ? this.int(sv, `${P}.status`) : undefined;
        if (status !== undefined) hc.expectStatus = status;
        else ok = false;
      }
    }
    const to = e.get('timeout');
    if (to) {
      const tv = this.present(to, `${P}.timeout`);
      if (tv) this.note('healthCheck.timeoutMs', tv, `${P}.timeout`, showMs);
      const ms = tv ? this.duration(tv, `${P}.timeout`) : undefined;
      if (ms !== undefined) hc.timeoutMs = ms;
      else ok = false;
    }
    return ok ? hc : undefined;
  }

  /** A planSchema issue, placed at the file position the field came from. */
  fromSchema(i: z.core.$ZodIssue): PlanIssue {
    const parts = i.path.map(String);
    let origin: Origin | undefined;
    let rest: string[] = [];
    for (let n = parts.length; n > 0 && !origin; n--) {
      origin = this.origins.get(parts.slice(0, n).join('.'));
      rest = parts.slice(n);
    }
    const path = origin ? origin.path + rest.map((p) => (/^\d+$/.test(p) ? `[${p}]` : `.${p}`)).join('') : parts.join('.');
    const node = origin?.node ?? (this.doc.contents as ParsedNode | null);
    return this.issue(node?.range, path, schemaMessage(i, origin?.show), hintFor(path.replace(/ .*$/, '')));
  }
}

function schemaMessage(i: z.core.$ZodIssue, show: (n: number) => string = String): string {
  switch (i.code) {
    case 'too_small':
      if (i.origin === 'number' || i.origin === 'int') return `must be ${i.inclusive === false ? 'more than' : 'at least'} ${show(Number(i.minimum))}`;
      if (Number(i.minimum) === 1) return 'must not be empty';
      return `must have at least ${String(i.minimum)} ${i.origin === 'array' ? 'entries' : 'characters'}`;
    case 'too_big':
      if (i.origin === 'number' || i.origin === 'int') return `must be ${i.inclusive === false ? 'less than' : 'at most'} ${show(Number(i.maximum))}`;
      return `must have at most ${String(i.maximum)} ${i.origin === 'array' ? 'entries' : 'characters'}`;
    case 'invalid_value':
      return `must be one of ${i.values.map(String).join(', ')}`;
    case 'invalid_format':
      return i.format === 'url' ? 'must be a URL like http://127.0.0.1:8080/health' : i.message;
    case 'invalid_type':
      return `must be ${i.expected === 'number' ? 'a number' : i.expected === 'boolean' ? 'true or false' : i.expected === 'array' ? 'a list' : i.expected === 'string' ? 'text' : i.expected}`;
    default:
      return i.message;
  }
}

function sortIssues(issues: PlanIssue[]): PlanIssue[] {
  return issues.sort((a, b) => a.line - b.line || a.col - b.col);
}

/** The known name a typo most likely meant: same letters in another case or order, or edit distance <= 2. */
function closest(name: string, known: readonly string[]): string | undefined {
  const snake = name.replace(/([a-z0-9])([A-Z])/g, '$1_$2').replace(/-/g, '_').toLowerCase();
  let best: string | undefined;
  let bestD = 3;
  for (const k of known) {
    const d = k === snake ? 0 : levenshtein(name.toLowerCase(), k);
    if (d < bestD) {
      best = k;
      bestD = d;
    }
  }
  return best;
}

function levenshtein(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    prev = cur;
  }
  return prev[b.length]!;
}

// ---------------------------------------------------------------------------------------
// Writing

/** "300ms", "1.5s", "10s": how a duration in ms reads in a plan file; parses back exactly. */
export function showMs(ms: number): string {
  return ms >= 1000 && Number.isInteger(ms) ? `${ms / 1000}s` : `${ms}ms`;
}

/** "10%": how a fraction reads in a plan file; the shortest form that parses back exactly. */
export function showPercent(fraction: number): string {
  for (let p = 1; p <= 17; p++) {
    const s = String(Number((fraction * 100).toPrecision(p)));
    if (Number(s) / 100 === fraction) return `${s}%`;
  }
  return `${fraction * 100}%`;
}

const HEADER = [
  ' Ferry migration plan. Run it: ferry migrate --plan FILE; check it: ferry plan check FILE.',
  ' Missing optional fields take the defaults in (parentheses).',
  '   source, target     host aliases from ~/.ssh/config or Ferry\'s ssh_config',
  '   process            { pid: N } | { unit: NAME } (its MainPID) | { pidfile: PATH }: the process tree root on the source',
  '   mode               precopy (iterative pre-dumps) | cold (one dump) | postcopy (pages follow; lost if the source dies)  (precopy)',
  `   downtime_budget    the freeze window you accept at cutover: 300ms, 1.5s  (${showMs(defaultPolicy.downtimeBudgetMs)})`,
  `   policy             max_iterations (${defaultPolicy.maxIterations}), growth_threshold (${showPercent(defaultPolicy.growthThreshold)}), min_pages (${defaultPolicy.minPages}),`,
  `                      on_not_converging: rollback | cutover (${defaultPolicy.onNotConverging}),`,
  "                      cutover_when: band (the estimate's upper edge fits the budget) | prediction  (band)",
  `   page_server        address: the target as the source reaches it (the target alias); port (${PLAN_FILE_DEFAULTS.pageServerPort});`,
  '                      port_range: ports Ferry may reserve a free pair from, for migrations at once  (port to port + 99)',
  `   work_dir           image directory on both hosts, an absolute path  (${PLAN_FILE_DEFAULTS.workDir})`,
  '   file_sync          files copied to the target at cutover  ([])',
  '   health_check       none | { command: [ARGV...] } | { tcp: PORT } | { http: URL, status: 200 };',
  '                      each may add timeout: 10s  (none)',
  '   retention          delete-on-commit | keep: the image directories after success  (delete-on-commit)',
  '   auto               true: the policy decides when to cut over; false: you do  (false)',
  '   shell_job          the process is not a session leader (criu --shell-job)  (false)',
  '   tcp_established    dump established TCP connections  (false)',
  '   service_probe      what clients see through the cutover: { tcp: HOST:PORT } | { http: URL }, a new',
  `                      connection every interval (${PROBE_LIMITS.intervalMs.default}ms, ${PROBE_LIMITS.intervalMs.min}ms-${PROBE_LIMITS.intervalMs.max}ms), timeout (${showMs(PROBE_LIMITS.timeoutMs.default)}), from: local | HOST  (none)`,
  '   file_locks         dump and restore the file locks the tree holds (criu --file-locks)  (false)',
  '   ext_unix_sk        datagram sockets talking to a named socket outside the tree (criu --ext-unix-sk)  (false)',
  '   network_lock       auto | iptables | nftables: how CRIU locks TCP connections in the freeze  (auto)',
  '   tls                page streams over TLS, both hosts authenticated by a CA made for this migration;',
  '                      false sends process memory in clear: only on a network you trust  (true)',
  '   service_address    { address: 10.0.0.100/24, source_interface: eth1, target_interface: eth1 }: an address',
  '                      clients use, moved from the source to the target inside the freeze window and',
  '                      announced there (gratuitous ARP / neighbour advertisement); moved back on rollback  (none)',
  '   bandwidth_cap      the page stream\'s rate, capped on the source with tc: 20MiB/s, or { rate: 20MiB/s,',
  '                      during: precopy | precopy-and-dump } (the final dump too: a longer freeze)  (none)',
  '   hooks              your commands at phase boundaries, each phase a list  (none):',
  '     before_cutover   after the decision to cut over, before the final dump (the source still runs,',
  '                      outside the freeze window). One failing or timing out aborts the cutover:',
  '                      nothing is dumped, the source keeps running, the migration rolls back.',
  '     after_restore    once the target is verified (restore + health check), before commit. One failing',
  '                      rolls back: the target never went into service.',
  '     on_rollback      in a rollback after any hook started, once the process runs on the source again.',
  '                      All of them run; a failure is reported (rollback incomplete) and never stops the rest.',
  '                      Each hook: name; on: local (this machine) | source | target (as root there);',
  `                      command: [ARGV...] (no shell: write [sh, -c, 'SCRIPT'] for one); timeout (${showMs(HOOK_TIMEOUT.defaultMs)});`,
  "                      env: [NAME...] (local only) variables passed from Ferry's environment, values never journaled.",
  ' Example:',
  '   hooks:',
  '     before_cutover:',
  '       - { name: drain, on: local, command: [curl, -fsS, -X, POST, https://lb.example/app/drain], timeout: 30s }',
  '     after_restore:',
  '       - { name: switch, on: local, command: [lbctl, point, app, new-host], env: [LB_TOKEN] }   # lbctl reads $LB_TOKEN',
  '     on_rollback:',
  '       - { name: undrain, on: local, command: [curl, -fsS, -X, POST, https://lb.example/app/undrain] }',
].join('\n');

function renderHooks(h: PlanHooks): unknown {
  const one = (x: Hook) => ({ name: x.name, on: x.on, command: x.argv, timeout: showMs(x.timeoutMs), ...(x.env ? { env: x.env } : {}) });
  return { before_cutover: h.beforeCutover.map(one), after_restore: h.afterRestore.map(one), on_rollback: h.onRollback.map(one) };
}

function renderProbe(p: ServiceProbe): unknown {
  return { [p.kind]: p.target, from: p.from, interval: showMs(p.intervalMs), timeout: showMs(p.timeoutMs) };
}

function renderHealth(hc: HealthCheck): unknown {
  const timeout = hc.timeoutMs !== undefined ? { timeout: showMs(hc.timeoutMs) } : {};
  switch (hc.kind) {
    case 'none':
      return 'none';
    case 'command':
      return { command: hc.argv ?? [], ...timeout };
    case 'tcp':
      return { tcp: hc.port, ...timeout };
    case 'http':
      return { http: hc.url, ...(hc.expectStatus !== undefined ? { status: hc.expectStatus } : {}), ...timeout };
  }
}

/**
 * A plan as a plan file, every field written out, with a comment naming the fields.
 * parsePlanYaml(renderPlanYaml(plan)) deep-equals plan for any valid plan (a 'none'
 * health check drops fields the engine ignores).
 */
export function renderPlanYaml(plan: MigrationPlan): string {
  const p = plan.policy;
  const doc = new Document({
    source: plan.source,
    target: plan.target,
    process: plan.select ? (plan.select.kind === 'unit' ? { unit: plan.select.unit } : { pidfile: plan.select.path }) : { pid: plan.pid },
    mode: plan.mode,
    downtime_budget: showMs(p.downtimeBudgetMs),
    policy: {
      max_iterations: p.maxIterations,
      growth_threshold: showPercent(p.growthThreshold),
      min_pages: p.minPages,
      on_not_converging: p.onNotConverging,
      ...(p.cutoverWhen ? { cutover_when: p.cutoverWhen } : {}), // absent means band
    },
    page_server: { address: plan.targetAddress, port: plan.pageServerPort, ...(plan.portRange ? { port_range: `${plan.portRange.first}-${plan.portRange.last}` } : {}) },
    work_dir: plan.workDir,
    file_sync: plan.fileSync,
    health_check: renderHealth(plan.healthCheck),
    retention: plan.retention,
    auto: plan.auto,
    shell_job: plan.shellJob,
    tcp_established: plan.tcpEstablished,
    // Written when set (ferry plan new sets them), so older plans round-trip unchanged.
    ...(plan.fileLocks !== undefined ? { file_locks: plan.fileLocks } : {}),
    ...(plan.extUnixSk !== undefined ? { ext_unix_sk: plan.extUnixSk } : {}),
    ...(plan.networkLock !== undefined ? { network_lock: plan.networkLock } : {}),
    ...(plan.tls !== undefined ? { tls: plan.tls } : {}),
    ...(plan.hooks ? { hooks: renderHooks(plan.hooks) } : {}),
    ...(plan.serviceProbe ? { service_probe: renderProbe(plan.serviceProbe) } : {}),
    ...(plan.serviceAddress
      ? { service_address: { address: plan.serviceAddress.address, source_interface: plan.serviceAddress.sourceInterface, target_interface: plan.serviceAddress.targetInterface } }
      : {}),
    ...(plan.bandwidthCap ? { bandwidth_cap: { rate: formatBandwidth(plan.bandwidthCap.bytesPerSecond), during: plan.bandwidthCap.during ?? 'precopy' } } : {}),
  });
  doc.commentBefore = HEADER;
  for (const key of ['process', 'policy', 'page_server', 'health_check', 'service_probe', 'service_address', 'bandwidth_cap']) {
    const n = doc.get(key, true) as Node | undefined;
    if (isMap(n)) {
      n.flow = true;
      const argv = n.get('command', true) as Node | undefined;
      if (isSeq(argv)) argv.flow = true;
    }
  }
  const sync = doc.get('file_sync', true) as Node | undefined;
  if (isSeq(sync)) sync.flow = plan.fileSync.length <= 3;
  // One hook per line; its command as a flow list, like health_check's.
  const hooksNode = doc.get('hooks', true) as Node | undefined;
  if (isMap(hooksNode)) {
    for (const pair of hooksNode.items) {
      const list = pair.value as Node | undefined;
      if (!isSeq(list)) continue;
      if (!list.items.length) list.flow = true;
      for (const h of list.items) if (isMap(h)) h.flow = true;
    }
  }
  return doc.toString({ lineWidth: 0 });
}

// ---------------------------------------------------------------------------------------
// Command-line flags over a plan file

/** Plan values from command-line flags; only the flags the user typed, so defaults never override a file. */
export interface PlanOverrides {
  source?: string;
  target?: string;
  pid?: number;
  /** --unit or --pidfile: a selector replaces the file's process (and --pid the selector). */
  select?: ProcessSelector;
  /** --port-range. */
  portRange?: PortRange;
  mode?: MigrationPlan['mode'];
  downtimeBudgetMs?: number;
  maxIterations?: number;
  onNotConverging?: MigrationPlan['policy']['onNotConverging'];
  cutoverWhen?: MigrationPlan['policy']['cutoverWhen'];
  auto?: boolean;
  shellJob?: boolean;
  tcpEstablished?: boolean;
  fileLocks?: boolean;
  extUnixSk?: boolean;
  networkLock?: MigrationPlan['networkLock'];
  targetAddress?: string;
  port?: number;
  workDir?: string;
  sync?: string[];
  keepImages?: boolean;
  healthCommand?: string[];
  /** Service probe flags: a kind and target replace the file's probe; the rest adjust it. */
  serviceProbe?: Partial<ServiceProbe>;
  /** --no-tls. */
  tls?: boolean;
  /** --service-address and --service-interface. */
  serviceAddress?: string;
  serviceInterface?: string[];
  /** --max-bandwidth RATE and --cap-final-dump. */
  maxBandwidth?: number;
  capFinalDump?: boolean;
}

/**
 * A plan with flags applied over it. A new --target moves the page server address along
 * when the plan's address was the old target alias (the default) and no --target-address
 * was given. A --health-command replaces the check and keeps the file's timeout.
 */
export function overridePlan(plan: MigrationPlan, o: PlanOverrides): MigrationPlan {
  const out: MigrationPlan = { ...plan, policy: { ...plan.policy }, fileSync: [...plan.fileSync], healthCheck: { ...plan.healthCheck } };
  if (o.source !== undefined) out.source = o.source;
  if (o.target !== undefined) {
    if (o.targetAddress === undefined && plan.targetAddress === plan.target) out.targetAddress = o.target;
    out.target = o.target;
  }
  if (o.pid !== undefined) {
    out.pid = o.pid;
    delete out.select;
  }
  if (o.select) {
    out.select = o.select;
    out.pid = 0;
  }
  if (o.portRange) out.portRange = o.portRange;
  if (o.mode !== undefined) out.mode = o.mode;
  if (o.downtimeBudgetMs !== undefined) out.policy.downtimeBudgetMs = o.downtimeBudgetMs;
  if (o.maxIterations !== undefined) out.policy.maxIterations = o.maxIterations;
  if (o.onNotConverging !== undefined) out.policy.onNotConverging = o.onNotConverging;
  if (o.cutoverWhen !== undefined) out.policy.cutoverWhen = o.cutoverWhen;
  if (o.auto !== undefined) out.auto = o.auto;
  if (o.shellJob !== undefined) out.shellJob = o.shellJob;
  if (o.tcpEstablished !== undefined) out.tcpEstablished = o.tcpEstablished;
  if (o.fileLocks !== undefined) out.fileLocks = o.fileLocks;
  if (o.extUnixSk !== undefined) out.extUnixSk = o.extUnixSk;
  if (o.networkLock !== undefined) out.networkLock = o.networkLock;
  if (o.targetAddress !== undefined) out.targetAddress = o.targetAddress;
  if (o.port !== undefined) out.pageServerPort = o.port;
  if (o.workDir !== undefined) out.workDir = o.workDir;
  if (o.sync !== undefined) out.fileSync = [...o.sync];
  if (o.keepImages !== undefined) out.retention = o.keepImages ? 'keep' : 'delete-on-commit';
  if (o.serviceProbe) {
    const { kind, target, ...rest } = o.serviceProbe;
    const base = kind && target ? withProbeDefaults({ kind, target }) : plan.serviceProbe;
    if (!base) {
      throw new FerryError({ code: 'invalid-argument', message: 'The service probe flags need a probe: --probe-tcp HOST:PORT or --probe-http URL (or a service_probe in the plan)' });
    }
    out.serviceProbe = { ...base, ...Object.fromEntries(Object.entries(rest).filter(([, v]) => v !== undefined)) };
  }
  if (o.tls !== undefined) out.tls = o.tls;
  if (o.healthCommand?.length) {
    const { timeoutMs } = plan.healthCheck;
    out.healthCheck = { kind: 'command', argv: [...o.healthCommand], ...(timeoutMs !== undefined ? { timeoutMs } : {}) };
  }
  // --- service address: a new address keeps the file's interfaces unless given.
  if (o.serviceAddress !== undefined || o.serviceInterface?.length) {
    const [src, tgt] = o.serviceInterface ?? [];
    const prev = plan.serviceAddress;
    out.serviceAddress = {
      address: o.serviceAddress ?? prev?.address ?? '',
      sourceInterface: src ?? prev?.sourceInterface ?? '',
      targetInterface: tgt ?? src ?? prev?.targetInterface ?? '',
    };
  }
  // --- bandwidth cap: a new rate keeps the file's `during` unless --cap-final-dump is given.
  if (o.maxBandwidth !== undefined || o.capFinalDump !== undefined) {
    const prev = plan.bandwidthCap;
    const bytesPerSecond = o.maxBandwidth ?? prev?.bytesPerSecond;
    if (bytesPerSecond === undefined) throw new FerryError({ code: 'invalid-argument', message: '--cap-final-dump needs a cap: --max-bandwidth RATE (or a bandwidth_cap in the plan)', hint: 'Add --max-bandwidth 20MiB/s.' });
    const during = o.capFinalDump !== undefined ? (o.capFinalDump ? 'precopy-and-dump' : 'precopy') : prev?.during;
    out.bandwidthCap = { bytesPerSecond, ...(during ? { during } : {}) };
  }
  return out;
}

/** MigrationPlan field -> the plan file's name for it. */
const FILE_NAMES: Record<string, string> = {
  pid: 'process.pid',
  'select.unit': 'process.unit',
  'select.path': 'process.pidfile',
  select: 'process',
  portRange: 'page_server.port_range',
  'portRange.last': 'page_server.port_range',
  'policy.downtimeBudgetMs': 'downtime_budget',
  'policy.maxIterations': 'policy.max_iterations',
  'policy.growthThreshold': 'policy.growth_threshold',
  'policy.minPages': 'policy.min_pages',
  'policy.onNotConverging': 'policy.on_not_converging',
  'policy.cutoverWhen': 'policy.cutover_when',
  pageServerPort: 'page_server.port',
  targetAddress: 'page_server.address',
  workDir: 'work_dir',
  fileSync: 'file_sync',
  healthCheck: 'health_check',
  'healthCheck.argv': 'health_check.command',
  'healthCheck.port': 'health_check.tcp',
  'healthCheck.url': 'health_check.http',
  'healthCheck.expectStatus': 'health_check.status',
  'healthCheck.timeoutMs': 'health_check.timeout',
  shellJob: 'shell_job',
  tcpEstablished: 'tcp_established',
  fileLocks: 'file_locks',
  extUnixSk: 'ext_unix_sk',
  networkLock: 'network_lock',
  'hooks.beforeCutover': 'hooks.before_cutover',
  'hooks.afterRestore': 'hooks.after_restore',
  'hooks.onRollback': 'hooks.on_rollback',
  serviceProbe: 'service_probe',
  'serviceProbe.target': 'service_probe',
  'serviceProbe.from': 'service_probe.from',
  'serviceProbe.intervalMs': 'service_probe.interval',
  'serviceProbe.timeoutMs': 'service_probe.timeout',
  serviceAddress: 'service_address',
  'serviceAddress.sourceInterface': 'service_address.source_interface',
  'serviceAddress.targetInterface': 'service_address.target_interface',
  bandwidthCap: 'bandwidth_cap',
  'bandwidthCap.bytesPerSecond': 'bandwidth_cap.rate',
  'bandwidthCap.during': 'bandwidth_cap.during',
};

/**
 * Validate a plan built in code (flags, flags over a file) with planSchema; throws a
 * FerryError (code 'invalid-argument') naming the field in the plan file's words.
 */
export function validatePlan(plan: MigrationPlan, what = 'The plan'): MigrationPlan {
  const r = planSchema.safeParse(plan);
  if (r.success) return r.data;
  const i = r.error.issues[0]!;
  const parts = i.path.map(String);
  let name = parts.join('.');
  for (let n = parts.length; n > 0; n--) {
    const known = FILE_NAMES[parts.slice(0, n).join('.')];
    if (known || n === 1) {
      name = (known ?? parts[0]!) + parts.slice(n).map((p) => (/^\d+$/.test(p) ? `[${p}]` : `.${p}`)).join('');
      break;
    }
  }
  const show = name === 'downtime_budget' || name === 'health_check.timeout' || name === 'service_probe.interval' || name === 'service_probe.timeout' ? showMs : name === 'policy.growth_threshold' ? showPercent : undefined;
  throw new FerryError({ code: 'invalid-argument', message: `${what} is invalid: ${name}: ${schemaMessage(i, show)}`, hint: hintFor(name) });
}

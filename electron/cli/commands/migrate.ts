import { createInterface } from 'node:readline';
import { InvalidArgumentError, Option, type Command } from 'commander';
import { defaultPolicy } from '../../../shared/api.ts';
import type { EngineEvent } from '../../../shared/api.ts';
import { POSTCOPY_MODES, postcopyRisk, type IterationStats, type MigrationPlan, type PortRange, type ProcessSelector, type ServiceProbe } from '../../../shared/domain.ts';
import { describeGap, PROBE_LIMITS, withProbeDefaults } from '../../../shared/probe.ts';
import { FerryError } from '../../../shared/errors.ts';
import { bandwidthProblem, parseBandwidth } from '../../../shared/bandwidth-cap.ts';
import { MigrationService } from '../../engine/migrations.ts';
import { loadPlanFile, overridePlan, renderPlanYaml, validatePlan, type PlanOverrides } from '../../engine/plans/plan-file.ts';
import type { MigrationResult } from '../../engine/migration/migration.ts';
import { SshHub } from '../../ssh/index.ts';
import { cliTrustDecider } from '../trust.ts';
import { describeEvent, ITERATION_HEADER, iterationRow, table } from '../progress.ts';
import { int, parseDuration } from '../options.ts';

/** Parse "300ms", "1.5s", "2000" (ms). */

export interface MigrateCliOptions {
  source: string;
  target: string;
  pid?: number;
  mode: MigrationPlan['mode'];
  /** Post-copy: the user accepts that the process is lost if the source dies before the last page. */
  acceptPostcopyRisk?: boolean;
  maxDowntime: string;
  maxIterations: number;
  auto?: boolean;
  onNotConverging: 'cutover' | 'rollback';
  /** Cutover rule: what must fit the budget before auto mode cuts over. */
  cutoverWhen?: 'band' | 'prediction';
  shellJob?: boolean;
  tcpEstablished?: boolean;
  fileLocks?: boolean;
  extUnixSk?: boolean;
  networkLock?: MigrationPlan['networkLock'];
  targetAddress?: string;
  port: number;
  workDir: string;
  sync: string[];
  keepImages?: boolean;
  healthCommand?: string[];
  /** Service probe (client-visible downtime). */
  probeTcp?: string;
  probeHttp?: string;
  probeFrom?: string;
  probeInterval?: string;
  probeTimeout?: string;
  /** false with --no-tls. */
  tls?: boolean;
  force?: boolean;
  json?: boolean;
  verbose?: boolean;
  trustFingerprint?: string[];
  /** Service address: ADDRESS/PREFIX, and SOURCE_IF[,TARGET_IF]. */
  serviceAddress?: string;
  serviceInterface?: string[];
  // Many migrations at once: a process by unit or pidfile, the ports to reserve a pair from.
  unit?: string;
  pidfile?: string;
  portRange?: PortRange;
  /** Bandwidth cap: bytes/s (--max-bandwidth 20MiB/s), and whether it covers the final dump. */
  maxBandwidth?: number;
  capFinalDump?: boolean;
}

// --- Bandwidth cap flags ---
/** --max-bandwidth: "20MiB/s" → bytes/s, refused with the reason when not a rate in bounds. */
export function bandwidthArg(v: string): number {
  const problem = bandwidthProblem(v);
  if (problem) throw new FerryError({ code: 'invalid-argument', message: `--max-bandwidth ${v}: ${problem}`, hint: 'For example --max-bandwidth 20MiB/s (or 500KiB/s, 100Mbit/s).' });
  return parseBandwidth(v)!;
}

/** The plan's bandwidth cap from --max-bandwidth and --cap-final-dump (the latter needs the former). */
export function bandwidthCapFromOptions(o: Pick<MigrateCliOptions, 'maxBandwidth' | 'capFinalDump'>): Pick<MigrationPlan, 'bandwidthCap'> {
  if (o.maxBandwidth === undefined) {
    if (o.capFinalDump) throw new FerryError({ code: 'invalid-argument', message: '--cap-final-dump needs a cap: --max-bandwidth RATE', hint: 'Add --max-bandwidth 20MiB/s.' });
    return {};
  }
  return { bandwidthCap: { bytesPerSecond: o.maxBandwidth, during: o.capFinalDump ? 'precopy-and-dump' : 'precopy' } };
}

/** --unit NAME or --pidfile PATH (one at most), as the plan's selector. */
export function selectorFromOptions(o: Pick<MigrateCliOptions, 'unit' | 'pidfile'>): ProcessSelector | undefined {
  if (o.unit !== undefined && o.pidfile !== undefined) throw new FerryError({ code: 'invalid-argument', message: '--unit and --pidfile exclude each other', hint: 'Name the process one way.' });
  return o.unit !== undefined ? { kind: 'unit', unit: o.unit } : o.pidfile !== undefined ? { kind: 'pidfile', path: o.pidfile } : undefined;
}

/** "27000-27099" -> { first, last }. */
export function portRangeOption(v: string): PortRange {
  const m = /^(\d{1,5})-(\d{1,5})$/.exec(v.trim());
  const r = m ? { first: Number(m[1]), last: Number(m[2]) } : undefined;
  if (!r || r.first < 1 || r.last > 65_535 || r.last < r.first + 1) {
    throw new InvalidArgumentError('expected two TCP ports with a dash, the second above the first, like 27000-27099');
  }
  return r;
}

/** "eth1" (both hosts) or "eth1,br0" (source, target). */
function interfaces(v: string): string[] {
  const parts = v.split(',');
  if (parts.length > 2 || parts.some((p) => !p)) {
    throw new FerryError({ code: 'invalid-argument', message: `--service-interface takes IF or SOURCE_IF,TARGET_IF, got ${v}`, hint: 'For example --service-interface eth1 or --service-interface eth1,br0.' });
  }
  return parts;
}

/** The plan's service address from --service-address and --service-interface (both or neither). */
export function serviceAddressFromOptions(o: Pick<MigrateCliOptions, 'serviceAddress' | 'serviceInterface'>): Pick<MigrationPlan, 'serviceAddress'> {
  if (o.serviceAddress === undefined && !o.serviceInterface) return {};
  if (o.serviceAddress === undefined || !o.serviceInterface?.length) {
    throw new FerryError({ code: 'invalid-argument', message: '--service-address and --service-interface go together', hint: 'For example --service-address 10.0.0.100/24 --service-interface eth1.' });
  }
  const [src, tgt] = o.serviceInterface;
  return { serviceAddress: { address: o.serviceAddress, sourceInterface: src!, targetInterface: tgt ?? src! } };
}

export function planFromOptions(o: MigrateCliOptions): MigrationPlan {
  const select = selectorFromOptions(o);
  if (select && o.pid !== undefined) throw new FerryError({ code: 'invalid-argument', message: `--pid and --${select.kind} exclude each other`, hint: 'Name the process one way.' });
  if (!select && o.pid === undefined) throw new FerryError({ code: 'invalid-argument', message: 'Name the process: --pid N, --unit NAME or --pidfile PATH', hint: '`ferry ps HOST` lists the candidates on a host.' });
  return {
    source: o.source,
    target: o.target,
    pid: select ? 0 : (o.pid ?? 0),
    mode: o.mode,
    shellJob: !!o.shellJob,
    tcpEstablished: !!o.tcpEstablished,
    policy: { ...defaultPolicy, downtimeBudgetMs: parseDuration(o.maxDowntime), maxIterations: o.maxIterations, onNotConverging: o.onNotConverging, ...(o.cutoverWhen ? { cutoverWhen: o.cutoverWhen } : {}) },
    auto: !!o.auto,
    pageServerPort: o.port,
    targetAddress: o.targetAddress ?? o.target,
    workDir: o.workDir,
    fileSync: o.sync,
    healthCheck: o.healthCommand?.length ? { kind: 'command', argv: o.healthCommand } : { kind: 'none' },
    retention: o.keepImages ? 'keep' : 'delete-on-commit',
    ...probePlan(o),
    fileLocks: !!o.fileLocks,
    extUnixSk: !!o.extUnixSk,
    networkLock: o.networkLock ?? 'auto',
    tls: o.tls !== false,
    ...serviceAddressFromOptions(o),
    ...(select ? { select } : {}),
    ...(o.portRange ? { portRange: o.portRange } : {}),
    ...bandwidthCapFromOptions(o),
  };
}

// --- Service probe flags -------------------------------------------------------------------------

/** The probe fields the flags give (kind and target only with --probe-tcp or --probe-http). */
export function probeFlags(o: Pick<MigrateCliOptions, 'probeTcp' | 'probeHttp' | 'probeFrom' | 'probeInterval' | 'probeTimeout'>): Partial<ServiceProbe> | undefined {
  if (o.probeTcp !== undefined && o.probeHttp !== undefined) throw new FerryError({ code: 'invalid-argument', message: '--probe-tcp and --probe-http exclude each other', hint: 'Probe one way: a TCP connect or an HTTP GET.' });
  const kindTarget: Partial<ServiceProbe> = o.probeTcp !== undefined ? { kind: 'tcp', target: o.probeTcp } : o.probeHttp !== undefined ? { kind: 'http', target: o.probeHttp } : {};
  const out: Partial<ServiceProbe> = {
    ...kindTarget,
    ...(o.probeFrom !== undefined ? { from: o.probeFrom } : {}),
    ...(o.probeInterval !== undefined ? { intervalMs: parseDuration(o.probeInterval) } : {}),
    ...(o.probeTimeout !== undefined ? { timeoutMs: parseDuration(o.probeTimeout) } : {}),
  };
  return Object.keys(out).length ? out : undefined;
}

/** Without a plan file: --probe-tcp or --probe-http turns the probe on; the other probe flags need one. */
function probePlan(o: MigrateCliOptions): Pick<MigrationPlan, 'serviceProbe'> {
  const f = probeFlags(o);
  if (!f) return {};
  if (!f.kind || !f.target) throw new FerryError({ code: 'invalid-argument', message: 'The service probe flags need a probe: --probe-tcp HOST:PORT or --probe-http URL' });
  return { serviceProbe: withProbeDefaults({ ...f, kind: f.kind, target: f.target }) };
}

function addPlanOptions(cmd: Command): Command {
  return cmd
    .requiredOption('--source <host>', 'host alias the process runs on now')
    .requiredOption('--target <host>', 'host alias to move it to')
    .option('--pid <pid>', 'PID of the process tree root on the source (or --unit, --pidfile)', int('pid', 1, 4_194_304))
    .option('--unit <name>', "instead of --pid: a systemd unit on the source; its main process (MainPID), read at preflight")
    .option('--pidfile <path>', 'instead of --pid: a file on the source holding the PID, read at preflight')
    .option('--port-range <first-last>', 'ports to reserve a free pair from on the listening host (default: --port and the 99 after it)', portRangeOption)
    .addOption(new Option('--mode <mode>', 'precopy (iterative pre-dumps), cold (one dump) or postcopy (run on the target at once, pages follow)').choices(['precopy', 'cold', 'postcopy']).default('precopy'))
    .option('--max-downtime <duration>', 'the freeze window you accept at cutover', `${defaultPolicy.downtimeBudgetMs}ms`)
    .option('--max-iterations <n>', 'stop pre-copying after this many pre-dumps', int('max-iterations', 1, 50), defaultPolicy.maxIterations)
    .option('--target-address <addr>', "the target's address as the source reaches it (page server link); default: the target's FerryMigrationAddress in Ferry's ssh_config (the lab's private link), else its alias")
    .option('--port <port>', 'page server TCP port on the target: the first of the range Ferry reserves a free pair from', int('port', 1, 65535), 27000)
    .option('--work-dir <dir>', 'image directory on both hosts', '/var/lib/ferry')
    .option('--sync <path...>', 'files to copy to the target at cutover (besides open files that differ)', [])
    .option('--shell-job', 'the process is not a session leader (criu --shell-job)')
    .option('--tcp-established', 'dump established TCP connections (only useful if the IP moves too)')
    .option('--probe-tcp <host:port>', 'measure what clients see: a TCP connect to the service every --probe-interval through the cutover')
    .option('--probe-http <url>', 'measure what clients see: an HTTP GET (200-399 is an answer) every --probe-interval through the cutover')
    .option('--probe-from <host>', 'where the probe runs: local (this machine) or a host alias with python3', undefined)
    .option('--probe-interval <duration>', `one probe attempt this often, ${PROBE_LIMITS.intervalMs.min}ms to ${PROBE_LIMITS.intervalMs.max}ms (default ${PROBE_LIMITS.intervalMs.default}ms)`)
    .option('--probe-timeout <duration>', `a probe attempt with no answer by then failed (default ${PROBE_LIMITS.timeoutMs.default}ms)`)
    .option('--file-locks', 'dump and restore the file locks the tree holds (criu --file-locks)')
    .option('--ext-unix-sk', 'allow datagram sockets talking to a named unix socket outside the tree (criu --ext-unix-sk)')
    .addOption(new Option('--network-lock <method>', 'how CRIU locks TCP connections during the freeze; auto picks what both hosts can run').choices(['auto', 'iptables', 'nftables']))
    .option('--no-tls', 'send pages in clear, without TLS (only on a network you trust)')
    .option('--service-address <addr/prefix>', 'an address clients use (10.0.0.100/24): moved from the source to the target inside the freeze window, announced, moved back on rollback')
    .option('--service-interface <if[,if]>', 'the interface the service address lives on: one name for both hosts, or SOURCE_IF,TARGET_IF', interfaces)
    .option('--max-bandwidth <rate>', "cap the page stream's rate during pre-copy, on the source with tc (20MiB/s, 500KiB/s, 100Mbit/s)", bandwidthArg)
    .option('--cap-final-dump', 'cap the final dump too (it lengthens the freeze window); needs --max-bandwidth')
    .option('--trust-fingerprint <fp...>', 'trust a host key with this SHA256 fingerprint without asking')
    .option('--json', 'one JSON object per line; the last line summarises the run')
    .option('-v, --verbose', 'show every command as it runs');
}

const PLAN_REQUIRED = ['--source', '--target', '--pid'];

/** Without --plan, --source, --target and --pid (or --unit, --pidfile) are required, with commander's own message. */
function requirePlanFlags(o: MigrateCliOptions, cmd: Command): MigrateCliOptions {
  for (const opt of cmd.options) {
    if (opt.long === '--pid' && (o.unit !== undefined || o.pidfile !== undefined)) continue;
    if (PLAN_REQUIRED.includes(opt.long ?? '') && cmd.getOptionValue(opt.attributeName()) === undefined) {
      cmd.error(`error: required option '${opt.flags}' not specified${opt.long === '--pid' ? ' (or --unit NAME or --pidfile PATH)' : ''} (or give --plan FILE)`, { code: 'commander.missingMandatoryOptionValue' });
    }
  }
  return o;
}

/** A plan file with the flags the user typed on top; commander's defaults never override the file. */
export function planFileWithFlags(file: string, o: MigrateCliOptions, cmd: Command): MigrationPlan {
  const typed = (key: keyof MigrateCliOptions) => {
    const source = cmd.getOptionValueSource(key);
    return source !== undefined && source !== 'default' ? o[key] : undefined;
  };
  const maxDowntime = typed('maxDowntime') as string | undefined;
  const flags: PlanOverrides = {
    source: typed('source') as string | undefined,
    target: typed('target') as string | undefined,
    pid: typed('pid') as number | undefined,
    select: selectorFromOptions(o),
    portRange: o.portRange,
    mode: typed('mode') as MigrateCliOptions['mode'] | undefined,
    downtimeBudgetMs: maxDowntime !== undefined ? parseDuration(maxDowntime) : undefined,
    maxIterations: typed('maxIterations') as number | undefined,
    onNotConverging: typed('onNotConverging') as MigrateCliOptions['onNotConverging'] | undefined,
    cutoverWhen: typed('cutoverWhen') as MigrateCliOptions['cutoverWhen'] | undefined,
    auto: typed('auto') as boolean | undefined,
    shellJob: typed('shellJob') as boolean | undefined,
    tcpEstablished: typed('tcpEstablished') as boolean | undefined,
    fileLocks: typed('fileLocks') as boolean | undefined,
    extUnixSk: typed('extUnixSk') as boolean | undefined,
    networkLock: typed('networkLock') as MigrateCliOptions['networkLock'],
    targetAddress: typed('targetAddress') as string | undefined,
    port: typed('port') as number | undefined,
    workDir: typed('workDir') as string | undefined,
    sync: typed('sync') as string[] | undefined,
    keepImages: typed('keepImages') as boolean | undefined,
    healthCommand: typed('healthCommand') as string[] | undefined,
    serviceProbe: probeFlags(o),
    tls: typed('tls') as boolean | undefined,
    serviceAddress: typed('serviceAddress') as string | undefined,
    serviceInterface: typed('serviceInterface') as string[] | undefined,
    maxBandwidth: typed('maxBandwidth') as number | undefined,
    capFinalDump: typed('capFinalDump') as boolean | undefined,
  };
  return validatePlan(overridePlan(loadPlanFile(file), flags), `The plan from ${file} with your flags`);
}

/** Build the engine pieces a CLI run needs: one hub (one connection per host), one service. */
function cliService(o: { trustFingerprint?: string[]; json?: boolean }, onEvent: (e: EngineEvent) => void) {
  const hub = new SshHub({ trust: cliTrustDecider({ fingerprints: o.trustFingerprint ?? [], interactive: !o.json && process.stdin.isTTY === true }) });
  const service = new MigrationService((alias) => hub.session(alias), onEvent);
  return { hub, service };
}

function printer(o: { json?: boolean; verbose?: boolean }) {
  // Post-copy progress comes twice a second: a line per 10% is enough on a terminal.
  let lastTenth = -1;
  return (e: EngineEvent) => {
    if (o.json) {
      process.stdout.write(`${JSON.stringify(e)}\n`);
      return;
    }
    if (e.type === 'transfer' && e.totalBytes) {
      const tenth = Math.floor((10 * e.doneBytes) / e.totalBytes);
      if (tenth === lastTenth) return;
      lastTenth = tenth;
    }
    const line = describeEvent(e, { verbose: o.verbose });
    if (line) process.stdout.write(`${line}\n`);
  };
}

export function summaryLine(r: MigrationResult, plan?: Pick<MigrationPlan, 'source' | 'target' | 'pid'>) {
  return {
    type: 'summary',
    migrationId: r.migrationId,
    // Many migrations at once: which process (as resolved) between which hosts.
    ...(plan ? { source: plan.source, target: plan.target, pid: r.pid ?? plan.pid } : {}),
    pageServerPort: r.pageServerPort ?? null,
    outcome: r.outcome,
    freezeWindowMs: r.freezeWindowMs ?? null,
    predictedMs: r.predictedMs ?? null,
    iterations: r.iterations,
    bytesThroughConsole: r.bytesThroughConsole,
    // Service probe: what clients saw (summary and runs), null when the plan had none.
    serviceProbe: r.serviceProbe ?? null,
    error: r.error ?? null,
    // Evacuating a host: where the process runs now (null: check both hosts by hand), and its unit there.
    runsOn: r.runsOn ?? null,
    unit: r.unit ?? null,
  };
}

export function printSummary(r: MigrationResult, iterations: IterationStats[]): void {
  process.stdout.write(`\n${table(ITERATION_HEADER, iterations.map(iterationRow))}\n`);
  if (r.freezeWindowMs !== undefined) {
    const err = r.predictedMs !== undefined ? ` (predicted ${r.predictedMs} ms, error ${Math.round(((r.predictedMs - r.freezeWindowMs) / r.freezeWindowMs) * 100)}%)` : '';
    process.stdout.write(`freeze window: ${r.freezeWindowMs} ms measured${err}\n`);
  }
  if (r.serviceProbe) process.stdout.write(`client-visible: ${describeGap(r.serviceProbe)}\n`);
  process.stdout.write(`outcome: ${r.outcome}\n`);
}

/**
 * Ctrl-C never leaves the process in two places: it asks (on a terminal) whether to roll
 * back or carry on; a second Ctrl-C, or no terminal, rolls back. SIGTERM (a job cancelled in
 * AWX, a pod stopped, systemd) and SIGHUP (its terminal went away) roll back without asking:
 * nobody is left to answer, and the source must not stay frozen until someone runs recover.
 */
export function guardInterrupt(control: (a: 'rollback') => void): () => void {
  let asked = false;
  const rollBack = (why: string) => {
    process.stderr.write(`\n${why}: rolling back…\n`);
    control('rollback');
  };
  const onSigint = () => {
    if (asked || !process.stdin.isTTY) return rollBack('interrupted');
    asked = true;
    const rl = createInterface({ input: process.stdin, output: process.stderr });
    rl.question('\nInterrupted. [r]oll back now, or [c]ontinue the migration? ', (answer) => {
      rl.close();
      asked = false;
      if (/^c/i.test(answer.trim())) process.stderr.write('continuing\n');
      else control('rollback');
    });
  };
  const onSigterm = () => rollBack('SIGTERM');
  const onSighup = () => rollBack('SIGHUP');
  process.on('SIGINT', onSigint);
  process.on('SIGTERM', onSigterm);
  // Only from a terminal: under nohup (stdin not a terminal) SIGHUP is ignored on purpose, and
  // a handler here would undo that.
  if (process.stdin.isTTY) process.on('SIGHUP', onSighup);
  return () => {
    process.off('SIGINT', onSigint);
    process.off('SIGTERM', onSigterm);
    process.off('SIGHUP', onSighup);
  };
}

/**
 * Post-copy may lose the process: the user says yes first, with --accept-postcopy-risk or
 * on a terminal. Without either, nothing starts.
 */
export async function confirmPostcopyRisk(
  plan: MigrationPlan,
  o: { acceptPostcopyRisk?: boolean; json?: boolean },
  ask: ((question: string) => Promise<string>) | undefined = process.stdin.isTTY && !o.json ? askLine : undefined,
): Promise<void> {
  if (!POSTCOPY_MODES.includes(plan.mode) || o.acceptPostcopyRisk) return;
  const risk = postcopyRisk(plan.source, plan.target);
  if (!ask) {
    throw new FerryError({ code: 'postcopy-risk-not-accepted', message: `Not started. ${risk}`, hint: 'Add --accept-postcopy-risk to accept this, or use --mode precopy.' });
  }
  const answer = await ask(`WARNING: ${risk}\nStart the post-copy migration? Type yes to go on: `);
  if (answer.trim().toLowerCase() !== 'yes') {
    throw new FerryError({ code: 'postcopy-risk-not-accepted', message: 'Not started: post-copy was not confirmed.', hint: 'Answer yes, pass --accept-postcopy-risk, or use --mode precopy.' });
  }
}

function askLine(question: string): Promise<string> {
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  return new Promise((resolve) => rl.question(question, (a) => (rl.close(), resolve(a))));
}

export async function runMigration(o: MigrateCliOptions, plan: MigrationPlan = planFromOptions(o)): Promise<MigrationResult> {
  await confirmPostcopyRisk(plan, o);
  const print = printer(o);
  const iterations: IterationStats[] = [];
  const { hub, service } = cliService(o, (e) => {
    if (e.type === 'iteration') iterations.push(e.stats);
    print(e);
  });
  try {
    // Post-copy takes no decisions on the way: nothing to wait for the user's keys for.
    const manual = !plan.auto && !POSTCOPY_MODES.includes(plan.mode);
    if (manual && !process.stdin.isTTY) {
      throw new FerryError({ code: 'invalid-argument', message: 'Manual mode needs a terminal to take your decisions', hint: 'Add --auto to let the policy decide, or run in a terminal.' });
    }
    const { migrationId, done } = service.start(plan, { overrideBlockers: o.force });
    const unguard = guardInterrupt((a) => service.control(migrationId, a));
    const stopKeys = !manual ? () => undefined : manualKeys((a) => service.control(migrationId, a));
    const result = await done.finally(() => {
      unguard();
      stopKeys();
    });
    if (o.json) process.stdout.write(`${JSON.stringify(summaryLine(result, plan))}\n`);
    else printSummary(result, iterations);
    return result;
  } finally {
    await hub.closeAll();
  }
}

/** Manual mode's keys: n = one more pre-dump, c = cut over now, a = abort. */
function manualKeys(control: (a: 'one-more' | 'cutover-now' | 'abort') => void): () => void {
  process.stderr.write('keys: [n] one more pre-dump  [c] cut over now  [a] abort (roll back)\n');
  const stdin = process.stdin;
  stdin.setRawMode?.(true);
  stdin.resume();
  const onData = (b: Buffer) => {
    const k = b.toString();
    if (k === '\u0003') process.emit('SIGINT');
    else if (k === 'n') control('one-more');
    else if (k === 'c') control('cutover-now');
    else if (k === 'a') control('abort');
  };
  stdin.on('data', onData);
  return () => {
    stdin.off('data', onData);
    stdin.setRawMode?.(false);
    stdin.pause();
  };
}

export function registerMigrateCommands(program: Command): void {
  addPlanOptions(
    program
      .command('preflight')
      .description('Check both hosts and the process before a migration; changes nothing')
  ).action(async (o: MigrateCliOptions) => {
    const plan = planFromOptions(o);
    const { hub, service } = cliService(o, printer({ json: o.json, verbose: o.verbose }));
    try {
      const report = await service.preflight(plan);
      if (o.json) process.stdout.write(`${JSON.stringify(report)}\n`);
      else {
        for (const c of report.checks) {
          process.stdout.write(`${c.status.padEnd(4)}  ${c.host ? `${c.host}: ` : ''}${c.title}: ${c.detail}${c.fix && c.status !== 'pass' ? `\n      fix: ${c.fix}` : ''}\n`);
        }
        process.stdout.write(report.blockers ? `\n${report.blockers} blocker(s)\n` : '\nready to migrate\n');
      }
      process.exitCode = report.blockers ? 1 : 0;
    } finally {
      await hub.closeAll();
    }
  });

  addPlanOptions(
    program
      .command('migrate')
      .description('Live-migrate a process tree from --source to --target with CRIU')
      .option('--auto', 'let the policy decide when to cut over (no keys needed)')
      .addOption(new Option('--on-not-converging <what>', 'auto mode, when pre-copy stops converging').choices(['rollback', 'cutover']).default('rollback'))
      .addOption(new Option('--cutover-when <edge>', "auto mode cuts over when this fits the budget: band (the estimate's upper edge; the default) or prediction").choices(['band', 'prediction']))
      .option('--keep-images', 'keep the image directories after a successful migration')
      .option('--health-command <argv...>', 'a command run on the target after restore; non-zero rolls back')
      .option('--force', 'start even when preflight finds blockers')
      .option('--accept-postcopy-risk', 'post-copy: accept that the process is lost if the source dies or the link drops before all pages arrive')
      .option('--plan <file>', 'read the plan from a YAML file (see `ferry plan new`); flags given here override its values'),
  ).action(async (o: MigrateCliOptions & { plan?: string }, cmd: Command) => {
    const r = await runMigration(o, o.plan ? planFileWithFlags(o.plan, o, cmd) : planFromOptions(requirePlanFlags(o, cmd)));
    process.exitCode = r.outcome === 'committed' ? 0 : r.outcome === 'rolled-back' ? 3 : 1;
  });
  // With --plan, the file names source, target and pid; without it they are required as before.
  for (const opt of program.commands.find((c) => c.name() === 'migrate')!.options) {
    if (PLAN_REQUIRED.includes(opt.long ?? '')) opt.makeOptionMandatory(false);
  }

  const plans = program.command('plan').description('Migration plans as YAML files: write one from flags, check one');
  addPlanOptions(
    plans
      .command('new')
      .description('Print a plan file built from flags: ferry plan new --source A --target B --pid N > plan.yaml')
      .option('--auto', 'let the policy decide when to cut over (no keys needed)')
      .addOption(new Option('--on-not-converging <what>', 'auto mode, when pre-copy stops converging').choices(['rollback', 'cutover']).default('rollback'))
      .addOption(new Option('--cutover-when <edge>', "auto mode cuts over when this fits the budget: band (the estimate's upper edge; the default) or prediction").choices(['band', 'prediction']))
      .option('--keep-images', 'keep the image directories after a successful migration')
      .option('--health-command <argv...>', 'a command run on the target after restore; non-zero rolls back'),
  ).action((o: MigrateCliOptions) => {
    const plan = validatePlan(planFromOptions(o), 'The plan from these flags');
    process.stdout.write(o.json ? `${JSON.stringify(plan)}\n` : renderPlanYaml(plan));
  });
  plans
    .command('check <file>')
    .description('Validate a plan file and print it normalized (defaults filled in); exit 1 naming the line and column of each problem')
    .option('--json', 'print the plan as JSON')
    .action((file: string, o: { json?: boolean }) => {
      const plan = loadPlanFile(file);
      process.stdout.write(o.json ? `${JSON.stringify(plan)}\n` : renderPlanYaml(plan));
    });

  const journal = program.command('journal').description('Past and unfinished migrations, from their journals');
  journal
    .command('list')
    .description('every migration, newest first, with where unfinished ones stopped')
    .option('--json', 'as JSON')
    .action((o: { json?: boolean }) => {
      const service = new MigrationService(() => {
        throw new Error('no sessions needed');
      }, () => undefined);
      const list = service.list();
      if (o.json) {
        process.stdout.write(`${JSON.stringify(list)}\n`);
        return;
      }
      if (!list.length) process.stdout.write('no migrations yet\n');
      for (const j of list) {
        process.stdout.write(`${j.id}  ${j.source} → ${j.target}  ${j.process || `PID ${j.pid}`}  ${j.finished ? j.outcome : `UNFINISHED at ${j.lastPhase}`}${j.settled ? `  settled: ${j.settled}` : ''}\n`);
        if (!j.finished && j.nextStep) process.stdout.write(`    next: ${j.nextStep}\n`);
      }
    });
  journal
    .command('recover <id>')
    .description('carry out the safe next step of an unfinished migration (rollback unless told otherwise)')
    .option('--rollback', 'resume the source and clean the target, whatever state it is in')
    .option('--commit', 'keep the copy running on the target and kill the frozen source')
    .option('--trust-fingerprint <fp...>', 'trust a host key with this SHA256 fingerprint without asking')
    .option('--json', 'events as JSON lines')
    .option('-v, --verbose', 'show every command as it runs')
    .action(async (id: string, o: { rollback?: boolean; commit?: boolean; trustFingerprint?: string[]; json?: boolean; verbose?: boolean }) => {
      if (o.rollback && o.commit) throw new FerryError({ code: 'invalid-argument', message: '--rollback and --commit exclude each other' });
      const { hub, service } = cliService(o, printer(o));
      try {
        const r = await service.recover(id, o.commit ? 'commit' : o.rollback ? 'rollback' : 'auto');
        process.exitCode = r.outcome === 'failed' ? 1 : 0;
      } finally {
        await hub.closeAll();
      }
    });
  for (const [name, what] of [
    ['show', 'the Markdown report of one migration'],
    ['report', 'the Markdown report of one migration'],
    ['runbook', 'a shell script of the exact commands that ran, per host'],
  ] as const) {
    journal
      .command(`${name} <id>`)
      .description(what)
      .action((id: string) => {
        const service = new MigrationService(() => {
          throw new Error('no sessions needed');
        }, () => undefined);
        process.stdout.write(name === 'runbook' ? service.runbook(id) : service.report(id));
      });
  }
}

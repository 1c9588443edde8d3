/**
 * A migration's report (Markdown) and runbook (POSIX sh), both rendered from its journal's
 * replay: what the on-call engineer reads after the fact, and the exact commands to repeat or
 * audit it by hand.
 */
import { LOCAL_HOST } from '../../../shared/api.ts';
import type { DowntimeEstimate } from '../../../shared/domain.ts';
import { formatMs, formatRate, predictionWithDefaultCosts, type DowntimeEstimateDetail, type TermName } from '../../../shared/estimate.ts';
import { measuredCutover } from './learn.ts';
import { quoteArg, quoteArgv } from '../../ssh/quote.ts';
import { criuSubcommand, isRedacted, type Replay, type ReplayedCommand } from './journal.ts';
import { describeGap } from '../../../shared/probe.ts';
import { capCoversDump, describeBandwidth } from '../../../shared/bandwidth-cap.ts';

// ---------------------------------------------------------------------------------------------
// Markdown helpers

function cell(s: string | number | undefined | null): string {
  if (s === undefined || s === null || s === '') return '–';
  return String(s).replace(/\\/g, '\\\\').replace(/\|/g, '\\|').replace(/\r?\n/g, ' ⏎ ');
}

/** An inline code span that survives backticks inside. */
function code(s: string): string {
  const runs = s.match(/`+/g) ?? [];
  const fence = '`'.repeat(Math.max(0, ...runs.map((r) => r.length)) + 1);
  const pad = s.startsWith('`') || s.endsWith('`') ? ' ' : '';
  return `${fence}${pad}${s}${pad}${fence}`;
}

function table(head: string[], rows: (string | number | undefined | null)[][]): string {
  return [`| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`, ...rows.map((r) => `| ${r.map(cell).join(' | ')} |`)].join('\n');
}

/** Time of day (UTC) of an ISO timestamp; the date is in the header. */
const time = (iso: string | undefined) => (iso ? iso.replace(/^\d{4}-\d{2}-\d{2}T/, '') : '–');
const since = (start: string | undefined, iso: string | undefined) => {
  if (!start || !iso) return '';
  const d = Date.parse(iso) - Date.parse(start);
  return Number.isFinite(d) ? `+${formatMs(d)}` : '';
};
const num = (n: number | undefined, digits = 0) => (n === undefined || !Number.isFinite(n) ? '–' : n.toFixed(digits));

function exitText(c: ReplayedCommand): string {
  if (!c.finished) return 'did not finish';
  if (c.timedOut) return `timed out${c.signal ? ` (${c.signal})` : ''}`;
  if (c.code === null || c.code === undefined) return c.signal ? `signal ${c.signal}` : 'no exit code';
  return String(c.code);
}

/** The command as it ran on its host (sudo included), shell-quoted. */
function remoteArgv(argv: readonly string[], sudo: boolean): string[] {
  return [...(sudo ? ['sudo', '-n', '--'] : []), ...argv];
}

function commandText(c: ReplayedCommand): string {
  const main = `${c.host}: ${quoteArgv(remoteArgv(c.argv, c.sudo))}`;
  if (c.hook) return `${main}  (${c.hook.phase} hook "${c.hook.name}")`;
  return c.pipeTo ? `${main} | ${c.pipeTo.host}: ${quoteArgv(remoteArgv(c.pipeTo.argv, c.pipeTo.sudo))}` : main;
}

// ---------------------------------------------------------------------------------------------
// Report

export function renderReport(r: Replay): string {
  const p = r.plan;
  const out: string[] = [];
  out.push(`# Migration ${r.id || '(no id)'}`);
  out.push('');
  if (r.outcome) {
    out.push(`**Outcome: ${r.outcome.outcome}** at ${r.outcome.at}. ${r.outcome.summary}`);
  } else {
    out.push(`**Unfinished**: the journal stops in phase \`${r.phase}\`${r.lastAt ? ` at ${r.lastAt}` : ''}.`);
    if (r.summary.nextStep) out.push('', `**Next step:** ${r.summary.nextStep}`);
  }
  out.push('');
  if (p) {
    out.push(
      table(
        ['what', 'value'],
        [
          ['source → target', `${p.source} → ${p.target}`],
          ['process', `PID ${p.pid}${p.shellJob ? ' (--shell-job)' : ''}${p.tcpEstablished ? ' (--tcp-established)' : ''}${p.fileLocks ? ' (--file-locks)' : ''}${p.extUnixSk ? ' (--ext-unix-sk)' : ''}`],
          ['mode', `${p.mode}, ${p.auto ? 'auto (policy decides)' : 'manual'}`],
          ['page server', `${p.targetAddress}:${p.pageServerPort}`],
          // Say plainly whether process memory crossed the network encrypted.
          [
            'page streams',
            p.tls === false
              ? '**TLS off**: pages crossed the network in clear, and the page server took the first client that connected'
              : 'TLS, both hosts authenticated by a CA made for this migration (keys deleted at commit or rollback)',
          ],
          ['work dir', `${r.imagesRoot ?? p.workDir}`],
          [
            'policy',
            `budget ${formatMs(p.policy.downtimeBudgetMs)}, max ${p.policy.maxIterations} pre-dumps, growth ${Math.round(p.policy.growthThreshold * 100)}%, min ${p.policy.minPages} pages`,
          ],
          // Without a health check, "committed" proves only that the process exists.
          ['health check', p.healthCheck.kind === 'none' ? "none: only the process's presence on the target was checked" : p.healthCheck.kind],
          [
            'traffic hooks',
            p.hooks && (p.hooks.beforeCutover.length || p.hooks.afterRestore.length || p.hooks.onRollback.length)
              ? `${p.hooks.beforeCutover.length} before cutover, ${p.hooks.afterRestore.length} after restore, ${p.hooks.onRollback.length} on rollback`
              : 'none',
          ],
          // Service address.
          ...(p.serviceAddress ? [['service address', `${p.serviceAddress.address}: ${p.source} ${p.serviceAddress.sourceInterface} → ${p.target} ${p.serviceAddress.targetInterface}`]] : []),
          // Bandwidth cap.
          ...(p.bandwidthCap
            ? [['bandwidth cap', `${describeBandwidth(p.bandwidthCap.bytesPerSecond)} on the page stream (tc on ${p.source}), ${capCoversDump(p.bandwidthCap) ? 'pre-copy and the final dump' : 'pre-copy only'}`]]
            : []),
          ['files synced', p.fileSync.length ? p.fileSync.join(', ') : 'none'],
          ['retention', p.retention],
          ['started', r.startedAt],
        ],
      ),
    );
  } else {
    out.push('The journal has no migration-started record: the plan is unknown.');
  }

  // Freeze window: the number that matters most.
  out.push('', '## Freeze window');
  const final = r.iterations.find((i) => i.kind === 'dump');
  const predicted = r.outcome?.predictedMs ?? lastEstimateBeforeCutover(r)?.estimate.predictedMs;
  const estAtCutover = lastEstimateBeforeCutover(r);
  const rows: (string | undefined)[][] = [];
  if (predicted !== undefined) {
    rows.push([
      'predicted at cutover',
      `${formatMs(predicted)}${estAtCutover ? ` (${formatMs(estAtCutover.estimate.lowMs)}–${formatMs(estAtCutover.estimate.highMs)}, budget ${formatMs(estAtCutover.estimate.budgetMs)})` : ''}`,
    ]);
  }
  if (r.outcome?.freezeWindowMs !== undefined) rows.push(['measured (host clock, final dump start → restore done)', formatMs(r.outcome.freezeWindowMs)]);
  if (predicted !== undefined && r.outcome?.freezeWindowMs !== undefined && r.outcome.freezeWindowMs > 0) {
    const err = (predicted - r.outcome.freezeWindowMs) / r.outcome.freezeWindowMs;
    rows.push(['prediction error', `${err >= 0 ? '+' : ''}${(err * 100).toFixed(0)}%`]);
  }
  if (final) {
    const predFrozen = estAtCutover && 'frozen' in estAtCutover.estimate ? (estAtCutover.estimate as { frozen?: { ms: number } }).frozen?.ms : undefined;
    rows.push([
      'CRIU frozen_time of the final dump (source frozen)',
      `${formatMs(final.frozenTimeUs / 1000)}${predFrozen !== undefined ? ` (predicted ${formatMs(predFrozen)})` : ''}`,
    ]);
  }
  if (r.restoreStats) {
    const rs = r.restoreStats;
    rows.push([
      'CRIU restore_time on the target (stats-restore)',
      `${rs.restoreTimeUs !== undefined ? formatMs(rs.restoreTimeUs / 1000) : '–'}${rs.pagesRestored !== undefined ? `, ${rs.pagesRestored} pages restored` : ''}${rs.forkingTimeUs !== undefined ? `, forking ${formatMs(rs.forkingTimeUs / 1000)}` : ''}`,
    ]);
  }
  out.push(rows.length ? table(['', ''], rows) : 'No cutover was reached.');
  if (estAtCutover) out.push('', `Basis of the estimate: ${estAtCutover.estimate.basis}`);
  out.push(...phaseComparison(r, estAtCutover?.estimate));
  out.push(...clientDowntime(r));

  // Timeline
  out.push('', '## Timeline');
  out.push(
    r.phases.length
      ? table(
          ['phase', 'at', 'since start', 'note'],
          r.phases.map((x) => [x.phase, time(x.at), since(r.startedAt, x.at), x.note]),
        )
      : 'No phase was recorded.',
  );

  // Iterations
  out.push('', '## Iterations (CRIU stats-dump)');
  out.push(
    r.iterations.length
      ? table(
          ['#', 'kind', 'pages written', 'skipped (unchanged)', 'frozen', 'memwrite', 'criu wall', 'dirty rate', 'bandwidth'],
          r.iterations.map((i) => [
            i.index,
            i.kind,
            i.pagesWritten,
            i.pagesSkippedParent,
            formatMs(i.frozenTimeUs / 1000),
            formatMs(i.memwriteTimeUs / 1000),
            formatMs(i.wallMs),
            i.dirtyPagesPerSec !== undefined ? `${num(i.dirtyPagesPerSec)} pages/s` : '–',
            i.bandwidthBytesPerSec !== undefined ? formatRate(i.bandwidthBytesPerSec) : '–',
          ]),
        )
      : 'No iteration was recorded.',
  );

  if (r.estimates.length) {
    out.push('', '## Estimates and recommendations');
    out.push(
      table(
        ['after #', 'predicted', 'band', 'budget', 'fits', 'recommendation', 'reason'],
        r.estimates.map((e) => [
          e.afterIteration,
          formatMs(e.estimate.predictedMs),
          `${formatMs(e.estimate.lowMs)}–${formatMs(e.estimate.highMs)}`,
          formatMs(e.estimate.budgetMs),
          e.estimate.fits ? 'yes' : 'no',
          e.recommendation.kind,
          e.recommendation.reason,
        ]),
      ),
    );
  }

  if (r.hooks.length) {
    out.push('', '## Traffic hooks');
    const byId = new Map(r.commands.map((c) => [c.commandId, c]));
    out.push(
      table(
        ['at', 'phase', 'hook', 'on', 'outcome', 'duration', 'command', 'why'],
        r.hooks.map((h) => {
          const c = h.commandId ? byId.get(h.commandId) : undefined;
          return [time(h.at), h.phase, h.name, c?.host ?? h.on, h.outcome, formatMs(h.durationMs), c ? code(quoteArgv(c.argv)) : '–', h.detail];
        }),
      ),
    );
  }

  if (r.decisions.length) {
    out.push('', '## Decisions');
    out.push(table(['at', 'by', 'action', 'reason'], r.decisions.map((d) => [time(d.at), d.by, d.action, d.reason])));
  }
  if (r.rollbackPlans.length) {
    out.push('', '## Rollback plan');
    const last = r.rollbackPlans[r.rollbackPlans.length - 1]!;
    out.push(`Announced at ${time(last.at)}:`, '', ...last.steps.map((s, i) => `${i + 1}. ${s}`));
  }
  if (r.errors.length) {
    out.push('', '## Errors');
    for (const e of r.errors) {
      out.push(`- ${time(e.at)} ${e.error.host ? `**${e.error.host}**: ` : ''}${e.error.message}${e.error.evidence ? ` — ${code(e.error.evidence)}` : ''}${e.error.hint ? ` Next: ${e.error.hint}` : ''}`);
    }
  }

  out.push('', '## Commands');
  out.push(
    r.commands.length
      ? table(
          ['#', 'phase', 'started', 'host', 'command', 'duration', 'exit'],
          r.commands.map((c, i) => [
            i + 1,
            c.phase,
            time(c.startedAt),
            c.pipeTo ? `${c.host} → ${c.pipeTo.host}` : c.host,
            code(commandText(c)),
            c.durationMs !== undefined ? formatMs(c.durationMs) : '–',
            exitText(c),
          ]),
        )
      : 'No command was recorded.',
  );
  const failed = r.commands.filter((c) => c.finished && c.code !== 0);
  if (failed.length) {
    out.push('', '### Why commands failed (last lines of stderr)');
    for (const c of failed) {
      const tail = (c.stderrTail ?? '').trim().split('\n').slice(-3).join('\n');
      out.push('', `- ${c.host}: ${code(c.argv.slice(0, 2).join(' '))} exit ${exitText(c)}`, tail ? `\n  \`\`\`\n  ${tail.replace(/\n/g, '\n  ')}\n  \`\`\`` : '');
    }
  }
  if (r.warnings.length) {
    out.push('', '## Journal warnings', ...r.warnings.map((w) => `- ${w}`));
  }
  out.push('');
  return out.join('\n');
}

const signedPct = (predicted: number, measured: number | undefined) =>
  measured === undefined || measured <= 0 ? '–' : `${predicted >= measured ? '+' : ''}${(((predicted - measured) / measured) * 100).toFixed(0)}%`;

/**
 * Service probe: the gap clients saw beside the freeze window, and the timeline of answered
 * and failed attempts (runs, not attempts). Times are ms after the probe started.
 */
function clientDowntime(r: Replay): string[] {
  const sp = r.serviceProbe;
  const planned = r.plan?.serviceProbe;
  if (!sp) return planned && r.outcome ? ['', '## Client-visible downtime', `A ${planned.kind} probe of ${planned.target} was planned but did not run (the cutover was not reached).`] : [];
  const p = sp.probe;
  const out = ['', '## Client-visible downtime'];
  out.push(
    `${p.kind === 'tcp' ? 'TCP connect to' : 'HTTP GET of'} ${p.target} from ${p.from === LOCAL_HOST ? 'this machine' : p.from}, a new connection every ${formatMs(p.intervalMs)} (timeout ${formatMs(p.timeoutMs)}), from just before the final dump until ${formatMs(sp.durationMs)} later.`,
  );
  const g = sp.longestGap;
  const rows: (string | undefined)[][] = [
    ['longest gap clients saw', g ? `${formatMs(g.ms)}${g.recovered ? '' : ' (the service did not answer again while probed)'}${g.fromStart ? ' (failing from the first attempt)' : ''}` : 'none: every attempt was answered'],
    ['freeze window (host clock)', r.outcome?.freezeWindowMs !== undefined ? formatMs(r.outcome.freezeWindowMs) : '–'],
    ['attempts', `${sp.attempts}: ${sp.successes} answered, ${sp.failures} failed`],
  ];
  if (sp.freeze) rows.push(['freeze on the probe\'s timeline', `${formatMs(sp.freeze.startMs)} → ${sp.freeze.endMs !== undefined ? formatMs(sp.freeze.endMs) : '?'}`]);
  out.push(table(['', ''], rows));
  if (sp.note) out.push('', `Note: ${sp.note}.`);
  if (!g) out.push('', describeGap(sp).replace(/^./, (c) => c.toUpperCase()) + '.');
  if (sp.runs.length) {
    out.push('', table(['from', 'to', 'outcome', 'attempts', 'first error'], sp.runs.map((x) => [formatMs(x.startMs), formatMs(x.endMs), x.ok ? 'answered' : 'failed', x.attempts, x.error])));
    if (sp.runsLeftOut) out.push('', `${sp.runsLeftOut} more runs are not listed.`);
  }
  return out;
}

/**
 * Predicted against measured for every phase of the freeze window: the terms of the estimate
 * the cutover was decided on, beside what the final dump's stats and the journal's command
 * durations say each part took. Shows where a wrong prediction went wrong.
 */
function phaseComparison(r: Replay, estimate: DowntimeEstimate | undefined): string[] {
  if (!estimate || !('terms' in estimate) || !r.outcome?.freezeWindowMs) return [];
  const e = estimate as DowntimeEstimateDetail;
  const m = measuredCutover(r);
  const term = (name: TermName) => e.terms.find((t) => t.name === name);
  const rows: (string | undefined)[][] = [];
  const add = (what: string, predicted: number | undefined, measured: number | undefined, source?: string) => {
    if (predicted === undefined && measured === undefined) return;
    rows.push([what, predicted !== undefined ? formatMs(predicted) : '–', measured !== undefined ? formatMs(measured) : '–', predicted !== undefined ? signedPct(predicted, measured) : '–', source]);
  };
  const sourceOf = (name: TermName) => (term(name)?.source === 'default' ? 'lab default' : term(name)?.source);
  add('final dump: fixed part (frozen − memdump)', term('dump-fixed')?.ms, m.dumpFixedMs, sourceOf('dump-fixed'));
  add('final dump: draining dirty pages', term('drain')?.ms, m.drainMs, sourceOf('drain'));
  add('final dump: writing pages to the page server', term('memwrite')?.ms, m.memwriteMs, sourceOf('memwrite'));
  add('= CRIU frozen_time (source frozen)', e.frozen?.ms, m.frozenMs);
  add('final dump: start-up, images, ssh', term('dump-overhead')?.ms, m.dumpOverheadMs, sourceOf('dump-overhead'));
  add('copy of images and open files', term('copy')?.ms, m.copyMs, sourceOf('copy'));
  add('restore on the target', term('restore')?.ms, m.restoreMs, sourceOf('restore'));
  add('= freeze window', e.predictedMs, m.freezeWindowMs);
  const out = ['', '## Predicted against measured, per phase', table(['phase', 'predicted', 'measured', 'error', 'prediction from'], rows)];
  const unlearned = predictionWithDefaultCosts(e);
  if (Math.abs(unlearned - e.predictedMs) >= 0.5) {
    out.push(
      '',
      `Without the costs learned from past runs (lab defaults instead) the prediction would have been ${formatMs(unlearned)} (error ${signedPct(unlearned, m.freezeWindowMs)}), against ${formatMs(e.predictedMs)} (error ${signedPct(e.predictedMs, m.freezeWindowMs)}) with them.`,
    );
  }
  return out;
}

/**
 * The estimate the cutover was staked on: the last one before the final dump started (Ferry
 * makes it once the cutover's preparation is done), else the last one before the cutover phase.
 */
function lastEstimateBeforeCutover(r: Replay) {
  const dump = r.commands.find((c) => c.phase === 'cutover' && criuSubcommand(c.argv) === 'dump');
  const cut = dump?.startedAt ?? r.phases.find((x) => x.phase === 'cutover')?.at;
  if (!cut) return r.estimates[r.estimates.length - 1];
  const before = r.estimates.filter((e) => e.at <= cut);
  return before[before.length - 1] ?? r.estimates[r.estimates.length - 1];
}

// ---------------------------------------------------------------------------------------------
// Runbook

const BARE_HOST = /^[A-Za-z0-9_.@:][A-Za-z0-9_.@:-]*$/;

/**
 * The remote command string exactly as Ferry sent it (quoteArgv), quoted once more for the
 * local sh: in double quotes, where only $ ` " \ need a backslash (POSIX), so ordinary
 * commands read as `ssh host -- "'criu' 'dump' ..."`. `-n` (stdin from /dev/null) keeps ssh
 * from swallowing the rest of a script fed on stdin; the receiving end of a pipe omits it.
 */
function sshLine(host: string, argv: readonly string[], sudo: boolean, stdinFromPipe = false): string {
  // Local hooks ran on the machine running Ferry: the runbook runs them where it runs.
  if (host === LOCAL_HOST) return quoteArgv([...argv]);
  const remote = quoteArgv(remoteArgv(argv, sudo));
  const outer = `"${remote.replace(/[$`"\\]/g, '\\$&')}"`;
  return `ssh${stdinFromPipe ? '' : ' -n'} ${BARE_HOST.test(host) ? host : quoteArg(host)} -- ${outer}`;
}

/**
 * A POSIX shell script of the exact commands that ran, in order, grouped by phase. Each line
 * is `ssh -n HOST -- "<argv quoted as Ferry sent it>"`; ssh joins its arguments and the remote
 * shell parses them, so the remote program gets the journal's argv byte for byte. Commands that
 * failed, did not finish, or carry redacted values are commented out, with the reason.
 */
export function renderRunbook(r: Replay): string {
  const p = r.plan;
  const hosts = [...new Set(r.commands.flatMap((c) => [c.host, ...(c.pipeTo ? [c.pipeTo.host] : [])]))];
  const out: string[] = [
    '#!/bin/sh',
    `# Ferry runbook for migration ${r.id || '(no id)'}`,
    p ? `# source: ${p.source}  target: ${p.target}  PID ${p.pid}  page server ${p.targetAddress}:${p.pageServerPort}` : '# plan unknown (no migration-started record)',
    `# hosts: ${hosts.join(', ') || 'none'}`,
    `# started ${r.startedAt ?? '?'}; ${r.outcome ? `outcome: ${r.outcome.outcome} at ${r.outcome.at}` : `unfinished, last phase ${r.phase}`}`,
    '#',
    '# The exact commands Ferry ran, in order. Each runs on its host through ssh; `sudo -n --`',
    '# appears where Ferry used sudo. Commands that failed or did not finish are commented out',
    '# with their exit status; so are commands whose values were redacted in the journal.',
    '# Traffic hooks are marked; those on `local` ran on the machine running Ferry and run',
    '# here without ssh (with the environment variables they name taken from yours).',
    "# Host names are Ferry's aliases: the lab's are in Ferry's own ssh_config",
    '# (~/.config/ferry/ssh_config, or $FERRY_HOME/config/ssh_config).',
    'set -eu',
  ];
  let group: string | undefined;
  for (const c of r.commands) {
    if (c.phase !== group) {
      group = c.phase;
      out.push('', `# --- ${c.phase} ---`);
    }
    const line = c.pipeTo
      ? `${sshLine(c.host, c.argv, c.sudo)} | ${sshLine(c.pipeTo.host, c.pipeTo.argv, c.pipeTo.sudo, true)}`
      : sshLine(c.host, c.argv, c.sudo);
    const hook = c.hook ? ` (${c.hook.phase} hook "${c.hook.name}"${c.hook.env?.length ? `; needs ${c.hook.env.join(', ')} in the environment` : ''})` : '';
    const when = `# ${time(c.startedAt)} on ${c.pipeTo ? `${c.host} → ${c.pipeTo.host}` : c.host}${c.durationMs !== undefined ? `, ${formatMs(c.durationMs)}` : ''}${hook.replace(/\n/g, ' ')}`;
    let why: string | undefined;
    if (!c.finished) why = 'did not finish (no exit status in the journal)';
    else if (c.timedOut) why = `timed out after ${formatMs(c.durationMs ?? 0)}`;
    else if (c.code !== 0) why = c.code === null || c.code === undefined ? `killed by signal ${c.signal ?? '?'}` : `exit ${c.code}`;
    else if (isRedacted(c.argv) || (c.pipeTo && isRedacted(c.pipeTo.argv))) why = 'a value was redacted in the journal: fill it in before running';
    // TLS files reach a host on stdin, which the journal never holds.
    else if (c.argv[3] === 'ferry-write-file') why = `writes ${c.argv[4]} from data Ferry sent on stdin, never journaled (a TLS certificate or key): make it with the openssl commands above (their private temp dir is gone) and feed it on stdin`;
    if (why) {
      out.push(`${when}: ${why}`, ...line.split('\n').map((l) => `# ${l}`));
    } else {
      out.push(when, line);
    }
  }
  out.push('');
  return out.join('\n');
}

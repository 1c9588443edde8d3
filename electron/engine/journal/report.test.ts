import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { EngineEvent } from '../../../shared/api.ts';
import { createJournal, readJournal, replay, type Replay } from './journal.ts';
import { MIGRATION_ID, convergingEvents, convergingPlan, type TimedEvent } from './journal.fixture.ts';
import { renderReport, renderRunbook } from './report.ts';
import { estimateDowntime, formatMs } from '../../../shared/estimate.ts';
import { summarizeProbe, withProbeDefaults } from '../../../shared/probe.ts';

let home: string;
beforeEach(() => {
  home = fs.mkdtempSync(path.join(os.tmpdir(), 'ferry-report-'));
});
afterEach(() => fs.rmSync(home, { recursive: true, force: true }));

function journaled(events: TimedEvent[]): Replay {
  let now = events[0]!.at;
  const j = createJournal(MIGRATION_ID, { env: { FERRY_HOME: home }, now: () => now });
  for (const e of events) {
    now = e.at;
    j.append(e.event);
  }
  j.close();
  const r = readJournal(j.path);
  return replay(r.records, { torn: r.torn, damaged: r.damaged });
}

describe('renderReport (converging lab run)', () => {
  it('answers: what happened, how long was the freeze, what did CRIU measure, what ran', () => {
    const md = renderReport(journaled(convergingEvents()));
    expect(md).not.toContain('| bandwidth cap |'); // none in the plan
    expect(md).toMatch(/^# Migration 2026-11-23T05-15-29Z-c0ffee\n/);
    expect(md).toContain('**Outcome: committed**');
    expect(md).toContain('| source → target | lab-source → lab-target |');
    // Without a health check, the report says what "committed" proved.
    expect(md).toContain("| health check | none: only the process's presence on the target was checked |");
    // freeze window: measured 8997 ms (host clock, final dump start → restore end), CRIU frozen_time 637.8 ms
    expect(md).toMatch(/\| measured \(host clock, final dump start → restore done\) \| 9\.0 s \|/);
    expect(md).toMatch(/\| CRIU frozen_time of the final dump \(source frozen\) \| 638 ms \(predicted \d+ ms\) \|/);
    expect(md).toMatch(/\| predicted at cutover \| \d+\.\d s \(/);
    // iteration table with CRIU's numbers and the derived rates
    expect(md).toMatch(/\| 1 \| pre-dump \| 33861 \| 0 \| 125 ms \| 3\.8 s \| 5\.9 s \| – \| 36\.6 MB\/s \|/);
    expect(md).toMatch(/\| 3 \| pre-dump \| 2724 \| 31137 \| 80 ms \| 249 ms \| 865 ms \| 999 pages\/s \| 44\.8 MB\/s \|/);
    expect(md).toMatch(/\| 4 \| dump \| 2719 \| 31142 \| 638 ms \| 297 ms \| 920 ms \| \d+ pages\/s \|/);
    expect(md).toContain('## Decisions');
    expect(md).toMatch(/\| user \| cutover-now \|/);
    // every command, with host, argv, duration and exit code
    expect(md).toMatch(/\| 2 \| precopy \| 05:15:41\.878Z \| lab-source \| `lab-source: 'criu' 'pre-dump' '-t' '50000' .*` \| 5\.9 s \| 0 \|/);
    expect(md).toMatch(/\| lab-source → lab-target \| `lab-source: 'tar' .* \\\| lab-target: 'tar' .*` \| 5\.2 s \| 0 \|/);
    expect(md).toContain('## Timeline');
  });

  it('shows the basis of the estimate made as the final dump started, the one the prediction is', () => {
    const events = convergingEvents();
    const dumpAt = events.findIndex((t) => t.event.type === 'command-started' && t.event.argv.includes('dump') && t.event.argv.includes('--leave-stopped'));
    const decided = [...events.slice(0, dumpAt)].reverse().find((t) => t.event.type === 'estimate')!;
    if (decided.event.type !== 'estimate') throw new Error('fixture');
    // The estimate Ferry makes once the cutover's preparation is done, just before the dump.
    const staked = { ...decided.event, estimate: { ...decided.event.estimate, predictedMs: 4321, basis: 'Measured: 1234 dirty pages counted as the dump started' } };
    const at = new Date(events[dumpAt]!.at.getTime() - 1);
    const md = renderReport(journaled([...events.slice(0, dumpAt), { at, event: staked }, ...events.slice(dumpAt)]));
    expect(md).toContain('Basis of the estimate: Measured: 1234 dirty pages counted as the dump started');
  });

  it('names the bandwidth cap the plan set', () => {
    const events = convergingEvents().map((t) =>
      t.event.type === 'migration-started' ? { ...t, event: { ...t.event, plan: { ...t.event.plan, bandwidthCap: { bytesPerSecond: 20 * 1024 * 1024 } } } } : t,
    );
    expect(renderReport(journaled(events))).toContain('| bandwidth cap | 20 MiB/s on the page stream (tc on lab-source), pre-copy only |');
  });

  it('compares predicted and measured for every phase of the freeze window', () => {
    const r = journaled(convergingEvents());
    const md = renderReport(r);
    const section = md.split('## Predicted against measured, per phase')[1]?.split('\n## ')[0] ?? '';
    // measured from CRIU's stats-dump of the final dump (frozen 637.8 ms, memwrite 297 ms) and the journal's command durations
    expect(section).toMatch(/\| final dump: writing pages to the page server \| \d+ ms \| 297 ms \| [+-]\d+% \| measured \|/);
    expect(section).toMatch(/\| = CRIU frozen_time \(source frozen\) \| \d+ ms \| 638 ms \| [+-]\d+% \|/);
    expect(section).toMatch(/\| copy of images and open files \| 4\.4 s \| 5\.2 s \| -\d+% \| lab default \|/);
    const restoreCmd = r.commands.find((c) => c.argv.includes('restore'))!;
    expect(section).toContain(`| restore on the target | `);
    expect(section).toContain(`| ${(restoreCmd.durationMs! / 1000).toFixed(1)} s |`);
    expect(section).toMatch(/\| = freeze window \| \d+\.\d s \| 9\.0 s \| [+-]\d+% \|/);
    // nothing was learned in this run: no before/after line
    expect(section).not.toContain('Without the costs learned');
  });

  it('says what the prediction would have been without learned costs', () => {
    const events = convergingEvents();
    const lastEstimate = events.filter((e) => e.event.type === 'estimate').pop()!;
    const ev = lastEstimate.event as Extract<EngineEvent, { type: 'estimate' }>;
    const iterations = events.flatMap((e) => (e.event.type === 'iteration' && e.event.stats.kind === 'pre-dump' ? [e.event.stats] : []));
    const learned = estimateDowntime({ iterations, budgetMs: 300, nowMs: lastEstimate.at.getTime(), costs: { dumpFixedMs: 300, dumpOverheadMs: 270, restoreFixedMs: 0, restoreMsPerPage: 0.039, samples: 2, from: '2 past migrations' } });
    ev.estimate = learned;
    const md = renderReport(journaled(events));
    const unlearned = estimateDowntime({ iterations, budgetMs: 300, nowMs: lastEstimate.at.getTime() });
    expect(md).toContain(`the prediction would have been ${formatMs(unlearned.predictedMs)} (error `);
    expect(md).toMatch(/\| restore on the target \| \d+\.\d s \| \d+\.\d s \| [+-]\d+% \| measured \|/);
  });

  it('an unfinished migration says so first, with the next step', () => {
    const md = renderReport(journaled(convergingEvents({ stopAfter: 'restore-started' })));
    expect(md).toMatch(/\*\*Unfinished\*\*: the journal stops in phase `restore`/);
    expect(md).toMatch(/\*\*Next step:\*\* The source tree is frozen on lab-source/);
    expect(md).toMatch(/\| did not finish \|/);
  });
});

// ---------------------------------------------------------------------------------------------
// Runbook round trip: run the generated script with `ssh` replaced by a shell function that
// does what ssh does with its arguments (join them with spaces, hand the string to the remote
// user's shell), and let that shell print the argv it parsed, NUL-separated. No network.

const HOSTILE = [
  'plain',
  'two words',
  '',
  ' leading and trailing ',
  "it's",
  'a"b',
  '$(touch /tmp/ferry-pwned)',
  '`id`',
  '$HOME ${PATH}',
  'back\\slash \\n',
  'new\nline',
  'tab\there',
  '*',
  '?[a-z]',
  '-n',
  '--',
  ';rm -rf /;',
  '|cat>&2',
  '!bang',
  "'\\''",
  '~root',
  'ünïcødé ✓',
  '#not-a-comment',
];

function hostileEvents(): TimedEvent[] {
  const base = convergingEvents({ stopAfter: 'precopy' }).slice(0, 3);
  const at = base[base.length - 1]!.at;
  const ev: EngineEvent[] = [
    { type: 'command-started', commandId: 'h1', migrationId: MIGRATION_ID, host: 'lab-source', argv: ['printf', '%s', ...HOSTILE], sudo: false, startedAt: at.toISOString() },
    { type: 'command-finished', commandId: 'h1', migrationId: MIGRATION_ID, code: 0, signal: null, durationMs: 5, timedOut: false, endedAt: at.toISOString() },
    { type: 'command-started', commandId: 'h2', migrationId: MIGRATION_ID, host: 'lab-target', argv: ['criu', 'restore', '-D', "/var/lib/ferry/it's here", ...HOSTILE.slice(5, 12)], sudo: true, startedAt: at.toISOString() },
    { type: 'command-finished', commandId: 'h2', migrationId: MIGRATION_ID, code: 0, signal: null, durationMs: 5, timedOut: false, endedAt: at.toISOString() },
    {
      type: 'command-started',
      commandId: 'h3',
      migrationId: MIGRATION_ID,
      host: 'lab-source',
      argv: ['tar', '-C', '/dir with space', '-cf', '-', '.'],
      sudo: true,
      startedAt: at.toISOString(),
      pipeTo: { host: 'lab-target', argv: ['tar', '-C', "/dir 'quoted'", '-xf', '-'], sudo: false },
    },
    { type: 'command-finished', commandId: 'h3', migrationId: MIGRATION_ID, code: 0, signal: null, durationMs: 5, timedOut: false, endedAt: at.toISOString() },
    { type: 'command-started', commandId: 'h4', migrationId: MIGRATION_ID, host: 'lab-target', argv: ['false', 'x\ny'], sudo: false, startedAt: at.toISOString() },
    { type: 'command-finished', commandId: 'h4', migrationId: MIGRATION_ID, code: 1, signal: null, durationMs: 5, timedOut: false, endedAt: at.toISOString() },
    { type: 'command-started', commandId: 'h5', migrationId: MIGRATION_ID, host: 'lab-source', argv: ['sleep', '99'], sudo: false, startedAt: at.toISOString() },
  ];
  return [...base, ...ev.map((event) => ({ at, event }))];
}

/** Run the runbook with a fake ssh; returns [host, argv][] in execution order. */
function runRunbook(script: string): [string, string[]][] {
  const file = path.join(home, 'runbook.sh');
  const out = path.join(home, 'argv.bin');
  fs.writeFileSync(file, script);
  fs.writeFileSync(out, '');
  const fakeSsh = [
    'ssh() {',
    '  n=0; if [ "$1" = -n ]; then n=1; shift; fi',
    '  h=$1; shift',
    '  [ "$1" = -- ] && shift',
    // like ssh without -n, read stdin (this also orders the two ends of a pipe)
    '  [ $n = 1 ] || cat >/dev/null',
    '  printf \'%s\\0\' "$h" >> "$OUT"',
    // what ssh does: join the arguments with spaces, give the string to the remote shell
    '  sh -c "set -- $*; printf \'%s\\\\0\' \\"\\$#\\" \\"\\$@\\"" >> "$OUT"',
    '}',
  ].join('\n');
  execFileSync('sh', ['-c', `${fakeSsh}\n. "$1"`, 'sh', file], { env: { PATH: process.env.PATH ?? '/usr/bin:/bin', OUT: out }, stdio: ['ignore', 'pipe', 'pipe'] });
  const parts = fs.readFileSync(out, 'utf8').split('\0');
  parts.pop();
  const cmds: [string, string[]][] = [];
  for (let i = 0; i < parts.length; ) {
    const host = parts[i++]!;
    const n = Number(parts[i++]);
    cmds.push([host, parts.slice(i, i + n)]);
    i += n;
  }
  return cmds;
}

describe('renderRunbook', () => {
  it('round-trips hostile argv exactly through sh (ssh emulated locally), sudo and pipes included', () => {
    const rp = journaled(hostileEvents());
    const script = renderRunbook(rp);
    expect(fs.existsSync('/tmp/ferry-pwned')).toBe(false);
    const ran = runRunbook(script);
    expect(fs.existsSync('/tmp/ferry-pwned')).toBe(false);
    const expected: [string, string[]][] = [];
    for (const c of rp.commands) {
      if (!c.finished || c.code !== 0) continue; // commented out
      expected.push([c.host, [...(c.sudo ? ['sudo', '-n', '--'] : []), ...c.argv]]);
      if (c.pipeTo) expected.push([c.pipeTo.host, [...(c.pipeTo.sudo ? ['sudo', '-n', '--'] : []), ...c.pipeTo.argv]]);
    }
    expect(ran).toEqual(expected);
    // the journaled argv is exactly the hostile list
    expect(ran.find(([, a]) => a[0] === 'printf')?.[1]).toEqual(['printf', '%s', ...HOSTILE]);
    expect(ran.some(([, a]) => a.join(' ').startsWith('sudo -n -- criu restore -D /var/lib/ferry/it\'s here'))).toBe(true);
  });

  it('has a header with id and hosts, groups by phase, comments out failed and unfinished commands', () => {
    const script = renderRunbook(journaled(hostileEvents()));
    const lines = script.split('\n');
    expect(lines[0]).toBe('#!/bin/sh');
    expect(lines[1]).toBe(`# Ferry runbook for migration ${MIGRATION_ID}`);
    expect(script).toContain('# source: lab-source  target: lab-target  PID 50000  page server 10.0.0.2:27000');
    expect(script).toContain('# hosts: lab-source, lab-target');
    expect(script).toContain('set -eu');
    expect(script).toContain('# --- precopy ---');
    expect(script).toMatch(/: exit 1\n# ssh -n lab-target -- "'false' 'x\n# y'"/);
    expect(script).toMatch(/: did not finish \(no exit status in the journal\)\n# ssh -n lab-source -- "'sleep' '99'"/);
    expect(script).toContain(`ssh -n lab-target -- "'sudo' '-n' '--' 'criu' 'restore' '-D' '/var/lib/ferry/it'\\\\''s here' 'a\\"b' '\\$(touch /tmp/ferry-pwned)'`);
    expect(script).toContain(`ssh -n lab-source -- "'sudo' '-n' '--' 'tar' '-C' '/dir with space' '-cf' '-' '.'" | ssh lab-target -- "'tar'`);
  });

  it('the converging run replays as the commands that ran, in order', () => {
    const rp = journaled(convergingEvents());
    const script = renderRunbook(rp);
    // readable form for ordinary commands
    expect(script).toContain(`ssh -n lab-target -- "'criu' 'page-server' '-D' '/var/lib/ferry/${MIGRATION_ID}/1' '--port' '27000' '-d' '-v4' '-o' 'ps.log'"`);
    const ran = runRunbook(script);
    expect(ran.map(([h, a]) => `${h} ${a[0]} ${a[1]}`)).toEqual([
      'lab-target criu page-server',
      'lab-source criu pre-dump',
      'lab-target criu page-server',
      'lab-source criu pre-dump',
      'lab-target criu page-server',
      'lab-source criu pre-dump',
      'lab-target criu page-server',
      'lab-source criu dump',
      'lab-source tar -C',
      'lab-target tar -C',
      'lab-target criu restore',
    ]);
  });

  it('commands with redacted values are commented out', () => {
    const base = convergingEvents({ stopAfter: 'precopy' }).slice(0, 1);
    const at = base[0]!.at;
    const rp = journaled([
      ...base,
      { at, event: { type: 'command-started', commandId: 's1', migrationId: MIGRATION_ID, host: 'h', argv: ['env', 'API_TOKEN=abc', 'true'], sudo: false, startedAt: at.toISOString() } },
      { at, event: { type: 'command-finished', commandId: 's1', migrationId: MIGRATION_ID, code: 0, signal: null, durationMs: 1, timedOut: false, endedAt: at.toISOString() } },
    ]);
    const script = renderRunbook(rp);
    expect(script).not.toContain('abc');
    expect(script).toMatch(/a value was redacted in the journal: fill it in before running\n# ssh -n h -- /);
    expect(convergingPlan.source).toBe('lab-source');
  });
});

// --- Service probe (client-visible downtime) -------------------------------------------------
describe('renderReport: client-visible downtime', () => {
  /** The converging run with a probe result journaled just before the outcome (a live one too, which replay ignores). */
  function withProbe(pattern: string): { md: string; r: Replay } {
    const events = convergingEvents();
    const outcomeAt = events.findIndex((e) => e.event.type === 'outcome');
    const at = events[outcomeAt]!.at;
    const attempts = [...pattern].map((c, i) => ({ startMs: i * 50, endMs: i * 50 + 1, ok: c === 'o', ...(c === 'o' ? {} : { error: 'ECONNREFUSED' }) }));
    const probe = withProbeDefaults({ kind: 'tcp', target: '10.0.2.20:6379', from: 'lab-target' });
    const result = summarizeProbe({ probe, startedAt: new Date(at.getTime() - 2000).toISOString(), attempts, freeze: { startMs: 60, endMs: 400 } });
    const live: EngineEvent = { type: 'service-probe', migrationId: MIGRATION_ID, result: summarizeProbe({ probe, startedAt: result.startedAt, attempts: attempts.slice(0, 2) }), live: true, at: at.toISOString() };
    const final: EngineEvent = { type: 'service-probe', migrationId: MIGRATION_ID, result, at: at.toISOString() };
    events.splice(outcomeAt, 0, { at, event: live }, { at, event: final });
    const r = journaled(events);
    return { md: renderReport(r), r };
  }

  it('shows the longest gap beside the freeze window, and the runs', () => {
    const { md, r } = withProbe('oooxxxxxxxxoo');
    expect(r.serviceProbe?.attempts).toBe(13);
    const section = md.slice(md.indexOf('## Client-visible downtime'));
    expect(section).toContain('TCP connect to 10.0.2.20:6379 from lab-target');
    // From the start of attempt 3 (100 ms) to the end of attempt 12 (551 ms).
    expect(section).toMatch(/\| longest gap clients saw \| 451 ms \|/);
    expect(section).toMatch(/\| freeze window \(host clock\) \| 9\.0 s \|/);
    expect(section).toMatch(/\| attempts \| 13: 5 answered, 8 failed \|/);
    expect(section).toMatch(/\| 0 ms \| 101 ms \| answered \| 3 \| – \|\n\| 150 ms \| 501 ms \| failed \| 8 \| ECONNREFUSED \|\n\| 550 ms \| 601 ms \| answered \| 2 \|/);
  });

  it('says when the service never answered again', () => {
    expect(withProbe('ooxxx').md).toMatch(/longest gap clients saw \| \d+ ms \(the service did not answer again while probed\)/);
  });
  it('says when nothing failed', () => {
    const { md } = withProbe('oooo');
    expect(md).toMatch(/longest gap clients saw \| none: every attempt was answered/);
  });

  it('has no such section without a probe', () => {
    expect(renderReport(journaled(convergingEvents()))).not.toContain('Client-visible downtime');
  });
});

// TLS for page streams
describe('report and runbook: TLS', () => {
  const withPlan = (tls: boolean | undefined) =>
    convergingEvents().map((t) => (t.event.type === 'migration-started' ? { ...t, event: { ...t.event, plan: { ...t.event.plan, ...(tls === undefined ? {} : { tls }) } } } : t));

  it('says the page streams used TLS (absent in an old journal means on)', () => {
    expect(renderReport(journaled(withPlan(undefined)))).toMatch(/\| page streams \| TLS, both hosts authenticated/);
  });

  it('says plainly when TLS was off', () => {
    expect(renderReport(journaled(withPlan(false)))).toMatch(/\| page streams \| \*\*TLS off\*\*: pages crossed the network in clear/);
  });

  it('comments out a file written from stdin (a TLS key): the runbook has its path, never its content', () => {
    const events = withPlan(true);
    const at = events[2]!.at;
    const iso = new Date(at).toISOString();
    const id = 'c-tls-key';
    const argv = ['sh', '-c', 'umask 077 && cat > "$1" && chmod "$2" "$1"', 'ferry-write-file', '/var/lib/ferry/m/tls/key.pem', '0600'];
    events.splice(
      3,
      0,
      { at, event: { type: 'command-started', commandId: id, migrationId: MIGRATION_ID, host: 'lab-target', argv, sudo: false, startedAt: iso } },
      { at, event: { type: 'command-finished', commandId: id, migrationId: MIGRATION_ID, code: 0, signal: null, durationMs: 5, timedOut: false, endedAt: iso } },
    );
    const sh = renderRunbook(journaled(events));
    expect(sh).toMatch(/writes \/var\/lib\/ferry\/m\/tls\/key\.pem from data Ferry sent on stdin/);
    expect(sh).toMatch(/^# ssh -n lab-target -- .*ferry-write-file/m);
    expect(sh).not.toMatch(/-----BEGIN/);
  });
});

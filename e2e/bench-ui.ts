/**
 * npm run bench:ui — figures, not a pass/fail test. How fast the console's dashboard shows what
 * the engine says, and what that costs the renderer's memory, under a steady stream of events.
 *
 * A real Engine (temp HOME/FERRY_HOME, no hosts, no lab) behind the real web bridge, the built
 * renderer in Debian's Chromium. The engine's own event stream carries one synthetic migration
 * at --rate events per second for --seconds: phases, an iteration + estimate every few seconds,
 * many command-started/-output/-finished, transfer progress, decisions, and the outcome.
 * Every event carries its emit time (in a command line, output text, transfer label, reason or
 * summary as `BENCH<seq>T<epoch ms>`; phases, iterations and finished commands are matched by
 * their data attributes). A MutationObserver in the page records when the DOM first reflects
 * each one; latency = that time - emit time (same machine, same clock).
 * The renderer's JS heap (CDP Runtime.getHeapUsage after HeapProfiler.collectGarbage) is read
 * before and after the stream.
 *
 *   npm run bench:ui -- [--rate 50] [--seconds 60] [--collapsed] [--json]
 *
 * By default every command row is opened as it appears (a user following each command's
 * output; worst case for the DOM, and it makes command output visible to measure). --collapsed
 * leaves rows closed (command output is then not rendered and not measured).
 */
import { parseArgs } from 'node:util';
import { newPlan, type EngineEvent } from '../shared/api.ts';
import type { IterationStats, MigrationPlan, Phase } from '../shared/domain.ts';
import { Engine } from '../electron/engine/console.ts';
import { makeTestHome } from '../electron/ssh/testing/fixture.ts';
import { startWebBridge } from '../electron/web/server.ts';
import { openConsole } from './browser.ts';
import { RENDERER_DIR } from './harness.ts';

const { values } = parseArgs({
  options: {
    rate: { type: 'string', default: '50' },
    seconds: { type: 'string', default: '60' },
    collapsed: { type: 'boolean', default: false },
    json: { type: 'boolean', default: false },
  },
});
const RATE = Number(values.rate);
const SECONDS = Number(values.seconds);
const TOTAL = Math.round(RATE * SECONDS);
const GOAL_P95_MS = 100;
const GOAL_HEAP_MB = 20;
const MIGRATION_ID = '2026-11-23T07-00-00Z-bench0';
const HARD_LIMIT_MS = (SECONDS + 120) * 1000;

const t0 = Date.now();
const log = (s: string) => process.stderr.write(`[bench-ui +${((Date.now() - t0) / 1000).toFixed(1)}s] ${s}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const plan: MigrationPlan = newPlan({ source: 'bench-source', target: 'bench-target', pid: 50000, targetAddress: '10.0.0.2' });

// ---- The synthetic migration ----------------------------------------------------------------

type Kind = EngineEvent['type'];
/** What the page should match for an event: a text marker, or a data attribute. */
type Probe = { by: 'marker'; key: string } | { by: 'phase'; phase: Phase } | { by: 'iteration'; index: number } | { by: 'finished'; commandId: string } | { by: 'none' };
interface Sent {
  seq: number;
  type: Kind;
  emitMs: number;
  probe: Probe;
}

const marker = (seq: number, now: number) => `BENCH${seq}T${now}`;

/**
 * The event at position k of TOTAL, built at emit time (its marker holds the emit time).
 * Layout over the run: preflight (first 5%), pre-copy with an iteration + estimate every
 * ~4 s, cutover/restore/verify in the last 15%, committed and the outcome at the very end; the
 * rest are commands (started, 6 output chunks, finished) and a transfer update every 10th event.
 */
function makeScript() {
  const at = (f: number) => Math.min(TOTAL - 1, Math.max(0, Math.round(TOTAL * f)));
  const phaseAt = new Map<number, Phase>([
    [0, 'preflight'],
    [at(0.05), 'precopy'],
    [at(0.85), 'cutover'],
    [at(0.9), 'restore'],
    [at(0.95), 'verify'],
    [TOTAL - 2, 'committed'],
  ]);
  const every = Math.max(4, Math.round(RATE * 4)); // an iteration every ~4 s
  const iterationStart = at(0.05) + 10;
  let iteration = 0;
  let pages = 40_000;
  let cmd = 0;
  let cmdStep = 0; // 0: started, 1..6: output, 7: finished
  let transferred = 0;
  let lastIter: IterationStats | undefined;
  let pendingEstimate = false;
  const commandId = (n: number) => `bench-cmd-${n}`;

  return (k: number, now: number): { event: EngineEvent; probe: Probe } => {
    const id = MIGRATION_ID;
    const iso = new Date(now).toISOString();
    const phase = phaseAt.get(k);
    if (phase) return { event: { type: 'phase', migrationId: id, phase, at: iso, note: marker(k, now) }, probe: { by: 'phase', phase } };
    if (k === TOTAL - 1) {
      return {
        event: { type: 'outcome', migrationId: id, outcome: 'committed', at: iso, freezeWindowMs: 4200, predictedMs: 3900, summary: `PID 50000 now runs on bench-target (${marker(k, now)})` },
        probe: { by: 'marker', key: marker(k, now) },
      };
    }
    if (k === at(0.85) - 1) {
      return { event: { type: 'decision', migrationId: id, by: 'user', action: 'cutover-now', reason: `requested during precopy ${marker(k, now)}`, at: iso }, probe: { by: 'marker', key: marker(k, now) } };
    }
    const inPrecopy = k >= iterationStart && k < at(0.85) - 1;
    const finalDump = k === at(0.85) + 5;
    if (pendingEstimate) {
      pendingEstimate = false;
      const predicted = 300 + pages / 20;
      return {
        event: {
          type: 'estimate',
          migrationId: id,
          estimate: { predictedMs: predicted, lowMs: predicted * 0.8, highMs: predicted * 1.3, budgetMs: 300, fits: predicted <= 300, basis: 'bench: synthetic numbers' },
          recommendation: { kind: 'continue', reason: `pages written still falling (${marker(k, now)})` },
        },
        probe: { by: 'marker', key: marker(k, now) },
      };
    }
    if ((inPrecopy && (k - iterationStart) % every === 0) || finalDump) {
      iteration += 1;
      pages = Math.max(200, Math.round(pages * 0.7));
      const stats: IterationStats = {
        index: iteration,
        kind: finalDump ? 'dump' : 'pre-dump',
        pagesWritten: pages,
        pagesSkippedParent: 16_384 - Math.min(16_000, pages / 4),
        frozenTimeUs: 40_000 + pages * 3,
        freezingTimeUs: 2_000,
        memdumpTimeUs: pages * 2,
        memwriteTimeUs: pages * 9,
        wallMs: 900 + pages / 40,
        startedAtMs: now - 900,
        dirtyPagesPerSec: lastIter ? 1000 + iteration * 10 : undefined,
        bandwidthBytesPerSec: 80_000_000,
      };
      lastIter = stats;
      pendingEstimate = !finalDump;
      return { event: { type: 'iteration', migrationId: id, stats }, probe: { by: 'iteration', index: iteration } };
    }
    if (k % 10 === 5) {
      transferred += 4 * 1024 * 1024;
      return {
        event: { type: 'transfer', migrationId: id, label: `pages to bench-target ${marker(k, now)}`, doneBytes: transferred, totalBytes: transferred * 2 },
        probe: { by: 'marker', key: marker(k, now) },
      };
    }
    // Commands: started, six output chunks, finished.
    const cid = commandId(cmd);
    const step = cmdStep;
    cmdStep = (cmdStep + 1) % 8;
    if (step === 7) cmd += 1;
    if (step === 0) {
      const argv = ['criu', 'pre-dump', '--tree', '50000', '--images-dir', `/var/lib/ferry/${id}/${iteration + 1}`, '--track-mem', '-v4', '--log-file', marker(k, now)];
      return { event: { type: 'command-started', commandId: cid, migrationId: id, host: 'bench-source', argv, sudo: false, startedAt: iso }, probe: { by: 'marker', key: marker(k, now) } };
    }
    if (step <= 6) {
      const text = `(00.${String(k % 1000).padStart(6, '0')}) Dumping pages (type: 1 pid: 50000) iov 0x7f00${k.toString(16)} ${marker(k, now)}\n`;
      return {
        event: { type: 'command-output', commandId: cid, migrationId: id, stream: step % 3 === 0 ? 'stderr' : 'stdout', text },
        probe: values.collapsed ? { by: 'none' } : { by: 'marker', key: marker(k, now) },
      };
    }
    return {
      event: { type: 'command-finished', commandId: cid, migrationId: id, code: 0, signal: null, durationMs: 140, timedOut: false, endedAt: iso },
      probe: { by: 'finished', commandId: cid },
    };
  };
}

// ---- What runs in the page ------------------------------------------------------------------

/** Installed before the app loads: records when each probe first shows in the DOM. Plain JS (no DOM lib here). */
const OBSERVER = (expand: boolean) => `(() => {
  const now = () => performance.timeOrigin + performance.now();
  const seen = { marker: new Map(), phase: new Map(), iteration: new Map(), finished: new Map() };
  const RE = /BENCH(\\d+)T(\\d{13})/g;
  const scan = (text, t) => {
    if (!text || text.indexOf('BENCH') < 0) return;
    RE.lastIndex = 0;
    let m;
    while ((m = RE.exec(text))) if (!seen.marker.has(m[0])) seen.marker.set(m[0], t);
  };
  const finishedRow = (el, t) => {
    const id = el.getAttribute('data-command-id');
    const st = el.getAttribute('data-status');
    if (id && st && st !== 'running' && !seen.finished.has(id)) seen.finished.set(id, t);
  };
  const onElement = (el, t) => {
    if (el.matches && el.matches('li[data-testid="command"]')) {
      finishedRow(el, t);
      const head = el.querySelector('button.cmd-head');
      if (${expand} && head && head.getAttribute('aria-expanded') === 'false' && !el.__opened) { el.__opened = true; head.click(); }
    }
    if (el.querySelectorAll) {
      for (const li of el.querySelectorAll('li[data-testid="command"]')) onElement(li, t);
    }
  };
  const check = (records) => {
    const t = now();
    for (const r of records) {
      if (r.type === 'childList') {
        for (const n of r.addedNodes) {
          if (n.nodeType === 3) scan(n.data, t);
          else if (n.nodeType === 1) { scan(n.textContent, t); onElement(n, t); }
        }
      } else if (r.type === 'characterData') {
        scan(r.target.data, t);
      } else if (r.type === 'attributes' && r.attributeName === 'data-status') {
        finishedRow(r.target, t);
      }
    }
    const ph = document.querySelector('.topbar [data-testid="phase"]');
    const p = ph && ph.getAttribute('data-phase');
    if (p && !seen.phase.has(p)) seen.phase.set(p, t);
    for (const pt of document.querySelectorAll('[data-testid="convergence-point"]')) {
      const i = pt.getAttribute('data-iteration');
      if (i && !seen.iteration.has(i)) seen.iteration.set(i, t);
    }
  };
  const start = () => new MutationObserver(check).observe(document.documentElement, { childList: true, subtree: true, characterData: true, attributes: true, attributeFilter: ['data-status', 'data-phase', 'data-iteration'] });
  if (document.documentElement) start(); else document.addEventListener('DOMContentLoaded', start);
  window.__bench = {
    take() {
      const o = {};
      for (const k of Object.keys(seen)) o[k] = Array.from(seen[k].entries());
      return o;
    },
    clear() { for (const k of Object.keys(seen)) seen[k].clear(); },
  };
})()`;

// ---- Figures --------------------------------------------------------------------------------

function quantile(sorted: number[], q: number): number {
  if (!sorted.length) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[i]!;
}
const mb = (b: number) => b / (1024 * 1024);
const fmt = (n: number, d = 1) => (Number.isFinite(n) ? n.toFixed(d) : '–');

function printTable(rows: Array<[string, string, string?]>) {
  const w0 = Math.max(...rows.map((r) => r[0].length));
  const w1 = Math.max(...rows.map((r) => r[1].length));
  for (const [a, b, c] of rows) process.stdout.write(`  ${a.padEnd(w0)}  ${b.padStart(w1)}${c ? `  ${c}` : ''}\n`);
}

async function heapUsed(cdp: { send(method: string, params?: object): Promise<unknown> }): Promise<{ used: number; total: number }> {
  // Twice: a collection can free what finalizers of the first one released.
  await cdp.send('HeapProfiler.collectGarbage');
  await cdp.send('HeapProfiler.collectGarbage');
  const r = (await cdp.send('Runtime.getHeapUsage')) as { usedSize: number; totalSize: number };
  return { used: r.usedSize, total: r.totalSize };
}

async function main() {
  const hardStop = setTimeout(() => {
    log(`hard time limit (${HARD_LIMIT_MS / 1000} s) reached: exiting`);
    process.exit(2);
  }, HARD_LIMIT_MS);
  hardStop.unref();

  const home = makeTestHome();
  const engine = new Engine({ env: home.env });
  const bridge = await startWebBridge({ engine, rendererDir: RENDERER_DIR });
  let ui: Awaited<ReturnType<typeof openConsole>> | undefined;
  try {
    log(`bridge up; Chromium (${values.collapsed ? 'command rows left closed' : 'every command row opened as it appears'})`);
    ui = await openConsole(bridge.url, { initScript: OBSERVER(!values.collapsed) });
    const { page } = ui;
    const cdp = await page.context().newCDPSession(page);
    await cdp.send('HeapProfiler.enable');

    // The page adopts a migration it hears start; the dashboard lives in the Migrate view.
    const startedAt = new Date().toISOString();
    engine.events.emit({ type: 'migration-started', migrationId: MIGRATION_ID, plan, at: startedAt });
    await page.getByRole('navigation', { name: 'Views' }).getByRole('button', { name: 'Migrate', exact: true }).click({ timeout: 15_000 });
    const dash = page.getByTestId('dashboard');
    await dash.waitFor({ timeout: 15_000 });
    if ((await dash.getAttribute('data-migration-id')) !== MIGRATION_ID) throw new Error('the dashboard does not follow the bench migration');
    await sleep(1000);
    await page.evaluate('window.__bench.clear()');
    const before = await heapUsed(cdp);
    log(`heap before: ${fmt(mb(before.used))} MB used; streaming ${TOTAL} events at ${RATE}/s for ${SECONDS} s`);

    // The stream: event k is due at start + k/RATE; late timers catch up, never skip.
    const next = makeScript();
    const sent: Sent[] = [];
    const periodMs = 1000 / RATE;
    const start = Date.now();
    let lastReport = start;
    for (let k = 0; k < TOTAL; ) {
      const now = Date.now();
      while (k < TOTAL && start + k * periodMs <= now) {
        const emitMs = Date.now();
        const { event, probe } = next(k, emitMs);
        engine.events.emit(event);
        sent.push({ seq: k, type: event.type, emitMs, probe });
        k += 1;
      }
      if (now - lastReport >= 10_000) {
        lastReport = now;
        log(`${k}/${TOTAL} events sent`);
      }
      if (k < TOTAL) await sleep(Math.max(0, start + k * periodMs - Date.now()));
    }
    const streamMs = Date.now() - start;
    log(`stream done in ${(streamMs / 1000).toFixed(1)} s; waiting for the page to settle`);
    await page.getByTestId('outcome').waitFor({ timeout: 30_000 }).catch(() => log('the outcome banner did not show within 30 s'));
    await sleep(2000);

    type Seen = Record<'marker' | 'phase' | 'iteration' | 'finished', Array<[string, number]>>;
    const seen = (await page.evaluate('window.__bench.take()')) as Seen;
    const maps = {
      marker: new Map(seen.marker),
      phase: new Map(seen.phase),
      iteration: new Map(seen.iteration),
      finished: new Map(seen.finished),
    };
    await page.evaluate('window.__bench.clear()');
    await sleep(500);
    const after = await heapUsed(cdp);
    const dom = (await page.evaluate('document.getElementsByTagName("*").length')) as number;

    // Join: latency per event that has a DOM-visible probe.
    const lat: number[] = [];
    const byType = new Map<string, { sent: number; probed: number; seen: number; lat: number[] }>();
    for (const s of sent) {
      const t = byType.get(s.type) ?? { sent: 0, probed: 0, seen: 0, lat: [] };
      byType.set(s.type, t);
      t.sent += 1;
      let at: number | undefined;
      switch (s.probe.by) {
        case 'marker':
          at = maps.marker.get(s.probe.key);
          break;
        case 'phase':
          at = maps.phase.get(s.probe.phase);
          break;
        case 'iteration':
          at = maps.iteration.get(String(s.probe.index));
          break;
        case 'finished':
          at = maps.finished.get(s.probe.commandId);
          break;
        case 'none':
          continue;
      }
      t.probed += 1;
      if (at === undefined) continue;
      const ms = Math.max(0, at - s.emitMs);
      t.seen += 1;
      t.lat.push(ms);
      lat.push(ms);
    }
    lat.sort((a, b) => a - b);
    const probed = [...byType.values()].reduce((n, t) => n + t.probed, 0);
    const p50 = quantile(lat, 0.5);
    const p95 = quantile(lat, 0.95);
    const max = lat[lat.length - 1] ?? NaN;
    const growth = after.used - before.used;
    const p95ok = lat.length > 0 && p95 < GOAL_P95_MS && lat.length === probed;
    const heapOk = mb(growth) < GOAL_HEAP_MB;

    if (values.json) {
      process.stdout.write(
        `${JSON.stringify({ rate: RATE, seconds: SECONDS, sent: sent.length, probed, seen: lat.length, p50, p95, max, heapBefore: before.used, heapAfter: after.used, heapGrowth: growth, domElements: dom, expanded: !values.collapsed, streamMs })}\n`,
      );
    } else {
      process.stdout.write(`\nferry bench:ui — ${RATE} events/s for ${SECONDS} s, one migration, dashboard open (${values.collapsed ? 'command rows closed' : 'every command row open'})\n\n`);
      printTable([
        ['events sent', String(sent.length), `(${(streamMs / 1000).toFixed(1)} s)`],
        ['events with a DOM-visible probe', String(probed)],
        ['events seen in the DOM', String(lat.length), lat.length === probed ? '' : `(${probed - lat.length} never shown)`],
        ['latency p50', `${fmt(p50)} ms`],
        ['latency p95', `${fmt(p95)} ms`, `goal < ${GOAL_P95_MS} ms: ${p95ok ? 'met' : 'NOT met'}`],
        ['latency max', `${fmt(max)} ms`],
        ['JS heap before', `${fmt(mb(before.used))} MB`],
        ['JS heap after', `${fmt(mb(after.used))} MB`],
        ['JS heap growth', `${fmt(mb(growth))} MB`, `goal < ${GOAL_HEAP_MB} MB: ${heapOk ? 'met' : 'NOT met'}`],
        ['DOM elements after', String(dom)],
      ]);
      process.stdout.write('\n  by event type (sent / seen: p50 / p95 / max ms)\n');
      for (const [type, t] of [...byType.entries()].sort((a, b) => b[1].sent - a[1].sent)) {
        const s = t.lat.sort((a, b) => a - b);
        const seenText = t.probed === 0 ? 'not rendered (rows closed)' : `${t.seen}/${t.probed} seen: ${fmt(quantile(s, 0.5))} / ${fmt(quantile(s, 0.95))} / ${fmt(s[s.length - 1] ?? NaN)}`;
        process.stdout.write(`    ${type.padEnd(18)} ${String(t.sent).padStart(5)}  ${seenText}\n`);
      }
      process.stdout.write('\n');
    }
    const errors = ui.consoleErrors.filter((e) => /pageerror|Refused to/i.test(e));
    if (errors.length) log(`page errors: ${errors.slice(0, 5).join(' | ')}`);
  } finally {
    await ui?.close().catch(() => undefined);
    await bridge.close().catch(() => undefined);
    await engine.close().catch(() => undefined);
    home.cleanup();
  }
}

main().then(
  () => process.exit(0),
  (e) => {
    process.stderr.write(`bench:ui failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exit(1);
  },
);

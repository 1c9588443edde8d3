/**
 * In the lab, one bounded migration: the restore is measured on the target during
 * pre-copy (outside the freeze) and the estimate rests on it, and while `criu restore` runs
 * its progress (pages loaded, from its own log) is shown. One lab boot, one 64 MiB migration,
 * then a 16 MiB one with the page stream capped (tc on the source) during pre-copy.
 */
import { describe, expect, it } from 'vitest';
import { startWorkload } from '../../lab/index.ts';
import { readJournal, replay, journalPath } from '../journal/journal.ts';
import { engineLab, WORKLOAD_PID } from '../testing/lab.ts';
import type { DowntimeEstimateDetail } from '../../../shared/estimate.ts';

const lab = engineLab('ferry-rp-', 12);
const { env, plan, waitForCounterAbove, expectRunsOnlyOn, migrate } = lab;

describe.skipIf(process.env.FERRY_SKIP_LAB === '1').sequential('the restore measured before the cutover, and followed during it', () => {
  lab.useInSuite();

  it('probes the page images on the target after the first pre-dump, uses it in the estimate, and shows the restore loading pages', async () => {
    const name = 'probe';
    await startWorkload({ env, host: 'source', mib: 64, rate: 1000, pid: WORKLOAD_PID, name }, lab.hub);
    const before = await waitForCounterAbove('source', name, 0);
    const m = migrate(plan(), (e, control) => {
      if (e.type === 'estimate' && !e.live) control(m.events.filter((x) => x.type === 'iteration').length < 2 ? 'one-more' : 'cutover-now');
    });
    const r = await m.done;
    expect(r.error).toBeUndefined();
    expect(r.outcome).toBe('committed');
    const after = await waitForCounterAbove('target', name, before.counter);
    expect(after.verify).toBe('OK');
    await expectRunsOnlyOn('lab-target');

    // Preflight judged the memory cliff before anything was dumped: 64 MiB twice fits in 1 GiB.
    const cliff = m.events.find((e) => e.type === 'decision' && e.action.startsWith('preflight') && e.reason.includes('Restore fits in memory'));
    expect(cliff && cliff.type === 'decision' ? cliff.action : undefined).toBe('preflight pass');

    const journal = replay(readJournal(journalPath(m.id, { env })).records);
    // The probe ran on the target, between the first pre-dump and the final dump, as recorded commands.
    const argvs = journal.commands.map((c) => ({ host: c.host, line: c.argv.join(' '), code: c.code }));
    const at = (re: RegExp) => argvs.findIndex((c) => re.test(c.line));
    const probeCold = at(/ferry-restore-probe .*iflag=direct/);
    const probeWarm = argvs.findIndex((c) => /ferry-restore-probe/.test(c.line) && !/iflag=direct/.test(c.line));
    expect(probeCold).toBeGreaterThan(at(/criu pre-dump/));
    expect(probeWarm).toBeGreaterThan(probeCold);
    expect(probeWarm).toBeLessThan(at(/criu dump /));
    expect(argvs[probeWarm]!.host).toBe('lab-target');
    expect(argvs[probeWarm]!.code).toBe(0);

    // Every estimate after the first pre-dump rests on the measured restore and says so.
    const estimates = m.events.flatMap((e) => (e.type === 'estimate' ? [e.estimate as DowntimeEstimateDetail] : []));
    expect(estimates.length).toBeGreaterThan(0);
    for (const e of estimates) {
      expect(e.basis).toMatch(/restore measured on the target: read \d+ MiB of page images/);
      const t = e.terms.find((x) => x.name === 'restore')!;
      expect(t.source).toBe('measured');
      // 64 MiB of images + the restored process fit in a 1 GiB target: no cliff.
      expect(e.restoreMemory?.fits).toBe(true);
    }

    // The restore's progress came from CRIU's own log on the target, and ended at CRIU's count.
    const progress = m.events.flatMap((e) => (e.type === 'transfer' && e.label.startsWith('restore on lab-target') ? [e] : []));
    expect(progress.length).toBeGreaterThan(0);
    expect(progress[progress.length - 1]!.label).toMatch(/predicted \(band up to/);
    const lastPages = progress[progress.length - 1]!.doneBytes / 4096;
    expect(lastPages).toBe(journal.restoreStats?.pagesRestored);

    // Past the band's upper edge the engine said so while the restore ran; within it, it did not.
    const e = estimates[estimates.length - 1]!;
    const pastBand = m.events.filter((x) => x.type === 'decision' && x.action === 'restore past its band');
    // (The last progress report is taken at the moment the restore returned, the window's end.)
    expect(pastBand.length).toBe(r.freezeWindowMs! > e.highMs ? 1 : 0);
    const restoreCmd = journal.commands.find((c) => c.argv.includes('restore') && c.argv.some((a) => a.endsWith('criu')));
    const t = e.terms.find((x) => x.name === 'restore')!;
    const probeCmds = journal.commands.filter((c) => c.argv.includes('ferry-restore-probe'));
    console.log(
      `restore probe commands: ${probeCmds.map((c) => `${c.argv.includes('iflag=direct') ? 'direct' : 'cached'} ${c.durationMs} ms`).join(', ')}\n` +
        `restore probe: ${t.detail}\n` +
        `restore: predicted ${Math.round(t.ms)} ms (${Math.round(t.lowMs)}–${Math.round(t.highMs)}), measured ${restoreCmd?.durationMs} ms for ${journal.restoreStats?.pagesRestored} pages\n` +
        `freeze window: predicted ${r.predictedMs} ms (${Math.round(e.lowMs)}–${Math.round(e.highMs)}), measured ${r.freezeWindowMs} ms`,
    );
  }, 10 * 60_000);

  // --- Bandwidth cap: the same boot, a small workload, the page stream capped during pre-copy.
  it('caps the page stream with tc on the source during pre-copy, and takes the cap off before the final dump', async () => {
    const name = 'capped';
    const CAP = 2 * 1024 * 1024;
    await startWorkload({ env, host: 'source', mib: 16, rate: 200, pid: WORKLOAD_PID, name }, lab.hub);
    const before = await waitForCounterAbove('source', name, 0);
    // While pre-copy waits for the user after the first pre-dump: what is on the source's interface?
    let duringPrecopy: Promise<string> | undefined;
    const m = migrate(plan({ bandwidthCap: { bytesPerSecond: CAP } }), (e, control) => {
      if (e.type !== 'estimate' || e.live || duringPrecopy) return;
      duringPrecopy = lab.sh('lab-source', 'for d in /sys/class/net/*; do tc qdisc show dev "${d##*/}"; done').then((r) => r.stdout);
      void duringPrecopy.finally(() => control('cutover-now'));
    });
    const r = await m.done;
    expect(r.error).toBeUndefined();
    expect(r.outcome).toBe('committed');
    expect((await waitForCounterAbove('target', name, before.counter)).verify).toBe('OK');
    await expectRunsOnlyOn('lab-target');

    // Preflight found tc and the interface toward 10.0.0.2; the qdisc was there during pre-copy and is gone now.
    const pre = m.events.find((e) => e.type === 'decision' && e.reason.includes('Bandwidth cap'));
    expect(pre && pre.type === 'decision' ? pre.action : undefined).toBe('preflight pass');
    expect(await duringPrecopy).toMatch(/^qdisc htb fe77: root/m);
    const after = await lab.sh('lab-source', 'for d in /sys/class/net/*; do tc qdisc show dev "${d##*/}"; done');
    expect(after.stdout).not.toMatch(/fe77:/);

    // The journal holds the tc commands, on the source, in order: on before the first pre-dump, off before the final dump.
    const journal = replay(readJournal(journalPath(m.id, { env })).records);
    const lines = journal.commands.map((c) => ({ host: c.host, line: c.argv.join(' '), code: c.code }));
    const at = (re: RegExp) => lines.findIndex((c) => re.test(c.line));
    const add = at(/^tc qdisc add dev \S+ root handle fe77: htb/);
    const filter = at(/^tc filter add .* match ip dst 10\.0\.0\.2\/32 match ip dport 27000 0xffff flowid fe77:1/);
    const off = at(/ferry-uncap/);
    expect(add).toBeGreaterThanOrEqual(0);
    expect(lines[add]!.host).toBe('lab-source');
    expect(filter).toBeGreaterThan(add);
    expect(filter).toBeLessThan(at(/criu pre-dump/));
    expect(off).toBeGreaterThan(at(/criu pre-dump/));
    expect(off).toBeLessThan(at(/criu dump /));
    expect(lines[off]!.code).toBe(0);
    // Before the cap went on, the link was timed once, uncapped, over the page server's path (TLS),
    // and the estimate predicted the uncapped final dump at that rate, saying so.
    const recv = lines.findIndex((c) => c.host === 'lab-target' && /^timeout \d+ python3 -c .* 27000 \S+ca\.pem/s.test(c.line));
    const send = lines.findIndex((c) => c.host === 'lab-source' && /^timeout \d+ python3 -c .* 10\.0\.0\.2 27000 /s.test(c.line));
    expect(recv).toBeGreaterThanOrEqual(0);
    expect(send).toBeGreaterThanOrEqual(0);
    expect(Math.max(recv, send)).toBeLessThan(add);
    const linkNote = m.events.find((e) => e.type === 'decision' && e.action.startsWith('link '));
    expect(linkNote && linkNote.type === 'decision' ? linkNote.action : undefined).toBe('link measured before the cap');
    const last = m.events.flatMap((e) => (e.type === 'estimate' ? [e.estimate as DowntimeEstimateDetail] : [])).pop()!;
    expect(last.bandwidthCap?.finalDumpRate).toBe('link');
    expect(last.basis).toMatch(/final dump's bandwidth .* \(the link measured uncapped/);

    // Figures: the pre-dump's page write against the cap (CRIU's memwrite_time, and the host's wall clock).
    const first = r.iterations.find((i) => i.kind === 'pre-dump')!;
    const final = r.iterations.find((i) => i.kind === 'dump');
    const shaped = m.events.find((e) => e.type === 'decision' && e.action === 'bandwidth cap off');
    const mib = (b?: number) => (b === undefined ? '?' : (b / 1048576).toFixed(2));
    // What the estimate said before the link was measured: the final dump's pages at the capped pre-dumps' rate.
    const capped = r.iterations.filter((i) => i.kind === 'pre-dump' && i.memwriteTimeUs > 0);
    const cappedBw = (capped.reduce((a, i) => a + i.pagesWritten, 0) * 4096) / (capped.reduce((a, i) => a + i.memwriteTimeUs, 0) / 1e6);
    const memwrite = last.terms.find((t) => t.name === 'memwrite')!.ms;
    const asBefore = last.predictedMs - memwrite + ((last.expectedDirtyPages * 4096) / cappedBw) * 1000;
    console.log(
      `bandwidth cap ${mib(CAP)} MiB/s: pre-dump 1 wrote ${first.pagesWritten} pages (${mib(first.pagesWritten * 4096)} MiB) at ${mib(first.bandwidthBytesPerSec)} MiB/s (memwrite_time), ` +
        `${mib((first.pagesWritten * 4096) / (first.wallMs / 1000))} MiB/s over its ${first.wallMs} ms wall; ` +
        `final dump (uncapped) ${final?.pagesWritten} pages at ${mib(final?.bandwidthBytesPerSec)} MiB/s; ${shaped && shaped.type === 'decision' ? shaped.reason : 'no cap-off decision'}\n` +
        `link before the cap: ${linkNote && linkNote.type === 'decision' ? linkNote.reason : '?'}\n` +
        `final dump's page write predicted at ${mib(last.bandwidthCap?.finalDumpBytesPerSecond)} MiB/s (${last.bandwidthCap?.finalDumpRate}), pre-dumps capped at ${mib(cappedBw)} MiB/s\n` +
        `freeze window: predicted ${r.predictedMs} ms (${Math.round(last.lowMs)}–${Math.round(last.highMs)}; at the capped rate, as before: ${Math.round(asBefore)} ms), measured ${r.freezeWindowMs} ms`,
    );
  }, 10 * 60_000);
});

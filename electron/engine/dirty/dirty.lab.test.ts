/**
 * Live dirty-set sampling and the dirty-rate probe against the lab's real kernel (soft-dirty
 * tracked, as CRIU's --track-mem needs) and real CRIU: the probe measures the workload's
 * configured rate; the sampler's counts grow between pre-dumps without disturbing the
 * migration (the workload verifies its memory on the target).
 */
import { describe, expect, it } from 'vitest';
import { newPlan, type EngineEvent } from '../../../shared/api.ts';
import { startWorkload, workloadStatus } from '../../lab/index.ts';
import { touchesClearRefs } from './dirty.ts';
import { journalPath, readJournal } from '../journal/journal.ts';
import { MigrationService } from '../migrations.ts';
import { engineLab, WORKLOAD_PID } from '../testing/lab.ts';

const RATE = 1000;
const lab = engineLab('ferry-dirty-', 4);
const { env, waitForCounterAbove } = lab;

describe.skipIf(process.env.FERRY_SKIP_LAB === '1').sequential('live dirty sampling in the lab', () => {
  lab.useInSuite();

  it('measures the workload rate, samples a growing dirty set after the first pre-dump, refuses the probe then, and migrates intact', async () => {
    const name = 'dirty';
    await startWorkload({ env, host: 'source', mib: 64, rate: RATE, pid: WORKLOAD_PID, name }, lab.hub);
    const before = await waitForCounterAbove('source', name, 0);
    const events: EngineEvent[] = [];
    let steer: (e: EngineEvent) => void = () => undefined;
    const service = new MigrationService((a) => lab.session(a), (e) => (events.push(e), steer(e)), env);

    // 1. The probe, before any migration: the workload rewrites RATE pages a second, one after
    // another (64 MiB = 16384 pages, so 5 s stay well short of wrapping).
    // The rate the workload achieved around the probe, from its own counter (pages written):
    // a busy host slows the TCG guest well below the asked RATE.
    const s1 = await workloadStatus('source', { env, name }, lab.hub);
    const probe = await service.measureDirtyRate('lab-source', WORKLOAD_PID, 5);
    // A status line newer than the one current when the probe returned was written after the
    // probe's last read, so its counter bounds every page the workload wrote in the probe.
    const afterProbe = await workloadStatus('source', { env, name }, lab.hub);
    const s2 = await waitForCounterAbove('source', name, afterProbe.counter);
    const secs = (t: string) => t.split(':').map(Number).reduce((a, x) => a * 60 + x, 0);
    const window = secs(s2.time) - secs(s1.time);
    expect(window).toBeGreaterThanOrEqual(5);
    const written = s2.counter - s1.counter;
    const achieved = written / window;
    expect(probe.seconds).toBeGreaterThanOrEqual(5);
    expect(probe.pids).toContain(WORKLOAD_PID);
    expect(probe.presentPages).toBeGreaterThan(64 * 256);
    // One page per counter step, one after another (no wrap in 5 s), plus a little heap: the
    // probe cannot see more dirty pages than the workload wrote around it. The rate's lower
    // bound is loose because the status lines carry 1 s stamps.
    expect(probe.dirtyPages).toBeLessThanOrEqual(written + 256);
    expect(probe.pagesPerSec).toBeGreaterThan(0.5 * achieved);
    expect(probe.pagesPerSec).toBeLessThan(1.6 * RATE);
    expect(probe.verdict).toMatch(/MiB\/s/);
    console.log(`probe: ${probe.dirtyPages} pages in ${probe.seconds.toFixed(2)} s = ${Math.round(probe.pagesPerSec)} pages/s (workload wrote ${written} around it, ${Math.round(achieved)}/s; asked ${RATE}/s); ${probe.verdict}`);
    events.length = 0;

    // 2. A manual migration: after the first pre-dump, watch ~3 s of samples, then cut over.
    let refusal: unknown;
    let firstSampleAt = 0;
    let cutoverSent = false;
    let id = '';
    steer = (e) => {
      if (e.type === 'estimate' && !e.live && refusal === undefined) {
        // Past the first pre-dump the probe must be refused, whatever the UI asks.
        refusal = null;
        // Should sampling never start, cut over anyway so the assertions below say why.
        setTimeout(() => !cutoverSent && ((cutoverSent = true), service.control(id, 'cutover-now')), 120_000).unref();
        service.measureDirtyRate('lab-source', WORKLOAD_PID, 1).then(
          () => (refusal = new Error('the probe ran after a pre-dump')),
          (err: unknown) => (refusal = err),
        );
      }
      if (e.type === 'dirty-sample') {
        firstSampleAt ||= Date.now();
        const n = events.filter((x) => x.type === 'dirty-sample').length;
        if (!cutoverSent && n >= 6 && Date.now() - firstSampleAt >= 3000) {
          cutoverSent = true;
          queueMicrotask(() => service.control(id, 'cutover-now'));
        }
      }
    };
    const started = service.start(newPlan({ source: 'lab-source', target: 'lab-target', pid: WORKLOAD_PID, targetAddress: '10.0.0.2' }));
    id = started.migrationId;
    const r = await started.done;
    expect(r.error).toBeUndefined();
    expect(r.outcome).toBe('committed');
    expect(refusal).toMatchObject({ code: 'dirty-probe-refused', host: 'lab-source' });

    const samples = events.flatMap((e) => (e.type === 'dirty-sample' ? [e] : []));
    expect(samples.length).toBeGreaterThanOrEqual(6);
    expect(samples.every((s) => s.sinceIteration === 1)).toBe(true);
    // The set grows: the workload keeps writing new pages after the pre-dump cleared the bits.
    expect(samples[samples.length - 1]!.dirtyPages).toBeGreaterThan(samples[0]!.dirtyPages);
    console.log(`live: ${samples.length} samples, dirty ${samples[0]!.dirtyPages} → ${samples[samples.length - 1]!.dirtyPages} pages, sampler CPU median ${[...samples].map((s) => s.samplerCpuMs ?? 0).sort((a, b) => a - b)[samples.length >> 1]} ms/sample`);
    const rates = samples.flatMap((s) => (s.ratePagesPerSec !== undefined ? [s.ratePagesPerSec] : []));
    expect(rates.length).toBeGreaterThan(0);
    expect(Math.max(...rates)).toBeGreaterThan(0.3 * RATE);
    // The prediction at the cutover rests on the live count.
    const iCut = events.findIndex((e) => e.type === 'phase' && e.phase === 'cutover');
    const cutEstimate = events.slice(iCut).find((e) => e.type === 'estimate');
    expect(cutEstimate?.type === 'estimate' && cutEstimate.estimate.basis).toMatch(/live soft-dirty count/);
    expect(events.some((e) => e.type === 'estimate' && e.live)).toBe(true);

    // 3. Reading pagemap changed nothing: the memory verifies on the target.
    const after = await waitForCounterAbove('target', name, before.counter);
    expect(after.verify).toBe('OK');
    expect(after.bad).toBe(0);

    // 4. The journal: no command after the first pre-dump touched clear_refs; every sampler had
    // ended before the next CRIU command on the source started (the ones that read the process's
    // pages; the target's page server may start while the cutover's preparation counts the dirty
    // set); at most one sample a second was kept.
    const records = readJournal(journalPath(started.migrationId, { env })).records;
    const cmds = records.flatMap((x) => (x.event.type === 'command-started' ? [{ seq: x.seq, argv: x.event.argv, id: x.event.commandId, host: x.event.host }] : []));
    const firstPreDump = cmds.findIndex((c) => c.argv.includes('pre-dump'));
    expect(firstPreDump).toBeGreaterThan(-1);
    expect(cmds.slice(firstPreDump).filter((c) => touchesClearRefs(c.argv))).toEqual([]);
    expect(cmds.some((c) => touchesClearRefs(c.argv))).toBe(false);
    const finishedAt = new Map(records.flatMap((x) => (x.event.type === 'command-finished' ? [[x.event.commandId, x.seq] as const] : [])));
    const samplers = cmds.filter((c) => c.argv[0] === 'python3' && c.argv.includes('--interval-ms'));
    expect(samplers.length).toBeGreaterThan(0);
    for (const s of samplers) {
      const nextCriu = cmds.find((c) => c.seq > s.seq && c.host === 'lab-source' && c.argv.some((a) => a === 'criu' || a.endsWith('/criu')));
      expect(finishedAt.get(s.id), 'sampler finished').toBeDefined();
      if (nextCriu) expect(finishedAt.get(s.id)!).toBeLessThan(nextCriu.seq);
    }
    const journaled = records.filter((x) => x.event.type === 'dirty-sample').map((x) => Date.parse(x.at));
    expect(journaled.length).toBeGreaterThan(0);
    expect(journaled.length).toBeLessThan(samples.length);
    for (let k = 1; k < journaled.length; k++) expect(journaled[k]! - journaled[k - 1]!).toBeGreaterThanOrEqual(900);
  }, 20 * 60_000);
});

import type { Command } from 'commander';
import { defaultPolicy } from '../../../shared/api.ts';
import { labDown, labUp, startWorkload, workloadStatus, LINK_ADDR } from '../../lab/index.ts';
import { journalPath } from '../../engine/journal/journal.ts';
import { SshHub } from '../../ssh/index.ts';
import { ProgressDisplay } from './lab.ts';
import { parseDuration } from '../options.ts';
import { runMigration } from './migrate.ts';

/**
 * The lab runs under software emulation (TCG) on machines without VT-x/AMD-V, where a CRIU
 * dump and restore take seconds, not milliseconds: a 300 ms budget would only ever report
 * "not converging". Rehearsals default to a budget the lab can meet, and say so.
 */
const LAB_BUDGET = { tcg: '6s', kvm: '1s' } as const;

/** The workload's first status line, asked for once a second for up to a minute. */
async function firstStatus(name: string, hub: SshHub): Promise<Awaited<ReturnType<typeof workloadStatus>>> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    await new Promise((r) => setTimeout(r, 1000));
    try {
      return await workloadStatus('source', { name }, hub);
    } catch (e) {
      if (Date.now() > deadline) throw e;
    }
  }
}

/**
 * How a rehearsal ends with the lab: two VMs of 1 GiB each should not outlive it unnoticed.
 * A lab the rehearsal booted goes down unless kept (--keep-lab); one that was already up
 * stays up (someone else started it). Either way the last lines say which.
 */
export function rehearsalEnding(o: { startedLab: boolean; keepLab: boolean; pid?: number; committed: boolean }): { takeDown: boolean; lines: string[] } {
  if (o.startedLab && !o.keepLab) {
    return { takeDown: true, lines: ['== lab: taking both VMs down (the rehearsal started them; --keep-lab keeps them up)'] };
  }
  const where = o.committed ? 'lab-target' : 'lab-source';
  const back = o.committed ? 'lab-source' : 'lab-target';
  return {
    takeDown: false,
    lines: [
      `== lab: still up (two VMs, 1 GiB each${o.startedLab ? ', kept with --keep-lab' : ', it was up before this rehearsal'})`,
      ...(o.pid !== undefined
        ? [
            `   the workload runs on ${where} as PID ${o.pid}; try next:`,
            `   npx ferry lab workload status --host ${where.replace('lab-', '')}`,
            `   npx ferry migrate --source ${where} --target ${back} --pid ${o.pid} --max-downtime 6s   (and back again)`,
          ]
        : []),
      '   npx ferry lab down          stops both VMs when you are done',
    ],
  };
}

export function registerRehearseCommand(program: Command): void {
  program
    .command('rehearse')
    .description('Bring up the lab, start the demo workload, and migrate it source → target with pre-copy, end to end')
    .option('--mib <n>', 'memory the demo workload holds', '128')
    .option('--rate <pages>', 'pages the workload dirties per second', '1000')
    .option('--max-downtime <duration>', 'downtime budget (default: 6s under TCG emulation, 1s with KVM)')
    .option('--mode <mode>', 'precopy or cold', 'precopy')
    .option('--keep-lab', 'leave the lab up afterwards when the rehearsal started it (it stays up anyway when it was up before)')
    .option('--json', 'one JSON object per line; the last line summarises the run')
    .option('-v, --verbose', 'show every command as it runs')
    .action(async (o: { mib: string; rate: string; maxDowntime?: string; mode: 'precopy' | 'cold'; keepLab?: boolean; json?: boolean; verbose?: boolean }) => {
      const say = (s: string) => (o.json ? undefined : process.stdout.write(`${s}\n`));
      if (o.maxDowntime) parseDuration(o.maxDowntime); // a typo fails now, not after the lab boots
      const progress = new ProgressDisplay();
      say('== lab: bringing up two VMs with real CRIU (source, target)');
      const up = await labUp({}, o.json ? () => undefined : progress.on).finally(() => progress.stop());
      say(`   lab ready (${up.accel}${up.built ? ', image built' : ''}, ${Math.round(up.timings.totalMs / 1000)} s)`);
      const budget = o.maxDowntime ?? LAB_BUDGET[up.accel];
      if (!o.maxDowntime && up.accel === 'tcg') say(`   budget ${budget}: the VMs run under TCG emulation, ~10x slower than hardware`);

      const hub = new SshHub();
      let name = '';
      let pid: number | undefined;
      let committed = false;
      try {
        name = `rehearsal-${Date.now()}`;
        // Stop an earlier rehearsal's workload so PID 50000 is free on both VMs.
        for (const alias of ['lab-source', 'lab-target']) {
          await hub.session(alias).exec(['pkill', '-KILL', '-f', '/usr/local/bin/ferry-workload']);
        }
        const wl = await startWorkload({ host: 'source', mib: Number(o.mib), rate: Number(o.rate), name }, hub);
        pid = wl.pid;
        say(`== workload: PID ${wl.pid} on lab-source, ${o.mib} MiB, ${o.rate} pages/s dirtied, self-verifying`);
        // The first status line comes once the workload has filled its memory: under TCG that
        // takes seconds and varies, so wait for it (bounded) rather than a fixed pause.
        const before = await firstStatus(name, hub);
        say(`   ${before.raw}`);

        const result = await runMigration({
          source: 'lab-source',
          target: 'lab-target',
          pid: wl.pid,
          mode: o.mode,
          maxDowntime: budget,
          maxIterations: defaultPolicy.maxIterations,
          auto: true,
          onNotConverging: 'cutover',
          targetAddress: LINK_ADDR.target,
          port: 27000,
          workDir: '/var/lib/ferry',
          sync: [],
          keepImages: false,
          json: o.json,
          verbose: o.verbose,
        });
        if (result.outcome === 'committed') {
          await new Promise((r) => setTimeout(r, 3000));
          const after = await workloadStatus('target', { name }, hub);
          say(`\n== workload on lab-target after migration:\n   ${after.raw}`);
          say(after.verify === 'OK' && after.counter > before.counter ? '   memory verified, counter continued' : '   WARNING: the workload did not verify on the target');
        }
        say(`\nreport:  npx ferry journal report ${result.migrationId}\nrunbook: npx ferry journal runbook ${result.migrationId}\njournal: ${journalPath(result.migrationId)}`);
        committed = result.outcome === 'committed';
        process.exitCode = committed ? 0 : 1;
      } finally {
        await hub.closeAll();
        const end = rehearsalEnding({ startedLab: !up.alreadyUp, keepLab: !!o.keepLab, pid, committed });
        say('');
        for (const line of end.lines) say(line);
        if (end.takeDown) await labDown();
      }
    });
}

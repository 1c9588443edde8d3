import type { Command } from 'commander';
import { FerryError } from '../../../shared/errors.ts';
import { PROBE_SECONDS } from '../../engine/dirty/dirty.ts';
import { MigrationService } from '../../engine/migrations.ts';
import { SshHub } from '../../ssh/index.ts';
import { int } from '../options.ts';
import { cliTrustDecider } from '../trust.ts';


/** `ferry dirty-rate`: before migrating, how fast does the process dirty its memory? */
export function registerDirtyCommand(program: Command): void {
  program
    .command('dirty-rate')
    .description('Measure how fast a process dirties its memory (clears its soft-dirty bits, waits, counts); only before a migration of it')
    .requiredOption('--host <alias>', 'the host the process runs on')
    .requiredOption('--pid <pid>', 'the process (its whole tree is counted)', int('pid', 1, 4_194_304))
    .option('--seconds <n>', `how long to wait between clearing and counting (${PROBE_SECONDS.min}–${PROBE_SECONDS.max})`, int('seconds', PROBE_SECONDS.min, PROBE_SECONDS.max), 5)
    .option('--json', 'print the result as one JSON object')
    .option('--trust-fingerprint <sha256...>', 'accept this host key fingerprint if the host is unknown')
    .action(async (o: { host: string; pid: number; seconds: number; json?: boolean; trustFingerprint?: string[] }) => {
      const hub = new SshHub({ trust: cliTrustDecider({ fingerprints: o.trustFingerprint ?? [], interactive: !o.json && process.stdin.isTTY === true }) });
      const service = new MigrationService((alias) => hub.session(alias), () => undefined);
      try {
        if (!o.json) process.stdout.write(`measuring PID ${o.pid} on ${o.host} for ${o.seconds} s…\n`);
        const r = await service.measureDirtyRate(o.host, o.pid, o.seconds);
        if (o.json) {
          process.stdout.write(`${JSON.stringify(r)}\n`);
        } else {
          process.stdout.write(
            [
              `pages dirtied  ${r.dirtyPages} in ${r.seconds.toFixed(1)} s (of ${r.presentPages} resident, tree ${r.pids.join(' ')})`,
              `rate           ${Math.round(r.pagesPerSec)} pages/s = ${(r.bytesPerSec / 1048576).toFixed(1)} MiB/s`,
              `for pre-copy   ${r.verdict}`,
              '',
            ].join('\n'),
          );
        }
      } finally {
        await hub.closeAll();
      }
    });
}

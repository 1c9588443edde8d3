import os from 'node:os';
import { Command, CommanderError, InvalidArgumentError } from 'commander';
import { FerryError } from '../../../shared/errors.ts';
import { ferryFiles, ferryPaths } from '../../paths.ts';
import { SshHub, type TrustPrompt } from '../../ssh/index.ts';
import { cliTrustDecider } from '../trust.ts';
import { CommandRunner, type Privilege } from '../../engine/commands/runner.ts';
import { candidatesTable, filterCandidates, listCandidates } from '../../engine/hosts/candidates.ts';

/** `ferry hosts`, `ferry exec`. */
export function registerHostCommands(program: Command): void {
  program
    .command('hosts')
    .description("List host aliases from ~/.ssh/config and Ferry's ssh_config, with where they point.")
    .action(async () => {
      const hub = new SshHub();
      const aliases = await hub.listHosts();
      if (aliases.length === 0) {
        process.stdout.write(`No hosts configured. Add Host entries to ~/.ssh/config or ${ferryFiles(ferryPaths()).sshConfig}.\n`);
        return;
      }
      const rows = await Promise.all(
        aliases.map(async (alias) => {
          const r = await hub.resolve(alias);
          return [
            alias,
            `${r.user}@${r.hostname}:${r.port}`,
            r.keyKnown ? 'key known' : 'key unknown',
            r.proxyJump.length ? `via ${r.proxyJump.join(',')}` : '',
          ];
        }),
      );
      const widths = [0, 1, 2].map((i) => Math.max(...rows.map((r) => r[i]!.length)));
      for (const r of rows) {
        process.stdout.write(`${r.map((c, i) => (i < 3 ? c.padEnd(widths[i]!) : c)).join('  ').trimEnd()}\n`);
      }
    });

  // Choosing what to move: one read-only python3 program on the host.
  program
    .command('ps')
    .description('List the processes on a host a migration could take: tree size and memory, session leader, listening ports, cgroup and systemd unit')
    .argument('<host>', 'host alias (see `ferry hosts`)')
    .argument('[filter]', 'only processes whose command or unit contains this (or whose user is this)')
    .option('--json', 'one JSON object: { host, processes: [{ pid, ppid, sid, sessionLeader, user, command, tree, rssKiB, treeRssKiB, listening, cgroup, unit? }] }')
    .option('--trust-fingerprint <fp...>', 'trust a host key with this SHA256 fingerprint without asking')
    .option('-v, --verbose', 'show the command as it runs')
    .action(async (host: string, filter: string | undefined, o: { json?: boolean; trustFingerprint?: string[]; verbose?: boolean }) => {
      const hub = new SshHub({ trust: cliTrustDecider({ fingerprints: o.trustFingerprint ?? [], interactive: !o.json && process.stdin.isTTY === true }) });
      try {
        // Other users' fds and sockets need root: sudo -n when not logged in as root.
        let privilege: Privilege = 'root';
        const run = new CommandRunner(
          (e) => {
            if (o.verbose && e.type === 'command-started') process.stderr.write(`$ ${e.host}: ${e.sudo ? 'sudo -n ' : ''}${e.argv.slice(0, 2).join(' ')} …\n`);
          },
          (a) => hub.session(a),
          () => privilege,
        );
        const id = await run.run(host, ['id', '-u'], { quiet: true, check: true, what: 'checking the user' });
        if (id.stdout.trim() !== '0') privilege = 'sudo';
        const rows = filterCandidates(await listCandidates(run, host), filter);
        process.stdout.write(o.json ? `${JSON.stringify({ host, processes: rows })}\n` : `${candidatesTable(rows)}\n`);
      } finally {
        await hub.closeAll();
      }
    });

  program
    .command('exec')
    .description('Run a command on a host over SSH, streaming its output; exits with its exit code.')
    .argument('<host>', 'host alias (see `ferry hosts`)')
    .argument('<command...>', 'the program and its arguments; put them after --')
    .option('--sudo', 'run through sudo -n (never prompts for a password)')
    .option('--timeout <seconds>', 'stop the command after this many seconds', parseSeconds)
    .option('--trust-fingerprint <SHA256:...>', "accept the host's key if it is unknown and has exactly this fingerprint")
    .addHelpText('after', '\nExample:\n  ferry exec lab-source --sudo -- criu check --all\n')
    .action(async (host: string, argv: string[], opts: { sudo?: boolean; timeout?: number; trustFingerprint?: string }) => {
      let asked: TrustPrompt | undefined;
      const decide = cliTrustDecider({
        fingerprints: opts.trustFingerprint ? [opts.trustFingerprint] : [],
        interactive: Boolean(process.stdin.isTTY && process.stderr.isTTY),
      });
      const hub = new SshHub({
        trust: async (p) => {
          asked = p;
          return decide(p);
        },
      });
      const ac = new AbortController();
      const onInt = () => ac.abort();
      process.once('SIGINT', onInt);
      try {
        const r = await hub.session(host).exec(argv, {
          sudo: opts.sudo,
          timeoutMs: opts.timeout ? opts.timeout * 1000 : undefined,
          signal: ac.signal,
          onStdout: (c) => process.stdout.write(c),
          onStderr: (c) => process.stderr.write(c),
          // Output is streamed to the terminal; keep only a little (sudo detection reads stderr).
          maxOutputBytes: 64 * 1024,
        });
        if (r.timedOut) {
          process.stderr.write(`ferry: ${host}: the command was stopped after ${opts.timeout} s\n`);
          throw new CommanderError(124, 'ferry.exec.timeout', '');
        }
        const code = r.code ?? (r.signal ? 128 + (os.constants.signals[`SIG${r.signal}` as NodeJS.Signals] ?? 0) : 255);
        if (code !== 0) throw new CommanderError(code, 'ferry.exec.exit', '');
      } catch (e) {
        if (e instanceof FerryError && e.code === 'host-key-unknown-refused' && asked && !process.stdin.isTTY) {
          throw new FerryError({
            code: e.code,
            host: e.host,
            message: e.message,
            hint: opts.trustFingerprint
              ? `The host presented ${asked.fingerprint}, not ${opts.trustFingerprint}. Check with the host's administrator before trusting it.`
              : `There is no terminal to ask on. After checking the fingerprint with the host's administrator, run again with --trust-fingerprint ${asked.fingerprint}`,
          });
        }
        throw e;
      } finally {
        process.off('SIGINT', onInt);
        await hub.closeAll();
      }
    });
}

function parseSeconds(v: string): number {
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError('expected a number of seconds greater than 0');
  return n;
}

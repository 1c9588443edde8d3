import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { FerryError } from '../../../shared/errors.ts';
import {
  labDestroy,
  labDown,
  labStatus,
  labUp,
  startWorkload,
  workloadStatus,
  LAB_HOSTS,
  labAlias,
  type LabHost,
  type LabProgress,
  type LabStatus,
  type VmBoot,
} from '../../lab/index.ts';
import { SshHub } from '../../ssh/index.ts';

const SPIN = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];

/**
 * Progress on stderr. A line per finished step (and per note) with the elapsed time; on a
 * TTY the running step is one updating line with a spinner, elsewhere a running step with a
 * fraction prints at most every 5 s so CI logs stay short.
 */
export class ProgressDisplay {
  private readonly t0 = Date.now();
  private current?: LabProgress;
  private timer?: NodeJS.Timeout;
  private frame = 0;
  private lastPrinted = new Map<string, number>();
  constructor(
    private readonly out: NodeJS.WriteStream | { write(s: string): unknown; isTTY?: boolean } = process.stderr,
    private readonly tty = Boolean((out as NodeJS.WriteStream).isTTY),
  ) {}

  private elapsed(): string {
    return `${((Date.now() - this.t0) / 1000).toFixed(1).padStart(6)}s`;
  }
  private label(p: LabProgress): string {
    const pct = p.fraction !== undefined && !p.done ? ` ${Math.round(p.fraction * 100)}%` : '';
    return `${p.step}${p.host ? `[${p.host}]` : ''}: ${p.message}${pct}`;
  }
  private clear(): void {
    if (this.tty) this.out.write('\r\x1b[2K');
  }
  private draw(): void {
    if (!this.current) return;
    const cols = (this.out as NodeJS.WriteStream).columns ?? 100;
    const s = `${SPIN[this.frame++ % SPIN.length]} [${this.elapsed()}] ${this.label(this.current)}`;
    this.clear();
    this.out.write(s.length > cols - 1 ? `${s.slice(0, cols - 2)}…` : s);
  }

  on = (p: LabProgress): void => {
    const running = !p.done && (p.fraction !== undefined || p.active === true);
    if (this.tty) {
      if (running) {
        this.current = p;
        this.timer ??= setInterval(() => this.draw(), 120);
        this.draw();
        return;
      }
      this.clear();
      this.out.write(`${p.done ? '✓' : '·'} [${this.elapsed()}] ${this.label(p)}\n`);
      if (this.current?.step === p.step) this.current = undefined;
      if (this.current) this.draw();
      return;
    }
    const key = `${p.step}/${p.host ?? ''}`;
    const now = Date.now();
    if (running && now - (this.lastPrinted.get(key) ?? 0) < (p.active ? 15_000 : 5000)) return;
    this.lastPrinted.set(key, now);
    this.out.write(`[${this.elapsed()}] ${this.label(p)}\n`);
  };

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    if (this.current) this.clear();
    this.current = undefined;
  }
}

const parseHost = (v: string): LabHost => {
  const h = v.replace(/^lab-/, '');
  if (h !== 'source' && h !== 'target') throw new InvalidArgumentError('must be source or target');
  return h;
};
const parseIntArg = (v: string): number => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError('must be a whole number');
  return n;
};
const parseMemory = (v: string): number => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 512 || n > 16384) throw new InvalidArgumentError('must be MiB from 512 to 16384');
  return n;
};
const parsePair = (v: string): [number, number] => {
  const parts = v.split(',').map((s) => Number(s.trim()));
  if (parts.length !== 2 || parts.some((n) => !Number.isInteger(n) || n < 1 || n > 65535)) throw new InvalidArgumentError('give two ports: SOURCE,TARGET');
  return [parts[0]!, parts[1]!];
};

function ago(seconds: number | undefined): string {
  if (seconds === undefined) return '?';
  if (seconds < 120) return `${seconds} s ago`;
  if (seconds < 7200) return `${Math.round(seconds / 60)} min ago`;
  if (seconds < 172800) return `${Math.round(seconds / 3600)} h ago`;
  return `${Math.round(seconds / 86400)} days ago`;
}
const mib = (b: number | undefined) => (b === undefined ? '?' : `${(b / 1024 ** 2).toFixed(0)} MiB`);

export function formatStatus(s: LabStatus): string {
  const lines: string[] = [];
  const running = s.vms.filter((v) => v.running).length;
  lines.push(`lab: ${s.up ? 'up' : running ? 'partly up' : 'down'}${s.accel ? ` (accel ${s.accel}${s.startedAt ? `, since ${s.startedAt}` : ''})` : ''}`);
  for (const v of s.vms) {
    lines.push(
      `  ${v.host.padEnd(7)} ${v.running ? `pid ${v.pid}` : 'stopped'}${v.sshPort ? `  ssh 127.0.0.1:${v.sshPort}` : ''}${v.running ? (v.reachable ? '  reachable' : v.problem && v.problem.code !== 'host-unreachable' ? '  NOT reachable' : '  NOT answering SSH') : ''}  (${v.alias})`,
    );
    // What a connection would say (a changed host key, a refused login), with its fix.
    if (v.running && v.problem) lines.push(`          ${v.problem.message}${v.problem.hint ? `\n          next: ${v.problem.hint}` : ''}`);
  }
  const img = s.image;
  lines.push(
    `image: ${img.state}${img.reason ? ` (${img.reason})` : ''}  ${img.dir}` +
      (img.createdAt ? `\n  built ${img.createdAt} (${ago(img.ageSeconds)}), kernel ${img.kernel}, ${mib(img.diskBytes)} on disk (base image ${mib(img.sizes?.['base.img'])} sparse)` : ''),
  );
  lines.push(`ssh:  ${s.sshConfig}\n      ${s.knownHosts}`);
  if (running && s.vms.some((v) => v.running && !v.reachable)) lines.push(`serial logs: ${s.vms.map((v) => v.serialLog).join(' ')}`);
  return `${lines.join('\n')}\n`;
}

/** Leave with the remote command's exit code (main() turns a CommanderError into the exit code). */
function exitWith(code: number): never {
  throw new CommanderError(code, 'ferry.lab.exit', '');
}

export function registerLabCommands(program: Command): void {
  const lab = program
    .command('lab')
    .description('Rehearsal lab: two local qemu VMs (source, target) with real CRIU, reachable as lab-source / lab-target')
    .addHelpText(
      'after',
      `
Everything stays on this machine: SSH on 127.0.0.1:2221/2222, and a private 10.0.0.0/24 link
between the VMs (source 10.0.0.1, target 10.0.0.2). The image is built once (root, ~2 min)
into Ferry's cache; the first \`up\` boots both VMs cold and saves their settled state, later
ones resume from it in seconds (--cold-boot to boot anyway).`,
    );

  lab
    .command('up')
    .description('Build the image if needed, boot both VMs and wait until SSH answers')
    .option('--ssh-ports <source,target>', 'loopback TCP ports forwarded to the VMs\' sshd', parsePair)
    .option('--link-ports <source,target>', 'loopback UDP ports of the VM-to-VM link', parsePair)
    .addOption(new Option('--accel <accel>', 'qemu accelerator (auto: KVM only with vmx/svm and a working /dev/kvm)').choices(['auto', 'tcg', 'kvm']).default('auto'))
    .option('--timeout <seconds>', 'how long to wait for each VM\'s SSH (default 180 under TCG)', parseIntArg)
    .option('--rebuild', 'rebuild the image even if the cached one is current')
    .option('--cold-boot', 'boot both VMs cold instead of resuming them from their saved post-boot states')
    .option('--memory <MiB>', "each VM's memory, 512 to 16384 (default 1024; a 512 MiB workload restores without the memory cliff at 2048)", parseMemory)
    .option('--json', 'print the result as JSON')
    .action(async (o: { sshPorts?: [number, number]; linkPorts?: [number, number]; accel: 'auto' | 'tcg' | 'kvm'; timeout?: number; rebuild?: boolean; coldBoot?: boolean; memory?: number; json?: boolean }) => {
      const display = new ProgressDisplay();
      // Ctrl-C: stop the build or the boot cleanly (labUp stops both VMs and removes the temp build).
      const ac = new AbortController();
      const onInt = () => {
        display.stop();
        process.stderr.write('\nferry: cancelling…\n');
        ac.abort();
      };
      process.once('SIGINT', onInt);
      try {
        const r = await labUp(
          {
            signal: ac.signal,
            accel: o.accel,
            rebuild: o.rebuild,
            boot: o.coldBoot ? 'cold' : 'auto',
            ...(o.memory !== undefined ? { memoryMiB: o.memory } : {}),
            sshTimeoutMs: o.timeout ? o.timeout * 1000 : undefined,
            ports: {
              ssh: o.sshPorts ? { source: o.sshPorts[0], target: o.sshPorts[1] } : undefined,
              link: o.linkPorts ? { source: o.linkPorts[0], target: o.linkPorts[1] } : undefined,
            },
          },
          display.on,
        );
        display.stop();
        if (o.json) {
          process.stdout.write(`${JSON.stringify(r, null, 2)}\n`);
          return;
        }
        const t = r.timings;
        process.stdout.write(
          `lab ${r.alreadyUp ? 'already up' : 'up'}: accel ${r.accel}; ${LAB_HOSTS.map((h) => `${labAlias(h)} 127.0.0.1:${r.ports.ssh[h]}`).join(', ')}\n` +
            (r.alreadyUp ? '' : `  ${r.built ? `image build ${(t.buildMs / 1000).toFixed(0)} s, ` : ''}boot to SSH ${(t.bootMs / 1000).toFixed(1)} s, total ${(t.totalMs / 1000).toFixed(1)} s\n`) +
            // Resumed from a saved state or booted cold (and why, when a resume was not possible).
            (r.boot ? LAB_HOSTS.map((h) => `  ${labAlias(h)}: ${describeBoot(r.boot![h])}\n`).join('') : '') +
            `  try: ferry lab ssh source -- criu check\n`,
        );
      } finally {
        process.off('SIGINT', onInt);
        display.stop();
      }
    });

  lab
    .command('status')
    .description('What runs: each VM (pid, SSH port, reachable), the accelerator, the image (path, age, size)')
    .option('--json', 'print JSON for scripts')
    .action(async (o: { json?: boolean }) => {
      const s = await labStatus();
      process.stdout.write(o.json ? `${JSON.stringify(s, null, 2)}\n` : formatStatus(s));
    });

  lab
    .command('down')
    .description('Stop both VMs (the image stays in the cache)')
    .action(async () => {
      const stopped = await labDown();
      process.stdout.write(stopped.length ? `stopped ${stopped.join(', ')}\n` : 'lab was not running\n');
    });

  lab
    .command('destroy')
    .description('Stop both VMs and remove the image cache and the lab\'s SSH entries')
    .action(async () => {
      await labDestroy();
      process.stdout.write('lab destroyed (next `ferry lab up` builds the image again)\n');
    });

  lab
    .command('ssh')
    .description('Run a command on a lab VM through Ferry\'s SSH layer: ferry lab ssh source -- criu check')
    .argument('<host>', 'source or target', parseHost)
    .argument('<cmd...>', 'the command and its arguments (after --)')
    .option('--timeout <seconds>', 'stop the command after this long', parseIntArg)
    .action(async (host: LabHost, cmd: string[], o: { timeout?: number }) => {
      const hub = new SshHub();
      let code: number;
      try {
        const r = await hub.session(labAlias(host)).exec(cmd, {
          timeoutMs: o.timeout ? o.timeout * 1000 : undefined,
          onStdout: (b) => process.stdout.write(b),
          onStderr: (b) => process.stderr.write(b),
        });
        code = r.code ?? (r.signal ? 128 + 15 : 255);
        if (r.timedOut) process.stderr.write(`ferry: the command timed out on ${host}\n`);
      } finally {
        await hub.closeAll();
      }
      if (code !== 0) exitWith(code);
    });

  const wl = lab.command('workload').description('The demo workload: holds N MiB, dirties pages, verifies every page each second');

  wl.command('start')
    .description('Start the workload (setsid, stdin /dev/null, at a PID free on both VMs) and print its PID')
    .addOption(new Option('--host <host>', 'source or target').argParser(parseHost).default('source'))
    .option('--mib <n>', 'MiB of memory it holds', parseIntArg, 64)
    .option('--rate <pages>', 'pages dirtied per second', parseIntArg, 1000)
    .option('--pid <pid>', 'PID to start at (free on both VMs so CRIU can restore it)', parseIntArg, 50000)
    .option('--name <name>', 'run name: files /var/lib/ferry-workload/NAME.{status,out} on the VM', 'demo')
    .action(async (o: { host: LabHost; mib: number; rate: number; pid: number; name: string }) => {
      const r = await startWorkload({ host: o.host, mib: o.mib, rate: o.rate, pid: o.pid, name: o.name });
      process.stderr.write(`ferry-workload on ${r.host}: ${o.mib} MiB, ${o.rate} pages/s, status ${r.statusFile}, output ${r.outFile}\n`);
      if (r.pid !== o.pid) process.stderr.write(`note: it got PID ${r.pid}, not ${o.pid} (something else forked in between)\n`);
      process.stdout.write(`${r.pid}\n`);
    });

  wl.command('status')
    .description('Print the latest status line of the workload')
    .addOption(new Option('--host <host>', 'source or target').argParser(parseHost).default('source'))
    .option('--name <name>', 'run name', 'demo')
    .option('--json', 'print the parsed line as JSON')
    .action(async (o: { host: LabHost; name: string; json?: boolean }) => {
      const s = await workloadStatus(o.host, { name: o.name });
      process.stdout.write(o.json ? `${JSON.stringify(s)}\n` : `${s.raw}\n`);
    });
}

export { FerryError };

/** One line on how a VM came up, for `ferry lab up`. */
export function describeBoot(b: VmBoot): string {
  if (b.how === 'resumed') {
    return `resumed from its saved post-boot state${b.saved ? ' (saved just now after a cold boot)' : ''}; clock set from the host (${b.clockSkewMs ?? '?'} ms off), random generator reseeded`;
  }
  return `cold boot${b.fallback ? ` (${b.fallback})` : ''}`;
}

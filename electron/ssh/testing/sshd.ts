import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

/** A throwaway OpenSSH server on 127.0.0.1 for tests: its own host key, one authorized client key. */
export interface TestSshd {
  port: number;
  dir: string;
  hostKeyPath: string;
  clientKeyPath: string;
  /** Everything sshd logged (LogLevel VERBOSE, or as asked). */
  log(): string;
  stop(): Promise<void>;
  /** SIGKILL the listener and every per-connection sshd under it: the host "dies". */
  kill(): Promise<void>;
  /** Start again on the same port with the same keys. */
  restart(): Promise<void>;
  /** Replace the host key with a new one (takes effect on restart). */
  regenerateHostKey(): void;
}

export interface TestSshdOptions {
  /** Extra sshd_config lines. */
  config?: string[];
  logLevel?: 'VERBOSE' | 'DEBUG' | 'DEBUG3' | 'INFO';
  /** Reuse this client key instead of generating one. */
  clientKeyPath?: string;
  port?: number;
}

const SSHD = '/usr/sbin/sshd';

export function keygen(file: string, type = 'ed25519', extra: string[] = []): void {
  execFileSync('ssh-keygen', ['-q', '-t', type, '-N', '', '-C', 'ferry-test', '-f', file, ...extra], { stdio: 'ignore' });
}

export async function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const srv = net.createServer();
    srv.once('error', rej);
    srv.listen(0, '127.0.0.1', () => {
      const a = srv.address() as net.AddressInfo;
      srv.close(() => res(a.port));
    });
  });
}

/** Child pids of a process, from /proc (sshd forks per connection and per session). */
function descendants(pid: number): number[] {
  const kids = new Map<number, number[]>();
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${d}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      const list = kids.get(ppid) ?? [];
      list.push(Number(d));
      kids.set(ppid, list);
    } catch {
      /* gone */
    }
  }
  const out: number[] = [];
  const walk = (p: number) => {
    for (const k of kids.get(p) ?? []) {
      out.push(k);
      walk(k);
    }
  };
  walk(pid);
  return out;
}

export async function startSshd(opts: TestSshdOptions = {}): Promise<TestSshd> {
  if (!fs.existsSync(SSHD)) {
    throw new Error(`${SSHD} not found: install the Debian package openssh-server (apt-get install openssh-server).`);
  }
  fs.mkdirSync('/run/sshd', { recursive: true, mode: 0o755 });
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ferry-sshd-'));
  const hostKeyPath = path.join(dir, 'ssh_host_ed25519_key');
  keygen(hostKeyPath);
  const clientKeyPath = opts.clientKeyPath ?? path.join(dir, 'client_key');
  if (!opts.clientKeyPath) keygen(clientKeyPath);
  fs.writeFileSync(path.join(dir, 'authorized_keys'), fs.readFileSync(`${clientKeyPath}.pub`));
  const port = opts.port ?? (await freePort());
  const conf = path.join(dir, 'sshd_config');
  fs.writeFileSync(
    conf,
    [
      `Port ${port}`,
      'ListenAddress 127.0.0.1',
      `HostKey ${hostKeyPath}`,
      `PidFile ${path.join(dir, 'sshd.pid')}`,
      `AuthorizedKeysFile ${path.join(dir, 'authorized_keys')}`,
      'PermitRootLogin prohibit-password',
      'PasswordAuthentication no',
      'KbdInteractiveAuthentication no',
      'UsePAM no',
      'StrictModes no',
      'AllowTcpForwarding yes',
      'MaxSessions 20',
      'MaxStartups 100',
      `LogLevel ${opts.logLevel ?? 'VERBOSE'}`,
      'Subsystem sftp internal-sftp',
      // The test sshd logs in as the developer's own user, whose ~/.bashrc bash would source
      // for every command run over ssh (it does so when SHLVL says it is the top-level shell).
      // A tool's hook there (e.g. pyenv's rehash, which waits on a lock that a command killed
      // by a timeout test leaves behind) must not make these tests slow or hang.
      // sshd takes only the first SetEnv line, so a test's own SetEnv joins this one.
      ['SetEnv', ...(opts.config ?? []).filter((l) => /^SetEnv\s/.test(l)).map((l) => l.replace(/^SetEnv\s+/, '')), 'SHLVL=1'].join(' '),
      ...(opts.config ?? []).filter((l) => !/^SetEnv\s/.test(l)),
      '',
    ].join('\n'),
  );
  let child: ChildProcess | undefined;
  let log = '';

  const start = async () => {
    const c = spawn(SSHD, ['-D', '-e', '-f', conf], { stdio: ['ignore', 'ignore', 'pipe'] });
    child = c;
    await new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`sshd did not start on port ${port}:\n${log}`)), 10_000);
      c.stderr!.on('data', (d: Buffer) => {
        log += d.toString();
        if (log.includes(`Server listening on 127.0.0.1 port ${port}`)) {
          clearTimeout(t);
          resolve();
        }
      });
      c.once('exit', (code) => {
        clearTimeout(t);
        reject(new Error(`sshd exited with ${code}:\n${log}`));
      });
    });
  };

  const killAll = async (sig: NodeJS.Signals) => {
    const c = child;
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    const exited = new Promise<void>((r) => c.once('exit', () => r()));
    for (const p of [c.pid!, ...descendants(c.pid!)]) {
      try {
        process.kill(p, sig);
      } catch {
        /* already gone */
      }
    }
    await exited;
    child = undefined;
  };

  await start();
  return {
    port,
    dir,
    hostKeyPath,
    clientKeyPath,
    log: () => log,
    stop: async () => {
      // Per-connection children outlive a SIGTERMed listener, so killAll signals them too.
      await killAll('SIGTERM');
      fs.rmSync(dir, { recursive: true, force: true });
    },
    kill: () => killAll('SIGKILL'),
    restart: async () => {
      await killAll('SIGKILL');
      // The old listener's port may linger briefly; retry bind.
      for (let i = 0; ; i++) {
        try {
          await start();
          return;
        } catch (e) {
          if (i >= 20) throw e;
          await new Promise((r) => setTimeout(r, 100));
        }
      }
    },
    regenerateHostKey: () => {
      fs.rmSync(hostKeyPath, { force: true });
      fs.rmSync(`${hostKeyPath}.pub`, { force: true });
      keygen(hostKeyPath);
    },
  };
}

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { TestSshd } from './sshd.ts';

/** A temp HOME (with ~/.ssh) and FERRY_HOME, and an env that points at them. */
export interface TestHome {
  home: string;
  ferryHome: string;
  env: NodeJS.ProcessEnv;
  sshConfig: string;
  userKnownHosts: string;
  ferryKnownHosts: string;
  ferrySshConfig: string;
  cleanup(): void;
}

export function makeTestHome(extraEnv: NodeJS.ProcessEnv = {}): TestHome {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'ferry-home-'));
  const home = path.join(root, 'home');
  const ferryHome = path.join(root, 'ferry');
  fs.mkdirSync(path.join(home, '.ssh'), { recursive: true, mode: 0o700 });
  fs.mkdirSync(path.join(ferryHome, 'config'), { recursive: true });
  // No SSH_AUTH_SOCK from the developer's session: tests choose their agent explicitly.
  const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: home, USER: 'root', FERRY_HOME: ferryHome, ...extraEnv };
  return {
    home,
    ferryHome,
    env,
    sshConfig: path.join(home, '.ssh', 'config'),
    userKnownHosts: path.join(home, '.ssh', 'known_hosts'),
    ferryKnownHosts: path.join(ferryHome, 'config', 'known_hosts'),
    ferrySshConfig: path.join(ferryHome, 'config', 'ssh_config'),
    cleanup: () => fs.rmSync(root, { recursive: true, force: true }),
  };
}

/** A Host block pointing an alias at a test sshd with its client key. */
export function hostBlock(alias: string, sshd: Pick<TestSshd, 'port' | 'clientKeyPath'>, extra: string[] = []): string {
  return [`Host ${alias}`, '  HostName 127.0.0.1', `  Port ${sshd.port}`, '  User root', `  IdentityFile ${sshd.clientKeyPath}`, ...extra.map((l) => `  ${l}`), ''].join('\n');
}

/** The known_hosts line for a test sshd's host key. */
export function knownHostsLine(sshd: Pick<TestSshd, 'port' | 'hostKeyPath'>, host = '127.0.0.1'): string {
  const pub = fs.readFileSync(`${sshd.hostKeyPath}.pub`, 'utf8').trim().split(/\s+/);
  return `[${host}]:${sshd.port} ${pub[0]} ${pub[1]}\n`;
}

/** Processes on this machine whose command line starts with `prefix` (the test sshd is local). */
export function processesMatching(prefix: string): string[] {
  const out: string[] = [];
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const args = fs.readFileSync(`/proc/${d}/cmdline`, 'utf8').split('\0').join(' ');
      if (args.startsWith(prefix)) out.push(`${d} ${args}`);
    } catch {
      /* gone */
    }
  }
  return out;
}

/** Wait until `fn` is true (polling), or fail with `what`. */
export async function eventually(fn: () => boolean, what: string, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!fn()) {
    if (Date.now() > end) throw new Error(`timed out waiting for: ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

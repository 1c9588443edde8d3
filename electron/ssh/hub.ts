import { FerryError } from '../../shared/errors.ts';
import { ferryFiles, ferryPaths } from '../paths.ts';
import { configEnv, listAliases, loadConfig, resolveFromConfig, type ResolvedHost } from './config.ts';
import { knownKeyTypes, loadKnownHosts } from './known-hosts.ts';
import { Session, type SessionDeps } from './session.ts';
import type { HostSession, TrustDecider } from './types.ts';

export interface SshHubOptions {
  /** Environment to read HOME, USER, SSH_AUTH_SOCK and FERRY_HOME from (default process.env). */
  env?: NodeJS.ProcessEnv;
  /** Asked about unknown host keys. The default refuses. */
  trust?: TrustDecider;
  /** Asked for the passphrase of an encrypted key file; undefined = skip that key. */
  passphrase?: (keyPath: string) => Promise<string | undefined>;
  /** SSH keepalive interval; three missed replies drop the link. Default 3000. */
  keepaliveMs?: number;
  keepaliveCountMax?: number;
  /** Handshake timeout when the config has no ConnectTimeout. Default 15000. */
  connectTimeoutMs?: number;
  /** Reconnect backoff. Default 500 ms doubling to 10 s, 8 attempts. */
  reconnect?: Partial<SessionDeps['reconnect']>;
  /** Time between TERM and KILL when a command is cancelled or times out. Default 2000. */
  killGraceMs?: number;
  /** Concurrent command channels per connection (OpenSSH's MaxSessions is 10). Default 8. */
  maxChannels?: number;
}

const refuse: TrustDecider = async () => false;

/** Parse a ProxyJump hop: [user@]host[:port], host may be [v6]. */
export function parseJumpSpec(spec: string): { user?: string; host: string; port?: number } {
  const at = spec.lastIndexOf('@');
  const user = at >= 0 ? spec.slice(0, at) : undefined;
  let rest = at >= 0 ? spec.slice(at + 1) : spec;
  let port: number | undefined;
  const m = /^\[([^\]]+)\](?::(\d+))?$/.exec(rest) ?? /^([^:]+)(?::(\d+))?$/.exec(rest);
  if (m) {
    rest = m[1]!;
    if (m[2]) port = Number(m[2]);
  }
  return { user: user || undefined, host: rest, port };
}

/** One SSH connection per host alias, shared by everything in Ferry that talks to that host. */
export class SshHub {
  private readonly sessions = new Map<string, Session>();
  private readonly deps: SessionDeps;
  private readonly env: NodeJS.ProcessEnv;

  constructor(opts: SshHubOptions = {}) {
    this.env = opts.env ?? process.env;
    this.deps = {
      env: this.env,
      resolve: (alias) => this.resolve(alias),
      trust: opts.trust ?? refuse,
      passphrase: opts.passphrase,
      ferryKnownHosts: ferryFiles(ferryPaths(this.env)).knownHosts,
      keepaliveMs: opts.keepaliveMs ?? 3000,
      keepaliveCountMax: opts.keepaliveCountMax ?? 3,
      connectTimeoutMs: opts.connectTimeoutMs ?? 15_000,
      reconnect: { initialDelayMs: 500, maxDelayMs: 10_000, maxAttempts: 8, ...opts.reconnect },
      killGraceMs: opts.killGraceMs ?? 2000,
      maxChannels: opts.maxChannels ?? 8,
      jump: (spec, via) => this.jumpSession(spec, via),
      checkJumpChain: (alias) => this.checkJumpChain(alias),
    };
  }

  /** The session for an alias; created on first use, connected lazily by its first command. */
  session(alias: string): HostSession {
    return this.sessionImpl(alias);
  }

  private sessionImpl(alias: string): Session {
    let s = this.sessions.get(alias);
    if (!s) {
      s = new Session(alias, this.deps);
      this.sessions.set(alias, s);
    }
    return s;
  }

  /** A hop of a ProxyJump chain. A bare alias with its own config reuses the user's session to it. */
  private jumpSession(spec: string, via: string[] | undefined): Session {
    const j = parseJumpSpec(spec);
    if (!j.user && !j.port && !via) return this.sessionImpl(j.host);
    const key = `jump:${spec}|${via?.join(',') ?? ''}`;
    let s = this.sessions.get(key);
    if (!s) {
      s = new Session(j.host, this.deps, { user: j.user, port: j.port, via });
      this.sessions.set(key, s);
    }
    return s;
  }

  /** Follow ProxyJump through the config and refuse loops, which would otherwise wait on themselves. */
  private async checkJumpChain(alias: string): Promise<void> {
    const seen = [alias];
    let cur = alias;
    for (;;) {
      const r = await this.resolve(cur);
      const first = r.proxyJump[0];
      if (!first) return;
      const next = parseJumpSpec(first).host;
      if (seen.includes(next) || seen.length > 8) {
        throw new FerryError({
          code: 'ssh-config',
          host: alias,
          message: `ProxyJump for ${alias} loops: ${[...seen, next].join(' -> ')}.`,
          hint: `Fix the ProxyJump lines in ${r.configFiles.join(' or ') || '~/.ssh/config'}.`,
        });
      }
      seen.push(next);
      cur = next;
    }
  }

  async resolve(alias: string): Promise<ResolvedHost> {
    const cenv = configEnv(this.env);
    const r = resolveFromConfig(alias, await loadConfig(cenv), cenv);
    const lines = await loadKnownHosts([...r.userKnownHostsFiles, this.deps.ferryKnownHosts]);
    r.keyKnown = knownKeyTypes(lines, r.hostname, r.port).length > 0;
    return r;
  }

  listHosts(): Promise<string[]> {
    return listAliases(this.env);
  }

  async closeAll(): Promise<void> {
    const all = [...this.sessions.values()];
    this.sessions.clear();
    // close() marks each session closed synchronously, so a jump host going first does not
    // make the sessions through it start reconnecting.
    await Promise.all(all.map((s) => s.close().catch(() => {})));
  }
}

import { EventEmitter } from 'node:events';
import fs from 'node:fs/promises';
import { PassThrough, type Duplex } from 'node:stream';
import ssh2 from 'ssh2';
import type { AnyAuthMethod, AuthenticationType, ClientChannel, ConnectConfig, SFTPWrapper } from 'ssh2';
import { FerryError } from '../../shared/errors.ts';
import type { ResolvedHost } from './config.ts';
import { fingerprintOf, keyTypeOf } from './fingerprint.ts';
import { appendKnownHost, checkHostKey, knownHostName, knownKeyTypes, loadKnownHosts } from './known-hosts.ts';
import { PGID_PREAMBLE, runChannel, trySignal, watchExit, type Active, type ChannelLink, type ExitStatus, type ProcControl } from './channel.ts';
import { quoteArgv } from './quote.ts';
import { readRemoteFile, writeRemoteFile } from './sftp-files.ts';
import { asFerryError, isTransient, transportError, viaText } from './transport-errors.ts';
import type { ExecOptions, ExecResult, HostSession, RemoteProcess, SessionState, TrustDecider, TrustPrompt } from './types.ts';

const { Client, utils } = ssh2;
type SshClient = InstanceType<typeof Client>;

/** Everything a session needs from its hub; the hub builds it once. */
export interface SessionDeps {
  env: NodeJS.ProcessEnv;
  resolve(alias: string): Promise<ResolvedHost>;
  trust: TrustDecider;
  passphrase?: (keyPath: string) => Promise<string | undefined>;
  ferryKnownHosts: string;
  keepaliveMs: number;
  keepaliveCountMax: number;
  connectTimeoutMs: number;
  reconnect: { initialDelayMs: number; maxDelayMs: number; maxAttempts: number };
  killGraceMs: number;
  maxChannels: number;
  /** The session that carries a ProxyJump hop (shared with the user's own session for that alias when possible). */
  jump(spec: string, via: string[] | undefined): Session;
  /** Throws 'ssh-config' when following ProxyJump from this alias loops. */
  checkJumpChain(alias: string): Promise<void>;
}

export interface SessionOptions {
  /** Explicit hops for this connection (ProxyJump chain position); undefined = use the config's ProxyJump. */
  via?: string[];
  user?: string;
  port?: number;
}

const DEFAULT_MAX_OUTPUT = 16 * 1024 * 1024;
/** Linux MAX_ARG_STRLEN (128 KiB including the NUL), minus nothing else: sshd runs `$SHELL -c COMMAND`. */
const MAX_COMMAND_BYTES = 128 * 1024 - 1;

/** A pausable one-shot timer: the connect timeout must not run while a human reads a fingerprint. */
class PausableTimer {
  private t?: NodeJS.Timeout;
  private left: number;
  private since = 0;
  constructor(ms: number, private fire: () => void) {
    this.left = ms;
    this.resume();
  }
  pause(): void {
    if (!this.t) return;
    clearTimeout(this.t);
    this.t = undefined;
    this.left -= Date.now() - this.since;
  }
  resume(): void {
    if (this.t || this.left === Infinity) return;
    this.since = Date.now();
    this.t = setTimeout(this.fire, Math.max(0, this.left));
  }
  clear(): void {
    if (this.t) clearTimeout(this.t);
    this.t = undefined;
    this.left = Infinity;
  }
}

/** Counting semaphore: OpenSSH allows 10 sessions per connection (MaxSessions), so we queue beyond a limit. */
class Slots {
  private free: number;
  private waiters: Array<() => void> = [];
  constructor(n: number) {
    this.free = n;
  }
  async take(): Promise<() => void> {
    if (this.free > 0) this.free--;
    else await new Promise<void>((r) => this.waiters.push(r));
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.waiters.shift();
      if (next) next();
      else this.free++;
    };
  }
}

const lastLinkError = new WeakMap<object, string>();

export class Session extends EventEmitter implements HostSession {
  private _state: SessionState = { kind: 'idle' };
  private client?: SshClient;
  private pending?: Promise<void>;
  private closedByUser = false;
  private wake?: () => void;
  private sftpP?: Promise<SFTPWrapper>;
  private readonly active = new Set<Active>();
  private readonly slots: Slots;
  /** Where this session connects, as last resolved (for messages). */
  private target?: ResolvedHost;

  constructor(
    readonly alias: string,
    private readonly deps: SessionDeps,
    private readonly opts: SessionOptions = {},
  ) {
    super();
    this.slots = new Slots(deps.maxChannels);
  }

  get state(): SessionState {
    return this._state;
  }

  private setState(s: SessionState): void {
    this._state = s;
    this.emit('state', s);
  }

  // ---------------------------------------------------------------- connection

  connect(): Promise<void> {
    if (this._state.kind === 'ready' && this.client) return Promise.resolve();
    if (this.pending) return this.pending;
    this.closedByUser = false;
    return this.runConnect(false, '');
  }

  private runConnect(reconnecting: boolean, reason: string): Promise<void> {
    const p = this.connectLoop(reconnecting, reason).finally(() => {
      if (this.pending === p) this.pending = undefined;
    });
    this.pending = p;
    p.catch(() => {}); // the reconnect loop may have no caller waiting; callers of connect() still see the rejection
    return p;
  }

  private async connectLoop(reconnecting: boolean, reason: string): Promise<void> {
    const rc = this.deps.reconnect;
    let attempt = 0;
    for (;;) {
      if (reconnecting) {
        attempt++;
        const delayMs = Math.min(rc.maxDelayMs, rc.initialDelayMs * 2 ** (attempt - 1));
        this.setState({ kind: 'reconnecting', attempt, delayMs, reason });
        await new Promise<void>((r) => {
          const t = setTimeout(r, delayMs);
          this.wake = () => {
            clearTimeout(t);
            r();
          };
        });
        this.wake = undefined;
        if (this.closedByUser) throw this.closedError();
      } else {
        this.setState({ kind: 'connecting' });
      }
      try {
        await this.establish();
        if (this.closedByUser) {
          this.client?.end();
          throw this.closedError();
        }
        this.setState({ kind: 'ready' });
        return;
      } catch (e) {
        const fe = asFerryError(e, this.alias);
        if (this.closedByUser) {
          this.setState({ kind: 'closed' });
          throw fe;
        }
        // Only a transport problem is worth retrying; a key or auth problem needs a human.
        if (!reconnecting || !isTransient(fe) || attempt >= rc.maxAttempts) {
          this.setState({ kind: 'failed', error: fe.toJSON() });
          throw fe;
        }
        reason = fe.message;
      }
    }
  }

  private closedError(): FerryError {
    return new FerryError({ code: 'session-closed', host: this.alias, message: 'The SSH session was closed.' });
  }

  private async resolveTarget(): Promise<ResolvedHost> {
    const r = { ...(await this.deps.resolve(this.alias)) };
    if (this.opts.user) r.user = this.opts.user;
    if (this.opts.port) r.port = this.opts.port;
    if (this.opts.via) r.proxyJump = this.opts.via;
    return r;
  }

  /** One connection attempt: jump socket, handshake with host-key check, auth. */
  private async establish(): Promise<void> {
    const target = await this.resolveTarget();
    this.target = target;
    const { hostname, port, user } = target;
    const where = `${hostname}:${port}`;
    const knownLines = await loadKnownHosts([...target.userKnownHostsFiles, this.deps.ferryKnownHosts]);

    let sock: Duplex | undefined;
    if (target.proxyJump.length > 0) {
      if (!this.opts.via) await this.deps.checkJumpChain(this.alias);
      const hops = target.proxyJump;
      const jump = this.deps.jump(hops[hops.length - 1]!, hops.length > 1 ? hops.slice(0, -1) : undefined);
      sock = await jump.forwardOut(hostname, port, this.alias);
    }

    const client = new Client();
    let hostKeyError: FerryError | undefined;
    let authError: FerryError | undefined;
    const tried: string[] = [];
    const keyProblems: string[] = [];

    await new Promise<void>((resolve, reject) => {
      let settled = false;
      const fail = (e: FerryError) => {
        if (settled) return;
        settled = true;
        timer.clear();
        client.end();
        sock?.destroy();
        reject(e);
      };
      const timeoutMs = target.connectTimeoutMs ?? this.deps.connectTimeoutMs;
      const timer = new PausableTimer(timeoutMs, () =>
        fail(
          new FerryError({
            code: 'host-unreachable',
            host: this.alias,
            message: `Timed out after ${Math.round(timeoutMs / 1000)} s connecting to ${where}${viaText(target)}.`,
            hint: `Check that ${hostname} is up and that sshd listens on port ${port} (ssh -p ${port} ${user}@${hostname}).`,
          }),
        ),
      );

      const hostVerifier = (key: Buffer, verify: (ok: boolean) => void) => {
        this.verifyHostKey(key, target, knownLines, timer).then(
          () => verify(true),
          (e) => {
            hostKeyError = asFerryError(e, this.alias);
            verify(false);
          },
        );
      };

      // Methods in OpenSSH's order: agent, then key files. Each is built lazily so a
      // passphrase is only asked for once the host is trusted and the agent did not do.
      const agentSock = target.identityAgent === 'none' ? undefined : (target.identityAgent ?? this.deps.env.SSH_AUTH_SOCK);
      const steps: Array<() => Promise<AnyAuthMethod | undefined>> = [];
      if (agentSock && !(target.identitiesOnly && target.identityFilesFromConfig)) {
        steps.push(async () => {
          tried.push(`ssh-agent (${agentSock})`);
          return { type: 'agent', username: user, agent: agentSock };
        });
      }
      for (const file of target.identityFiles) {
        steps.push(async () => {
          const m = await this.loadKey(file, timer, keyProblems);
          if (m) tried.push(file);
          return m && { type: 'publickey', username: user, key: m.key, passphrase: m.passphrase };
        });
      }
      const authHandler = (left: AuthenticationType[] | null, _partial: boolean | null, next: (m: AnyAuthMethod | false) => void) => {
        if (left && !left.includes('publickey')) return next(false);
        const step = async (): Promise<AnyAuthMethod | false> => {
          for (let s = steps.shift(); s; s = steps.shift()) {
            const m = await s();
            if (m) return m;
          }
          return false;
        };
        step().then(next, () => next(false));
      };

      client.on('error', (err: Error & { level?: string }) => {
        if (err.level === 'agent') return; // a broken agent just means: try the key files
        if (settled) {
          lastLinkError.set(client, err.message); // e.g. 'Keepalive timeout': the reason shown while reconnecting
          return;
        }
        if (hostKeyError) return fail(hostKeyError);
        if (err.level === 'client-authentication') {
          authError = this.authFailedError(target, tried, keyProblems);
          return fail(authError);
        }
        fail(transportError(err, this.alias, target));
      });
      client.once('close', () => {
        if (!settled) fail(hostKeyError ?? transportError(new Error('Connection closed during the handshake'), this.alias, target));
      });
      client.once('ready', () => {
        if (settled) return;
        settled = true;
        timer.clear();
        resolve();
      });

      const preferred = knownKeyTypes(knownLines, hostname, port);
      const cfg: ConnectConfig = {
        host: hostname,
        port,
        username: user,
        sock: sock as ConnectConfig['sock'],
        hostVerifier,
        authHandler: authHandler as unknown as ConnectConfig['authHandler'],
        keepaliveInterval: this.deps.keepaliveMs,
        keepaliveCountMax: this.deps.keepaliveCountMax,
        // Our own PausableTimer bounds the handshake; ssh2's would also count the time a human takes to decide.
        readyTimeout: 2 ** 31 - 1,
      };
      if (preferred.length) cfg.algorithms = { serverHostKey: { prepend: preferred.flatMap(hostKeyAlgos) } as never };
      try {
        client.connect(cfg);
      } catch (e) {
        fail(transportError(e as Error, this.alias, target));
      }
    });

    this.client = client;
    this.sftpP = undefined;
    client.on('close', () => this.onLinkClosed(client));
  }

  private onLinkClosed(client: SshClient): void {
    if (this.client !== client) return;
    this.client = undefined;
    this.sftpP = undefined;
    const why = lastLinkError.get(client);
    const reason = this.closedByUser ? 'closed' : `the connection was lost${why ? ` (${why})` : ''}`;
    const err = new FerryError({
      code: 'connection-lost',
      host: this.alias,
      message: `The SSH connection to ${this.alias} was lost while a command was running.`,
      hint: 'Ferry reconnects by itself; check the command\'s state on the host before running it again.',
    });
    for (const a of [...this.active]) a.linkLost(err);
    if (this.closedByUser) {
      this.setState({ kind: 'closed' });
      return;
    }
    this.runConnect(true, reason);
  }

  private async verifyHostKey(key: Buffer, t: ResolvedHost, lines: Awaited<ReturnType<typeof loadKnownHosts>>, timer: PausableTimer): Promise<void> {
    const verdict = checkHostKey(lines, t.hostname, t.port, key);
    const name = knownHostName(t.hostname, t.port);
    const keyType = keyTypeOf(key);
    const fingerprint = fingerprintOf(key);
    switch (verdict.kind) {
      case 'known':
        return;
      case 'revoked':
        throw new FerryError({
          code: 'host-key-revoked',
          host: this.alias,
          message: `REFUSED: ${name} presented ${keyType} key ${fingerprint}, which is marked @revoked in ${verdict.file}:${verdict.line}.`,
          hint: 'Do not connect until the host has a new key. Ask its administrator why a revoked key is still in use; it may be stolen.',
        });
      case 'changed':
        throw new FerryError({
          code: 'host-key-changed',
          host: this.alias,
          message:
            `WARNING: the ${keyType} host key for ${name} has CHANGED. ${verdict.file}:${verdict.line} holds ${verdict.oldFingerprint}; ` +
            `the server now presents ${fingerprint}. Someone could be intercepting this connection (man-in-the-middle), or the host was reinstalled.`,
          hint: `If the host was really reinstalled, remove the old key with: ssh-keygen -R '${name}' -f ${verdict.file} — then connect again and check the new fingerprint.`,
        });
      case 'unknown': {
        const prompt: TrustPrompt = { alias: this.alias, host: t.hostname, port: t.port, keyType, fingerprint };
        this.setState({ kind: 'awaiting-trust', prompt });
        timer.pause();
        let ok = false;
        try {
          ok = (await this.deps.trust(prompt)) === true;
        } catch {
          ok = false;
        }
        timer.resume();
        if (!ok) {
          throw new FerryError({
            code: 'host-key-unknown-refused',
            host: this.alias,
            message: `The ${keyType} host key of ${name} (${fingerprint}) is not known, and it was not trusted. Nothing was sent to the host.`,
            hint: `Compare ${fingerprint} with what the host's administrator sees (ssh-keygen -lf /etc/ssh/ssh_host_*_key.pub on the host), then accept it.`,
          });
        }
        await appendKnownHost(this.deps.ferryKnownHosts, t.hostname, t.port, key);
        this.setState({ kind: 'connecting' });
        return;
      }
    }
  }

  /** Read a private key file; ask for a passphrase if it is encrypted. Secrets never reach messages. */
  private async loadKey(file: string, timer: PausableTimer, problems: string[]): Promise<{ key: Buffer; passphrase?: string } | undefined> {
    let data: Buffer;
    try {
      data = await fs.readFile(file);
    } catch {
      return undefined; // absent default keys are normal
    }
    const parsed = utils.parseKey(data);
    if (!(parsed instanceof Error)) return { key: data };
    if (!/encrypted|passphrase/i.test(parsed.message)) {
      problems.push(`${file} is not a private key ssh2 can read`);
      return undefined;
    }
    if (!this.deps.passphrase) {
      problems.push(`${file} is encrypted and no passphrase was available`);
      return undefined;
    }
    timer.pause();
    let pass: string | undefined;
    try {
      pass = await this.deps.passphrase(file);
    } finally {
      timer.resume();
    }
    if (pass === undefined) {
      problems.push(`${file} is encrypted and no passphrase was given`);
      return undefined;
    }
    if (utils.parseKey(data, pass) instanceof Error) {
      problems.push(`the passphrase for ${file} is wrong`);
      return undefined;
    }
    return { key: data, passphrase: pass };
  }

  private authFailedError(t: ResolvedHost, tried: string[], problems: string[]): FerryError {
    if (tried.length === 0 && problems.length > 0) {
      return new FerryError({
        code: 'key-passphrase',
        host: this.alias,
        message: `Could not use any key to log in to ${t.user}@${t.hostname}: ${problems.join('; ')}.`,
        hint: 'Load the key into ssh-agent (ssh-add KEYFILE) or enter its passphrase when Ferry asks.',
      });
    }
    const what = tried.length ? tried.join(', ') : 'nothing (no ssh-agent and no key files found)';
    return new FerryError({
      code: 'auth-failed',
      host: this.alias,
      message: `${t.user}@${t.hostname}:${t.port} refused every key offered. Tried: ${what}.${problems.length ? ` Also: ${problems.join('; ')}.` : ''}`,
      hint: `Add your public key to ~${t.user}/.ssh/authorized_keys on ${t.hostname}, or point IdentityFile for ${this.alias} at the right key in ~/.ssh/config (or ssh-add it).`,
    });
  }

  /** Open a TCP channel through this host (ProxyJump). */
  async forwardOut(host: string, port: number, forAlias: string): Promise<Duplex> {
    await this.connect();
    const client = this.client!;
    return new Promise((resolve, reject) => {
      client.forwardOut('127.0.0.1', 0, host, port, (err, stream) => {
        if (err) {
          reject(
            new FerryError({
              code: 'host-unreachable',
              host: forAlias,
              message: `Jump host ${this.alias} could not reach ${host}:${port}: ${err.message}.`,
              hint: `Check that ${host} is up and that port ${port} is reachable from ${this.alias}.`,
            }),
          );
        } else resolve(stream);
      });
    });
  }

  async close(): Promise<void> {
    this.closedByUser = true;
    this.wake?.();
    const client = this.client;
    if (client) {
      await new Promise<void>((r) => {
        client.once('close', () => r());
        client.end();
      });
    } else if (this.pending) {
      await this.pending.catch(() => {});
    }
    if (this._state.kind !== 'closed') this.setState({ kind: 'closed' });
  }

  // ---------------------------------------------------------------- commands

  exec(argv: string[], opts: ExecOptions = {}): Promise<ExecResult> {
    try {
      return this.start(argv, opts, true).done;
    } catch (e) {
      return Promise.reject(e);
    }
  }

  spawn(argv: string[], opts: ExecOptions = {}): RemoteProcess {
    return this.start(argv, opts, false);
  }

  private start(argv: string[], opts: ExecOptions, buffered: boolean): RemoteProcess {
    const full = [...(opts.sudo ? ['sudo', '-n', '--'] : []), ...envPrefix(opts.env, this.alias), ...argv];
    // quoteArgv throws before anything is sent (NUL, empty argv). The preamble reports the
    // command's process group (sshd runs each command in its own session), so cancelling can
    // kill the whole group; `exec` keeps that pid and passes exit status and signals through.
    const command = `${PGID_PREAMBLE}${quoteArgv(full)}`;
    if (Buffer.byteLength(command) > MAX_COMMAND_BYTES) {
      // sshd hands the command to the login shell as ONE argument, and Linux caps a single argument at 128 KiB.
      throw new FerryError({
        code: 'exec-too-long',
        host: this.alias,
        message: `The command for ${this.alias} is ${Buffer.byteLength(command)} bytes once quoted; a remote shell accepts at most ${MAX_COMMAND_BYTES}.`,
        hint: 'Send large data on stdin (ExecOptions.stdin) or write it to a file with writeFile, instead of passing it as an argument.',
      });
    }
    const stdin = new PassThrough();
    const stdout = new PassThrough();
    const stderr = new PassThrough();
    const max = opts.maxOutputBytes ?? DEFAULT_MAX_OUTPUT;
    const started = new Date();
    const ctl: ProcControl = { cancelKind: undefined };
    let killTimer: NodeJS.Timeout | undefined;
    let onStop: (() => void) | undefined;

    const stop = (kind: 'timeout' | 'abort') => {
      if (ctl.cancelKind) return;
      ctl.cancelKind = kind;
      onStop?.();
      this.terminate(ctl, 'TERM', opts.sudo);
      killTimer = setTimeout(() => {
        this.terminate(ctl, 'KILL', opts.sudo);
        ctl.channel?.close();
      }, this.deps.killGraceMs);
    };
    const timeout = opts.timeoutMs ? setTimeout(() => stop('timeout'), opts.timeoutMs) : undefined;
    const onAbort = () => stop('abort');
    if (opts.signal?.aborted) ctl.cancelKind = 'abort';
    else opts.signal?.addEventListener('abort', onAbort, { once: true });

    const s = opts.stdin;
    if (s === undefined) {
      if (buffered) stdin.end();
    } else if (typeof s === 'string' || Buffer.isBuffer(s)) stdin.end(s);
    else (s as NodeJS.ReadableStream).pipe(stdin);

    const result = (code: number | null, signal: string | null, out: Buffer[], err: Buffer[], truncated: boolean): ExecResult => {
      const ended = new Date();
      return {
        host: this.alias,
        argv: [...argv],
        command,
        code,
        signal,
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
        startedAt: started.toISOString(),
        endedAt: ended.toISOString(),
        durationMs: ended.getTime() - started.getTime(),
        timedOut: ctl.cancelKind === 'timeout',
        cancelled: ctl.cancelKind === 'abort',
        truncated: truncated || undefined,
      };
    };

    const done = (async (): Promise<ExecResult> => {
      let release: (() => void) | undefined;
      try {
        if (ctl.cancelKind) return result(null, null, [], [], false);
        const early = new Promise<'stopped'>((r) => (onStop = () => r('stopped')));
        const ready = await Promise.race([this.connect().then(() => this.slots.take()), early]);
        if (ready === 'stopped') return result(null, null, [], [], false);
        release = ready;
        onStop = undefined;
        if (ctl.cancelKind) return result(null, null, [], [], false);
        const client = this.client;
        if (!client) throw new FerryError({ code: 'connection-lost', host: this.alias, message: `Not connected to ${this.alias}.` });
        ctl.client = client;
        const { ch, exit } = await new Promise<{ ch: ClientChannel; exit: ExitStatus }>((res, rej) =>
          client.exec(command, (err, c) => (err ? rej(transportError(err, this.alias, this.target)) : res({ ch: c, exit: watchExit(c) }))),
        );
        ctl.channel = ch;
        return await runChannel(ch, exit, ctl, { opts, buffered, max, stdin, stdout, stderr, result }, this.channelLink());
      } finally {
        release?.();
        if (timeout) clearTimeout(timeout);
        if (killTimer) clearTimeout(killTimer);
        opts.signal?.removeEventListener('abort', onAbort);
        if (!stdout.writableEnded) stdout.end();
        if (!stderr.writableEnded) stderr.end();
      }
    })();
    done.catch(() => {});

    return {
      command,
      stdin,
      stdout,
      stderr,
      done,
      kill: (sig = 'TERM') => this.terminate(ctl, sig.replace(/^SIG/, ''), opts.sudo),
    };
  }

  private channelLink(): ChannelLink {
    return {
      alias: this.alias,
      user: this.target?.user,
      track: (a) => this.active.add(a),
      untrack: (a) => this.active.delete(a),
      connected: () => this.client !== undefined,
    };
  }

  /**
   * Signal a running command. The 'signal' channel request works for ordinary users, but
   * OpenSSH refuses it for root logins ("session signalling requires privilege separation"),
   * and closing the channel does not stop a command without a tty. So we also kill the
   * command's process group from a second channel once we know its id.
   */
  private terminate(ctl: ProcControl, sig: string, sudo: boolean | undefined): void {
    if (!ctl.channel) return; // not started yet: the caller's cancelKind stops it from starting
    trySignal(ctl.channel, sig);
    const send = (pgid: number) => {
      const client = ctl.client;
      if (!client || client !== this.client) return;
      const killArgv = [...(sudo ? ['sudo', '-n', '--'] : []), 'kill', '-s', sig, '--', `-${pgid}`];
      client.exec(quoteArgv(killArgv), (err, ch) => {
        if (err) return;
        ch.on('data', () => {});
        ch.stderr.on('data', () => {});
        ch.on('error', () => {});
        ch.end();
      });
    };
    if (ctl.pgid !== undefined) send(ctl.pgid);
    else ctl.onPgid = send; // the preamble has not arrived yet
  }

  // ---------------------------------------------------------------- files

  private async sftp(): Promise<SFTPWrapper> {
    await this.connect();
    const client = this.client!;
    if (!this.sftpP) {
      const p = new Promise<SFTPWrapper>((res, rej) =>
        client.sftp((err, s) => {
          if (err) return rej(transportError(err, this.alias, this.target));
          s.on('close', () => {
            if (this.sftpP === p) this.sftpP = undefined;
          });
          res(s);
        }),
      );
      this.sftpP = p;
      p.catch(() => {
        if (this.sftpP === p) this.sftpP = undefined;
      });
    }
    return this.sftpP;
  }

  async readFile(path: string): Promise<Buffer> {
    return readRemoteFile(await this.sftp(), path, this.fileErrorContext());
  }

  /** Write via a temp file and rename, so readers never see half a file. */
  async writeFile(path: string, data: Buffer | string, opts: { mode?: number } = {}): Promise<void> {
    return writeRemoteFile(await this.sftp(), path, data, opts, this.fileErrorContext());
  }

  private fileErrorContext(): { alias: string; user?: string } {
    return { alias: this.alias, user: this.target?.user };
  }
}

function envPrefix(env: Record<string, string> | undefined, alias: string): string[] {
  if (!env || Object.keys(env).length === 0) return [];
  const pairs = Object.entries(env).map(([k, v]) => {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(k)) {
      throw new FerryError({ code: 'exec-invalid-argv', host: alias, message: `"${k}" is not a valid environment variable name.` });
    }
    return `${k}=${v}`;
  });
  return ['env', ...pairs];
}

/** ssh2 lists algorithm names; map a known key type to the host-key algorithms that produce it. */
const HOST_KEY_ALGOS = new Set(['ssh-ed25519', 'ecdsa-sha2-nistp256', 'ecdsa-sha2-nistp384', 'ecdsa-sha2-nistp521']);
function hostKeyAlgos(type: string): string[] {
  if (type === 'ssh-rsa') return ['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa'];
  return HOST_KEY_ALGOS.has(type) ? [type] : [];
}


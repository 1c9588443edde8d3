import type { PassThrough } from 'node:stream';
import type { Client, ClientChannel } from 'ssh2';
import { FerryError } from '../../shared/errors.ts';
import type { ExecOptions, ExecResult } from './types.ts';

/**
 * One remote command's channel, from open to exit: output kept (bounded) or streamed with
 * backpressure, the process-group line of the preamble taken out of stderr, sudo's password
 * prompt and a lost link turned into errors a user can act on.
 */

export const SUDO_PASSWORD_RE = /^sudo: (a password is required|a terminal is required.*|.*password.*required.*)$/m;

/** Printed first on stderr by every command, and stripped: see Session.start. */
export const PGID_PREAMBLE = 'echo "FERRY-PGID $$" >&2; exec ';

/** Shared between a command's starter and its channel: what cancelling needs to know. */
export interface ProcControl {
  cancelKind: 'timeout' | 'abort' | undefined;
  client?: Client;
  channel?: ClientChannel;
  pgid?: number;
  onPgid?: (pgid: number) => void;
}

/** A running command, told when its connection dies under it. */
export interface Active {
  linkLost(err: FerryError): void;
}

export interface ChannelArgs {
  opts: ExecOptions;
  buffered: boolean;
  max: number;
  stdin: PassThrough;
  stdout: PassThrough;
  stderr: PassThrough;
  result: (code: number | null, signal: string | null, out: Buffer[], err: Buffer[], truncated: boolean) => ExecResult;
}

/** What a channel needs from its session. */
export interface ChannelLink {
  alias: string;
  /** The login user, for messages. */
  user?: string;
  track(a: Active): void;
  untrack(a: Active): void;
  /** The session still has a live connection. */
  connected(): boolean;
}

/** A command's exit status, as the server reports it. */
export interface ExitStatus {
  got: boolean;
  code: number | null;
  signal: string | null;
}

/**
 * Listen for the exit status at once, in the callback that hands over the channel: ssh2 emits
 * 'exit' as a plain event, and a command that ends quickly can report it in the same read as
 * the channel's opening, before any later listener exists. Its output waits in the stream.
 */
export function watchExit(ch: ClientChannel): ExitStatus {
  const exit: ExitStatus = { got: false, code: null, signal: null };
  ch.on('exit', (c: number | null, sig?: string) => {
    exit.got = true;
    exit.code = typeof c === 'number' ? c : null;
    exit.signal = sig ? sig.replace(/^SIG/, '') : null;
  });
  return exit;
}

export function runChannel(ch: ClientChannel, exit: ExitStatus, ctl: ProcControl, a: ChannelArgs, link: ChannelLink): Promise<ExecResult> {
  const { opts, buffered, max } = a;
  return new Promise<ExecResult>((resolve, reject) => {
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let outLen = 0;
    let errLen = 0;
    let truncated = false;
    let finished = false;

    const keep = (list: Buffer[], len: number, c: Buffer): number => {
      if (len >= max) {
        if (c.length) truncated = true;
        return len;
      }
      const room = max - len;
      if (c.length > room) truncated = true;
      const part = c.length > room ? c.subarray(0, room) : c;
      list.push(part);
      return len + part.length;
    };

    const tracker: Active = {
      linkLost: (e) => {
        if (finished || exit.got) return;
        finished = true;
        link.untrack(tracker);
        // No error on the streams themselves: nobody may be listening; `done` carries it.
        a.stdout.destroy();
        a.stderr.destroy();
        reject(e);
      },
    };
    link.track(tracker);

    if (buffered) {
      ch.on('data', (c: Buffer) => {
        opts.onStdout?.(c);
        outLen = keep(out, outLen, c);
      });
    } else {
      // Stream mode: stdout is consumed through the readable, with backpressure down to SSH's window.
      ch.on('data', (c: Buffer) => {
        opts.onStdout?.(c);
        if (!a.stdout.write(c)) {
          ch.pause();
          a.stdout.once('drain', () => ch.resume());
        }
      });
    }
    const onErr = (c: Buffer) => {
      if (!c.length) return;
      opts.onStderr?.(c);
      errLen = keep(err, errLen, c);
      if (!buffered) a.stderr.write(c);
    };
    // Our preamble's process-group line comes early on stderr (after anything the login
    // shell or a chatty sshd printed first); it is taken out, everything else passes through.
    let head: Buffer | undefined = Buffer.alloc(0);
    const scanHead = (final: boolean) => {
      while (head) {
        const nl = head.indexOf(10);
        if (nl < 0) {
          if (final || head.length > 4096) {
            onErr(head);
            head = undefined;
          }
          return;
        }
        const line = head.subarray(0, nl + 1);
        head = head.subarray(nl + 1);
        const m = /^FERRY-PGID (\d+)\n$/.exec(line.toString('latin1'));
        if (m) {
          const rest = head;
          head = undefined;
          ctl.pgid = Number(m[1]);
          ctl.onPgid?.(ctl.pgid);
          onErr(rest);
          return;
        }
        onErr(line);
      }
    };
    ch.stderr.on('data', (c: Buffer) => {
      if (!head) return onErr(c);
      head = Buffer.concat([head, c]);
      scanHead(false);
    });
    ch.on('error', () => {}); // errors surface as close without exit, handled below

    // Stdin: pipe with backpressure; EOF when the source ends.
    a.stdin.pipe(ch);
    a.stdin.on('error', () => {});

    ch.on('close', () => {
      a.stdin.unpipe(ch);
      if (head) scanHead(true);
      ctl.channel = undefined;
      // The link may be closing too: let onLinkClosed decide first.
      setImmediate(() => {
        if (finished) return;
        finished = true;
        link.untrack(tracker);
        const r = a.result(exit.code, exit.signal, out, err, truncated);
        if (opts.sudo && exit.code !== 0 && !r.timedOut && !r.cancelled) {
          const m = SUDO_PASSWORD_RE.exec(r.stderr);
          if (m) {
            return reject(
              new FerryError({
                code: 'sudo-password',
                host: link.alias,
                message: `sudo on ${link.alias} wants a password for ${link.user ?? 'this user'}, and Ferry runs sudo without a terminal (sudo -n).`,
                hint: `Allow ${link.user ?? 'the user'} to run sudo without a password (a NOPASSWD rule in /etc/sudoers.d/), or log in as root (User root for ${link.alias} in ~/.ssh/config).`,
                evidence: m[0],
              }),
            );
          }
        }
        if (!exit.got && !link.connected() && !r.cancelled && !r.timedOut) {
          return reject(
            new FerryError({
              code: 'connection-lost',
              host: link.alias,
              message: `The SSH connection to ${link.alias} was lost while running: ${r.command.slice(0, 200)}`,
              hint: "Ferry reconnects by itself; check the command's state on the host before running it again.",
            }),
          );
        }
        resolve(r);
      });
    });
  });
}

/**
 * Send a 'signal' channel request. ssh2's Channel.signal() is a no-op once we have sent EOF
 * (i.e. stdin ended, the usual case for exec), although RFC 4254 allows requests until CLOSE.
 * So we go to the protocol object directly while the channel is not closed.
 */
export function trySignal(ch: ClientChannel, sig: string): void {
  const c = ch as unknown as {
    outgoing?: { id?: number; state?: string };
    _client?: { _protocol?: { signal(id: number, s: string): void } };
  };
  try {
    const st = c.outgoing?.state;
    if (c.outgoing?.id === undefined || !c._client?._protocol || (st !== 'open' && st !== 'eof')) {
      ch.signal(sig);
      return;
    }
    c._client._protocol.signal(c.outgoing.id, sig);
  } catch {
    /* channel already closing, or an unknown signal name */
  }
}

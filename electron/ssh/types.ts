import type { EventEmitter } from 'node:events';
import type { Readable, Writable } from 'node:stream';

import type { SessionState, TrustPrompt } from '../../shared/domain.ts';

// The console API owns these shapes (they cross IPC and WebSocket); the SSH layer speaks them.
export type { SessionState, TrustPrompt };

/** Answers a TrustPrompt; resolve true to trust (and remember) the key. */
export type TrustDecider = (prompt: TrustPrompt) => Promise<boolean>;

export interface ExecOptions {
  /** Run through `sudo -n --` (never prompts; a password prompt becomes a 'sudo-password' error). */
  sudo?: boolean;
  /** Stop the remote command after this long (TERM, then KILL); the result has timedOut: true. */
  timeoutMs?: number;
  /** Abort stops the remote command the same way; the result has cancelled: true. */
  signal?: AbortSignal;
  stdin?: Buffer | string | NodeJS.ReadableStream;
  onStdout?(chunk: Buffer): void;
  onStderr?(chunk: Buffer): void;
  /** Cap on buffered stdout and on buffered stderr (each); callbacks still see everything. Default 16 MiB. */
  maxOutputBytes?: number;
  /** Environment for the remote command, passed as `env K=V ...` (sshd usually refuses the env request). */
  env?: Record<string, string>;
}

export interface ExecResult {
  /** The host alias. */
  host: string;
  argv: string[];
  /** The exact quoted string sent to the server. */
  command: string;
  code: number | null;
  /** Signal name without 'SIG', e.g. 'TERM', when the command was killed by a signal. */
  signal: string | null;
  stdout: string;
  stderr: string;
  startedAt: string;
  endedAt: string;
  durationMs: number;
  timedOut: boolean;
  cancelled: boolean;
  /** True when stdout or stderr was longer than maxOutputBytes and the buffered copy was cut. */
  truncated?: boolean;
}

/** A running remote command with live streams. */
export interface RemoteProcess {
  readonly command: string;
  /** Write to the remote stdin; end() it to send EOF. */
  readonly stdin: Writable;
  /** The remote stdout; reading it drives SSH flow control (backpressure). Not buffered in `done`. */
  readonly stdout: Readable;
  /** The remote stderr; also buffered (capped) into the result. */
  readonly stderr: Readable;
  /** Resolves when the command ends; rejects only on transport failure (or sudo needing a password). */
  readonly done: Promise<ExecResult>;
  /** Send a signal to the remote command ('TERM', 'KILL', 'INT', ...). */
  kill(signal?: string): void;
}

export interface HostSession extends EventEmitter {
  readonly alias: string;
  readonly state: SessionState;
  connect(): Promise<void>;
  exec(argv: string[], opts?: ExecOptions): Promise<ExecResult>;
  spawn(argv: string[], opts?: ExecOptions): RemoteProcess;
  readFile(path: string): Promise<Buffer>;
  writeFile(path: string, data: Buffer | string, opts?: { mode?: number }): Promise<void>;
  close(): Promise<void>;
}

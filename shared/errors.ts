/**
 * Every error Ferry shows a user says three things: where it happened (the host),
 * what went wrong (the cause), and what to do next (the hint). Engine code throws
 * FerryError; faces render it. It is plain data so it crosses IPC and WebSocket.
 */
export interface FerryErrorInfo {
  /** Stable machine-readable code, e.g. 'host-key-changed', 'criu-missing'. */
  code: string;
  /** Host alias the error belongs to, when there is one. */
  host?: string;
  /** What went wrong, in the user's words. */
  message: string;
  /** The next step the user can take. */
  hint?: string;
  /** The line of tool output that says why (a CRIU log line, sshd's reason), verbatim. */
  evidence?: string;
}

export class FerryError extends Error implements FerryErrorInfo {
  readonly code: string;
  readonly host?: string;
  readonly hint?: string;
  readonly evidence?: string;

  constructor(info: FerryErrorInfo, options?: { cause?: unknown }) {
    super(info.message, options);
    this.name = 'FerryError';
    this.code = info.code;
    this.host = info.host;
    this.hint = info.hint;
    this.evidence = info.evidence;
  }

  toJSON(): FerryErrorInfo {
    return { code: this.code, host: this.host, message: this.message, hint: this.hint, evidence: this.evidence };
  }

  /** One block of text for a terminal: "host: message\n  why: ...\n  next: ...". */
  describe(): string {
    return formatError(this);
  }
}

export function formatError(e: FerryErrorInfo): string {
  const lines = [`${e.host ? `${e.host}: ` : ''}${e.message}`];
  if (e.evidence) lines.push(`  why:  ${e.evidence}`);
  if (e.hint) lines.push(`  next: ${e.hint}`);
  return lines.join('\n');
}

export function isFerryError(e: unknown): e is FerryError {
  return e instanceof FerryError;
}

/** Turn anything thrown into FerryErrorInfo without losing the message. */
export function toErrorInfo(e: unknown, fallbackCode = 'internal'): FerryErrorInfo {
  if (e instanceof FerryError) return e.toJSON();
  if (e instanceof Error) return { code: fallbackCode, message: e.message };
  return { code: fallbackCode, message: String(e) };
}

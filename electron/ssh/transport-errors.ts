import { FerryError, toErrorInfo } from '../../shared/errors.ts';
import type { ResolvedHost } from './config.ts';

// SSH failures, phrased for the user: which host, what is wrong, what to check.

export function viaText(t: ResolvedHost): string {
  return t.proxyJump.length ? ` via ${t.proxyJump.join(' -> ')}` : '';
}

export function isTransient(e: FerryError): boolean {
  return e.code === 'host-unreachable' || e.code === 'connection-lost';
}

export function asFerryError(e: unknown, alias: string): FerryError {
  if (e instanceof FerryError) return e;
  const info = toErrorInfo(e, 'ssh-error');
  return new FerryError({ ...info, host: alias }, { cause: e });
}

/** Socket-level failures, phrased like the user would check them. */
export function transportError(err: Error & { code?: string; level?: string }, alias: string, t?: ResolvedHost): FerryError {
  const where = t ? `${t.hostname}:${t.port}` : alias;
  const code = err.code ?? '';
  const unreachable = ['ECONNREFUSED', 'ENOTFOUND', 'EHOSTUNREACH', 'ENETUNREACH', 'ETIMEDOUT', 'ECONNRESET', 'EAI_AGAIN', 'EPIPE'].includes(code);
  const why =
    code === 'ECONNREFUSED'
      ? `nothing accepts connections on ${where}`
      : code === 'ENOTFOUND' || code === 'EAI_AGAIN'
        ? `the name ${t?.hostname ?? alias} does not resolve`
        : code === 'EHOSTUNREACH' || code === 'ENETUNREACH'
          ? `there is no route to ${t?.hostname ?? alias}`
          : err.message;
  if (unreachable || err.level === 'client-socket' || err.level === 'client-timeout' || /closed|timeout|ended/i.test(err.message)) {
    return new FerryError(
      {
        code: 'host-unreachable',
        host: alias,
        message: `Cannot reach ${where}${t ? viaText(t) : ''}: ${why}.`,
        hint: `Check that ${t?.hostname ?? alias} is up and that sshd listens on port ${t?.port ?? 22}.`,
        evidence: err.message,
      },
      { cause: err },
    );
  }
  return new FerryError({ code: 'ssh-error', host: alias, message: `SSH to ${where} failed: ${err.message}.`, evidence: err.message }, { cause: err });
}

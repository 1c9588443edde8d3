import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ExecResult, HostSession } from './types.ts';

/**
 * Stream one host's stdout into another host's stdin through this machine, with
 * backpressure end to end (SSH windows on both sides), never holding the data.
 */
export async function pipeBetween(
  from: HostSession,
  fromArgv: string[],
  to: HostSession,
  toArgv: string[],
  /** `sudo` applies to both ends; sudoFrom / sudoTo override it per end. */
  opts: {
    timeoutMs?: number;
    signal?: AbortSignal;
    sudo?: boolean;
    sudoFrom?: boolean;
    sudoTo?: boolean;
    /** Called with the running byte count as data passes (for live progress). */
    onBytes?: (bytes: number) => void;
  } = {},
): Promise<{ from: ExecResult; to: ExecResult; bytes: number }> {
  // One controller stops both ends, whichever of timeout / abort fires.
  const ac = new AbortController();
  const onAbort = () => ac.abort();
  if (opts.signal?.aborted) ac.abort();
  opts.signal?.addEventListener('abort', onAbort, { once: true });
  const base = { timeoutMs: opts.timeoutMs, signal: ac.signal, maxOutputBytes: 1024 * 1024 };
  const src = from.spawn(fromArgv, { ...base, sudo: opts.sudoFrom ?? opts.sudo });
  const dst = to.spawn(toArgv, { ...base, sudo: opts.sudoTo ?? opts.sudo });
  let bytes = 0;
  const count = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      bytes += chunk.length;
      opts.onBytes?.(bytes);
      cb(null, chunk);
    },
  });
  // dst's stdout is not needed, but it must be drained so the remote side never blocks on it.
  dst.stdout.resume();
  const flow = pipeline(src.stdout, count, dst.stdin).catch(() => {
    // The receiver ended early (e.g. `head`) or a side failed; the results say which.
  });
  try {
    const [fromRes, toRes] = await Promise.all([
      src.done.catch((e) => {
        ac.abort();
        throw e;
      }),
      dst.done.catch((e) => {
        ac.abort();
        throw e;
      }),
    ]);
    await flow;
    return { from: fromRes, to: toRes, bytes };
  } finally {
    opts.signal?.removeEventListener('abort', onAbort);
    src.stdout.destroy();
    if (!dst.stdin.writableEnded) dst.stdin.end();
  }
}

/**
 * `ferry journal list | head -1`: the reader goes away and the next write to stdout fails
 * with EPIPE, which Node raises as an unhandled 'error' event (a stack trace, exit 1).
 * Every command stops quietly instead: the stream that lost its reader is muted and the
 * command ends on its own. It is not killed: a migration in flight must still finish or
 * roll back (its journal has every event the reader missed).
 */
export function muteWhenReaderGoes(streams: NodeJS.WriteStream[] = [process.stdout, process.stderr]): void {
  for (const stream of streams) {
    stream.on('error', (e: NodeJS.ErrnoException) => {
      if (e.code !== 'EPIPE' && e.code !== 'ERR_STREAM_DESTROYED') throw e;
      // Later writes go nowhere, without another error.
      stream.write = ((_chunk: unknown, encoding?: unknown, cb?: unknown) => {
        const done = typeof encoding === 'function' ? encoding : cb;
        if (typeof done === 'function') queueMicrotask(() => (done as () => void)());
        return true;
      }) as typeof stream.write;
    });
  }
}

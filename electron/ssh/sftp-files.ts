import type { SFTPWrapper } from 'ssh2';
import { FerryError } from '../../shared/errors.ts';

/** Whose file it is, for messages: the host alias and the login user. */
export interface Who {
  alias: string;
  user?: string;
}

export function readRemoteFile(s: SFTPWrapper, path: string, who: Who): Promise<Buffer> {
  return new Promise((res, rej) => s.readFile(path, (err, data) => (err ? rej(sftpError('read', path, err, who)) : res(data))));
}

/** Write via a temp file and rename, so readers never see half a file. */
export async function writeRemoteFile(s: SFTPWrapper, path: string, data: Buffer | string, opts: { mode?: number }, who: Who): Promise<void> {
  const slash = path.lastIndexOf('/');
  const dir = slash >= 0 ? path.slice(0, slash + 1) : '';
  const tmp = `${dir}.${path.slice(slash + 1)}.ferry-${process.pid}-${Math.random().toString(36).slice(2, 10)}.tmp`;
  const call = <T>(fn: (cb: (err: Error | null | undefined, v?: T) => void) => void) =>
    new Promise<T | undefined>((res, rej) => fn((err, v) => (err ? rej(err) : res(v))));
  let mode = opts.mode;
  if (mode === undefined) {
    // Keep the mode of the file being replaced, like an in-place edit would.
    const st = await call<{ mode: number }>((cb) => s.stat(path, cb as never)).catch(() => undefined);
    mode = st ? st.mode & 0o7777 : 0o644;
  }
  try {
    await call((cb) => s.writeFile(tmp, data, { mode }, cb as never));
    await call((cb) => s.chmod(tmp, mode!, cb as never)); // the umask may have narrowed it
    await call((cb) => s.ext_openssh_rename(tmp, path, cb as never)).catch(async () => {
      // Servers without posix-rename: plain SFTP rename refuses to overwrite.
      await call((cb) => s.unlink(path, cb as never)).catch(() => {});
      await call((cb) => s.rename(tmp, path, cb as never));
    });
  } catch (e) {
    await call((cb) => s.unlink(tmp, cb as never)).catch(() => {});
    throw sftpError('write', path, e as Error, who);
  }
}

function sftpError(op: string, path: string, err: Error & { code?: number | string }, who: Who): FerryError {
  const missing = err.code === 2;
  const denied = err.code === 3;
  return new FerryError({
    code: missing ? 'remote-file-missing' : denied ? 'remote-permission-denied' : 'sftp-failed',
    host: who.alias,
    message: `Could not ${op} ${path} on ${who.alias}: ${err.message}.`,
    hint: missing
      ? `Check that ${path} (and its directory) exists on ${who.alias}.`
      : denied
        ? `${who.user ?? 'The user'} may not ${op} ${path}; fix its permissions or log in as a user who can.`
        : undefined,
  });
}

import fs from 'node:fs/promises';
import path from 'node:path';

/**
 * Ferry writes the lab's hosts into its own ssh_config and known_hosts as a managed block
 * between marker comments. Rewriting is idempotent and keeps everything else in the file.
 * In ssh_config the block always goes last: a `Host` section runs until the next `Host`, so
 * user lines placed after our block would otherwise become part of `Host lab-target`.
 */
export const BLOCK_BEGIN = '# >>> ferry lab (managed by Ferry: edits inside this block are overwritten) >>>';
export const BLOCK_END = '# <<< ferry lab <<<';

/** Replace (or add, or with body=null remove) the managed block in a file's text. */
export function rewriteManagedBlock(text: string, body: string | null): string {
  const lines = text.split('\n');
  const kept: string[] = [];
  let inside = false;
  for (const l of lines) {
    if (l.trim() === BLOCK_BEGIN) {
      inside = true;
      continue;
    }
    if (inside && l.trim() === BLOCK_END) {
      inside = false;
      continue;
    }
    if (!inside) kept.push(l);
  }
  // An unterminated block (someone cut the end marker) drops the rest: it was ours.
  while (kept.length > 0 && kept[kept.length - 1] === '') kept.pop();
  let out = kept.join('\n');
  if (body !== null) {
    const b = body.endsWith('\n') ? body : `${body}\n`;
    out = `${out}${out ? '\n\n' : ''}${BLOCK_BEGIN}\n${b}${BLOCK_END}`;
  }
  return out ? `${out}\n` : '';
}

export interface LabHostEntry {
  alias: string;
  port: number;
  /** "ssh-ed25519 AAAA..." */
  hostKey: string;
  /** Where the other VM reaches this one (the private link), for the page server. */
  migrationAddress?: string;
}

export function sshConfigBlock(hosts: LabHostEntry[], identityFile: string): string {
  // OpenSSH checks keywords in every block it reads, matching or not: one `Host *` line
  // first makes it skip Ferry's own keyword (ssh -F on this file keeps working).
  const ignore = hosts.some((h) => h.migrationAddress) ? 'Host *\n  IgnoreUnknown FerryMigrationAddress\n' : '';
  return ignore + hosts
    .map(
      (h) => `Host ${h.alias}
  HostName 127.0.0.1
  Port ${h.port}
  User root
  IdentityFile ${/\s/.test(identityFile) ? `"${identityFile}"` : identityFile}
  IdentitiesOnly yes
${h.migrationAddress ? `  FerryMigrationAddress ${h.migrationAddress}\n` : ''}`,
    )
    .join('');
}

export function knownHostsBlock(hosts: LabHostEntry[]): string {
  return hosts.map((h) => `[127.0.0.1]:${h.port} ${h.hostKey}\n`).join('');
}

async function rewriteFile(file: string, body: string | null): Promise<void> {
  let text = '';
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    if (body === null) return;
  }
  const next = rewriteManagedBlock(text, body);
  if (next === text) return;
  await fs.mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
  const tmp = `${file}.tmp-${process.pid}`;
  await fs.writeFile(tmp, next, { mode: 0o600 });
  await fs.rename(tmp, file);
}

/** Write (hosts given) or remove (hosts null) the lab's entries in Ferry's ssh_config and known_hosts. */
export async function writeLabSshFiles(
  files: { sshConfig: string; knownHosts: string },
  hosts: LabHostEntry[] | null,
  identityFile: string,
): Promise<void> {
  await rewriteFile(files.sshConfig, hosts ? sshConfigBlock(hosts, identityFile) : null);
  await rewriteFile(files.knownHosts, hosts ? knownHostsBlock(hosts) : null);
}

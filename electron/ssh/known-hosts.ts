import { createHmac, timingSafeEqual } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { matchPatternList } from './patterns.ts';
import { fingerprintOf, keyTypeOf } from './fingerprint.ts';

/** One usable line of a known_hosts file. */
export interface KnownHostLine {
  file: string;
  line: number;
  marker?: 'revoked' | 'cert-authority';
  /** Either plain patterns (comma list, may include !negations and [host]:port) or a hashed |1|salt|hash entry. */
  hosts: { hashed: { salt: Buffer; hash: Buffer } } | { patterns: string[] };
  keyType: string;
  key: Buffer;
}

/** The name OpenSSH looks up: `host` on port 22, `[host]:port` otherwise. */
export function knownHostName(host: string, port: number): string {
  const h = host.toLowerCase();
  return port === 22 ? h : `[${h}]:${port}`;
}

export function parseKnownHosts(text: string, file: string): KnownHostLine[] {
  const out: KnownHostLine[] = [];
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i]!.trim();
    if (!raw || raw.startsWith('#')) continue;
    const fields = raw.split(/\s+/);
    let marker: KnownHostLine['marker'];
    if (fields[0]?.startsWith('@')) {
      const m = fields.shift()!;
      if (m === '@revoked') marker = 'revoked';
      else if (m === '@cert-authority') marker = 'cert-authority';
      else continue; // unknown marker: ignore the line, as OpenSSH does
    }
    const [hostField, keyType, keyB64] = fields;
    if (!hostField || !keyType || !keyB64) continue;
    const key = Buffer.from(keyB64, 'base64');
    if (key.length === 0 || keyTypeOf(key) !== keyType) continue; // malformed line
    let hosts: KnownHostLine['hosts'];
    if (hostField.startsWith('|1|')) {
      const [, , salt, hash] = hostField.split('|');
      if (!salt || !hash) continue;
      hosts = { hashed: { salt: Buffer.from(salt, 'base64'), hash: Buffer.from(hash, 'base64') } };
    } else {
      hosts = { patterns: hostField.split(',').filter(Boolean) };
    }
    out.push({ file, line: i + 1, marker, hosts, keyType, key });
  }
  return out;
}

export function lineMatchesHost(l: KnownHostLine, name: string): boolean {
  if ('hashed' in l.hosts) {
    const { salt, hash } = l.hosts.hashed;
    const mac = createHmac('sha1', salt).update(name).digest();
    return mac.length === hash.length && timingSafeEqual(mac, hash);
  }
  return matchPatternList(l.hosts.patterns, name);
}

export type HostKeyVerdict =
  | { kind: 'known'; file: string; line: number }
  | { kind: 'unknown'; otherTypesKnown: string[] }
  | { kind: 'changed'; file: string; line: number; keyType: string; oldFingerprint: string }
  | { kind: 'revoked'; file: string; line: number };

/**
 * Decide about a presented host key. Revocation wins over everything (a revoked key is
 * refused whatever host line it sits on). A different key of the same type for this host
 * means the key changed; a known key of another type does not (the host may simply offer
 * several keys), so that case is 'unknown' and goes to the user.
 */
export function checkHostKey(lines: KnownHostLine[], host: string, port: number, key: Buffer): HostKeyVerdict {
  const name = knownHostName(host, port);
  const type = keyTypeOf(key);
  for (const l of lines) {
    if (l.marker === 'revoked' && l.key.equals(key)) return { kind: 'revoked', file: l.file, line: l.line };
  }
  let changed: HostKeyVerdict | undefined;
  const otherTypes = new Set<string>();
  for (const l of lines) {
    if (l.marker || !lineMatchesHost(l, name)) continue;
    if (l.keyType === type) {
      if (l.key.equals(key)) return { kind: 'known', file: l.file, line: l.line };
      changed ??= { kind: 'changed', file: l.file, line: l.line, keyType: type, oldFingerprint: fingerprintOf(l.key) };
    } else {
      otherTypes.add(l.keyType);
    }
  }
  return changed ?? { kind: 'unknown', otherTypesKnown: [...otherTypes] };
}

/** Key types already known for a host, so the handshake can prefer them (as OpenSSH does). */
export function knownKeyTypes(lines: KnownHostLine[], host: string, port: number): string[] {
  const name = knownHostName(host, port);
  return [...new Set(lines.filter((l) => !l.marker && lineMatchesHost(l, name)).map((l) => l.keyType))];
}

export async function loadKnownHosts(files: string[]): Promise<KnownHostLine[]> {
  const all: KnownHostLine[] = [];
  for (const f of files) {
    let text: string;
    try {
      text = await fs.readFile(f, 'utf8');
    } catch {
      continue; // missing or unreadable files simply contribute nothing, as in OpenSSH
    }
    all.push(...parseKnownHosts(text, f));
  }
  return all;
}

/** Append a trusted key in OpenSSH format, creating the file (0600) and its directory if needed. */
export async function appendKnownHost(file: string, host: string, port: number, key: Buffer): Promise<void> {
  await fs.mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
  let prefix = '';
  try {
    const cur = await fs.readFile(file, 'utf8');
    if (cur.length > 0 && !cur.endsWith('\n')) prefix = '\n';
  } catch {
    /* new file */
  }
  await fs.appendFile(file, `${prefix}${knownHostName(host, port)} ${keyTypeOf(key)} ${key.toString('base64')}\n`, { mode: 0o600 });
}

import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

export const FALLBACK_MIRROR = 'http://deb.debian.org/debian';

/**
 * The Debian mirror this machine's apt already uses for the main archive, read from deb822
 * `.sources` files and one-line `.list` files. Security and third-party repos are skipped.
 */
export function mirrorFromAptSources(texts: string[]): string | undefined {
  const candidates: string[] = [];
  for (const text of texts) {
    // deb822 stanzas
    for (const stanza of text.split(/\n\s*\n/)) {
      const field = (name: string) => stanza.match(new RegExp(`^${name}:\\s*(.+)$`, 'mi'))?.[1]?.trim();
      const types = field('Types');
      const uris = field('URIs');
      const suites = field('Suites');
      if (field('Enabled')?.toLowerCase() === 'no') continue;
      if (types && uris && suites && types.split(/\s+/).includes('deb')) {
        if (suites.split(/\s+/).some((s) => /^(bookworm|stable)$/.test(s))) candidates.push(...uris.split(/\s+/));
      }
    }
    // one-line format: deb [opts] URI SUITE COMPONENTS
    for (const line of text.split('\n')) {
      const m = line.match(/^\s*deb\s+(?:\[[^\]]*\]\s+)?(\S+)\s+(\S+)/);
      if (m && m[1] && m[2] && /^(bookworm|stable)$/.test(m[2])) candidates.push(m[1]);
    }
  }
  const good = candidates.filter((u) => /^https?:\/\//.test(u) && !/security/.test(u) && /debian/.test(u));
  return good[0]?.replace(/\/+$/, '');
}

export function detectMirror(env: NodeJS.ProcessEnv = process.env): string {
  if (env.FERRY_LAB_MIRROR) return env.FERRY_LAB_MIRROR;
  const texts: string[] = [];
  const dir = '/etc/apt/sources.list.d';
  try {
    for (const f of readdirSync(dir).sort()) {
      if (f.endsWith('.sources') || f.endsWith('.list')) {
        try {
          texts.push(readFileSync(path.join(dir, f), 'utf8'));
        } catch {
          /* unreadable */
        }
      }
    }
  } catch {
    /* no dir */
  }
  try {
    texts.push(readFileSync('/etc/apt/sources.list', 'utf8'));
  } catch {
    /* none */
  }
  return mirrorFromAptSources(texts) ?? FALLBACK_MIRROR;
}

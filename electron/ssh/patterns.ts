/** OpenSSH-style wildcard patterns: '*' any run, '?' one char; case-insensitive, like host names. */
export function matchGlob(pattern: string, text: string): boolean {
  const re = globCache.get(pattern) ?? compile(pattern);
  return re.test(text);
}

const globCache = new Map<string, RegExp>();
function compile(pattern: string): RegExp {
  const src = pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  const re = new RegExp(`^${src}$`, 'is');
  globCache.set(pattern, re);
  return re;
}

/**
 * A pattern list like `web* !web3 db1`: matches when some positive pattern matches and
 * no negated one does (a negated match vetoes the whole list, as in OpenSSH).
 */
export function matchPatternList(patterns: string[], text: string): boolean {
  let positive = false;
  for (const p of patterns) {
    if (p.startsWith('!')) {
      if (matchGlob(p.slice(1), text)) return false;
    } else if (matchGlob(p, text)) {
      positive = true;
    }
  }
  return positive;
}

export const isWildcard = (p: string): boolean => /[*?!]/.test(p);

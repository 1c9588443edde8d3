import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { FerryError } from '../../shared/errors.ts';
import { ferryFiles, ferryPaths } from '../paths.ts';
import { isWildcard, matchGlob, matchPatternList } from './patterns.ts';

/** What the ssh config files say about one alias, after OpenSSH's first-value-wins merge. */
export interface ResolvedHost {
  alias: string;
  hostname: string;
  user: string;
  port: number;
  /** Key files to offer, ~ expanded; the OpenSSH defaults when the config names none. */
  identityFiles: string[];
  /** True when IdentityFile came from the config (not the defaults). */
  identityFilesFromConfig: boolean;
  identitiesOnly: boolean;
  /** ProxyJump hops as written ([user@]host[:port]), first hop first; empty for a direct connection. */
  proxyJump: string[];
  /** known_hosts files to read before Ferry's own (UserKnownHostsFile or ~/.ssh/known_hosts). */
  userKnownHostsFiles: string[];
  /** IdentityAgent: a socket path, or 'none'; undefined means SSH_AUTH_SOCK. */
  identityAgent?: string;
  connectTimeoutMs?: number;
  /** Config files that were read, in order. */
  configFiles: string[];
  /** True when a host key for hostname:port is in one of the known_hosts files (filled in by SshHub.resolve). */
  keyKnown: boolean;
  /** Where other hosts reach this one for migration traffic (`FerryMigrationAddress`; the lab writes it). */
  migrationAddress?: string;
}

type Cond = string[] | 'all' | 'never';
/** One option line, with the Host/Match conditions that must all hold for it to apply. */
interface Entry { key: string; value: string; args: string[]; file: string; line: number; conds: Cond[] }
/** A parsed config: option lines in file order (Include expanded in place), and every Host pattern list. */
export interface ParsedConfig { entries: Entry[]; hostPatterns: string[][]; files: string[] }

/** Options that may appear several times and accumulate instead of first-wins. */
const MULTI = new Set(['identityfile', 'certificatefile', 'localforward', 'remoteforward', 'dynamicforward', 'sendenv', 'setenv']);

export interface ConfigEnv { home: string; localUser: string; files: string[] }

export function configEnv(env: NodeJS.ProcessEnv): ConfigEnv {
  const home = env.HOME || os.homedir();
  const localUser = env.USER || env.LOGNAME || os.userInfo().username;
  return { home, localUser, files: [path.join(home, '.ssh', 'config'), ferryFiles(ferryPaths(env)).sshConfig] };
}

/** Split a config line into words, honouring double quotes like OpenSSH's argv_split. */
function splitWords(s: string, file: string, line: number): string[] {
  const out: string[] = [];
  let cur = '';
  let inWord = false;
  let quoted = false;
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (quoted) {
      if (c === '"') quoted = false;
      else cur += c;
    } else if (c === '"') {
      quoted = true;
      inWord = true;
    } else if (c === ' ' || c === '\t') {
      if (inWord) out.push(cur);
      cur = '';
      inWord = false;
    } else {
      cur += c;
      inWord = true;
    }
  }
  if (quoted) throw configError(file, line, 'unterminated quote');
  if (inWord) out.push(cur);
  return out;
}

function configError(file: string, line: number, what: string): FerryError {
  return new FerryError({
    code: 'ssh-config',
    message: `Bad ssh config at ${file}:${line}: ${what}.`,
    hint: `Fix line ${line} of ${file} (ssh -G <alias> shows how OpenSSH reads it).`,
  });
}

/** Parse one file's text. Top-level lines apply to every host; `include` lines are kept for loadConfig. */
export function parseConfig(text: string, file: string): { entries: Entry[]; hostPatterns: string[][] } {
  const entries: Entry[] = [];
  const hostPatterns: string[][] = [];
  let cond: Cond = 'all';
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const lineNo = i + 1;
    const raw = lines[i]!.trim();
    if (!raw || raw.startsWith('#')) continue;
    const m = /^([A-Za-z][A-Za-z0-9]*)(?:\s*=\s*|\s+)(.*)$/.exec(raw);
    if (!m) throw configError(file, lineNo, `cannot read "${raw.slice(0, 60)}"`);
    const key = m[1]!.toLowerCase();
    const args = splitWords(m[2]!.replace(/\s+#.*$/, ''), file, lineNo);
    if (args.length === 0) throw configError(file, lineNo, `${m[1]} needs a value`);
    if (key === 'host') {
      cond = args;
      hostPatterns.push(args);
    } else if (key === 'match') {
      // Only `Match all` is understood; other criteria are skipped rather than guessed.
      cond = args.length === 1 && args[0]!.toLowerCase() === 'all' ? 'all' : 'never';
    } else {
      entries.push({ key, value: args.join(' '), args, file, line: lineNo, conds: [cond] });
    }
  }
  return { entries, hostPatterns };
}

async function readIfExists(file: string): Promise<string | undefined> {
  try {
    return await fs.readFile(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
    throw new FerryError({ code: 'ssh-config', message: `Cannot read ${file}: ${(e as Error).message}` });
  }
}

/** Read the config files in order, expanding Include in place (relative paths are under ~/.ssh). */
export async function loadConfig(cenv: ConfigEnv): Promise<ParsedConfig> {
  const out: ParsedConfig = { entries: [], hostPatterns: [], files: [] };
  const load = async (file: string, outer: Cond[], depth: number): Promise<void> => {
    if (depth > 8) throw new FerryError({ code: 'ssh-config', message: `Include nesting too deep at ${file}.` });
    const text = await readIfExists(file);
    if (text === undefined) return;
    out.files.push(file);
    const parsed = parseConfig(text, file);
    out.hostPatterns.push(...parsed.hostPatterns);
    for (const e of parsed.entries) {
      const conds = [...outer, ...e.conds];
      if (e.key !== 'include') {
        out.entries.push({ ...e, conds });
        continue;
      }
      for (const pat of e.args) for (const inc of await expandInclude(pat, cenv.home)) await load(inc, conds, depth + 1);
    }
  };
  for (const f of cenv.files) await load(f, [], 0);
  return out;
}

async function expandInclude(pattern: string, home: string): Promise<string[]> {
  let p = pattern.startsWith('~/') ? path.join(home, pattern.slice(2)) : pattern;
  if (!path.isAbsolute(p)) p = path.join(home, '.ssh', p);
  const base = path.basename(p);
  if (!isWildcard(base)) return [p];
  const dir = path.dirname(p);
  try {
    return (await fs.readdir(dir)).filter((n) => matchGlob(base, n)).sort().map((n) => path.join(dir, n));
  } catch {
    return [];
  }
}

function condHolds(c: Cond, alias: string): boolean {
  if (c === 'all') return true;
  if (c === 'never') return false;
  return matchPatternList(c, alias);
}

/** Expand ~ and the % tokens OpenSSH allows in file names. */
function expandPath(p: string, t: { home: string; localUser: string; host: string; user: string; alias: string; port: number }): string {
  let s = p.startsWith('~/') || p === '~' ? t.home + p.slice(1) : p;
  s = s.replace(/%([%dhrunp])/g, (_m, c: string) =>
    ({ '%': '%', d: t.home, h: t.host, r: t.user, u: t.localUser, n: t.alias, p: String(t.port) })[c] ?? '',
  );
  return s;
}

/** Resolve an alias like OpenSSH: walk every matching block in file order; the first value for a key wins. */
export function resolveFromConfig(alias: string, config: ParsedConfig, cenv: ConfigEnv): ResolvedHost {
  const first = new Map<string, Entry>();
  const multi = new Map<string, Entry[]>();
  for (const e of config.entries) {
    if (!e.conds.every((c) => condHolds(c, alias))) continue;
    if (MULTI.has(e.key)) {
      const list = multi.get(e.key) ?? [];
      list.push(e);
      multi.set(e.key, list);
    } else if (!first.has(e.key)) {
      first.set(e.key, e);
    }
  }
  const get = (k: string) => first.get(k)?.value;

  const hostNameRaw = get('hostname') ?? alias;
  const hostname = hostNameRaw.replace(/%%|%h/g, (m) => (m === '%%' ? '%' : alias));
  const user = get('user') ?? cenv.localUser;

  let port = 22;
  const portEntry = first.get('port');
  if (portEntry) {
    port = Number(portEntry.value);
    if (!/^\d+$/.test(portEntry.value) || port < 1 || port > 65535) {
      throw configError(portEntry.file, portEntry.line, `Port "${portEntry.value}" is not a port number`);
    }
  }
  const tokens = { home: cenv.home, localUser: cenv.localUser, host: hostname, user, alias, port };

  const idEntries = (multi.get('identityfile') ?? []).filter((e) => e.value.toLowerCase() !== 'none');
  const identityFilesFromConfig = idEntries.length > 0;
  const identityFiles = identityFilesFromConfig
    ? [...new Set(idEntries.map((e) => expandPath(e.value, tokens)))]
    : ['id_ed25519', 'id_ecdsa', 'id_rsa'].map((n) => path.join(cenv.home, '.ssh', n));

  const yes = (k: string) => (get(k) ?? 'no').toLowerCase() === 'yes';

  const pj = get('proxyjump');
  const proxyJump = !pj || pj.toLowerCase() === 'none' ? [] : pj.split(',').map((s) => s.trim()).filter(Boolean);

  const ukh = first.get('userknownhostsfile');
  const userKnownHostsFiles = ukh
    ? ukh.args.filter((a) => a.toLowerCase() !== 'none').map((a) => expandPath(a, tokens))
    : [path.join(cenv.home, '.ssh', 'known_hosts'), path.join(cenv.home, '.ssh', 'known_hosts2')];

  let connectTimeoutMs: number | undefined;
  const ct = first.get('connecttimeout');
  if (ct) {
    if (!/^\d+$/.test(ct.value)) throw configError(ct.file, ct.line, `ConnectTimeout "${ct.value}" is not a number of seconds`);
    connectTimeoutMs = Number(ct.value) * 1000 || undefined;
  }
  const ia = get('identityagent');
  const identityAgent = ia === undefined || ia === 'SSH_AUTH_SOCK' ? undefined : ia.toLowerCase() === 'none' ? 'none' : expandPath(ia, tokens);

  return {
    alias,
    hostname,
    user,
    port,
    identityFiles,
    identityFilesFromConfig,
    identitiesOnly: yes('identitiesonly'),
    proxyJump,
    userKnownHostsFiles,
    identityAgent,
    connectTimeoutMs,
    configFiles: config.files,
    keyKnown: false,
    ...(get('ferrymigrationaddress') ? { migrationAddress: get('ferrymigrationaddress') } : {}),
  };
}

/** Aliases a user can type: Host names without wildcards or negation, in file order. */
export function aliasesFromConfig(config: ParsedConfig): string[] {
  const seen = new Set<string>();
  for (const list of config.hostPatterns) for (const p of list) if (!isWildcard(p)) seen.add(p);
  return [...seen];
}

export async function resolveHost(alias: string, env: NodeJS.ProcessEnv = process.env): Promise<ResolvedHost> {
  const cenv = configEnv(env);
  return resolveFromConfig(alias, await loadConfig(cenv), cenv);
}

export async function listAliases(env: NodeJS.ProcessEnv = process.env): Promise<string[]> {
  return aliasesFromConfig(await loadConfig(configEnv(env)));
}

/**
 * Parsers for what `criu --version` and `criu check` print (CRIU 3.17.1 wording, see
 * fixtures/criu/check/). Log lines look like `(00.012259) Error (criu/util.c:1141): msg`, on
 * stderr without the timestamp, sometimes with a `PID: ` prefix inside the restored tree.
 */
import { FerryError } from '../../shared/errors.ts';

export interface CriuVersion {
  /** As criu printed it: '3.17.1', or '3.18' (criu omits a zero sublevel). */
  version: string;
  major: number;
  minor: number;
  patch: number;
  /** From a `GitID:` line or a log's `(gitid X)`; undefined when absent or '0' (release builds). */
  gitId?: string;
}

/** Parse `criu --version` output, or a -v4 log's first line `Version: 3.17.1 (gitid 0)`. */
export function parseCriuVersion(stdout: string): CriuVersion {
  const m = /^(?:\(\s*[\d.]+\)\s*)?Version:\s*(\d+)\.(\d+)(?:\.(\d+))?(?:\s*\(gitid\s+([^)\s]+)\))?\s*$/m.exec(stdout);
  if (!m) {
    const first = stdout.split('\n').find((l) => l.trim() !== '')?.trim();
    throw new FerryError({
      code: 'criu-version-unknown',
      message: "Could not read criu's version from `criu --version`",
      hint: 'Check that criu is installed (Debian: apt install criu; it lives in /usr/sbin).',
      evidence: first,
    });
  }
  const [, maj, min, pat, logGit] = m;
  const version = `${maj}.${min}${pat !== undefined ? `.${pat}` : ''}`;
  const gitLine = /^GitID:\s*(\S+)\s*$/m.exec(stdout)?.[1];
  const gitId = gitLine ?? logGit;
  const out: CriuVersion = { version, major: Number(maj), minor: Number(min), patch: Number(pat ?? 0) };
  if (gitId !== undefined && gitId !== '0') out.gitId = gitId;
  return out;
}

/** -1, 0, 1 like a sort comparator; '3.18' equals '3.18.0'. */
export function compareVersions(a: string | CriuVersion, b: string | CriuVersion): -1 | 0 | 1 {
  const parts = (v: string | CriuVersion): number[] => {
    if (typeof v !== 'string') return [v.major, v.minor, v.patch];
    const m = /^v?(\d+)(?:\.(\d+))?(?:\.(\d+))?/.exec(v.trim());
    if (!m) {
      throw new FerryError({ code: 'invalid-argument', message: `Not a version: ${JSON.stringify(v)}`, hint: 'Use MAJOR.MINOR[.PATCH], e.g. 3.17.1.' });
    }
    return [Number(m[1]), Number(m[2] ?? 0), Number(m[3] ?? 0)];
  };
  const pa = parts(a);
  const pb = parts(b);
  for (let i = 0; i < 3; i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d < 0 ? -1 : 1;
  }
  return 0;
}

// ---------------------------------------------------------------------------------------------
// Log lines

export interface CriuLogLine {
  /** The line exactly as printed (trailing CR removed). */
  raw: string;
  level: 'error' | 'warn' | 'info';
  /** e.g. 'criu/cr-check.c:1642', for Error/Warn lines. */
  source?: string;
  /** The text after `Error (...): ` / `Warn  (...): `, or the line without its timestamp. */
  text: string;
  /** `(00.036328)` as seconds since criu started, when the line has it. */
  time?: number;
  /** The `50400: ` prefix criu adds inside the restored tree. */
  pid?: number;
}

const LINE = /^(?:\((\s*\d+\.\d+)\)\s*)?(?:(\d+):\s+)?(?:(?:(Error|Warn)\s+\(([^)]*)\):\s?)(.*)|(.*))$/;

export function parseLogLine(raw: string): CriuLogLine {
  const line = raw.replace(/\r$/, '');
  const m = LINE.exec(line);
  if (!m) return { raw: line, level: 'info', text: line };
  const [, time, pid, level, source, msg, plain] = m;
  const out: CriuLogLine = {
    raw: line,
    level: level === 'Error' ? 'error' : level === 'Warn' ? 'warn' : 'info',
    text: (level ? msg : plain) ?? '',
  };
  if (source !== undefined) out.source = source;
  if (time !== undefined) out.time = Number(time);
  if (pid !== undefined) out.pid = Number(pid);
  return out;
}

export function parseLog(text: string): CriuLogLine[] {
  return text
    .split('\n')
    .filter((l, i, all) => l !== '' || i < all.length - 1)
    .filter((l) => l.trim() !== '')
    .map(parseLogLine);
}

/**
 * Error lines criu prints while it probes the kernel and then carries on: kdat probing runs
 * helpers that exit 1 (`Error (criu/util.c:642): exited, status=1`, twice), also before `Looks good.`
 */
export function isHarmlessError(l: CriuLogLine): boolean {
  return l.level === 'error' && /^criu\/util\.c:\d+$/.test(l.source ?? '') && /^exited, status=1$/.test(l.text.trim());
}

// ---------------------------------------------------------------------------------------------
// criu check

export type CheckVerdict = 'good' | 'maybe' | 'bad' | 'unknown';

export interface CriuCheckResult {
  /** criu printed `Looks good.` and exited 0. */
  ok: boolean;
  /**
   * good: `Looks good.`; maybe: `Looks good but some kernel features are missing ...` (criu check
   * --all on many kernels; dump/restore may still work); bad: `Does not look good.` or a failure
   * before any verdict (e.g. as non-root).
   */
  verdict: CheckVerdict;
  exitCode: number;
  warnings: string[];
  errors: string[];
  /** Error lines known to be harmless (kdat probing), kept so a user can still see them. */
  ignored: string[];
  /** Features criu said are missing, in its words (e.g. 'Time namespaces', 'Dirty tracking'). */
  unsupported: string[];
}

const UNSUPPORTED = [
  /^(.+?) (?:is|are) not supported\b/i,
  /^(.+?) isn't supported\b/i,
  /^(.+?) is OFF\b/,
  /^(.+?) not supported\b/i,
];

function unsupportedFeature(text: string): string | undefined {
  for (const re of UNSUPPORTED) {
    const m = re.exec(text.trim());
    if (m?.[1]) return m[1].trim();
  }
  return undefined;
}

/** Parse `criu check [--all]` (stdout and stderr as captured; criu writes its messages to stderr). */
export function parseCriuCheck(stdout: string, stderr: string, exitCode: number): CriuCheckResult {
  const lines = [...parseLog(stdout), ...parseLog(stderr)];
  const all = `${stdout}\n${stderr}`;
  const res: CriuCheckResult = { ok: false, verdict: 'unknown', exitCode, warnings: [], errors: [], ignored: [], unsupported: [] };
  for (const l of lines) {
    if (l.level === 'error') (isHarmlessError(l) ? res.ignored : res.errors).push(l.raw);
    else if (l.level === 'warn') res.warnings.push(l.raw);
    if (l.level !== 'info') {
      const f = unsupportedFeature(l.text);
      if (f && !res.unsupported.includes(f)) res.unsupported.push(f);
    }
  }
  if (/^\s*Looks good\.\s*$/m.test(all)) res.verdict = 'good';
  else if (/Looks good but some kernel features are missing/.test(all)) res.verdict = 'maybe';
  else if (/Does not look good\./.test(all) || exitCode !== 0 || res.errors.length > 0) res.verdict = 'bad';
  if (exitCode !== 0 && res.verdict === 'good') res.verdict = 'bad';
  res.ok = res.verdict === 'good' && exitCode === 0;
  return res;
}

// ---------------------------------------------------------------------------------------------
// criu check --feature NAME

export type FeatureStatus = 'supported' | 'unsupported' | 'unknown-feature';

export interface FeatureCheckResult {
  feature: string;
  status: FeatureStatus;
  /** The line that decided it (criu's own words), when there is one. */
  evidence?: string;
}

/**
 * Parse `criu check --feature NAME` (stdout+stderr combined). 3.17.1 prints `NAME is supported`
 * (exit 0); for a missing feature, the probe's own error and exit 1; for a name it does not know
 * (including `list`, which 3.17.1 does not have), `Unknown feature NAME` and exit 1.
 */
export function parseFeatureCheck(output: string, exitCode: number, name: string): FeatureStatus {
  return parseFeatureCheckDetailed(output, exitCode, name).status;
}

/** parseFeatureCheck with the line that decided it, to show a user why a feature is missing. */
export function parseFeatureCheckDetailed(output: string, exitCode: number, name: string): FeatureCheckResult {
  const lines = parseLog(output);
  const esc = name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const unknown = lines.find((l) => new RegExp(`^Unknown feature ${esc}\\s*$`).test(l.text));
  if (unknown) return { feature: name, status: 'unknown-feature', evidence: unknown.raw };
  const yes = lines.find((l) => new RegExp(`^${esc} is supported\\s*$`).test(l.text));
  if (yes && exitCode === 0) return { feature: name, status: 'supported', evidence: yes.raw };
  const why =
    lines.find((l) => l.level === 'error' && !isHarmlessError(l)) ??
    lines.find((l) => l.level === 'warn') ??
    lines.find((l) => unsupportedFeature(l.text) !== undefined);
  const out: FeatureCheckResult = { feature: name, status: 'unsupported' };
  if (why) out.evidence = why.raw;
  return out;
}

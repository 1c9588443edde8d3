/**
 * argv builders for the criu commands a migration runs. Each returns a plain argv array
 * (binary first); the SSH layer quotes it once. Everything a user or a journal can feed in is
 * validated here, so a bad value fails before it reaches a remote shell, with a FerryError
 * that names the field.
 *
 * Option order follows the commands recorded in the lab (fixtures/criu/*), so a builder's
 * output can be compared to a real, working command line: -t, leave/track flags, tree flags,
 * -D/-W, parent and page server, then -vN -o LOG and --pidfile last.
 */
import { FerryError } from '../../shared/errors.ts';

/** Linux's largest pid_max (4194304 on the lab guests too). */
export const PID_MAX = 4_194_304;

export type CriuVerbosity = 0 | 1 | 2 | 3 | 4;

export interface CriuBinaryOptions {
  /** `criu` (found on PATH) or an absolute path. Debian installs it as /usr/sbin/criu, off a user's PATH. */
  criu?: string;
}

export interface CriuLogOptions {
  /**
   * `-o LOG`. A relative name is resolved by criu against its work dir (-W, else -D), which is
   * where Ferry reads it back from; an absolute path is passed as is.
   */
  log?: string;
  /** `-vN`. Defaults to 4 when `log` is set: the -v4 log is what diagnose() reads. */
  verbosity?: CriuVerbosity;
}

export interface CriuEndpoint {
  /** IPv4, IPv6 (no brackets) or host name. */
  address: string;
  port: number;
}

/** What lies outside the dumped tree, and how to treat it (dump and restore take the same flags). */
export interface CriuTreeOptions {
  /** `--shell-job`: the process is not a session leader (started from a shell without setsid). */
  shellJob?: boolean;
  /** `--tcp-established`: dump/restore open TCP connections (they survive only if the IP moves too). */
  tcpEstablished?: boolean;
  /** `--ext-unix-sk`: allow unix sockets connected to something outside the tree. */
  extUnixSk?: boolean;
  /** `--file-locks`: dump/restore held file locks. */
  fileLocks?: boolean;
  /** `--external RES` for each entry (e.g. `mnt[/data]:data`). */
  external?: readonly string[];
  /** `--network-lock`: how connections are blocked between dump and restore. */
  networkLock?: 'iptables' | 'nftables' | 'skip';
}

export interface CriuImagesOptions {
  /** `-D DIR`: the images dir. */
  imagesDir: string;
  /** `-W DIR`: where criu writes its log and stats (defaults to -D). */
  workDir?: string;
}

// --- TLS for page streams ---
/**
 * `--tls --tls-cacert CA --tls-cert CERT --tls-key KEY [--tls-no-cn-verify]`: the page stream
 * (page server, lazy pages) runs over TLS. CRIU (criu/tls.c) trusts only --tls-cacert when it
 * is given, the server requires a client certificate, and both ends check the peer's chain;
 * unless --tls-no-cn-verify, each end also checks the peer's certificate names its own
 * --address (so a listener bound to --address checks its *client* against that address).
 */
export interface CriuTlsOptions {
  cacert: string;
  cert: string;
  key: string;
  noCnVerify?: boolean;
}

export interface CriuTlsOption {
  tls?: CriuTlsOptions;
}
// --- end TLS ---

export interface PreDumpOptions extends CriuBinaryOptions, CriuLogOptions, CriuImagesOptions, CriuTreeOptions, CriuTlsOption {
  /** `-t PID`: root of the tree to pre-dump. */
  pid: number;
  /** `--track-mem`: use soft-dirty tracking so the next (pre-)dump writes only changed pages. */
  trackMem?: boolean;
  /** `--prev-images-dir DIR`: the previous iteration's images, relative to imagesDir (e.g. `../1`). */
  prevImagesDir?: string;
  /** `--page-server --address A --port P`: send pages to a page server instead of writing them locally. */
  pageServer?: CriuEndpoint;
  /** `--pidfile FILE`. */
  pidfile?: string;
}

/** `--leave-stopped` and `--leave-running` exclude each other; the type says so. */
export type LeaveOption =
  | { leaveStopped?: boolean; leaveRunning?: false }
  | { leaveStopped?: false; leaveRunning: true };

/**
 * Pages go to a page server (pre-copy) or are served lazily from the source (post-copy), never both.
 * For `lazyPages`, criu's own page server listens on address:port (address defaults to all).
 */
export type DumpPagesOptions =
  | { pageServer?: CriuEndpoint; lazyPages?: undefined }
  | { pageServer?: undefined; lazyPages: { address?: string; port: number } };

export type DumpOptions = Omit<PreDumpOptions, 'pageServer'> & LeaveOption & DumpPagesOptions;

export interface PageServerOptions extends CriuBinaryOptions, CriuLogOptions, CriuImagesOptions, CriuTlsOption {
  /** `--address A`: listen only there (criu listens on all addresses by default). */
  address?: string;
  /** `--port P`. */
  port: number;
  /** `--prev-images-dir DIR`: needed for incremental iterations, or pages are re-sent in full. */
  prevImagesDir?: string;
  /** `-d`: daemonize; criu returns once it listens. */
  daemon?: boolean;
  /** `--pidfile FILE`: so a leftover server can be killed by pid (it holds the port). */
  pidfile?: string;
}

export interface RestoreOptions extends CriuBinaryOptions, CriuLogOptions, CriuImagesOptions, CriuTreeOptions {
  /** `-d`: detach; criu returns once the tree runs. */
  detach?: boolean;
  /** `--lazy-pages`: pages come from a `criu lazy-pages` daemon on this host. */
  lazyPages?: boolean;
  /** `--pidfile FILE`: the restored root's pid. */
  pidfile?: string;
  /** `--manage-cgroups=ignore`: leave cgroups alone, so the tree stays in criu's own cgroup (a scope of its own). */
  ignoreCgroups?: boolean;
}

export interface LazyPagesOptions extends CriuBinaryOptions, CriuLogOptions, CriuImagesOptions, CriuTlsOption {
  /** `--page-server --address A --port P`: where the source's lazy dump serves pages. */
  pageServer?: CriuEndpoint;
  /** `--pidfile FILE`. */
  pidfile?: string;
}

export interface CheckOptions extends CriuBinaryOptions, CriuLogOptions {
  /** `--all`: also category 2/3 features. */
  all?: boolean;
  /** `--feature NAME`: probe one feature (e.g. mem_dirty_track, uffd-noncoop). */
  feature?: string;
}

export interface CpuinfoOptions extends CriuBinaryOptions, CriuLogOptions {
  /** `-D DIR`: where cpuinfo.img is written (dump) or read (check). */
  dir: string;
}

// ---------------------------------------------------------------------------------------------
// Validation

function invalid(command: string, field: string, value: unknown, why: string, hint: string): never {
  throw new FerryError({
    code: 'invalid-argument',
    message: `criu ${command}: invalid ${field} ${JSON.stringify(value) ?? String(value)}: ${why}`,
    hint,
  });
}

function checkPid(command: string, pid: unknown): number {
  if (typeof pid !== 'number' || !Number.isInteger(pid) || pid < 1 || pid > PID_MAX) {
    invalid(command, 'pid', pid, `must be an integer 1..${PID_MAX}`, 'Pick the process again from the process list.');
  }
  return pid;
}

function checkPort(command: string, field: string, port: unknown): number {
  if (typeof port !== 'number' || !Number.isInteger(port) || port < 1 || port > 65535) {
    invalid(command, field, port, 'must be an integer 1..65535', 'Use a free TCP port, e.g. 27000.');
  }
  return port;
}

/**
 * A path criu will read as one argument: absolute or relative (criu resolves relative -o/--prev-images-dir
 * against its dirs), never empty, no NUL or line breaks (they would split or end the remote command),
 * and not starting with '-' (criu would read it as an option).
 */
function checkPath(command: string, field: string, value: unknown): string {
  const hint = 'Use an absolute path or a plain relative one such as ../1, without line breaks.';
  if (typeof value !== 'string' || value.length === 0) invalid(command, field, value, 'must be a non-empty path', hint);
  if (/[\0\n\r]/.test(value)) invalid(command, field, value, 'contains a NUL or line break', hint);
  if (value.startsWith('-')) invalid(command, field, value, "starts with '-' and would be read as an option", `Write it as ./${value} or use an absolute path.`);
  if (value.length > 4096) invalid(command, field, value, 'is longer than PATH_MAX (4096)', hint);
  return value;
}

const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;
const HOST_LABEL = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/;

export function isIPv4(s: string): boolean {
  return IPV4.test(s);
}

export function isIPv6(s: string): boolean {
  let rest = s;
  let groupsAvailable = 8;
  // An embedded IPv4 tail (::ffff:10.0.0.1) takes the place of two groups.
  const lastColon = rest.lastIndexOf(':');
  if (lastColon >= 0 && rest.slice(lastColon + 1).includes('.')) {
    if (!IPV4.test(rest.slice(lastColon + 1))) return false;
    rest = rest.slice(0, lastColon + 1) + '0';
    groupsAvailable = 7;
  }
  const group = /^[0-9A-Fa-f]{1,4}$/;
  const halves = rest.split('::');
  if (halves.length > 2) return false;
  const parts = (h: string) => (h === '' ? [] : h.split(':'));
  const head = parts(halves[0] ?? '');
  const tail = halves.length === 2 ? parts(halves[1] ?? '') : [];
  if (![...head, ...tail].every((g) => group.test(g))) return false;
  const n = head.length + tail.length;
  return halves.length === 2 ? n < groupsAvailable : n === groupsAvailable;
}

export function isHostname(s: string): boolean {
  if (s.length === 0 || s.length > 253) return false;
  const labels = (s.endsWith('.') ? s.slice(0, -1) : s).split('.');
  // An all-numeric dotted name that is not a valid IPv4 (e.g. 10.0.0.256) is a typo, not a host.
  if (labels.every((l) => /^\d+$/.test(l))) return false;
  return labels.every((l) => HOST_LABEL.test(l));
}

function checkAddress(command: string, field: string, value: unknown): string {
  if (typeof value === 'string' && value.startsWith('[') && value.endsWith(']') && isIPv6(value.slice(1, -1))) {
    invalid(command, field, value, 'brackets are not accepted here', `Write the IPv6 address without brackets: ${value.slice(1, -1)}.`);
  }
  if (typeof value !== 'string' || !(isIPv4(value) || isIPv6(value) || isHostname(value))) {
    invalid(command, field, value, 'is not an IPv4 address, IPv6 address or host name', 'Use the address the other host reaches this one by, e.g. 10.0.0.2.');
  }
  return value;
}

function checkBinary(command: string, criu: unknown): string {
  if (criu === undefined || criu === 'criu') return 'criu';
  if (typeof criu !== 'string' || !criu.startsWith('/') || /[\0\n\r]/.test(criu)) {
    invalid(command, 'criu binary', criu, "must be 'criu' or an absolute path", 'criu usually lives at /usr/sbin/criu.');
  }
  return criu;
}

function checkVerbosity(command: string, v: unknown): CriuVerbosity {
  if (v !== 0 && v !== 1 && v !== 2 && v !== 3 && v !== 4) {
    invalid(command, 'verbosity', v, 'must be 0..4', 'Use 4 to get a log diagnose() can read.');
  }
  return v;
}

function checkNetworkLock(command: string, v: unknown): string {
  if (v !== 'iptables' && v !== 'nftables' && v !== 'skip') {
    invalid(command, 'network lock', v, "must be 'iptables', 'nftables' or 'skip'", 'Leave it unset to use criu’s default (iptables).');
  }
  return v;
}

function checkExternal(command: string, v: unknown): string {
  if (typeof v !== 'string' || v.length === 0 || /[\0\n\r]/.test(v) || v.startsWith('-')) {
    invalid(command, 'external resource', v, "must be a non-empty criu resource spec like 'mnt[/data]:data'", 'See criu(8), --external.');
  }
  return v;
}

const FEATURE_NAME = /^[A-Za-z0-9][A-Za-z0-9_-]*$/;

// ---------------------------------------------------------------------------------------------
// Shared pieces

function head(command: string, opts: CriuBinaryOptions, ...sub: string[]): string[] {
  return [checkBinary(command, opts.criu), ...sub];
}

function images(command: string, out: string[], o: CriuImagesOptions): void {
  out.push('-D', checkPath(command, 'images dir (-D)', o.imagesDir));
  if (o.workDir !== undefined) out.push('-W', checkPath(command, 'work dir (-W)', o.workDir));
}

function tree(command: string, out: string[], o: CriuTreeOptions): void {
  if (o.tcpEstablished) out.push('--tcp-established');
  if (o.shellJob) out.push('--shell-job');
  if (o.extUnixSk) out.push('--ext-unix-sk');
  if (o.fileLocks) out.push('--file-locks');
  for (const e of o.external ?? []) out.push('--external', checkExternal(command, e));
  if (o.networkLock !== undefined) out.push('--network-lock', checkNetworkLock(command, o.networkLock));
}

function logging(command: string, out: string[], o: CriuLogOptions): void {
  const v = o.verbosity ?? (o.log !== undefined ? 4 : undefined);
  if (v !== undefined) out.push(`-v${checkVerbosity(command, v)}`);
  if (o.log !== undefined) out.push('-o', checkPath(command, 'log file (-o)', o.log));
}

function pidfile(command: string, out: string[], p: string | undefined): void {
  if (p !== undefined) out.push('--pidfile', checkPath(command, 'pidfile', p));
}

// TLS: after the endpoint, so a command line reads "where, then how".
function tlsFlags(command: string, out: string[], t: CriuTlsOptions | undefined): void {
  if (t === undefined) return;
  if (typeof t !== 'object' || t === null) invalid(command, 'tls', t, 'must be {cacert, cert, key}', 'Let Ferry make the migration’s certificates.');
  out.push('--tls', '--tls-cacert', checkPath(command, 'TLS CA certificate', t.cacert), '--tls-cert', checkPath(command, 'TLS certificate', t.cert), '--tls-key', checkPath(command, 'TLS key', t.key));
  if (t.noCnVerify) out.push('--tls-no-cn-verify');
}

function endpoint(command: string, what: string, out: string[], e: { address?: string; port: number }): void {
  if (e.address !== undefined) out.push('--address', checkAddress(command, `${what} address`, e.address));
  out.push('--port', String(checkPort(command, `${what} port`, e.port)));
}

// ---------------------------------------------------------------------------------------------
// Builders

/** `criu --version` */
export function criuVersion(opts: CriuBinaryOptions = {}): string[] {
  return head('--version', opts, '--version');
}

/** `criu check [--all | --feature NAME] [-vN] [-o LOG]` */
export function criuCheck(opts: CheckOptions = {}): string[] {
  const c = 'check';
  const out = head(c, opts, 'check');
  if (opts.all && opts.feature !== undefined) {
    invalid(c, 'options', { all: true, feature: opts.feature }, '--all and --feature exclude each other', 'Run them as two checks.');
  }
  if (opts.all) out.push('--all');
  if (opts.feature !== undefined) {
    if (typeof opts.feature !== 'string' || !FEATURE_NAME.test(opts.feature)) {
      invalid(c, 'feature', opts.feature, 'is not a feature name', 'Use a name such as mem_dirty_track or uffd-noncoop.');
    }
    out.push('--feature', opts.feature);
  }
  logging(c, out, opts);
  return out;
}

/** `criu cpuinfo dump -D DIR` (on the source; writes cpuinfo.img). */
export function cpuinfoDump(opts: CpuinfoOptions): string[] {
  const c = 'cpuinfo dump';
  const out = head(c, opts, 'cpuinfo', 'dump', '-D', checkPath(c, 'dir (-D)', opts.dir));
  logging(c, out, opts);
  return out;
}

/** `criu cpuinfo check -D DIR` (on the target, with the source's cpuinfo.img). */
export function cpuinfoCheck(opts: CpuinfoOptions): string[] {
  const c = 'cpuinfo check';
  const out = head(c, opts, 'cpuinfo', 'check', '-D', checkPath(c, 'dir (-D)', opts.dir));
  logging(c, out, opts);
  return out;
}

/** Where a (pre-)dump's pages go: parent images to diff against, and the target's page server. */
function pagesTo(c: string, out: string[], opts: { prevImagesDir?: string; pageServer?: CriuEndpoint; tls?: CriuTlsOptions; lazyPages?: unknown }): void {
  if (opts.prevImagesDir !== undefined) out.push('--prev-images-dir', checkPath(c, 'previous images dir', opts.prevImagesDir));
  if (opts.pageServer) {
    out.push('--page-server');
    endpoint(c, 'page server', out, opts.pageServer);
  }
  // TLS protects a page stream: one to a page server, or a lazy dump's own server.
  if (opts.tls !== undefined && !opts.pageServer && !opts.lazyPages) {
    invalid(c, 'options', { tls: true }, 'TLS needs a page stream (--page-server or --lazy-pages)', 'Without a page server the pages are written locally; drop the TLS options.');
  }
  tlsFlags(c, out, opts.tls);
}

/** `criu pre-dump -t PID [--track-mem] -D DIR [--prev-images-dir ../N-1] [--page-server --address A --port P] ...` */
export function preDump(opts: PreDumpOptions): string[] {
  const c = 'pre-dump';
  const out = head(c, opts, 'pre-dump', '-t', String(checkPid(c, opts.pid)));
  if (opts.trackMem) out.push('--track-mem');
  tree(c, out, opts);
  images(c, out, opts);
  pagesTo(c, out, opts);
  logging(c, out, opts);
  pidfile(c, out, opts.pidfile);
  return out;
}

/** `criu dump -t PID [--leave-stopped|--leave-running] [--track-mem] [--lazy-pages ...] -D DIR ...` */
export function dump(opts: DumpOptions): string[] {
  const c = 'dump';
  // The union types stop this at compile time; this stops it for values from JSON or `as any`.
  const loose = opts as { leaveStopped?: unknown; leaveRunning?: unknown; pageServer?: unknown; lazyPages?: unknown };
  if (loose.leaveStopped && loose.leaveRunning) {
    invalid(c, 'options', { leaveStopped: true, leaveRunning: true }, '--leave-stopped and --leave-running exclude each other',
      'Use --leave-stopped for a migration: rollback is then `kill -CONT` on the source.');
  }
  if (loose.pageServer && loose.lazyPages) {
    invalid(c, 'options', { pageServer: true, lazyPages: true }, '--page-server and --lazy-pages exclude each other',
      'Pre-copy sends pages to a page server; post-copy serves them lazily from the source. Pick one.');
  }
  const out = head(c, opts, 'dump', '-t', String(checkPid(c, opts.pid)));
  if (opts.leaveStopped) out.push('--leave-stopped');
  if (opts.leaveRunning) out.push('--leave-running');
  if (opts.trackMem) out.push('--track-mem');
  tree(c, out, opts);
  if (opts.lazyPages) {
    out.push('--lazy-pages');
    endpoint(c, 'lazy pages', out, opts.lazyPages);
  }
  images(c, out, opts);
  pagesTo(c, out, opts);
  logging(c, out, opts);
  pidfile(c, out, opts.pidfile);
  return out;
}

/** `criu page-server -D DIR [--prev-images-dir ../N-1] [--address A] --port P [-d]` (on the target, one per iteration). */
export function pageServer(opts: PageServerOptions): string[] {
  const c = 'page-server';
  const out = head(c, opts, 'page-server');
  images(c, out, opts);
  if (opts.prevImagesDir !== undefined) out.push('--prev-images-dir', checkPath(c, 'previous images dir', opts.prevImagesDir));
  endpoint(c, 'page server', out, { address: opts.address, port: opts.port });
  tlsFlags(c, out, opts.tls);
  if (opts.daemon) out.push('-d');
  logging(c, out, opts);
  pidfile(c, out, opts.pidfile);
  return out;
}

/** `criu restore [--lazy-pages] -D DIR [-d] ...` (on the target). */
export function restore(opts: RestoreOptions): string[] {
  const c = 'restore';
  const out = head(c, opts, 'restore');
  if (opts.lazyPages) out.push('--lazy-pages');
  tree(c, out, opts);
  images(c, out, opts);
  if (opts.detach) out.push('-d');
  if (opts.ignoreCgroups) out.push('--manage-cgroups=ignore');
  logging(c, out, opts);
  pidfile(c, out, opts.pidfile);
  return out;
}

/** `criu lazy-pages [--page-server --address A --port P] -D DIR` (on the target, before `restore --lazy-pages`). */
export function lazyPages(opts: LazyPagesOptions): string[] {
  const c = 'lazy-pages';
  const out = head(c, opts, 'lazy-pages');
  if (opts.pageServer) {
    out.push('--page-server');
    endpoint(c, 'page server', out, opts.pageServer);
  }
  tlsFlags(c, out, opts.tls);
  images(c, out, opts);
  logging(c, out, opts);
  pidfile(c, out, opts.pidfile);
  return out;
}

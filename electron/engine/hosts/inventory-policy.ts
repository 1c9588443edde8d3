/**
 * The inventory judged against the target: pure functions from (inventory, target stat, plan)
 * to preflight checks, the files to copy at cutover and the network lock to use. Each check
 * names what CRIU 3.17 would trip on and the fix, before anything is frozen.
 */
import { failCheck as fail, passCheck as pass, warnCheck as warn, type CheckResult, type MigrationPlan } from '../../../shared/domain.ts';
import type { TreeShape } from '../../../shared/estimate.ts';
import type { External, FileStat, HostCaps, InetSocket, Inventory, InvProcess, TargetStat, UnixSocket } from './inventory.ts';
import { normalizeAddress } from './inventory.ts';

export type NetworkLock = 'iptables' | 'nftables';
export type NetworkLockChoice = NonNullable<MigrationPlan['networkLock']>;

const list = (items: string[], max = 6): string => (items.length > max ? `${items.slice(0, max).join(', ')} and ${items.length - max} more` : items.join(', '));
const who = (p: { pid: number; cmd: string }): string => `PID ${p.pid} (${p.cmd.length > 60 ? `${p.cmd.slice(0, 57)}...` : p.cmd})`;
const octal = (m: number): string => `0${m.toString(8)}`;

/** Paths CRIU reopens by name: not files to copy. /dev is judged as devices instead. */
export function isVirtualPath(p: string): boolean {
  return /^\/(proc|sys|dev)(\/|$)/.test(p);
}

/** A path the target must have: not deleted, not memfd/SysV shm/anonymous shared memory. */
function realPath(p: string | undefined): p is string {
  return !!p && p.startsWith('/') && !p.endsWith(' (deleted)') && !p.startsWith('/memfd:') && !p.startsWith('/SYSV') && !isVirtualPath(p);
}

type Role = 'cwd' | 'root' | 'exe' | 'mapping' | 'open file' | 'fifo' | 'socket path' | 'watch';
interface Wanted { path: string; role: Role; stat?: FileStat; by: number }

/** Every path on the source the target must have, with why. */
export function wantedPaths(inv: Inventory): Wanted[] {
  const out = new Map<string, Wanted>();
  const add = (w: Wanted) => {
    if (!realPath(w.path)) return;
    const prev = out.get(w.path);
    // The strictest role wins: an executable mapping stays one even if also open as a file.
    if (!prev || ROLE_RANK[w.role] < ROLE_RANK[prev.role]) out.set(w.path, { ...w, stat: w.stat ?? prev?.stat });
  };
  for (const p of inv.procs) {
    add({ path: p.cwd ?? '', role: 'cwd', stat: p.cwdStat, by: p.pid });
    add({ path: p.root ?? '', role: 'root', stat: p.rootStat, by: p.pid });
    add({ path: p.exe ?? '', role: 'exe', stat: p.exeStat, by: p.pid });
    // A data file mapped without exec (older recordings do not say: code, to be safe) is copied like an open file.
    for (const m of p.maps) add({ path: m.path, role: m.exec === false && m.stat?.type === 'file' ? 'open file' : 'mapping', stat: m.stat, by: p.pid });
    for (const f of p.fds) {
      if (f.stat?.type === 'fifo') add({ path: f.target, role: 'fifo', stat: f.stat, by: p.pid });
      else if (f.stat?.type === 'file' || f.stat?.type === 'dir') add({ path: f.target, role: 'open file', stat: f.stat, by: p.pid });
      for (const w of f.watches ?? []) if (w.path) add({ path: w.path, role: 'watch', by: p.pid });
    }
  }
  // A bound unix socket: CRIU binds it again, so its directory must be there.
  for (const s of inv.sockets) if (s.proto === 'unix' && s.path?.startsWith('/')) add({ path: s.path.slice(0, s.path.lastIndexOf('/')) || '/', role: 'socket path', by: inv.root });
  return [...out.values()];
}
const ROLE_RANK: Record<Role, number> = { exe: 0, root: 1, cwd: 2, mapping: 3, fifo: 4, watch: 5, 'socket path': 6, 'open file': 7 };

/** What the target must stat: the wanted paths. */
export function pathsToCheck(inv: Inventory): string[] {
  return wantedPaths(inv).map((w) => w.path);
}

export interface PolicyInput {
  plan: Pick<MigrationPlan, 'source' | 'target' | 'tcpEstablished' | 'shellJob' | 'fileSync'> & Partial<Pick<MigrationPlan, 'fileLocks' | 'extUnixSk' | 'networkLock'>>;
  inv: Inventory;
  tgt: TargetStat;
  /** Addresses Ferry itself will move to the target (a service address); none for now. */
  movedAddresses?: string[];
}

export interface PolicyResult {
  checks: CheckResult[];
  /** Plain data files missing or different on the target: copied at cutover. */
  filesToSync: string[];
  /** The network lock CRIU should use (set when the tree has connections to carry). */
  networkLock?: NetworkLock;
  /** Processes, sockets and shared memory: the final dump's fixed costs for the estimate. */
  tree: TreeShape;
}

export function judgeInventory(i: PolicyInput): PolicyResult {
  const { plan, inv, tgt } = i;
  const checks: CheckResult[] = [];
  const files = checkFiles(i);
  checks.push(...files.checks);
  const tcp = checkTcp(i);
  checks.push(...tcp.checks);
  checks.push(checkBoundAddresses(inv.sockets, tgt.caps.addrs.map((a) => a.addr), i.movedAddresses ?? [], plan.target));
  checks.push(checkExternal(inv, plan), checkSysvIpc(inv, plan.source), checkSession(inv, plan), checkFileLocks(inv, plan), ...checkOddities(inv, plan.source));
  const shm = checkSharedMemory(inv, plan.source);
  if (shm) checks.push(shm);
  return { checks, filesToSync: files.filesToSync, networkLock: tcp.networkLock, tree: treeShape(inv) };
}

/**
 * Anonymous shared memory (MAP_SHARED of /dev/zero or a memfd), in one process or shared by
 * several: CRIU carries it, and it costs time. CRIU 3.17 never pre-dumps it and has no dirty
 * tracking for it, so every final dump writes all of it inside the freeze (the estimate counts
 * it): a warning with its size, naming the processes that share it.
 * (A tree sharing it was once refused here on a lab tally of stale reads; those were the lab
 * workload's own bug, its rewritten page landing on its counter page every 4096th round, with
 * or without a migration: services-zoo.ts, TREE. Dumped images matched the frozen memory.)
 */
export function checkSharedMemory(inv: Inventory, source: string): CheckResult | undefined {
  const objects = new Map<string, { pages: number; pids: number[] }>();
  for (const p of inv.procs) {
    for (const m of p.maps) {
      if (m.shmPages === undefined) continue;
      const k = `${m.dev}:${m.ino}`;
      const o = objects.get(k) ?? { pages: 0, pids: [] };
      o.pages = Math.max(o.pages, m.shmPages);
      if (!o.pids.includes(p.pid)) o.pids.push(p.pid);
      objects.set(k, o);
    }
  }
  if (!objects.size) return undefined;
  const pages = [...objects.values()].reduce((a, o) => a + o.pages, 0);
  const mib = (n: number) => {
    const m = (n * 4096) / 1048576;
    return `${m < 10 ? m.toFixed(1) : Math.round(m)} MiB`;
  };
  const byPid = new Map(inv.procs.map((p) => [p.pid, p]));
  const shared = [...objects.values()].filter((o) => o.pids.length > 1).sort((a, b) => b.pages - a.pages);
  const holders = [...new Set([...objects.values()].flatMap((o) => o.pids))];
  const sharing = shared.length
    ? `; ${mib(shared[0]!.pages)} of it (MAP_SHARED) is shared by ${list(shared[0]!.pids.map((pid) => who(byPid.get(pid)!)))}${shared.length > 1 ? ` (and ${shared.length - 1} more such region(s))` : ''}, and CRIU restores it shared`
    : '';
  return warn(
    'shared-memory',
    source,
    'Shared memory',
    `${pages} pages (${mib(pages)}) of anonymous shared memory in ${list(holders.map((pid) => who(byPid.get(pid)!)))}${sharing}: CRIU never pre-dumps it, so the final dump writes all of it inside the freeze, whatever pre-copy achieved (the estimate counts it)`,
    'Expect a longer freeze than pre-copy alone suggests: set the downtime budget with it in mind.',
  );
}

/** The tree as the final dump sees it: processes, sockets, anonymous shared memory (each object once). */
export function treeShape(inv: Inventory): TreeShape {
  const shm = new Map<string, number>();
  for (const p of inv.procs) for (const m of p.maps) if (m.shmPages !== undefined) shm.set(`${m.dev}:${m.ino}`, Math.max(shm.get(`${m.dev}:${m.ino}`) ?? 0, m.shmPages));
  const connections = inv.sockets.filter((s) => s.proto !== 'unix' && s.proto.startsWith('tcp') && s.state === 'ESTABLISHED').length;
  return { processes: inv.procs.length, sockets: inv.sockets.length, sharedPages: [...shm.values()].reduce((a, b) => a + b, 0), connections };
}

// ---------------------------------------------------------------------------------------------

function sameFile(s: FileStat | undefined, t: FileStat): string | undefined {
  if (!s) return undefined;
  if (s.type !== t.type) return `a ${t.type} on the target, a ${s.type} on the source`;
  if (s.type === 'file' && s.size !== t.size) return `${t.size} bytes on the target, ${s.size} on the source`;
  // A directory's mode is not checked by CRIU; a file's, FIFO's or socket's is.
  if (s.type !== 'dir' && s.mode !== t.mode) return `mode ${octal(t.mode)} on the target, ${octal(s.mode)} on the source`;
  return undefined;
}

export function checkFiles({ plan, inv, tgt }: PolicyInput): { checks: CheckResult[]; filesToSync: string[] } {
  const { target } = plan;
  const wanted = wantedPaths(inv);
  const filesToSync: string[] = [];
  const toCopy: string[] = [];
  const blockers: string[] = [];
  const fixes = new Set<string>();
  for (const w of wanted) {
    const t = tgt.paths.get(w.path);
    const why = t === undefined ? 'not checked' : t === null ? 'missing' : sameFile(w.stat, t);
    if (!why || why === 'not checked') continue;
    // Plain data the tree has open: copy it at cutover (the existing file sync, tar -p keeps the mode).
    if (w.role === 'open file' && w.stat?.type === 'file') {
      filesToSync.push(w.path);
      if (!plan.fileSync.includes(w.path)) toCopy.push(`${w.path} (${why})`);
      continue;
    }
    blockers.push(`${w.role} ${w.path} (${why})`);
    if (w.role === 'exe' || w.role === 'mapping') fixes.add('Install the same program and library versions on the target (same package versions as the source): CRIU refuses an executable or library whose size or mode differs.');
    else if (w.role === 'cwd' || w.role === 'root') fixes.add(`Create the directory on the target (mkdir -p, same mode), or start the process from a directory both hosts have.`);
    else if (w.role === 'fifo') fixes.add(`Create the FIFO on the target with the same mode (mkfifo -m ${octal(w.stat?.mode ?? 0o644)} PATH).`);
    else if (w.role === 'watch') fixes.add('Create the watched paths on the target: CRIU re-adds every inotify/fanotify watch by path.');
    else if (w.role === 'socket path') fixes.add("Create the socket's directory on the target: CRIU binds the socket there again.");
    else fixes.add('Make the path on the target the same type and mode as on the source.');
  }
  const checks: CheckResult[] = [];
  checks.push(
    blockers.length
      ? fail('paths-on-target', target, 'Paths on target', `${blockers.length} path(s) the tree uses are missing or differ on ${target}: ${list(blockers)}`, [...fixes].join(' '))
      : pass('paths-on-target', target, 'Paths on target', `${wanted.filter((w) => w.role !== 'open file').length} program, library, directory and special path(s) match`),
  );
  const open = wanted.filter((w) => w.role === 'open file' && w.stat?.type === 'file').length;
  if (!open) checks.push(pass('open-files', target, 'Open files on target', 'the process has no regular files open'));
  else if (!filesToSync.length) checks.push(pass('open-files', target, 'Open files on target', `all ${open} open file(s) exist with the same size and mode`));
  else if (!toCopy.length) checks.push(pass('open-files', target, 'Open files on target', `${filesToSync.length} file(s) differ and are in the file-sync list`));
  else checks.push(warn('open-files', target, 'Open files on target', `will be copied at cutover: ${list(toCopy)}`, 'Ferry copies them from the source during the freeze; pre-stage big files on the target to keep the freeze short.'));
  return { checks, filesToSync };
}

const LOOPBACK = (a: string): boolean => a.startsWith('127.') || a === '::1' || a.startsWith('::ffff:127.');
const WILDCARD = (a: string): boolean => a === '0.0.0.0' || a === '::' || a === '::ffff:0.0.0.0';
const connected = (s: InetSocket): boolean => s.proto.startsWith('tcp') && s.state !== 'LISTEN' && s.state !== 'CLOSE';

/** Which lock each host can run: iptables needs iptables-restore; nftables the kernel's nf_tables (criu links libnftables). */
export function lockMethods(c: HostCaps): NetworkLock[] {
  const m: NetworkLock[] = [];
  if (c.bins['iptables-restore']) m.push('iptables');
  if (c.nfTables) m.push('nftables');
  return m;
}

/**
 * The lock for both hosts. auto prefers iptables (CRIU's default) when both hosts have
 * iptables-restore, else nftables when both kernels have nf_tables.
 */
export function chooseNetworkLock(want: NetworkLockChoice, source: HostCaps, target: HostCaps): { lock?: NetworkLock; missing: Array<{ host: 'source' | 'target'; method: NetworkLock }> } {
  const s = lockMethods(source);
  const t = lockMethods(target);
  const order: NetworkLock[] = want === 'auto' ? ['iptables', 'nftables'] : [want];
  for (const m of order) if (s.includes(m) && t.includes(m)) return { lock: m, missing: [] };
  const missing: Array<{ host: 'source' | 'target'; method: NetworkLock }> = [];
  for (const m of order) {
    if (!s.includes(m)) missing.push({ host: 'source', method: m });
    if (!t.includes(m)) missing.push({ host: 'target', method: m });
  }
  return { missing };
}

export function checkTcp({ plan, inv, tgt }: PolicyInput): { checks: CheckResult[]; networkLock?: NetworkLock } {
  const { source, target } = plan;
  const inet = inv.sockets.filter((s): s is InetSocket => s.proto !== 'unix');
  const conns = inet.filter(connected);
  if (!conns.length) return { checks: [pass('tcp-established', source, 'TCP connections', 'no established TCP connections')] };
  const checks: CheckResult[] = [];
  const shown = conns.map((c) => `${c.local}:${c.localPort} ↔ ${c.remote}:${c.remotePort}`);
  checks.push(
    plan.tcpEstablished
      ? pass('tcp-established', source, 'TCP connections', `${conns.length} established connection(s), carried with --tcp-established: ${list(shown, 3)}`)
      : fail('tcp-established', source, 'TCP connections', `${conns.length} established connection(s): ${list(shown, 3)}; CRIU refuses to dump them without --tcp-established`, 'Turn on "Established TCP": --tcp-established on the command line, tcp_established = true in the plan file, or the checkbox in the plan form.'),
  );
  // A loopback connection whose other end is not in the tree loses its peer on the target.
  const own = new Set(inet.map((s) => `${s.local}|${s.localPort}`));
  const lonely = conns.filter((c) => LOOPBACK(c.remote) && !own.has(`${c.remote}|${c.remotePort}`));
  if (lonely.length) {
    checks.push(fail('tcp-loopback-peer', source, 'Loopback connections', `connected over loopback to a process outside the tree: ${list(lonely.map((c) => `${c.local}:${c.localPort} ↔ ${c.remote}:${c.remotePort}`))}; that peer stays on ${source}`, 'Migrate a tree that contains both ends, or have the client connect over an address that moves with the process.'));
  }
  const choice = chooseNetworkLock(plan.networkLock ?? 'auto', inv.caps, tgt.caps);
  if (choice.lock) {
    checks.push(pass('network-lock', undefined, 'Network lock', `${choice.lock} on both hosts (--network-lock ${choice.lock})`));
    return { checks, networkLock: choice.lock };
  }
  const hostName = (h: 'source' | 'target') => (h === 'source' ? source : target);
  const needs = choice.missing.map((m) => `${hostName(m.host)} has no ${m.method === 'iptables' ? 'iptables-restore' : 'nf_tables in its kernel'}`);
  checks.push(
    fail('network-lock', undefined, 'Network lock', `CRIU locks the connections during the freeze and neither method works on both hosts: ${list(needs)}`,
      plan.networkLock === 'nftables'
        ? 'Use a kernel with nf_tables (CONFIG_NF_TABLES) on both hosts, or set the network lock to iptables and install iptables (apt-get install iptables).'
        : 'Install iptables on both hosts (Debian/Ubuntu: apt-get install iptables), or use kernels with nf_tables and set the network lock to nftables.'),
  );
  return { checks };
}

/**
 * Sockets bound to a specific address need that address on the target, unless Ferry moves it
 * there itself (`moved`, the service address).
 */
export function checkBoundAddresses(sockets: Inventory['sockets'], targetAddrs: string[], moved: string[], target: string): CheckResult {
  const have = new Set([...targetAddrs, ...moved].map(normalizeAddress));
  const bound = sockets.filter((s): s is InetSocket => s.proto !== 'unix' && !WILDCARD(s.local) && !LOOPBACK(s.local) && (s.state === 'LISTEN' || connected(s) || s.proto.startsWith('udp')));
  const absent = [...new Set(bound.filter((s) => !have.has(normalizeAddress(s.local.replace(/^::ffff:(?=\d)/, '')))).map((s) => s.local))];
  if (!bound.length) return pass('bound-addresses', target, 'Bound addresses', 'no socket is bound to a specific address');
  if (!absent.length) return pass('bound-addresses', target, 'Bound addresses', `the target has ${list([...new Set(bound.map((s) => s.local))])}`);
  return fail('bound-addresses', target, 'Bound addresses', `the tree's sockets are bound to ${list(absent)}, which ${target} does not have`, `Add the address to the target, bind the service to a wildcard address, or let Ferry move the address with the process.`);
}

function externalLine(e: External): string {
  const holders = e.holders.length ? e.holders.map(who).join(', ') : 'no process found (another namespace or the kernel)';
  if (e.kind === 'socket') return `a unix socket connected to ${e.name ? `${e.name} held by ` : ''}${holders}`;
  if (e.kind === 'pipe') return `${e.what} shared with ${holders}`;
  return `FIFO ${e.what} also open in ${holders}`;
}

/** Unix sockets, pipes and FIFOs whose other end is outside the tree. */
export function checkExternal(inv: Inventory, plan: PolicyInput['plan']): CheckResult {
  const { source } = plan;
  const title = 'Peers outside the tree';
  // A pipe or FIFO nobody else holds is entirely the tree's own.
  const ext = inv.external.filter((e) => e.kind === 'socket' || e.holders.length);
  // CRIU's --ext-unix-sk covers a datagram socket talking to a named outside socket (e.g. /dev/log).
  const coverable = (e: External) => e.kind === 'socket' && e.socketType === 2 && !!e.name;
  const blockers = ext.filter((e) => !coverable(e) || !plan.extUnixSk);
  if (!ext.length) {
    const note = inv.unixDiag ? '' : ' (unix socket peers unknown: sock_diag unavailable)';
    return inv.unixDiag ? pass('external-peers', source, title, 'no unix socket, pipe or FIFO reaches outside the tree') : warn('external-peers', source, title, `no pipe or FIFO reaches outside the tree${note}`);
  }
  if (!blockers.length) return pass('external-peers', source, title, `${ext.map(externalLine).join('; ')}: carried with --ext-unix-sk`);
  const onlyCoverable = blockers.every(coverable);
  return fail('external-peers', source, title, `the tree talks to processes that stay on ${source}: ${list(blockers.map(externalLine), 4)}`,
    onlyCoverable
      ? 'Turn on external unix sockets (--ext-unix-sk on the command line, ext_unix_sk = true in the plan file, or the plan form): CRIU reconnects these datagram sockets by name on the target.'
      : 'CRIU cannot carry one end of a pipe, FIFO or stream connection: stop the outside peer first, or migrate a tree that contains both ends.');
}

/** SysV IPC of the host's namespace is not carried by CRIU: a blocker, never a silent loss. */
export function checkSysvIpc(inv: Inventory, source: string): CheckResult {
  const title = 'SysV IPC';
  const pids = new Set(inv.procs.map((p) => p.pid));
  const rootNs = inv.procs[0]?.ipcNs;
  if (rootNs && inv.hostIpcNs && rootNs !== inv.hostIpcNs) return pass('sysv-ipc', source, title, 'the tree has its own IPC namespace; CRIU carries it');
  const attached = new Set(inv.procs.flatMap((p) => p.maps.filter((m) => m.path.startsWith('/SYSV')).map((m) => m.ino)));
  const used: string[] = [];
  for (const s of inv.ipc.shm) if (attached.has(s.id) || pids.has(s.cpid) || pids.has(s.lpid)) used.push(`shared memory ${s.id} (key ${s.key}, ${s.size} bytes${attached.has(s.id) ? ', attached' : ''})`);
  for (const q of inv.ipc.msg) if (pids.has(q.lspid) || pids.has(q.lrpid)) used.push(`message queue ${q.id} (key ${q.key}, last sent or received by the tree)`);
  for (const s of inv.ipc.sem) if (s.lastPids.some((p) => pids.has(p))) used.push(`semaphore array ${s.id} (key ${s.key}, last operated on by the tree)`);
  const unproven = [
    ...inv.ipc.msg.filter((q) => !pids.has(q.lspid) && !pids.has(q.lrpid)).map((q) => `message queue ${q.id}`),
    ...inv.ipc.sem.filter((s) => !s.lastPids.some((p) => pids.has(p))).map((s) => `semaphore array ${s.id}`),
  ];
  if (used.length) {
    return fail('sysv-ipc', source, title, `the tree uses SysV IPC of ${source}'s own IPC namespace, which CRIU does not carry: ${list(used, 4)}`, 'Run the application in its own IPC namespace (unshare --ipc, or a container) so CRIU dumps its IPC objects, or stop using SysV IPC before migrating.');
  }
  if (unproven.length) {
    return warn('sysv-ipc', source, title, `${source}'s IPC namespace has ${list(unproven, 4)} that the tree has not been seen using (the kernel records only the last PID to use each); CRIU would not carry them`, 'If the application uses them, it will fail on the target: run it in its own IPC namespace.');
  }
  return pass('sysv-ipc', source, title, 'the tree uses no SysV IPC');
}

/** Processes in the tree's session or process group but outside the tree would stay behind. */
export function checkSession(inv: Inventory, plan: PolicyInput['plan']): CheckResult {
  const { source } = plan;
  const title = 'Session and process group';
  const top = inv.procs[0];
  const groups = new Set(inv.procs.map((p) => p.pgrp));
  // A shell job's session belongs to its shell: only its own process groups must come along.
  const left = inv.sharers.filter((s) => (s.pgrp !== undefined && groups.has(s.pgrp)) || (!plan.shellJob && s.sid === top?.sid));
  if (!left.length) return pass('session-members', source, title, `no process outside the tree shares its ${plan.shellJob ? 'process group' : 'session or process group'}`);
  return fail('session-members', source, title, `${left.length} process(es) share the tree's session or process group but are not in the tree, and would stay on ${source}: ${list(left.map(who), 5)}`, 'Stop them, or start the application so that all its processes descend from the migrated PID (a daemon that double-forks leaves the tree).');
}

/** Locks the tree holds: by PID, or (open file description locks, PID -1) by file. */
export function checkFileLocks(inv: Inventory, plan: PolicyInput['plan']): CheckResult {
  const { source } = plan;
  const pids = new Set(inv.procs.map((p) => p.pid));
  const files = new Map<string, string>();
  for (const p of inv.procs) for (const f of p.fds) if (f.stat) files.set(`${f.stat.dev}|${f.stat.ino}`, f.target);
  const held = inv.locks.filter((l) => pids.has(l.pid) || (l.pid === -1 && files.has(`${l.dev}|${l.ino}`)));
  if (!held.length) return pass('file-locks', source, 'File locks', 'the tree holds no file locks');
  const shown = held.map((l) => `${l.kind} ${l.access} on ${files.get(`${l.dev}|${l.ino}`) ?? `inode ${l.ino} (${l.dev})`}`);
  return plan.fileLocks
    ? pass('file-locks', source, 'File locks', `${held.length} lock(s), carried with --file-locks: ${list(shown, 3)}`)
    : fail('file-locks', source, 'File locks', `the tree holds ${held.length} file lock(s): ${list(shown, 3)}; CRIU refuses to dump them without --file-locks`, 'Turn on file locks: --file-locks on the command line, file_locks = true in the plan file, or the checkbox in the plan form.');
}

/** Char devices CRIU 3.17 reopens: mem (null, zero, full, random, urandom), ttys and ptys, tun. */
export function restorableDevice(rdev: string): boolean {
  const [maj = -1, min = -1] = rdev.split(':').map(Number);
  return maj === 1 || maj === 4 || maj === 5 || (maj >= 136 && maj <= 143) || (maj === 10 && min === 200);
}

/** Cheap signs of a tree CRIU 3.17 cannot dump: ptrace by an outsider, device files it cannot reopen. */
export function checkOddities(inv: Inventory, source: string): CheckResult[] {
  const out: CheckResult[] = [];
  const pids = new Set(inv.procs.map((p) => p.pid));
  const traced = inv.procs.filter((p) => p.tracer && !pids.has(p.tracer));
  if (traced.length) {
    out.push(fail('ptrace', source, 'Debuggers', `${list(traced.map((p) => `PID ${p.pid} is traced by PID ${p.tracer}`))}; CRIU cannot seize a traced process`, 'Detach the debugger or strace first.'));
  }
  const devices: string[] = [];
  for (const p of inv.procs as InvProcess[]) {
    for (const f of p.fds) {
      const s = f.stat;
      if (s?.type === 'block' || (s?.type === 'char' && s.rdev && !restorableDevice(s.rdev))) devices.push(`${f.target} (${s.type} ${s.rdev}, PID ${p.pid} fd ${f.fd})`);
    }
  }
  out.push(
    devices.length
      ? fail('devices', source, 'Device files', `the tree has device files open that CRIU 3.17 cannot dump: ${list([...new Set(devices)])}`, 'Close them before migrating (stop the program part that uses the device).')
      : pass('devices', source, 'Device files', 'only devices CRIU handles (null, zero, random, terminals)'),
  );
  return out;
}

/** The tree's unix sockets (for the UI's detail and tests). */
export const unixSockets = (inv: Inventory): UnixSocket[] => inv.sockets.filter((s): s is UnixSocket => s.proto === 'unix');

/**
 * What the plan and preflight tell CRIU about the tree, for dump, pre-dump and restore alike:
 * the network lock only where connections are carried and preflight chose one.
 */
export function criuTreeFlags(plan: Pick<MigrationPlan, 'shellJob' | 'tcpEstablished'> & Partial<Pick<MigrationPlan, 'fileLocks' | 'extUnixSk'>>, networkLock?: NetworkLock) {
  return {
    shellJob: plan.shellJob,
    tcpEstablished: plan.tcpEstablished,
    ...(plan.fileLocks ? { fileLocks: true } : {}),
    ...(plan.extUnixSk ? { extUnixSk: true } : {}),
    ...(plan.tcpEstablished && networkLock ? { networkLock } : {}),
  };
}

/**
 * The process tree's inventory: everything CRIU will have to carry, read on the source in one
 * round trip by a short read-only python3 program, and the same program's stat of those paths
 * on the target. The program prints one JSON document; parseInventory/parseTargetStat turn it
 * into typed facts (addresses decoded, states named) and inventory-policy.ts judges them.
 *
 * What the kernel cannot tell: /proc/sysvipc/sem has no PIDs at all and /proc/sysvipc/msg only
 * the last sender/receiver, so the program asks each semaphore for the PID of its last
 * operation (semctl GETPID, read-only); anything it cannot tie to the tree is reported as
 * unattributed rather than guessed. Unix socket peers come from sock_diag (netlink), the
 * holders of pipes, FIFOs and outside peers from one scan of every other process's fds.
 */
import { FerryError } from '../../../shared/errors.ts';

/** The program: `inventory ROOTPID` on the source, `check PATH...` on the target. */
export const INVENTORY_PY = String.raw`import os, sys, json, stat, struct, socket, subprocess, ctypes
def rl(p):
    try: return os.readlink(p)
    except OSError: return None
def readf(p):
    try:
        with open(p, 'rb') as f: return f.read().decode('utf-8', 'replace')
    except OSError: return ''
def ftype(m):
    for t, f in (('file', stat.S_ISREG), ('dir', stat.S_ISDIR), ('fifo', stat.S_ISFIFO), ('socket', stat.S_ISSOCK), ('char', stat.S_ISCHR), ('block', stat.S_ISBLK), ('link', stat.S_ISLNK)):
        if f(m): return t
    return 'other'
def st(p, follow=True):
    try: s = os.stat(p) if follow else os.lstat(p)
    except OSError: return None
    r = {'type': ftype(s.st_mode), 'mode': s.st_mode & 0o7777, 'size': s.st_size, 'dev': '%d:%d' % (os.major(s.st_dev), os.minor(s.st_dev)), 'ino': s.st_ino}
    if stat.S_ISCHR(s.st_mode) or stat.S_ISBLK(s.st_mode): r['rdev'] = '%d:%d' % (os.major(s.st_rdev), os.minor(s.st_rdev))
    return r
def caps():
    dirs = [d for d in os.environ.get('PATH', '').split(':') if d] + ['/usr/local/sbin', '/usr/sbin', '/sbin']
    def which(n):
        for d in dirs:
            p = os.path.join(d, n)
            if os.path.isfile(p) and os.access(p, os.X_OK): return p
        return None
    rel = os.uname().release
    mods = '/lib/modules/' + rel
    nft = os.path.isdir('/sys/module/nf_tables') or 'nf_tables.ko' in readf(mods + '/modules.builtin') or any(os.path.exists(mods + '/kernel/net/netfilter/nf_tables.ko' + x) for x in ('', '.xz', '.zst', '.gz'))
    addrs = []
    try:
        out = subprocess.run(['ip', '-o', 'addr', 'show'], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, timeout=10).stdout.decode()
        for l in out.splitlines():
            f = l.split()
            if len(f) > 3 and f[2] in ('inet', 'inet6'): addrs.append({'dev': f[1], 'addr': f[3].split('/')[0]})
    except Exception: pass
    return {'kernel': rel, 'bins': {n: which(n) for n in ('iptables-restore', 'ip6tables-restore', 'nft', 'criu')}, 'nfTables': nft, 'addrs': addrs}
def check(paths):
    print(json.dumps({'v': 1, 'kind': 'stat', 'caps': caps(), 'paths': {p: st(p) for p in paths}}))
def procs():
    out = {}
    for d in os.listdir('/proc'):
        if not d.isdigit(): continue
        s = readf('/proc/' + d + '/stat')
        r = s.rfind(')')
        if r < 0: continue
        f = s[r + 2:].split()
        out[int(d)] = {'comm': s[s.find('(') + 1:r], 'state': f[0], 'ppid': int(f[1]), 'pgrp': int(f[2]), 'sid': int(f[3])}
    return out
def cmd(pid, all):
    c = readf('/proc/%d/cmdline' % pid).replace('\0', ' ').strip()
    return c or '[' + all.get(pid, {}).get('comm', '?') + ']'
def fhandle_path(pid, sdev, hbytes, htype, hexh):
    try:
        maj, mnr = sdev >> 20, sdev & 0xfffff
        mp = None
        for l in readf('/proc/%d/mountinfo' % pid).splitlines():
            f = l.split()
            if f[2] == '%d:%d' % (maj, mnr): mp = '/proc/%d/root' % pid + f[4]; break
        if not mp: return None
        libc = ctypes.CDLL(None, use_errno=True)
        h = bytes.fromhex(hexh)[:hbytes]
        buf = ctypes.create_string_buffer(struct.pack('=Ii', hbytes, htype) + h)
        m = os.open(mp, os.O_RDONLY | os.O_DIRECTORY)
        try:
            fd = libc.open_by_handle_at(m, buf, 0o10000000)
            if fd < 0: return None
            try: return rl('/proc/self/fd/%d' % fd)
            finally: os.close(fd)
        finally: os.close(m)
    except Exception: return None
def fdinfo(pid, fd):
    info = {}
    for l in readf('/proc/%d/fdinfo/%s' % (pid, fd)).splitlines():
        if l.startswith('flags:'): info['flags'] = int(l.split()[1], 8)
        elif l.startswith('inotify ') or l.startswith('fanotify '):
            kv = dict(x.split(':', 1) for x in l.split()[1:] if ':' in x)
            w = {'kind': l.split()[0]}
            if 'ino' in kv: w['ino'] = int(kv['ino'], 16)
            if 'sdev' in kv:
                sd = int(kv['sdev'], 16); w['dev'] = '%d:%d' % (sd >> 20, sd & 0xfffff)
                if 'f_handle' in kv: w['path'] = fhandle_path(pid, sd, int(kv.get('fhandle-bytes', '0'), 16), int(kv.get('fhandle-type', '0'), 16), kv['f_handle'])
            info.setdefault('watches', []).append(w)
    return info
def unix_diag():
    res = {}
    try:
        s = socket.socket(socket.AF_NETLINK, socket.SOCK_DGRAM, 4)
        req = struct.pack('=BBHIIIII', 1, 0, 0, 0xffffffff, 0, 1 | 4, 0xffffffff, 0xffffffff)
        s.sendto(struct.pack('=IHHII', 16 + len(req), 20, 0x301, 1, 0) + req, (0, 0))
        done = False
        while not done:
            data = s.recv(65536)
            o = 0
            while o + 16 <= len(data):
                ln, typ = struct.unpack_from('=IH', data, o)
                if typ == 3 or typ == 2: done = True; break
                fam, ty, sta, _, ino = struct.unpack_from('=BBBBI', data, o + 16)
                e = {'type': ty, 'state': sta}
                a = o + 16 + 16
                while a + 4 <= o + ln:
                    al, at = struct.unpack_from('=HH', data, a)
                    if al < 4: break
                    pl = data[a + 4:a + al]
                    if at == 0: e['name'] = ('@' + pl[1:].decode('utf-8', 'replace')) if pl[:1] == b'\0' else pl.rstrip(b'\0').decode('utf-8', 'replace')
                    elif at == 2: e['peer'] = struct.unpack('=I', pl[:4])[0]
                    a += (al + 3) & ~3
                res[ino] = e
                o += (ln + 3) & ~3
        s.close()
    except Exception as ex:
        return None
    return res
def table(path):
    rows = []
    lines = readf(path).splitlines()
    for l in lines[1:]: rows.append(l.split())
    return rows
def inventory(root):
    all = procs()
    if root not in all:
        print(json.dumps({'v': 1, 'kind': 'inventory', 'root': root, 'missing': True})); return
    kids = {}
    for p, i in all.items(): kids.setdefault(i['ppid'], []).append(p)
    tree, q = [], [root]
    while q:
        p = q.pop(0); tree.append(p); q.extend(sorted(c for c in kids.get(p, []) if c != p))
    ts = set(tree)
    hostipc = rl('/proc/1/ns/ipc')
    P = []
    for pid in tree:
        d = '/proc/%d' % pid
        status = readf(d + '/status')
        tracer = 0
        for l in status.splitlines():
            if l.startswith('TracerPid:'): tracer = int(l.split()[1])
        fds = []
        try: names = sorted(os.listdir(d + '/fd'), key=int)
        except OSError: names = []
        for fd in names:
            t = rl(d + '/fd/' + fd)
            if t is None: continue
            e = {'fd': int(fd), 'target': t}
            if t.startswith('/'):
                s = st(d + '/fd/' + fd)
                if s: e['stat'] = s
            e.update(fdinfo(pid, fd))
            fds.append(e)
        maps, seen = [], {}
        for l in readf(d + '/maps').splitlines():
            f = l.split(None, 5)
            if len(f) < 6 or f[4] == '0': continue
            path = f[5]
            key = (path, f[4]) if path.startswith('/dev/zero') or path.startswith('/memfd:') else path
            if key in seen:
                if 'x' in f[1]: seen[key]['exec'] = True
                continue
            e = {'path': path, 'ino': int(f[4]), 'dev': f[3], 'exec': 'x' in f[1]}
            seen[key] = e
            if path.startswith('/') and not path.endswith(' (deleted)'):
                s = st(d + '/map_files/' + f[0]) or st(path)
                if s: e['stat'] = s
            elif f[1][3] == 's' and (path.startswith('/dev/zero') or path.startswith('/memfd:')):
                # Anonymous shared memory: its allocated pages, what CRIU's final dump writes whole.
                try: e['shmPages'] = os.stat(d + '/map_files/' + f[0]).st_blocks // 8
                except OSError: pass
            maps.append(e)
        ent = {'pid': pid, 'ppid': all[pid]['ppid'], 'pgrp': all[pid]['pgrp'], 'sid': all[pid]['sid'], 'state': all[pid]['state'], 'cmd': cmd(pid, all), 'tracer': tracer,
               'ipcNs': rl(d + '/ns/ipc'), 'netNs': rl(d + '/ns/net'), 'fds': fds, 'maps': maps}
        for k in ('cwd', 'root', 'exe'):
            ent[k] = rl(d + '/' + k)
            s = st(d + '/' + k)
            if s: ent[k + 'Stat'] = s
        P.append(ent)
    top = all[root]
    sharers = [{'pid': p, 'pgrp': i['pgrp'], 'sid': i['sid'], 'cmd': cmd(p, all)} for p, i in sorted(all.items()) if p not in ts and i['sid'] != 0 and (i['sid'] == top['sid'] or i['pgrp'] in {all[t]['pgrp'] for t in tree})]
    nd = '/proc/%d/net/' % root
    sockets = {}
    sk = {int(f['target'][8:-1]) for p in P for f in p['fds'] if f['target'].startswith('socket:[')}
    for proto in ('tcp', 'tcp6', 'udp', 'udp6'):
        for r in table(nd + proto):
            if len(r) > 9 and r[9].isdigit() and int(r[9]) in sk: sockets[r[9]] = {'proto': proto, 'local': r[1], 'remote': r[2], 'st': r[3]}
    for r in table(nd + 'unix'):
        if len(r) > 6 and r[6].isdigit() and int(r[6]) in sk: sockets[r[6]] = {'proto': 'unix', 'flags': r[3], 'type': r[4], 'st': r[5], 'path': r[7] if len(r) > 7 else None}
    diag = unix_diag()
    ext = {}
    if diag is not None:
        for i in sk:
            if i in diag and str(i) in sockets:
                sockets[str(i)]['peer'] = diag[i].get('peer')
                if diag[i].get('peer') and diag[i]['peer'] not in sk:
                    pe = diag.get(diag[i]['peer'], {})
                    ext['socket:[%d]' % diag[i]['peer']] = {'name': pe.get('name'), 'type': pe.get('type'), 'holders': []}
    # who outside the tree holds the tree's pipes, FIFOs and the peers of its unix sockets
    for p in P:
        for f in p['fds']:
            if f['target'].startswith('pipe:['): ext.setdefault(f['target'], {'holders': []})
            elif f.get('stat', {}).get('type') == 'fifo': ext.setdefault(f['target'], {'holders': [], 'fifo': f['stat']['dev'] + ':' + str(f['stat']['ino'])})
    if ext:
        for pid in all:
            if pid in ts or pid == os.getpid(): continue
            try: names = os.listdir('/proc/%d/fd' % pid)
            except OSError: continue
            for fd in names:
                t = rl('/proc/%d/fd/%s' % (pid, fd))
                e = ext.get(t)
                if e is None: continue
                if 'fifo' in e:
                    s = st('/proc/%d/fd/%s' % (pid, fd))
                    if not s or s['dev'] + ':' + str(s['ino']) != e['fifo']: continue
                if not any(h['pid'] == pid for h in e['holders']): e['holders'].append({'pid': pid, 'fd': int(fd), 'cmd': cmd(pid, all)})
    locks = []
    for l in readf('/proc/locks').splitlines():
        f = l.split()
        if len(f) < 8 or f[1] == '->': continue
        locks.append({'class': f[1], 'mode': f[2], 'access': f[3], 'pid': int(f[4]), 'file': f[5], 'start': f[6], 'end': f[7]})
    ipc = {'shm': table('/proc/sysvipc/shm'), 'msg': table('/proc/sysvipc/msg'), 'sem': []}
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        for r in table('/proc/sysvipc/sem'):
            semid, n = int(r[1]), int(r[3])
            r.append(','.join(str(libc.semctl(semid, k, 11, 0)) for k in range(n)))
            ipc['sem'].append(r)
    except Exception:
        ipc['sem'] = [r + [''] for r in table('/proc/sysvipc/sem')]
    print(json.dumps({'v': 1, 'kind': 'inventory', 'root': root, 'hostIpcNs': hostipc, 'selfIpcNs': rl('/proc/self/ns/ipc'), 'hostNetNs': rl('/proc/1/ns/net'), 'procs': P, 'sharers': sharers,
                      'sockets': sockets, 'unixDiag': diag is not None, 'external': ext, 'locks': locks, 'ipc': ipc, 'caps': caps()}))
if sys.argv[1] == 'inventory': inventory(int(sys.argv[2]))
else: check(sys.argv[2:])
`;

export function inventoryArgv(pid: number): string[] {
  return ['python3', '-c', INVENTORY_PY, 'inventory', String(pid)];
}

/** Stat of each path on the target (following links) plus what the host can do. */
export function targetStatArgv(paths: string[]): string[] {
  return ['python3', '-c', INVENTORY_PY, 'check', ...paths];
}

export type FileType = 'file' | 'dir' | 'fifo' | 'socket' | 'char' | 'block' | 'link' | 'other';
export interface FileStat {
  type: FileType;
  /** Permission bits (mode & 07777). */
  mode: number;
  size: number;
  /** "major:minor" of the filesystem. */
  dev: string;
  ino: number;
  /** Device files: "major:minor" of the device. */
  rdev?: string;
}

export interface Watch {
  kind: 'inotify' | 'fanotify';
  ino?: number;
  dev?: string;
  /** Resolved from the watch's file handle where the kernel allowed it. */
  path?: string;
}

export interface InvFd {
  fd: number;
  /** readlink of /proc/PID/fd/N: a path, socket:[ino], pipe:[ino], anon_inode:[eventfd], ... */
  target: string;
  stat?: FileStat;
  flags?: number;
  watches?: Watch[];
}

export interface InvMap {
  path: string;
  /** Some mapping of it is executable (code: a program or library), not data. */
  exec?: boolean;
  ino: number;
  dev: string;
  stat?: FileStat;
  /** Anonymous shared memory (MAP_SHARED of /dev/zero, memfd): its allocated pages (st_blocks). */
  shmPages?: number;
}

export interface InvProcess {
  pid: number;
  ppid: number;
  pgrp: number;
  sid: number;
  state: string;
  cmd: string;
  /** TracerPid: 0 unless ptraced. */
  tracer: number;
  ipcNs?: string;
  netNs?: string;
  cwd?: string;
  root?: string;
  exe?: string;
  cwdStat?: FileStat;
  rootStat?: FileStat;
  exeStat?: FileStat;
  fds: InvFd[];
  maps: InvMap[];
}

export interface OtherProcess {
  pid: number;
  cmd: string;
  pgrp?: number;
  sid?: number;
  fd?: number;
}

export const TCP_STATES: Record<string, string> = {
  '01': 'ESTABLISHED', '02': 'SYN_SENT', '03': 'SYN_RECV', '04': 'FIN_WAIT1', '05': 'FIN_WAIT2', '06': 'TIME_WAIT',
  '07': 'CLOSE', '08': 'CLOSE_WAIT', '09': 'LAST_ACK', '0A': 'LISTEN', '0B': 'CLOSING',
};

export interface InetSocket {
  inode: number;
  proto: 'tcp' | 'tcp6' | 'udp' | 'udp6';
  /** TCP's state name; UDP: ESTABLISHED when connected, CLOSE when not. */
  state: string;
  local: string;
  localPort: number;
  remote: string;
  remotePort: number;
}

export interface UnixSocket {
  inode: number;
  proto: 'unix';
  kind: 'stream' | 'dgram' | 'seqpacket' | 'other';
  listening: boolean;
  connected: boolean;
  path?: string;
  /** The other end's inode (sock_diag), when connected. */
  peer?: number;
}

export type InvSocket = InetSocket | UnixSocket;

/** Something the tree holds whose other end (or another holder) is outside the tree. */
export interface External {
  /** socket:[ino] of the outside peer, pipe:[ino], or the FIFO's path. */
  what: string;
  kind: 'socket' | 'pipe' | 'fifo';
  /** Outside peer socket: its bound name and type (1 stream, 2 dgram, 5 seqpacket). */
  name?: string;
  socketType?: number;
  holders: OtherProcess[];
}

export interface FileLock {
  /** FLOCK, POSIX, OFDLCK, LEASE. */
  kind: string;
  access: string;
  /** -1 for open file description locks. */
  pid: number;
  /** "major:minor" (decimal) and inode of the locked file. */
  dev: string;
  ino: number;
}

export interface ShmSegment { key: string; id: number; size: number; cpid: number; lpid: number; nattch: number }
export interface MsgQueue { key: string; id: number; qnum: number; lspid: number; lrpid: number }
export interface SemArray { key: string; id: number; nsems: number; /** PID of the last operation on each semaphore (0: none). */ lastPids: number[] }

export interface HostCaps {
  kernel: string;
  /** Where each binary is, or null. */
  bins: Record<string, string | null>;
  /** nf_tables in the kernel (loaded, built in, or a module on disk). */
  nfTables: boolean;
  addrs: Array<{ dev: string; addr: string }>;
}

export interface Inventory {
  root: number;
  /** The root PID was not there. */
  missing: boolean;
  /** The IPC namespace of PID 1 (or the program's own when PID 1's is unreadable). */
  hostIpcNs?: string;
  procs: InvProcess[];
  /** Outside the tree, sharing its session or a process group. */
  sharers: OtherProcess[];
  sockets: InvSocket[];
  /** sock_diag answered: unix peers are known. */
  unixDiag: boolean;
  external: External[];
  /** Every lock on the host (/proc/locks); the policy picks the tree's. */
  locks: FileLock[];
  ipc: { shm: ShmSegment[]; msg: MsgQueue[]; sem: SemArray[] };
  caps: HostCaps;
}

export interface TargetStat {
  caps: HostCaps;
  /** null: missing on the target. */
  paths: Map<string, FileStat | null>;
}

// ---------------------------------------------------------------------------------------------
// Parsing

/** /proc/net/tcp's "0100007F:1F90" (IPv4) or 32 hex digits (IPv6), little-endian words. */
export function decodeAddress(hex: string): { addr: string; port: number } {
  const [a = '', p = '0'] = hex.split(':');
  const port = parseInt(p, 16);
  const words = (a.match(/.{8}/g) ?? []).map((w) => (w.match(/../g) ?? []).reverse().map((b) => parseInt(b, 16)));
  if (words.length === 1) return { addr: words[0]!.join('.'), port };
  const bytes = words.flat();
  if (bytes.slice(0, 10).every((b) => b === 0) && bytes[10] === 0xff && bytes[11] === 0xff) return { addr: `::ffff:${bytes.slice(12).join('.')}`, port };
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(bytes[i]! * 256 + bytes[i + 1]!);
  return { addr: compressV6(groups), port };
}

/** RFC 5952 text: the longest run of zero groups (two or more) becomes "::". */
export function compressV6(groups: number[]): string {
  let best = -1, bestLen = 0;
  for (let i = 0; i < groups.length; ) {
    if (groups[i] !== 0) { i++; continue; }
    let j = i;
    while (j < groups.length && groups[j] === 0) j++;
    if (j - i > bestLen && j - i > 1) { best = i; bestLen = j - i; }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (best < 0) return hex.join(':');
  return `${hex.slice(0, best).join(':')}::${hex.slice(best + bestLen).join(':')}`;
}

/** The same address in the form `ip addr` prints (lowercase, compressed). */
export function normalizeAddress(addr: string): string {
  if (!addr.includes(':')) return addr;
  const lower = addr.toLowerCase();
  if (lower.startsWith('::ffff:') && lower.includes('.')) return lower;
  const [head = '', tail = ''] = lower.split('::');
  const h = head ? head.split(':') : [];
  const t = lower.includes('::') ? (tail ? tail.split(':') : []) : [];
  const fill = lower.includes('::') ? Array(8 - h.length - t.length).fill('0') : [];
  return compressV6([...h, ...fill, ...t].map((g) => parseInt(g, 16)));
}

function bad(what: string, evidence: string): never {
  throw new FerryError({ code: 'inventory-unreadable', message: `The process inventory could not be read: ${what}`, evidence: evidence.slice(0, 300), hint: 'Is python3 installed on the host, and does Ferry have root there?' });
}

function lastJson(stdout: string, kind: string): Record<string, unknown> {
  const line = stdout.trim().split('\n').pop() ?? '';
  let doc: unknown;
  try {
    doc = JSON.parse(line);
  } catch {
    return bad('its output is not JSON', line);
  }
  const d = doc as Record<string, unknown>;
  if (!d || d.v !== 1 || d.kind !== kind) bad(`expected a version-1 "${kind}" document`, line);
  return d;
}

const num = (v: unknown): number => (typeof v === 'number' ? v : Number(v));
const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);

function fileStat(v: unknown): FileStat | undefined {
  if (!v || typeof v !== 'object') return undefined;
  const s = v as Record<string, unknown>;
  return { type: (str(s.type) ?? 'other') as FileType, mode: num(s.mode), size: num(s.size), dev: str(s.dev) ?? '', ino: num(s.ino), ...(s.rdev ? { rdev: str(s.rdev) } : {}) };
}

function caps(v: unknown): HostCaps {
  const c = (v ?? {}) as Record<string, unknown>;
  const addrs = Array.isArray(c.addrs) ? (c.addrs as Array<Record<string, unknown>>).map((a) => ({ dev: String(a.dev), addr: normalizeAddress(String(a.addr)) })) : [];
  return { kernel: str(c.kernel) ?? '', bins: (c.bins ?? {}) as Record<string, string | null>, nfTables: c.nfTables === true, addrs };
}

/** "08:01:1234" of /proc/locks (hex major:minor, decimal inode) to "8:1" and 1234. */
function lockFile(s: string): { dev: string; ino: number } {
  const [maj = '0', min = '0', ino = '0'] = s.split(':');
  return { dev: `${parseInt(maj, 16)}:${parseInt(min, 16)}`, ino: Number(ino) };
}

const UNIX_TYPES: Record<string, UnixSocket['kind']> = { '0001': 'stream', '0002': 'dgram', '0005': 'seqpacket' };

export function parseInventory(stdout: string): Inventory {
  const d = lastJson(stdout, 'inventory');
  const root = num(d.root);
  const empty = { shm: [], msg: [], sem: [] };
  if (d.missing) return { root, missing: true, procs: [], sharers: [], sockets: [], unixDiag: false, external: [], locks: [], ipc: empty, caps: caps(d.caps) };
  const procs = ((d.procs ?? []) as Array<Record<string, unknown>>).map((p): InvProcess => ({
    pid: num(p.pid), ppid: num(p.ppid), pgrp: num(p.pgrp), sid: num(p.sid), state: String(p.state ?? ''), cmd: String(p.cmd ?? ''), tracer: num(p.tracer ?? 0),
    ipcNs: str(p.ipcNs), netNs: str(p.netNs), cwd: str(p.cwd), root: str(p.root), exe: str(p.exe),
    cwdStat: fileStat(p.cwdStat), rootStat: fileStat(p.rootStat), exeStat: fileStat(p.exeStat),
    fds: ((p.fds ?? []) as Array<Record<string, unknown>>).map((f) => ({
      fd: num(f.fd), target: String(f.target), stat: fileStat(f.stat), flags: f.flags === undefined ? undefined : num(f.flags),
      watches: Array.isArray(f.watches) ? (f.watches as Array<Record<string, unknown>>).map((w) => ({ kind: w.kind === 'fanotify' ? 'fanotify' : 'inotify', ino: w.ino === undefined ? undefined : num(w.ino), dev: str(w.dev), path: str(w.path) })) : undefined,
    })),
    maps: ((p.maps ?? []) as Array<Record<string, unknown>>).map((m) => ({ path: String(m.path), ino: num(m.ino), dev: String(m.dev ?? ''), stat: fileStat(m.stat), ...(m.exec !== undefined ? { exec: m.exec === true } : {}), ...(m.shmPages !== undefined ? { shmPages: num(m.shmPages) } : {}) })),
  }));
  const other = (o: Record<string, unknown>): OtherProcess => ({ pid: num(o.pid), cmd: String(o.cmd ?? ''), ...(o.pgrp !== undefined ? { pgrp: num(o.pgrp) } : {}), ...(o.sid !== undefined ? { sid: num(o.sid) } : {}), ...(o.fd !== undefined ? { fd: num(o.fd) } : {}) });
  const sockets: InvSocket[] = [];
  for (const [ino, raw] of Object.entries((d.sockets ?? {}) as Record<string, Record<string, unknown>>)) {
    const inode = Number(ino);
    if (raw.proto === 'unix') {
      const flags = parseInt(String(raw.flags ?? '0'), 16);
      sockets.push({ inode, proto: 'unix', kind: UNIX_TYPES[String(raw.type)] ?? 'other', listening: (flags & 0x10000) !== 0, connected: raw.st === '03', ...(raw.path ? { path: String(raw.path) } : {}), ...(raw.peer ? { peer: num(raw.peer) } : {}) });
      continue;
    }
    const l = decodeAddress(String(raw.local));
    const r = decodeAddress(String(raw.remote));
    const proto = String(raw.proto) as InetSocket['proto'];
    const st = String(raw.st).toUpperCase();
    sockets.push({ inode, proto, state: proto.startsWith('udp') ? (st === '01' ? 'ESTABLISHED' : 'CLOSE') : (TCP_STATES[st] ?? st), local: l.addr, localPort: l.port, remote: r.addr, remotePort: r.port });
  }
  sockets.sort((a, b) => a.inode - b.inode);
  const external = Object.entries((d.external ?? {}) as Record<string, Record<string, unknown>>).map(([what, e]): External => ({
    what,
    kind: what.startsWith('socket:') ? 'socket' : what.startsWith('pipe:') ? 'pipe' : 'fifo',
    ...(e.name ? { name: String(e.name) } : {}),
    ...(e.type !== undefined && e.type !== null ? { socketType: num(e.type) } : {}),
    holders: ((e.holders ?? []) as Array<Record<string, unknown>>).map(other),
  }));
  const locks = ((d.locks ?? []) as Array<Record<string, unknown>>).map((l): FileLock => ({ kind: String(l.class), access: String(l.access), pid: num(l.pid), ...lockFile(String(l.file)) }));
  const ipcRaw = (d.ipc ?? {}) as Record<string, string[][]>;
  const ipc = {
    shm: (ipcRaw.shm ?? []).map((r) => ({ key: r[0]!, id: num(r[1]), size: num(r[3]), cpid: num(r[4]), lpid: num(r[5]), nattch: num(r[6]) })),
    msg: (ipcRaw.msg ?? []).map((r) => ({ key: r[0]!, id: num(r[1]), qnum: num(r[4]), lspid: num(r[5]), lrpid: num(r[6]) })),
    sem: (ipcRaw.sem ?? []).map((r) => ({ key: r[0]!, id: num(r[1]), nsems: num(r[3]), lastPids: (r[r.length - 1] ?? '').split(',').filter(Boolean).map(Number) })),
  };
  return {
    root, missing: false, hostIpcNs: str(d.hostIpcNs) ?? str(d.selfIpcNs), procs, sharers: ((d.sharers ?? []) as Array<Record<string, unknown>>).map(other),
    sockets, unixDiag: d.unixDiag === true, external, locks, ipc, caps: caps(d.caps),
  };
}

export function parseTargetStat(stdout: string): TargetStat {
  const d = lastJson(stdout, 'stat');
  const paths = new Map<string, FileStat | null>();
  for (const [p, s] of Object.entries((d.paths ?? {}) as Record<string, unknown>)) paths.set(p, fileStat(s) ?? null);
  return { caps: caps(d.caps), paths };
}

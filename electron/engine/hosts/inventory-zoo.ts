/**
 * Test helper: one small python3 program that sets up, on request, each thing the inventory
 * must notice (a FIFO, a file lock, SysV semaphores and queues, a TCP connection, a unix
 * connection to an outside peer, an inotify watch, a double-forked daemon that keeps the
 * session), writes "ready" and waits. SIGTERM removes its SysV objects and kills its process
 * group (the daemon too). Used by the local inventory test and the lab preflight suite.
 */
export const ZOO_PY = String.raw`import os, sys, socket, time, fcntl, ctypes, signal
a = sys.argv[1:]
def opt(n): return a[a.index(n) + 1] if n in a else None
libc = ctypes.CDLL(None, use_errno=True)
keep, ipc = [], []
if opt('--cwd'): os.chdir(opt('--cwd'))
if opt('--fifo'):
    if not os.path.exists(opt('--fifo')): os.mkfifo(opt('--fifo'), 0o640)
    keep.append(os.open(opt('--fifo'), os.O_RDWR))
if opt('--flock'):
    f = open(opt('--flock'), 'a'); fcntl.flock(f, fcntl.LOCK_EX); keep.append(f)
if '--sem' in a:
    class sembuf(ctypes.Structure): _fields_ = [('num', ctypes.c_ushort), ('op', ctypes.c_short), ('flg', ctypes.c_short)]
    s = libc.semget(0, 1, 0o1600); assert s >= 0
    libc.semop(s, ctypes.byref(sembuf(0, 1, 0)), 1); ipc.append((libc.semctl, s, 0))
if '--msg' in a:
    q = libc.msgget(0, 0o1600); assert q >= 0
    m = ctypes.create_string_buffer(b'\1\0\0\0\0\0\0\0hello', 13)
    libc.msgsnd(q, m, 5, 0); ipc.append((libc.msgctl, q, None))
if '--tcp' in a:
    srv = socket.socket(); srv.bind(('127.0.0.1', int(opt('--tcp')))); srv.listen(4)
    c = socket.create_connection(srv.getsockname()); s2, _ = srv.accept(); keep += [srv, c, s2]
if opt('--unix-peer'):
    u = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM); u.connect(opt('--unix-peer')); keep.append(u)
if opt('--inotify'):
    fd = libc.inotify_init(); libc.inotify_add_watch(fd, opt('--inotify').encode(), 2); keep.append(fd)
if '--daemon' in a:
    if os.fork() == 0:
        if os.fork() == 0:
            while True: time.sleep(60)
        os._exit(0)
    os.wait()
def bye(*_):
    for f, i, n in ipc:
        if n is None: f(i, 0, None)
        else: f(i, 0, 0)
    os.killpg(0, signal.SIGKILL)
signal.signal(signal.SIGTERM, bye)
with open(opt('--ready'), 'w') as r: r.write('ready\n')
while True: time.sleep(60)
`;

export interface ZooOptions {
  ready: string;
  cwd?: string;
  fifo?: string;
  flock?: string;
  sem?: boolean;
  msg?: boolean;
  /** Port on 127.0.0.1 for a server with one connected client, both in the tree. */
  tcp?: number;
  unixPeer?: string;
  inotify?: string;
  daemon?: boolean;
}

export function zooArgs(o: ZooOptions): string[] {
  const out = ['--ready', o.ready];
  if (o.cwd) out.push('--cwd', o.cwd);
  if (o.fifo) out.push('--fifo', o.fifo);
  if (o.flock) out.push('--flock', o.flock);
  if (o.sem) out.push('--sem');
  if (o.msg) out.push('--msg');
  if (o.tcp !== undefined) out.push('--tcp', String(o.tcp));
  if (o.unixPeer) out.push('--unix-peer', o.unixPeer);
  if (o.inotify) out.push('--inotify', o.inotify);
  if (o.daemon) out.push('--daemon');
  return out;
}

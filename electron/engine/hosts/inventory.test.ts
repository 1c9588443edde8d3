import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { decodeAddress, inventoryArgv, normalizeAddress, parseInventory, parseTargetStat, targetStatArgv } from './inventory.ts';
import { checkExternal, checkFileLocks, checkSession, checkSysvIpc, checkTcp, checkSharedMemory, criuTreeFlags, judgeInventory, pathsToCheck, treeShape } from './inventory-policy.ts';
import { dump, restore } from '../../criu/index.ts';
import { ZOO_PY, zooArgs } from './inventory-zoo.ts';

const data = (f: string) => readFileSync(join(import.meta.dirname, 'testdata', f), 'utf8');
const plan = { source: 'src', target: 'tgt', tcpEstablished: false, shellJob: false, fileSync: [] as string[] };

describe('parseInventory on a recorded run (the zoo on this machine)', () => {
  const inv = parseInventory(data('inventory-local-zoo.out'));
  it('reads the tree, its sockets with decoded addresses, and what reaches outside', () => {
    expect(inv.procs.map((p) => p.pid)).toEqual([18907]);
    expect(inv.procs[0]!.cwd).toBe('/tmp/h10/w');
    expect(inv.sharers.map((s) => s.pid)).toEqual([18962]);
    const tcp = inv.sockets.filter((s) => s.proto === 'tcp');
    expect(tcp.map((s) => s.proto !== 'unix' && `${s.local}:${s.localPort} ${s.state}`)).toEqual(['127.0.0.1:33153 LISTEN', '127.0.0.1:43402 ESTABLISHED', '127.0.0.1:33153 ESTABLISHED']);
    const unix = inv.sockets.find((s) => s.proto === 'unix');
    expect(unix).toMatchObject({ kind: 'stream', connected: true, peer: 66508 });
    const peer = inv.external.find((e) => e.kind === 'socket')!;
    expect(peer).toMatchObject({ name: '/tmp/h10/peer.sock', socketType: 1 });
    expect(peer.holders[0]!.pid).toBe(18858);
    expect(inv.external.find((e) => e.kind === 'fifo')?.holders.map((h) => h.pid)).toEqual([18962]);
  });
  it('reads locks, SysV IPC with the last PIDs, and inotify watches resolved to paths', () => {
    expect(inv.locks).toContainEqual({ kind: 'FLOCK', access: 'WRITE', pid: 18907, dev: '254:0', ino: 2148176 });
    expect(inv.ipc.sem).toEqual([{ key: '0', id: 0, nsems: 1, lastPids: [18907] }]);
    expect(inv.ipc.msg).toEqual([{ key: '0', id: 0, qnum: 1, lspid: 18907, lrpid: 0 }]);
    const watches = inv.procs[0]!.fds.flatMap((f) => f.watches ?? []);
    expect(watches).toEqual([{ kind: 'inotify', ino: 2148173, dev: '254:0', path: '/tmp/h10/w' }]);
    expect(pathsToCheck(inv)).toEqual(expect.arrayContaining(['/tmp/h10/w', '/tmp/h10/w/fifo', '/tmp/h10/w/lock']));
    expect(pathsToCheck(inv).some((p) => p.startsWith('/proc') || p.startsWith('/dev'))).toBe(false);
  });
  it('judges every problem of the zoo as a blocker with its fix', () => {
    const tgt = parseTargetStat(data('stat-local.out'));
    const r = judgeInventory({ plan, inv, tgt });
    const status = Object.fromEntries(r.checks.map((c) => [c.id, c.status]));
    expect(status).toMatchObject({ 'tcp-established': 'fail', 'session-members': 'fail', 'sysv-ipc': 'fail', 'file-locks': 'fail', 'external-peers': 'fail', devices: 'pass' });
    expect(r.checks.find((c) => c.id === 'session-members')!.detail).toContain('PID 18962');
    expect(r.checks.find((c) => c.id === 'external-peers')!.detail).toContain('/tmp/h10/peer.sock held by PID 18858');
    expect(r.checks.find((c) => c.id === 'file-locks')!.fix).toContain('--file-locks');
    const on = judgeInventory({ plan: { ...plan, tcpEstablished: true, fileLocks: true }, inv, tgt });
    expect(on.checks.find((c) => c.id === 'file-locks')!.status).toBe('pass');
    expect(on.checks.find((c) => c.id === 'tcp-established')!.status).toBe('pass');
    // This machine has neither iptables-restore nor nf_tables: the lock fails, naming the package.
    expect(on.checks.find((c) => c.id === 'network-lock')).toMatchObject({ status: 'fail', fix: expect.stringContaining('apt-get install iptables') });
  });
  it('rejects output that is not the program\'s', () => {
    expect(() => parseInventory('Traceback (most recent call last):')).toThrow(/not JSON/);
  });
});

describe('addresses', () => {
  it('decodes /proc/net hex and normalises like ip addr', () => {
    expect(decodeAddress('0100007F:1F90')).toEqual({ addr: '127.0.0.1', port: 8080 });
    expect(decodeAddress('00000000000000000000000001000000:0050')).toEqual({ addr: '::1', port: 80 });
    expect(decodeAddress('0000000000000000FFFF00000200000A:0016').addr).toBe('::ffff:10.0.0.2');
    expect(decodeAddress('000080FE00000000FF00FC00010000FE:0000').addr).toBe('fe80::fc:ff:fe00:1');
    expect(normalizeAddress('FD00:0:0:0:0:0:0:2')).toBe('fd00::2');
  });
});

const fakeCaps = (o: { ipt?: boolean; nft?: boolean; addrs?: string[] }) => ({ kernel: '6.1', bins: { 'iptables-restore': o.ipt ? '/usr/sbin/iptables-restore' : null }, nfTables: !!o.nft, addrs: (o.addrs ?? []).map((addr) => ({ dev: 'eth0', addr })) });
const baseInv = () => parseInventory(JSON.stringify({ v: 1, kind: 'inventory', root: 10, hostIpcNs: 'ipc:[1]', procs: [{ pid: 10, ppid: 1, pgrp: 10, sid: 10, state: 'S', cmd: 'srv', tracer: 0, ipcNs: 'ipc:[1]', fds: [], maps: [] }], sharers: [], sockets: {}, unixDiag: true, external: {}, locks: [], ipc: { shm: [], msg: [], sem: [] }, caps: fakeCaps({}) }));

describe('policy', () => {
  it('the plan and the chosen lock reach CRIU: the lock only where connections are carried', () => {
    const argv = dump({ pid: 1, imagesDir: '/d', ...criuTreeFlags({ ...plan, tcpEstablished: true, fileLocks: true }, 'nftables') });
    expect(argv.join(' ')).toContain('--tcp-established --file-locks --network-lock nftables');
    expect(restore({ imagesDir: '/d', ...criuTreeFlags({ ...plan, extUnixSk: true }, 'iptables') }).join(' ')).not.toContain('--network-lock');
    expect(restore({ imagesDir: '/d', ...criuTreeFlags({ ...plan, extUnixSk: true }, 'iptables') })).toContain('--ext-unix-sk');
  });

  it('network lock: auto picks iptables when both have it, else nftables, else names the package', () => {
    const inv = baseInv();
    inv.sockets = [{ inode: 1, proto: 'tcp', state: 'ESTABLISHED', local: '10.0.0.1', localPort: 80, remote: '10.0.0.3', remotePort: 5000 }];
    const p = { ...plan, tcpEstablished: true };
    inv.caps = fakeCaps({ ipt: true, nft: true });
    expect(checkTcp({ plan: p, inv, tgt: { caps: fakeCaps({ ipt: true, nft: true }), paths: new Map() } }).networkLock).toBe('iptables');
    expect(checkTcp({ plan: p, inv, tgt: { caps: fakeCaps({ nft: true }), paths: new Map() } }).networkLock).toBe('nftables');
    expect(checkTcp({ plan: { ...p, networkLock: 'iptables' }, inv, tgt: { caps: fakeCaps({ nft: true }), paths: new Map() } }).checks.find((c) => c.id === 'network-lock')).toMatchObject({ status: 'fail', detail: expect.stringContaining('tgt has no iptables-restore') });
  });
  it('a loopback connection to a peer outside the tree is a blocker; both ends inside are fine', () => {
    const inv = baseInv();
    inv.sockets = [{ inode: 1, proto: 'tcp', state: 'ESTABLISHED', local: '127.0.0.1', localPort: 6379, remote: '127.0.0.1', remotePort: 40000 }];
    const tgt = { caps: fakeCaps({ ipt: true }), paths: new Map() };
    inv.caps = fakeCaps({ ipt: true });
    expect(checkTcp({ plan: { ...plan, tcpEstablished: true }, inv, tgt }).checks.map((c) => `${c.id}:${c.status}`)).toContain('tcp-loopback-peer:fail');
    inv.sockets.push({ inode: 2, proto: 'tcp', state: 'ESTABLISHED', local: '127.0.0.1', localPort: 40000, remote: '127.0.0.1', remotePort: 6379 });
    expect(checkTcp({ plan: { ...plan, tcpEstablished: true }, inv, tgt }).checks.map((c) => `${c.id}:${c.status}`)).toEqual(['tcp-established:pass', 'network-lock:pass']);
  });
  it('paths: a missing cwd and FIFO fail, a differing data file is synced, /proc is never copied', () => {
    const inv = baseInv();
    const dir = { type: 'dir' as const, mode: 0o755, size: 4096, dev: '8:1', ino: 2 };
    inv.procs[0]!.cwd = '/root/www';
    inv.procs[0]!.cwdStat = dir;
    inv.procs[0]!.fds = [
      { fd: 3, target: '/srv/data.db', stat: { type: 'file', mode: 0o644, size: 10, dev: '8:1', ino: 3 } },
      { fd: 4, target: '/run/app.fifo', stat: { type: 'fifo', mode: 0o640, size: 0, dev: '0:25', ino: 4 } },
      { fd: 5, target: '/proc/1/status', stat: { type: 'file', mode: 0o444, size: 0, dev: '0:22', ino: 5 } },
    ];
    expect(pathsToCheck(inv).sort()).toEqual(['/root/www', '/run/app.fifo', '/srv/data.db']);
    const tgt = { caps: fakeCaps({}), paths: new Map([['/root/www', null], ['/run/app.fifo', null], ['/srv/data.db', { type: 'file' as const, mode: 0o644, size: 9, dev: '8:1', ino: 9 }]]) };
    const r = judgeInventory({ plan, inv, tgt });
    expect(r.filesToSync).toEqual(['/srv/data.db']);
    const paths = r.checks.find((c) => c.id === 'paths-on-target')!;
    expect(paths.status).toBe('fail');
    expect(paths.detail).toContain('cwd /root/www (missing)');
    expect(paths.detail).toContain('fifo /run/app.fifo (missing)');
    expect(paths.fix).toContain('mkfifo -m 0640');
  });
  it('a differing shared library fails; the bound address must exist on the target or be moved', () => {
    const inv = baseInv();
    inv.procs[0]!.maps = [{ path: '/usr/lib/libx.so.1', ino: 7, dev: '08:01', stat: { type: 'file', mode: 0o644, size: 100, dev: '8:1', ino: 7 } }];
    inv.sockets = [{ inode: 1, proto: 'tcp', state: 'LISTEN', local: '10.0.0.1', localPort: 80, remote: '0.0.0.0', remotePort: 0 }];
    const tgt = { caps: fakeCaps({ addrs: ['10.0.0.2'] }), paths: new Map([['/usr/lib/libx.so.1', { type: 'file' as const, mode: 0o644, size: 120, dev: '8:1', ino: 7 }]]) };
    const r = judgeInventory({ plan, inv, tgt });
    expect(r.checks.find((c) => c.id === 'paths-on-target')).toMatchObject({ status: 'fail', detail: expect.stringContaining('mapping /usr/lib/libx.so.1 (120 bytes on the target, 100 on the source)') });
    expect(r.checks.find((c) => c.id === 'bound-addresses')).toMatchObject({ status: 'fail', detail: expect.stringContaining('10.0.0.1') });
    expect(judgeInventory({ plan, inv, tgt, movedAddresses: ['10.0.0.1'] }).checks.find((c) => c.id === 'bound-addresses')!.status).toBe('pass');
    // A data file mapped without exec is copied at cutover, not a blocker.
    inv.procs[0]!.maps = [{ path: '/srv/table.dat', ino: 8, dev: '08:01', exec: false, stat: { type: 'file', mode: 0o644, size: 100, dev: '8:1', ino: 8 } }];
    const data = judgeInventory({ plan, inv, tgt: { ...tgt, paths: new Map([['/srv/table.dat', null]]) } });
    expect(data.filesToSync).toEqual(['/srv/table.dat']);
    expect(data.checks.find((c) => c.id === 'paths-on-target')!.status).toBe('pass');
  });
  it('SysV IPC: a proven user fails, an unattributed semaphore warns, an own IPC namespace passes', () => {
    const inv = baseInv();
    inv.ipc.sem = [{ key: '0x1', id: 5, nsems: 1, lastPids: [0] }];
    expect(checkSysvIpc(inv, 'src').status).toBe('warn');
    inv.ipc.shm = [{ key: '0x2', id: 9, size: 4096, cpid: 3, lpid: 3, nattch: 1 }];
    inv.procs[0]!.maps = [{ path: '/SYSV00000002', ino: 9, dev: '00:01' }];
    expect(checkSysvIpc(inv, 'src')).toMatchObject({ status: 'fail', detail: expect.stringContaining('shared memory 9') });
    inv.procs[0]!.ipcNs = 'ipc:[2]';
    expect(checkSysvIpc(inv, 'src').status).toBe('pass');
  });
  it('anonymous shared memory: one process or shared by two warns (its freeze cost), naming the sharers; none says nothing', () => {
    const inv = baseInv();
    expect(checkSharedMemory(inv, 'src')).toBeUndefined();
    inv.procs[0]!.maps = [{ path: '/dev/zero (deleted)', ino: 4, dev: '00:01', shmPages: 2048 }];
    expect(checkSharedMemory(inv, 'src')).toMatchObject({ status: 'warn', detail: expect.stringContaining('2048 pages (8.0 MiB) of anonymous shared memory') });
    expect(treeShape(inv).sharedPages).toBe(2048);
    inv.procs.push({ ...inv.procs[0]!, pid: inv.procs[0]!.pid + 1, ppid: inv.procs[0]!.pid, maps: [{ path: '/dev/zero (deleted)', ino: 4, dev: '00:01', shmPages: 2048 }] });
    const two = checkSharedMemory(inv, 'src')!;
    expect(two).toMatchObject({ status: 'warn', fix: expect.stringContaining('downtime budget') });
    expect(two.detail).toMatch(/2048 pages \(8\.0 MiB\) of anonymous shared memory in PID \d+ .*PID \d+ .*; 8\.0 MiB of it \(MAP_SHARED\) is shared by PID \d+ .*PID \d+ .*, and CRIU restores it shared/);
    // One object counted once however many map it; only established TCP counts as a connection.
    inv.sockets = [
      { inode: 1, proto: 'tcp', state: 'LISTEN', local: '10.0.0.1', localPort: 80, remote: '0.0.0.0', remotePort: 0 },
      { inode: 2, proto: 'tcp', state: 'ESTABLISHED', local: '10.0.0.1', localPort: 80, remote: '10.0.0.9', remotePort: 5000 },
      { inode: 3, proto: 'unix', kind: 'stream', listening: false, connected: true },
    ];
    expect(treeShape(inv)).toEqual({ processes: 2, sockets: 3, sharedPages: 2048, connections: 1 });
    expect(judgeInventory({ plan, inv, tgt: { caps: fakeCaps({ addrs: [] }), paths: new Map() } }).checks.find((c) => c.id === 'shared-memory')!.status).toBe('warn');
  });
  it('session: a shell job only brings its process groups; ext-unix-sk covers a dgram peer with a name', () => {
    const inv = baseInv();
    inv.procs[0]!.sid = 5;
    inv.sharers = [{ pid: 5, cmd: 'bash', pgrp: 5, sid: 5 }];
    expect(checkSession(inv, { ...plan, shellJob: true }).status).toBe('pass');
    expect(checkSession(inv, plan).status).toBe('fail');
    inv.external = [{ what: 'socket:[77]', kind: 'socket', name: '/dev/log', socketType: 2, holders: [{ pid: 300, cmd: 'rsyslogd' }] }];
    expect(checkExternal(inv, plan)).toMatchObject({ status: 'fail', fix: expect.stringContaining('--ext-unix-sk') });
    expect(checkExternal(inv, { ...plan, extUnixSk: true }).status).toBe('pass');
    inv.locks = [{ kind: 'POSIX', access: 'WRITE', pid: 99, dev: '8:1', ino: 1 }];
    expect(checkFileLocks(inv, plan).status).toBe('pass');
  });
});

// The program itself on real processes of this machine (root): the zoo, an outside unix peer.
describe('the inventory program on this machine', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ferry-inv-'));
  let zoo: ChildProcess | undefined;
  let server: Server | undefined;
  afterAll(() => {
    if (zoo?.pid) {
      try { process.kill(zoo.pid, 'SIGTERM'); } catch { /* gone */ }
    }
    server?.close();
    rmSync(dir, { recursive: true, force: true });
  });
  it('sees the FIFO, the outside peer, the double-forked daemon, the semaphore and the lock', async () => {
    const sock = join(dir, 'peer.sock');
    server = createServer(() => {});
    await new Promise<void>((r) => server!.listen(sock, r));
    const ready = join(dir, 'ready');
    zoo = spawn('python3', ['-c', ZOO_PY, ...zooArgs({ ready, cwd: dir, fifo: join(dir, 'fifo'), flock: join(dir, 'lock'), sem: true, msg: true, tcp: 0, unixPeer: sock, inotify: dir, daemon: true })], { detached: true, stdio: 'ignore' });
    for (let i = 0; i < 100 && !existsSync(ready); i++) await new Promise((r) => setTimeout(r, 100));
    const argv = inventoryArgv(zoo.pid!);
    const out = spawnSync(argv[0]!, argv.slice(1), { encoding: 'utf8' });
    expect(out.status).toBe(0);
    const inv = parseInventory(out.stdout);
    expect(inv.procs[0]!.pid).toBe(zoo.pid);
    expect(inv.sharers.length).toBe(1);
    expect(inv.external.find((e) => e.kind === 'socket')?.holders.map((h) => h.pid)).toContain(process.pid);
    const st = targetStatArgv([...pathsToCheck(inv), join(dir, 'absent')]);
    const t = parseTargetStat(spawnSync(st[0]!, st.slice(1), { encoding: 'utf8' }).stdout);
    expect(t.paths.get(join(dir, 'fifo'))).toMatchObject({ type: 'fifo', mode: 0o640 });
    expect(t.paths.get(join(dir, 'absent'))).toBeNull();
    const r = judgeInventory({ plan, inv, tgt: t });
    const failing = r.checks.filter((c) => c.status === 'fail').map((c) => c.id).sort();
    expect(failing).toEqual(expect.arrayContaining(['external-peers', 'file-locks', 'session-members', 'sysv-ipc', 'tcp-established']));
  });

  it('counts a tree of three with anonymous shared memory: each object once, its touched pages only', async () => {
    const ready = join(dir, 'tree-ready');
    // 300 of 1024 pages touched in one MAP_SHARED region, a second untouched region; a child and a grandchild share both.
    const prog = `import mmap,os,sys,time
a=mmap.mmap(-1,1024*4096,mmap.MAP_SHARED); b=mmap.mmap(-1,64*4096,mmap.MAP_SHARED)
for i in range(300): a[i*4096]=1
if os.fork()==0:
    if os.fork()==0: open(sys.argv[1],'w').close()
time.sleep(60)`;
    const tree = spawn('python3', ['-c', prog, ready], { detached: true, stdio: 'ignore' });
    try {
      for (let i = 0; i < 100 && !existsSync(ready); i++) await new Promise((r) => setTimeout(r, 100));
      const argv = inventoryArgv(tree.pid!);
      const inv = parseInventory(spawnSync(argv[0]!, argv.slice(1), { encoding: 'utf8' }).stdout);
      expect(treeShape(inv)).toEqual({ processes: 3, sockets: 0, sharedPages: 300, connections: 0 });
      // Shared by three processes: a warning (its freeze cost) that names them.
      const c = checkSharedMemory(inv, 'src')!;
      expect(c).toMatchObject({ id: 'shared-memory', status: 'warn' });
      expect(c.detail).toContain(`PID ${tree.pid}`);
      expect(c.detail).toMatch(/1\.2 MiB of it \(MAP_SHARED\) is shared by PID \d+ .*PID \d+ .*PID \d+ .*\(and 1 more such region/);
      expect(inv.procs[0]!.maps.flatMap((m) => (m.shmPages !== undefined ? [m.shmPages] : [])).sort((x, y) => x - y)).toEqual([0, 300]);
    } finally {
      try { process.kill(-tree.pid!, 'SIGKILL'); } catch { /* gone */ }
    }
  });
});

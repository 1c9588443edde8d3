/**
 * The workload zoo: real servers from Debian (redis-server, nginx-light) and a python3 process
 * tree, migrated in the lab with their clients connected. Shared by services.lab.test.ts and
 * `npm run bench:services`. Test code only (it drives the lab's VMs over SSH).
 *
 * The clients' network (see electron/lab/README.md, "Clients of a migrated service"): inside
 * the target VM a network namespace `client` (10.0.0.50/24) whose veth peer is enslaved,
 * together with the private link's interface, to a bridge br0 that carries the target's
 * 10.0.0.2. The client is thus a third endpoint of the lab's private link: before the
 * migration its traffic to the service address 10.0.0.100 crosses the link to the source;
 * after it, it stays in the target VM (veth -> br0). The service address moves from the
 * source's link interface to br0.
 */
import { newPlan, type EngineEvent } from '../../../shared/api.ts';
import type { MigrationPlan } from '../../../shared/domain.ts';
import type { HostSession } from '../../ssh/index.ts';
import { table } from '../../cli/progress.ts';
import { MigrationService } from '../migrations.ts';
import type { MigrationResult } from './migration.ts';

export const ZOO_DIR = '/var/lib/ferry-zoo';
export const SERVICE_IP = '10.0.0.100';
export const SERVICE_ADDRESS = `${SERVICE_IP}/24`;
export const CLIENT_IP = '10.0.0.50';
export const ZOO_PIDS = { redis: 51000, http: 52000, tree: 53000 } as const;
export type ZooKind = keyof typeof ZOO_PIDS;
export const ZOO_KINDS: ZooKind[] = ['redis', 'http', 'tree'];

export interface ZooHosts {
  session(alias: 'lab-source' | 'lab-target'): HostSession;
  env?: NodeJS.ProcessEnv;
}

/** What one zoo migration showed, by its own checks (the bench prints these; the test asserts them). */
export interface ZooResult {
  kind: ZooKind;
  outcome: MigrationResult['outcome'];
  /** Preflight's or the migration's error, when it did not commit. */
  why?: string;
  predictedMs?: number;
  freezeMs?: number;
  /** Longest gap the client (or, for the tree, the program itself) saw between answers, by its own clock. */
  clientGapMs?: number;
  /** Same TCP connection before and after (same local port, no reconnect); undefined where there is none. */
  connectionKept?: boolean;
  /** The workload's own check: acknowledged writes read back, answers right, the tree's ring intact. */
  dataVerified: boolean;
  /** The client's neighbour entry for the service address right after the migration (`ip neigh show`). */
  serviceNeighbor?: string;
  /** Human-readable evidence for the test's messages. */
  detail: string;
  events: EngineEvent[];
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function sh(s: HostSession, script: string, ...args: string[]): Promise<string> {
  const r = await s.exec(['sh', '-c', script, 'sh', ...args], { timeoutMs: 120_000 });
  if (r.code !== 0) throw new Error(`sh on the lab failed (exit ${r.code}): ${script.split('\n')[0]} ${args.join(' ')}: ${(r.stderr || r.stdout).trim()}`);
  return r.stdout;
}

async function writeFile(s: HostSession, path: string, content: string): Promise<void> {
  const r = await s.exec(['sh', '-c', 'mkdir -p "$(dirname "$1")" && cat > "$1"', 'sh', path], { stdin: content, timeoutMs: 60_000 });
  if (r.code !== 0) throw new Error(`writing ${path}: ${r.stderr}`);
}

// ---- The programs ------------------------------------------------------------------

/** A Redis client speaking RESP over one raw socket: SET k<n> v<n> until told to stop, then GET them all back over the same socket. */
const REDIS_CLIENT = String.raw`import json,os,socket,sys,time
host,port,out,stop=sys.argv[1],int(sys.argv[2]),sys.argv[3],sys.argv[4]
s=socket.create_connection((host,port),timeout=30); s.settimeout(300)
port0=s.getsockname()[1]; f=s.makefile('rb')
def cmd(*a):
    a=[x if isinstance(x,bytes) else str(x).encode() for x in a]
    s.sendall(b'*%d\r\n'%len(a)+b''.join(b'$%d\r\n%s\r\n'%(len(x),x) for x in a))
    line=f.readline()
    if not line: raise EOFError('connection closed by the server')
    if line[:1]==b'$':
        n=int(line[1:]);
        return None if n<0 else f.read(n+2)[:-2]
    return line.rstrip(b'\r\n')
def progress(**kw):
    open(out+'.tmp','w').write(json.dumps(kw)); os.replace(out+'.tmp',out)
acked=0; gap=0.0; last=time.monotonic(); err=None; missing=None; port1=None
try:
    while not os.path.exists(stop):
        r=cmd('SET','k%d'%acked,'v%d'%acked)
        if r!=b'+OK': err='SET answered %r'%r; break
        acked+=1; now=time.monotonic(); gap=max(gap,now-last); last=now
        if acked%20==0: progress(done=False,acked=acked,port=port0,gapMs=round(gap*1000))
        time.sleep(0.01)
    if err is None:
        missing=sum(1 for i in range(acked) if cmd('GET','k%d'%i)!=b'v%d'%i)
        port1=s.getsockname()[1]
except Exception as e:
    err=repr(e)
progress(done=True,acked=acked,port=port0,portAfter=port1,missing=missing,gapMs=round(gap*1000),error=err)
`;

/** Keep-alive HTTP clients: each holds one connection and asks GET / until told to stop; a reconnect is counted, never hidden. */
const HTTP_CLIENT = String.raw`import http.client,json,os,sys,threading,time
host,port,out,stop,n=sys.argv[1],int(sys.argv[2]),sys.argv[3],sys.argv[4],int(sys.argv[5])
res=[dict(ok=0,bad=0,ports=[],gap=0.0,error=None) for _ in range(n)]
def client(r):
    c=http.client.HTTPConnection(host,port,timeout=300); last=time.monotonic()
    try:
        while not os.path.exists(stop):
            c.request('GET','/',headers={'Connection':'keep-alive'})
            p=c.sock.getsockname()[1]
            if not r['ports'] or r['ports'][-1]!=p: r['ports'].append(p)
            a=c.getresponse(); body=a.read()
            if a.status==200 and body==b'zoo\n': r['ok']+=1
            else: r['bad']+=1
            now=time.monotonic(); r['gap']=max(r['gap'],now-last); last=now
            time.sleep(0.02)
    except Exception as e:
        r['error']=repr(e)
ts=[threading.Thread(target=client,args=(r,)) for r in res]
[t.start() for t in ts]
def progress(done):
    rows=[dict(ok=r['ok'],bad=r['bad'],ports=r['ports'],gapMs=round(r['gap']*1000),error=r['error']) for r in res]
    open(out+'.tmp','w').write(json.dumps(dict(done=done,clients=rows))); os.replace(out+'.tmp',out)
while any(t.is_alive() for t in ts):
    progress(False); time.sleep(0.5)
progress(True)
`;

/**
 * A process tree: parent + 2 children sharing an anonymous MAP_SHARED region, passing a
 * token round a ring of pipes. Each checks what the one before it wrote in the shared region
 * and a page of it rewritten every round; a status line a second (open-append-close).
 * Page 0 holds the counters, so the rewritten page is never page 0: when it was (every 4096th
 * round), the fill wiped the counters and each child's check failed once, on whichever host
 * the tree was running, which once passed for CRIU restoring the region stale.
 */
export const TREE = String.raw`import mmap,os,socket,struct,sys,time
status=sys.argv[1]; MiB=16
shm=mmap.mmap(-1,MiB<<20,mmap.MAP_SHARED)
a=os.pipe(); b=os.pipe(); c=os.pipe()
def page(t): return 1+(t*7919)%(MiB*256-1)
def fill(t): shm[page(t)*4096:page(t)*4096+4096]=bytes([t%251])*4096
def ok_page(t): return shm[page(t)*4096:page(t)*4096+4096]==bytes([t%251])*4096
def rd(fd): return struct.unpack('!Q',os.read(fd,8))[0]
def wr(fd,v): os.write(fd,struct.pack('!Q',v))
def child(i,rfd,wfd):
    bad=0
    while True:
        t=rd(rfd)
        if struct.unpack_from('!Q',shm,8*i)[0]!=t+i or not ok_page(t): bad+=1
        struct.pack_into('!Q',shm,8*(i+1),t+i+1); struct.pack_into('!Q',shm,64+8*i,bad)
        wr(wfd,t)
for i,(r,w) in enumerate([(a[0],b[1]),(b[0],c[1])]):
    if os.fork()==0: child(i+1,r,w)
t=0; bad=0; gap=0.0; last=time.time(); lastline=0
while True:
    t+=1; fill(t); struct.pack_into('!Q',shm,8,t+1); wr(a[1],t)
    if rd(c[0])!=t or struct.unpack_from('!Q',shm,24)[0]!=t+3: bad+=1
    now=time.time(); gap=max(gap,now-last); last=now
    if now-lastline>=1:
        cb=struct.unpack_from('!QQ',shm,72)
        with open(status,'a') as f: f.write('%s host=%s pid=%d rounds=%d bad=%d childbad=%d,%d gapMs=%d\n'%(time.strftime('%H:%M:%S'),socket.gethostname(),os.getpid(),t,bad,cb[0],cb[1],round(gap*1000)))
        lastline=now
    time.sleep(0.005)
`;

// One process (master_process off): nginx's master and worker would share anonymous memory
// (its accept mutex and counters), written whole inside the freeze (inventory-policy.ts, checkSharedMemory).
const NGINX_CONF = `worker_processes 1;
daemon off;
master_process off;
pid ${ZOO_DIR}/nginx.pid;
error_log ${ZOO_DIR}/nginx-error.log;
events { worker_connections 64; }
http {
  access_log off;
  keepalive_timeout 600s;
  keepalive_requests 1000000;
  server {
    listen ${SERVICE_IP}:8080;
    location / { return 200 "zoo\\n"; }
  }
}
`;

/** Start ARGV on a host as a session leader at PID `pid` (ns_last_pid), stdin /dev/null, output to OUT. */
const START = `set -eu
want=$1; out=$2; shift 2
if [ -e "/proc/$want" ]; then echo "pid $want is already in use" >&2; exit 3; fi
mkdir -p "$(dirname "$out")"
echo $((want - 1)) > /proc/sys/kernel/ns_last_pid
setsid "$@" </dev/null >"$out" 2>&1 &
sleep 1
kill -0 "$want" 2>/dev/null || { echo "did not start as $want:" >&2; tail -n 5 "$out" >&2; exit 4; }
`;

/** The interface that carries the lab's private link (10.0.0.0/24) on a host. */
export async function linkInterface(s: HostSession): Promise<string> {
  const name = (await sh(s, "ip -o addr show to 10.0.0.0/24 | awk '{print $2; exit}'")).trim();
  if (!name) throw new Error('no interface on 10.0.0.0/24');
  return name;
}

/**
 * The clients' namespace on the target VM (idempotent): br0 takes the link's interface and
 * the target's 10.0.0.2; the namespace `client` hangs off it by a veth with 10.0.0.50.
 * systemd-networkd keeps running: stopping it would drop the DHCP address of the SSH NIC
 * (KeepConfiguration=no), and it does not put a deleted static address back by itself.
 */
const CLIENT_NET = `set -eux
IF=$(ip -o link show | awk -F': ' '$2 != "lo" && $2 != "br0" && $2 !~ /^veth/ {print $2}' | while read -r i; do
  ip -o addr show dev "$i" | grep -q ' 10\\.0\\.0\\.' && echo "$i"; done | head -n 1)
[ -n "$IF" ] || IF=$(ip -o link show master br0 2>/dev/null | awk -F': ' '{print $2; exit}')
ip -o link show dev br0 >/dev/null 2>&1 || ip link add br0 type bridge stp_state 0 forward_delay 0
ip link set br0 address "$(cat /sys/class/net/$IF/address)"
ip link set "$IF" master br0
ip addr replace 10.0.0.2/24 dev br0
ip addr flush dev "$IF"
ip link set br0 up
ip netns list | grep -qw client || ip netns add client
ip -o link show dev veth-b >/dev/null 2>&1 || { ip link add veth-b type veth peer name veth-c; ip link set veth-c netns client; }
ip link set veth-b master br0 up
ip -n client addr replace ${CLIENT_IP}/24 dev veth-c
ip -n client link set lo up
ip -n client link set veth-c up
ip -o addr show dev br0 | grep -q ' 10.0.0.2/24 ' || { echo 'br0 lost 10.0.0.2' >&2; exit 1; }
# The target already knows the client (as a server on a LAN knows its clients): it never ARPs
# for it, so only Ferry's announcement can tell the client that the service address moved.
ip neigh replace ${CLIENT_IP} lladdr "$(ip netns exec client cat /sys/class/net/veth-c/address)" dev br0 nud permanent
`;

export async function setUpClientNetwork(h: ZooHosts): Promise<{ sourceInterface: string; targetInterface: string }> {
  const src = h.session('lab-source');
  const tgt = h.session('lab-target');
  await sh(tgt, CLIENT_NET).catch(async (e: Error) => {
    // What the target's network looked like, for the message.
    const ip = await tgt.exec(['ip', '-o', 'addr', 'show'], { timeoutMs: 30_000 });
    throw new Error(`${e.message}\n${ip.stdout}`);
  });
  const sourceInterface = await linkInterface(src);
  // The client reaches the source across the link (the source's sshd answers on 10.0.0.1).
  await sh(tgt, 'for i in $(seq 30); do ip netns exec client timeout 2 bash -c "exec 3<>/dev/tcp/10.0.0.1/22" 2>/dev/null && exit 0; sleep 1; done; exit 1');
  return { sourceInterface, targetInterface: 'br0' };
}

/** Every zoo process gone on both VMs, the service address back on the source, fresh dirs. */
export async function cleanZoo(h: ZooHosts, sourceInterface?: string): Promise<void> {
  for (const alias of ['lab-source', 'lab-target'] as const) {
    const s = h.session(alias);
    await s.exec(['pkill', '-KILL', '-x', 'redis-server']);
    await s.exec(['pkill', '-KILL', '-x', 'nginx']);
    await s.exec(['pkill', '-KILL', '-f', `${ZOO_DIR}/`]);
    await s.exec(['pkill', '-KILL', '-x', 'criu']);
    await s.exec(['rm', '-rf', '--', ZOO_DIR, '/var/lib/ferry']);
  }
  await h.session('lab-target').exec(['ip', 'addr', 'del', SERVICE_ADDRESS, 'dev', 'br0']);
  if (sourceInterface) {
    await h.session('lab-source').exec(['ip', 'addr', 'replace', SERVICE_ADDRESS, 'dev', sourceInterface]);
    await h.session('lab-source').exec(['arping', '-U', '-S', SERVICE_IP, '-c', '1', '-w', '1', '-i', sourceInterface, SERVICE_IP]);
  }
  await h.session('lab-target').exec(['ip', '-n', 'client', 'neigh', 'flush', 'all']);
}

async function readJson<T>(s: HostSession, path: string): Promise<T | undefined> {
  const r = await s.exec(['cat', path], { timeoutMs: 30_000 });
  if (r.code !== 0) return undefined;
  try {
    return JSON.parse(r.stdout) as T;
  } catch {
    return undefined;
  }
}

async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 120_000): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await sleep(500);
  }
}

export function zooPlan(kind: ZooKind, ifs: { sourceInterface: string; targetInterface: string }, over: Partial<MigrationPlan> = {}): MigrationPlan {
  const networked = kind !== 'tree';
  return newPlan({
    source: 'lab-source',
    target: 'lab-target',
    pid: ZOO_PIDS[kind],
    targetAddress: '10.0.0.2',
    mode: 'precopy',
    auto: true,
    tcpEstablished: networked,
    policy: { downtimeBudgetMs: 3000, maxIterations: 3, growthThreshold: 0.1, minPages: 64, onNotConverging: 'cutover' },
    ...(networked ? { serviceAddress: { address: SERVICE_ADDRESS, ...ifs } } : {}),
    ...over,
  });
}

async function migrate(h: ZooHosts, plan: MigrationPlan): Promise<{ result: MigrationResult; events: EngineEvent[] }> {
  const events: EngineEvent[] = [];
  const service = new MigrationService((a) => h.session(a as 'lab-source'), (e) => events.push(e), h.env);
  const result = await service.start(plan).done;
  return { result, events };
}

const base = (kind: ZooKind, r: MigrationResult, events: EngineEvent[]) => ({
  kind,
  outcome: r.outcome,
  why: r.outcome === 'committed' ? undefined : r.error?.message,
  predictedMs: r.predictedMs,
  freezeMs: r.freezeWindowMs,
  events,
});

/** Redis on the source, a RESP client in the namespace writing over one connection through the migration. */
export async function redisCase(h: ZooHosts, ifs: { sourceInterface: string; targetInterface: string }): Promise<ZooResult> {
  const src = h.session('lab-source');
  const tgt = h.session('lab-target');
  const pid = ZOO_PIDS.redis;
  await sh(src, START, String(pid), `${ZOO_DIR}/redis.out`, 'redis-server', '--bind', SERVICE_IP, '--port', '6379', '--save', '', '--appendonly', 'no', '--protected-mode', 'no', '--daemonize', 'no', '--logfile', '');
  await writeFile(tgt, `${ZOO_DIR}/redis-client.py`, REDIS_CLIENT);
  const out = `${ZOO_DIR}/redis-client.json`;
  const stop = `${ZOO_DIR}/redis-client.stop`;
  await sh(tgt, 'setsid ip netns exec client python3 "$1" "$2" 6379 "$3" "$4" </dev/null >"$3.log" 2>&1 &', `${ZOO_DIR}/redis-client.py`, SERVICE_IP, out, stop);
  type P = { done: boolean; acked: number; port: number; portAfter?: number; missing?: number; gapMs: number; error?: string | null };
  const before = await waitFor('the redis client to write', async () => {
    const p = await readJson<P>(tgt, out);
    return p && p.acked >= 100 ? p : undefined;
  });
  const { result, events } = await migrate(h, zooPlan('redis', ifs));
  // Right after the cutover, before any of the client's own timers could re-resolve it: where the
  // client sends to the service address now (only the announcement can have changed it).
  const serviceNeighbor = (await tgt.exec(['ip', '-n', 'client', 'neigh', 'show', SERVICE_IP], { timeoutMs: 30_000 })).stdout.trim();
  // The same connection goes on writing, to the target now (or to the source after a rollback).
  const after = await waitFor('the redis client to write after the migration', async () => {
    const p = await readJson<P>(tgt, out);
    return p && (p.done || p.acked >= before.acked + 200) ? p : undefined;
  }, 180_000).catch(() => undefined);
  // The restored server side of the client's connection, seen on the target while the client still holds it.
  const est = (await tgt.exec(['ss', '-Htn', 'state', 'established', 'dst', `${CLIENT_IP}:${before.port}`], { timeoutMs: 30_000 })).stdout.trim();
  await sh(tgt, 'touch "$1"', stop);
  const end = await waitFor('the redis client summary', async () => {
    const p = await readJson<P>(tgt, out);
    return p?.done ? p : undefined;
  });
  const kept = !end.error && end.portAfter === end.port && end.port === before.port;
  return {
    ...base('redis', result, events),
    clientGapMs: end.gapMs,
    connectionKept: kept,
    dataVerified: !end.error && end.missing === 0 && end.acked > before.acked,
    serviceNeighbor,
    detail: `acked ${end.acked} (${before.acked} before the migration, ${after?.acked ?? '?'} soon after), missing ${end.missing}, local port ${before.port} -> ${end.portAfter}, error ${end.error ?? 'none'}; on the target: ${est || 'no such connection'}`,
  };
}

/** nginx (one process) on the source, keep-alive HTTP clients in the namespace. */
export async function httpCase(h: ZooHosts, ifs: { sourceInterface: string; targetInterface: string }, clients = 2): Promise<ZooResult> {
  const src = h.session('lab-source');
  const tgt = h.session('lab-target');
  const pid = ZOO_PIDS.http;
  const conf = `${ZOO_DIR}/nginx.conf`;
  await writeFile(src, conf, NGINX_CONF);
  await sh(src, START, String(pid), `${ZOO_DIR}/nginx.out`, 'nginx', '-c', conf);
  await writeFile(tgt, `${ZOO_DIR}/http-client.py`, HTTP_CLIENT);
  const out = `${ZOO_DIR}/http-client.json`;
  const stop = `${ZOO_DIR}/http-client.stop`;
  await sh(tgt, 'setsid ip netns exec client python3 "$1" "$2" 8080 "$3" "$4" "$5" </dev/null >"$3.log" 2>&1 &', `${ZOO_DIR}/http-client.py`, SERVICE_IP, out, stop, String(clients));
  type C = { ok: number; bad: number; ports: number[]; gapMs: number; error: string | null };
  type P = { done: boolean; clients: C[] };
  const sum = (p: P) => p.clients.reduce((s, c) => s + c.ok, 0);
  const before = await waitFor('the HTTP clients to get answers', async () => {
    const p = await readJson<P>(tgt, out);
    return p && p.clients.every((c) => c.ok >= 20) ? p : undefined;
  });
  const { result, events } = await migrate(h, zooPlan('http', ifs));
  await waitFor('the HTTP clients to get answers after the migration', async () => {
    const p = await readJson<P>(tgt, out);
    return p && (p.done || p.clients.every((c, i) => c.ok >= before.clients[i]!.ok + 50)) ? p : undefined;
  }, 180_000).catch(() => undefined);
  await sh(tgt, 'touch "$1"', stop);
  const end = await waitFor('the HTTP clients summary', async () => {
    const p = await readJson<P>(tgt, out);
    return p?.done ? p : undefined;
  });
  const kept = end.clients.every((c) => !c.error && c.ports.length === 1);
  return {
    ...base('http', result, events),
    clientGapMs: Math.max(...end.clients.map((c) => c.gapMs)),
    connectionKept: kept,
    dataVerified: end.clients.every((c, i) => c.bad === 0 && !c.error && c.ok > before.clients[i]!.ok),
    detail: `answers ${sum(before)} before, ${sum(end)} in all; per client: ${end.clients.map((c) => `ok ${c.ok} bad ${c.bad} ports ${c.ports.join('->')} error ${c.error ?? 'none'}`).join('; ')}`,
  };
}

/** The python3 tree (parent + 2 children, shared memory, pipes): no network, its own check. */
export async function treeCase(h: ZooHosts, ifs: { sourceInterface: string; targetInterface: string }, over: Partial<MigrationPlan> = {}): Promise<ZooResult> {
  const src = h.session('lab-source');
  const tgt = h.session('lab-target');
  const pid = ZOO_PIDS.tree;
  const prog = `${ZOO_DIR}/tree.py`;
  const status = `${ZOO_DIR}/tree.status`;
  await writeFile(src, prog, TREE);
  await writeFile(tgt, prog, TREE); // the executable's script: the same file on both hosts
  await sh(src, START, String(pid), `${ZOO_DIR}/tree.out`, 'python3', prog, status);
  const line = async (s: HostSession) => {
    const r = await s.exec(['tail', '-n', '1', status], { timeoutMs: 30_000 });
    const m = /host=(\S+) pid=(\d+) rounds=(\d+) bad=(\d+) childbad=(\d+),(\d+) gapMs=(\d+)/.exec(r.stdout);
    return m ? { host: m[1]!, rounds: Number(m[3]), bad: Number(m[4]) + Number(m[5]) + Number(m[6]), gapMs: Number(m[7]), raw: r.stdout.trim() } : undefined;
  };
  const before = await waitFor('the tree to run', async () => {
    const l = await line(src);
    return l && l.rounds > 50 ? l : undefined;
  });
  // One pre-dump: the shared region is written whole by the final dump anyway (never pre-dumped).
  const policy = { downtimeBudgetMs: 3000, maxIterations: 1, growthThreshold: 0.1, minPages: 64, onNotConverging: 'cutover' as const };
  const { result, events } = await migrate(h, zooPlan('tree', ifs, { fileSync: [status], policy, ...over }));
  const where = result.outcome === 'committed' ? tgt : src;
  const after = await waitFor('the tree to run on after the migration', async () => {
    const l = await line(where);
    return l && l.rounds > before.rounds + 100 ? l : undefined;
  }, 120_000).catch(() => undefined);
  return {
    ...base('tree', result, events),
    clientGapMs: after?.gapMs,
    dataVerified: !!after && after.bad === 0,
    detail: `before: ${before.raw}; after: ${after?.raw ?? 'no progress'}`,
  };
}

export const ZOO_CASES: Record<ZooKind, (h: ZooHosts, ifs: { sourceInterface: string; targetInterface: string }) => Promise<ZooResult>> = {
  redis: redisCase,
  http: httpCase,
  tree: treeCase,
};

const ms = (n?: number) => (n === undefined ? '-' : `${Math.round(n)} ms`);
const yes = (b?: boolean) => (b === undefined ? 'n/a' : b ? 'yes' : 'NO');

/** One row per zoo migration, as bench:services prints it (the lab suite prints it too). */
export function zooTable(rows: ZooResult[]): string {
  return table(
    ['workload', 'outcome', 'freeze predicted', 'freeze measured', 'client-side longest gap', 'connection kept', 'data verified'],
    rows.map((r) => [
      r.kind,
      r.outcome === 'committed' ? 'committed' : `${r.outcome === 'failed' && r.freezeMs === undefined ? 'refused' : r.outcome}: ${r.why ?? '?'}`,
      ms(r.predictedMs),
      ms(r.freezeMs),
      ms(r.clientGapMs),
      yes(r.connectionKept),
      yes(r.dataVerified),
    ]),
  );
}

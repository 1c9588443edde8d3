// Restore memory cliff
import { restoreMemoryCheck } from '../../../shared/restore-cost.ts';
import { failCheck as fail, passCheck as pass, planUsesTls, warnCheck as warn, type CheckResult, type MigrationPlan, type PreflightReport, type ProcessDetail, type ProcessInfo } from '../../../shared/domain.ts';
import { compareVersions, cpuinfoCheck, cpuinfoDump, criuCheck, criuVersion, parseCriuCheck, parseCriuVersion, parseFeatureCheckDetailed } from '../../criu/index.ts';
import { openFilesArgv, parseOpenFiles, parsePs, processTree, psArgv } from './ps.ts';
import type { CommandRunner, Privilege } from '../commands/runner.ts';
import { inventoryArgv, parseInventory, parseTargetStat, targetStatArgv, type Inventory } from './inventory.ts';
import type { TreeShape } from '../../../shared/estimate.ts';
import { judgeInventory, pathsToCheck, type NetworkLock } from './inventory-policy.ts';
import { pythonMissing } from '../dirty/dirty-sampler.ts';
import type { OpenFile } from '../../../shared/domain.ts';
import { addressFix, suggestTargetAddress } from './addresses.ts';
import { budgetCheck } from './budget.ts';
import type { CutoverCosts } from '../../../shared/estimate.ts';
import { serviceAddressChecks } from '../migration/service-address.ts';
import { bandwidthCapChecks } from '../migration/bandwidth-cap.ts';
import { parseServiceAddress } from '../../../shared/service-address.ts';

/** What preflight learned that the migration itself needs. */
export interface PreflightFacts {
  report: PreflightReport;
  privilege: Record<string, Privilege>;
  process?: ProcessDetail;
  /** Regular files the process holds open that are missing or differ on the target. */
  filesToSync: string[];
  /** Post-copy: the source's address on the route to the target (where the lazy dump serves pages). */
  sourceAddress?: string;
  /** The network lock both hosts can run, when the tree has TCP connections to carry. */
  networkLock?: NetworkLock;
  /** Tree shape (inventory): processes, sockets, shared memory, for the freeze estimate. */
  treeShape?: TreeShape;
}

const PAGE = 4096;

/**
 * The features a mode needs from `criu check --feature`, per host. Post-copy needs
 * userfaultfd with non-cooperative events where the lazy-pages daemon runs: the target.
 */
export function featuresFor(mode: MigrationPlan['mode'], role: 'source' | 'target' = 'source'): string[] {
  if (mode === 'precopy') return ['mem_dirty_track'];
  if (mode === 'postcopy') return role === 'target' ? ['uffd-noncoop'] : [];
  return [];
}

const FEATURE_FIX: Record<string, string> = {
  mem_dirty_track: 'Use cold mode, or a kernel built with CONFIG_MEM_SOFT_DIRTY.',
  'uffd-noncoop': 'Post-copy needs userfaultfd with non-cooperative events on the target (Linux 4.11+ built with CONFIG_USERFAULTFD). Use pre-copy or cold mode, or a target kernel that has it.',
};

/** The source's address on the route to the target, from `ip -o route get ADDR` ("... src 10.0.0.1 ..."). */
export function parseRouteSource(stdout: string): string | undefined {
  return /\bsrc\s+(\S+)/.exec(stdout)?.[1];
}

/** `stat -c '%s %n'` for each path; a missing file prints nothing for it. */
export function statArgv(paths: string[]): string[] {
  return ['sh', '-c', 'for f in "$@"; do [ -f "$f" ] && stat -c "%s %n" -- "$f"; done; exit 0', 'ferry-stat', ...paths];
}

export function parseStat(stdout: string): Map<string, number> {
  const sizes = new Map<string, number>();
  for (const line of stdout.split('\n')) {
    const m = /^(\d+) (.+)$/.exec(line);
    if (m) sizes.set(m[2]!, Number(m[1]));
  }
  return sizes;
}

/** MemAvailable in KiB from /proc/meminfo. */
export function parseMemAvailable(meminfo: string): number | undefined {
  const m = /^MemAvailable:\s+(\d+) kB/m.exec(meminfo);
  return m ? Number(m[1]) : undefined;
}

/** Available KiB from `df -Pk DIR` (POSIX format). */
export function parseDfAvailable(df: string): number | undefined {
  const line = df.trim().split('\n')[1];
  const cols = line?.trim().split(/\s+/);
  return cols && cols[3] ? Number(cols[3]) : undefined;
}

/**
 * Every check a migration needs before anything is dumped. Nothing here changes either
 * host, except a scratch directory for the CPU comparison and a short-lived page server
 * on the target to prove the source can reach its port.
 */
export async function runPreflight(
  plan: MigrationPlan,
  run: CommandRunner,
  opts: { scratchDir: string; setPrivilege(host: string, p: Privilege): void; costs?: CutoverCosts },
): Promise<PreflightFacts> {
  const checks: CheckResult[] = [];
  const privilege: Record<string, Privilege> = {};
  const { source, target } = plan;

  // 1. Privilege: CRIU 3.17 needs root; sudo must not ask for a password.
  for (const host of [source, target]) {
    const id = await run.run(host, ['id', '-u']);
    if (id.stdout.trim() === '0') {
      privilege[host] = 'root';
      checks.push(pass('privilege', host, 'Root access', 'logged in as root'));
      continue;
    }
    opts.setPrivilege(host, 'sudo');
    const probe = await run.run(host, ['true']).catch((e: Error) => ({ code: 1, stderr: e.message }));
    if (probe.code === 0) {
      privilege[host] = 'sudo';
      checks.push(pass('privilege', host, 'Root access', 'passwordless sudo works'));
    } else {
      checks.push(fail('privilege', host, 'Root access', `not root, and sudo -n failed: ${probe.stderr.trim()}`, 'Log in as root, or give this user passwordless sudo for criu (NOPASSWD in sudoers).'));
    }
  }
  for (const [h, p] of Object.entries(privilege)) opts.setPrivilege(h, p);
  if (checks.some((c) => c.status === 'fail')) return done(checks, privilege);

  // 2. criu present on both; the target's not older than the source's.
  const versions: Record<string, string | undefined> = {};
  for (const host of [source, target]) {
    const r = await run.run(host, criuVersion({ criu: 'criu' }));
    if (r.code !== 0) {
      checks.push(fail('criu-present', host, 'CRIU installed', `criu --version failed: ${(r.stderr || r.stdout).trim() || `exit ${r.code}`}`, 'Install CRIU on this host (Debian/Ubuntu: apt-get install criu).'));
      continue;
    }
    versions[host] = parseCriuVersion(r.stdout).version;
    checks.push(pass('criu-present', host, 'CRIU installed', `criu ${versions[host]}`));
  }
  const sv = versions[source];
  const tv = versions[target];
  if (sv && tv) {
    if (compareVersions(tv, sv) < 0) {
      checks.push(fail('criu-version', target, 'CRIU version on target', `target has ${tv}, older than the source's ${sv}`, 'Upgrade CRIU on the target to at least the source version.'));
    } else {
      checks.push(pass('criu-version', target, 'CRIU version on target', `${tv} >= source ${sv}`));
    }
  }
  if (!sv || !tv) return done(checks, privilege);
  checks.push(...(await checkTls(plan, run)));

  // 3. criu check and the features this mode needs; 4. kernels.
  const kernels: Record<string, string> = {};
  for (const host of [source, target]) {
    const r = await run.run(host, criuCheck(), { timeoutMs: 120_000 });
    const c = parseCriuCheck(r.stdout, r.stderr, r.code ?? -1);
    checks.push(
      c.ok
        ? pass('criu-check', host, 'criu check', 'Looks good.')
        : fail('criu-check', host, 'criu check', c.errors[0] ?? `criu check said ${c.verdict} (exit ${r.code})`, 'Run `criu check` on the host and fix what it reports (kernel config, permissions).'),
    );
    for (const feature of featuresFor(plan.mode, host === source ? 'source' : 'target')) {
      const f = await run.run(host, criuCheck({ feature }), { timeoutMs: 60_000 });
      const res = parseFeatureCheckDetailed(`${f.stdout}\n${f.stderr}`, f.code ?? -1, feature);
      checks.push(
        res.status === 'supported'
          ? pass(`feature-${feature}`, host, `Kernel feature ${feature}`, 'supported')
          : fail(`feature-${feature}`, host, `Kernel feature ${feature}`, res.evidence ?? res.status, FEATURE_FIX[feature] ?? 'Use a kernel with this feature.'),
      );
    }
    kernels[host] = (await run.run(host, ['uname', '-r'])).stdout.trim();
  }
  checks.push(
    kernels[source] === kernels[target]
      ? pass('kernel', undefined, 'Kernel versions', `both run ${kernels[source]}`)
      : warn('kernel', undefined, 'Kernel versions', `source ${kernels[source]}, target ${kernels[target]}`, 'Different kernels usually work, but rehearse this pair first.'),
  );

  // CPU compatibility: dump the source's CPU features, check them on the target.
  const scratch = opts.scratchDir;
  await run.run(source, ['mkdir', '-p', '--', scratch], { check: true, what: 'creating the scratch directory' });
  await run.run(target, ['mkdir', '-p', '--', scratch], { check: true, what: 'creating the scratch directory' });
  const cpuDump = await run.run(source, cpuinfoDump({ dir: scratch }));
  if (cpuDump.code === 0) {
    // A pipe, not stdin from the console: the runbook can replay it as it ran.
    const img = `${scratch}/cpuinfo.img`;
    await run.pipe(source, ['cat', '--', img], target, ['sh', '-c', 'cat > "$1"', 'ferry-write', img], { what: 'copying cpuinfo.img' });
    const cpuCheck = await run.run(target, cpuinfoCheck({ dir: scratch }));
    checks.push(
      cpuCheck.code === 0
        ? pass('cpu', target, 'CPU compatibility', "the target's CPU has every feature the source's has")
        : fail('cpu', target, 'CPU compatibility', (cpuCheck.stderr || cpuCheck.stdout).trim().split('\n').pop() ?? 'criu cpuinfo check failed', 'Migrate to a host with the same or a newer CPU model; a restore onto a CPU lacking a used feature can crash later with SIGILL.'),
    );
  } else {
    checks.push(warn('cpu', source, 'CPU compatibility', 'criu cpuinfo dump failed; CPUs not compared', 'Compare CPU models by hand (lscpu) before cutting over.'));
  }
  await run.run(source, ['rm', '-rf', '--', scratch]);
  await run.run(target, ['rm', '-rf', '--', scratch]);

  // 5-6. The process: exists, dumpable, its tree and memory.
  const [srcPs, tgtPs] = await Promise.all([run.run(source, psArgv), run.run(target, psArgv)]);
  const all = parsePs(srcPs.stdout);
  const tree = processTree(all, plan.pid);
  const top = tree[0];
  if (!top) {
    checks.push(fail('process', source, `Process ${plan.pid}`, `no process with PID ${plan.pid} runs on ${source}`, 'Check the PID (ferry processes list); the process may have exited.'));
    return done(checks, privilege);
  }
  const rssKiB = tree.reduce((s, p) => s + p.rssKiB, 0);
  const sessionLeader = top.sid === top.pid;
  checks.push(pass('process', source, `Process ${plan.pid}`, `${top.command} — ${tree.length} process(es), ${Math.round(rssKiB / 1024)} MiB resident`));
  if (!sessionLeader && !plan.shellJob) {
    checks.push(fail('session-leader', source, 'Session leader', `PID ${plan.pid} is not a session leader (its session is ${top.sid})`, 'Start the process with setsid, or migrate it as a shell job (--shell-job).'));
  } else {
    checks.push(pass('session-leader', source, 'Session leader', sessionLeader ? 'yes' : 'no, migrating as a shell job'));
  }
  if (/^[T]/.test(top.state)) {
    checks.push(warn('stopped', source, 'Process state', `PID ${plan.pid} is stopped (${top.state}); a leftover frozen tree from an earlier migration?`, 'Check `ferry journal list` for an unfinished migration.'));
  }

  // 7. Every PID of the tree must be free on the target.
  const targetPids = new Set(parsePs(tgtPs.stdout).map((p: ProcessInfo) => p.pid));
  const taken = tree.filter((p) => targetPids.has(p.pid)).map((p) => p.pid);
  checks.push(
    taken.length
      ? fail('pids-free', target, 'PIDs free on target', `PID ${taken.join(', ')} already in use on ${target}`, 'Stop what uses those PIDs on the target, or run the workload in its own PID namespace.')
      : pass('pids-free', target, 'PIDs free on target', `all ${tree.length} PID(s) free`),
  );

  // 8. The tree's inventory: one read on the source, one stat on the target, judged
  // for what CRIU would trip on. Without python3 on the source, the older open-files check.
  const inventory = await inventoryChecks(plan, run, tree.map((p) => p.pid));
  checks.push(...inventory.checks);
  const { filesToSync, openFiles, networkLock } = inventory;
  const treeShape = inventory.tree; // tree shape: the estimate's per-process, per-socket, shared-memory terms

  // 9. Room on the target: memory for the restored tree, disk for the images.
  const mem = parseMemAvailable((await run.run(target, ['cat', '/proc/meminfo'])).stdout);
  if (mem !== undefined) {
    checks.push(
      mem > rssKiB * 1.2
        ? pass('target-memory', target, 'Free memory on target', `${Math.round(mem / 1024)} MiB available for ${Math.round(rssKiB / 1024)} MiB`)
        : fail('target-memory', target, 'Free memory on target', `${Math.round(mem / 1024)} MiB available, the tree needs ${Math.round(rssKiB / 1024)} MiB`, 'Free memory on the target or pick a bigger host.'),
    );
  }
  // Restore memory cliff: images and the restored tree together against MemAvailable.
  if (mem !== undefined) {
    const c = restoreMemoryCheck(mem * 1024, rssKiB * 1024);
    if (c.status === 'pass') checks.push(pass('restore-memory', target, 'Restore fits in memory', c.detail));
    else if (c.status === 'warn')
      checks.push(
        warn('restore-memory', target, 'Restore fits in memory', c.detail, 'Expect a restore several times slower (the estimate counts it); free memory on the target or pick a bigger host to keep the freeze short.'),
      );
    // 'fail' (the tree alone does not fit) is the target-memory check's blocker above.
  }
  await run.run(target, ['mkdir', '-p', '--', plan.workDir]);
  const disk = parseDfAvailable((await run.run(target, ['df', '-Pk', '--', plan.workDir])).stdout);
  if (disk !== undefined) {
    const needKiB = Math.ceil((rssKiB * 1.5 * 1024) / PAGE) * (PAGE / 1024);
    checks.push(
      disk > needKiB
        ? pass('target-disk', target, 'Free disk on target', `${Math.round(disk / 1024)} MiB free in ${plan.workDir}`)
        : fail('target-disk', target, 'Free disk on target', `${Math.round(disk / 1024)} MiB free in ${plan.workDir}, images need about ${Math.round(needKiB / 1024)} MiB`, 'Free space on the target or choose another work directory.'),
    );
  }

  // Budgets under emulation: a budget below the cutover's fixed costs can never fit.
  const budget = budgetCheck(plan, opts.costs);
  if (budget) checks.push(budget);

  // 10. The page server port: free on the target and reachable from the source.
  // Pre-copy: the target's page server takes pages from the source. Post-copy: the source's
  // lazy dump serves pages and the target's lazy-pages daemon connects to it.
  if (plan.mode === 'precopy') checks.push(await checkPageServerPort(plan, run));
  let sourceAddress: string | undefined;
  if (plan.mode === 'postcopy') {
    const route = await run.run(source, ['ip', '-o', 'route', 'get', plan.targetAddress]);
    sourceAddress = parseRouteSource(route.stdout);
    checks.push(
      sourceAddress
        ? await checkPageServerPort(plan, run, { listen: source, connect: target, address: sourceAddress, title: 'Lazy pages port' })
        : fail('lazy-pages-port', source, 'Lazy pages port', `${source} has no route to ${plan.targetAddress}: ${(route.stderr || route.stdout).trim() || `exit ${route.code}`}`, 'Check --target-address: the source must reach the target there, and the target the source back.'),
    );
  }

  // --- cutover guards: python3 on both hosts, their port free on the target (post-copy too: post-copy guard).
  checks.push(...(await guardChecks(plan, run)));

  // --- service address: on the source, free on the target, interfaces exist.
  checks.push(...(await serviceAddressChecks(plan, run)));
  // --- bandwidth cap: tc on the source, the interface toward the target, its root qdisc.
  checks.push(...(await bandwidthCapChecks(plan, run)));

  return { ...done(checks, privilege, { ...top, tree, openFiles, sessionLeader }, filesToSync), sourceAddress, networkLock, ...(treeShape ? { treeShape } : {}) };
}

// --- cutover guards ---
/** The guards (migration/guard/guard.py) need python3 3.6+ on both hosts and port+1 free on the target. */
export async function guardChecks(plan: MigrationPlan, run: CommandRunner): Promise<CheckResult[]> {
  const out: CheckResult[] = [];
  const title = 'python3 for the cutover guard';
  for (const host of [plan.source, plan.target]) {
    const r = await run.run(host, ['python3', '-c', 'import sys; print("%d.%d" % sys.version_info[:2]); sys.exit(0 if sys.version_info >= (3, 6) else 1)'], { quiet: true });
    const version = r.stdout.trim();
    if (r.code === 0) out.push(pass('guard-python', host, title, `python3 ${version}`));
    else {
      out.push(
        fail(
          'guard-python',
          host,
          title,
          r.code === 1 && version ? `python3 ${version} is older than 3.6` : `python3 is not installed (${(r.stderr || '').trim().split('\n').pop() || `exit ${r.code ?? r.signal}`})`,
          `Install python3 3.6 or newer on ${host} (Debian/Ubuntu: apt-get install python3-minimal; RHEL/Fedora: dnf install python3): from the final dump to commit a guard runs on each host so the process runs again if the console is lost.`,
        ),
      );
    }
  }
  const port = plan.pageServerPort + 1;
  const listening = await run.run(plan.target, ['ss', '-Htln', `sport = :${port}`], { quiet: true });
  if (listening.code === 0 && listening.stdout.trim()) {
    out.push(fail('guard-port', plan.target, 'Cutover guard port', `port ${port} (the page server's + 1) is in use on ${plan.target}: ${listening.stdout.trim().split('\n')[0]}`, 'A guard left by an earlier migration (`ferry journal recover` ends it), or choose another page server port.'));
  } else {
    out.push(pass('guard-port', plan.target, 'Cutover guard port', `port ${port} is free on ${plan.target}`));
  }
  return out;
}
// --- end cutover guards ---

async function checkPageServerPort(
  plan: MigrationPlan,
  run: CommandRunner,
  // Who listens, who connects, to which address: pre-copy's page server by default.
  way: { listen: string; connect: string; address: string; title: string } = { listen: plan.target, connect: plan.source, address: plan.targetAddress, title: 'Page server port' },
): Promise<CheckResult> {
  const { pageServerPort: port } = plan;
  const { listen: target, connect: source, address: targetAddress, title } = way;
  const id = title === 'Page server port' ? 'page-server-port' : 'lazy-pages-port';
  const listening = await run.run(target, ['ss', '-Htln', `sport = :${port}`]);
  if (listening.code === 0 && listening.stdout.trim()) {
    return fail(id, target, title, `port ${port} is already in use on ${target}: ${listening.stdout.trim().split('\n')[0]}`, 'A leftover page server? Stop it, or choose another port.');
  }
  // A throwaway listener on the target; the source connects to it over the migration link.
  const probe = ['timeout', '20', 'python3', '-c', 'import socket,sys;s=socket.socket(socket.AF_INET6 if ":" in sys.argv[1] else socket.AF_INET);s.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEADDR,1);s.bind(("",int(sys.argv[2])));s.listen(1);print("listening",flush=True);c,_=s.accept();c.close()', targetAddress, String(port)];
  const listener = run.run(target, probe);
  // Give the listener a moment to bind; the connect below retries for a few seconds anyway.
  // bash's /dev/tcp: no netcat needed on the source. $0 and $1 are the address and port.
  const connect = await run.run(source, [
    'timeout', '15', 'bash', '-c',
    'for i in $(seq 20); do if (exec 3<>"/dev/tcp/$0/$1") 2>/dev/null; then exit 0; fi; sleep 0.5; done; exit 1',
    targetAddress, String(port),
  ]);
  const l = await listener;
  if (connect.code === 0 && l.code === 0) return pass(id, target, title, `${source} reaches ${targetAddress}:${port}`);
  // Migration addresses: name the address to use (the source's route, the target's addresses).
  const fix = id === 'page-server-port' ? addressFix(plan, await suggestTargetAddress(plan, run), port) : `Check the address the source uses for the target (--target-address) and any firewall between them on TCP ${port}.`;
  return fail(id, target, title, `${source} cannot reach ${targetAddress}:${port}${l.code !== 0 ? ` (listener on ${target}: ${(l.stderr || '').trim().split('\n').pop() || `exit ${l.code}`})` : ''}`, fix);
}

// --- TLS for page streams ---
/**
 * CRIU lists --tls-cacert in `criu --help` only when built with GnuTLS (crtools.c,
 * #ifdef CONFIG_GNUTLS); a build without it refuses --tls ("CRIU was built without TLS support").
 */
export const CRIU_TLS_PROBE = ['sh', '-c', 'criu --help 2>&1 | grep -q -e "--tls-cacert"', 'ferry-criu-tls'];

export async function checkTls(plan: MigrationPlan, run: CommandRunner): Promise<CheckResult[]> {
  if (!planUsesTls(plan)) {
    return [
      warn(
        'tls',
        undefined,
        'TLS for page streams',
        `off (tls: false): the process's memory crosses the network from ${plan.source} to ${plan.target} in clear, and whatever reaches port ${plan.pageServerPort} first can feed the target pages`,
        'Leave TLS on unless every host on the migration network is trusted (remove tls: false, or drop --no-tls).',
      ),
    ];
  }
  const out: CheckResult[] = [];
  for (const host of [plan.source, plan.target]) {
    const r = await run.run(host, CRIU_TLS_PROBE, { quiet: true });
    out.push(
      r.code === 0
        ? pass('tls', host, 'CRIU with TLS', 'criu is built with GnuTLS (--tls): page streams will be encrypted and both hosts authenticated')
        : fail(
            'tls',
            host,
            'CRIU with TLS',
            `this criu has no TLS support (criu --help lists no --tls-cacert)`,
            'Install a CRIU built with GnuTLS (Debian/Ubuntu: apt-get install criu; the distribution package has it), or set tls: false (--no-tls) on a network you trust.',
          ),
    );
  }
  return out;
}
// --- end TLS ---

function done(checks: CheckResult[], privilege: Record<string, Privilege>, process?: ProcessDetail, filesToSync: string[] = []): PreflightFacts {
  return { report: { checks, blockers: checks.filter((c) => c.status === 'fail').length }, privilege, process, filesToSync };
}

/** The fds of the inventory in the shape the process detail shows. */
export function openFilesOf(inv: Inventory): OpenFile[] {
  return inv.procs.flatMap((p) =>
    p.fds.map((f): OpenFile => {
      const t = f.target;
      const kind: OpenFile['kind'] = f.stat?.type === 'file' ? 'regular' : t.startsWith('socket:') ? 'socket' : t.startsWith('pipe:') ? 'pipe' : t.startsWith('anon_inode:') ? 'anon' : t.startsWith('/dev/') ? 'device' : 'other';
      return { pid: p.pid, fd: f.fd, path: t, kind, ...(f.stat?.type === 'file' ? { size: f.stat.size } : {}) };
    }),
  );
}

/**
 * Step 8: the inventory and its check on the target, one round trip each. When the source
 * has no python3 (or the program fails), the older open-files check runs instead and a
 * warning says what was not checked.
 */
export async function inventoryChecks(plan: MigrationPlan, run: CommandRunner, pids: number[]): Promise<{ checks: CheckResult[]; filesToSync: string[]; openFiles: OpenFile[]; networkLock?: NetworkLock; tree?: TreeShape }> {
  const { source, target } = plan;
  const r = await run.run(source, inventoryArgv(plan.pid), { quiet: true, timeoutMs: 60_000 });
  let inv: Inventory | undefined;
  let why = '';
  if (r.code === 0) {
    try {
      inv = parseInventory(r.stdout);
    } catch (e) {
      why = e instanceof Error ? e.message : String(e);
    }
  } else why = pythonMissing(r) ? 'python3 is not installed there' : `the inventory program exited with ${r.code ?? `signal ${r.signal}`}: ${(r.stderr || '').trim().split('\n').pop() ?? ''}`;
  if (inv && !inv.missing) {
    const t = await run.run(target, targetStatArgv(pathsToCheck(inv)), { quiet: true, timeoutMs: 60_000 });
    try {
      if (t.code !== 0) throw new Error(pythonMissing(t) ? 'python3 is not installed there' : `exit ${t.code ?? `signal ${t.signal}`}: ${(t.stderr || '').trim().split('\n').pop() ?? ''}`);
      const judged = judgeInventory({ plan, inv, tgt: parseTargetStat(t.stdout), movedAddresses: movedAddresses(plan) });
      return { ...judged, openFiles: openFilesOf(inv) };
    } catch (e) {
      why = `the check on ${target} failed (${e instanceof Error ? e.message : String(e)})`;
    }
  }
  const old = await legacyOpenFiles(plan, run, pids);
  return { ...old, checks: [warn('inventory', source, 'Process inventory', `not read: ${why || 'the process exited'}; sockets, SysV IPC, sessions, locks and special files were not checked`, 'Install python3 on both hosts so preflight can see what CRIU will need.'), ...old.checks] };
}

/** The open-files check before the inventory: regular files by size only. */
async function legacyOpenFiles(plan: MigrationPlan, run: CommandRunner, pids: number[]): Promise<{ checks: CheckResult[]; filesToSync: string[]; openFiles: OpenFile[] }> {
  const { target } = plan;
  const checks: CheckResult[] = [];
  const fdOut = await run.run(plan.source, openFilesArgv(pids));
  const openFiles = parseOpenFiles(fdOut.stdout);
  const regular = [...new Set(openFiles.filter((f) => f.kind === 'regular' && f.path.startsWith('/') && !/^\/(proc|sys|dev)\//.test(f.path) && !f.path.endsWith(' (deleted)')).map((f) => f.path))];
  const srcSizes = new Map(openFiles.filter((f) => f.kind === 'regular').map((f) => [f.path, f.size ?? -1]));
  const tgtSizes = regular.length ? parseStat((await run.run(target, statArgv(regular))).stdout) : new Map<string, number>();
  const filesToSync: string[] = [];
  const problems: string[] = [];
  for (const path of regular) {
    const t = tgtSizes.get(path);
    if (t === srcSizes.get(path)) continue;
    filesToSync.push(path);
    if (!plan.fileSync.includes(path)) problems.push(t === undefined ? `${path} (missing)` : `${path} (${t} bytes on target, ${srcSizes.get(path)} on source)`);
  }
  if (!regular.length) checks.push(pass('open-files', target, 'Open files on target', 'the process has no regular files open'));
  else if (!filesToSync.length) checks.push(pass('open-files', target, 'Open files on target', `all ${regular.length} open file(s) exist with the same size`));
  else if (!problems.length) checks.push(pass('open-files', target, 'Open files on target', `${filesToSync.length} file(s) differ and are in the file-sync list`));
  else {
    checks.push(
      warn('open-files', target, 'Open files on target', `will be copied at cutover: ${problems.join(', ')}`, 'Ferry copies them from the source during the freeze; pre-stage big files on the target to keep the freeze short.'),
    );
  }

  return { checks, filesToSync, openFiles };
}

/** Addresses Ferry itself moves to the target inside the freeze (the plan's service address). */
export function movedAddresses(plan: Pick<MigrationPlan, 'serviceAddress'>): string[] {
  const ip = plan.serviceAddress && parseServiceAddress(plan.serviceAddress.address)?.ip;
  return ip ? [ip] : [];
}

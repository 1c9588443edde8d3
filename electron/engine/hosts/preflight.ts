import type { CheckResult, MigrationPlan, PreflightReport, ProcessDetail, ProcessInfo } from '../../../shared/domain.ts';
import { compareVersions, cpuinfoCheck, cpuinfoDump, criuCheck, criuVersion, parseCriuCheck, parseCriuVersion, parseFeatureCheckDetailed } from '../../criu/index.ts';
import { openFilesArgv, parseOpenFiles, parsePs, processTree, psArgv } from './ps.ts';
import type { CommandRunner, Privilege } from '../commands/runner.ts';
import { serviceAddressChecks } from '../migration/service-address.ts';

/** What preflight learned that the migration itself needs. */
export interface PreflightFacts {
  report: PreflightReport;
  privilege: Record<string, Privilege>;
  process?: ProcessDetail;
  /** Regular files the process holds open that are missing or differ on the target. */
  filesToSync: string[];
  /** Post-copy: the source's address on the route to the target (where the lazy dump serves pages). */
  sourceAddress?: string;
}

const PAGE = 4096;

const pass = (id: string, host: string | undefined, title: string, detail: string): CheckResult => ({ id, host, title, status: 'pass', detail });
const warn = (id: string, host: string | undefined, title: string, detail: string, fix?: string): CheckResult => ({ id, host, title, status: 'warn', detail, fix });
const fail = (id: string, host: string | undefined, title: string, detail: string, fix: string): CheckResult => ({ id, host, title, status: 'fail', detail, fix });

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
  opts: { scratchDir: string; setPrivilege(host: string, p: Privilege): void },
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

  // 8. Open regular files must exist on the target with the same size (or be synced).
  const fdOut = await run.run(source, openFilesArgv(tree.map((p) => p.pid)));
  const openFiles = parseOpenFiles(fdOut.stdout);
  const regular = [...new Set(openFiles.filter((f) => f.kind === 'regular' && f.path.startsWith('/') && !f.path.endsWith(' (deleted)')).map((f) => f.path))];
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

  // 9. Room on the target: memory for the restored tree, disk for the images.
  const mem = parseMemAvailable((await run.run(target, ['cat', '/proc/meminfo'])).stdout);
  if (mem !== undefined) {
    checks.push(
      mem > rssKiB * 1.2
        ? pass('target-memory', target, 'Free memory on target', `${Math.round(mem / 1024)} MiB available for ${Math.round(rssKiB / 1024)} MiB`)
        : fail('target-memory', target, 'Free memory on target', `${Math.round(mem / 1024)} MiB available, the tree needs ${Math.round(rssKiB / 1024)} MiB`, 'Free memory on the target or pick a bigger host.'),
    );
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

  // --- service address (issue 10, part 2): on the source, free on the target, interfaces exist.
  checks.push(...(await serviceAddressChecks(plan, run)));

  return { ...done(checks, privilege, { ...top, tree, openFiles, sessionLeader }, filesToSync), sourceAddress };
}

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
  return fail(id, target, title, `${source} cannot reach ${targetAddress}:${port}${l.code !== 0 ? ` (listener on ${target}: ${(l.stderr || '').trim().split('\n').pop() || `exit ${l.code}`})` : ''}`, `Check the address the source uses for the target (--target-address) and any firewall between them on TCP ${port}.`);
}

function done(checks: CheckResult[], privilege: Record<string, Privilege>, process?: ProcessDetail, filesToSync: string[] = []): PreflightFacts {
  return { report: { checks, blockers: checks.filter((c) => c.status === 'fail').length }, privilege, process, filesToSync };
}

/**
 * The rehearsal lab: two local qemu VMs ("source", "target") running Debian bookworm
 * (kernel 6.1) with real CRIU, reachable as the SSH aliases lab-source / lab-target through
 * Ferry's own ssh_config and known_hosts (host keys generated at build time; verification is
 * never disabled). Everything stays on this machine: loopback ports on the host, and a private
 * 10.0.0.0/24 link between the guests (qemu -netdev dgram over loopback UDP).
 *
 * Files the demo workload holds open (its stdout file) and writes (its status file) live under
 * /var/lib/ferry-workload/ on BOTH VMs at the same path: CRIU needs every open file to exist at
 * the same path (and size) on the target, so a migration copies them there before restoring.
 */
import { readFileSync } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { FerryError } from '../../shared/errors.ts';
import { SshHub } from '../ssh/index.ts';
import { detectAccel } from './accel.ts';
import { labPaths, type LabPaths } from './context.ts';
import { buildImage, diskUsage, hostKeyPubFile, IMAGE_FILES, inspectImage, readManifest } from './image.ts';
import { assertPortsFree, type PortUse } from './ports.ts';
import { GUEST_WORKLOAD_BIN, GUEST_WORKLOAD_DIR } from './recipe.ts';
import { writeLabSshFiles, type LabHostEntry } from './sshfiles.ts';
import { BOOT_TOOLS, requireTools } from './tools.ts';
import {
  DEFAULT_PORTS,
  LAB_HOSTS,
  labAlias,
  LINK_ADDR,
  type LabEnvOptions,
  type LabHost,
  type LabPorts,
  type LabStatus,
  type LabUpOptions,
  type LabUpResult,
  type ProgressFn,
  type VmBoot,
  type VmStatus,
  type WorkloadOptions,
  type WorkloadStarted,
  type WorkloadStatusLine,
} from './types.ts';
import { vmReachability } from './reach.ts';
import { dropState, findState, fixResumedGuest, hostCpuId, imageId, qemuVersion, saveState, STATE_FILES, stateKey, waitResumed, type SavedState } from './resume.ts';
import { bootVm, findLabQemus, readBanner, readRunState, runStateFile, stopVm, vmFiles, vmPid, waitForSsh, type LabRunState } from './vm.ts';

export * from './types.ts';
export { labPaths, type LabPaths } from './context.ts';
export { inspectImage, buildImage } from './image.ts';
export { findLabQemus } from './vm.ts';

const envOf = (o?: LabEnvOptions) => o?.env ?? process.env;

const firstLine = (e: unknown) => (e instanceof Error ? e.message : String(e)).split('\n')[0]!;

function readCpuinfo(): string {
  try {
    return readFileSync('/proc/cpuinfo', 'utf8');
  } catch {
    return '';
  }
}

export function resolvePorts(p: LabUpOptions['ports'] = {}): LabPorts {
  const ports: LabPorts = {
    ssh: { ...DEFAULT_PORTS.ssh, ...p?.ssh },
    link: { ...DEFAULT_PORTS.link, ...p?.link },
  };
  const all = [...LAB_HOSTS.map((h) => ports.ssh[h]), ...LAB_HOSTS.map((h) => ports.link[h])];
  for (const n of all) {
    if (!Number.isInteger(n) || n < 1 || n > 65535) throw new FerryError({ code: 'lab-bad-port', message: `Not a port number: ${n}` });
  }
  if (ports.ssh.source === ports.ssh.target || ports.link.source === ports.link.target) {
    throw new FerryError({ code: 'lab-bad-port', message: 'The two VMs need different ports', hint: 'Give two different numbers to --ssh-ports and --link-ports' });
  }
  return ports;
}

function portUses(ports: LabPorts): PortUse[] {
  return [
    ...LAB_HOSTS.map((h) => ({ port: ports.ssh[h], proto: 'tcp' as const, purpose: `SSH forward of ${labAlias(h)}`, option: '--ssh-ports SOURCE,TARGET' })),
    ...LAB_HOSTS.map((h) => ({ port: ports.link[h], proto: 'udp' as const, purpose: `VM-to-VM link of ${h}`, option: '--link-ports SOURCE,TARGET' })),
  ];
}

async function writeTrust(paths: LabPaths, ports: LabPorts): Promise<void> {
  const m = readManifest(paths.imageDir);
  if (!m) throw new FerryError({ code: 'lab-image-incomplete', message: 'The lab image has no manifest', hint: 'Run `ferry lab up` to rebuild it' });
  const hosts: LabHostEntry[] = LAB_HOSTS.map((h) => ({ alias: labAlias(h), port: ports.ssh[h], hostKey: m.hostKeys[h], migrationAddress: LINK_ADDR[h] }));
  await writeLabSshFiles(paths, hosts, paths.clientKey);
}

/** Build the image if needed (or asked), boot both VMs in parallel, wait for SSH, write trust. */
export async function labUp(opts: LabUpOptions = {}, onProgress: ProgressFn = () => {}): Promise<LabUpResult> {
  const t0 = Date.now();
  const env = envOf(opts);
  const paths = labPaths(env);
  const tools = requireTools(BOOT_TOOLS, env);
  const ports = resolvePorts(opts.ports);

  // Already running? Reuse when both answer; a half-up lab is stopped and started clean.
  const state = readRunState(paths.runDir);
  const pids = LAB_HOSTS.map((h) => vmPid(paths.runDir, h));
  if (state && pids.every(Boolean) && !opts.rebuild) {
    const banners = await Promise.all(LAB_HOSTS.map((h) => readBanner(state.ports.ssh[h], 3000)));
    if (banners.every((b) => b.startsWith('SSH-'))) {
      await writeTrust(paths, state.ports);
      const img = inspectImage(paths.imageDir);
      if (img.state !== 'ready') onProgress({ step: 'image', message: `note: ${img.reason ?? img.state}; \`ferry lab down\` then \`ferry lab up\` rebuilds it` });
      onProgress({ step: 'ready', message: `lab already up (${state.accel}); \`ferry lab down\` first for a clean one`, done: true });
      return {
        accel: state.accel,
        ports: state.ports,
        image: inspectImage(paths.imageDir),
        built: false,
        alreadyUp: true,
        timings: { buildMs: 0, bootMs: 0, totalMs: Date.now() - t0, perVm: { source: 0, target: 0 } },
      };
    }
  }
  if (pids.some(Boolean) || findLabQemus(paths.runDir).length > 0) {
    onProgress({ step: 'preflight', message: 'stopping a half-up lab first' });
    await labDown({ env });
  }

  // Image.
  let image = inspectImage(paths.imageDir);
  let buildMs = 0;
  let built = false;
  if (image.state !== 'ready' || opts.rebuild) {
    onProgress({ step: 'image', message: opts.rebuild ? 'rebuilding the image (asked)' : image.state === 'missing' ? 'building the lab image (first time, ~2-3 min)' : `rebuilding the image: ${image.reason}` });
    const b0 = Date.now();
    try {
      await buildImage(paths, { env, mirror: opts.mirror, onProgress, signal: opts.signal });
    } catch (e) {
      if (opts.signal?.aborted) throw new FerryError({ code: 'lab-cancelled', message: 'The image build was cancelled; nothing was kept', hint: 'Run `ferry lab up` again to build it' }, { cause: e });
      throw e;
    }
    buildMs = Date.now() - b0;
    built = true;
    image = inspectImage(paths.imageDir);
    if (image.state !== 'ready') throw new FerryError({ code: 'lab-image-incomplete', message: `The image just built is not usable: ${image.reason}`, hint: 'Run `ferry lab destroy`, then `ferry lab up`' });
    onProgress({ step: 'image', message: `image built in ${(buildMs / 1000).toFixed(0)} s`, done: true, fraction: 1 });
  } else {
    onProgress({ step: 'image', message: `reusing image (kernel ${image.kernel}, built ${image.createdAt})`, done: true, fraction: 1 });
  }

  // Accel and ports.
  const { accel, reason } = detectAccel(opts.accel ?? 'auto');
  onProgress({ step: 'preflight', message: `accel ${accel}: ${reason}` });
  await assertPortsFree(portUses(ports));

  await fs.mkdir(paths.runDir, { recursive: true });
  const memoryMiB = opts.memoryMiB ?? 1024;
  const run: LabRunState = { accel, ports, memoryMiB, startedAt: new Date().toISOString(), imageDir: paths.imageDir };
  await fs.writeFile(runStateFile(paths.runDir), `${JSON.stringify(run, null, 2)}\n`);
  await writeTrust(paths, ports);

  const timeoutMs = opts.sshTimeoutMs ?? (accel === 'kvm' ? 60_000 : 180_000);
  const perVm = { source: 0, target: 0 } as Record<LabHost, number>;
  const boot = {} as Record<LabHost, VmBoot>;
  const b0 = Date.now();
  const waiting = new Set<LabHost>(LAB_HOSTS);
  const heartbeat = setInterval(() => {
    if (waiting.size === 0) return;
    onProgress({ step: 'ssh', message: `waiting for SSH on ${[...waiting].join(' and ')} (${Math.round((Date.now() - b0) / 1000)} s)`, active: true });
  }, 2000);
  const qemu = tools['qemu-system-x86_64'];
  const useStates = (opts.boot ?? 'auto') === 'auto';
  const keyInput = useStates
    ? { accel, memoryMiB, imageId: imageId(paths.imageDir), qemuVersion: await qemuVersion(qemu, env), hostCpu: accel === 'kvm' ? hostCpuId(readCpuinfo()) : undefined }
    : undefined;

  /** Prove trust end to end: Ferry's SSH layer verifies the host key and logs in with the lab key. */
  const verify = async (hub: SshHub, h: LabHost) => {
    const r = await hub.session(labAlias(h)).exec(['hostname'], { timeoutMs: 30_000 });
    if (r.code !== 0 || r.stdout.trim() !== h) {
      throw new FerryError({ code: 'lab-boot-failed', host: labAlias(h), message: `The ${h} VM answered SSH but \`hostname\` said "${r.stdout.trim()}"`, evidence: r.stderr.trim() });
    }
  };
  const coldBoot = async (h: LabHost) => {
    onProgress({ step: 'boot', host: h, message: `booting ${h} cold (${accel}, ssh 127.0.0.1:${ports.ssh[h]})` });
    const pid = await bootVm({ host: h, accel, memoryMiB, paths, ports, qemu, qemuImg: tools['qemu-img'], env });
    onProgress({ step: 'boot', host: h, message: `qemu pid ${pid}; waiting for sshd`, done: true });
    await waitForSsh({ host: h, port: ports.ssh[h], pid, runDir: paths.runDir, timeoutMs, signal: opts.signal });
  };
  const resume = async (h: LabHost, state: SavedState): Promise<number> => {
    onProgress({ step: 'boot', host: h, message: `resuming ${h} from its saved state (saved ${state.meta.savedAt})` });
    const pid = await bootVm({ host: h, accel, memoryMiB, paths, ports, qemu, qemuImg: tools['qemu-img'], env, resume: state });
    await waitResumed({ runDir: paths.runDir, host: h, pid, timeoutMs: 120_000 });
    onProgress({ step: 'boot', host: h, message: `qemu pid ${pid}; state loaded`, done: true });
    await waitForSsh({ host: h, port: ports.ssh[h], pid, runDir: paths.runDir, timeoutMs, signal: opts.signal });
    const hub = new SshHub({ env });
    try {
      await verify(hub, h);
      return (await fixResumedGuest(hub.session(labAlias(h)))).skewMs;
    } finally {
      await hub.closeAll();
    }
  };
  /** On a freshly cold-booted VM: let systemd finish, save the state, and resume from it (which proves it loads). */
  const saveAndResume = async (h: LabHost, key: string): Promise<VmBoot> => {
    const hub = new SshHub({ env });
    let uptime: number | undefined;
    try {
      await verify(hub, h);
      onProgress({ step: 'boot', host: h, message: `${h} answers SSH after ${((Date.now() - b0) / 1000).toFixed(1)} s; letting its boot finish to save its state` });
      // A settled guest: every later resume starts from a quiet VM. "degraded" is settled too.
      await hub.session(labAlias(h)).exec(['systemctl', 'is-system-running', '--wait'], { timeoutMs: 240_000 });
      uptime = Number((await hub.session(labAlias(h)).exec(['cut', '-d', ' ', '-f1', '/proc/uptime'])).stdout.trim()) || undefined;
    } finally {
      await hub.closeAll();
    }
    const state = await saveState({ paths, host: h, memoryMiB, accel, key, qemuVersion: keyInput!.qemuVersion, guestUptimeS: uptime });
    onProgress({ step: 'boot', host: h, message: `saved ${h}'s state in ${(state.meta.saveMs / 1000).toFixed(1)} s (${(state.meta.bytes[STATE_FILES.memory]! / 1024 ** 2).toFixed(0)} MiB); later labs resume from it`, done: true });
    return { how: 'resumed', saved: true, clockSkewMs: await resume(h, state) };
  };
  const bringUp = async (h: LabHost): Promise<VmBoot> => {
    if (!keyInput) {
      await coldBoot(h);
      return { how: 'cold' };
    }
    const key = stateKey({ host: h, ...keyInput });
    const state = findState(paths, h, memoryMiB, key);
    let fallback: string | undefined;
    if (state) {
      try {
        return { how: 'resumed', clockSkewMs: await resume(h, state) };
      } catch (e) {
        if (opts.signal?.aborted) throw e;
        fallback = `resume failed: ${firstLine(e)}`;
        onProgress({ step: 'boot', host: h, message: `${fallback}; booting cold instead` });
        await stopVm(paths.runDir, h);
        // A state qemu cannot load is dropped, so this boot saves a good one.
        if (e instanceof FerryError && e.code === 'lab-resume-failed') await dropState(state);
        else {
          await coldBoot(h);
          return { how: 'cold', fallback };
        }
      }
    }
    await coldBoot(h);
    try {
      return { ...(await saveAndResume(h, key)), fallback };
    } catch (e) {
      if (opts.signal?.aborted) throw e;
      // Saving or resuming the fresh state failed: the lab still comes up, cold, and says why.
      fallback = `${fallback ? `${fallback}; ` : ''}saving the state failed: ${firstLine(e)}`;
      onProgress({ step: 'boot', host: h, message: `${fallback}; booting cold again` });
      await stopVm(paths.runDir, h);
      const again = findState(paths, h, memoryMiB, key);
      if (again) await dropState(again);
      await coldBoot(h);
      return { how: 'cold', fallback };
    }
  };

  try {
    await Promise.all(
      LAB_HOSTS.map(async (h) => {
        boot[h] = await bringUp(h);
        perVm[h] = Date.now() - b0;
        waiting.delete(h);
        const b = boot[h];
        const how = b.how === 'resumed' ? `resumed${b.saved ? ' (state saved by this up)' : ''}, clock set (${b.clockSkewMs} ms off)` : `cold boot${b.fallback ? ` (${b.fallback})` : ''}`;
        onProgress({ step: 'ssh', host: h, message: `${h} answers SSH after ${(perVm[h] / 1000).toFixed(1)} s: ${how}`, done: true });
      }),
    );
    // Prove trust end to end: Ferry's SSH layer verifies the host key and logs in with the lab key.
    const hub = new SshHub({ env });
    try {
      await Promise.all(LAB_HOSTS.map((h) => verify(hub, h)));
    } finally {
      await hub.closeAll();
    }
    onProgress({ step: 'trust', message: `lab-source / lab-target verified by host key (${paths.knownHosts})`, done: true });
  } catch (e) {
    clearInterval(heartbeat);
    await labDown({ env }).catch(() => {});
    if (opts.signal?.aborted) throw new FerryError({ code: 'lab-cancelled', message: 'lab up was cancelled; both VMs were stopped' }, { cause: e });
    throw e;
  }
  clearInterval(heartbeat);
  const bootMs = Date.now() - b0;
  onProgress({ step: 'ready', message: `lab up in ${((Date.now() - t0) / 1000).toFixed(1)} s`, done: true });
  return { accel, ports, image, built, alreadyUp: false, timings: { buildMs, bootMs, totalMs: Date.now() - t0, perVm }, boot };
}

export async function labStatus(opts: LabEnvOptions = {}): Promise<LabStatus> {
  const paths = labPaths(envOf(opts));
  const state = readRunState(paths.runDir);
  const image = inspectImage(paths.imageDir);
  if (image.state !== 'missing') image.diskBytes = await diskUsage(paths.imageDir);
  const vms: VmStatus[] = await Promise.all(
    LAB_HOSTS.map(async (h) => {
      const pid = vmPid(paths.runDir, h);
      const sshPort = state?.ports.ssh[h];
      // Reachable means a connection would work (host key checked), not just a banner.
      const reach = pid !== undefined && sshPort !== undefined ? await vmReachability(labAlias(h), sshPort, envOf(opts)) : { reachable: false };
      return { host: h, alias: labAlias(h), pid, running: pid !== undefined, sshPort, linkPort: state?.ports.link[h], reachable: reach.reachable, problem: reach.problem, serialLog: vmFiles(paths.runDir, h).serialLog };
    }),
  );
  const up = vms.every((v) => v.running);
  return {
    up,
    accel: vms.some((v) => v.running) ? state?.accel : undefined,
    startedAt: vms.some((v) => v.running) ? state?.startedAt : undefined,
    vms,
    image,
    cacheDir: paths.cacheDir,
    runDir: paths.runDir,
    sshConfig: paths.sshConfig,
    knownHosts: paths.knownHosts,
  };
}

/** Stop both VMs (monitor quit, then SIGTERM/SIGKILL) and any stray qemu of this lab. Resolves to the hosts stopped. */
export async function labDown(opts: LabEnvOptions = {}): Promise<LabHost[]> {
  const paths = labPaths(envOf(opts));
  const stopped: LabHost[] = [];
  await Promise.all(
    LAB_HOSTS.map(async (h) => {
      if (await stopVm(paths.runDir, h)) stopped.push(h);
    }),
  );
  for (const q of findLabQemus(paths.runDir)) {
    try {
      process.kill(q.pid, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
  for (const h of LAB_HOSTS) await fs.rm(vmFiles(paths.runDir, h).overlay, { force: true });
  await fs.rm(runStateFile(paths.runDir), { force: true });
  return stopped.sort();
}

/** Down, then remove the image cache, the run dir and the lab's entries in Ferry's SSH files. */
export async function labDestroy(opts: LabEnvOptions = {}): Promise<void> {
  const paths = labPaths(envOf(opts));
  await labDown(opts);
  await fs.rm(paths.cacheDir, { recursive: true, force: true });
  await fs.rm(paths.runDir, { recursive: true, force: true });
  await writeLabSshFiles(paths, null, paths.clientKey);
}

// ---- The demo workload -------------------------------------------------------------

export const workloadFiles = (name = 'demo') => {
  if (!/^[A-Za-z0-9_.-]{1,64}$/.test(name) || name.startsWith('.')) {
    throw new FerryError({ code: 'lab-bad-workload-name', message: `Not a usable workload name: ${name}`, hint: 'Use letters, digits, dot, dash, underscore' });
  }
  return { statusFile: path.posix.join(GUEST_WORKLOAD_DIR, `${name}.status`), outFile: path.posix.join(GUEST_WORKLOAD_DIR, `${name}.out`) };
};

/**
 * Run in the guest by `sh -c`; user values arrive only as positional args:
 * $1 pid wanted, $2 status file, $3 out file, then the workload argv.
 * setsid makes it a session leader (CRIU dumps it without --shell-job); stdin is /dev/null;
 * ns_last_pid = pid-1 right before the fork gives it the wanted PID.
 */
const START_SCRIPT = `set -eu
want=$1; status=$2; out=$3; shift 3
if [ -e "/proc/$want" ]; then echo "ferry: pid $want is already in use" >&2; exit 3; fi
mkdir -p "$(dirname "$status")" "$(dirname "$out")"
: > "$status"
echo $((want - 1)) > /proc/sys/kernel/ns_last_pid
setsid "$@" </dev/null >"$out" 2>&1 &
pid=$!
sleep 1
if ! kill -0 "$pid" 2>/dev/null; then echo "ferry: the workload exited at once:" >&2; tail -n 5 "$out" >&2; exit 4; fi
echo "$pid"
`;

async function withHub<T>(env: NodeJS.ProcessEnv, fn: (hub: SshHub) => Promise<T>): Promise<T> {
  const hub = new SshHub({ env });
  try {
    return await fn(hub);
  } finally {
    await hub.closeAll();
  }
}

export async function startWorkload(opts: WorkloadOptions = {}, hub?: SshHub): Promise<WorkloadStarted> {
  const host = opts.host ?? 'source';
  const mib = opts.mib ?? 64;
  const rate = opts.rate ?? 1000;
  const pid = opts.pid ?? 50000;
  if (!Number.isInteger(mib) || mib < 1 || mib > 512) throw new FerryError({ code: 'lab-bad-workload', message: `--mib must be 1..512 (the VMs have 1 GiB), got ${mib}` });
  if (!Number.isInteger(rate) || rate < 0) throw new FerryError({ code: 'lab-bad-workload', message: `--rate must be a whole number of pages per second, got ${rate}` });
  if (!Number.isInteger(pid) || pid < 301 || pid > 4_000_000) throw new FerryError({ code: 'lab-bad-workload', message: `--pid must be 301..4000000, got ${pid}` });
  const f = workloadFiles(opts.name);
  const run = async (h: SshHub) => {
    const argv = ['sh', '-c', START_SCRIPT, 'sh', String(pid), f.statusFile, f.outFile, 'python3', GUEST_WORKLOAD_BIN, '--mib', String(mib), '--rate', String(rate), '--status', f.statusFile];
    const r = await h.session(labAlias(host)).exec(argv, { timeoutMs: 60_000 });
    if (r.code !== 0) {
      throw new FerryError({
        code: r.code === 3 ? 'lab-pid-taken' : 'lab-workload-failed',
        host: labAlias(host),
        message: r.code === 3 ? `PID ${pid} is already in use on ${host}` : `The workload did not start on ${host}`,
        evidence: r.stderr.trim().split('\n').pop(),
        hint: r.code === 3 ? 'Pick another with --pid (it must be free on both VMs), or stop what runs there' : `See ${f.outFile} on ${host}`,
      });
    }
    const got = Number(r.stdout.trim().split('\n').pop());
    return { host, pid: got, statusFile: f.statusFile, outFile: f.outFile };
  };
  return hub ? run(hub) : withHub(envOf(opts), run);
}

/** Parse "HH:MM:SS host=source pid=50000 counter=... verify=OK bad=0". */
export function parseStatusLine(raw: string): WorkloadStatusLine | undefined {
  const line = raw.trim();
  const m = line.match(/^(\d\d:\d\d:\d\d)\s+(.*)$/);
  if (!m) return undefined;
  const kv = new Map<string, string>();
  for (const tok of m[2]!.split(/\s+/)) {
    const i = tok.indexOf('=');
    if (i > 0) kv.set(tok.slice(0, i), tok.slice(i + 1));
  }
  const host = kv.get('host');
  const pid = Number(kv.get('pid'));
  const counter = Number(kv.get('counter'));
  if (!host || !Number.isFinite(pid) || !Number.isFinite(counter)) return undefined;
  return { raw: line, time: m[1]!, host, pid, counter, verify: kv.get('verify') ?? '?', bad: Number(kv.get('bad') ?? 0) };
}

/** The latest status line the workload wrote on `host`. */
export async function workloadStatus(host: LabHost = 'source', opts: LabEnvOptions & { name?: string } = {}, hub?: SshHub): Promise<WorkloadStatusLine> {
  const f = workloadFiles(opts.name);
  const run = async (h: SshHub) => {
    const r = await h.session(labAlias(host)).exec(['tail', '-n', '1', f.statusFile], { timeoutMs: 30_000 });
    const parsed = r.code === 0 ? parseStatusLine(r.stdout) : undefined;
    if (!parsed) {
      throw new FerryError({
        code: 'lab-workload-none',
        host: labAlias(host),
        message: r.code === 0 ? `No status line yet in ${f.statusFile} on ${host}` : `No workload status on ${host}`,
        evidence: r.stderr.trim() || undefined,
        hint: r.code === 0 ? 'Wait a second and ask again' : 'Start one: ferry lab workload start',
      });
    }
    return parsed;
  };
  return hub ? run(hub) : withHub(envOf(opts), run);
}

/** For status output: the lab's image files (paths), so scripts can find them. */
export function imageFiles(env: NodeJS.ProcessEnv = process.env) {
  const p = labPaths(env);
  return {
    base: path.join(p.imageDir, IMAGE_FILES.base),
    kernel: path.join(p.imageDir, IMAGE_FILES.kernel),
    initrd: path.join(p.imageDir, IMAGE_FILES.initrd),
    clientKey: p.clientKey,
    hostKeys: Object.fromEntries(LAB_HOSTS.map((h) => [h, path.join(p.imageDir, hostKeyPubFile(h))])),
  };
}

import { constants as fsConstants, existsSync, readFileSync, readdirSync } from 'node:fs';
import fs from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { execa } from 'execa';
import { FerryError } from '../../shared/errors.ts';
import type { LabPaths } from './context.ts';
import { quoteArg } from '../ssh/quote.ts';
import { IMAGE_FILES, pidAlive } from './image.ts';
import { LINK_MAC, USER_MAC, labAlias, type Accel, type LabHost, type LabPorts } from './types.ts';

export const other = (h: LabHost): LabHost => (h === 'source' ? 'target' : 'source');

export interface VmFiles {
  overlay: string;
  pidfile: string;
  monitor: string;
  /** QMP socket: what `up` uses to save and resume a VM (the HMP monitor stays for humans). */
  qmp: string;
  serialLog: string;
}

export const vmFiles = (runDir: string, h: LabHost): VmFiles => ({
  overlay: path.join(runDir, `${h}.qcow2`),
  pidfile: path.join(runDir, `${h}.pid`),
  monitor: path.join(runDir, `${h}.mon`),
  qmp: path.join(runDir, `${h}.qmp`),
  serialLog: path.join(runDir, `${h}.serial.log`),
});

/** What `up` started, so status/down know ports and accel without being told again. */
export interface LabRunState {
  accel: Accel;
  ports: LabPorts;
  memoryMiB: number;
  startedAt: string;
  imageDir: string;
}

export const runStateFile = (runDir: string) => path.join(runDir, 'lab.json');

export function readRunState(runDir: string): LabRunState | undefined {
  try {
    return JSON.parse(readFileSync(runStateFile(runDir), 'utf8')) as LabRunState;
  } catch {
    return undefined;
  }
}

/**
 * The qemu argv for one VM (without the binary). With `incoming` (a saved state file) qemu
 * loads that state instead of booting and runs it when loaded; every other argument stays the
 * same, as migration needs the same machine on both ends.
 */
export function qemuArgs(o: { host: LabHost; accel: Accel; memoryMiB: number; imageDir: string; runDir: string; ports: LabPorts; incoming?: string }): string[] {
  const f = vmFiles(o.runDir, o.host);
  const h = o.host;
  return [
    '-name', h,
    '-machine', `q35,accel=${o.accel}`,
    // Same -cpu on both VMs: CRIU checks CPU features on restore.
    '-cpu', o.accel === 'kvm' ? 'host' : 'max',
    '-smp', '1',
    '-m', String(o.memoryMiB),
    '-kernel', path.join(o.imageDir, IMAGE_FILES.kernel),
    '-initrd', path.join(o.imageDir, IMAGE_FILES.initrd),
    '-append', `root=/dev/vda rw console=ttyS0 net.ifnames=0 systemd.hostname=${h}`,
    '-drive', `file=${f.overlay},if=virtio,format=qcow2,cache=unsafe`,
    // restrict=on: no way out of the guest; only the SSH forward on loopback comes in.
    '-netdev', `user,id=n0,restrict=on,hostfwd=tcp:127.0.0.1:${o.ports.ssh[h]}-:22`,
    '-device', `virtio-net-pci,netdev=n0,mac=${USER_MAC[h]}`,
    '-netdev',
    `dgram,id=n1,local.type=inet,local.host=127.0.0.1,local.port=${o.ports.link[h]},remote.type=inet,remote.host=127.0.0.1,remote.port=${o.ports.link[other(h)]}`,
    '-device', `virtio-net-pci,netdev=n1,mac=${LINK_MAC[h]}`,
    '-serial', `file:${f.serialLog}`,
    '-display', 'none',
    '-monitor', `unix:${f.monitor},server,nowait`,
    '-qmp', `unix:${f.qmp},server=on,wait=off`,
    '-pidfile', f.pidfile,
    '-daemonize',
    // exec: runs through /bin/sh; the path is quoted as one word.
    ...(o.incoming ? ['-incoming', `exec:cat ${quoteArg(o.incoming)}`] : []),
  ];
}

export function readPid(pidfile: string): number | undefined {
  try {
    const n = Number(readFileSync(pidfile, 'utf8').trim());
    return Number.isInteger(n) && n > 0 ? n : undefined;
  } catch {
    return undefined;
  }
}

function cmdline(pid: number): string[] {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
  } catch {
    return [];
  }
}

/** Is `pid` a qemu of this lab (its -pidfile lies in our run dir)? Guards against recycled pids. */
export function isLabQemu(pid: number, runDir: string): boolean {
  const argv = cmdline(pid);
  const i = argv.indexOf('-pidfile');
  return i >= 0 && path.dirname(argv[i + 1] ?? '') === runDir;
}

/** Every qemu process whose pidfile lies in runDir (also ones whose pidfile was lost). */
export function findLabQemus(runDir: string): { pid: number; host?: string }[] {
  const found: { pid: number; host?: string }[] = [];
  let entries: string[] = [];
  try {
    entries = readdirSync('/proc');
  } catch {
    return found;
  }
  for (const e of entries) {
    if (!/^\d+$/.test(e)) continue;
    const pid = Number(e);
    if (isLabQemu(pid, runDir)) {
      const argv = cmdline(pid);
      found.push({ pid, host: argv[argv.indexOf('-name') + 1] });
    }
  }
  return found;
}

export function vmPid(runDir: string, h: LabHost): number | undefined {
  const pid = readPid(vmFiles(runDir, h).pidfile);
  if (pid && pidAlive(pid) && isLabQemu(pid, runDir)) return pid;
  return findLabQemus(runDir).find((q) => q.host === h)?.pid;
}

export async function tailFile(file: string, lines = 25): Promise<string> {
  try {
    const buf = await fs.readFile(file);
    const text = buf.subarray(Math.max(0, buf.length - 64 * 1024)).toString('utf8');
    // Serial consoles emit \r and escape sequences; keep it readable.
    return text
      .replace(/\x1b\[[0-9;?]*[A-Za-z]/g, '')
      .replace(/\r/g, '')
      .split('\n')
      .filter((l) => l.trim())
      .slice(-lines)
      .join('\n');
  } catch {
    return '(no serial output)';
  }
}

/**
 * Create the VM's fresh overlay and start qemu daemonized. Resolves once qemu has daemonized.
 * With `resume`, the overlay is a copy of the saved disk and qemu loads the saved state.
 */
export async function bootVm(o: {
  host: LabHost;
  accel: Accel;
  memoryMiB: number;
  paths: LabPaths;
  ports: LabPorts;
  qemu: string;
  qemuImg: string;
  env: NodeJS.ProcessEnv;
  resume?: { stateFile: string; diskFile: string };
}): Promise<number> {
  const f = vmFiles(o.paths.runDir, o.host);
  for (const p of [f.overlay, f.pidfile, f.monitor, f.qmp, f.serialLog]) await fs.rm(p, { force: true });
  if (Buffer.byteLength(f.monitor) > 100 || Buffer.byteLength(f.qmp) > 100) {
    throw new FerryError({ code: 'lab-path-too-long', message: `The monitor socket path is too long for a unix socket: ${f.monitor}`, hint: 'Use a shorter FERRY_HOME / XDG_STATE_HOME' });
  }
  if (o.resume) {
    // The disk as it was when the state was saved (its backing file is the cached base image).
    await fs.copyFile(o.resume.diskFile, f.overlay, fsConstants.COPYFILE_FICLONE);
  } else {
    const base = path.join(o.paths.imageDir, IMAGE_FILES.base);
    const img = await execa(o.qemuImg, ['create', '-q', '-f', 'qcow2', '-b', base, '-F', 'raw', f.overlay], { reject: false, all: true, env: o.env, extendEnv: false });
    if (img.exitCode !== 0) {
      throw new FerryError({ code: 'lab-boot-failed', host: labAlias(o.host), message: 'Could not create the VM overlay', evidence: img.all?.trim().split('\n').pop() });
    }
  }
  const args = qemuArgs({ host: o.host, accel: o.accel, memoryMiB: o.memoryMiB, imageDir: o.paths.imageDir, runDir: o.paths.runDir, ports: o.ports, incoming: o.resume?.stateFile });
  const r = await execa(o.qemu, args, { reject: false, all: true, env: o.env, extendEnv: false, timeout: 60_000 });
  if (r.exitCode !== 0) {
    const evidence = r.all?.trim().split('\n').pop();
    const port = /hostfwd|Could not set up host forwarding|Address already in use/i.test(r.all ?? '');
    throw new FerryError({
      code: port ? 'lab-port-in-use' : 'lab-boot-failed',
      host: labAlias(o.host),
      message: `qemu did not start the ${o.host} VM`,
      evidence,
      hint: port ? 'A lab port is taken: pick others with --ssh-ports / --link-ports' : `See the qemu message above; serial log: ${f.serialLog}`,
    });
  }
  const pid = readPid(f.pidfile);
  if (!pid) throw new FerryError({ code: 'lab-boot-failed', host: labAlias(o.host), message: 'qemu daemonized but wrote no pidfile' });
  return pid;
}

/** Read the first bytes a server sends on 127.0.0.1:port within timeoutMs ('' on failure). */
export function readBanner(port: number, timeoutMs = 3000, host = '127.0.0.1'): Promise<string> {
  return new Promise((resolve) => {
    let data = '';
    const sock = net.connect({ port, host });
    const done = (s: string) => {
      clearTimeout(timer);
      sock.destroy();
      resolve(s);
    };
    const timer = setTimeout(() => done(data), timeoutMs);
    sock.on('data', (d) => {
      data += d.toString('latin1');
      if (data.includes('\n')) done(data.split('\n')[0]!.trim());
    });
    sock.on('error', () => done(''));
    sock.on('close', () => done(data));
  });
}

/**
 * Wait until the guest's sshd answers with its banner through the forward. A TCP connect
 * alone proves nothing: qemu's user-mode stack accepts on the host port before the guest
 * listens. Fails early if qemu dies; on timeout the error carries the serial log's tail.
 */
export async function waitForSsh(o: { host: LabHost; port: number; pid: number; runDir: string; timeoutMs: number; signal?: AbortSignal }): Promise<string> {
  const deadline = Date.now() + o.timeoutMs;
  const f = vmFiles(o.runDir, o.host);
  for (;;) {
    o.signal?.throwIfAborted();
    if (!pidAlive(o.pid)) {
      throw new FerryError({
        code: 'lab-boot-failed',
        host: labAlias(o.host),
        message: `The ${o.host} VM's qemu exited while booting`,
        evidence: await tailFile(f.serialLog, 15),
        hint: `Serial log: ${f.serialLog}`,
      });
    }
    const banner = await readBanner(o.port, 3000);
    if (banner.startsWith('SSH-')) return banner;
    if (Date.now() > deadline) {
      throw new FerryError({
        code: 'lab-boot-timeout',
        host: labAlias(o.host),
        message: `The ${o.host} VM did not answer SSH on 127.0.0.1:${o.port} within ${Math.round(o.timeoutMs / 1000)} s. Last serial output:\n${await tailFile(f.serialLog, 20)}`,
        hint: `Full serial log: ${f.serialLog}. Run \`ferry lab down\` and \`ferry lab up\` again; if it keeps failing, rebuild the image (\`ferry lab destroy\`)`,
      });
    }
    await sleep(1000, undefined, { signal: o.signal }).catch(() => {});
  }
}

async function monitorQuit(sockPath: string): Promise<void> {
  if (!existsSync(sockPath)) return;
  await new Promise<void>((resolve) => {
    const s = net.connect(sockPath);
    const t = setTimeout(() => {
      s.destroy();
      resolve();
    }, 2000);
    s.on('connect', () => s.write('quit\n'));
    s.on('error', () => {
      clearTimeout(t);
      resolve();
    });
    s.on('close', () => {
      clearTimeout(t);
      resolve();
    });
  });
}

export async function waitGone(pid: number, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (!pidAlive(pid)) return true;
    await sleep(100);
  }
  return !pidAlive(pid);
}

/** Stop one VM: monitor `quit`, then SIGTERM, then SIGKILL, by pid (only if it is our qemu). */
export async function stopVm(runDir: string, h: LabHost): Promise<boolean> {
  const f = vmFiles(runDir, h);
  const pid = vmPid(runDir, h);
  let stopped = false;
  if (pid) {
    await monitorQuit(f.monitor);
    if (!(await waitGone(pid, 5000))) {
      if (isLabQemu(pid, runDir)) process.kill(pid, 'SIGTERM');
      if (!(await waitGone(pid, 5000)) && isLabQemu(pid, runDir)) {
        process.kill(pid, 'SIGKILL');
        await waitGone(pid, 5000);
      }
    }
    stopped = true;
  }
  for (const p of [f.pidfile, f.monitor, f.qmp]) await fs.rm(p, { force: true });
  return stopped;
}

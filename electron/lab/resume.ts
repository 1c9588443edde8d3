/**
 * Saved post-boot states: instead of booting each VM cold (kernel + systemd under TCG, a minute
 * or more), `up` resumes it from a state saved right after an earlier cold boot had settled and
 * before Ferry changed anything in it. A state is qemu's migration stream (RAM and devices)
 * plus a copy of the overlay disk at that moment. Host-side ports and run paths are not part of
 * the guest, so one state per VM (source, target) serves every lab on this machine.
 *
 * A state is only valid for the same machine: the same image build, memory size, qemu build,
 * accelerator and argv shape. All of that goes into its key; a state with another key is never
 * loaded (a stale one is pruned when a new one is saved).
 */
import { createHash, randomBytes } from 'node:crypto';
import { constants as fsConstants, readFileSync, readdirSync, statSync } from 'node:fs';
import fs from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { execa } from 'execa';
import { FerryError } from '../../shared/errors.ts';
import type { HostSession } from '../ssh/index.ts';
import type { LabPaths } from './context.ts';
import { IMAGE_FILES, pidAlive } from './image.ts';
import { labAlias, type Accel, type LabHost } from './types.ts';
import { qemuArgs, vmFiles, vmPid, waitGone } from './vm.ts';

/** Bump when what is saved, or how it is resumed, changes in a way old states can't follow. */
export const STATE_FORMAT = 1;

export const STATE_FILES = { memory: 'memory.state', disk: 'disk.qcow2', meta: 'meta.json' } as const;

export interface StateMeta {
  format: number;
  key: string;
  host: LabHost;
  memoryMiB: number;
  accel: Accel;
  qemuVersion: string;
  savedAt: string;
  /** Guest uptime when saved, and how long the save took (for the record). */
  guestUptimeS?: number;
  saveMs: number;
  bytes: Record<string, number>;
}

export interface StateKeyInput {
  host: LabHost;
  accel: Accel;
  memoryMiB: number;
  /** Identity of the image build (its manifest's hash): a rebuild makes other disks and keys. */
  imageId: string;
  /** `qemu-system-x86_64 --version`, first line (names the Debian build). */
  qemuVersion: string;
  /** With KVM the guest sees the host CPU (-cpu host): its flags must match. Unused under TCG. */
  hostCpu?: string;
}

/**
 * The argv a state depends on: qemuArgs with the per-lab parts (ports, run dir, image dir)
 * replaced by placeholders. Any change to the machine (a device, the kernel command line,
 * -cpu, -m) changes it, and with it the key.
 */
export function stateArgv(k: Pick<StateKeyInput, 'host' | 'accel' | 'memoryMiB'>): string[] {
  return qemuArgs({
    host: k.host,
    accel: k.accel,
    memoryMiB: k.memoryMiB,
    imageDir: '/IMAGE',
    runDir: '/RUN',
    ports: { ssh: { source: 1, target: 2 }, link: { source: 3, target: 4 } },
  });
}

export function stateKey(k: StateKeyInput): string {
  const parts = {
    format: STATE_FORMAT,
    image: k.imageId,
    qemu: k.qemuVersion,
    accel: k.accel,
    memoryMiB: k.memoryMiB,
    hostCpu: k.accel === 'kvm' ? (k.hostCpu ?? '') : '',
    argv: stateArgv(k),
  };
  return createHash('sha256').update(JSON.stringify(parts)).digest('hex');
}

export const statesDir = (paths: LabPaths) => path.join(paths.cacheDir, 'states');
export const stateDirName = (host: LabHost, memoryMiB: number, key: string) => `${host}-${memoryMiB}m-${key.slice(0, 16)}`;

export function imageId(imageDir: string): string {
  return createHash('sha256').update(readFileSync(path.join(imageDir, IMAGE_FILES.manifest))).digest('hex');
}

const versions = new Map<string, string>();
export async function qemuVersion(qemu: string, env: NodeJS.ProcessEnv): Promise<string> {
  let v = versions.get(qemu);
  if (v === undefined) {
    const r = await execa(qemu, ['--version'], { reject: false, env, extendEnv: false });
    v = r.stdout.split('\n')[0]?.trim() ?? '';
    versions.set(qemu, v);
  }
  return v;
}

/** The CPU as KVM would pass it through: model name and flags of the first CPU. */
export function hostCpuId(cpuinfo: string): string {
  const first = cpuinfo.split('\n\n')[0] ?? '';
  const pick = (k: string) => first.match(new RegExp(`^${k}\\s*:\\s*(.*)$`, 'm'))?.[1]?.trim() ?? '';
  return `${pick('model name')}|${pick('flags')}`;
}

export interface SavedState {
  dir: string;
  stateFile: string;
  diskFile: string;
  meta: StateMeta;
}

/** The saved state for this key, if one is complete (meta.json is written last). */
export function findState(paths: LabPaths, host: LabHost, memoryMiB: number, key: string): SavedState | undefined {
  const dir = path.join(statesDir(paths), stateDirName(host, memoryMiB, key));
  let meta: StateMeta;
  try {
    meta = JSON.parse(readFileSync(path.join(dir, STATE_FILES.meta), 'utf8')) as StateMeta;
  } catch {
    return undefined;
  }
  if (meta.format !== STATE_FORMAT || meta.key !== key || meta.host !== host) return undefined;
  const stateFile = path.join(dir, STATE_FILES.memory);
  const diskFile = path.join(dir, STATE_FILES.disk);
  for (const [name, size] of Object.entries(meta.bytes ?? {})) {
    try {
      if (statSync(path.join(dir, name)).size !== size) return undefined;
    } catch {
      return undefined;
    }
  }
  if (!meta.bytes?.[STATE_FILES.memory] || !meta.bytes?.[STATE_FILES.disk]) return undefined;
  return { dir, stateFile, diskFile, meta };
}

/** Remove a state that failed to load, so the next `up` boots cold and saves a good one. */
export async function dropState(s: SavedState): Promise<void> {
  await fs.rm(s.dir, { recursive: true, force: true });
}

// ---- QMP -----------------------------------------------------------------------------

/** A minimal QMP client: one command at a time, events skipped. */
export class Qmp {
  private buf = '';
  private waiters: { resolve: (v: unknown) => void; reject: (e: Error) => void }[] = [];
  private closed = false;

  private constructor(private sock: net.Socket) {
    sock.setEncoding('utf8');
    sock.on('data', (d: string) => {
      this.buf += d;
      let i: number;
      while ((i = this.buf.indexOf('\n')) >= 0) {
        const line = this.buf.slice(0, i).trim();
        this.buf = this.buf.slice(i + 1);
        if (!line) continue;
        let msg: { QMP?: unknown; event?: string; return?: unknown; error?: { class: string; desc: string } };
        try {
          msg = JSON.parse(line);
        } catch {
          continue;
        }
        if (msg.event) continue;
        const w = this.waiters.shift();
        if (!w) continue;
        if (msg.error) w.reject(new Error(`${msg.error.class}: ${msg.error.desc}`));
        else w.resolve(msg.QMP !== undefined ? msg : msg.return);
      }
    });
    const fail = (e: Error) => {
      this.closed = true;
      for (const w of this.waiters.splice(0)) w.reject(e);
    };
    sock.on('error', fail);
    sock.on('close', () => fail(new Error('the QMP socket closed')));
  }

  static async connect(sockPath: string, timeoutMs = 10_000): Promise<Qmp> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      try {
        const sock = await new Promise<net.Socket>((resolve, reject) => {
          const s = net.connect(sockPath);
          s.once('connect', () => resolve(s));
          s.once('error', reject);
        });
        const q = new Qmp(sock);
        await q.next(); // the greeting
        await q.cmd('qmp_capabilities');
        return q;
      } catch (e) {
        if (Date.now() > deadline) throw e;
        await sleep(200);
      }
    }
  }

  private next(): Promise<unknown> {
    if (this.closed) return Promise.reject(new Error('the QMP socket closed'));
    return new Promise((resolve, reject) => this.waiters.push({ resolve, reject }));
  }

  cmd<T = unknown>(execute: string, args?: Record<string, unknown>): Promise<T> {
    const p = this.next() as Promise<T>;
    this.sock.write(`${JSON.stringify(args ? { execute, arguments: args } : { execute })}\n`);
    return p;
  }

  close(): void {
    this.sock.destroy();
  }
}

interface MigrateInfo {
  status?: string;
  'error-desc'?: string;
}

/**
 * Wait until a VM started with -incoming has loaded its state, then run it (`cont`). Fails when qemu exits
 * (a state it can't load) or the load reports failure.
 */
export async function waitResumed(o: { runDir: string; host: LabHost; pid: number; timeoutMs: number }): Promise<void> {
  const f = vmFiles(o.runDir, o.host);
  const deadline = Date.now() + o.timeoutMs;
  const gone = () =>
    new FerryError({ code: 'lab-resume-failed', host: labAlias(o.host), message: `qemu exited while loading the saved state of ${o.host}` });
  let q: Qmp | undefined;
  try {
    while (!q) {
      if (!pidAlive(o.pid)) throw gone();
      q = await Qmp.connect(f.qmp, 1000).catch((e: Error) => {
        if (Date.now() > deadline) throw e;
        return undefined;
      });
    }
    for (;;) {
      if (!pidAlive(o.pid)) throw gone();
      const st = await q.cmd<{ status: string }>('query-status').catch(() => undefined);
      if (st?.status === 'running') return;
      // The state was saved from a paused VM, so once loaded it waits paused: run it.
      if (st?.status === 'paused') {
        await q.cmd('cont');
        continue;
      }
      const mi = await q.cmd<MigrateInfo>('query-migrate').catch(() => undefined);
      if (mi?.status === 'failed') {
        throw new FerryError({ code: 'lab-resume-failed', host: labAlias(o.host), message: `qemu could not load the saved state of ${o.host}`, evidence: mi['error-desc'] });
      }
      if (Date.now() > deadline) {
        throw new FerryError({ code: 'lab-resume-failed', host: labAlias(o.host), message: `The saved state of ${o.host} did not finish loading within ${Math.round(o.timeoutMs / 1000)} s (status ${st?.status ?? '?'})` });
      }
      await sleep(200);
    }
  } catch (e) {
    if (e instanceof FerryError) throw e;
    throw new FerryError({ code: 'lab-resume-failed', host: labAlias(o.host), message: `Could not follow the resume of ${o.host} on its QMP socket`, evidence: (e as Error).message });
  } finally {
    q?.close();
  }
}

/**
 * Save a running VM's state into the cache, then stop its qemu: pause, migrate to a file at
 * full speed, quit (which leaves the overlay closed and consistent), copy the overlay. Written
 * into a temp dir and renamed into place, meta.json last; a state saved meanwhile by another
 * lab for the same key wins and ours is dropped.
 */
export async function saveState(o: { paths: LabPaths; host: LabHost; memoryMiB: number; accel: Accel; key: string; qemuVersion: string; guestUptimeS?: number }): Promise<SavedState> {
  const t0 = Date.now();
  const f = vmFiles(o.paths.runDir, o.host);
  const root = statesDir(o.paths);
  await fs.mkdir(root, { recursive: true });
  const tmp = await fs.mkdtemp(path.join(root, `.save-${o.host}-`));
  const memFile = path.join(tmp, STATE_FILES.memory);
  const pid = vmPid(o.paths.runDir, o.host);
  if (!pid) throw new FerryError({ code: 'lab-save-failed', host: labAlias(o.host), message: `The ${o.host} VM is not running: nothing to save` });
  let q: Qmp | undefined;
  try {
    q = await Qmp.connect(f.qmp);
    await q.cmd('stop');
    // Default migration bandwidth is 32 MiB/s; to a local file there is no reason to throttle.
    await q.cmd('migrate-set-parameters', { 'max-bandwidth': 64 * 1024 ** 3 });
    await q.cmd('migrate', { uri: `exec:cat > ${quoteForSh(memFile)}` });
    const deadline = Date.now() + 300_000;
    for (;;) {
      const mi = await q.cmd<MigrateInfo>('query-migrate');
      if (mi.status === 'completed') break;
      if (mi.status === 'failed' || mi.status === 'cancelled' || Date.now() > deadline) {
        throw new FerryError({ code: 'lab-save-failed', host: labAlias(o.host), message: `Saving the ${o.host} VM's state failed (${mi.status ?? 'timeout'})`, evidence: mi['error-desc'] });
      }
      await sleep(200);
    }
    await q.cmd('quit').catch(() => undefined);
  } catch (e) {
    await fs.rm(tmp, { recursive: true, force: true });
    if (e instanceof FerryError) throw e;
    throw new FerryError({ code: 'lab-save-failed', host: labAlias(o.host), message: `Saving the ${o.host} VM's state failed`, evidence: (e as Error).message });
  } finally {
    q?.close();
  }
  await waitGone(pid, 30_000);
  await fs.copyFile(f.overlay, path.join(tmp, STATE_FILES.disk), fsConstants.COPYFILE_FICLONE);
  const bytes: Record<string, number> = {};
  for (const n of [STATE_FILES.memory, STATE_FILES.disk]) bytes[n] = (await fs.stat(path.join(tmp, n))).size;
  const meta: StateMeta = {
    format: STATE_FORMAT,
    key: o.key,
    host: o.host,
    memoryMiB: o.memoryMiB,
    accel: o.accel,
    qemuVersion: o.qemuVersion,
    savedAt: new Date().toISOString(),
    guestUptimeS: o.guestUptimeS,
    saveMs: Date.now() - t0,
    bytes,
  };
  await fs.writeFile(path.join(tmp, STATE_FILES.meta), `${JSON.stringify(meta, null, 2)}\n`);
  const finalDir = path.join(root, stateDirName(o.host, o.memoryMiB, o.key));
  try {
    await fs.rename(tmp, finalDir);
  } catch {
    // Another lab saved this key first (rename onto a non-empty dir fails): keep theirs.
    await fs.rm(tmp, { recursive: true, force: true });
  }
  // States of this VM and memory size with another key (older image or qemu) can never load again.
  for (const e of readdirSync(root)) {
    if (e.startsWith(`${o.host}-${o.memoryMiB}m-`) && e !== path.basename(finalDir)) await fs.rm(path.join(root, e), { recursive: true, force: true });
  }
  const s = findState(o.paths, o.host, o.memoryMiB, o.key);
  if (!s) throw new FerryError({ code: 'lab-save-failed', host: labAlias(o.host), message: `The saved state of ${o.host} is incomplete` });
  return s;
}

/** Single-quote for /bin/sh (qemu's exec: migration runs `sh -c`). */
export function quoteForSh(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

// ---- After a resume --------------------------------------------------------------------

/**
 * What a resume leaves wrong in the guest, fixed over SSH right after it:
 * - the wall clock stands where it was when the state was saved (TLS certificates, journals
 *   and file times need the right time): set it from the host's clock. The time is written on
 *   stdin once the remote shell is waiting for it, so only the one-way delay is lost;
 * - the kernel's random state is the saved one in every resumed copy: 64 bytes of host
 *   randomness are written to /dev/urandom and the generator is reseeded from them at once
 *   (ioctl RNDRESEEDCRNG, by perl-base, which every Debian has; it fails the resume if the
 *   kernel refuses). qemu's vmgenid device would do this inside the guest, but bookworm's
 *   6.1 kernel does not bind it: its driver matches VM_GEN_COUNTER, qemu's _CID says
 *   VM_Gen_Counter (matching by _CID came with 6.10's platform driver).
 * Resolves to the guest clock's offset from the host's afterwards, in ms (positive: ahead).
 */
export async function fixResumedGuest(s: HostSession): Promise<{ skewMs: number }> {
  const script = `set -eu
echo ready
read -r t
date -u -s "@$t" >/dev/null
head -c 64 > /dev/urandom
perl -e 'open(my $f, ">", "/dev/urandom") or die "$!"; ioctl($f, 0x5207, 0) or die "RNDRESEEDCRNG: $!"'
date -u +%s.%N`;
  const p = s.spawn(['sh', '-c', script], { timeoutMs: 60_000 });
  let out = '';
  let sent = false;
  p.stdout.setEncoding('utf8');
  p.stdout.on('data', (d: string) => {
    out += d;
    if (!sent && out.includes('ready\n')) {
      sent = true;
      p.stdin.write(`${(Date.now() / 1000).toFixed(3)}\n`);
      p.stdin.end(randomBytes(64));
    }
  });
  const ended = new Promise<void>((resolve) => p.stdout.once('end', () => resolve()));
  const r = await p.done;
  await Promise.race([ended, sleep(2000)]);
  const hostNow = Date.now();
  const guestNow = Number(out.trim().split('\n').pop()) * 1000;
  if (r.code !== 0 || !Number.isFinite(guestNow)) {
    throw new FerryError({ code: 'lab-resume-failed', host: s.alias, message: `Could not set the clock of ${s.alias} after resuming it`, evidence: r.stderr.trim().split('\n').pop() });
  }
  return { skewMs: Math.round(guestNow - hostNow) };
}

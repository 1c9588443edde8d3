import { createHash } from 'node:crypto';
import { createWriteStream, existsSync, readFileSync, statSync, statfsSync } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { execa } from 'execa';
import { FerryError } from '../../shared/errors.ts';
import type { LabPaths } from './context.ts';
import { detectMirror } from './mirror.ts';
import {
  ENABLE_UNITS,
  GUEST_HOSTKEY_DIR,
  GUEST_WORKLOAD_DIR,
  IMAGE_SIZE,
  MASK_UNITS,
  PACKAGES,
  RECIPE_FILES,
  RECIPE_VERSION,
  SUITE,
  recipeHash,
} from './recipe.ts';
import { BUILD_TOOLS, requireTools } from './tools.ts';
import { LAB_HOSTS, type ImageInfo, type LabHost, type ProgressFn } from './types.ts';

/** The files of a built image, relative to the image dir. */
export const IMAGE_FILES = {
  base: 'base.img',
  kernel: 'vmlinuz',
  initrd: 'initrd.img',
  clientKey: 'lab_ed25519',
  clientKeyPub: 'lab_ed25519.pub',
  manifest: 'manifest.json',
} as const;

export const hostKeyPubFile = (h: LabHost) => `hostkeys/${h}/ssh_host_ed25519_key.pub`;

/** Free space the build needs in the cache dir (rootfs ~740 MB + image ~800 MB + debs + margin). */
export const BUILD_MIN_FREE_BYTES = 3 * 1024 ** 3;

export interface ImageManifest {
  recipeHash: string;
  recipeVersion: number;
  createdAt: string;
  buildSeconds: number;
  mirror: string;
  kernel: string;
  packages: number;
  /** Apparent sizes of the image files, checked on every use. */
  sizes: Record<string, number>;
  /** Public host keys of each VM ("ssh-ed25519 AAAA..."), installed in the guest by hostname. */
  hostKeys: Record<LabHost, string>;
}

export function readManifest(imageDir: string): ImageManifest | undefined {
  try {
    return JSON.parse(readFileSync(path.join(imageDir, IMAGE_FILES.manifest), 'utf8')) as ImageManifest;
  } catch {
    return undefined;
  }
}

/**
 * Is the cached image usable? A manifest is written last, so no manifest means a build that
 * stopped half way; a different recipe hash means the recipe changed; a missing or resized file
 * means someone touched the cache. Anything but 'ready' is rebuilt, never booted.
 */
export function inspectImage(imageDir: string, expectedHash = recipeHash(), now = Date.now()): ImageInfo {
  if (!existsSync(imageDir)) return { state: 'missing', dir: imageDir, reason: 'no image built yet' };
  const m = readManifest(imageDir);
  if (!m) return { state: 'incomplete', dir: imageDir, reason: 'no manifest: the image build did not finish' };
  const base: ImageInfo = {
    state: 'ready',
    dir: imageDir,
    recipeHash: m.recipeHash,
    createdAt: m.createdAt,
    ageSeconds: Math.max(0, Math.round((now - Date.parse(m.createdAt)) / 1000)),
    sizes: m.sizes,
    kernel: m.kernel,
  };
  if (m.recipeHash !== expectedHash) return { ...base, state: 'stale', reason: 'the image recipe changed since it was built' };
  for (const [name, size] of Object.entries(m.sizes ?? {})) {
    let st: import('node:fs').Stats;
    try {
      st = statSync(path.join(imageDir, name));
    } catch {
      return { ...base, state: 'incomplete', reason: `${name} is missing` };
    }
    if (st.size !== size) return { ...base, state: 'incomplete', reason: `${name} has size ${st.size}, manifest says ${size}` };
  }
  for (const h of LAB_HOSTS) {
    if (!m.hostKeys?.[h]) return { ...base, state: 'incomplete', reason: `no host key for ${h} in the manifest` };
  }
  return base;
}


/** Bytes used on disk under a dir (sparse files count what they use). */
export async function diskUsage(dir: string): Promise<number> {
  let total = 0;
  const walk = async (d: string) => {
    let entries: import('node:fs').Dirent[];
    try {
      entries = await fs.readdir(d, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) await walk(p);
      else {
        try {
          const st = await fs.lstat(p);
          total += st.blocks * 512;
        } catch {
          /* gone */
        }
      }
    }
  };
  await walk(dir);
  return total;
}

export function freeBytes(dir: string): number {
  let d = dir;
  while (!existsSync(d)) d = path.dirname(d);
  const s = statfsSync(d);
  return s.bavail * s.bsize;
}

export interface BuildOptions {
  env?: NodeJS.ProcessEnv;
  mirror?: string;
  onProgress?: ProgressFn;
  signal?: AbortSignal;
  /** Override the root check (tests). */
  uid?: number;
  /** Free space required (default BUILD_MIN_FREE_BYTES). */
  minFreeBytes?: number;
}

/** Checks done before any work: root, tools, free space. Throws FerryError. */
export function buildPreflight(paths: LabPaths, opts: BuildOptions = {}): Record<string, string> {
  const env = opts.env ?? process.env;
  const uid = opts.uid ?? process.getuid?.() ?? 0;
  const tools = requireTools(BUILD_TOOLS, env);
  if (uid !== 0) {
    throw new FerryError({
      code: 'lab-build-needs-root',
      message: 'Building the lab image needs root (debootstrap and chroot)',
      hint: 'Run the first `ferry lab up` once as root (sudo -E node bin/ferry.js lab up); later runs reuse the image',
    });
  }
  const free = freeBytes(paths.cacheDir);
  if (free < (opts.minFreeBytes ?? BUILD_MIN_FREE_BYTES)) {
    throw new FerryError({
      code: 'lab-disk-full',
      message: `Not enough free space to build the lab image in ${paths.cacheDir}: ${(free / 1024 ** 3).toFixed(1)} GiB free, ~3 GiB needed`,
      hint: 'Free some disk space, or point FERRY_LAB_CACHE at a disk with room',
    });
  }
  return tools;
}

async function writeFileMode(p: string, content: string, mode: number) {
  await fs.mkdir(path.dirname(p), { recursive: true });
  await fs.writeFile(p, content, { mode });
  await fs.chmod(p, mode);
}

/** Tracks debootstrap's "I: ..." lines and turns them into progress fractions. */
export class DebootstrapProgress {
  phase = 'start';
  count = 0;
  total: number;
  constructor(
    private emit: ProgressFn,
    estimate = 240,
  ) {
    this.total = estimate;
  }
  private static weights: Record<string, [number, number]> = {
    index: [0, 0.05],
    retrieve: [0.05, 0.4],
    extract: [0.4, 0.5],
    unpack: [0.5, 0.72],
    configure: [0.72, 1],
  };
  line(raw: string): void {
    const l = raw.trim();
    const m = l.match(/^I: (Retrieving|Validating|Extracting|Unpacking|Configuring) (\S+)/);
    if (m && /^(required|base|the|core)$/.test(m[2] ?? '')) {
      this.emit({ step: 'debootstrap', message: l.slice(3) });
      return;
    }
    let phase = this.phase;
    if (/^I: (Retrieving|Checking|Validating) (InRelease|Release|Packages)/.test(l)) phase = 'index';
    else if (m) {
      phase = { Retrieving: 'retrieve', Validating: 'retrieve', Extracting: 'extract', Unpacking: 'unpack', Configuring: 'configure' }[
        m[1] as 'Retrieving'
      ];
    } else if (/^I: Base system installed successfully/.test(l)) {
      this.emit({ step: 'debootstrap', message: 'base system installed', fraction: 1, done: true });
      return;
    } else {
      if (/^(I|W|E): /.test(l)) this.emit({ step: 'debootstrap', message: l.slice(3) });
      return;
    }
    if (phase !== this.phase) {
      if (this.phase === 'retrieve' && this.count > 20) this.total = this.count;
      this.phase = phase;
      this.count = 0;
    }
    if (!m || phase === 'index') {
      this.emit({ step: 'debootstrap', message: l.slice(3), fraction: 0 });
      return;
    }
    // Retrieving + Validating come in pairs when downloading; only count Validating then.
    if (m[1] === 'Retrieving') return;
    this.count++;
    const [a, b] = DebootstrapProgress.weights[phase] ?? [0, 1];
    const within = Math.min(1, this.count / Math.max(this.total, this.count));
    if (this.count % 10 === 1 || this.count === this.total) {
      this.emit({ step: 'debootstrap', message: `${phase} ${this.count}/${this.total}: ${m[2]}`, fraction: a + (b - a) * within });
    }
  }
}

/**
 * Build the lab image into a temp dir beside the cache, then rename it into place.
 * The manifest is written last. Resolves to the manifest.
 */
export async function buildImage(paths: LabPaths, opts: BuildOptions = {}): Promise<ImageManifest> {
  const env = opts.env ?? process.env;
  const emit: ProgressFn = opts.onProgress ?? (() => {});
  const started = Date.now();
  await fs.mkdir(paths.cacheDir, { recursive: true });
  const tools = buildPreflight(paths, opts);
  const mirror = opts.mirror ?? detectMirror(env);

  // One build at a time per cache: a lock file naming the builder's pid.
  const lock = path.join(paths.cacheDir, 'build.lock');
  try {
    const other = Number(readFileSync(lock, 'utf8'));
    if (other && other !== process.pid && pidAlive(other)) {
      throw new FerryError({
        code: 'lab-build-busy',
        message: `Another lab image build is running (pid ${other})`,
        hint: 'Wait for it to finish, then run `ferry lab up` again',
      });
    }
  } catch (e) {
    if (e instanceof FerryError) throw e;
  }
  await fs.writeFile(lock, String(process.pid));
  const tmp = path.join(paths.cacheDir, `.build-${process.pid}`);
  const logPath = path.join(paths.cacheDir, 'build.log');
  const log = createWriteStream(logPath);
  try {
    // Leftovers of earlier interrupted builds.
    for (const e of await fs.readdir(paths.cacheDir)) {
      if (e.startsWith('.build-') || e.startsWith('.old-')) await fs.rm(path.join(paths.cacheDir, e), { recursive: true, force: true });
    }
    const rootfs = path.join(tmp, 'rootfs');
    await fs.mkdir(rootfs, { recursive: true });
    await fs.mkdir(paths.debCache, { recursive: true });

    emit({ step: 'debootstrap', message: `debootstrap ${SUITE} from ${mirror}`, fraction: 0 });
    const prog = new DebootstrapProgress(emit, readManifest(paths.imageDir)?.packages ?? 240);
    const args = [
      '--variant=minbase',
      `--include=${PACKAGES.join(',')}`,
      `--cache-dir=${paths.debCache}`,
      SUITE,
      rootfs,
      mirror,
    ];
    const tail: string[] = [];
    const child = execa(tools.debootstrap!, args, { all: true, env, extendEnv: false, cancelSignal: opts.signal, reject: false, buffer: false });
    for await (const line of child.iterable({ from: 'all' })) {
      const s = String(line);
      log.write(`${s}\n`);
      tail.push(s);
      if (tail.length > 20) tail.shift();
      prog.line(s);
    }
    const res = await child;
    if (res.exitCode !== 0) {
      const evidence = [...tail].reverse().find((l) => /^E: /.test(l)) ?? tail[tail.length - 1];
      throw new FerryError({
        code: 'lab-build-failed',
        message: `debootstrap failed (exit ${res.exitCode ?? res.signal})`,
        evidence,
        hint: `Check that ${mirror} is reachable (apt-get update works), then run \`ferry lab up\` again. Full log: ${logPath}`,
      });
    }

    emit({ step: 'configure', message: 'configuring the root filesystem', fraction: 0 });
    const { hostKeys, clientPub } = await generateKeys(tools['ssh-keygen']!, tmp);
    for (const f of RECIPE_FILES) await writeFileMode(path.join(rootfs, f.path), f.content, f.mode);
    // Host keys: both VMs' pairs ride in the image; the oneshot unit installs the one for the hostname.
    for (const e of await fs.readdir(path.join(rootfs, 'etc/ssh'))) {
      if (e.startsWith('ssh_host_')) await fs.rm(path.join(rootfs, 'etc/ssh', e));
    }
    for (const h of LAB_HOSTS) {
      const d = path.join(rootfs, GUEST_HOSTKEY_DIR, h);
      await fs.mkdir(d, { recursive: true, mode: 0o700 });
      await fs.copyFile(path.join(tmp, 'hostkeys', h, 'ssh_host_ed25519_key'), path.join(d, 'ssh_host_ed25519_key'));
      await fs.chmod(path.join(d, 'ssh_host_ed25519_key'), 0o600);
      await fs.copyFile(path.join(tmp, 'hostkeys', h, 'ssh_host_ed25519_key.pub'), path.join(d, 'ssh_host_ed25519_key.pub'));
    }
    await fs.mkdir(path.join(rootfs, 'root/.ssh'), { recursive: true, mode: 0o700 });
    await fs.chmod(path.join(rootfs, 'root/.ssh'), 0o700);
    await writeFileMode(path.join(rootfs, 'root/.ssh/authorized_keys'), clientPub, 0o600);
    await fs.mkdir(path.join(rootfs, GUEST_WORKLOAD_DIR), { recursive: true });
    // The hostname comes from the kernel command line (systemd.hostname=...); nothing of the build host leaks in.
    for (const f of ['etc/hostname', 'etc/resolv.conf']) await fs.rm(path.join(rootfs, f), { force: true });
    const chroot = async (argv: string[]) => {
      const r = await execa(tools.chroot!, [rootfs, ...argv], { env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', LANG: 'C' }, extendEnv: false, reject: false, all: true });
      log.write(`chroot ${argv.join(' ')}\n${r.all ?? ''}\n`);
      if (r.exitCode !== 0) throw new FerryError({ code: 'lab-build-failed', message: `${argv.join(' ')} failed in the image`, evidence: r.all?.split('\n').pop() });
    };
    await chroot(['systemctl', 'enable', ...ENABLE_UNITS]);
    await chroot(['systemctl', 'mask', ...MASK_UNITS]);
    for (const d of ['var/cache/apt/archives', 'var/lib/apt/lists']) {
      for (const e of await fs.readdir(path.join(rootfs, d)).catch(() => [] as string[])) {
        if (e.endsWith('.deb') || e.endsWith('_Packages') || e.endsWith('Release') || e.endsWith('.gpg')) await fs.rm(path.join(rootfs, d, e), { force: true });
      }
    }
    const boot = await fs.readdir(path.join(rootfs, 'boot'));
    const vmlinuz = boot.filter((f) => f.startsWith('vmlinuz-')).sort().pop();
    const initrd = boot.filter((f) => f.startsWith('initrd.img-')).sort().pop();
    if (!vmlinuz || !initrd) throw new FerryError({ code: 'lab-build-failed', message: 'The image has no kernel or initrd in /boot', hint: 'Remove the cache (`ferry lab destroy`) and build again' });
    await fs.copyFile(path.join(rootfs, 'boot', vmlinuz), path.join(tmp, IMAGE_FILES.kernel));
    await fs.copyFile(path.join(rootfs, 'boot', initrd), path.join(tmp, IMAGE_FILES.initrd));
    emit({ step: 'configure', message: `kernel ${vmlinuz.slice('vmlinuz-'.length)}`, fraction: 1, done: true });

    emit({ step: 'mkfs', message: `mkfs.ext4 -d (${IMAGE_SIZE}, sparse)`, fraction: 0 });
    const mk = await execa(tools['mkfs.ext4']!, ['-q', '-F', '-L', 'root', '-d', rootfs, path.join(tmp, IMAGE_FILES.base), IMAGE_SIZE], {
      env,
      extendEnv: false,
      reject: false,
      all: true,
      cancelSignal: opts.signal,
    });
    if (mk.exitCode !== 0) throw new FerryError({ code: 'lab-build-failed', message: 'mkfs.ext4 failed', evidence: mk.all?.split('\n').pop() });
    await fs.rm(rootfs, { recursive: true, force: true });
    emit({ step: 'mkfs', message: 'base image written', fraction: 1, done: true });

    const sizes: Record<string, number> = {};
    for (const f of [IMAGE_FILES.base, IMAGE_FILES.kernel, IMAGE_FILES.initrd, IMAGE_FILES.clientKey, IMAGE_FILES.clientKeyPub]) {
      sizes[f] = (await fs.stat(path.join(tmp, f))).size;
    }
    const manifest: ImageManifest = {
      recipeHash: recipeHash(),
      recipeVersion: RECIPE_VERSION,
      createdAt: new Date().toISOString(),
      buildSeconds: Math.round((Date.now() - started) / 100) / 10,
      mirror,
      kernel: vmlinuz.slice('vmlinuz-'.length),
      packages: prog.total,
      sizes,
      hostKeys,
    };
    // Last: the manifest marks the build complete.
    await fs.writeFile(path.join(tmp, IMAGE_FILES.manifest), `${JSON.stringify(manifest, null, 2)}\n`);
    if (existsSync(paths.imageDir)) {
      const old = path.join(paths.cacheDir, `.old-${Date.now()}`);
      await fs.rename(paths.imageDir, old);
      await fs.rm(old, { recursive: true, force: true });
    }
    await fs.rename(tmp, paths.imageDir);
    return manifest;
  } finally {
    log.end();
    await fs.rm(tmp, { recursive: true, force: true }).catch(() => {});
    await fs.rm(lock, { force: true }).catch(() => {});
  }
}

async function generateKeys(sshKeygen: string, dir: string): Promise<{ hostKeys: Record<LabHost, string>; clientPub: string }> {
  const gen = async (file: string, comment: string) => {
    await fs.mkdir(path.dirname(file), { recursive: true });
    await execa(sshKeygen, ['-q', '-t', 'ed25519', '-N', '', '-C', comment, '-f', file]);
    return (await fs.readFile(`${file}.pub`, 'utf8')).trim();
  };
  const clientPub = await gen(path.join(dir, IMAGE_FILES.clientKey), 'ferry-lab');
  const hostKeys = {} as Record<LabHost, string>;
  for (const h of LAB_HOSTS) {
    const pub = await gen(path.join(dir, 'hostkeys', h, 'ssh_host_ed25519_key'), `root@${h}`);
    // Keep "type base64" only; the comment is not part of the key.
    hostKeys[h] = pub.split(/\s+/).slice(0, 2).join(' ');
  }
  return { hostKeys, clientPub: `${clientPub}\n` };
}

export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Short fingerprint of a string (used in status output). */
export const shortHash = (s: string) => createHash('sha256').update(s).digest('hex').slice(0, 12);

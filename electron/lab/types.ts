/** Public types of the rehearsal lab (two local qemu VMs with real CRIU). */

export type LabHost = 'source' | 'target';
export const LAB_HOSTS: readonly LabHost[] = ['source', 'target'];

/** SSH alias under which a lab VM appears in Ferry's ssh_config. */
export const labAlias = (host: LabHost): string => `lab-${host}`;

export type Accel = 'tcg' | 'kvm';

export interface LabPorts {
  /** Loopback TCP port forwarded to each VM's sshd (127.0.0.1:PORT -> guest:22). */
  ssh: Record<LabHost, number>;
  /** Loopback UDP ports carrying the private VM-to-VM link (qemu -netdev dgram). */
  link: Record<LabHost, number>;
}

export const DEFAULT_PORTS: LabPorts = {
  ssh: { source: 2221, target: 2222 },
  link: { source: 10001, target: 10002 },
};

/** Private link addresses (10.0.0.0/24 exists only on the qemu link between the two guests). */
export const LINK_ADDR: Record<LabHost, string> = { source: '10.0.0.1', target: '10.0.0.2' };
/** MACs the guests' networkd matches on: user-mode NIC and private-link NIC. */
export const USER_MAC: Record<LabHost, string> = { source: '52:54:00:12:34:01', target: '52:54:00:12:34:02' };
export const LINK_MAC: Record<LabHost, string> = { source: '52:54:00:00:00:01', target: '52:54:00:00:00:02' };

export type LabStep = 'preflight' | 'image' | 'debootstrap' | 'configure' | 'mkfs' | 'overlay' | 'boot' | 'ssh' | 'trust' | 'ready';

/** Progress of a long lab operation. `fraction` (0..1) when the step knows how far it is. */
export interface LabProgress {
  step: LabStep;
  /** The VM the event is about, for per-VM steps (boot, ssh). */
  host?: LabHost;
  message: string;
  fraction?: number;
  /** true on the last event of a step. */
  done?: boolean;
  /** A heartbeat of a step still running (no fraction known): a display may redraw one line. */
  active?: boolean;
}

export type ProgressFn = (p: LabProgress) => void;

export interface LabEnvOptions {
  /** Environment to resolve Ferry's paths from (FERRY_HOME, FERRY_LAB_CACHE, XDG_*, PATH). Default process.env. */
  env?: NodeJS.ProcessEnv;
}

export interface LabUpOptions extends LabEnvOptions {
  ports?: Partial<{ ssh: Partial<Record<LabHost, number>>; link: Partial<Record<LabHost, number>> }>;
  /** 'auto' (default): KVM only when the CPU shows vmx/svm and /dev/kvm works; otherwise TCG. */
  accel?: Accel | 'auto';
  /** Guest memory in MiB (default 1024). */
  memoryMiB?: number;
  /** How long to wait for each VM's sshd (default 180 s under TCG, 60 s under KVM). */
  sshTimeoutMs?: number;
  /** Rebuild the image even when the cache is valid. */
  rebuild?: boolean;
  /** Debian mirror for debootstrap (default: read from this machine's apt sources). */
  mirror?: string;
  signal?: AbortSignal;
  /**
   * 'auto' (default): resume each VM from its saved post-boot state when there is one for this
   * image, memory size and qemu; otherwise boot cold and save one. 'cold': boot cold, save nothing.
   */
  boot?: 'auto' | 'cold';
}

/** How one VM came up. */
export interface VmBoot {
  /** 'resumed': from a saved post-boot state; 'cold': kernel and systemd booted now. */
  how: 'resumed' | 'cold';
  /** This `up` booted cold, saved the state and resumed from it (the first `up` of a key). */
  saved?: boolean;
  /** Why a saved state could not be used, when `up` fell back to a cold boot. */
  fallback?: string;
  /** After a resume: the guest clock's offset from the host's once set, ms (positive: ahead). */
  clockSkewMs?: number;
}

export interface ImageInfo {
  state: 'ready' | 'missing' | 'incomplete' | 'stale';
  dir: string;
  /** Why the image is not ready (no manifest, recipe changed, a file missing). */
  reason?: string;
  recipeHash?: string;
  createdAt?: string;
  ageSeconds?: number;
  /** Bytes actually used on disk by the image dir (the base image is sparse). */
  diskBytes?: number;
  sizes?: Record<string, number>;
  kernel?: string;
}

export interface VmStatus {
  host: LabHost;
  alias: string;
  pid?: number;
  running: boolean;
  sshPort?: number;
  linkPort?: number;
  /** Ferry's SSH layer logged in just now (host key verified), as a migration would. */
  reachable: boolean;
  /** When not reachable: what the connection said (e.g. host-key-changed, with its fix). */
  problem?: { code: string; message: string; hint?: string };
  serialLog: string;
}

export interface LabStatus {
  up: boolean;
  accel?: Accel;
  startedAt?: string;
  vms: VmStatus[];
  image: ImageInfo;
  cacheDir: string;
  runDir: string;
  sshConfig: string;
  knownHosts: string;
}

export interface LabUpResult {
  accel: Accel;
  ports: LabPorts;
  image: ImageInfo;
  built: boolean;
  /** ms: image build (0 when reused), boot to ssh-ready of the slower VM, total. */
  timings: { buildMs: number; bootMs: number; totalMs: number; perVm: Record<LabHost, number> };
  alreadyUp: boolean;
  /** How each VM came up (absent when the lab was already up). */
  boot?: Record<LabHost, VmBoot>;
}

export interface WorkloadOptions extends LabEnvOptions {
  host?: LabHost;
  /** MiB of memory the workload holds (default 64). */
  mib?: number;
  /** Pages dirtied per second (default 1000). */
  rate?: number;
  /** PID to start at (default 50000; must be free on both VMs so CRIU can restore it). */
  pid?: number;
  /** Name of the run: files are /var/lib/ferry-workload/NAME.{status,out} on the VM. */
  name?: string;
}

export interface WorkloadStarted {
  host: LabHost;
  pid: number;
  statusFile: string;
  outFile: string;
}

export interface WorkloadStatusLine {
  raw: string;
  time: string;
  host: string;
  pid: number;
  counter: number;
  verify: 'OK' | 'FAIL' | string;
  bad: number;
}

import { createHash } from 'node:crypto';
import { LAB_HOSTS, LINK_ADDR, LINK_MAC, USER_MAC } from './types.ts';
import { WORKLOAD_SCRIPT } from './workload-script.ts';

/**
 * The lab image recipe: everything that goes into the image apart from generated keys.
 * Its hash is stored in the image manifest; when it changes, the image is rebuilt.
 * Bump RECIPE_VERSION when the build steps in image.ts change in a way that matters.
 */
export const RECIPE_VERSION = 1;
export const SUITE = 'bookworm';
export const IMAGE_SIZE = '2G';

export const PACKAGES = [
  'linux-image-amd64',
  'initramfs-tools',
  'systemd-sysv',
  'udev',
  'kmod',
  'criu',
  'openssh-server',
  'iproute2',
  'python3',
  'python3-protobuf',
  'procps',
  'rsync',
  // What real hosts have, for real services with their clients: CRIU's network lock for
  // --tcp-established (iptables-restore by default, or nftables), arping to announce a moved
  // service address, socat for test clients, and two real servers for the workload zoo.
  'iptables',
  'nftables',
  'arping',
  'socat',
  'redis-server',
  'nginx-light',
] as const;

/** Units enabled / masked in the rootfs (systemctl in a chroot). */
export const ENABLE_UNITS = ['systemd-networkd.service', 'ferry-lab-hostkey.service'] as const;
export const MASK_UNITS = [
  'systemd-networkd-wait-online.service',
  // Periodic jobs would compete for the single, slow TCG vCPU during a rehearsal.
  'apt-daily.timer',
  'apt-daily-upgrade.timer',
  'e2scrub_all.timer',
  'fstrim.timer',
  // Measured under TCG: e2scrub_reap alone took 28 s of the single vCPU at boot, getty-static 8 s
  // (it only adds gettys on tty2-6, which a headless VM never shows). The serial getty stays.
  'e2scrub_reap.service',
  'getty-static.service',
  // The zoo's servers are started by the tests that migrate them (as session leaders CRIU can
  // dump), never at boot: they would hold PIDs and the vCPU.
  'redis-server.service',
  'nginx.service',
] as const;

/** Directory in the guests holding both VMs' SSH host keys; the oneshot unit picks by hostname. */
export const GUEST_HOSTKEY_DIR = '/etc/ssh/ferry-lab';
/** Where the workload's status and stdout files live on both VMs (same path on each, for CRIU). */
export const GUEST_WORKLOAD_DIR = '/var/lib/ferry-workload';
export const GUEST_WORKLOAD_BIN = '/usr/local/bin/ferry-workload';

export interface RecipeFile {
  path: string;
  mode: number;
  content: string;
}

const networkFiles = (): RecipeFile[] => {
  const files: RecipeFile[] = [
    {
      path: '/etc/systemd/network/10-ferry-user.network',
      mode: 0o644,
      content: `# User-mode NIC (qemu slirp, restrict=on): SSH from the host only.
[Match]
MACAddress=${LAB_HOSTS.map((h) => USER_MAC[h]).join(' ')}

[Network]
DHCP=ipv4
`,
    },
  ];
  for (const h of LAB_HOSTS) {
    files.push({
      path: `/etc/systemd/network/20-ferry-link-${h}.network`,
      mode: 0o644,
      content: `# Private VM-to-VM link of the ${h} VM.
[Match]
MACAddress=${LINK_MAC[h]}

[Network]
Address=${LINK_ADDR[h]}/24
LinkLocalAddressing=no
`,
    });
  }
  return files;
};

export const RECIPE_FILES: RecipeFile[] = [
  { path: '/etc/fstab', mode: 0o644, content: '# root is mounted by the kernel command line (root=/dev/vda rw)\n' },
  {
    path: '/etc/hosts',
    mode: 0o644,
    content: `127.0.0.1 localhost\n${LAB_HOSTS.map((h) => `${LINK_ADDR[h]} ${h}`).join('\n')}\n`,
  },
  ...networkFiles(),
  {
    path: '/etc/ssh/sshd_config.d/ferry-lab.conf',
    mode: 0o644,
    content: `# Ferry lab: one host key, installed at boot by ferry-lab-hostkey.service; keys only.
HostKey /etc/ssh/ssh_host_ed25519_key
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UseDNS no
`,
  },
  {
    path: '/usr/local/sbin/ferry-lab-hostkey',
    mode: 0o755,
    content: `#!/bin/sh
# Install the SSH host key pair of this VM (chosen by hostname, set from the kernel
# command line: systemd.hostname=source|target). Both pairs were generated when the
# image was built and Ferry knows their public halves, so the host is verified normally.
set -eu
h=$(hostname)
d=${GUEST_HOSTKEY_DIR}/$h
if [ ! -f "$d/ssh_host_ed25519_key" ]; then
  echo "ferry-lab-hostkey: no host key for hostname '$h' in ${GUEST_HOSTKEY_DIR}" >&2
  exit 1
fi
install -m 600 -o root -g root "$d/ssh_host_ed25519_key" /etc/ssh/ssh_host_ed25519_key
install -m 644 -o root -g root "$d/ssh_host_ed25519_key.pub" /etc/ssh/ssh_host_ed25519_key.pub
`,
  },
  {
    path: '/etc/systemd/system/ferry-lab-hostkey.service',
    mode: 0o644,
    content: `[Unit]
Description=Install this lab VM's SSH host key (Ferry)
Before=ssh.service
DefaultDependencies=yes

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/usr/local/sbin/ferry-lab-hostkey

[Install]
WantedBy=multi-user.target
RequiredBy=ssh.service
`,
  },
  {
    path: '/etc/systemd/journald.conf.d/ferry-lab.conf',
    mode: 0o644,
    content: '[Journal]\nStorage=volatile\n',
  },
  { path: GUEST_WORKLOAD_BIN, mode: 0o755, content: WORKLOAD_SCRIPT },
];

/** Inputs of the build, hashed. The mirror is not an input: any mirror gives the same image. */
export interface RecipeInputs {
  version: number;
  suite: string;
  imageSize: string;
  packages: readonly string[];
  enable: readonly string[];
  mask: readonly string[];
  files: RecipeFile[];
}

export const RECIPE: RecipeInputs = {
  version: RECIPE_VERSION,
  suite: SUITE,
  imageSize: IMAGE_SIZE,
  packages: PACKAGES,
  enable: ENABLE_UNITS,
  mask: MASK_UNITS,
  files: RECIPE_FILES,
};

/** sha256 of a canonical JSON of the recipe (files sorted by path, so order does not matter). */
export function recipeHash(r: RecipeInputs = RECIPE): string {
  const canonical = {
    version: r.version,
    suite: r.suite,
    imageSize: r.imageSize,
    packages: [...r.packages].sort(),
    enable: [...r.enable].sort(),
    mask: [...r.mask].sort(),
    files: [...r.files].sort((a, b) => a.path.localeCompare(b.path)).map((f) => [f.path, f.mode, f.content]),
  };
  return createHash('sha256').update(JSON.stringify(canonical)).digest('hex');
}

import { accessSync, constants } from 'node:fs';
import path from 'node:path';
import { FerryError } from '../../shared/errors.ts';

/** Host tools the lab runs, and the Debian package that ships each. */
export const TOOL_PACKAGES = {
  'qemu-system-x86_64': 'qemu-system-x86',
  'qemu-img': 'qemu-utils',
  debootstrap: 'debootstrap',
  'mkfs.ext4': 'e2fsprogs',
  'ssh-keygen': 'openssh-client',
  chroot: 'coreutils',
} as const;

export type Tool = keyof typeof TOOL_PACKAGES;

/** Tools needed to build the image, and to boot it. */
export const BUILD_TOOLS: Tool[] = ['debootstrap', 'mkfs.ext4', 'ssh-keygen', 'chroot'];
export const BOOT_TOOLS: Tool[] = ['qemu-system-x86_64', 'qemu-img'];

/** Absolute path of `name` on env.PATH, or undefined. */
export function which(name: string, env: NodeJS.ProcessEnv = process.env): string | undefined {
  for (const dir of (env.PATH ?? '').split(path.delimiter)) {
    if (!dir) continue;
    const p = path.join(dir, name);
    try {
      accessSync(p, constants.X_OK);
      return p;
    } catch {
      /* next */
    }
  }
  return undefined;
}

/** Resolve every tool or throw one FerryError naming all missing ones and their Debian packages. */
export function requireTools(tools: Tool[], env: NodeJS.ProcessEnv = process.env): Record<Tool, string> {
  const found: Partial<Record<Tool, string>> = {};
  const missing: Tool[] = [];
  for (const t of tools) {
    const p = which(t, env);
    if (p) found[t] = p;
    else missing.push(t);
  }
  if (missing.length > 0) {
    const pkgs = [...new Set(missing.map((t) => TOOL_PACKAGES[t]))];
    const sbin = missing.some((t) => t === 'debootstrap' || t === 'mkfs.ext4' || t === 'chroot');
    throw new FerryError({
      code: 'lab-tool-missing',
      message: `The lab needs ${missing.join(', ')}, not found on PATH`,
      hint:
        `Install ${pkgs.length > 1 ? 'the Debian packages' : 'the Debian package'} ${pkgs.join(' ')}: sudo apt-get install ${pkgs.join(' ')}` +
        (sbin ? ' (debootstrap and mkfs.ext4 live in /usr/sbin: make sure it is on PATH)' : ''),
    });
  }
  return found as Record<Tool, string>;
}

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { isFerryError } from '../../shared/errors.ts';
import { labPaths } from './context.ts';
import { buildPreflight } from './image.ts';
import { labUp } from './index.ts';
import { requireTools, which } from './tools.ts';

/** A PATH holding only the named tools (as stub executables). */
function fakePath(tools: string[]): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ferry-lab-path-'));
  for (const t of tools) fs.writeFileSync(path.join(dir, t), '#!/bin/sh\nexit 0\n', { mode: 0o755 });
  return dir;
}

describe('missing tools', () => {
  it('names each missing tool and its Debian package', () => {
    const env = { PATH: fakePath(['ssh-keygen', 'chroot']) };
    const err = (() => {
      try {
        requireTools(['debootstrap', 'mkfs.ext4', 'qemu-img', 'qemu-system-x86_64', 'ssh-keygen'], env);
      } catch (e) {
        return e;
      }
    })() as import('../../shared/errors.ts').FerryError;
    expect(isFerryError(err)).toBe(true);
    expect(err.code).toBe('lab-tool-missing');
    expect(err.message).toContain('debootstrap, mkfs.ext4, qemu-img, qemu-system-x86_64');
    for (const pkg of ['debootstrap', 'e2fsprogs', 'qemu-utils', 'qemu-system-x86']) expect(err.hint).toContain(pkg);
  });

  it('finds tools on the given PATH only', () => {
    const dir = fakePath(['qemu-img']);
    expect(which('qemu-img', { PATH: dir })).toBe(path.join(dir, 'qemu-img'));
    expect(which('qemu-img', { PATH: '' })).toBeUndefined();
  });

  it('labUp fails before doing anything when qemu is missing', async () => {
    const home = fs.mkdtempSync(path.join(os.tmpdir(), 'ferry-lab-home-'));
    const env = { PATH: fakePath(['qemu-img']), FERRY_HOME: home, HOME: home };
    const err = await labUp({ env }).catch((e) => e);
    expect(err.code).toBe('lab-tool-missing');
    expect(err.hint).toContain('qemu-system-x86');
    expect(fs.readdirSync(home)).toEqual([]);
  });

  it('the image build needs root', () => {
    const home = fs.mkdtempSync(path.join(os.tmpdir(), 'ferry-lab-home-'));
    const env = { PATH: fakePath(['debootstrap', 'mkfs.ext4', 'ssh-keygen', 'chroot']), FERRY_HOME: home };
    const err = (() => {
      try {
        buildPreflight(labPaths(env), { env, uid: 1000 });
      } catch (e) {
        return e;
      }
    })() as import('../../shared/errors.ts').FerryError;
    expect(err.code).toBe('lab-build-needs-root');
    expect(err.hint).toMatch(/root/);
  });

  it('the image build is missing debootstrap → names the package', () => {
    const home = fs.mkdtempSync(path.join(os.tmpdir(), 'ferry-lab-home-'));
    const env = { PATH: fakePath(['mkfs.ext4', 'ssh-keygen', 'chroot']), FERRY_HOME: home };
    expect(() => buildPreflight(labPaths(env), { env, uid: 0 })).toThrow(/debootstrap/);
  });
});

describe('disk space', () => {
  it('refuses to build without ~3 GB free, naming the fix', () => {
    const home = fs.mkdtempSync(path.join(os.tmpdir(), 'ferry-lab-home-'));
    const env = { PATH: fakePath(['debootstrap', 'mkfs.ext4', 'ssh-keygen', 'chroot']), FERRY_HOME: home };
    const err = (() => {
      try {
        buildPreflight(labPaths(env), { env, uid: 0, minFreeBytes: Number.MAX_SAFE_INTEGER });
      } catch (e) {
        return e;
      }
    })() as import('../../shared/errors.ts').FerryError;
    expect(err.code).toBe('lab-disk-full');
    expect(err.hint).toMatch(/FERRY_LAB_CACHE/);
  });
});

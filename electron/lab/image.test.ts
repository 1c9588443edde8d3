import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { DebootstrapProgress, inspectImage, type ImageManifest } from './image.ts';
import { mirrorFromAptSources } from './mirror.ts';
import { RECIPE, recipeHash } from './recipe.ts';
import type { LabProgress } from './types.ts';

describe('recipe hash', () => {
  it('is stable and ignores the order of packages and files', () => {
    const h = recipeHash();
    expect(h).toMatch(/^[0-9a-f]{64}$/);
    expect(recipeHash({ ...RECIPE, packages: [...RECIPE.packages].reverse(), files: [...RECIPE.files].reverse() })).toBe(h);
  });

  it('changes with the package list, a config file, the workload source, or the version', () => {
    const h = recipeHash();
    expect(recipeHash({ ...RECIPE, packages: [...RECIPE.packages, 'strace'] })).not.toBe(h);
    const files = RECIPE.files.map((f) => (f.path === '/etc/hosts' ? { ...f, content: `${f.content}# x\n` } : f));
    expect(recipeHash({ ...RECIPE, files })).not.toBe(h);
    const wl = RECIPE.files.map((f) => (f.path === '/usr/local/bin/ferry-workload' ? { ...f, content: f.content.replace('PAGE = 4096', 'PAGE = 4097') } : f));
    expect(recipeHash({ ...RECIPE, files: wl })).not.toBe(h);
    expect(recipeHash({ ...RECIPE, version: RECIPE.version + 1 })).not.toBe(h);
  });

  it('ships the workload and the host-key unit in the image', () => {
    const paths = RECIPE.files.map((f) => f.path);
    expect(paths).toContain('/usr/local/bin/ferry-workload');
    expect(paths).toContain('/etc/systemd/system/ferry-lab-hostkey.service');
    const unit = RECIPE.files.find((f) => f.path.endsWith('ferry-lab-hostkey.service'))!;
    expect(unit.content).toMatch(/Before=ssh\.service/);
  });
});

function fakeImage(manifest?: Partial<ImageManifest>, files: Record<string, string> = { 'base.img': 'xxxx', vmlinuz: 'k', 'initrd.img': 'ii' }): string {
  const dir = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'ferry-lab-img-')), 'image');
  fs.mkdirSync(dir);
  for (const [f, c] of Object.entries(files)) fs.writeFileSync(path.join(dir, f), c);
  if (manifest) {
    const m: ImageManifest = {
      recipeHash: recipeHash(),
      recipeVersion: 1,
      createdAt: new Date(Date.now() - 3600_000).toISOString(),
      buildSeconds: 100,
      mirror: 'http://deb.debian.org/debian',
      kernel: '6.1.0-x-amd64',
      packages: 164,
      sizes: { 'base.img': 4, vmlinuz: 1, 'initrd.img': 2 },
      hostKeys: { source: 'ssh-ed25519 AAAAs', target: 'ssh-ed25519 AAAAt' },
      ...manifest,
    };
    fs.writeFileSync(path.join(dir, 'manifest.json'), JSON.stringify(m));
  }
  return dir;
}

describe('half-built cache detection', () => {
  it('missing dir → missing', () => {
    expect(inspectImage('/nonexistent/ferry/image').state).toBe('missing');
  });
  it('files but no manifest (build stopped half way) → incomplete', () => {
    const info = inspectImage(fakeImage(undefined));
    expect(info.state).toBe('incomplete');
    expect(info.reason).toMatch(/manifest/);
  });
  it('recipe hash differs → stale', () => {
    expect(inspectImage(fakeImage({ recipeHash: 'f'.repeat(64) })).state).toBe('stale');
  });
  it('a file missing or of another size → incomplete', () => {
    expect(inspectImage(fakeImage({}, { 'base.img': 'xxxx', vmlinuz: 'k' })).reason).toMatch(/initrd.img is missing/);
    const info = inspectImage(fakeImage({}, { 'base.img': 'xx', vmlinuz: 'k', 'initrd.img': 'ii' }));
    expect(info.state).toBe('incomplete');
    expect(info.reason).toMatch(/base.img has size 2/);
  });
  it('complete and current → ready, with its age', () => {
    const info = inspectImage(fakeImage({}));
    expect(info.state).toBe('ready');
    expect(info.ageSeconds).toBeGreaterThanOrEqual(3599);
    expect(info.kernel).toBe('6.1.0-x-amd64');
  });
});

describe('debootstrap progress', () => {
  it('turns I: lines into phases with rising fractions', () => {
    const ev: LabProgress[] = [];
    const p = new DebootstrapProgress((e) => ev.push(e), 3);
    for (const l of [
      'I: Retrieving InRelease',
      'I: Retrieving a 1',
      'I: Validating a 1',
      'I: Validating b 1',
      'I: Validating c 1',
      'I: Extracting a...',
      'I: Installing core packages...',
      'I: Unpacking required packages...',
      'I: Unpacking a...',
      'I: Configuring a...',
      'I: Base system installed successfully.',
    ])
      p.line(l);
    const fr = ev.filter((e) => e.fraction !== undefined && e.fraction > 0).map((e) => e.fraction!);
    expect(fr.length).toBeGreaterThan(3);
    expect([...fr].sort((a, b) => a - b)).toEqual(fr);
    expect(ev.at(-1)).toMatchObject({ fraction: 1, done: true });
    expect(ev.some((e) => e.message.startsWith('unpack 1/3: a'))).toBe(true);
  });
});

describe('mirror from apt sources', () => {
  it('reads the main archive from deb822, skipping security and third parties', () => {
    const deb822 = `Types: deb\nURIs: http://deb.debian.org/debian\nSuites: bookworm bookworm-updates\nComponents: main\n\nTypes: deb\nURIs: http://deb.debian.org/debian-security\nSuites: bookworm-security\nComponents: main\n`;
    expect(mirrorFromAptSources(['Types: deb\nURIs: https://deb.nodesource.com/node_20.x\nSuites: nodistro\n', deb822])).toBe('http://deb.debian.org/debian');
  });
  it('reads one-line sources', () => {
    expect(mirrorFromAptSources(['# c\ndeb [arch=amd64] http://ftp.fr.debian.org/debian/ bookworm main\n'])).toBe('http://ftp.fr.debian.org/debian');
    expect(mirrorFromAptSources(['deb http://security.debian.org/debian-security bookworm-security main\n'])).toBeUndefined();
  });
});

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { BLOCK_BEGIN, BLOCK_END, rewriteManagedBlock, writeLabSshFiles, type LabHostEntry } from './sshfiles.ts';

const hosts: LabHostEntry[] = [
  { alias: 'lab-source', port: 2221, hostKey: 'ssh-ed25519 AAAAsource' },
  { alias: 'lab-target', port: 2222, hostKey: 'ssh-ed25519 AAAAtarget' },
];

describe('rewriteManagedBlock', () => {
  it('adds a block to an empty file', () => {
    expect(rewriteManagedBlock('', 'Host a\n')).toBe(`${BLOCK_BEGIN}\nHost a\n${BLOCK_END}\n`);
  });

  it('is idempotent and keeps the rest of the file', () => {
    const user = '# mine\nHost prod\n  HostName 10.1.1.1\n';
    const once = rewriteManagedBlock(user, 'Host a\n');
    expect(rewriteManagedBlock(once, 'Host a\n')).toBe(once);
    expect(once.startsWith(user)).toBe(true);
  });

  it('replaces an old block in place of nothing else and moves it last', () => {
    const text = `Host first\n\n${BLOCK_BEGIN}\nHost old\n${BLOCK_END}\nHost after\n  User x\n`;
    const out = rewriteManagedBlock(text, 'Host new\n');
    expect(out).not.toContain('Host old');
    // user lines after the old block stay, and come before ours: no Host section swallows them
    expect(out).toBe(`Host first\n\nHost after\n  User x\n\n${BLOCK_BEGIN}\nHost new\n${BLOCK_END}\n`);
  });

  it('removes the block with body null', () => {
    const text = `Host keep\n\n${BLOCK_BEGIN}\nHost x\n${BLOCK_END}\n`;
    expect(rewriteManagedBlock(text, null)).toBe('Host keep\n');
    expect(rewriteManagedBlock(`${BLOCK_BEGIN}\nx\n${BLOCK_END}\n`, null)).toBe('');
  });
});

describe('writeLabSshFiles', () => {
  it('writes ssh_config and known_hosts blocks, preserving other content, and removes them', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ferry-lab-ssh-'));
    const files = { sshConfig: path.join(dir, 'config', 'ssh_config'), knownHosts: path.join(dir, 'config', 'known_hosts') };
    fs.mkdirSync(path.dirname(files.sshConfig));
    fs.writeFileSync(files.knownHosts, 'example.org ssh-ed25519 AAAAother\n');
    await writeLabSshFiles(files, hosts, '/cache/lab/image/lab_ed25519');
    const cfg = fs.readFileSync(files.sshConfig, 'utf8');
    expect(cfg).toContain('Host lab-source\n  HostName 127.0.0.1\n  Port 2221\n  User root\n  IdentityFile /cache/lab/image/lab_ed25519\n  IdentitiesOnly yes\n');
    expect(cfg).toContain('Host lab-target\n  HostName 127.0.0.1\n  Port 2222\n');
    const kh = fs.readFileSync(files.knownHosts, 'utf8');
    expect(kh).toBe(`example.org ssh-ed25519 AAAAother\n\n${BLOCK_BEGIN}\n[127.0.0.1]:2221 ssh-ed25519 AAAAsource\n[127.0.0.1]:2222 ssh-ed25519 AAAAtarget\n${BLOCK_END}\n`);
    // new ports: rewritten, not appended
    await writeLabSshFiles(files, hosts.map((h) => ({ ...h, port: h.port + 10 })), '/k');
    const kh2 = fs.readFileSync(files.knownHosts, 'utf8');
    expect(kh2).not.toContain(':2221 ');
    expect(kh2.match(/\[127\.0\.0\.1\]/g)).toHaveLength(2);
    expect(fs.statSync(files.knownHosts).mode & 0o777).toBe(0o600);
    await writeLabSshFiles(files, null, '/k');
    expect(fs.readFileSync(files.knownHosts, 'utf8')).toBe('example.org ssh-ed25519 AAAAother\n');
    expect(fs.readFileSync(files.sshConfig, 'utf8')).toBe('');
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('quotes an IdentityFile path with spaces', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ferry-lab-ssh-'));
    const files = { sshConfig: path.join(dir, 'ssh_config'), knownHosts: path.join(dir, 'known_hosts') };
    await writeLabSshFiles(files, hosts, '/My Cache/lab_ed25519');
    expect(fs.readFileSync(files.sshConfig, 'utf8')).toContain('IdentityFile "/My Cache/lab_ed25519"');
    fs.rmSync(dir, { recursive: true, force: true });
  });
});

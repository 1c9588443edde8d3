import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { newPlan } from '../../../shared/api.ts';
import { resolveHost } from '../../ssh/config.ts';
import { makeTestHome } from '../../ssh/testing/fixture.ts';
import { writeLabSshFiles } from '../../lab/sshfiles.ts';
import { LINK_ADDR } from '../../lab/types.ts';
import { addressFix, parseAddresses, parseRoute, withMigrationAddress } from './addresses.ts';

describe('a host carries the address where other hosts reach it', () => {
  it('the lab writes each VM\'s private-link address into Ferry\'s ssh_config, and Ferry reads it back', async () => {
    const th = makeTestHome();
    try {
      await writeLabSshFiles(
        { sshConfig: th.ferrySshConfig, knownHosts: th.ferryKnownHosts },
        [
          { alias: 'lab-source', port: 2221, hostKey: 'ssh-ed25519 AAAAsource', migrationAddress: LINK_ADDR.source },
          { alias: 'lab-target', port: 2222, hostKey: 'ssh-ed25519 AAAAtarget', migrationAddress: LINK_ADDR.target },
        ],
        '/keys/lab',
      );
      expect((await resolveHost('lab-target', th.env)).migrationAddress).toBe('10.0.0.2');
      expect((await resolveHost('lab-source', th.env)).migrationAddress).toBe('10.0.0.1');
      // The same file stays valid for OpenSSH itself (ssh -F), which skips the keyword.
      const g = execFileSync('ssh', ['-G', '-F', th.ferrySshConfig, 'lab-target'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
      expect(g).toMatch(/^port 2222$/m);
    } finally {
      th.cleanup();
    }
  });

  it('is settable for any host by hand in Ferry\'s ssh_config', async () => {
    const th = makeTestHome();
    try {
      // As the README says: IgnoreUnknown once at the top (for OpenSSH), the address under the host.
      fs.writeFileSync(th.ferrySshConfig, 'IgnoreUnknown FerryMigrationAddress\n\nHost db-b\n  HostName db-b.example.net\n  FerryMigrationAddress 192.168.40.12\n\nHost db-c\n  HostName db-c.example.net\n');
      expect((await resolveHost('db-b', th.env)).migrationAddress).toBe('192.168.40.12');
      expect((await resolveHost('elsewhere', th.env)).migrationAddress).toBeUndefined();
      execFileSync('ssh', ['-G', '-F', th.ferrySshConfig, 'db-c'], { stdio: 'ignore' });
    } finally {
      th.cleanup();
    }
  });

  it('becomes the default page-server address; an address the user gave stands', async () => {
    const addressOf = async (alias: string) => ({ 'lab-target': '10.0.0.2' })[alias];
    const byDefault = newPlan({ source: 'lab-source', target: 'lab-target', pid: 50000 });
    expect(byDefault.targetAddress).toBe('lab-target');
    expect((await withMigrationAddress(byDefault, addressOf)).targetAddress).toBe('10.0.0.2');
    const given = newPlan({ source: 'lab-source', target: 'lab-target', pid: 50000, targetAddress: '10.9.9.9' });
    expect((await withMigrationAddress(given, addressOf)).targetAddress).toBe('10.9.9.9');
    const unknown = newPlan({ source: 'a', target: 'b', pid: 1 });
    expect((await withMigrationAddress(unknown, addressOf)).targetAddress).toBe('b');
  });
});

describe('naming the address to use when it is wrong', () => {
  // `ip -o addr show` and `ip -o route get` as this Debian machine printed them.
  const addr = [
    '1: lo    inet 127.0.0.1/8 scope host lo\\       valid_lft forever preferred_lft forever',
    '1: lo    inet6 ::1/128 scope host \\       valid_lft forever preferred_lft forever',
    '4: eth0    inet 192.0.2.2/24 brd 192.0.2.255 scope global eth0\\       valid_lft forever preferred_lft forever',
    '4: eth0    inet6 fd00::2/64 scope global nodad \\       valid_lft forever preferred_lft forever',
    '4: eth0    inet6 fe80::fc:ff:fe00:1/64 scope link \\       valid_lft forever preferred_lft forever',
  ].join('\n');

  it('reads the global addresses of a host', () => {
    expect(parseAddresses(addr)).toEqual([
      { dev: 'eth0', address: '192.0.2.2' },
      { dev: 'eth0', address: 'fd00::2' },
    ]);
  });

  it('tells a local, a direct and a routed address apart', () => {
    expect(parseRoute('local 127.0.0.1 dev lo src 127.0.0.1 uid 0 \\    cache <local> ')).toEqual({ kind: 'local', dev: 'lo', src: '127.0.0.1' });
    expect(parseRoute('8.8.8.8 via 192.0.2.1 dev eth0 src 192.0.2.2 uid 0 \\    cache ')).toEqual({ kind: 'via', dev: 'eth0', src: '192.0.2.2' });
    expect(parseRoute('10.0.0.2 dev eth1 src 10.0.0.1 uid 0 \\    cache ')).toEqual({ kind: 'direct', dev: 'eth1', src: '10.0.0.1' });
    expect(parseRoute('Error: any valid prefix is expected rather than "lab-target".')).toBeUndefined();
  });

  it('the fix names the route, the address, and where to set it once', () => {
    const plan = newPlan({ source: 'lab-source', target: 'lab-target', pid: 50000, targetAddress: '10.0.2.15' });
    const fix = addressFix(plan, { route: 'local 10.0.2.15 dev lo src 10.0.2.15 uid 0', suggestion: { address: '10.0.0.2', dev: 'eth1', via: 'eth1' } }, 27000);
    expect(fix).toContain('route from lab-source to 10.0.2.15: local 10.0.2.15');
    expect(fix).toContain('use --target-address 10.0.0.2');
    expect(fix).toContain('FerryMigrationAddress 10.0.0.2');
    expect(addressFix(plan, { route: 'unknown' }, 27000)).toContain('--target-address');
  });
});

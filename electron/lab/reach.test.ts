import fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { formatStatus } from '../cli/commands/lab.ts';
import { hostBlock, knownHostsLine, makeTestHome } from '../ssh/testing/fixture.ts';
import { startSshd, type TestSshd } from '../ssh/testing/sshd.ts';
import { vmReachability } from './reach.ts';
import type { LabStatus } from './types.ts';

// A real OpenSSH server stands in for a lab VM, entered in Ferry's own ssh_config and
// known_hosts as `ferry lab up` writes them.
let sshd: TestSshd;
beforeAll(async () => {
  sshd = await startSshd();
});
afterAll(async () => {
  await sshd?.stop();
});

function labHome() {
  const th = makeTestHome();
  fs.writeFileSync(th.ferrySshConfig, hostBlock('lab-target', sshd));
  fs.writeFileSync(th.ferryKnownHosts, knownHostsLine(sshd));
  return th;
}

describe('lab status: reachable means a connection would work', () => {
  test('a VM with its recorded host key is reachable', async () => {
    const th = labHome();
    try {
      expect(await vmReachability('lab-target', sshd.port, th.env)).toEqual({ reachable: true });
    } finally {
      th.cleanup();
    }
  });

  test('a VM whose host key changed answers SSH but is NOT reachable, and says what a connection says', async () => {
    const th = labHome();
    try {
      sshd.regenerateHostKey();
      await sshd.restart();
      const r = await vmReachability('lab-target', sshd.port, th.env);
      expect(r.reachable).toBe(false);
      expect(r.problem?.code).toBe('host-key-changed');
      expect(r.problem?.hint).toContain('ssh-keygen -R');
      const status: LabStatus = {
        up: true,
        accel: 'tcg',
        vms: [{ host: 'target', alias: 'lab-target', pid: 4242, running: true, sshPort: sshd.port, reachable: r.reachable, problem: r.problem, serialLog: '/tmp/serial.log' }],
        image: { state: 'ready', dir: '/tmp/img' },
        cacheDir: '/tmp',
        runDir: '/tmp',
        sshConfig: th.ferrySshConfig,
        knownHosts: th.ferryKnownHosts,
      };
      const text = formatStatus(status);
      expect(text).toContain('NOT reachable');
      expect(text).not.toMatch(/:\d+ {2}reachable/);
      expect(text).toMatch(/host key .* has CHANGED/);
      expect(text).toContain('next: If the host was really reinstalled');
    } finally {
      th.cleanup();
    }
  });
});

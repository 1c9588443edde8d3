import { describe, expect, it } from 'vitest';
import { parseStatusLine, resolvePorts, workloadFiles } from './index.ts';
import { qemuArgs } from './vm.ts';

describe('workload status line', () => {
  it('parses the fixture format', () => {
    const s = parseStatusLine('05:16:02 host=target pid=50000 counter=20000 cursor=20000 verify=OK bad=0 shadowcrc=11c5e037\n');
    expect(s).toMatchObject({ time: '05:16:02', host: 'target', pid: 50000, counter: 20000, verify: 'OK', bad: 0 });
    expect(parseStatusLine('garbage')).toBeUndefined();
  });
  it('keeps workload files under one directory, same path on both VMs', () => {
    expect(workloadFiles()).toEqual({ statusFile: '/var/lib/ferry-workload/demo.status', outFile: '/var/lib/ferry-workload/demo.out' });
    expect(() => workloadFiles('../etc/passwd')).toThrow(/workload name/);
  });
});

describe('qemu command line', () => {
  it('TCG, restricted user net with only the SSH forward, dgram link, daemonized', () => {
    const ports = resolvePorts({ ssh: { source: 2231 } });
    const a = qemuArgs({ host: 'source', accel: 'tcg', memoryMiB: 1024, imageDir: '/c/image', runDir: '/s/lab', ports });
    const s = a.join(' ');
    expect(s).toContain('-machine q35,accel=tcg -cpu max -smp 1 -m 1024');
    expect(s).toContain('user,id=n0,restrict=on,hostfwd=tcp:127.0.0.1:2231-:22');
    expect(s).toContain('local.host=127.0.0.1,local.port=10001,remote.type=inet,remote.host=127.0.0.1,remote.port=10002');
    expect(s).toContain('systemd.hostname=source');
    expect(a).toContain('-daemonize');
    expect(a[a.indexOf('-pidfile') + 1]).toBe('/s/lab/source.pid');
  });
  it('refuses equal ports', () => {
    expect(() => resolvePorts({ ssh: { source: 2222 } })).toThrow(/different ports/);
  });
});

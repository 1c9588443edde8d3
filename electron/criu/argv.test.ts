import { describe, expect, it } from 'vitest';
import { FerryError } from '../../shared/errors.ts';
import {
  cpuinfoCheck,
  cpuinfoDump,
  criuCheck,
  criuVersion,
  dump,
  lazyPages,
  pageServer,
  preDump,
  restore,
  type DumpOptions,
} from './argv.ts';
import { readText, walk } from './test-fixtures.ts';

/** Every criu command line the lab ran, from run.log, commands.txt and check/*.txt. */
function fixtureCommands(): { file: string; argv: string[] }[] {
  const files = walk().filter((f) => /(run\.log|commands\.txt|check\/\d+-.*\.txt)$/.test(f));
  const out: { file: string; argv: string[] }[] = [];
  const re = /(?:^|[\s;&('])((?:\/usr\/sbin\/)?criu (?:pre-dump|dump|page-server|restore|lazy-pages|cpuinfo|check|--version)[^;&|'\n]*)/g;
  for (const file of files) {
    for (const line of readText(file).split('\n')) {
      if (!/^(\[\w+\]# |\$ )/.test(line)) continue; // command lines only, not their output
      for (const m of line.matchAll(re)) out.push({ file, argv: m[1]!.trim().split(/\s+/) });
    }
  }
  return out;
}

/** Read a real criu argv back into builder options (test-only inverse of the builders). */
function rebuild(argv: string[]): string[] {
  const [bin, sub, ...rest] = argv;
  const o: Record<string, unknown> = bin === 'criu' ? {} : { criu: bin };
  let cmd = sub!;
  if (sub === 'cpuinfo') cmd = `cpuinfo ${rest.shift()}`;
  let address: string | undefined;
  let port: number | undefined;
  let viaPageServer = false;
  for (let i = 0; i < rest.length; i++) {
    const a = rest[i]!;
    const next = () => rest[++i]!;
    switch (a) {
      case '-t': o.pid = Number(next()); break;
      case '-D': o[cmd.startsWith('cpuinfo') ? 'dir' : 'imagesDir'] = next(); break;
      case '-W': o.workDir = next(); break;
      case '--prev-images-dir': o.prevImagesDir = next(); break;
      case '--track-mem': o.trackMem = true; break;
      case '--page-server': viaPageServer = true; break;
      case '--address': address = next(); break;
      case '--port': port = Number(next()); break;
      case '-d': o[cmd === 'page-server' ? 'daemon' : 'detach'] = true; break;
      case '-v4': o.verbosity = 4; break;
      case '-o': o.log = next(); break;
      case '--pidfile': o.pidfile = next(); break;
      case '--leave-stopped': o.leaveStopped = true; break;
      case '--leave-running': o.leaveRunning = true; break;
      case '--lazy-pages': o.lazyPages = true; break;
      case '--shell-job': o.shellJob = true; break;
      case '--tcp-established': o.tcpEstablished = true; break;
      case '--all': o.all = true; break;
      case '--feature': o.feature = next(); break;
      default: throw new Error(`option not handled by the builders: ${a} in ${argv.join(' ')}`);
    }
  }
  if (cmd === 'page-server') Object.assign(o, { address, port });
  else if (cmd === 'dump' && o.lazyPages) o.lazyPages = { address, port };
  else if (viaPageServer) o.pageServer = { address, port };
  switch (cmd) {
    case '--version': return criuVersion(o);
    case 'check': return criuCheck(o);
    case 'cpuinfo dump': return cpuinfoDump(o as never);
    case 'cpuinfo check': return cpuinfoCheck(o as never);
    case 'pre-dump': return preDump(o as never);
    case 'dump': return dump(o as never);
    case 'page-server': return pageServer(o as never);
    case 'restore': return restore(o as never);
    case 'lazy-pages': return lazyPages(o as never);
  }
  throw new Error(`unknown command ${cmd}`);
}

/** Option groups (flag + its value) in any order: criu does not care about their order. */
function groups(argv: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const takesValue = ['-t', '-D', '-W', '--prev-images-dir', '--address', '--port', '-o', '--pidfile', '--feature'].includes(a);
    out.push(takesValue ? `${a} ${argv[++i]}` : a);
  }
  return out.sort();
}

describe('argv builders reproduce every criu command the lab ran', () => {
  const all = fixtureCommands();
  // Skipped on purpose: `$P` is a shell variable; --unprivileged does not exist in 3.17.1 (it was the failure being recorded).
  const usable = all.filter((c) => !c.argv.some((a) => a.includes('$') || a === '--unprivileged'));

  it('found the commands (sanity)', () => {
    expect(all.length).toBe(59);
    expect(all.length - usable.length).toBe(2);
  });

  it('rebuilds each one: same options, and the same order except `dump --leave-stopped -t` in two runs', () => {
    const reordered: string[] = [];
    for (const c of usable) {
      const built = rebuild(c.argv);
      expect(groups(built), `${c.file}: ${c.argv.join(' ')}`).toEqual(groups(c.argv));
      if (built.join(' ') !== c.argv.join(' ')) reordered.push(c.argv.join(' '));
    }
    expect(reordered, reordered.join("\\n")).toHaveLength(2);
    for (const r of reordered) expect(r).toMatch(/^criu dump --leave-stopped -t /);
  });
});

describe('argv builders, exact lines from the converging run (fixtures/criu/converging/run.log)', () => {
  const ps = { address: '10.0.0.2', port: 27000 };
  it('page-server, pre-dump, final dump, restore', () => {
    expect(pageServer({ imagesDir: '/root/converging/2', prevImagesDir: '../1', port: 27000, daemon: true, log: 'ps.log' }).join(' ')).toBe(
      'criu page-server -D /root/converging/2 --prev-images-dir ../1 --port 27000 -d -v4 -o ps.log',
    );
    expect(preDump({ pid: 50000, trackMem: true, imagesDir: '/root/converging/1', pageServer: ps, log: 'pre-dump.log' }).join(' ')).toBe(
      'criu pre-dump -t 50000 --track-mem -D /root/converging/1 --page-server --address 10.0.0.2 --port 27000 -v4 -o pre-dump.log',
    );
    expect(
      dump({ pid: 50300, leaveStopped: true, trackMem: true, imagesDir: '/root/rb/2', prevImagesDir: '../1', pageServer: ps, log: 'dump.log' }).join(' '),
    ).toBe('criu dump -t 50300 --leave-stopped --track-mem -D /root/rb/2 --prev-images-dir ../1 --page-server --address 10.0.0.2 --port 27000 -v4 -o dump.log');
    expect(restore({ imagesDir: '/root/converging/4', detach: true, log: 'restore.log' })).toEqual([
      'criu', 'restore', '-D', '/root/converging/4', '-d', '-v4', '-o', 'restore.log',
    ]);
  });

  it('post-copy (fixtures/criu/lazy/run.log)', () => {
    expect(dump({ pid: 50200, lazyPages: { address: '10.0.0.1', port: 27001 }, imagesDir: '/root/lazy', log: 'dump.log' }).join(' ')).toBe(
      'criu dump -t 50200 --lazy-pages --address 10.0.0.1 --port 27001 -D /root/lazy -v4 -o dump.log',
    );
    expect(lazyPages({ pageServer: { address: '10.0.0.1', port: 27001 }, imagesDir: '/root/lazy', log: 'lazy-pages.log' }).join(' ')).toBe(
      'criu lazy-pages --page-server --address 10.0.0.1 --port 27001 -D /root/lazy -v4 -o lazy-pages.log',
    );
    expect(restore({ lazyPages: true, imagesDir: '/root/lazy', detach: true }).join(' ')).toBe('criu restore --lazy-pages -D /root/lazy -d');
  });

  it('the rest of the options a migration needs', () => {
    expect(
      dump({
        criu: '/usr/sbin/criu', pid: 1, leaveRunning: true, imagesDir: 'img', workDir: '/var/tmp/w', tcpEstablished: true, shellJob: true,
        extUnixSk: true, fileLocks: true, networkLock: 'nftables', external: ['mnt[/data]:data'], pidfile: '/run/x.pid', verbosity: 2,
      }),
    ).toEqual([
      '/usr/sbin/criu', 'dump', '-t', '1', '--leave-running', '--tcp-established', '--shell-job', '--ext-unix-sk', '--file-locks',
      '--external', 'mnt[/data]:data', '--network-lock', 'nftables', '-D', 'img', '-W', '/var/tmp/w', '-v2', '--pidfile', '/run/x.pid',
    ]);
    expect(pageServer({ imagesDir: '/d', address: 'fe80::1', port: 65535 })).toEqual(['criu', 'page-server', '-D', '/d', '--address', 'fe80::1', '--port', '65535']);
    expect(criuCheck({ feature: 'uffd-noncoop' })).toEqual(['criu', 'check', '--feature', 'uffd-noncoop']);
    expect(criuCheck({ all: true })).toEqual(['criu', 'check', '--all']);
    expect(criuVersion({ criu: '/usr/sbin/criu' })).toEqual(['/usr/sbin/criu', '--version']);
    expect(cpuinfoDump({ dir: '/root/cpuinfo' })).toEqual(['criu', 'cpuinfo', 'dump', '-D', '/root/cpuinfo']);
    expect(dump({ pid: 4194304, imagesDir: '/d', pageServer: { address: 'target.lab', port: 1 } })).toContain('target.lab');
  });
});

describe('argv builders refuse bad values', () => {
  function refused(fn: () => unknown, field: RegExp): FerryError {
    try {
      fn();
    } catch (e) {
      expect(e).toBeInstanceOf(FerryError);
      const fe = e as FerryError;
      expect(fe.code).toBe('invalid-argument');
      expect(fe.message).toMatch(field);
      expect(fe.hint).toBeTruthy();
      return fe;
    }
    throw new Error('expected invalid-argument');
  }
  const D = { imagesDir: '/d' };

  it('pids', () => {
    for (const pid of [0, -1, 4194305, 1.5, NaN, Infinity]) refused(() => dump({ ...D, pid }), /invalid pid/);
    refused(() => preDump({ ...D, pid: '123' as unknown as number }), /criu pre-dump: invalid pid "123"/);
  });

  it('ports', () => {
    for (const port of [0, 65536, -5, 27000.5]) refused(() => pageServer({ ...D, port }), /invalid page server port/);
    refused(() => preDump({ ...D, pid: 1, pageServer: { address: '10.0.0.2', port: 0 } }), /page server port 0/);
    refused(() => dump({ ...D, pid: 1, lazyPages: { port: 70000 } }), /lazy pages port 70000/);
  });

  it('paths', () => {
    refused(() => restore({ imagesDir: '' }), /images dir \(-D\) ""/);
    refused(() => restore({ imagesDir: '/root/x\n; rm -rf /' }), /line break/);
    refused(() => restore({ imagesDir: '/root/x\0y' }), /NUL/);
    const e = refused(() => restore({ imagesDir: '--help' }), /starts with '-'/);
    expect(e.hint).toContain('./--help');
    refused(() => restore({ ...D, log: '-v' }), /log file \(-o\) "-v"/);
    refused(() => preDump({ ...D, pid: 1, prevImagesDir: '-x' }), /previous images dir/);
    refused(() => restore({ ...D, workDir: 'a\rb' }), /work dir/);
    refused(() => restore({ ...D, pidfile: '-p' }), /pidfile/);
    refused(() => cpuinfoCheck({ dir: '-D' }), /criu cpuinfo check: invalid dir/);
  });

  it('addresses', () => {
    for (const address of ['10.0.0.256', '1.2.3', 'a..b', '-host', 'host_name', 'fe80:::1', '1:2:3:4:5:6:7:8:9', '', 'a b']) {
      refused(() => preDump({ ...D, pid: 1, pageServer: { address, port: 1 } }), /page server address/);
    }
    const e = refused(() => pageServer({ ...D, address: '[::1]', port: 1 }), /brackets/);
    expect(e.hint).toContain('::1');
    for (const address of ['10.0.0.2', '::1', '::', '2001:db8::1', '::ffff:10.0.0.1', 'target', 'target.lab.example.', 'a-b.c1']) {
      expect(pageServer({ ...D, address, port: 1 })).toContain(address);
    }
  });

  it('conflicting flags, also when the types are bypassed', () => {
    const both = { ...D, pid: 1, leaveStopped: true, leaveRunning: true } as unknown as DumpOptions;
    refused(() => dump(both), /--leave-stopped and --leave-running exclude each other/);
    const ps = { ...D, pid: 1, pageServer: { address: 'h', port: 1 }, lazyPages: { port: 2 } } as unknown as DumpOptions;
    refused(() => dump(ps), /--page-server and --lazy-pages/);
    refused(() => criuCheck({ all: true, feature: 'uffd' }), /--all and --feature/);
    // @ts-expect-error: the compiler refuses both leave flags
    void (() => dump({ ...D, pid: 1, leaveStopped: true, leaveRunning: true }));
  });

  it('other values', () => {
    refused(() => criuCheck({ feature: 'list; reboot' }), /invalid feature/);
    refused(() => criuVersion({ criu: 'sbin/criu' }), /criu binary/);
    refused(() => restore({ ...D, verbosity: 5 as 4 }), /verbosity/);
    refused(() => restore({ ...D, networkLock: 'ebtables' as 'skip' }), /network lock/);
    refused(() => restore({ ...D, external: ['--evil'] }), /external/);
  });
});

// TLS for page streams
describe('argv builders with TLS', () => {
  const tls = { cacert: '/w/m/tls/ca.pem', cert: '/w/m/tls/cert.pem', key: '/w/m/tls/key.pem' };
  const flags = ['--tls', '--tls-cacert', tls.cacert, '--tls-cert', tls.cert, '--tls-key', tls.key];

  it('page server, pre-dump and dump to it, after the endpoint', () => {
    expect(pageServer({ imagesDir: '/w/1', port: 27000, daemon: true, tls })).toEqual(['criu', 'page-server', '-D', '/w/1', '--port', '27000', ...flags, '-d']);
    expect(preDump({ pid: 7, imagesDir: '/w/1', pageServer: { address: '10.0.0.2', port: 27000 }, tls })).toEqual([
      'criu', 'pre-dump', '-t', '7', '-D', '/w/1', '--page-server', '--address', '10.0.0.2', '--port', '27000', ...flags,
    ]);
    expect(dump({ pid: 7, imagesDir: '/w/2', leaveStopped: true, pageServer: { address: '10.0.0.2', port: 27000 }, tls })).toEqual([
      'criu', 'dump', '-t', '7', '--leave-stopped', '-D', '/w/2', '--page-server', '--address', '10.0.0.2', '--port', '27000', ...flags,
    ]);
  });

  it('post-copy: the lazy dump serves over TLS, the lazy-pages daemon connects with it', () => {
    expect(dump({ pid: 7, imagesDir: '/w/2', lazyPages: { address: '10.0.0.1', port: 27000 }, tls: { ...tls, noCnVerify: true } })).toEqual([
      'criu', 'dump', '-t', '7', '--lazy-pages', '--address', '10.0.0.1', '--port', '27000', '-D', '/w/2', ...flags, '--tls-no-cn-verify',
    ]);
    expect(lazyPages({ imagesDir: '/w/2', pageServer: { address: '10.0.0.1', port: 27000 }, tls })).toEqual([
      'criu', 'lazy-pages', '--page-server', '--address', '10.0.0.1', '--port', '27000', ...flags, '-D', '/w/2',
    ]);
  });

  it('without TLS nothing changes, and TLS without a page stream or with a bad path is refused', () => {
    expect(preDump({ pid: 7, imagesDir: '/w/1', pageServer: { address: 'h', port: 1 } })).not.toContain('--tls');
    expect(() => preDump({ pid: 7, imagesDir: '/w/1', tls })).toThrow(/TLS needs a page stream/);
    expect(() => pageServer({ imagesDir: '/w/1', port: 1, tls: { ...tls, key: '-x' } })).toThrow(/TLS key/);
    expect(() => pageServer({ imagesDir: '/w/1', port: 1, tls: { ...tls, cert: 'a\nb' } })).toThrow(/TLS certificate/);
  });
});

import { describe, expect, it } from 'vitest';
import { PID_MAX } from './argv.ts';
import { compareVersions, parseCriuCheck, parseCriuVersion, parseFeatureCheck, parseFeatureCheckDetailed, parseLogLine } from './parse.ts';
import { readCheckFile, readText, walk } from './test-fixtures.ts';

describe('every file under fixtures/criu/check/', () => {
  const files = walk('check');
  const seen = new Set<string>();
  const use = (f: string) => {
    seen.add(`check/${f}`);
    return f.includes('/') ? { output: readText('check', f), exitCode: 0, command: '' } : readCheckFile(f);
  };

  it('01-version: criu --version', () => {
    const v = use('01-version.txt');
    expect(v.exitCode).toBe(0);
    expect(parseCriuVersion(v.output)).toEqual({ version: '3.17.1', major: 3, minor: 17, patch: 1 });
  });

  it('02/03/09: criu check, --all, -v4 say Looks good.', () => {
    for (const f of ['02-check.txt', '03-check-all.txt', '09-check-verbose4.txt']) {
      const c = use(f);
      const r = parseCriuCheck(c.output, '', c.exitCode);
      expect(r, f).toMatchObject({ ok: true, verdict: 'good', errors: [], ignored: [], unsupported: [] });
    }
    // the -v4 form also carries the version line
    expect(parseCriuVersion(use('09-check-verbose4.txt').output).version).toBe('3.17.1');
  });

  it('04/08: --feature list and an unknown name are unknown-feature (exit 1)', () => {
    for (const [f, name] of [['04-feature-list.txt', 'list'], ['08-feature-doesnotexist.txt', 'doesnotexist']] as const) {
      const c = use(f);
      expect(c.exitCode).toBe(1);
      expect(parseFeatureCheck(c.output, c.exitCode, name)).toBe('unknown-feature');
      expect(parseFeatureCheckDetailed(c.output, c.exitCode, name)).toEqual({
        feature: name,
        status: 'unknown-feature',
        evidence: `Error (criu/cr-check.c:1642): Unknown feature ${name}`,
      });
    }
  });

  it('05/06/07: features the lab kernel supports', () => {
    for (const [f, name] of [['05-feature-mem_dirty_track.txt', 'mem_dirty_track'], ['06-feature-uffd-noncoop.txt', 'uffd-noncoop'], ['07-feature-uffd.txt', 'uffd']] as const) {
      const c = use(f);
      expect(parseFeatureCheck(c.output, c.exitCode, name)).toBe('supported');
      expect(parseFeatureCheckDetailed(c.output, c.exitCode, name)).toEqual({ feature: name, status: 'supported', evidence: `${name} is supported` });
      // a different name's success line must not count
      expect(parseFeatureCheck(c.output, c.exitCode, 'tun')).not.toBe('supported');
    }
  });

  it('10/11/12 and cpuinfo/*.log: cpuinfo dump/check succeed, their logs have no errors', () => {
    for (const f of ['10-cpuinfo-dump-source.txt', '11-cpuinfo-check-target.txt', '12-cpuinfo-check-source.txt']) expect(use(f).exitCode, f).toBe(0);
    for (const f of ['cpuinfo/cpuinfo-dump.log', 'cpuinfo/cpuinfo-check-source.log', 'cpuinfo/cpuinfo-check-target.log']) {
      const log = use(f).output;
      expect(parseCriuVersion(log), f).toEqual({ version: '3.17.1', major: 3, minor: 17, patch: 1 });
      expect(parseCriuCheck(log, '', 0).errors, f).toEqual([]);
    }
    seen.add('check/cpuinfo/cpuinfo.img'); // decoded in images.test.ts
    seen.add('check/18-crit-cpuinfo.txt'); // crit's view of it, used there too
  });

  it('13-17, 19, 20: the environment (pid_max matches PID_MAX, dpkg version matches --version)', () => {
    expect(use('15-pid_max.txt').output.trim()).toBe(String(PID_MAX));
    const dpkg = /criu\s+(\S+)/.exec(use('20-dpkg-criu.txt').output)?.[1];
    expect(dpkg).toBe('3.17.1-2+deb12u2');
    expect(compareVersions(dpkg!, '3.17.1')).toBe(0);
    expect(use('13-uname-source.txt').output).toBe(use('14-uname-target.txt').output.replace('target', 'source'));
    for (const f of ['16-ps-source.txt', '17-ps-target.txt', '19-os-release.txt']) expect(use(f).exitCode).toBe(0);
    seen.add('check/run.log');
    seen.add('check/FACTS.md');
  });

  it('covers every file in the folder', () => {
    expect(files.filter((f) => !seen.has(f))).toEqual([]);
  });
});

describe('parseCriuCheck beyond the happy path', () => {
  it('non-root (failures/g-non-root/stdout.2.txt): fails, keeps the two harmless probing errors as ignored', () => {
    const out = readText('failures/g-non-root/stdout.2.txt');
    const exit = Number(/exit=(\d+)/.exec(out)?.[1]);
    const r = parseCriuCheck(out.replace(/^exit=\d+$/m, ''), '', exit);
    expect(r.ok).toBe(false);
    expect(r.verdict).toBe('bad');
    expect(r.ignored).toEqual(['Error (criu/util.c:642): exited, status=1', 'Error (criu/util.c:642): exited, status=1']);
    expect(r.errors).toContain('Error (criu/crtools.c:260): Could not initialize kernel features detection.');
    expect(r.errors).not.toContain('Error (criu/util.c:642): exited, status=1');
    expect(r.warnings).toContain("Warn  (criu/kerndat.c:1094): Can't load /run/criu.kdat");
  });

  it('the first check after boot (LAB.md): two harmless errors, still Looks good.', () => {
    const stderr = 'Error (criu/util.c:642): exited, status=1\nError (criu/util.c:642): exited, status=1\n';
    const r = parseCriuCheck('Looks good.\n', stderr, 0);
    expect(r).toMatchObject({ ok: true, verdict: 'good', errors: [], ignored: [expect.any(String), expect.any(String)] });
  });

  it('criu check --all on an older kernel: maybe, with the missing features named', () => {
    const stderr = [
      'Warn  (criu/cr-check.c:1230): Dirty tracking is OFF. Memory snapshot will not work.',
      'Error (criu/cr-check.c:1315): Time namespaces are not supported',
      "Error (criu/cr-check.c:1325): IFLA_NEW_IFINDEX isn't supported",
      'Warn  (criu/cr-check.c:1202): compat_cr is not supported. Requires kernel >= v4.12',
      'Looks good but some kernel features are missing',
      'which, depending on your process tree, may cause',
      'dump or restore failure.',
    ].join('\n');
    const r = parseCriuCheck('', stderr, 0);
    expect(r.ok).toBe(false);
    expect(r.verdict).toBe('maybe');
    expect(r.unsupported).toEqual(['Dirty tracking', 'Time namespaces', 'IFLA_NEW_IFINDEX', 'compat_cr']);
    expect(r.errors).toHaveLength(2);
    expect(r.warnings).toHaveLength(2);
  });

  it('Does not look good.', () => {
    const r = parseCriuCheck('', "Error (criu/cr-check.c:99): /proc/self/map_files isn't accessible\nDoes not look good.\n", 1);
    expect(r).toMatchObject({ ok: false, verdict: 'bad' });
  });

  it('a feature the kernel lacks', () => {
    expect(parseFeatureCheck('Error (criu/cr-check.c:1116): UFFD is not supported\n', 1, 'uffd')).toBe('unsupported');
    const r = parseFeatureCheckDetailed('Error (criu/cr-check.c:1116): UFFD is not supported\n', 1, 'uffd');
    expect(r).toEqual({ feature: 'uffd', status: 'unsupported', evidence: 'Error (criu/cr-check.c:1116): UFFD is not supported' });
    expect(parseFeatureCheckDetailed('', 1, 'mem_dirty_track')).toEqual({ feature: 'mem_dirty_track', status: 'unsupported' });
  });
});

describe('versions', () => {
  it('parses the forms criu prints', () => {
    expect(parseCriuVersion('Version: 3.18\nGitID: v3.18-12-gabcdef0\n')).toEqual({ version: '3.18', major: 3, minor: 18, patch: 0, gitId: 'v3.18-12-gabcdef0' });
    expect(parseCriuVersion('(00.000232) Version: 3.17.1 (gitid 0)\n')).toEqual({ version: '3.17.1', major: 3, minor: 17, patch: 1 });
    expect(parseCriuVersion('(00.000232) Version: 4.0 (gitid v4.0-3-g1)\n').gitId).toBe('v4.0-3-g1');
    expect(() => parseCriuVersion('bash: criu: command not found')).toThrow(/Could not read criu's version/);
  });

  it('compares like P.Haul\'s "target >= source" preflight needs', () => {
    expect(compareVersions('3.17.1', '3.18')).toBe(-1);
    expect(compareVersions('3.18', '3.18.0')).toBe(0);
    expect(compareVersions('4.0', '3.19.5')).toBe(1);
    expect(compareVersions(parseCriuVersion('Version: 3.17.1'), '3.17')).toBe(1);
    expect(compareVersions('3.9', '3.17')).toBe(-1);
    expect(() => compareVersions('abc', '3.17')).toThrow(/Not a version/);
  });
});

describe('parseLogLine', () => {
  it('splits timestamp, pid prefix, level and source', () => {
    expect(parseLogLine('(00.150128)  50400: Error (criu/files-reg.c:2259): Can\'t open file root/fb.out on restore: No such file or directory')).toEqual({
      raw: "(00.150128)  50400: Error (criu/files-reg.c:2259): Can't open file root/fb.out on restore: No such file or directory",
      level: 'error',
      source: 'criu/files-reg.c:2259',
      text: "Can't open file root/fb.out on restore: No such file or directory",
      time: 0.150128,
      pid: 50400,
    });
    expect(parseLogLine('Warn  (compel/src/lib/infect.c:127): Unable to interrupt task: 99999 (No such process)\r')).toMatchObject({ level: 'warn', text: 'Unable to interrupt task: 99999 (No such process)' });
    expect(parseLogLine('(00.029714) Can\'t connect to server 10.0.0.2:27999')).toMatchObject({ level: 'info', text: "Can't connect to server 10.0.0.2:27999", time: 0.029714 });
  });
});

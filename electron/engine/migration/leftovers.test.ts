import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { diagnosePageServerDeath, pageServerLost } from '../../criu/diagnose.ts';
import { restore } from '../../criu/argv.ts';
import { absentPathsArgv, inScope, keepLogsThenDeleteArgv, keptLogsDir, parseAbsent, removeCreatedArgv, scopeUnit } from './leftovers.ts';

// The scripts run here as they run on a host: real sh, find, mv, rm on a temp tree.
const run = (argv: string[]) => execFileSync(argv[0]!, argv.slice(1), { encoding: 'utf8' });
const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'ferry-leftovers-'));

describe('after a failed CRIU step, only the logs stay', () => {
  it('keeps every *.log and *.out (same relative paths) and deletes images, pidfiles and parent links', () => {
    const work = tmp();
    const dir = path.join(work, 'mig');
    fs.mkdirSync(path.join(dir, '1'), { recursive: true });
    fs.mkdirSync(path.join(dir, '2'));
    fs.mkdirSync(path.join(dir, 'copy-probe'));
    fs.writeFileSync(path.join(dir, '1', 'page-server.log'), 'ps log');
    fs.writeFileSync(path.join(dir, '1', 'pages-1.img'), Buffer.alloc(4096));
    fs.writeFileSync(path.join(dir, '2', 'restore.log'), 'restore log');
    fs.writeFileSync(path.join(dir, '2', 'dump.out'), 'criu: the lazy dump said this on stderr');
    fs.writeFileSync(path.join(dir, '2', 'page-server.pid'), '123');
    fs.symlinkSync('../1', path.join(dir, '2', 'parent'));
    const keep = keptLogsDir(work, 'mig');
    expect(keep).toBe(`${work}/mig.logs`);
    run(keepLogsThenDeleteArgv(dir, keep));
    expect(fs.existsSync(dir)).toBe(false);
    const kept = run(['find', keep, '-mindepth', '1']).trim().split('\n').map((p) => path.relative(keep, p)).sort();
    expect(kept).toEqual(['1', '1/page-server.log', '2', '2/dump.out', '2/restore.log']);
    expect(fs.readFileSync(path.join(keep, '2', 'restore.log'), 'utf8')).toBe('restore log');
  });

  it('does nothing when there is nothing to keep', () => {
    const work = tmp();
    run(keepLogsThenDeleteArgv(path.join(work, 'absent'), path.join(work, 'absent.logs')));
    expect(fs.readdirSync(work)).toEqual([]);
  });
});

describe('files the cutover copied are removed at rollback, and only those', () => {
  it('lists the files absent before the copy with the directories above them, and removes exactly those', () => {
    const root = tmp();
    const before = path.join(root, 'before.txt');
    fs.writeFileSync(before, 'was here');
    fs.mkdirSync(path.join(root, 'existing'));
    const nested = path.join(root, 'new', 'sub', 'copied.txt');
    const beside = path.join(root, 'existing', 'copied.txt');
    const absent = parseAbsent(run(absentPathsArgv([before, nested, beside])));
    expect(absent.files.sort()).toEqual([beside, nested].sort());
    expect(absent.dirs).toEqual([path.join(root, 'new', 'sub'), path.join(root, 'new')]);
    // The copy happens; something else also puts a file into one of "our" directories.
    fs.mkdirSync(path.dirname(nested), { recursive: true });
    fs.writeFileSync(nested, 'copied');
    fs.writeFileSync(beside, 'copied');
    run(removeCreatedArgv(absent));
    expect(fs.existsSync(nested)).toBe(false);
    expect(fs.existsSync(beside)).toBe(false);
    expect(fs.existsSync(path.join(root, 'new'))).toBe(false);
    expect(fs.readFileSync(before, 'utf8')).toBe('was here');
    expect(fs.existsSync(path.join(root, 'existing'))).toBe(true);
  });

  it('leaves a directory that is no longer empty', () => {
    const root = tmp();
    const f = path.join(root, 'd', 'copied.txt');
    const absent = parseAbsent(run(absentPathsArgv([f])));
    fs.mkdirSync(path.dirname(f));
    fs.writeFileSync(f, 'x');
    fs.writeFileSync(path.join(root, 'd', 'someone-elses.txt'), 'y');
    run(removeCreatedArgv(absent));
    expect(fs.readdirSync(path.join(root, 'd'))).toEqual(['someone-elses.txt']);
  });

  it('handles names with spaces and leading dashes as arguments, never as shell text', () => {
    const root = tmp();
    const f = path.join(root, '-odd name $(touch pwned)');
    const absent = parseAbsent(run(absentPathsArgv([f])));
    expect(absent.files).toEqual([f]);
    fs.writeFileSync(f, 'x');
    run(removeCreatedArgv(absent));
    expect(fs.readdirSync(root)).toEqual([]);
  });
});

describe('the restored tree gets a scope of its own', () => {
  it('wraps the restore in systemd-run --scope named after the migration, criu leaving cgroups alone', () => {
    const argv = inScope(scopeUnit('2026-11-30T20-12-53Z-094aee'), 'Ferry: PID 1', restore({ imagesDir: '/var/lib/ferry/x/2', detach: true, ignoreCgroups: true }));
    expect(argv.slice(0, 4)).toEqual(['systemd-run', '--scope', '--quiet', '--collect']);
    expect(argv).toContain('--unit=ferry-2026-11-30T20-12-53Z-094aee');
    expect(argv.slice(argv.indexOf('--') + 1, argv.indexOf('--') + 3)).toEqual(['criu', 'restore']);
    expect(argv).toContain('--manage-cgroups=ignore');
  });
});

describe('a page server that died on the target', () => {
  // The source's side, as CRIU 3.17.1 words it.
  const source = '(00.412345) Error (criu/page-xfer.c:1015): page-xfer: Can\'t write pages to socket: Broken pipe\n(00.412400) Error (criu/cr-dump.c:1650): Pre-dumping FAILED.';
  const where = { target: 'lab-target', command: 'pre-dump' as const, logPath: '/var/lib/ferry/m.logs/1/page-server.log', workDir: '/var/lib/ferry' };

  it('recognises the broken pipe on the source', () => {
    expect(pageServerLost(source)).toBe(true);
    expect(pageServerLost('(00.1) Error (criu/cr-dump.c:1): Can\'t connect to server 10.0.0.2:27000')).toBe(false);
  });

  it('says the target ran out of space, from its log or from df when the log lost its last lines', () => {
    const fromLog = diagnosePageServerDeath({ ...where, log: '(01.0) Error (criu/page-xfer.c:400): Unable to write pages: No space left on device' });
    expect(fromLog).toMatchObject({ code: 'page-server-died', host: 'lab-target' });
    expect(fromLog.message).toMatch(/page server on lab-target died during the pre-dump: no space left on lab-target in \/var\/lib\/ferry/);
    expect(fromLog.hint).toContain(where.logPath);
    const fromDf = diagnosePageServerDeath({ ...where, log: '(00.5) page-xfer: Adding 7f4fa3f5b000/4', freeKiB: 0 });
    expect(fromDf.message).toContain('no space left on lab-target');
    expect(fromDf.evidence).toContain('0 KiB free');
  });

  it('says it was killed when its log just stops, and names the error it logged otherwise', () => {
    const killed = diagnosePageServerDeath({ ...where, log: '(00.5) page-xfer: Adding 7f4fa3f5b000/4', freeKiB: 900_000 });
    expect(killed.message).toMatch(/page server on lab-target was killed during the pre-dump/);
    expect(killed.hint).toMatch(/OOM killer/);
    const other = diagnosePageServerDeath({ ...where, log: '(00.5) Error (criu/page-xfer.c:10): Something odd happened', freeKiB: 900_000 });
    expect(other.message).toContain('Something odd happened');
  });
});

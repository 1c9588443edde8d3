import { describe, expect, it } from 'vitest';
import { diagnose, type CriuCommandName, type CriuFailureCode } from './diagnose.ts';
import { readText, walk } from './test-fixtures.ts';

interface Case {
  name: string;
  command: CriuCommandName;
  exitCode: number | null;
  /** Fixture files: the -v4 log, and/or what criu printed (no -o). */
  log?: string;
  stderr?: string;
  stdout?: string;
  code: CriuFailureCode;
  message?: RegExp;
  evidence: string;
}

const exitOf = (dir: string, n: number) => Number(readText(`failures/${dir}/exitcode.${n}.txt`).trim());
/** g-non-root ran criu inside `su -c '...; echo exit=$?'`: criu's own code is in the output. */
const echoedExit = (file: string) => Number(/exit=(\d+)/.exec(readText(file))?.[1]);

const CASES: Case[] = [
  {
    name: 'a: restore while pid 50000 runs on the target', command: 'restore', exitCode: exitOf('a-pid-taken', 1),
    log: 'failures/a-pid-taken/restore.log', code: 'pid-taken', message: /PID 50000 is already taken on target-vm/,
    evidence: "(00.036328) Error (criu/cr-restore.c:1469): Can't fork for 50000: File exists",
  },
  {
    name: 'b: restore without /root/fb.out on the target', command: 'restore', exitCode: exitOf('b-missing-file', 2),
    log: 'failures/b-missing-file/restore.log', code: 'file-missing-on-target', message: /\/root\/fb\.out/,
    evidence: "(00.150128)  50400: Error (criu/files-reg.c:2259): Can't open file root/fb.out on restore: No such file or directory",
  },
  {
    name: 'rollback: restore without /root/rb.out (rollback/target/2)', command: 'restore', exitCode: Number(/restore-rc=(\d+)/.exec(readText('rollback/run.log'))?.[1]),
    log: 'rollback/target/2/restore.log', code: 'file-missing-on-target', message: /\/root\/rb\.out/,
    evidence: "(00.668533)  50300: Error (criu/files-reg.c:2259): Can't open file root/rb.out on restore: No such file or directory",
  },
  {
    name: 'c: dump of a process started without setsid', command: 'dump', exitCode: exitOf('c-not-session-leader', 2),
    log: 'failures/c-not-session-leader/dump.log', code: 'not-session-leader', message: /Process 50410 is not a session leader/,
    evidence: '(00.231371) Error (criu/pstree.c:296): The root process 50410 is not a session leader. Consider using --shell-job option',
  },
  {
    name: 'd: pre-dump to a page server nobody runs', command: 'pre-dump', exitCode: exitOf('d-no-page-server', 2),
    log: 'failures/d-no-page-server/pre-dump.log', code: 'page-server-unreachable', message: /10\.0\.0\.2:27999/,
    evidence: "(00.029714) Can't connect to server 10.0.0.2:27999",
  },
  {
    name: 'd: dump to a page server nobody runs (also logs a spurious "No such process")', command: 'dump', exitCode: exitOf('d-no-page-server', 3),
    log: 'failures/d-no-page-server/dump.log', code: 'page-server-unreachable',
    evidence: "(00.027763) Can't connect to server 10.0.0.2:27999",
  },
  {
    name: 'e: dump of pid 99999 (-v4 log)', command: 'dump', exitCode: exitOf('e-nonexistent-pid', 1),
    log: 'failures/e-nonexistent-pid/dump.log', code: 'no-such-process', message: /no process 99999/,
    evidence: '(00.027196) Warn  (compel/src/lib/infect.c:127): Unable to interrupt task: 99999 (No such process)',
  },
  {
    name: 'e: dump of pid 99999 (stderr, no -o)', command: 'dump', exitCode: exitOf('e-nonexistent-pid', 2),
    stderr: 'failures/e-nonexistent-pid/stderr.2.txt', code: 'no-such-process',
    evidence: 'Warn  (compel/src/lib/infect.c:127): Unable to interrupt task: 99999 (No such process)',
  },
  {
    name: 'f: restore whose parent link dangles', command: 'restore', exitCode: exitOf('f-no-parent', 2),
    log: 'failures/f-no-parent/restore-dangling-parent.log', code: 'missing-parent-images',
    evidence: "(00.045060)  50000: Error (criu/image.c:624): Can't open parent path: No such file or directory",
  },
  {
    name: 'f: restore whose parent link was removed hangs until killed', command: 'restore', exitCode: exitOf('f-no-parent', 3),
    log: 'failures/f-no-parent/restore-no-parent-link.log.trimmed', code: 'missing-parent-images',
    evidence: '(00.044330)  50000: No parent images directory provided',
  },
  {
    name: 'g: non-root dumps root’s process', command: 'dump', exitCode: echoedExit('failures/g-non-root/stdout.3.txt'),
    log: 'failures/g-non-root/dump-root-proc.log', code: 'not-root',
    evidence: '(00.079837) Error (criu/net.c:3711): Unable create a network namespace: Operation not permitted',
  },
  {
    name: 'g: non-root dumps its own process', command: 'dump', exitCode: echoedExit('failures/g-non-root/stdout.4.txt'),
    log: 'failures/g-non-root/dump-own-proc.log', code: 'not-root',
    evidence: '(00.081916) Error (criu/net.c:3711): Unable create a network namespace: Operation not permitted',
  },
  {
    name: 'g: non-root criu check', command: 'check', exitCode: echoedExit('failures/g-non-root/stdout.2.txt'),
    stdout: 'failures/g-non-root/stdout.2.txt', code: 'not-root',
    evidence: 'Error (criu/net.c:3711): Unable create a network namespace: Operation not permitted',
  },
  {
    name: 'g: --unprivileged on 3.17.1', command: 'check', exitCode: echoedExit('failures/g-non-root/stdout.5.txt'),
    stdout: 'failures/g-non-root/stdout.5.txt', code: 'criu-option-unsupported', message: /--unprivileged/,
    evidence: "/usr/sbin/criu: unrecognized option '--unprivileged'",
  },
  {
    name: 'h: second page server on the same port (-v4 log)', command: 'page-server', exitCode: exitOf('h-page-server-twice', 2),
    log: 'failures/h-page-server-twice/ps-second.log', code: 'port-in-use',
    evidence: "(00.012259) Error (criu/util.c:1141): Can't bind page server: Address already in use",
  },
  {
    name: 'h: second page server on the same port (stderr)', command: 'page-server', exitCode: exitOf('h-page-server-twice', 3),
    stderr: 'failures/h-page-server-twice/stderr.3.txt', code: 'port-in-use',
    evidence: "Error (criu/util.c:1141): Can't bind page server: Address already in use",
  },
];

describe('diagnose: every recorded failure', () => {
  it.each(CASES)('$name -> $code', (c) => {
    expect(c.exitCode === null || c.exitCode !== 0).toBe(true);
    const texts = { log: c.log && readText(c.log), stderr: c.stderr && readText(c.stderr), stdout: c.stdout && readText(c.stdout) };
    const d = diagnose({ command: c.command, exitCode: c.exitCode, host: 'target-vm', ...texts });
    expect(d).toBeDefined();
    expect(d!.code).toBe(c.code);
    expect(d!.host).toBe('target-vm');
    expect(d!.hint.length).toBeGreaterThan(10);
    if (c.message) expect(d!.message).toMatch(c.message);
    expect(d!.evidence).toBe(c.evidence);
    // verbatim: a whole line of the file it came from
    const source = (texts.log ?? texts.stderr ?? texts.stdout)!;
    expect(source.split('\n')).toContain(d!.evidence);
  });

  it('every failure folder is covered', () => {
    const dirs = new Set(walk('failures').map((f) => f.split('/')[1]).filter((d) => d && d !== 'FACTS.md'));
    const covered = new Set(CASES.flatMap((c) => [c.log, c.stderr, c.stdout]).filter(Boolean).map((f) => f!.split('/')[1]));
    expect([...dirs].filter((d) => !covered.has(d))).toEqual([]);
  });
});

describe('diagnose: successful runs yield nothing', () => {
  // Every -v4 log of a criu run that exited 0 (incl. ones with harmless `exited, status=1` lines).
  const failedLogs = new Set(CASES.map((c) => c.log).filter(Boolean));
  const okLogs = walk().filter((f) => /\.log$/.test(f) && !f.endsWith('run.log') && !failedLogs.has(f) && !f.startsWith('failures/g-non-root/'));

  it('finds them (sanity)', () => {
    expect(okLogs.length).toBe(34);
    expect(okLogs).toContain('failures/c-not-session-leader/dump-shell-job.log');
    expect(okLogs).toContain('failures/h-page-server-twice/ps-first.log');
    expect(okLogs).toContain('failures/b-missing-file/dump.log');
  });

  it.each(okLogs)('%s', (f) => {
    expect(diagnose({ command: 'dump', exitCode: 0, log: readText(f) })).toBeUndefined();
  });
});

describe('diagnose: other cases', () => {
  it('criu not on PATH', () => {
    const d = diagnose({ command: 'check', exitCode: 127, stderr: 'bash: line 1: criu: command not found\n', host: 'src' });
    expect(d).toMatchObject({ code: 'criu-missing', evidence: 'bash: line 1: criu: command not found' });
    expect(d!.hint).toContain('/usr/sbin/criu');
  });

  it('generic fallback: the first real Error line, not the harmless probing ones or the FAILED summary', () => {
    const log = [
      '(00.006) Error (criu/util.c:642): exited, status=1',
      '(00.007) Error (criu/util.c:642): exited, status=1',
      '(00.100) Error (criu/mount.c:1088): mnt: Mount 130 ./dev/shm (master_id: 20 shared_id: 0) has unreachable sharing.',
      '(00.200) Error (criu/cr-dump.c:2053): Dumping FAILED.',
    ].join('\n');
    const d = diagnose({ command: 'dump', exitCode: 1, log });
    expect(d).toMatchObject({ code: 'criu-failed', evidence: log.split('\n')[2] });
    expect(d!.message).toMatch(/^criu dump failed: mnt: Mount 130/);
  });

  it('a killed run with no error says so, with the last log line', () => {
    const d = diagnose({ command: 'restore', exitCode: null, signal: 'SIGKILL', log: '(00.1) Forking task with 50000 pid\n(00.2) Restoring 50000\n' });
    expect(d).toMatchObject({ code: 'criu-killed', evidence: '(00.2) Restoring 50000' });
  });

  it('a failure with no output at all', () => {
    expect(diagnose({ command: 'restore', exitCode: 1 })).toMatchObject({ code: 'criu-failed', message: 'criu restore failed with exit code 1' });
  });

  it('TCP connections whose address is not on the target', () => {
    const log = "(00.3)  50000: Error (criu/sk-inet.c:1012): Can't bind inet socket (id 7): Cannot assign requested address\n";
    expect(diagnose({ command: 'restore', exitCode: 1, log })?.code).toBe('address-unavailable');
  });

  it('a file that differs on the target', () => {
    const log = '(00.3)  50000: Error (criu/files-reg.c:1999): File usr/lib/libfoo.so.1 has bad size 1000 (expect 2000)\n';
    const d = diagnose({ command: 'restore', exitCode: 1, log });
    expect(d).toMatchObject({ code: 'file-differs-on-target' });
    expect(d!.message).toContain('/usr/lib/libfoo.so.1');
  });
});

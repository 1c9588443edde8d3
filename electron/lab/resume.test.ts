import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { labPaths } from './context.ts';
import { findState, hostCpuId, Qmp, quoteForSh, STATE_FILES, STATE_FORMAT, stateArgv, stateDirName, stateKey, statesDir, waitResumed, type StateKeyInput, type StateMeta } from './resume.ts';
import { qemuArgs, vmFiles } from './vm.ts';

const ports = { ssh: { source: 2401, target: 2402 }, link: { source: 10181, target: 10182 } };
const base: StateKeyInput = { host: 'source', accel: 'tcg', memoryMiB: 1024, imageId: 'img-1', qemuVersion: 'QEMU emulator version 7.2.22 (Debian 1:7.2+dfsg-7+deb12u18+b3)' };

const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'ferry-resume-'));

describe('the qemu argv of a resume', () => {
  it('is the cold argv plus -incoming, with the state path quoted for sh as one word', () => {
    const o = { host: 'target' as const, accel: 'tcg' as const, memoryMiB: 1024, imageDir: '/img', runDir: '/run/lab', ports };
    const cold = qemuArgs(o);
    const file = "/cache/it's here/memory.state";
    const warm = qemuArgs({ ...o, incoming: file });
    expect(warm.slice(0, cold.length)).toEqual(cold);
    expect(warm.slice(cold.length)).toEqual(['-incoming', `exec:cat '/cache/it'\\''s here/memory.state'`]);
    expect(cold).not.toContain('-incoming');
    // sh reads the quoted word back as the exact path
    const word = warm[warm.length - 1]!.slice('exec:cat '.length);
    expect(execFileSync('sh', ['-c', `printf %s ${word}`], { encoding: 'utf8' })).toBe(file);
  });

  it('has a QMP socket in the run dir', () => {
    const a = qemuArgs({ host: 'source', accel: 'tcg', memoryMiB: 1024, imageDir: '/img', runDir: '/run/lab', ports });
    expect(a[a.indexOf('-qmp') + 1]).toBe(`unix:${vmFiles('/run/lab', 'source').qmp},server=on,wait=off`);
  });

  it('quotes for sh', () => {
    expect(quoteForSh('/a b/c')).toBe(`'/a b/c'`);
    expect(execFileSync('sh', ['-c', `printf %s ${quoteForSh(`x'$(id)"y`)}`], { encoding: 'utf8' })).toBe(`x'$(id)"y`);
  });
});

describe('the key of a saved state', () => {
  it('is stable, and changes with everything the state depends on', () => {
    const k = stateKey(base);
    expect(stateKey({ ...base })).toBe(k);
    expect(k).toMatch(/^[0-9a-f]{64}$/);
    const variants: Partial<StateKeyInput>[] = [{ host: 'target' }, { accel: 'kvm' }, { memoryMiB: 2048 }, { imageId: 'img-2' }, { qemuVersion: 'QEMU emulator version 8.2.2' }];
    const keys = variants.map((v) => stateKey({ ...base, ...v }));
    expect(new Set([k, ...keys]).size).toBe(variants.length + 1);
  });

  it('ignores the host CPU under TCG (-cpu max) but not under KVM (-cpu host)', () => {
    expect(stateKey({ ...base, hostCpu: 'a' })).toBe(stateKey({ ...base, hostCpu: 'b' }));
    const kvm = { ...base, accel: 'kvm' as const };
    expect(stateKey({ ...kvm, hostCpu: 'a' })).not.toBe(stateKey({ ...kvm, hostCpu: 'b' }));
  });

  it('covers the machine argv but not the per-lab ports and paths', () => {
    const argv = stateArgv(base);
    expect(argv).toContain('q35,accel=tcg');
    expect(argv[argv.indexOf('-m') + 1]).toBe('1024');
    expect(argv.join(' ')).toContain('systemd.hostname=source');
    expect(argv.join(' ')).not.toContain('2401');
    expect(stateArgv({ ...base, memoryMiB: 512 })).not.toEqual(argv);
  });

  it('reads the CPU identity from /proc/cpuinfo', () => {
    const info = 'processor\t: 0\nmodel name\t: AMD EPYC 7B13\nflags\t\t: fpu vme svm\n\nprocessor\t: 1\nmodel name\t: other\n';
    expect(hostCpuId(info)).toBe('AMD EPYC 7B13|fpu vme svm');
  });
});

describe('finding a saved state', () => {
  const write = (cacheDir: string, meta: Partial<StateMeta>, files: Record<string, string>) => {
    const env = { FERRY_LAB_CACHE: cacheDir, FERRY_HOME: path.join(cacheDir, 'home') };
    const paths = labPaths(env);
    const key = stateKey(base);
    const dir = path.join(statesDir(paths), stateDirName('source', 1024, key));
    fs.mkdirSync(dir, { recursive: true });
    for (const [n, c] of Object.entries(files)) fs.writeFileSync(path.join(dir, n), c);
    const full: StateMeta = { format: STATE_FORMAT, key, host: 'source', memoryMiB: 1024, accel: 'tcg', qemuVersion: base.qemuVersion, savedAt: 'now', saveMs: 1, bytes: { [STATE_FILES.memory]: 3, [STATE_FILES.disk]: 2 }, ...meta };
    fs.writeFileSync(path.join(dir, STATE_FILES.meta), JSON.stringify(full));
    return { paths, key, dir };
  };
  const good = { [STATE_FILES.memory]: 'abc', [STATE_FILES.disk]: 'de' };

  it('finds a complete state for its key', () => {
    const { paths, key, dir } = write(tmp(), {}, good);
    const s = findState(paths, 'source', 1024, key);
    expect(s?.stateFile).toBe(path.join(dir, STATE_FILES.memory));
    expect(s?.diskFile).toBe(path.join(dir, STATE_FILES.disk));
  });

  it('refuses a state with another key, format or host, a file of the wrong size, or one missing', () => {
    const cases: [Partial<StateMeta>, Record<string, string>][] = [
      [{ key: 'f'.repeat(64) }, good],
      [{ format: STATE_FORMAT + 1 }, good],
      [{ host: 'target' }, good],
      [{}, { [STATE_FILES.memory]: 'ab', [STATE_FILES.disk]: 'de' }],
      [{}, { [STATE_FILES.memory]: 'abc' }],
      [{ bytes: {} }, good],
    ];
    for (const [meta, files] of cases) {
      const { paths, key } = write(tmp(), meta, files);
      expect(findState(paths, 'source', 1024, key), JSON.stringify(meta)).toBeUndefined();
    }
  });

  it('finds nothing without meta.json (a save that did not finish)', () => {
    const { paths, key, dir } = write(tmp(), {}, good);
    fs.rmSync(path.join(dir, STATE_FILES.meta));
    expect(findState(paths, 'source', 1024, key)).toBeUndefined();
  });
});

/** A fake qemu QMP server: answers from a script and records what it was asked. */
function fakeQmp(sock: string, answer: (cmd: string, args: unknown) => unknown) {
  const asked: string[] = [];
  const server = net.createServer((c) => {
    c.write(`${JSON.stringify({ QMP: { version: {}, capabilities: [] } })}\n`);
    let buf = '';
    c.on('data', (d) => {
      buf += d.toString();
      let i: number;
      while ((i = buf.indexOf('\n')) >= 0) {
        const m = JSON.parse(buf.slice(0, i));
        buf = buf.slice(i + 1);
        asked.push(m.execute);
        // an event in between must not be taken for the answer
        c.write(`${JSON.stringify({ event: 'STOP', timestamp: {} })}\n`);
        const a = m.execute === 'qmp_capabilities' ? {} : answer(m.execute, m.arguments);
        c.write(`${JSON.stringify(a instanceof Error ? { error: { class: 'GenericError', desc: a.message } } : { return: a })}\n`);
      }
    });
  });
  server.listen(sock);
  return { asked, close: () => server.close() };
}

describe('QMP', () => {
  let close = () => {};
  afterEach(() => close());

  it('negotiates, answers in order, skips events and turns errors into rejections', async () => {
    const sock = path.join(tmp(), 'q.sock');
    const f = fakeQmp(sock, (cmd) => (cmd === 'boom' ? new Error('no such thing') : { status: 'running', cmd }));
    close = f.close;
    const q = await Qmp.connect(sock);
    expect(await q.cmd('query-status')).toEqual({ status: 'running', cmd: 'query-status' });
    await expect(q.cmd('boom')).rejects.toThrow('GenericError: no such thing');
    expect(await q.cmd('query-migrate')).toEqual({ status: 'running', cmd: 'query-migrate' });
    q.close();
    expect(f.asked).toEqual(['qmp_capabilities', 'query-status', 'boom', 'query-migrate']);
  });

  it('waitResumed runs the VM (cont) once its paused state has loaded', async () => {
    const runDir = tmp();
    let status = 'inmigrate';
    let polls = 0;
    const f = fakeQmp(vmFiles(runDir, 'source').qmp, (cmd) => {
      if (cmd === 'query-status') {
        if (++polls === 3) status = 'paused';
        return { status };
      }
      if (cmd === 'cont') status = 'running';
      return { status: 'active' };
    });
    close = f.close;
    await waitResumed({ runDir, host: 'source', pid: process.pid, timeoutMs: 20_000 });
    expect(f.asked.filter((c) => c === 'cont')).toHaveLength(1);
    expect(f.asked.indexOf('cont')).toBeGreaterThan(f.asked.indexOf('query-status'));
  });

  it('waitResumed fails with lab-resume-failed when the load fails', async () => {
    const runDir = tmp();
    const f = fakeQmp(vmFiles(runDir, 'target').qmp, (cmd) => (cmd === 'query-status' ? { status: 'inmigrate' } : { status: 'failed', 'error-desc': 'load of migration failed: Invalid argument' }));
    close = f.close;
    const err = await waitResumed({ runDir, host: 'target', pid: process.pid, timeoutMs: 20_000 }).catch((e) => e);
    expect(err.code).toBe('lab-resume-failed');
    expect(err.host).toBe('lab-target');
    expect(err.evidence).toContain('Invalid argument');
  });

  it('waitResumed fails at once when qemu is gone', async () => {
    const err = await waitResumed({ runDir: tmp(), host: 'source', pid: 2 ** 22 + 7, timeoutMs: 5_000 }).catch((e) => e);
    expect(err.code).toBe('lab-resume-failed');
    expect(err.message).toContain('exited');
  });
});

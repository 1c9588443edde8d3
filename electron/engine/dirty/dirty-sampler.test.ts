import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EngineEvent } from '../../../shared/api.ts';
import { isFerryError } from '../../../shared/errors.ts';
import { SshHub } from '../../ssh/index.ts';
import { eventually, hostBlock, knownHostsLine, makeTestHome, processesMatching, type TestHome } from '../../ssh/testing/fixture.ts';
import { startSshd, type TestSshd } from '../../ssh/testing/sshd.ts';
import { LiveSampler, measureDirtyRate, pythonMissing, type Sample } from './dirty-sampler.ts';
import { CommandRunner } from '../commands/runner.ts';

// The sampler through a real OpenSSH connection to this machine, against a real process.
let sshd: TestSshd;
let th: TestHome;
let hub: SshHub;
let child: ChildProcess;
const MIB = 32;

/** Does this kernel track soft-dirty pages? Read from its own config, independently of the sampler. */
function kernelTracksSoftDirty(): boolean {
  const release = fs.readFileSync('/proc/sys/kernel/osrelease', 'utf8').trim();
  const config = fs.existsSync('/proc/config.gz')
    ? gunzipSync(fs.readFileSync('/proc/config.gz')).toString()
    : fs.existsSync(`/boot/config-${release}`)
      ? fs.readFileSync(`/boot/config-${release}`, 'utf8')
      : '';
  return /^CONFIG_MEM_SOFT_DIRTY=y$/m.test(config);
}

beforeAll(async () => {
  th = makeTestHome();
  sshd = await startSshd();
  fs.writeFileSync(th.sshConfig, hostBlock('box', sshd));
  fs.writeFileSync(th.userKnownHosts, knownHostsLine(sshd));
  hub = new SshHub({ env: th.env, killGraceMs: 1000 });
  child = spawn('python3', ['-c', `import time\nb=bytearray(${MIB}<<20)\nfor i in range(0,len(b),4096): b[i]=1\nprint('ready',flush=True)\ntime.sleep(600)`], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((resolve) => child.stdout!.on('data', (d: Buffer) => d.toString().includes('ready') && resolve()));
});
afterAll(async () => {
  child?.kill('SIGKILL');
  await hub?.closeAll();
  await sshd?.stop();
  th?.cleanup();
});

describe('LiveSampler over ssh', () => {
  it('records its command without streaming its output, and either samples or says once why it cannot', async () => {
    const events: EngineEvent[] = [];
    const run = new CommandRunner((e) => events.push(e), (a) => hub.session(a), () => 'root', 'm1');
    const samples: Sample[] = [];
    const off: Array<{ note: string; lasting: boolean }> = [];
    const sampler = new LiveSampler({ run, host: 'box', pids: [child.pid!], intervalMs: 100, runMs: 1000, onSample: (s) => samples.push(s), onOff: (note, lasting) => off.push({ note, lasting }) });
    if (kernelTracksSoftDirty()) {
      // Bounded runs follow one another while sampling is wanted.
      await eventually(() => samples.length >= 12, 'a dozen samples over more than one sampler run', 20_000);
      expect(samples[0]!.presentPages).toBeGreaterThanOrEqual(MIB * 256);
      expect(events.filter((e) => e.type === 'command-started').length).toBeGreaterThanOrEqual(2);
    } else {
      // This machine's kernel lacks CONFIG_MEM_SOFT_DIRTY: sampling turns itself off, clearly.
      await eventually(() => off.length > 0, 'the sampler to say sampling is off', 20_000);
      expect(off).toEqual([{ note: expect.stringMatching(/off on box: this kernel does not track soft-dirty pages/), lasting: true }]);
      expect(samples).toEqual([]);
    }
    await sampler.stop();
    const started = events.filter((e) => e.type === 'command-started');
    expect(started.length).toBeGreaterThan(0);
    for (const e of started) expect(e.type === 'command-started' && e.argv[0]).toBe('python3');
    // Samples are data, not log lines.
    expect(events.filter((e) => e.type === 'command-output' && e.stream === 'stdout')).toEqual([]);
    expect(events.filter((e) => e.type === 'command-finished').length).toBe(started.length);
  });

  // Without soft-dirty tracking the sampler ends by itself after its first line: nothing to stop.
  it.skipIf(!kernelTracksSoftDirty())('stop() returns only once the remote sampler has ended', async () => {
    const run = new CommandRunner(() => undefined, (a) => hub.session(a), () => 'root', 'm2');
    let samples = 0;
    const sampler = new LiveSampler({ run, host: 'box', pids: [child.pid!], intervalMs: 100, runMs: 60_000, onSample: () => samples++, onOff: () => undefined });
    await eventually(() => samples > 0, 'a first sample', 10_000);
    expect(processesMatching('python3 -c import os, sys, time, ctypes').length).toBeGreaterThan(0);
    await sampler.stop();
    expect(processesMatching('python3 -c import os, sys, time, ctypes')).toEqual([]);
  });
});

describe('measureDirtyRate over ssh', () => {
  it('clears, waits and counts the real tree; on a kernel without soft-dirty it refuses with the reason', async () => {
    const events: EngineEvent[] = [];
    const run = new CommandRunner((e) => events.push(e), (a) => hub.session(a), () => 'root');
    const got = await measureDirtyRate(run, 'box', child.pid!, 1).catch((e: unknown) => e);
    const argvs = events.flatMap((e) => (e.type === 'command-started' ? [e.argv] : []));
    // ps, then the reset (the fixed script, the PID as an argument), then the count.
    expect(argvs[1]!.slice(0, 2)).toEqual(['python3', '-c']);
    expect(argvs[1]!.slice(3)).toEqual([String(child.pid)]);
    if (kernelTracksSoftDirty()) {
      expect(isFerryError(got)).toBe(false);
      const p = got as Awaited<ReturnType<typeof measureDirtyRate>>;
      expect(p.seconds).toBeGreaterThanOrEqual(1);
      expect(p.presentPages).toBeGreaterThanOrEqual(MIB * 256);
    } else {
      expect(isFerryError(got) && got.code).toBe('soft-dirty-unsupported');
      expect(isFerryError(got) && got.host).toBe('box');
      expect(isFerryError(got) && got.hint).toMatch(/cold migration/);
    }
  });

  it('names a missing process and bounds the wait', async () => {
    const run = new CommandRunner(() => undefined, (a) => hub.session(a), () => 'root');
    await expect(measureDirtyRate(run, 'box', 4_000_000, 1)).rejects.toMatchObject({ code: 'no-such-process', host: 'box' });
    await expect(measureDirtyRate(run, 'box', child.pid!, 61)).rejects.toMatchObject({ code: 'bad-request' });
  });
});

describe('pythonMissing', () => {
  it('recognises a missing python3 as the remote shell reports it, and nothing else', () => {
    // Recorded: `env -i PATH=/nonexistent bash -c 'echo "FERRY-PGID $$" >&2; exec python3 -c 1'` (exit 127).
    expect(pythonMissing({ code: 127, stderr: 'FERRY-PGID 28725\n/bin/bash: line 1: exec: python3: not found\n' })).toBe(true);
    expect(pythonMissing({ code: 1, stderr: 'sudo: python3: command not found\n' })).toBe(true);
    expect(pythonMissing({ code: 1, stderr: "PermissionError: [Errno 13] Permission denied: '/proc/1/pagemap'\n" })).toBe(false);
    expect(pythonMissing({ code: 0, stderr: '' })).toBe(false);
  });
});

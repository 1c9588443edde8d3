/**
 * The rehearsal lab, for real: builds (or reuses) the image, boots both VMs under qemu,
 * and talks to them only through Ferry's SSH layer (SshHub, aliases lab-source / lab-target,
 * host keys verified from Ferry's known_hosts). Cold: ~2 min image build + ~50 s boot (TCG);
 * later labs resume both VMs from their saved post-boot states in seconds.
 *
 * Isolation: a temp FERRY_HOME and HOME (ssh_config, known_hosts, run dir), other ports than
 * the default lab, and the user's real image cache (FERRY_LAB_CACHE) so a warm run is fast.
 * Set FERRY_SKIP_LAB=1 to skip on a machine without qemu/debootstrap/root.
 */
import fs from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SshHub } from '../ssh/index.ts';
import { labPaths } from './context.ts';
import { findLabQemus, labDown, labStatus, labUp, startWorkload, workloadStatus, type LabProgress, type LabUpResult } from './index.ts';
import { LAB_HOSTS, labAlias } from './types.ts';
import { isolatedLab } from './testing.ts';

const { root, env, ports } = isolatedLab('ferry-labtest-', 1);
const log = (s: string) => process.stderr.write(`[lab] ${s}\n`);

describe.skipIf(process.env.FERRY_SKIP_LAB === '1').sequential('rehearsal lab (two qemu VMs, real CRIU)', () => {
  let hub: SshHub;
  let up: LabUpResult;
  const t0 = Date.now();

  beforeAll(async () => {
    const events: LabProgress[] = [];
    up = await labUp({ env, ports }, (p) => {
      events.push(p);
      if (p.done || p.fraction === undefined) log(`${((Date.now() - t0) / 1000).toFixed(1)}s ${p.step}${p.host ? `[${p.host}]` : ''}: ${p.message}`);
    });
    log(`up: accel ${up.accel}, built ${up.built}, timings ${JSON.stringify(up.timings)}`);
    expect(events.some((e) => e.step === 'ssh' && e.host === 'source')).toBe(true);
    hub = new SshHub({ env });
  }, 20 * 60_000);

  afterAll(async () => {
    await hub?.closeAll();
    await labDown({ env });
    fs.rmSync(root, { recursive: true, force: true });
    log(`suite ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  }, 120_000);

  it('status shows both VMs running and reachable, and the accel', async () => {
    const s = await labStatus({ env });
    expect(s.up).toBe(true);
    expect(s.accel).toBe(up.accel);
    expect(s.image.state).toBe('ready');
    for (const v of s.vms) {
      expect(v.running).toBe(true);
      expect(v.reachable).toBe(true);
      expect(v.sshPort).toBe(ports.ssh[v.host]);
    }
    // Trust lives in Ferry's own files, as managed blocks.
    expect(fs.readFileSync(s.knownHosts, 'utf8')).toMatch(/^\[127\.0\.0\.1\]:2231 ssh-ed25519 AAAA/m);
    expect(fs.readFileSync(s.sshConfig, 'utf8')).toContain('Host lab-target');
  }, 60_000);

  /** Guest clock minus host clock (ms, midpoint of the exec), and the first 16 bytes urandom gives. */
  const guestFacts = async (h: 'source' | 'target') => {
    const t1 = Date.now();
    const r = await hub.session(labAlias(h)).exec(['sh', '-c', 'date -u +%s.%N; head -c 16 /dev/urandom | od -An -tx1 | tr -d " \\n"'], { timeoutMs: 30_000 });
    const t2 = Date.now();
    const [date, random] = r.stdout.trim().split('\n');
    return { skewMs: Number(date) * 1000 - (t1 + t2) / 2, random: random!, rttMs: t2 - t1 };
  };
  const firstResume: Record<string, string> = {};

  it('each VM was resumed from its saved state, with the host clock set and its random generator reseeded', async () => {
    for (const h of LAB_HOSTS) {
      expect(up.boot?.[h]?.how, `${h}: ${up.boot?.[h]?.fallback}`).toBe('resumed');
      const f = await guestFacts(h);
      log(`${h}: clock ${f.skewMs.toFixed(0)} ms off (exec ${f.rttMs} ms), urandom ${f.random}`);
      // The saved state's clock stood still since it was saved; up set it from the host.
      expect(Math.abs(f.skewMs)).toBeLessThan(3000 + f.rttMs);
      expect(f.random).toMatch(/^[0-9a-f]{32}$/);
      firstResume[h] = f.random;
    }
  }, 60_000);

  it('each VM is who it says: hostname and its own host key', async () => {
    for (const h of LAB_HOSTS) {
      const r = await hub.session(labAlias(h)).exec(['sh', '-c', 'hostname; cut -d" " -f2 /etc/ssh/ssh_host_ed25519_key.pub'], { timeoutMs: 30_000 });
      const [name, key] = r.stdout.trim().split('\n');
      expect(name).toBe(h);
      expect(fs.readFileSync(labPaths(env).knownHosts, 'utf8')).toContain(`[127.0.0.1]:${ports.ssh[h]} ssh-ed25519 ${key}`);
    }
  }, 60_000);

  it('criu check passes on both VMs, and mem_dirty_track is supported', async () => {
    await Promise.all(
      LAB_HOSTS.map(async (h) => {
        const s = hub.session(labAlias(h));
        const check = await s.exec(['criu', 'check'], { timeoutMs: 60_000 });
        expect(check.code, `${h}: ${check.stderr}`).toBe(0);
        expect(check.stdout + check.stderr).toContain('Looks good.');
        const dirty = await s.exec(['criu', 'check', '--feature', 'mem_dirty_track'], { timeoutMs: 60_000 });
        expect(dirty.code).toBe(0);
        expect(dirty.stdout).toContain('mem_dirty_track is supported');
      }),
    );
  }, 120_000);

  it('the workload starts at PID 50000 on the source, its counter advances and memory verifies', async () => {
    const w = await startWorkload({ env, host: 'source', mib: 32, rate: 500 }, hub);
    expect(w.pid).toBe(50000);
    // a session leader (CRIU dumps it without --shell-job), stdin from /dev/null
    const ps = await hub.session('lab-source').exec(['ps', '-o', 'pid=,sid=,comm=', '-p', String(w.pid)]);
    expect(ps.stdout.trim().split(/\s+/).slice(0, 2)).toEqual([String(w.pid), String(w.pid)]);
    const stdin = await hub.session('lab-source').exec(['readlink', `/proc/${w.pid}/fd/0`]);
    expect(stdin.stdout.trim()).toBe('/dev/null');
    await sleep(2500);
    const a = await workloadStatus('source', { env }, hub);
    await sleep(2500);
    const b = await workloadStatus('source', { env }, hub);
    log(`workload: ${a.raw} -> ${b.raw}`);
    expect(b.host).toBe('source');
    expect(b.pid).toBe(50000);
    expect(b.counter).toBeGreaterThan(a.counter);
    expect(a.verify).toBe('OK');
    expect(b.verify).toBe('OK');
    expect(b.bad).toBe(0);
  }, 120_000);

  it('the private link carries traffic: source connects to 10.0.0.2:27000 on the target', async () => {
    const server = `import socket
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("10.0.0.2", 27000)); s.listen(1); s.settimeout(60)
c, addr = s.accept(); c.sendall(("ferry-link-ok from=%s\\n" % addr[0]).encode()); c.close()`;
    const client = `import socket, sys, time
for i in range(40):
    try:
        c = socket.create_connection(("10.0.0.2", 27000), timeout=5); print(c.recv(100).decode().strip()); sys.exit(0)
    except OSError as e:
        err = e; time.sleep(0.5)
print("no connection:", err); sys.exit(1)`;
    const started = await hub
      .session('lab-target')
      .exec(['sh', '-c', 'setsid python3 -c "$1" </dev/null >/tmp/ferry-link-test.out 2>&1 & echo $!', 'sh', server], { timeoutMs: 30_000 });
    expect(started.code).toBe(0);
    const r = await hub.session('lab-source').exec(['python3', '-c', client], { timeoutMs: 60_000 });
    expect(r.stdout.trim(), r.stderr).toBe('ferry-link-ok from=10.0.0.1');
  }, 120_000);

  it('down stops both VMs and leaves no qemu of the lab behind', async () => {
    const runDir = labPaths(env).runDir;
    const before = findLabQemus(runDir);
    expect(before).toHaveLength(2);
    await hub.closeAll();
    const stopped = await labDown({ env });
    expect(stopped.sort()).toEqual(['source', 'target']);
    expect(findLabQemus(runDir)).toEqual([]);
    for (const q of before) expect(fs.existsSync(`/proc/${q.pid}`)).toBe(false);
    const s = await labStatus({ env });
    expect(s.up).toBe(false);
    expect(s.vms.every((v) => !v.running)).toBe(true);
  }, 120_000);

  it('a second up resumes the same saved states, yet the guests draw other random bytes than after the first', async () => {
    const again = await labUp({ env, ports });
    hub = new SshHub({ env });
    for (const h of LAB_HOSTS) {
      expect(again.boot?.[h]?.how).toBe('resumed');
      expect(again.boot?.[h]?.saved).toBeFalsy();
      const f = await guestFacts(h);
      log(`${h} again: clock ${f.skewMs.toFixed(0)} ms off, urandom ${f.random}`);
      expect(Math.abs(f.skewMs)).toBeLessThan(3000 + f.rttMs);
      // Same saved RAM, so without a reseed the same bytes would come out in the same order.
      expect(f.random).not.toBe(firstResume[h]);
    }
  }, 300_000);
});

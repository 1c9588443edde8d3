/**
 * TLS for page streams against real CRIU 3.17.1 in the lab. A workload holding a
 * random 32-byte marker (repeated over 128 KiB of its memory) is migrated while this machine
 * captures the VMs' private link: the link is a qemu `-netdev dgram` UDP socket pair on
 * 127.0.0.1 (ports.link), so tcpdump on loopback sees every frame between the VMs. The
 * control channel (SSH to 127.0.0.1:ports.ssh) is not in the capture: only the page streams.
 */
import { execa, type ResultPromise } from 'execa';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { MigrationPlan } from '../../../shared/domain.ts';
import type { HostSession } from '../../ssh/index.ts';
import { journalPath, readJournal, replay } from '../journal/journal.ts';
import { renderReport, renderRunbook } from '../journal/report.ts';
import { engineLab, WORKLOAD_PID } from '../testing/lab.ts';

const lab = engineLab('ferry-tls-', 10);
const { env, sh, expectRunsOnlyOn, migrate } = lab;

const tcpdump = ['/usr/sbin/tcpdump', '/usr/bin/tcpdump'].find((p) => {
  try {
    return statSync(p).isFile();
  } catch {
    return false;
  }
});

/**
 * The marker workload: python3 holding MARKER x 4096 in a bytearray; on SIGUSR1 it writes
 * whether that memory is still intact (so a restored copy can prove its pages arrived).
 */
const MARKER_PROGRAM = `import os, signal, sys, time
m = bytes.fromhex(sys.argv[1]); n = 4096
buf = bytearray(m * n)
def report(*_):
    with open('/tmp/ferry-marker.status', 'w') as f:
        f.write(('intact' if buf == m * n else 'damaged') + ' %d\\n' % os.getpid())
signal.signal(signal.SIGUSR1, report)
while True:
    time.sleep(1)
`;

/** Start it as a session leader at WORKLOAD_PID (ns_last_pid, like the lab's startWorkload). */
async function startMarker(marker: Buffer): Promise<void> {
  const r = await sh(
    'lab-source',
    'echo $(($1 - 1)) > /proc/sys/kernel/ns_last_pid; setsid python3 -c "$2" "$3" ferry-marker </dev/null >/dev/null 2>&1 & echo $!',
    String(WORKLOAD_PID),
    MARKER_PROGRAM,
    marker.toString('hex'),
  );
  expect(r.stdout.trim(), r.stderr).toBe(String(WORKLOAD_PID));
  // Until the bytearray exists (python3 starts slowly under TCG).
  await expect.poll(async () => (await markerStatus('lab-source')) ?? '', { timeout: 60_000, interval: 1000 }).toMatch(/^intact/);
}

async function markerStatus(alias: string): Promise<string | undefined> {
  // Signal only once the handler is in place (SigCgt has SIGUSR1, bit 9): before that, USR1 kills python.
  const r = await sh(alias, 'c=$(awk \'/^SigCgt/ {print $2}\' /proc/$1/status) || exit 1; [ $((0x$c & 0x200)) -ne 0 ] || exit 2; rm -f /tmp/ferry-marker.status; kill -USR1 "$1" || exit 1; for i in $(seq 50); do [ -s /tmp/ferry-marker.status ] && exec cat /tmp/ferry-marker.status; sleep 0.2; done; exit 1', String(WORKLOAD_PID));
  return r.code === 0 ? r.stdout.trim() : undefined;
}

/** Capture the private link's frames (both directions) into a pcap file until stopped. */
async function capture(): Promise<{ stop(): Promise<Buffer> }> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'ferry-tls-cap-'));
  const file = path.join(dir, 'link.pcap');
  const filter = `udp port ${lab.ports.link.source} or udp port ${lab.ports.link.target}`;
  const p: ResultPromise = execa(tcpdump!, ['-i', 'lo', '--immediate-mode', '-U', '-s', '0', '-w', file, filter], { reject: false, stdin: 'ignore' });
  // tcpdump says "listening on lo" once it captures.
  await new Promise<void>((resolve, reject) => {
    let err = '';
    p.stderr?.on('data', (b: Buffer) => {
      err += b.toString();
      if (/listening on/.test(err)) resolve();
    });
    void p.then(() => reject(new Error(`tcpdump ended: ${err}`)));
  });
  return {
    async stop() {
      // tcpdump drops what it has not yet read from the kernel when interrupted: let it catch up.
      await new Promise((r) => setTimeout(r, 1500));
      p.kill('SIGINT');
      await p;
      const bytes = readFileSync(file);
      rmSync(dir, { recursive: true, force: true });
      return bytes;
    },
  };
}

/** Every file Ferry wrote on this machine (journals, logs, plans, the VMs' serial logs) for this suite. */
function ferryFiles(): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      // The VMs' disk overlays hold the VMs' own files (keys included while they existed): not Ferry's records.
      else if (e.isFile() && !/\.(qcow2|img|raw)$/.test(e.name) && statSync(p).size < 16 * 1024 * 1024) out.push(p);
    }
  };
  walk(env.FERRY_HOME!);
  return out;
}

const keyBodies: string[] = [];
const migrationIds: string[] = [];

/**
 * The source's session, with a look at the target's TLS files just before the first
 * pre-dump (or lazy dump) runs: their modes, owner, and the key's bytes (for the search
 * at the end). `before` runs there too (the rogue client).
 */
function watchingSource(before?: () => Promise<void>) {
  const source = lab.session('lab-source');
  let done = false;
  const seen: { modes?: string } = {};
  const session = (alias: string): HostSession => {
    if (alias !== 'lab-source') return lab.session(alias);
    return new Proxy(source, {
      get(t, prop, recv) {
        if (prop !== 'exec') {
          const v = Reflect.get(t, prop, recv);
          return typeof v === 'function' ? v.bind(t) : v;
        }
        return async (argv: string[], opts?: Parameters<HostSession['exec']>[1]) => {
          const criu = argv.indexOf('criu');
          const sub = criu >= 0 ? argv[criu + 1] : undefined;
          if (!done && (sub === 'pre-dump' || sub === 'dump') && argv.includes('--tls-key')) {
            done = true;
            const key = argv[argv.indexOf('--tls-key') + 1]!;
            const tlsDir = path.posix.dirname(key);
            const st = await lab.session('lab-target').exec(['stat', '-c', '%a %U %n', '--', tlsDir, key]);
            seen.modes = st.stdout.trim();
            const k = await lab.session('lab-target').exec(['cat', '--', key]);
            keyBodies.push(...k.stdout.split('\n').filter((l) => l && !l.startsWith('-----')));
            await before?.();
          }
          return t.exec(argv, opts);
        };
      },
    });
  };
  return { session, seen };
}

async function migrateMarker(over: Partial<MigrationPlan>, before?: () => Promise<void>) {
  const w = watchingSource(before);
  let decided = false;
  const m = migrate(
    lab.plan({ auto: false, ...over }),
    (e, control) => {
      if (e.type === 'estimate' && !decided) {
        decided = true;
        control('cutover-now');
      }
    },
    w.session,
  );
  migrationIds.push(m.id);
  const r = await m.done;
  return { ...r, m, seen: w.seen };
}

/** The migration's TLS files are gone from both VMs (checked right after it, before the next scenario cleans up). */
async function expectNoTlsLeft(id: string) {
  for (const alias of ['lab-source', 'lab-target']) {
    const r = await sh(alias, 'ls -d -- "$1"/tls "$1"/*/tls 2>/dev/null; exit 0', `/var/lib/ferry/${id}`);
    expect(r.stdout.trim(), `TLS files left on ${alias}`).toBe('');
  }
}

const cleanMarker = async () => {
  for (const alias of ['lab-source', 'lab-target']) await lab.session(alias).exec(['pkill', '-KILL', '-f', 'ferry-marker']);
  await lab.cleanVms();
};

describe.skipIf(process.env.FERRY_SKIP_LAB === '1').sequential('TLS for page streams against real CRIU', () => {
  lab.useInSuite(cleanMarker);

  // Skipped only where tcpdump is missing (.ci/setup installs it).
  it.skipIf(!tcpdump)('pre-copy with TLS: the marker crosses the link in no frame, and arrives intact; with TLS off it shows in clear', async () => {
    const marker = randomBytes(32);
    await startMarker(marker);
    const cap = await capture();
    const on = await migrateMarker({});
    const frames = await cap.stop();
    expect(on.error).toBeUndefined();
    expect(on.outcome).toBe('committed');
    // Keys were root's alone while they existed.
    expect(on.seen.modes).toMatch(/^700 root \S+\/tls\n600 root \S+\/tls\/key\.pem$/);
    expect(frames.length).toBeGreaterThan(100_000); // the pages did cross the link
    expect(frames.includes(marker)).toBe(false);
    expect(await markerStatus('lab-target')).toBe(`intact ${WORKLOAD_PID}`);
    await expectRunsOnlyOn('lab-target');
    await expectNoTlsLeft(on.m.id);
    const journal = replay(readJournal(journalPath(on.m.id, { env })).records);
    expect(renderReport(journal)).toMatch(/page streams \| TLS, both hosts authenticated/);

    // The same with TLS off: the marker is in the frames, so the check above can fail.
    await cleanMarker();
    const marker2 = randomBytes(32);
    await startMarker(marker2);
    const cap2 = await capture();
    const off = await migrateMarker({ tls: false });
    const clear = await cap2.stop();
    expect(off.outcome).toBe('committed');
    expect(clear.includes(marker2)).toBe(true);
    const offJournal = replay(readJournal(journalPath(off.m.id, { env })).records);
    expect(renderReport(offJournal)).toMatch(/\*\*TLS off\*\*/);
  }, 12 * 60_000);

  it.skipIf(!tcpdump)('post-copy with TLS: the lazy dump serves pages over TLS; the marker crosses in no frame and arrives intact', async () => {
    const marker = randomBytes(32);
    await startMarker(marker);
    const cap = await capture();
    const r = await migrateMarker({ mode: 'postcopy' });
    const frames = await cap.stop();
    expect(r.error).toBeUndefined();
    expect(r.outcome).toBe('committed');
    expect(r.postcopy?.pagesTotal).toBeGreaterThan(32); // the marker's 32 pages, at least
    expect(frames.includes(marker)).toBe(false);
    expect(await markerStatus('lab-target')).toBe(`intact ${WORKLOAD_PID}`);
    await expectRunsOnlyOn('lab-target');
    await expectNoTlsLeft(r.m.id);
  }, 10 * 60_000);

  it('a rogue client that reaches the page server first is refused; the migration fails cleanly naming it, and nothing is restored', async () => {
    const marker = randomBytes(32);
    await startMarker(marker);
    // From the target's own address (10.0.0.2), so it cannot pass for the source: a TLS
    // client without a certificate, then plain bytes, as soon as the page server listens.
    const rogue = async () => {
      const r = await sh(
        'lab-target',
        `python3 - <<'PY'
import socket, ssl, time
for i in range(100):
    try:
        s = socket.create_connection(("10.0.0.2", 27000), timeout=10); break
    except OSError:
        time.sleep(0.1)
c = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT); c.check_hostname = False; c.verify_mode = ssl.CERT_NONE
try:
    t = c.wrap_socket(s); t.sendall(b"\\0" * 4096); d = t.recv(16)
    # TLS 1.3: the client's side of the handshake ends first; the server then checks it and hangs up.
    print("rogue: refused (closed)" if not d else "rogue: accepted %r" % d)
except Exception as e:
    print("rogue: refused", type(e).__name__)
PY`,
      );
      expect(r.stdout).toMatch(/rogue: refused/);
    };
    const r = await migrateMarker({ retention: 'keep' }, rogue);
    expect(r.outcome).toBe('rolled-back');
    expect(r.error?.code).toBe('page-server-refused-peer');
    expect(r.error?.host).toBe('lab-target');
    expect(r.error?.message).toMatch(/refused 10\.0\.0\.2:\d+/);
    // Nothing ran on the target; the source's copy is untouched.
    await expectRunsOnlyOn('lab-source');
    expect(await markerStatus('lab-source')).toBe(`intact ${WORKLOAD_PID}`);
    await expectNoTlsLeft(r.m.id);
  }, 8 * 60_000);

  // The key files on the VMs are checked right after each migration (expectNoTlsLeft).
  it('leaves no key material in any journal, log, report or runbook', async () => {
    expect(migrationIds.length).toBeGreaterThan(0);
    expect(keyBodies.length).toBeGreaterThan(0);
    const texts = ferryFiles().map((f) => [f, readFileSync(f, 'latin1')] as const);
    for (const id of migrationIds) {
      const j = replay(readJournal(journalPath(id, { env })).records);
      texts.push([`${id} report`, renderReport(j)], [`${id} runbook`, renderRunbook(j)]);
    }
    expect(texts.length).toBeGreaterThan(migrationIds.length);
    for (const [name, text] of texts) {
      expect(text, name).not.toMatch(/-----BEGIN/);
      expect(text, name).not.toMatch(/PRIVATE KEY/);
      for (const line of keyBodies) expect(text.includes(line), `${name} holds key bytes`).toBe(false);
    }
  }, 2 * 60_000);
});

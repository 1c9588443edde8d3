/**
 * Bandwidth cap: the migration link measured once, uncapped, before the cap goes on. The
 * capped pre-dumps only show the cap's rate, but the final dump runs uncapped (unless the plan
 * caps it too), so the estimate needs what the link does without the cap.
 *
 * One timed transfer over the page server's path: the target listens on the page server's port
 * (reserved for this migration, the page server not started yet), the source sends at most
 * LINK_PROBE_MIB or LINK_PROBE_SECONDS of random bytes, over TLS with the migration's keys
 * when the plan uses TLS (the page stream's encryption is part of its cost). The receiver
 * times from its first chunk to the end and prints "BYTES SECONDS" (the first chunk not
 * counted). python3 on both hosts (preflight checks it for the guard). Two recorded commands;
 * a probe that fails is journaled and leaves the estimate on the capped rate (an upper bound
 * on the time): it never stops the migration.
 */
import type { CriuTlsOptions } from '../../criu/argv.ts';
import type { LinkMeasure } from '../../../shared/bandwidth-cap.ts';
import type { CommandRunner } from '../commands/runner.ts';

export const LINK_PROBE_MIB = 16;
export const LINK_PROBE_SECONDS = 2;
/** Whole probe, each side: connect retries, TLS handshake and python's start-up under emulation. */
export const LINK_PROBE_TIMEOUT_S = 40;

const RECEIVE = `
import socket, ssl, sys, time
port = int(sys.argv[1]); tls = sys.argv[2:]
if socket.has_dualstack_ipv6():
    s = socket.create_server(("", port), family=socket.AF_INET6, dualstack_ipv6=True)
else:
    s = socket.create_server(("", port))
s.settimeout(30)
c, peer = s.accept()
s.close()
c.settimeout(30)
if tls:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(tls[1], tls[2])
    ctx.load_verify_locations(tls[0])
    ctx.verify_mode = ssl.CERT_REQUIRED
    c = ctx.wrap_socket(c, server_side=True)
buf = bytearray(1 << 20)
n = 0
t0 = None
while True:
    k = c.recv_into(buf)
    if not k:
        break
    if t0 is None:
        t0 = time.monotonic()
    else:
        n += k
t1 = time.monotonic()
print(n, (t1 - t0) if t0 is not None else 0)
`;

const SEND = `
import os, socket, ssl, sys, time
host, port, mib, secs = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]); tls = sys.argv[5:]
deadline = time.monotonic() + 20
while True:
    try:
        s = socket.create_connection((host, port), timeout=10)
        break
    except OSError:
        if time.monotonic() > deadline:
            raise
        time.sleep(0.2)
if tls:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.load_verify_locations(tls[0])
    ctx.load_cert_chain(tls[1], tls[2])
    s = ctx.wrap_socket(s)
buf = os.urandom(1 << 20)
end = time.monotonic() + secs
sent = 0
while sent < mib << 20 and time.monotonic() < end:
    s.sendall(buf)
    sent += len(buf)
if tls:
    try:
        s = s.unwrap()
    except (OSError, ValueError):
        pass
s.close()
print(sent)
`;

const tlsArgs = (tls: CriuTlsOptions | undefined) => (tls ? [tls.cacert, tls.cert, tls.key] : []);

export function receiveArgv(port: number, tls?: CriuTlsOptions): string[] {
  return ['timeout', String(LINK_PROBE_TIMEOUT_S), 'python3', '-c', RECEIVE, String(port), ...tlsArgs(tls)];
}

export function sendArgv(address: string, port: number, tls?: CriuTlsOptions, mib = LINK_PROBE_MIB, seconds = LINK_PROBE_SECONDS): string[] {
  return ['timeout', String(LINK_PROBE_TIMEOUT_S), 'python3', '-c', SEND, address, String(port), String(mib), String(seconds), ...tlsArgs(tls)];
}

/** The receiver's "BYTES SECONDS" → a measurement; undefined unless at least 1 MiB came in a measurable time. */
export function parseLinkProbe(stdout: string, tls: boolean): LinkMeasure | undefined {
  const m = /^(\d+) (\d+(?:\.\d+)?(?:e-?\d+)?)\s*$/m.exec(stdout.trim());
  if (!m) return undefined;
  const bytes = Number(m[1]);
  const ms = Number(m[2]) * 1000;
  return bytes >= 1 << 20 && ms > 0 ? { bytes, ms, ...(tls ? { tls: true } : {}) } : undefined;
}

/** Run the probe: receiver on the target, sender on the source, both recorded. Never throws. */
export async function measureLink(
  run: CommandRunner,
  p: { source: string; target: string; targetAddress: string; port: number; tls?: CriuTlsOptions },
): Promise<{ link?: LinkMeasure; problem?: string }> {
  try {
    const receiving = run.run(p.target, receiveArgv(p.port, p.tls), { what: 'timing the link before the bandwidth cap (receiver)' });
    const sent = await run.run(p.source, sendArgv(p.targetAddress, p.port, p.tls), { what: 'timing the link before the bandwidth cap (sender)' });
    const got = await receiving;
    const link = got.code === 0 ? parseLinkProbe(got.stdout, !!p.tls) : undefined;
    if (link) return { link };
    const bad = got.code !== 0 ? got : sent;
    return { problem: `${bad === got ? p.target : p.source}: ${(bad.stderr || bad.stdout).trim().split('\n').slice(-1)[0] || `exit ${bad.code}`}` };
  } catch (e) {
    return { problem: e instanceof Error ? e.message : String(e) };
  }
}

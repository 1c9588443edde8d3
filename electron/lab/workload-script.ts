/**
 * The demo workload shipped in the lab image as /usr/local/bin/ferry-workload (python3).
 * Part of the image recipe: changing it changes the recipe hash and rebuilds the image.
 */
export const WORKLOAD_SCRIPT = String.raw`#!/usr/bin/python3
# ferry-workload: the lab's demo process for live migration rehearsals.
# Holds MIB MiB, rewrites RATE pages per second, and verifies every page once a second
# against a per-page version number (the shadow: 4 bytes per page, not a second copy).
# Page i at version v holds: 8-byte header (i, v) then 4088 bytes of fill byte f(i, v).
# Each second it appends one status line to STATUS (opened and closed per line, so the
# file is not held open across a checkpoint):
#   HH:MM:SS host=HOSTNAME pid=PID counter=N cursor=C verify=OK|FAIL bad=B
# host is read at the time of writing, so after a migration it names the new VM.
import argparse, array, os, socket, struct, sys, time

PAGE = 4096
HDR = struct.Struct('<II')

def fill(i, v):
    return ((i * 7 + v * 13) % 251) + 1

def main():
    ap = argparse.ArgumentParser(prog='ferry-workload')
    ap.add_argument('--mib', type=int, default=64)
    ap.add_argument('--rate', type=int, default=1000, help='pages dirtied per second')
    ap.add_argument('--status', required=True, help='status file (one line appended per second)')
    a = ap.parse_args()
    npages = a.mib * 256
    mem = bytearray(npages * PAGE)
    ver = array.array('I', bytes(4 * npages))
    bodies = [bytes([b]) * (PAGE - HDR.size) for b in range(256)]
    for i in range(npages):
        off = i * PAGE
        HDR.pack_into(mem, off, i, 0)
        mem[off + HDR.size:off + PAGE] = bodies[fill(i, 0)]
    counter = 0
    cursor = 0
    tick = 0.1
    carry = 0.0
    next_verify = time.monotonic()
    while True:
        t0 = time.monotonic()
        carry += a.rate * tick
        n = int(carry)
        carry -= n
        for _ in range(n):
            i = cursor
            v = ver[i] + 1
            ver[i] = v
            off = i * PAGE
            HDR.pack_into(mem, off, i, v)
            mem[off + HDR.size:off + PAGE] = bodies[fill(i, v)]
            cursor = (cursor + 1) % npages
            counter += 1
        now = time.monotonic()
        if now >= next_verify:
            bad = 0
            for i in range(npages):
                off = i * PAGE
                v = ver[i]
                if HDR.unpack_from(mem, off) != (i, v) or mem[off + HDR.size:off + PAGE] != bodies[fill(i, v)]:
                    bad += 1
            line = '%s host=%s pid=%d counter=%d cursor=%d verify=%s bad=%d\n' % (
                time.strftime('%H:%M:%S'), socket.gethostname(), os.getpid(), counter, cursor,
                'OK' if bad == 0 else 'FAIL', bad)
            with open(a.status, 'a') as f:
                f.write(line)
            next_verify = max(next_verify + 1.0, time.monotonic() + 0.5)
        rest = tick - (time.monotonic() - t0)
        if rest > 0:
            time.sleep(rest)

if __name__ == '__main__':
    try:
        main()
    except KeyboardInterrupt:
        sys.exit(0)
`;

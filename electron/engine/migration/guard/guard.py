"""Ferry's cutover guard: one per host from the final dump until commit (see README.md beside
this file). Shipped as `python3 -c SOURCE COMMAND ...`; standard library only.

Commands:
  start DIR --role source|target --lease-ms N --max-ms N --pids P,P [--listen ADDR:PORT]
        [--peer ADDR:PORT] [--images PATH]... [--restored-pidfile PATH] [--stop-pidfile PATH]...
        [--lazy-dump-log PATH --lazy-ready TEXT] [--after-resume-pidfile PATH]...   (post-copy)
                 secret on stdin; detaches (setsid) and prints {"started": PID, ...}
  renew DIR      one heartbeat line on stdin renews the lease; EOF ends it
  restore DIR [--timeout-ms N] -- ARGV...   (target) the guard runs the restore; exit = its exit
  commit DIR     (target) the commit point
  ask DIR --source-tree frozen|running|gone   (target) settle as the console
  rollback DIR [--keep-images]   (target) the console rolls back before commit: kill the restored copy, abort
  release DIR    the console finished: the guard exits
  status DIR     the state file and the log, one JSON object a line
  settle-table   the pure decision for JSON cases on stdin (tests)
Client commands read the per-migration secret (hex) as the first line of stdin.
"""
import hashlib, hmac, json, os, signal, socket, subprocess, sys, threading, time

EXIT_REFUSED, EXIT_NO_GUARD = 75, 76


# The decision, mirrored from shared/guard.ts settle(): keep both in step.
def settle(target, tree_on_target, source_tree):
    def s(answer, nxt, why):
        return {'answer': answer, 'targetNext': nxt, 'source': source_action(answer, source_tree), 'why': why}
    if target == 'restoring':
        return s('wait', target, 'the restore is running: ask again when it ended')
    if target == 'released':
        return s('hold', target, 'the console took over this migration: the guards decide nothing')
    copy_on_target = target in ('committed', 'kept') or (target == 'restored' and tree_on_target)
    if source_tree == 'gone':
        if copy_on_target:
            return s('keep-target', 'kept' if target == 'restored' else target, 'the source copy is gone: the target keeps the only copy')
        return s('hold', target, 'the source copy is gone and none runs on the target: keeping the images for a person to decide')
    if target == 'committed':
        if source_tree == 'running':
            return s('hold', target, 'past the commit point but the source copy runs: two copies, a person must choose')
        return s('keep-target', target, 'past the commit point: the target keeps its copy, the source copy goes')
    if target == 'kept':
        if source_tree == 'running':
            return s('hold', target, 'the target kept its copy but the source copy runs: a person must choose')
        return s('keep-target', target, 'the target already kept its copy')
    if target == 'restored':
        if not tree_on_target:
            if source_tree == 'running':
                return s('target-clear', 'aborted', 'the restored copy exited and the source copy runs: the target drops its images')
            return s('hold', target, 'the restored copy ran and exited: resuming the source would run it twice, a person must choose')
        if source_tree == 'running':
            return s('hold', target, 'the restored copy runs and so does the source copy: a person must choose')
        return s('keep-target', 'kept', 'the restored copy runs and has talked to clients: keep it, the source copy goes')
    if target == 'restore-failed' and tree_on_target:
        return s('hold', target, 'criu restore failed but part of the tree runs on the target: a person must choose')
    if tree_on_target:
        return s('hold', target, "the tree's PIDs run on the target though no restore ran through the guard: a person must choose")
    why = 'the restore failed and nothing of it runs: the source copy resumes' if target == 'restore-failed' \
        else 'no restore started: the target drops its images, the source copy resumes'
    return s('target-clear', 'aborted', why)


def source_action(answer, tree):
    if answer == 'target-clear':
        return 'resume' if tree == 'frozen' else 'none'
    if answer == 'keep-target':
        return 'none' if tree == 'gone' else 'kill'
    return answer


def now_iso():
    t = time.time()
    return time.strftime('%Y-%m-%dT%H:%M:%S', time.gmtime(t)) + '.%03dZ' % (int(t * 1000) % 1000)


def mono_ms():
    return int(time.monotonic() * 1000)


def canon(obj):
    return json.dumps(obj, sort_keys=True, separators=(',', ':')).encode()


def mac(secret, obj):
    return hmac.new(secret, canon(obj), hashlib.sha256).hexdigest()


def proc_state(pid):
    """One letter from /proc/PID/stat, or None when there is no such process."""
    try:
        with open('/proc/%d/stat' % pid, 'rb') as f:
            return f.read().rsplit(b')', 1)[1].split()[0].decode()
    except (OSError, IndexError):
        return None


def tracer(pid):
    """The PID ptrace-ing this one (criu dump while it runs), or 0."""
    try:
        with open('/proc/%d/status' % pid) as f:
            for line in f:
                if line.startswith('TracerPid:'):
                    return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


def tree_view(pid):
    st = proc_state(pid)
    if st is None or st in 'ZX':
        return 'gone'
    return 'frozen' if st in 'Tt' else 'running'


def read_secret():
    line = sys.stdin.readline().strip()
    try:
        secret = bytes.fromhex(line)
    except ValueError:
        secret = b''
    if len(secret) < 16:
        fail('the secret (at least 16 bytes, hex) must come as the first line of stdin')
    return secret


def fail(msg, code=2):
    sys.stderr.write('ferry-guard: %s\n' % msg)
    sys.exit(code)


def addr(text):
    host, _, port = text.rpartition(':')
    return (host.strip('[]'), int(port))


class Guard:
    def __init__(self, cfg, secret, sock):
        self.cfg, self.secret, self.sock = cfg, secret, sock
        self.dir, self.role = cfg['dir'], cfg['role']
        self.lock = threading.RLock()
        self.state = 'frozen' if self.role == 'source' else 'waiting'
        self.started = time.monotonic()
        self.renewed, self.lease_seen = self.started, None
        self.lease_lost_at = None
        self.settled_at = None
        self.answer = None
        self.next_ask, self.backoff = 0.0, 0.5
        self.done = False
        self.restore = None
        self.following = None  # post-copy: the target's answer while the lazy dump still sends pages
        self.after_resume = []  # post-copy: the lazy-pages daemon's PID, read before the images went
        # A tree PID already in use on this host at start is someone else's, never ours.
        self.taken = [p for p in cfg['pids'] if proc_state(p) is not None] if self.role == 'target' else []

    # --- durable records -------------------------------------------------------------
    def log(self, event, **fields):
        line = dict(at=now_iso(), mono=mono_ms(), role=self.role, event=event, **fields)
        fd = os.open(os.path.join(self.dir, 'guard.log'), os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, (json.dumps(line) + '\n').encode())
            os.fsync(fd)
        finally:
            os.close(fd)

    def save(self):
        doc = dict(role=self.role, state=self.state, pid=os.getpid(), at=now_iso(), listen=self.cfg['listen'],
                   peer=self.cfg.get('peer'), pids=self.cfg['pids'], taken=self.taken, leaseMs=self.cfg['lease_ms'],
                   maxMs=self.cfg['max_ms'], leaseLost=self.lease_lost_at is not None, answer=self.answer,
                   restore=self.restore)
        tmp = os.path.join(self.dir, 'guard.state.tmp')
        with open(tmp, 'w') as f:
            f.write(json.dumps(doc) + '\n')
            f.flush()
            os.fsync(f.fileno())
        os.rename(tmp, os.path.join(self.dir, 'guard.state'))
        dfd = os.open(self.dir, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)

    def become(self, state, why, **fields):
        if state == self.state:
            return
        old, self.state = self.state, state
        self.save()
        self.log('state', **{'from': old, 'to': state, 'why': why}, **fields)

    def command(self, argv):
        """Run a short command; its argv, times and exit go to the log (the console journals them)."""
        started, t0 = now_iso(), time.monotonic()
        try:
            r = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30)
            code, err = r.returncode, r.stderr.decode(errors='replace').strip()[-500:]
        except (OSError, subprocess.TimeoutExpired) as e:
            code, err = None, str(e)
        self.log('command', argv=argv, startedAt=started, ms=int((time.monotonic() - t0) * 1000), code=code, stderr=err)
        return code

    # --- the lease -----------------------------------------------------------------------
    def lease_live(self):
        """Lease age on this host's monotonic clock: renew writes a new counter, we see it change."""
        try:
            with open(os.path.join(self.dir, 'lease'), 'rb') as f:
                seen = f.read(64)
        except OSError:
            seen = None
        if seen and seen != self.lease_seen:
            self.lease_seen, self.renewed = seen, time.monotonic()
        return (time.monotonic() - self.renewed) * 1000 < self.cfg['lease_ms']

    def tree_on_target(self):
        ours = [p for p in self.cfg['pids'] if p not in self.taken]
        pidfile = self.cfg.get('restored_pidfile')
        if pidfile:
            try:
                with open(pidfile) as f:
                    p = int(f.read().strip())
                if p not in self.taken:
                    ours.append(p)
            except (OSError, ValueError):
                pass
        return any(tree_view(p) != 'gone' for p in ours)

    # --- the protocol, one function per side ----------------------------------------------
    def tick(self):
        """Called every 100 ms under the lock: the whole protocol of this host."""
        if time.monotonic() - self.started > self.cfg['max_ms'] / 1000.0:
            self.log('hard-maximum', state=self.state, note='the guard stops here; the state is left as it is for the console or a person')
            self.done = True
            return
        live = self.lease_live()
        if not live and self.lease_lost_at is None:
            self.lease_lost_at = time.monotonic()
            self.log('lease-lost', ageMs=int((time.monotonic() - self.renewed) * 1000), state=self.state)
            self.save()
        if self.role == 'target':
            # Nobody asked yet: a restore that never started never will.
            if not live and self.state == 'waiting':
                self.become('aborted', 'the lease ran out before any restore started')
                self.drop_images()
            return
        # source
        if live or self.state not in ('frozen', 'settling', 'hold') or time.monotonic() < self.next_ask:
            return
        root = self.cfg['pids'][0]
        lazy = self.cfg.get('lazy_dump_log')
        if tracer(root) and not lazy:
            # criu dump still holds the tree: a resume now would be undone by --leave-stopped.
            if self.state != 'settling':
                self.become('settling', 'criu dump (PID %d) still holds the tree: waiting for it to end' % tracer(root))
            self.next_ask = time.monotonic() + 0.5
            return
        if self.following is not None:
            # Post-copy, the target kept its copy: wait here, without asking again, for the dump to end the source copy.
            if tree_view(root) == 'gone':
                self.log('lazy-dump-ended', note='every page was sent; criu ended the source copy')
                self.settle_source('killed', self.following)
                return
            if tracer(root):
                self.next_ask = time.monotonic() + 0.5
                return
            self.following = None
            self.lazy_failed()
            return
        # Post-copy: the lazy dump holds the tree for the whole transfer, so ask while it does.
        tree = tree_view(root)
        rep = self.ask_peer(tree)
        if rep is None:
            self.backoff = min(self.backoff * 2, 5.0)
            self.next_ask = time.monotonic() + self.backoff
            self.become('hold', 'no answer from the target guard: the source stays frozen, the target as it is')
            return
        self.backoff = 0.5
        action = source_action(rep['answer'], tree)
        self.answer = rep['answer']
        if lazy and action in ('resume', 'kill') and not self.lazy_step(action, rep):
            return
        if action == 'resume':
            self.command(['kill', '-CONT', '--'] + [str(p) for p in self.cfg['pids']])
            self.settle_source('resumed', rep)
        elif action == 'kill':
            self.command(['kill', '-KILL', '--'] + [str(p) for p in self.cfg['pids']])
            self.settle_source('killed', rep)
        elif action == 'none':
            self.settle_source('resumed' if rep['answer'] == 'target-clear' else 'killed', rep)
        elif action == 'wait':
            self.next_ask = time.monotonic() + 0.5
            self.become('settling', rep.get('why', 'the target asked to wait'))
        else:
            self.next_ask = time.monotonic() + 5.0
            self.become('hold', rep.get('why', 'the target cannot decide'))

    # --- post-copy guard: the source copy is held by criu's lazy dump -----------------------
    def lazy_serving(self):
        try:
            with open(self.cfg['lazy_dump_log'], 'rb') as f:
                return self.cfg['lazy_ready'].encode() in f.read()
        except OSError:
            return False

    def lazy_step(self, action, rep):
        """Post-copy, before the table's action: True when the action may go ahead now."""
        root = self.cfg['pids'][0]
        tr = tracer(root)
        if action == 'kill':
            if tr:
                # The target keeps its copy: its missing pages still come from this dump, which
                # ends the source copy itself after the last one. Killing the tree now would lose them.
                self.following = rep
                self.next_ask = time.monotonic() + 0.5
                self.become('settling', 'the target keeps its copy; the lazy dump (PID %d) still sends its pages and ends the source copy after the last one' % tr)
                return False
            self.lazy_failed()
            return False
        # resume: stop the lazy dump first (CRIU lets the tree go, memory as at the freeze), but
        # only once it serves: killed while it writes the images, its parasite may still be in the tree.
        if tr and not self.lazy_serving():
            self.next_ask = time.monotonic() + 0.5
            self.become('settling', 'the lazy dump (PID %d) is still writing the images: stopping it once it serves' % tr)
            return False
        if tr:
            for sig, wait in (('TERM', 10.0), ('KILL', 5.0)):
                if not self.is_criu(tr):
                    break
                self.command(['kill', '-' + sig, '--', str(tr)])
                end = time.monotonic() + wait
                while tracer(root) and time.monotonic() < end:
                    time.sleep(0.1)
                if not tracer(root):
                    break
            if tracer(root):
                self.next_ask = time.monotonic() + 5.0
                self.become('hold', 'the lazy dump (PID %d) did not let the tree go' % tr)
                return False
            self.log('lazy-dump-stopped', pid=tr)
        return True

    def lazy_failed(self):
        """The dump ended and left the tree: it did not send every page, and a failed dump resumes
        the tree it held (cr_dump_finish). The target copy runs and may miss memory; this one has
        it all. Freeze it again (the safe state: source frozen, target as it is) and hold."""
        if tree_view(self.cfg['pids'][0]) == 'running':
            self.command(['kill', '-STOP', '--'] + [str(p) for p in self.cfg['pids']])
        self.next_ask = time.monotonic() + 5.0
        self.become('hold', 'the lazy dump ended before the last page and left the source copy: frozen again; the target copy may miss pages, a person must choose')

    @staticmethod
    def is_criu(pid):
        try:
            with open('/proc/%d/comm' % pid) as f:
                return f.read().strip() == 'criu'
        except OSError:
            return False

    def settle_source(self, state, rep):
        ms = int((time.monotonic() - self.lease_lost_at) * 1000) if self.lease_lost_at else None
        self.become(state, rep.get('why', ''), answer=rep['answer'], sinceLeaseLostMs=ms, tree=tree_view(self.cfg['pids'][0]))
        self.send_peer({'op': 'settled', 'source': state})
        self.done = True

    def ask_peer(self, tree):
        rep = self.send_peer({'op': 'ask', 'from': 'source', 'sourceTree': tree})
        if rep is None or rep.get('answer') not in ('target-clear', 'keep-target', 'wait', 'hold'):
            self.log('no-answer', peer=self.cfg['peer'], detail=(rep or {}).get('error', 'unreachable'))
            return None
        self.log('answer', **rep)
        return rep

    def send_peer(self, req):
        try:
            return request(addr(self.cfg['peer']), self.secret, req, timeout=3.0)
        except (OSError, ValueError) as e:
            return {'error': str(e)}

    def drop_images(self):
        # Post-copy: note the lazy-pages daemon now (its pidfile may go with the images); it is stopped once the source resumed.
        self.after_resume = self.read_pidfiles(self.cfg.get('after_resume_pidfiles') or [])
        # A page server still waiting for the final dump's pages: stop it (only a criu, by its pidfile).
        self.stop_pidfiles(self.cfg.get('stop_pidfiles') or [])
        for p in self.cfg['images']:
            self.command(['rm', '-rf', '--', p])

    @staticmethod
    def read_pidfiles(pidfiles):
        pids = []
        for pf in pidfiles:
            try:
                with open(pf) as f:
                    pids.append(int(f.read().strip()))
            except (OSError, ValueError):
                pass
        return pids

    def stop_pidfiles(self, pidfiles, pids=()):
        for pid in sorted(set(self.read_pidfiles(pidfiles)) | set(pids)):
            if self.is_criu(pid):  # only a criu: a stale pidfile may name someone else now
                self.command(['kill', '-TERM', '--', str(pid)])

    # --- requests (from the console, or from the source guard) ----------------------------
    def handle(self, req, peer):
        op = req.get('op')
        with self.lock:
            if op == 'ask' and self.role == 'target':
                tree = self.tree_on_target()
                d = settle(self.state, tree, req.get('sourceTree'))
                was = self.state
                self.become(d['targetNext'], d['why'])
                if d['targetNext'] == 'aborted' and was != 'aborted':
                    self.drop_images()
                self.answer = d['answer']
                self.save()
                self.log('answered', to=req.get('from'), peer=peer, sourceTree=req.get('sourceTree'), treeOnTarget=tree,
                         answer=d['answer'], state=self.state, why=d['why'])
                return {'answer': d['answer'], 'state': self.state, 'why': d['why']}
            if op == 'restore' and self.role == 'target':
                return self.run_restore(req)
            if op == 'commit' and self.role == 'target':
                if self.state == 'restored' or self.state in ('committed', 'kept'):
                    self.become('committed', 'the console passed the commit point')
                    return {'ok': True, 'state': self.state}
                self.log('commit-refused', state=self.state)
                return {'ok': False, 'state': self.state, 'error': 'commit refused: the target is %s' % self.state}
            if op == 'rollback' and self.role == 'target':
                return self.console_rollback(req.get('keepImages') is True)
            if op == 'settled' and self.role == 'target':
                self.log('source-settled', source=req.get('source'))
                if req.get('source') == 'resumed':
                    self.stop_pidfiles(self.cfg.get('after_resume_pidfiles') or [], self.after_resume)  # post-copy: the lazy-pages daemon
                self.done = True
                return {'ok': True}
            if op == 'release':
                if self.state == 'restoring':
                    return {'ok': False, 'state': self.state, 'error': 'a restore is running'}
                self.become('released', 'the console finished the migration itself')
                self.done = True
                return {'ok': True, 'state': self.state}
            return {'error': 'unknown request %r for the %s guard' % (op, self.role)}

    def console_rollback(self, keep_images=False):
        """The console's own rollback (verify or a hook failed): before the commit point only."""
        if self.state in ('restoring', 'committed', 'kept', 'released'):
            self.log('rollback-refused', state=self.state)
            return {'ok': False, 'state': self.state, 'error': 'rollback refused: the target is %s' % self.state}
        ours = [p for p in self.cfg['pids'] if p not in self.taken]
        pidfile = self.cfg.get('restored_pidfile')
        try:
            with open(pidfile or '') as f:
                ours.append(int(f.read().strip()))
        except (OSError, ValueError):
            pass
        ours = [p for p in ours if p not in self.taken and tree_view(p) != 'gone']
        if ours:
            self.command(['kill', '-KILL', '--'] + [str(p) for p in ours])
            end = time.monotonic() + 5
            while self.tree_on_target() and time.monotonic() < end:
                time.sleep(0.05)
        if self.tree_on_target():
            self.log('rollback-failed', pids=ours)
            return {'ok': False, 'state': self.state, 'error': 'the restored tree is still there after kill -KILL'}
        was = self.state
        self.become('aborted', 'the console rolled back: the restored copy was killed')
        # The console deletes the images itself when it rolls back (keeping CRIU's logs after a failure).
        if was != 'aborted' and not keep_images:
            self.drop_images()
        return {'ok': True, 'state': self.state, 'answer': 'target-clear'}

    def run_restore(self, req):
        """Called under the lock: record `restore-started` durably, then start it; wait outside."""
        live = self.lease_live()
        if self.state != 'waiting' or not live:
            why = 'the lease ran out' if self.state == 'waiting' else 'the target is %s' % self.state
            self.log('restore-refused', why=why, argv=req.get('argv'))
            return {'refused': why, 'state': self.state}
        argv = [str(a) for a in req.get('argv') or []]
        self.restore = {'argv': argv, 'startedAt': now_iso()}
        self.become('restoring', 'the console asked for the restore', argv=argv)
        self.log('restore-started', argv=argv)
        out = open(os.path.join(self.dir, 'restore.out'), 'wb')
        err = open(os.path.join(self.dir, 'restore.err'), 'wb')
        try:
            proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=err)
        except OSError as e:
            err.write(str(e).encode())
            proc = None
        out.close()
        err.close()
        waiter = threading.Thread(target=self.wait_restore, args=(proc, time.monotonic()), daemon=True)
        waiter.start()
        return {'wait': waiter}

    def wait_restore(self, proc, t0):
        code = proc.wait() if proc else 127
        with self.lock:
            self.restore.update(code=code, ms=int((time.monotonic() - t0) * 1000), endedAt=now_iso())
            self.log('restore-finished', code=code, ms=self.restore['ms'])
            self.become('restored' if code == 0 else 'restore-failed', 'criu restore exited with %d' % code)

    def reply_restore(self):
        def tail(name):
            try:
                with open(os.path.join(self.dir, name), 'rb') as f:
                    return f.read()[-16384:].decode(errors='replace')
            except OSError:
                return ''
        with self.lock:
            return {'code': self.restore.get('code'), 'state': self.state, 'ms': self.restore.get('ms'),
                    'stdout': tail('restore.out'), 'stderr': tail('restore.err')}

    # --- the loops --------------------------------------------------------------------------
    def serve_one(self, conn, peer):
        try:
            conn.settimeout(5.0)
            f = conn.makefile('rwb')
            nonce = os.urandom(16).hex()
            f.write(canon({'hello': nonce, 'role': self.role}) + b'\n')
            f.flush()
            msg = json.loads(f.readline(1 << 20) or b'{}')
            body = {'req': msg.get('req'), 'nonce': msg.get('nonce'), 'cnonce': msg.get('cnonce')}
            if msg.get('nonce') != nonce or not isinstance(msg.get('mac'), str) \
                    or not hmac.compare_digest(mac(self.secret, body), msg['mac']) or not isinstance(body['req'], dict):
                with self.lock:
                    self.log('rejected', peer=peer, why='bad or missing HMAC')
                f.write(canon({'error': 'unauthenticated'}) + b'\n')
                f.flush()
                return
            rep = self.handle(body['req'], peer)
            if 'wait' in rep:
                conn.settimeout(None)
                rep['wait'].join()
                rep = self.reply_restore()
            out = {'rep': rep, 'cnonce': body['cnonce']}
            out['mac'] = mac(self.secret, out)
            f.write(canon(out) + b'\n')
            f.flush()
        except (OSError, ValueError):
            pass
        finally:
            conn.close()

    def serve(self):
        while True:
            conn, peer = self.sock.accept()
            threading.Thread(target=self.serve_one, args=(conn, '%s:%d' % peer[:2]), daemon=True).start()

    def run(self):
        with self.lock:
            self.save()
            self.log('armed', state=self.state, pids=self.cfg['pids'], taken=self.taken, listen=self.cfg['listen'],
                     peer=self.cfg.get('peer'), leaseMs=self.cfg['lease_ms'], maxMs=self.cfg['max_ms'])
        threading.Thread(target=self.serve, daemon=True).start()
        while True:
            with self.lock:
                if not self.done:
                    self.tick()
                if self.done:
                    self.log('exit', state=self.state)
                    break
            time.sleep(0.1)
        time.sleep(0.3)  # let a reply in flight (release, settled) reach its asker


def request(address, secret, req, timeout):
    """One authenticated request; returns the verified reply, or {'error': ...}."""
    with socket.create_connection(address, timeout=3.0) as s:
        s.settimeout(timeout)
        f = s.makefile('rwb')
        line = f.readline(1 << 16)
        if not line:
            raise ConnectionError('the guard closed the connection')
        hello = json.loads(line)
        body = {'req': req, 'nonce': hello.get('hello'), 'cnonce': os.urandom(16).hex()}
        f.write(canon(dict(body, mac=mac(secret, body))) + b'\n')
        f.flush()
        line = f.readline(1 << 22)
        if not line:
            raise ConnectionError('the guard closed the connection before it answered')
        msg = json.loads(line)
    if 'error' in msg:
        return {'error': msg['error']}
    check = {'rep': msg.get('rep'), 'cnonce': msg.get('cnonce')}
    if msg.get('cnonce') != body['cnonce'] or not isinstance(msg.get('mac'), str) or not hmac.compare_digest(mac(secret, check), msg['mac']):
        return {'error': 'the reply was not signed with this migration\'s secret'}
    return msg['rep']


# --- commands ---------------------------------------------------------------------------------
def parse_start(args):
    cfg = {'dir': None, 'role': None, 'lease_ms': 10000, 'max_ms': 1800000, 'pids': [], 'listen': None,
           'peer': None, 'images': [], 'restored_pidfile': None, 'stop_pidfiles': [],
           'lazy_dump_log': None, 'lazy_ready': None, 'after_resume_pidfiles': []}
    a = list(args)
    while a:
        x = a.pop(0)
        if x == '--role': cfg['role'] = a.pop(0)
        elif x == '--lease-ms': cfg['lease_ms'] = int(a.pop(0))
        elif x == '--max-ms': cfg['max_ms'] = int(a.pop(0))
        elif x == '--pids': cfg['pids'] = [int(p) for p in a.pop(0).split(',') if p]
        elif x == '--listen': cfg['listen'] = a.pop(0)
        elif x == '--peer': cfg['peer'] = a.pop(0)
        elif x == '--images': cfg['images'].append(a.pop(0))
        elif x == '--restored-pidfile': cfg['restored_pidfile'] = a.pop(0)
        elif x == '--stop-pidfile': cfg['stop_pidfiles'].append(os.path.abspath(a.pop(0)))
        elif x == '--lazy-dump-log': cfg['lazy_dump_log'] = os.path.abspath(a.pop(0))
        elif x == '--lazy-ready': cfg['lazy_ready'] = a.pop(0)
        elif x == '--after-resume-pidfile': cfg['after_resume_pidfiles'].append(os.path.abspath(a.pop(0)))
        elif cfg['dir'] is None and not x.startswith('-'): cfg['dir'] = x
        else: fail('unknown argument %r' % x)
    if cfg['role'] not in ('source', 'target') or not cfg['dir'] or not cfg['pids']:
        fail('start needs DIR, --role source|target and --pids')
    if cfg['role'] == 'source' and not cfg['peer']:
        fail('the source guard needs --peer ADDR:PORT (the target guard)')
    if cfg['lazy_dump_log'] and (cfg['role'] != 'source' or not cfg['lazy_ready']):
        fail('--lazy-dump-log is for the source guard, with --lazy-ready TEXT')
    if cfg['role'] == 'target' and not cfg['listen']:
        fail('the target guard needs --listen ADDR:PORT (on the migration link)')
    # The guard runs from / once detached: every path it keeps is absolute.
    cfg['dir'] = os.path.abspath(cfg['dir'])
    cfg['images'] = [os.path.abspath(p) for p in cfg['images']]
    if cfg['restored_pidfile']:
        cfg['restored_pidfile'] = os.path.abspath(cfg['restored_pidfile'])
    d = os.path.realpath(cfg['dir'])
    for p in cfg['images']:
        if d == os.path.realpath(p) or d.startswith(os.path.realpath(p) + os.sep):
            fail('the guard directory %s must not be inside the images %s it may delete' % (cfg['dir'], p))
    return cfg


def cmd_start(args):
    cfg = parse_start(args)
    secret = read_secret()
    os.makedirs(cfg['dir'], mode=0o700, exist_ok=True)
    st = load_state(cfg['dir'])
    if st and alive(st.get('pid')):
        fail('a guard (PID %s) already runs for %s' % (st['pid'], cfg['dir']))
    # Bind before detaching, so a port in use is the console's error, not a silent guard.
    sock = socket.socket(socket.AF_INET6 if ':' in addr(cfg['listen'] or '127.0.0.1:0')[0] else socket.AF_INET)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(addr(cfg['listen'] or '127.0.0.1:0'))
    except OSError as e:
        fail('cannot listen on %s: %s' % (cfg['listen'], e), 3)
    sock.listen(16)
    cfg['listen'] = '%s:%d' % sock.getsockname()[:2]
    r, w = os.pipe()
    if os.fork():
        os.close(w)
        ready = b''
        while True:
            chunk = os.read(r, 4096)
            if not chunk:
                break
            ready += chunk
        sys.stdout.write(ready.decode() or '{"error": "the guard did not start"}\n')
        sys.exit(0 if ready else 1)
    os.close(r)
    os.setsid()  # its own session: the SSH channel closing (and sshd's SIGHUP) leaves it alone
    if os.fork():
        os._exit(0)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    try:
        import ctypes
        ctypes.CDLL(None).prctl(15, b'ferry-guard', 0, 0, 0)
    except Exception:
        pass
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    os.chdir('/')
    guard = Guard(cfg, secret, sock)
    with guard.lock:
        guard.save()
    os.write(w, (json.dumps({'started': os.getpid(), 'role': cfg['role'], 'listen': cfg['listen'], 'taken': guard.taken}) + '\n').encode())
    os.close(w)
    try:
        guard.run()
    except Exception as e:  # the log says why the guard stopped
        guard.log('crashed', error=repr(e))
    os._exit(0)


def cmd_renew(args):
    """Each line on stdin renews the lease; the guard sees the counter change on its own clock."""
    os.makedirs(args[0], mode=0o700, exist_ok=True)  # renewing may start before the guard does
    path = os.path.join(args[0], 'lease')
    n = 0
    for _ in sys.stdin:
        n += 1
        tmp = path + '.tmp'
        with open(tmp, 'w') as f:
            f.write('%d %d\n' % (os.getpid(), n))
        os.rename(tmp, path)


def load_state(d):
    try:
        with open(os.path.join(d, 'guard.state')) as f:
            return json.loads(f.read())
    except (OSError, ValueError):
        return None


def alive(pid):
    try:
        with open('/proc/%d/comm' % int(pid)) as f:
            return f.read().strip() == 'ferry-guard'
    except (OSError, TypeError, ValueError):
        return False


def client(d, req, timeout=30.0):
    secret = read_secret()
    st = load_state(d)
    if not st:
        print(json.dumps({'error': 'no guard was started in %s' % d}))
        sys.exit(EXIT_NO_GUARD)
    if not alive(st.get('pid')):
        # The guard ended (settled, released, or at its hard maximum): its last word stands.
        print(json.dumps({'refused': 'the guard has ended; the %s is %s' % (st.get('role'), st.get('state')), 'state': st.get('state')}))
        sys.exit(EXIT_REFUSED)
    host, port = addr(st['listen'])
    target = (host if host not in ('0.0.0.0', '::') else '127.0.0.1', port)
    # A guard that is settling may close its port a moment before it exits: retry briefly, and
    # if it ended meanwhile, its last word stands (a restore asked of it is refused, not lost).
    for attempt in range(20):
        try:
            return request(target, secret, req, timeout)
        except (OSError, ValueError) as e:
            rep = {'error': str(e)}
        st = load_state(d) or st
        if not alive(st.get('pid')):
            return {'refused': 'the guard has ended; the %s is %s' % (st.get('role'), st.get('state')), 'state': st.get('state')}
        time.sleep(0.1)
    return rep


def cmd_restore(args):
    d, timeout = args[0], 600000
    rest = args[1:]
    if rest[:1] == ['--timeout-ms']:
        timeout, rest = int(rest[1]), rest[2:]
    if rest[:1] != ['--'] or len(rest) < 2:
        fail('restore DIR [--timeout-ms N] -- ARGV...')
    rep = client(d, {'op': 'restore', 'argv': rest[1:]}, timeout / 1000.0)
    if 'refused' in rep or 'error' in rep:
        print(json.dumps(rep))
        sys.exit(EXIT_REFUSED if 'refused' in rep else EXIT_NO_GUARD)
    sys.stderr.write(rep.pop('stderr', ''))
    sys.stdout.write(rep.pop('stdout', ''))
    print(json.dumps(rep))
    sys.exit(rep['code'] if isinstance(rep.get('code'), int) and 0 <= rep['code'] < 256 else 1)


def cmd_simple(op, args):
    d, req = args[0], {'op': op}
    if op == 'rollback' and '--keep-images' in args:
        req['keepImages'] = True
    if op == 'ask':
        req.update({'from': 'console', 'sourceTree': args[args.index('--source-tree') + 1] if '--source-tree' in args else 'frozen'})
    rep = client(d, req)
    print(json.dumps(rep))
    sys.exit(0 if 'error' not in rep else EXIT_REFUSED)


def cmd_status(args):
    d = args[0]
    st = load_state(d)
    print(json.dumps(dict(st or {}, kind='state', found=st is not None, alive=bool(st) and alive(st.get('pid')))))
    try:
        with open(os.path.join(d, 'guard.log')) as f:
            for line in f:
                line = line.strip()
                if line:
                    print('{"kind":"log",' + line[1:] if line.startswith('{') else line)
    except OSError:
        pass


def cmd_settle_table():
    for case in json.loads(sys.stdin.read()):
        print(json.dumps(settle(case['target'], case['treeOnTarget'], case['sourceTree'])))


def main(argv):
    if not argv:
        fail(__doc__)
    cmd, args = argv[0], argv[1:]
    if cmd == 'settle-table':
        return cmd_settle_table()
    if not args:
        fail('%s needs the guard directory' % cmd)
    if cmd == 'start': return cmd_start(args)
    if cmd == 'renew': return cmd_renew(args)
    if cmd == 'restore': return cmd_restore(args)
    if cmd in ('commit', 'ask', 'release', 'rollback'): return cmd_simple(cmd, args)
    if cmd == 'status': return cmd_status(args)
    fail('unknown command %r' % cmd)


if __name__ == '__main__':
    main(sys.argv[1:])

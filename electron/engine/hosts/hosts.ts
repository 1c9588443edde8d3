import type { EngineEvent } from '../../../shared/api.ts';
import type { HostFacts, HostInfo, ProcessDetail, ProcessInfo, SessionState, TrustPrompt } from '../../../shared/domain.ts';
import { FerryError } from '../../../shared/errors.ts';
import { SshHub, type HostSession } from '../../ssh/index.ts';
import { criuCheck, criuVersion, parseCriuCheck, parseCriuVersion, parseFeatureCheck } from '../../criu/index.ts';
import { openFilesArgv, parseOpenFiles, parsePs, processTree, psArgv } from './ps.ts';

const LAB_ALIASES = new Set(['lab-source', 'lab-target']);
/** Features a migration mode may need; asked once per host when facts are gathered. */
const FEATURES = ['mem_dirty_track', 'uffd-noncoop'] as const;

interface PendingTrust {
  prompt: TrustPrompt;
  resolve: (accept: boolean) => void;
}

/**
 * Hosts as the console sees them: sessions, trust decisions, facts and process lists.
 * Unknown host keys wait here for the user's explicit answer; nothing is trusted by default.
 */
export class HostService {
  readonly hub: SshHub;
  private readonly emit: (e: EngineEvent) => void;
  private readonly pending = new Map<string, PendingTrust>();
  private readonly watched = new Set<string>();

  constructor(opts: { hub?: SshHub; env?: NodeJS.ProcessEnv; emit: (e: EngineEvent) => void }) {
    this.emit = opts.emit;
    this.hub = opts.hub ?? new SshHub({ env: opts.env, trust: (prompt) => this.waitForTrust(prompt) });
  }

  private waitForTrust(prompt: TrustPrompt): Promise<boolean> {
    this.pending.get(prompt.alias)?.resolve(false);
    return new Promise((resolve) => this.pending.set(prompt.alias, { prompt, resolve }));
  }

  /** The session for an alias, with its state changes forwarded as events. */
  session(alias: string): HostSession {
    const s = this.hub.session(alias);
    if (!this.watched.has(alias)) {
      this.watched.add(alias);
      s.on('state', (state: SessionState) => this.emit({ type: 'session-state', alias, state }));
    }
    return s;
  }

  async list(): Promise<HostInfo[]> {
    const aliases = await this.hub.listHosts();
    return Promise.all(
      aliases.map(async (alias) => {
        const r = await this.hub.resolve(alias);
        return {
          alias,
          user: r.user,
          hostname: r.hostname,
          port: r.port,
          proxyJump: r.proxyJump,
          keyKnown: r.keyKnown,
          lab: LAB_ALIASES.has(alias),
          ...(r.migrationAddress ? { migrationAddress: r.migrationAddress } : {}),
        };
      }),
    );
  }

  /**
   * Start connecting and answer as soon as the session is ready, failed, or waiting for a
   * trust decision: the UI must be able to show the fingerprint while the connect waits.
   */
  async connect(alias: string): Promise<SessionState> {
    const s = this.session(alias);
    if (s.state.kind === 'ready') return s.state;
    const settled = s.connect().then(
      () => s.state,
      () => s.state,
    );
    const trust = new Promise<SessionState>((resolve) => {
      const onState = (st: SessionState) => {
        if (st.kind === 'awaiting-trust') {
          s.off('state', onState);
          resolve(st);
        }
      };
      s.on('state', onState);
      void settled.then(() => s.off('state', onState));
    });
    return Promise.race([settled, trust]);
  }

  async answerTrust(alias: string, fingerprint: string, accept: boolean): Promise<SessionState> {
    const p = this.pending.get(alias);
    if (!p) {
      throw new FerryError({ code: 'no-trust-pending', host: alias, message: 'No host key is waiting for a decision', hint: 'Connect to the host first.' });
    }
    if (p.prompt.fingerprint !== fingerprint) {
      // The key on screen is not the key offered: never trust what the user did not see.
      throw new FerryError({
        code: 'fingerprint-mismatch',
        host: alias,
        message: `The fingerprint answered (${fingerprint}) is not the one the host offered (${p.prompt.fingerprint})`,
        hint: 'Compare the fingerprint again and answer for the key shown.',
      });
    }
    this.pending.delete(alias);
    p.resolve(accept);
    const s = this.session(alias);
    if (!accept) return s.state;
    await s.connect().catch(() => undefined);
    return s.state;
  }

  async disconnect(alias: string): Promise<SessionState> {
    const s = this.session(alias);
    await s.close();
    return s.state;
  }

  private async ready(alias: string): Promise<HostSession> {
    const s = this.session(alias);
    if (s.state.kind !== 'ready') await s.connect();
    return s;
  }

  /** Kernel, privilege, CRIU version and the features a migration needs. */
  async facts(alias: string): Promise<HostFacts> {
    const s = await this.ready(alias);
    const [uname, id] = await Promise.all([s.exec(['uname', '-r']), s.exec(['id', '-u'])]);
    const isRoot = id.stdout.trim() === '0';
    let privilege: HostFacts['privilege'] = isRoot ? 'root' : 'none';
    if (!isRoot) {
      const probe = await s.exec(['true'], { sudo: true }).catch(() => undefined);
      if (probe?.code === 0) privilege = 'sudo';
    }
    const sudo = privilege === 'sudo';
    const facts: HostFacts = { alias, kernel: uname.stdout.trim(), features: {}, isRoot, privilege };
    const version = await s.exec(criuVersion(), { sudo });
    if (version.code !== 0) return facts;
    facts.criuVersion = parseCriuVersion(version.stdout).version;
    if (privilege === 'none') return facts;
    const check = await s.exec(criuCheck(), { sudo, timeoutMs: 60_000 });
    facts.criuCheckOk = parseCriuCheck(check.stdout, check.stderr, check.code ?? -1).ok;
    for (const feature of FEATURES) {
      const r = await s.exec(criuCheck({ feature }), { sudo, timeoutMs: 60_000 });
      facts.features[feature] = parseFeatureCheck(`${r.stdout}${r.stderr}`, r.code ?? -1, feature);
    }
    return facts;
  }

  async processes(alias: string): Promise<ProcessInfo[]> {
    const s = await this.ready(alias);
    const r = await s.exec(psArgv);
    if (r.code !== 0) {
      throw new FerryError({ code: 'ps-failed', host: alias, message: 'Could not list processes', evidence: r.stderr.trim() });
    }
    return parsePs(r.stdout);
  }

  async inspect(alias: string, pid: number): Promise<ProcessDetail> {
    const all = await this.processes(alias);
    const tree = processTree(all, pid);
    const top = tree[0];
    if (!top) {
      throw new FerryError({
        code: 'no-such-process',
        host: alias,
        message: `No process with PID ${pid} is running`,
        hint: 'Pick a PID from the process list; the process may have exited.',
      });
    }
    const s = await this.ready(alias);
    const files = await s.exec(openFilesArgv(tree.map((p) => p.pid)));
    return { ...top, tree, openFiles: parseOpenFiles(files.stdout), sessionLeader: top.sid === top.pid };
  }

  async close(): Promise<void> {
    for (const p of this.pending.values()) p.resolve(false);
    this.pending.clear();
    await this.hub.closeAll();
  }
}

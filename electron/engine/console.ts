import {
  parseRequest,
  type ConsoleApi,
  type EngineEvent,
  type Method,
  type Params,
  type ParsedParams,
  type Reply,
  type Results,
  type Unsubscribe,
} from '../../shared/api.ts';
import { FerryError, toErrorInfo } from '../../shared/errors.ts';
import { EventStream } from './events.ts';
import { HostService } from './hosts.ts';
import { MigrationService } from './migrations.ts';
import type { SshHub } from '../ssh/index.ts';

export type Handlers = { [M in Method]: (params: ParsedParams<M>) => Promise<Results[M]> };

/** A request the engine knows but cannot serve in this build says so plainly. */
function unavailable(what: string): () => Promise<never> {
  return () =>
    Promise.reject(
      new FerryError({
        code: 'not-available',
        message: `${what} is not available in this version of Ferry`,
        hint: 'Use the hosts view to connect and inspect hosts; migrations arrive with the migration engine.',
      }),
    );
}

/**
 * The engine behind every face. It validates each request (a face may be a renderer we do
 * not trust), dispatches it, and carries the event stream.
 */
export class Engine implements ConsoleApi {
  readonly events = new EventStream();
  readonly hosts: HostService;
  readonly migrations: MigrationService;
  private readonly handlers: Handlers;

  constructor(opts: { hub?: SshHub; env?: NodeJS.ProcessEnv } = {}) {
    this.hosts = new HostService({ hub: opts.hub, env: opts.env, emit: (e) => this.events.emit(e) });
    const h = this.hosts;
    const m = (this.migrations = new MigrationService((alias) => h.session(alias), (e) => this.events.emit(e), opts.env));
    this.handlers = {
      'hosts.list': () => h.list(),
      'hosts.connect': ({ alias }) => h.connect(alias),
      'hosts.disconnect': ({ alias }) => h.disconnect(alias),
      'hosts.trust': ({ alias, fingerprint, accept }) => h.answerTrust(alias, fingerprint, accept),
      'hosts.facts': ({ alias }) => h.facts(alias),
      'processes.list': ({ alias }) => h.processes(alias),
      'processes.inspect': ({ alias, pid }) => h.inspect(alias, pid),
      'preflight.run': ({ plan }) => m.preflight(plan),
      'migration.start': async ({ plan, overrideBlockers }) => ({ migrationId: m.start(plan, { overrideBlockers }).migrationId }),
      'migration.control': async ({ migrationId, action }) => m.control(migrationId, action),
      'migration.rollbackPreview': async ({ migrationId }) => m.rollbackPreview(migrationId),
      'journals.list': async () => m.list(),
      'journals.report': async ({ id }) => ({ markdown: m.report(id) }),
      'journals.runbook': async ({ id }) => ({ script: m.runbook(id) }),
      'lab.status': unavailable('The lab'),
      'lab.up': unavailable('The lab'),
      'lab.down': unavailable('The lab'),
    };
  }

  /** Typed entry for trusted callers (the CLI, tests): still validated. */
  async request<M extends Method>(method: M, params: Params<M>): Promise<Results[M]> {
    const reply = await this.handle(method, params);
    if (!reply.ok) throw new FerryError(reply.error);
    return reply.value as Results[M];
  }

  /** Untrusted entry for transports: never throws, always answers with a Reply. */
  async handle(method: unknown, params: unknown): Promise<Reply> {
    const parsed = parseRequest(method, params);
    if (!parsed.ok) return parsed;
    try {
      const handler = this.handlers[parsed.method] as (p: unknown) => Promise<unknown>;
      return { ok: true, value: await handler(parsed.params) };
    } catch (e) {
      return { ok: false, error: toErrorInfo(e) };
    }
  }

  subscribe(listener: (e: EngineEvent) => void): Unsubscribe {
    return this.events.subscribe(listener);
  }

  async close(): Promise<void> {
    await this.migrations.settle();
    await this.hosts.close();
  }
}

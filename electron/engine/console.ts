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
import { HostService } from './hosts/hosts.ts';
import { MigrationService } from './migrations.ts';
import { PlanFileService } from './plans/plan-files.ts';
import type { SshHub } from '../ssh/index.ts';
import { labDown, labStatus, labUp, type LabStatus as LabState } from '../lab/index.ts';
import type { LabStatus } from '../../shared/domain.ts';

export type Handlers = { [M in Method]: (params: ParsedParams<M>) => Promise<Results[M]> };

/**
 * The engine behind every face. It validates each request (a face may be a renderer we do
 * not trust), dispatches it, and carries the event stream.
 */
export class Engine implements ConsoleApi {
  readonly events = new EventStream();
  readonly hosts: HostService;
  readonly migrations: MigrationService;
  readonly planFiles: PlanFileService;
  private readonly handlers: Handlers;

  constructor(opts: { hub?: SshHub; env?: NodeJS.ProcessEnv } = {}) {
    this.hosts = new HostService({ hub: opts.hub, env: opts.env, emit: (e) => this.events.emit(e) });
    const h = this.hosts;
    const pf = (this.planFiles = new PlanFileService(opts.env));
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
      'dirty.measure': ({ alias, pid, seconds }) => m.measureDirtyRate(alias, pid, seconds),
      'journals.list': async () => m.list(),
      'journals.report': async ({ id }) => ({ markdown: m.report(id) }),
      'journals.runbook': async ({ id }) => ({ script: m.runbook(id) }),
      'journals.pictures': async ({ id }) => m.pictures(id),
      'lab.status': async () => toLabStatus(await labStatus({ env: opts.env })),
      'lab.up': async () => {
        await labUp({ env: opts.env }, (p) =>
          this.events.emit({ type: 'lab-progress', progress: { step: p.host ? `${p.step} ${p.host}` : p.step, message: p.message, fraction: p.done ? 1 : p.fraction } }),
        );
        return toLabStatus(await labStatus({ env: opts.env }));
      },
      'lab.down': async () => {
        await labDown({ env: opts.env });
        return toLabStatus(await labStatus({ env: opts.env }));
      },
      'plan-file.open': async ({ path }) => pf.open(path),
      'plan-file.save': async ({ path, plan, overwrite }) => pf.save(path, plan, overwrite),
      'plan-file.recent': async () => pf.recent.list(),
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

/** The lab's own status, in the console API's words. */
function toLabStatus(l: LabState): LabStatus {
  return {
    image: { path: l.image.dir, builtAt: l.image.createdAt, sizeBytes: l.image.diskBytes, ready: l.image.state === 'ready' },
    accel: l.accel ?? 'tcg',
    vms: l.vms.map((v) => ({ name: v.host, alias: v.alias, running: v.running, pid: v.pid, sshPort: v.sshPort, reachable: v.reachable, ...(v.problem ? { problem: v.problem } : {}) })),
  };
}

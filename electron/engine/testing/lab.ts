/**
 * What the engine's lab suites share: a lab of their own (isolatedLab, by slot), an SSH hub to
 * it, plans for the demo workload, a migration steered from its events, and the checks every
 * scenario ends with (the one-place invariant). Test code only.
 */
import { rmSync } from 'node:fs';
import { afterAll, beforeAll, beforeEach, expect } from 'vitest';
import { newPlan, type EngineEvent } from '../../../shared/api.ts';
import type { MigrationAction, MigrationPlan } from '../../../shared/domain.ts';
import { labDown, labUp, workloadStatus } from '../../lab/index.ts';
import { isolatedLab } from '../../lab/testing.ts';
import { SshHub, type HostSession } from '../../ssh/index.ts';
import { MigrationService } from '../migrations.ts';
import { parsePs, psArgv } from '../hosts/ps.ts';

/**
 * The whole lab matrix, or CI's bounded subset: cases marked full-only (a second workload of a
 * kind already covered, the slowest scenarios) run with FERRY_LAB_FULL=1 (`npm run test:lab:full`).
 */
export const FULL_LAB = process.env.FERRY_LAB_FULL === '1';

/** The demo workload's PID in every scenario (free on both fresh VMs). */
export const WORKLOAD_PID = 50000;
const HOSTS = ['lab-source', 'lab-target'] as const;
type LabAlias = (typeof HOSTS)[number];
export type Steer = (e: EngineEvent, control: (a: MigrationAction) => void, service: MigrationService) => void;

export function engineLab(prefix: string, slot: number) {
  const { root, env, ports } = isolatedLab(prefix, slot);
  let hub: SshHub | undefined;
  const session = (alias: string): HostSession => {
    if (!hub) throw new Error('the lab is not up: call up() in beforeAll');
    return hub.session(alias);
  };
  const pidsOn = async (alias: string): Promise<Map<number, string>> => {
    const r = await session(alias).exec(psArgv);
    return new Map(parsePs(r.stdout).map((p) => [p.pid, p.state]));
  };

  const lab = {
    root,
    env,
    ports,
    get hub(): SshHub {
      if (!hub) throw new Error('the lab is not up: call up() in beforeAll');
      return hub;
    },
    session,
    pidsOn,

    /** Boot (or reuse) this suite's VMs; a shared, busy machine boots TCG guests slowly. */
    async up(): Promise<void> {
      await labUp({ env, ports, sshTimeoutMs: 420_000 });
      hub = new SshHub({ env });
    },

    async down(): Promise<void> {
      await hub?.closeAll();
      await labDown({ env });
      rmSync(root, { recursive: true, force: true });
    },

    plan(over: Partial<MigrationPlan> = {}): MigrationPlan {
      return newPlan({ source: 'lab-source', target: 'lab-target', pid: WORKLOAD_PID, targetAddress: '10.0.0.2', ...over });
    },

    sh(alias: string, script: string, ...args: string[]) {
      return session(alias).exec(['sh', '-c', script, 'sh', ...args], { timeoutMs: 60_000 });
    },

    /**
     * Kill every demo workload, squatter and leftover criu on both VMs and remove what
     * migrations left: a fresh start for each scenario. Plain argv, no `sh -c`: `pkill -f`
     * would match the shell running it.
     */
    async cleanVms(extraPaths: string[] = []): Promise<void> {
      for (const alias of HOSTS) {
        const s = session(alias);
        await s.exec(['pkill', '-KILL', '-f', '/usr/local/bin/ferry-workload']);
        await s.exec(['pkill', '-KILL', '-x', 'criu']);
        await s.exec(['pkill', '-KILL', '-f', '^sleep 6000$']);
        await s.exec(['rm', '-rf', '--', '/var/lib/ferry', '/var/lib/ferry-workload', ...extraPaths]);
      }
    },

    async waitForCounterAbove(host: 'source' | 'target', name: string, above: number, timeoutMs = 60_000) {
      const until = Date.now() + timeoutMs;
      for (;;) {
        const s = await workloadStatus(host, { env, name }, hub).catch(() => undefined);
        if (s && s.counter > above && s.host === host) return s;
        if (Date.now() > until) throw new Error(`workload on ${host} did not count past ${above}: last ${s?.raw}`);
        await new Promise((r) => setTimeout(r, 1000));
      }
    },

    /** The invariant: when the engine is idle, the process runs in exactly one place. */
    async expectRunsOnlyOn(where: LabAlias): Promise<void> {
      const other = where === 'lab-source' ? 'lab-target' : 'lab-source';
      const [here, there] = await Promise.all([pidsOn(where), pidsOn(other)]);
      expect(here.get(WORKLOAD_PID), `state of ${WORKLOAD_PID} on ${where}`).toMatch(/^[SR]/);
      expect(there.has(WORKLOAD_PID), `${WORKLOAD_PID} also present on ${other}`).toBe(false);
    },

    /** Run a migration, steering it like a user would from its events. */
    migrate(p: MigrationPlan, steer: Steer = () => {}, sessions: (alias: string) => HostSession = session) {
      const events: EngineEvent[] = [];
      let id = '';
      const service: MigrationService = new MigrationService(
        sessions,
        (e) => {
          events.push(e);
          steer(e, (a) => queueMicrotask(() => service.control(id, a)), service);
        },
        env,
      );
      const started = service.start(p);
      id = started.migrationId;
      return { events, service, id, done: started.done };
    },

    /**
     * Inside a describe: boot the VMs before the suite, give every scenario clean VMs, and
     * stop and remove the lab after it.
     */
    useInSuite(clean: () => Promise<void> = () => lab.cleanVms()): void {
      beforeAll(() => lab.up(), 30 * 60_000);
      afterAll(async () => {
        await clean().catch(() => undefined);
        await lab.down();
      }, 120_000);
      beforeEach(() => clean(), 120_000);
    },
  };
  return lab;
}

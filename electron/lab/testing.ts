import { mkdirSync, mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { labPaths } from './context.ts';
import type { LabPorts } from './types.ts';

/**
 * A lab instance of a test's own: a temp HOME and FERRY_HOME (its ssh_config, known_hosts,
 * journals and VM run files), its own ports so suites never meet each other or the user's
 * lab, and the user's image cache so a warm run boots in seconds. Each suite takes its own
 * `slot` (1, 2, 3…); slot 0 would be the user's lab (SSH 2221/2222, link 10001/10002).
 */
export function isolatedLab(prefix: string, slot: number, root = mkdtempSync(path.join(os.tmpdir(), prefix))) {
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: path.join(root, 'home'),
    USER: 'root',
    FERRY_HOME: path.join(root, 'ferry'),
    FERRY_LAB_CACHE: labPaths(process.env).cacheDir,
  };
  mkdirSync(path.join(env.HOME!, '.ssh'), { recursive: true });
  const ports: LabPorts = {
    ssh: { source: 2221 + slot * 10, target: 2222 + slot * 10 },
    link: { source: 10001 + slot * 10, target: 10002 + slot * 10 },
  };
  return { root, env, ports };
}

import os from 'node:os';
import path from 'node:path';

/**
 * Where Ferry keeps its files on the machine it runs on (the laptop).
 * FERRY_HOME overrides everything (tests point it at a temp dir); otherwise XDG dirs.
 *
 *   config/ssh_config     host entries Ferry adds (the lab's hosts), read after ~/.ssh/config
 *   config/known_hosts    host keys the user trusted in Ferry, OpenSSH format, read after ~/.ssh/known_hosts
 *   data/journals/        one append-only JSON-lines journal per migration
 *   cache/lab/            the lab's built VM image and its keys (FERRY_LAB_CACHE overrides)
 */
export interface FerryPaths {
  config: string;
  data: string;
  cache: string;
  state: string;
}

export function ferryPaths(env: NodeJS.ProcessEnv = process.env): FerryPaths {
  const home = env.HOME || os.homedir();
  if (env.FERRY_HOME) {
    const root = path.resolve(env.FERRY_HOME);
    return {
      config: path.join(root, 'config'),
      data: path.join(root, 'data'),
      cache: path.join(root, 'cache'),
      state: path.join(root, 'state'),
    };
  }
  return {
    config: path.join(env.XDG_CONFIG_HOME || path.join(home, '.config'), 'ferry'),
    data: path.join(env.XDG_DATA_HOME || path.join(home, '.local', 'share'), 'ferry'),
    cache: path.join(env.XDG_CACHE_HOME || path.join(home, '.cache'), 'ferry'),
    state: path.join(env.XDG_STATE_HOME || path.join(home, '.local', 'state'), 'ferry'),
  };
}

/** Ferry's files, all resolved from one environment (tests pass their own). */
export function ferryFiles(p: FerryPaths = ferryPaths(), env: NodeJS.ProcessEnv = process.env) {
  return {
    sshConfig: path.join(p.config, 'ssh_config'),
    knownHosts: path.join(p.config, 'known_hosts'),
    journals: path.join(p.data, 'journals'),
    labCache: env.FERRY_LAB_CACHE ? path.resolve(env.FERRY_LAB_CACHE) : path.join(p.cache, 'lab'),
  };
}

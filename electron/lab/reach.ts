import type { FerryErrorInfo } from '../../shared/errors.ts';
import { toErrorInfo } from '../../shared/errors.ts';
import { SshHub } from '../ssh/index.ts';
import { readBanner } from './vm.ts';

/**
 * Whether a lab VM answers SSH the way a migration would reach it: an SSH banner is not
 * enough (a VM whose host key changed answers, and every connection is then refused), so
 * this logs in through Ferry's SSH layer, host-key check and all, and on failure says what
 * that connection said.
 */
export async function vmReachability(alias: string, sshPort: number, env: NodeJS.ProcessEnv = process.env): Promise<{ reachable: boolean; problem?: FerryErrorInfo }> {
  const banner = await readBanner(sshPort, 3000);
  if (!banner.startsWith('SSH-')) {
    return { reachable: false, problem: { code: 'host-unreachable', host: alias, message: `No SSH banner on 127.0.0.1:${sshPort}`, hint: 'The VM may still be booting; its serial log says how far it got.' } };
  }
  // Never asks about an unknown key (refuses), never retries: one honest attempt.
  const hub = new SshHub({ env, connectTimeoutMs: 20_000, reconnect: { maxAttempts: 1 } });
  try {
    await hub.session(alias).connect();
    return { reachable: true };
  } catch (e) {
    return { reachable: false, problem: toErrorInfo(e, 'ssh-failed') };
  } finally {
    await hub.closeAll();
  }
}

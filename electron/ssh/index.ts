/** Ferry's SSH layer: sessions that behave like OpenSSH (config, known_hosts, agent) over ssh2. */
export { SshHub, type SshHubOptions } from './hub.ts';
export { pipeBetween } from './pipe.ts';
export { quoteArgv } from './quote.ts';
export type { ResolvedHost } from './config.ts';
export type {
  ExecOptions,
  ExecResult,
  HostSession,
  RemoteProcess,
  SessionState,
  TrustDecider,
  TrustPrompt,
} from './types.ts';

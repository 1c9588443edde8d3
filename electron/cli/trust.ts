import { createInterface } from 'node:readline';
import type { TrustPrompt } from '../../shared/domain.ts';

/**
 * The CLI's answer to an unknown host key, like OpenSSH's: trust a fingerprint given on
 * the command line, or ask on a terminal showing the fingerprint; otherwise refuse.
 */
export function cliTrustDecider(opts: { fingerprints: string[]; interactive: boolean }) {
  return async (p: TrustPrompt): Promise<boolean> => {
    if (opts.fingerprints.includes(p.fingerprint)) return true;
    if (!opts.interactive) {
      process.stderr.write(
        `ferry: ${p.alias}: unknown host key for [${p.host}]:${p.port}\n  ${p.keyType} key fingerprint is ${p.fingerprint}\n  next: verify it and pass --trust-fingerprint ${p.fingerprint}\n`,
      );
      return false;
    }
    const rl = createInterface({ input: process.stdin, output: process.stderr });
    const answer = await new Promise<string>((resolve) =>
      rl.question(
        `The authenticity of host '${p.alias}' ([${p.host}]:${p.port}) can't be established.\n${p.keyType} key fingerprint is ${p.fingerprint}.\nAre you sure you want to trust it (yes/no)? `,
        resolve,
      ),
    );
    rl.close();
    return /^y(es)?$/i.test(answer.trim());
  };
}

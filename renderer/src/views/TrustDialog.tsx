import type { ConsoleApi } from '../../../shared/api.ts';
import { toErrorInfo } from '../../../shared/errors.ts';
import { useConsole } from '../store.ts';

/** An unknown host key waits here for an explicit decision; nothing is trusted by default. */
export function TrustDialog({ api }: { api: ConsoleApi }) {
  const prompt = useConsole((s) => s.trustPrompt);
  const clear = useConsole((s) => s.clearTrust);
  const setError = useConsole((s) => s.setError);
  if (!prompt) return null;
  const answer = (accept: boolean) => {
    clear();
    api.request('hosts.trust', { alias: prompt.alias, fingerprint: prompt.fingerprint, accept }).catch((e) => setError(toErrorInfo(e)));
  };
  return (
    <div className="modal-backdrop">
      <div className="modal" role="dialog" aria-modal="true" aria-labelledby="trust-title">
        <h3 id="trust-title">Trust the host key of {prompt.alias}?</h3>
        <p>
          The authenticity of host <code>[{prompt.host}]:{prompt.port}</code> can't be established. Ferry has never seen this key.
        </p>
        <p>
          {prompt.keyType} key fingerprint is <code className="fingerprint">{prompt.fingerprint}</code>
        </p>
        <p className="muted">Compare it with the fingerprint the host's administrator gave you (ssh-keygen -lf on the host) before trusting it.</p>
        <div className="actions">
          <button onClick={() => answer(false)}>Refuse</button>
          <button className="primary" onClick={() => answer(true)}>
            Trust and connect
          </button>
        </div>
      </div>
    </div>
  );
}

import { useActions } from '../actions.ts';
import { Dialog } from '../components/Dialog.tsx';
import { useConsole } from '../store.ts';

/** An unknown host key waits here for an explicit decision; nothing is trusted by default. */
export function TrustDialog() {
  const actions = useActions();
  const prompt = useConsole((s) => s.trustPrompt);
  if (!prompt) return null;
  const answer = (accept: boolean) => void actions.answerTrust(prompt.alias, prompt.fingerprint, accept);
  return (
    <Dialog title={`Trust the host key of ${prompt.alias}?`} onCancel={() => answer(false)} testId="trust-dialog">
      <p>
        The authenticity of host <code>[{prompt.host}]:{prompt.port}</code> can't be established. Ferry has never seen this key.
      </p>
      <p>
        {prompt.keyType} key fingerprint is
        <br />
        <code className="fingerprint" data-testid="fingerprint">
          {prompt.fingerprint}
        </code>
      </p>
      <p className="muted">Compare it with the fingerprint the host's administrator gave you (ssh-keygen -lf on the host) before trusting it.</p>
      <div className="actions">
        <button type="button" onClick={() => answer(false)} data-autofocus>
          Refuse
        </button>
        <button type="button" className="primary" onClick={() => answer(true)}>
          Trust and connect
        </button>
      </div>
    </Dialog>
  );
}

import type { HostFacts } from '../../../shared/domain.ts';
import { useActions } from '../actions.ts';
import { ErrorBox } from '../components/ErrorBox.tsx';
import { Loading } from '../components/Loading.tsx';
import { useConsole } from '../store.ts';

const PRIVILEGE: Record<HostFacts['privilege'], string> = {
  root: 'root (logged in as root)',
  sudo: 'sudo (passwordless sudo -n works)',
  none: 'none: not root and sudo -n does not work',
};

function FactsBody({ f }: { f: HostFacts }) {
  const features = Object.entries(f.features);
  return (
    <dl className="facts" data-testid="host-facts">
      <dt>Kernel</dt>
      <dd data-testid="fact-kernel">{f.kernel || 'unknown'}</dd>
      <dt>Privilege for CRIU</dt>
      <dd className={f.privilege === 'none' ? 'bad' : ''}>{PRIVILEGE[f.privilege]}</dd>
      <dt>CRIU</dt>
      <dd data-testid="fact-criu">
        {f.criuVersion ? (
          <>
            version {f.criuVersion}
            {f.criuCheckOk === true && <span className="good"> · criu check: looks good</span>}
            {f.criuCheckOk === false && <span className="bad"> · criu check reported problems</span>}
          </>
        ) : (
          <span className="bad" role="alert">
            CRIU is not installed on {f.alias} (criu --version did not run). Ferry cannot dump or restore here: install criu (Debian: apt-get install criu) and look again.
          </span>
        )}
      </dd>
      <dt>Features</dt>
      <dd>
        {features.length === 0 ? (
          <span className="muted">{f.criuVersion ? 'not checked (needs root or sudo)' : 'not checked: CRIU is missing'}</span>
        ) : (
          <ul className="features">
            {features.map(([name, v]) => (
              <li key={name} className={v === 'supported' ? 'good' : 'bad'}>
                <code>{name}</code>: {v}
              </li>
            ))}
          </ul>
        )}
      </dd>
    </dl>
  );
}

export function HostFactsPanel({ alias }: { alias: string }) {
  const actions = useActions();
  const facts = useConsole((s) => s.facts[alias]);
  return (
    <section className="panel" aria-labelledby="facts-title">
      <div className="panel-head">
        <h2 id="facts-title">Host facts: {alias}</h2>
        <button type="button" onClick={() => void actions.loadFacts(alias)}>
          Check again
        </button>
        <button type="button" className="link" onClick={() => actions.selectHost(undefined)} aria-label="Close host facts">
          Close
        </button>
      </div>
      {(!facts || facts.status === 'loading' || facts.status === 'idle') && <Loading what={`Asking ${alias} for its kernel and CRIU`} />}
      {facts?.status === 'error' && <ErrorBox error={facts.error} />}
      {facts?.status === 'ok' && <FactsBody f={facts.value} />}
    </section>
  );
}

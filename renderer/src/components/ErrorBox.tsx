import type { FerryErrorInfo } from '../../../shared/errors.ts';

/** Codes that mean "Ferry refused to talk to this host": shown loud, never as a soft warning. */
export const REFUSAL_CODES = new Set(['host-key-changed', 'host-key-revoked', 'host-key-unknown-refused']);

/** Every error says where (host), what (message), why (evidence, verbatim) and what next (hint). */
export function ErrorBox({ error, title, onDismiss, testId }: { error: FerryErrorInfo; title?: string; onDismiss?: () => void; testId?: string }) {
  const loud = REFUSAL_CODES.has(error.code);
  return (
    <div className={`error-box${loud ? ' loud' : ''}`} role="alert" data-testid={testId ?? 'error'} data-code={error.code}>
      {loud && <div className="refused-stamp">Connection refused by Ferry</div>}
      {title && <div className="error-title">{title}</div>}
      <div className="error-message">
        {error.host && <span className="error-host">{error.host}: </span>}
        {error.message}
      </div>
      {error.evidence && (
        <div className="error-evidence">
          <span className="label">Why</span> <code>{error.evidence}</code>
        </div>
      )}
      {error.hint && (
        <div className="error-hint">
          <span className="label">Next</span> {error.hint}
        </div>
      )}
      {onDismiss && (
        <button type="button" className="link" onClick={onDismiss}>
          Dismiss
        </button>
      )}
    </div>
  );
}

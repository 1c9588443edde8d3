import { memo, useMemo, useState } from 'react';
import { commandHosts, commandLine, commandStatus, exitLabel, hookLabel } from '../../state/commands.ts';
import { commandsOf, type CommandEntry } from '../../state/engine.ts';
import { formatBytes, formatMs, formatTime } from '../../state/format.ts';
import { useConsole } from '../../store.ts';

const SHOWN = 300;

const CommandRow = memo(function CommandRow({ c }: { c: CommandEntry }) {
  const status = commandStatus(c);
  const [open, setOpen] = useState<boolean | undefined>(undefined);
  // Failed commands open by themselves, until the user decides.
  const expanded = open ?? (status === 'failed' || status === 'timed-out');
  const hasOutput = c.output.length > 0;
  return (
    <li
      className={`cmd cmd-${status}${c.record.hook ? ' cmd-is-hook' : ''}`}
      data-testid="command"
      data-command-id={c.record.commandId}
      data-status={status}
      data-exit={c.finished?.code ?? ''}
      data-hook={c.record.hook?.name}
    >
      <button type="button" className="cmd-head" aria-expanded={expanded} onClick={() => setOpen(!expanded)}>
        <span className="cmd-caret" aria-hidden="true">
          {expanded ? '▾' : '▸'}
        </span>
        <span className="cmd-time">{formatTime(c.record.startedAt)}</span>
        <span className="cmd-host" data-testid="command-host">
          {commandHosts(c.record)}
        </span>
        <code className="cmd-line" data-testid="command-line">
          {c.record.hook && (
            // A user's traffic hook, not one of Ferry's own commands.
            <span className="cmd-hook" data-testid="command-hook">
              {hookLabel(c.record.hook)}
            </span>
          )}
          {commandLine(c.record)}
        </code>
        <span className="cmd-duration">{c.finished ? formatMs(c.finished.durationMs) : ''}</span>
        <span className={`cmd-exit exit-${status}`} data-testid="command-exit">
          {exitLabel(c)}
        </span>
      </button>
      {expanded && (
        <div className="cmd-body">
          {c.droppedChars > 0 && <div className="muted small">… {formatBytes(c.droppedChars)} of earlier output not kept here (the journal has it)</div>}
          {hasOutput ? (
            <pre className="cmd-output" data-testid="command-output">
              {c.output.map((o, i) => (
                <span key={i} className={o.stream}>
                  {o.text}
                </span>
              ))}
            </pre>
          ) : (
            <div className="muted small">{status === 'running' ? 'No output yet.' : 'No output.'}</div>
          )}
        </div>
      )}
    </li>
  );
});

/** Every command Ferry ran for this migration (or, without an id, outside one: preflight), as it ran. */
export function CommandLog({ migrationId, title = 'Command log' }: { migrationId: string | undefined; title?: string }) {
  const log = useConsole((s) => s.commands);
  const all = useMemo(() => commandsOf(log, migrationId), [log, migrationId]);
  const [showAll, setShowAll] = useState(false);
  const shown = showAll ? all : all.slice(-SHOWN);
  return (
    <section className="panel" aria-label={title} data-testid="command-log">
      <div className="panel-head">
        <h2>{title}</h2>
        <span className="muted">{all.length} command(s)</span>
        {all.length > SHOWN && (
          <button type="button" className="link" onClick={() => setShowAll((v) => !v)}>
            {showAll ? `Show the last ${SHOWN}` : `Show all ${all.length}`}
          </button>
        )}
      </div>
      {all.length === 0 ? (
        <p className="muted">No commands yet.</p>
      ) : (
        <ol className="commands">
          {shown.map((c) => (
            <CommandRow key={c.record.commandId} c={c} />
          ))}
        </ol>
      )}
    </section>
  );
}

import { useEffect, useMemo, useState, type ReactNode } from 'react';
import type { JournalSummary } from '../../../shared/domain.ts';
import { useActions } from '../actions.ts';
import { downloadText } from '../components/download.ts';
import { ErrorBox } from '../components/ErrorBox.tsx';
import { Loading } from '../components/Loading.tsx';
import { Inlines, Markdown } from '../components/Markdown.tsx';
import { formatDateTime } from '../state/format.ts';
import { PHASE_LABEL } from '../state/timeline.ts';
import { useConsole, type Loadable } from '../store.ts';
import { applyEvents, emptyEngineState } from '../state/engine.ts';
import { ConvergenceChart, RatesChart } from './dashboard/Charts.tsx';
import { FreezeBar } from './dashboard/FreezeBar.tsx';

function JournalRow({ j, selected, onOpen }: { j: JournalSummary; selected: boolean; onOpen: () => void }) {
  return (
    <li className={`journal${j.finished ? '' : ' unfinished'}${selected ? ' selected' : ''}`} data-testid="journal" data-journal-id={j.id} data-finished={j.finished}>
      <button type="button" className="journal-head" onClick={onOpen} aria-pressed={selected}>
        <span className="journal-when">{formatDateTime(j.startedAt)}</span>
        <span>
          {j.process || `PID ${j.pid}`}: {j.source} → {j.target}
        </span>
        <span className={`tag outcome-tag ${j.outcome ?? 'unfinished'}`}>{j.finished ? (j.outcome ?? PHASE_LABEL[j.lastPhase]) : `unfinished (${PHASE_LABEL[j.lastPhase]})`}</span>
      </button>
      {!j.finished && j.nextStep && (
        <div className="next-step" role="note">
          <span className="label">Next step</span> <Inlines text={j.nextStep} />
        </div>
      )}
    </li>
  );
}

function Doc({ what, doc, file, render }: { what: string; doc: Loadable<string> | undefined; file: string; render: (text: string) => ReactNode }) {
  if (!doc || doc.status === 'loading' || doc.status === 'idle') return <Loading what={`Reading the ${what}`} />;
  if (doc.status === 'error') return <ErrorBox error={doc.error} title={`The ${what} could not be read`} />;
  return (
    <>
      <div className="doc-actions">
        <button type="button" onClick={() => downloadText(file, doc.value, file.endsWith('.md') ? 'text/markdown' : 'text/x-shellscript')}>
          Export {what}
        </button>
      </div>
      {render(doc.value)}
    </>
  );
}

/** History with pictures: the dashboard's charts, drawn from the journal's events, and the freeze window by phase. */
function HistoryPictures({ id }: { id: string }) {
  const pictures = useConsole((s) => s.pictures[id]);
  const m = useMemo(() => (pictures?.status === 'ok' ? applyEvents(emptyEngineState(), pictures.value.events).migrations[id] : undefined), [pictures, id]);
  if (!pictures || pictures.status === 'loading' || pictures.status === 'idle') return <Loading what="Reading the journal's numbers" />;
  if (pictures.status === 'error') return <ErrorBox error={pictures.error} title="The pictures could not be drawn" />;
  const freeze = pictures.value.freeze;
  return (
    <div className="history-pictures" data-testid="history-pictures">
      {freeze && <FreezeBar {...freeze} />}
      {m && m.iterations.length > 0 && (
        <div className="chart-row">
          <ConvergenceChart m={m} />
          <RatesChart m={m} />
        </div>
      )}
    </div>
  );
}

function JournalDetail({ id }: { id: string }) {
  const report = useConsole((s) => s.reports[id]);
  const runbook = useConsole((s) => s.runbooks[id]);
  const [tab, setTab] = useState<'report' | 'runbook'>('report');
  return (
    <section className="panel journal-detail" aria-label={`Journal ${id}`}>
      <HistoryPictures id={id} />
      <div className="tabs" role="tablist">
        <button type="button" role="tab" aria-selected={tab === 'report'} onClick={() => setTab('report')}>
          Report
        </button>
        <button type="button" role="tab" aria-selected={tab === 'runbook'} onClick={() => setTab('runbook')}>
          Runbook
        </button>
        <span className="muted small">{id}</span>
      </div>
      <div role="tabpanel" data-testid={`journal-${tab}`}>
        {tab === 'report' ? (
          <Doc what="report" doc={report} file={`ferry-${id}-report.md`} render={(t) => <Markdown text={t} />} />
        ) : (
          <Doc what="runbook" doc={runbook} file={`ferry-${id}-runbook.sh`} render={(t) => <pre className="code runbook">{t}</pre>} />
        )}
      </div>
    </section>
  );
}

export function HistoryView() {
  const actions = useActions();
  const journals = useConsole((s) => s.journals);
  const selected = useConsole((s) => s.selectedJournal);
  useEffect(() => {
    void actions.listJournals();
  }, [actions]);
  return (
    <div className="history-layout">
      <section className="panel" aria-labelledby="history-title">
        <div className="panel-head">
          <h2 id="history-title">History</h2>
          <button type="button" onClick={() => void actions.listJournals()}>
            Reload
          </button>
        </div>
        {journals.status === 'loading' && <Loading what="Reading the journals" />}
        {journals.status === 'error' && <ErrorBox error={journals.error} />}
        {journals.status === 'ok' && journals.value.length === 0 && <p className="muted">No migrations yet. Every migration is journaled here from its first event.</p>}
        {journals.status === 'ok' && journals.value.length > 0 && (
          <>
            {journals.value.some((j) => !j.finished) && (
              <p className="warn-text" role="alert">
                {journals.value.filter((j) => !j.finished).length} migration(s) did not finish: read their next step before doing anything on those hosts.
              </p>
            )}
            <ul className="journals">
              {[...journals.value]
                .sort((a, b) => Number(a.finished) - Number(b.finished) || b.startedAt.localeCompare(a.startedAt))
                .map((j) => (
                  <JournalRow key={j.id} j={j} selected={selected === j.id} onOpen={() => void actions.openJournal(j.id)} />
                ))}
            </ul>
          </>
        )}
      </section>
      {selected && <JournalDetail id={selected} />}
    </div>
  );
}

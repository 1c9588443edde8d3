import { useEffect, useId, type ReactNode } from 'react';
import { useActions } from '../actions.ts';
import { draftToPlan, type DraftField, type PlanDraft, type PlanErrors } from '../state/plan.ts';
import { useConsole } from '../store.ts';
import { postcopyRisk } from '../../../shared/domain.ts';

const MODE_HINT: Record<PlanDraft['mode'], string> = {
  precopy: 'Pre-dumps while it runs, short freeze',
  cold: 'One dump: frozen for the whole copy',
  postcopy: 'Runs on the target at once; its memory follows from the source',
};
import { HooksEditor } from './HooksEditor.tsx';

function Field({ label, field, errors, hint, children }: { label: string; field: DraftField; errors: PlanErrors; hint?: string; children: (id: string, invalid: boolean) => ReactNode }) {
  const id = useId();
  const error = errors[field];
  return (
    <div className={`field${error ? ' invalid' : ''}`} data-field={field}>
      <label htmlFor={id}>{label}</label>
      {children(id, !!error)}
      {error ? (
        <span className="field-error" role="alert">
          {error}
        </span>
      ) : (
        hint && <span className="field-hint">{hint}</span>
      )}
    </div>
  );
}

type TextKey = { [K in DraftField]: PlanDraft[K] extends string ? K : never }[DraftField];

export function PlanForm({ showErrors }: { showErrors: boolean }) {
  const actions = useActions();
  const draft = useConsole((s) => s.draft);
  const edit = useConsole((s) => s.editDraft);
  const hosts = useConsole((s) => (s.hosts.status === 'ok' ? s.hosts.value : []));
  useEffect(() => {
    if (useConsole.getState().hosts.status === 'idle') void actions.listHosts();
  }, [actions]);
  const parsed = draftToPlan(draft);
  const errors: PlanErrors = showErrors && !parsed.ok ? parsed.errors : {};

  const text = (key: TextKey, opts: { type?: string; placeholder?: string; mono?: boolean } = {}) => (id: string, invalid: boolean) => (
    <input
      id={id}
      type={opts.type ?? 'text'}
      className={opts.mono ? 'mono' : undefined}
      aria-invalid={invalid}
      placeholder={opts.placeholder}
      value={draft[key] as string}
      onChange={(e) => edit({ [key]: e.target.value } as Partial<PlanDraft>)}
    />
  );
  const hostSelect = (key: 'source' | 'target') => (id: string, invalid: boolean) => (
    <select
      id={id}
      aria-invalid={invalid}
      value={draft[key]}
      onChange={(e) => {
        const alias = e.target.value;
        const patch: Partial<PlanDraft> = { [key]: alias };
        if (key === 'target') {
          // Migration addresses: where the source reaches the target (the lab's private link), else its hostname.
          const reachAt = (h?: (typeof hosts)[number]) => h?.migrationAddress ?? h?.hostname ?? '';
          const old = reachAt(hosts.find((h) => h.alias === draft.target));
          if (draft.targetAddress === '' || draft.targetAddress === old) patch.targetAddress = reachAt(hosts.find((h) => h.alias === alias));
        }
        if (key === 'source' && alias !== draft.source) patch.pid = '';
        edit(patch);
      }}
    >
      <option value="">Choose a host…</option>
      {hosts.map((h) => (
        <option key={h.alias} value={h.alias}>
          {h.alias}
        </option>
      ))}
    </select>
  );

  return (
    <form className="plan-form" aria-label="Migration plan" onSubmit={(e) => e.preventDefault()}>
      <fieldset>
        <legend>What and where</legend>
        <Field label="Source host" field="source" errors={errors}>
          {hostSelect('source')}
        </Field>
        <Field label="Target host" field="target" errors={errors}>
          {hostSelect('target')}
        </Field>
        <Field label="Process by" field="processBy" errors={errors} hint="A unit or pidfile is read on the source at preflight">
          {(id) => (
            <select id={id} value={draft.processBy} onChange={(e) => edit({ processBy: e.target.value as PlanDraft['processBy'] })}>
              <option value="pid">PID</option>
              <option value="unit">systemd unit (its main process)</option>
              <option value="pidfile">pidfile</option>
            </select>
          )}
        </Field>
        {draft.processBy === 'pid' ? (
          <Field label="PID" field="pid" errors={errors} hint="Pick it in the process list, or type it">
            {text('pid', { type: 'number' })}
          </Field>
        ) : (
          <Field label={draft.processBy === 'unit' ? 'Unit' : 'Pidfile (on the source)'} field="selectorValue" errors={errors}>
            {text('selectorValue', { mono: true })}
          </Field>
        )}
        <Field label="Mode" field="mode" errors={errors} hint={MODE_HINT[draft.mode]}>
          {(id) => (
            <select id={id} value={draft.mode} onChange={(e) => edit({ mode: e.target.value as PlanDraft['mode'] })}>
              <option value="precopy">Pre-copy (iterative)</option>
              <option value="cold">Cold (single dump)</option>
              <option value="postcopy">Post-copy (lazy pages)</option>
            </select>
          )}
        </Field>
        {draft.mode === 'postcopy' && (
          <p className="warn-text" data-testid="postcopy-risk">
            {postcopyRisk(draft.source || 'the source', draft.target || 'the target')}
          </p>
        )}
      </fieldset>

      <fieldset>
        <legend>Downtime and policy</legend>
        <Field label="Downtime budget (ms)" field="downtimeBudgetMs" errors={errors} hint="The freeze you accept at cutover">
          {text('downtimeBudgetMs', { type: 'number' })}
        </Field>
        <Field label="Max iterations" field="maxIterations" errors={errors}>
          {text('maxIterations', { type: 'number' })}
        </Field>
        <Field label="Growth threshold" field="growthThreshold" errors={errors} hint="Not converging when pages written grow by more than this fraction">
          {text('growthThreshold', { type: 'number' })}
        </Field>
        <Field label="Min pages" field="minPages" errors={errors} hint="Stop pre-copying at this few pages per iteration">
          {text('minPages', { type: 'number' })}
        </Field>
        <Field label="When not converging" field="onNotConverging" errors={errors} hint="Auto mode only; manual mode waits for you">
          {(id) => (
            <select id={id} value={draft.onNotConverging} onChange={(e) => edit({ onNotConverging: e.target.value as PlanDraft['onNotConverging'] })}>
              <option value="rollback">Roll back</option>
              <option value="cutover">Cut over anyway</option>
            </select>
          )}
        </Field>
        <Field label="Cut over when" field="cutoverWhen" errors={errors} hint="Auto mode only: what must fit the downtime budget">
          {(id) => (
            <select id={id} value={draft.cutoverWhen} onChange={(e) => edit({ cutoverWhen: e.target.value as PlanDraft['cutoverWhen'] })}>
              <option value="band">The estimate's upper edge fits</option>
              <option value="prediction">The prediction fits</option>
            </select>
          )}
        </Field>
        <div className="field checkbox">
          <label>
            <input type="checkbox" checked={draft.auto} onChange={(e) => edit({ auto: e.target.checked })} /> Auto mode: cut over when the policy says so
          </label>
        </div>
      </fieldset>

      <fieldset>
        <legend>Transport</legend>
        <Field label="Target address (from the source)" field="targetAddress" errors={errors} hint="Where the source reaches the page server">
          {text('targetAddress', { mono: true })}
        </Field>
        <Field label="Page-server port" field="pageServerPort" errors={errors}>
          {text('pageServerPort', { type: 'number' })}
        </Field>
        <Field label="Port range" field="portRange" errors={errors} hint="A free pair is reserved from it; empty: the port and the 99 after it">
          {text('portRange', { mono: true })}
        </Field>
        <Field label="Work dir (both hosts)" field="workDir" errors={errors}>
          {text('workDir', { mono: true })}
        </Field>
        <Field label="Files to copy (one path per line)" field="fileSync" errors={errors} hint="Open regular files are added by preflight">
          {(id, invalid) => <textarea id={id} className="mono" rows={2} aria-invalid={invalid} value={draft.fileSync} onChange={(e) => edit({ fileSync: e.target.value })} />}
        </Field>
        <div className="field checkbox">
          <label>
            <input type="checkbox" checked={draft.shellJob} onChange={(e) => edit({ shellJob: e.target.checked })} /> Shell job (--shell-job)
          </label>
          <label>
            <input type="checkbox" checked={draft.tcpEstablished} onChange={(e) => edit({ tcpEstablished: e.target.checked })} /> Established TCP (--tcp-established)
          </label>
          <label>
            <input type="checkbox" checked={draft.fileLocks} onChange={(e) => edit({ fileLocks: e.target.checked })} /> File locks (--file-locks)
          </label>
          <label>
            <input type="checkbox" checked={draft.extUnixSk} onChange={(e) => edit({ extUnixSk: e.target.checked })} /> External unix sockets (--ext-unix-sk)
          </label>
          {/* TLS for page streams */}
          <label>
            <input type="checkbox" checked={draft.tls} onChange={(e) => edit({ tls: e.target.checked })} /> Encrypt and authenticate pages (TLS)
          </label>
          {!draft.tls && (
            <p className="warn-text" data-testid="tls-off-warning">
              Without TLS the process's memory crosses the network in clear, and anything that reaches the page server port first can feed the target pages. Only on a network you trust.
            </p>
          )}
        </div>
        {/* Service address: moved with the process inside the freeze window. */}
        <Field label="Service address (moves with the process)" field="serviceAddress" errors={errors} hint="Clients' address with its prefix, e.g. 10.0.0.100/24; empty: none">
          {text('serviceAddress', { mono: true, placeholder: '10.0.0.100/24' })}
        </Field>
        {draft.serviceAddress.trim() !== '' && (
          <>
            <Field label="Its interface on the source" field="serviceSourceInterface" errors={errors}>
              {text('serviceSourceInterface', { mono: true, placeholder: 'eth1' })}
            </Field>
            <Field label="Its interface on the target" field="serviceTargetInterface" errors={errors} hint="Empty: the same name as on the source">
              {text('serviceTargetInterface', { mono: true })}
            </Field>
          </>
        )}
        {/* Bandwidth cap: the page stream's rate, capped on the source with tc. */}
        <Field label="Bandwidth cap (page stream)" field="maxBandwidth" errors={errors} hint="e.g. 20MiB/s or 100Mbit/s, capped on the source during pre-copy; empty: no cap">
          {text('maxBandwidth', { mono: true, placeholder: '20MiB/s' })}
        </Field>
        {draft.maxBandwidth.trim() !== '' && (
          <label>
            <input type="checkbox" checked={draft.capFinalDump} onChange={(e) => edit({ capFinalDump: e.target.checked })} data-testid="cap-final-dump" /> Cap the final dump too (the freeze window gets longer)
          </label>
        )}
      </fieldset>

      <fieldset>
        <legend>After restore</legend>
        <Field label="Health check" field="healthKind" errors={errors}>
          {(id) => (
            <select id={id} value={draft.healthKind} onChange={(e) => edit({ healthKind: e.target.value as PlanDraft['healthKind'] })}>
              <option value="none">None (process running is enough)</option>
              <option value="command">Command on the target</option>
              <option value="tcp">TCP port accepts</option>
              <option value="http">HTTP status</option>
            </select>
          )}
        </Field>
        {draft.healthKind === 'command' && (
          <Field label="Command (one argument per line)" field="healthArgv" errors={errors}>
            {(id, invalid) => <textarea id={id} className="mono" rows={3} aria-invalid={invalid} value={draft.healthArgv} onChange={(e) => edit({ healthArgv: e.target.value })} />}
          </Field>
        )}
        {draft.healthKind === 'tcp' && (
          <Field label="Port" field="healthPort" errors={errors}>
            {text('healthPort', { type: 'number' })}
          </Field>
        )}
        {draft.healthKind === 'http' && (
          <>
            <Field label="URL" field="healthUrl" errors={errors}>
              {text('healthUrl', { mono: true, placeholder: 'http://127.0.0.1:8080/health' })}
            </Field>
            <Field label="Expected status" field="healthExpectStatus" errors={errors}>
              {text('healthExpectStatus', { type: 'number' })}
            </Field>
          </>
        )}
        {draft.healthKind !== 'none' && (
          <Field label="Timeout (ms)" field="healthTimeoutMs" errors={errors} hint="Default 30 000">
            {text('healthTimeoutMs', { type: 'number' })}
          </Field>
        )}
        <Field label="Images afterwards" field="retention" errors={errors}>
          {(id) => (
            <select id={id} value={draft.retention} onChange={(e) => edit({ retention: e.target.value as PlanDraft['retention'] })}>
              <option value="keep">Keep (for inspection)</option>
              <option value="delete-on-commit">Delete on commit</option>
            </select>
          )}
        </Field>
      </fieldset>

      {/* Service probe (client-visible downtime) */}
      <fieldset data-testid="probe-fields">
        <legend>Client-visible downtime</legend>
        <Field label="Service probe" field="probeKind" errors={errors} hint="What a new client sees through the cutover">
          {(id) => (
            <select id={id} value={draft.probeKind} onChange={(e) => edit({ probeKind: e.target.value as PlanDraft['probeKind'] })}>
              <option value="none">None</option>
              <option value="tcp">TCP connect</option>
              <option value="http">HTTP GET</option>
            </select>
          )}
        </Field>
        {draft.probeKind !== 'none' && (
          <>
            <Field label={draft.probeKind === 'tcp' ? 'Probe host:port' : 'Probe URL'} field="probeTarget" errors={errors}>
              {text('probeTarget', { mono: true, placeholder: draft.probeKind === 'tcp' ? '10.0.0.5:6379' : 'http://10.0.0.5:8080/health' })}
            </Field>
            <Field label="Probe from" field="probeFrom" errors={errors} hint="local (this machine) or a host alias with python3">
              {text('probeFrom', { mono: true })}
            </Field>
            <Field label="Probe interval (ms)" field="probeIntervalMs" errors={errors} hint="20 to 1000">
              {text('probeIntervalMs', { type: 'number' })}
            </Field>
            <Field label="Probe timeout (ms)" field="probeTimeoutMs" errors={errors}>
              {text('probeTimeoutMs', { type: 'number' })}
            </Field>
          </>
        )}
      </fieldset>

      <HooksEditor showErrors={showErrors} />
    </form>
  );
}

/**
 * The "start a job" form: selector (with a live count of the online agents
 * it matches, and its parse error), command, arguments one per line, max
 * concurrency, error budget and timeout. Each field shows its own
 * validation message beside it, from the form's checks or from the
 * server's answer. No shell runs the command.
 */
import { useState, type FormEvent, type ReactNode } from 'react';
import { useQuery, useQueryClient } from '@tanstack/react-query';
import { ApiError, api, qs, seg } from '../api/client';
import type { AgentList } from '../api/types';
import { navigate } from '../router';

interface Form {
  selector: string;
  command: string;
  args: string;
  maxConcurrency: string;
  errorBudget: string;
  timeoutSeconds: string;
}

type Field = keyof Form;
const FIELDS: Field[] = ['selector', 'command', 'args', 'maxConcurrency', 'errorBudget', 'timeoutSeconds'];
const AMOUNT = /^\d{1,9}%?$/;

/** The form's own checks, as the server makes them (job-routes.ts, job-policy.ts). */
export function validateJob(f: Form): Partial<Record<Field, string>> {
  const e: Partial<Record<Field, string>> = {};
  if (!f.command.trim()) e.command = 'Type the program to run, e.g. uptime.';
  else if (/\s/.test(f.command.trim())) e.command = 'One program; put its arguments below, one per line.';
  if (f.args.split('\n').length > 1023) e.args = 'At most 1023 arguments.';
  for (const k of ['maxConcurrency', 'errorBudget'] as const) {
    const v = f[k].trim();
    if (!AMOUNT.test(v) || (v.endsWith('%') && Number(v.slice(0, -1)) > 100)) e[k] = 'A count (3) or a percentage up to 100% (10%).';
  }
  const t = Number(f.timeoutSeconds);
  if (!(f.timeoutSeconds.trim() !== '' && t > 0 && t <= 86_400)) e.timeoutSeconds = 'Seconds, more than 0 and at most 86400.';
  return e;
}

export function StartJob() {
  const qc = useQueryClient();
  const [f, setF] = useState<Form>({ selector: '', command: '', args: '', maxConcurrency: '10', errorBudget: '0', timeoutSeconds: '60' });
  const [touched, setTouched] = useState(false);
  const [serverError, setServerError] = useState<{ field: Field | null; message: string } | null>(null);
  const [busy, setBusy] = useState(false);
  const matching = useQuery({
    queryKey: ['agents', 'count', 'online', f.selector],
    queryFn: () => api<AgentList>(`/api/v1/agents${qs({ selector: f.selector, status: 'online', limit: 1 })}`),
    retry: false,
  });
  const errors: Partial<Record<Field, string>> = touched ? validateJob(f) : {};
  if (serverError?.field) errors[serverError.field] = serverError.message;
  if (matching.error instanceof ApiError && matching.error.status === 400) errors.selector = matching.error.message;
  const count = matching.data ? (matching.data.total ?? matching.data.agents.length) : null;

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setTouched(true);
    setServerError(null);
    if (Object.keys(validateJob(f)).length > 0 || errors.selector) return;
    const args = f.args.split('\n').filter((a) => a !== '');
    setBusy(true);
    try {
      const job = await api<{ id: string }>('/api/v1/jobs', {
        method: 'POST',
        body: { selector: f.selector, command: [f.command.trim(), ...args], maxConcurrency: f.maxConcurrency.trim(), errorBudget: f.errorBudget.trim(), timeoutSeconds: Number(f.timeoutSeconds) },
      });
      await qc.invalidateQueries({ queryKey: ['jobs'] });
      navigate(`/jobs/${seg(job.id)}`);
    } catch (err) {
      const message = (err as Error).message;
      const field = FIELDS.find((k) => message.startsWith(`${k}:`) || message.includes(k)) ?? (message.startsWith('command') ? 'command' : null);
      setServerError({ field, message });
    } finally {
      setBusy(false);
    }
  };
  const set = (k: Field) => (e: { target: { value: string } }) => setF((old) => ({ ...old, [k]: e.target.value }));
  const aria = (k: Field) => ({ 'aria-invalid': errors[k] ? true : undefined, 'aria-describedby': errors[k] ? `j-${k}-error` : `j-${k}-hint` });
  const field = (k: Field, label: string, input: ReactNode, hint?: ReactNode) => (
    <div className="field">
      <label htmlFor={`j-${k}`}>{label}</label>
      {input}
      {errors[k] ? (
        <p id={`j-${k}-error`} className="field-error" role="alert">
          {errors[k]}
        </p>
      ) : (
        hint && (
          <p id={`j-${k}-hint`} className="muted small">
            {hint}
          </p>
        )
      )}
    </div>
  );
  return (
    <form className="form wide" aria-label="Start a job" onSubmit={(e) => void submit(e)} noValidate>
      {field(
        'selector',
        'Selector',
        <input id="j-selector" className="mono" value={f.selector} onChange={set('selector')} placeholder="env=prod" {...aria('selector')} />,
        count === null ? 'every online agent when empty' : `${count.toLocaleString()} online agent${count === 1 ? '' : 's'} match now`,
      )}
      <div className="row">
        {field('command', 'Command (no shell)', <input id="j-command" className="mono" value={f.command} onChange={set('command')} placeholder="uptime" {...aria('command')} />)}
        {field('args', 'Arguments, one per line', <textarea id="j-args" className="mono" rows={2} value={f.args} onChange={set('args')} {...aria('args')} />)}
      </div>
      <div className="row">
        {field('maxConcurrency', 'Max concurrency', <input id="j-maxConcurrency" value={f.maxConcurrency} onChange={set('maxConcurrency')} {...aria('maxConcurrency')} />, 'hosts at once: N or N%')}
        {field('errorBudget', 'Error budget', <input id="j-errorBudget" value={f.errorBudget} onChange={set('errorBudget')} {...aria('errorBudget')} />, 'failures before no new host starts')}
        {field('timeoutSeconds', 'Timeout (s)', <input id="j-timeoutSeconds" inputMode="numeric" value={f.timeoutSeconds} onChange={set('timeoutSeconds')} {...aria('timeoutSeconds')} />, 'per host')}
      </div>
      {serverError && !serverError.field && (
        <p className="field-error" role="alert">
          {serverError.message}
        </p>
      )}
      <div>
        <button type="submit" className="primary" disabled={busy}>
          Run job
        </button>
      </div>
    </form>
  );
}

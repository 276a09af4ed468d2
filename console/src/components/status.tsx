/**
 * Status shown as a coloured dot AND its word: colour alone is never the
 * only signal. Tones map many API words (agent, service, rollout, job
 * states) onto a few colours.
 */
const TONES: Record<string, 'ok' | 'warn' | 'bad' | 'info' | 'muted'> = {
  online: 'ok', healthy: 'ok', running: 'ok', succeeded: 'ok', applied: 'ok', installed: 'ok', approved: 'ok',
  offline: 'bad', failed: 'bad', unhealthy: 'bad', revoked: 'muted', aborted: 'muted', 'rolled-back': 'warn', backoff: 'bad',
  paused: 'warn', pending: 'info', updating: 'info', applying: 'info', starting: 'info', stopping: 'info', waiting: 'warn',
  stopped: 'muted', skipped: 'muted', none: 'muted',
  same: 'ok', changed: 'warn', missing: 'bad', extra: 'info',
  ok: 'ok', denied: 'warn', error: 'bad',
};

export function tone(word: string): string {
  return TONES[word.toLowerCase()] ?? 'muted';
}

export function Status({ value, label }: { value: string; label?: string }) {
  return (
    <span className={`status tone-${tone(value)}`}>
      <span className="dot" aria-hidden="true" />
      {label ?? value}
    </span>
  );
}

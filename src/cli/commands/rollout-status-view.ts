/** The rollout status as the CLI reads and prints it. */
import { formatTable } from '../table.js';

export type Counts = { pending: number; updating: number; healthy: number; failed: number; offline: number };

/** The rollout status as the API returns it (restated: the CLI does not import the server). */
export interface ApiRolloutStatus {
  id: string;
  deployment: string;
  kind: 'rollout' | 'rollback';
  state: string;
  reason: string;
  from: { revision: number; version: string } | null;
  to: { revision: number; version: string } | null;
  /** Keys of the secret values this rollout changes (never their values); absent from older servers. */
  secretsChanged?: string[];
  stage: { index: number; name: string };
  stages: { index: number; name: string; counts: Counts; total: number }[];
  totals: Counts & { total: number };
  errorBudget: { budget: number; failed: number; forgiven?: number; left: number };
  agents?: { id: string; name: string; stage: number; state: string; reason: string }[];
}

/** A rollout as the list and the operator actions return it. */
export interface ApiRolloutSummary {
  id: string;
  deployment: string;
  kind: string;
  state: string;
  reason: string;
  fromRevision: number | null;
  toRevision: number;
  stage: number;
  createdBy: string;
  createdAt: string;
}

/** The states a rollout ends in. */
export const FINISHED = ['succeeded', 'failed', 'aborted', 'rolled-back'];

function bar(done: number, total: number, width = 30): string {
  const filled = total === 0 ? width : Math.round((done / total) * width);
  return `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${done}/${total}`;
}

/** The status as text: header, progress bar, budget, reason, and a table of stages. */
export function formatRolloutStatus(s: ApiRolloutStatus): string {
  const from = s.from ? `r${s.from.revision} (${s.from.version})` : 'nothing';
  const to = s.to ? `r${s.to.revision} (${s.to.version})` : '?';
  const done = s.totals.healthy + s.totals.failed + s.totals.offline;
  const lines = [
    `${s.kind} ${s.id} of ${s.deployment}: ${from} -> ${to}${s.secretsChanged?.length ? `; secret changed: ${s.secretsChanged.join(', ')}` : ''}`,
    `state: ${s.state}${s.reason ? ` (${s.reason})` : ''}`,
    `stage: ${s.stage.name}   ${bar(done, s.totals.total)}   error budget left: ${s.errorBudget.left} of ${s.errorBudget.budget} (${s.errorBudget.failed} failed${s.errorBudget.forgiven ? `, ${s.errorBudget.forgiven} accepted on resume` : ''})`,
    '',
    formatTable(
      ['STAGE', 'PENDING', 'UPDATING', 'HEALTHY', 'FAILED', 'OFFLINE'],
      s.stages.map((st) => [`${st.index === s.stage.index && !FINISHED.includes(s.state) ? '> ' : '  '}${st.name}`, ...(['pending', 'updating', 'healthy', 'failed', 'offline'] as const).map((k) => String(st.counts[k]))]),
    ).trimEnd(),
  ];
  if (s.agents) {
    lines.push('', formatTable(['AGENT', 'NAME', 'STAGE', 'STATE', 'REASON'], s.agents.map((a) => [a.id.slice(-12), a.name, String(a.stage), a.state, a.reason])).trimEnd());
  }
  return `${lines.join('\n')}\n`;
}


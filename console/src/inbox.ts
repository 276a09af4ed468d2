/** The inbox: rollouts waiting for an operator (a promote after the canary, or paused on failures). */
import { useQuery } from '@tanstack/react-query';
import { api } from './api/client';
import type { RolloutSummary } from './api/types';

const FINISHED = ['succeeded', 'failed', 'aborted', 'rolled-back'];
/** After a healthy canary under `promote: manual` the rollout holds (state paused) with this reason until promoted. */
export const waitingForPromote = (r: Pick<RolloutSummary, 'state' | 'reason'>) => !FINISHED.includes(r.state) && r.reason.startsWith('waiting for promote');
export const needsAttention = (r: RolloutSummary) => r.state === 'paused' || waitingForPromote(r);

export function useRollouts() {
  return useQuery({ queryKey: ['rollouts', 'list'], queryFn: () => api<{ rollouts: RolloutSummary[] }>('/api/v1/rollouts?limit=200'), refetchInterval: 10_000 });
}

export function useInbox() {
  const q = useRollouts();
  const items = (q.data?.rollouts ?? []).filter(needsAttention);
  return { items, promote: items.filter(waitingForPromote).length, paused: items.filter((r) => r.state === 'paused' && !waitingForPromote(r)).length };
}

/** What a rollout reference on the command line means: a deployment name, a rollout id, or a unique prefix of one. */
import type { ApiClient } from '../api-client.js';
import { CliError, EXIT } from '../exit-codes.js';
import type { ApiRolloutSummary } from './rollout-status-view.js';

const FULL_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const ID_PREFIX = /^[0-9a-f][0-9a-f-]{0,34}$/;
/** How far back a prefix is looked for: the newest rollouts the API lists at once. */
const SEARCHED = 500;

/**
 * `ref` as the API takes it: a full rollout id or a deployment name as is; a
 * unique prefix of a rollout id (among the newest 500 rollouts) as that id.
 * A deployment of that name wins over an id prefix. Throws AMBIGUOUS listing
 * the rollouts a prefix matches.
 */
export async function resolveRolloutRef(api: ApiClient, ref: string): Promise<string> {
  const wanted = ref.toLowerCase();
  if (FULL_ID.test(wanted) || !ID_PREFIX.test(wanted)) return ref;
  const { rollouts } = await api.request<{ rollouts: ApiRolloutSummary[] }>('GET', `/api/v1/rollouts?limit=${SEARCHED}`);
  if (rollouts.some((r) => r.deployment === ref)) return ref;
  const matches = rollouts.filter((r) => r.id.startsWith(wanted));
  if (matches.length === 1) return matches[0]!.id;
  if (matches.length === 0) return ref;
  const shown = matches.slice(0, 5).map((r) => `${r.id} (${r.kind} of ${r.deployment}, ${r.state})`).join(', ');
  throw new CliError(`"${ref}" starts ${matches.length} rollout ids: ${shown}${matches.length > 5 ? ', …' : ''}; give more of the id`, EXIT.ERROR, 'AMBIGUOUS');
}

/** `corral agent delete ID`: remove a revoked agent's records. */
import type { Command } from 'commander';
import { apiFor, printJson, withConnection, type CliIo, type ConnectionFlags } from '../context.js';
import { resolveAgentId } from './agents.js';

export function addAgentDeleteSubcommand(agentCmd: Command, io: CliIo): void {
  withConnection(
    agentCmd
      .command('delete')
      .description("Delete a revoked agent's records: the agent, its events and its per-deployment revisions")
      .argument('<agent>', 'agent id, or a unique prefix or suffix of it')
      .addHelpText(
        'after',
        `
Only a revoked agent can be deleted: revoke it first (corral revoke). Job
results and rollout history keep its name. The host may enroll again later
with an enrollment token, as a new agent.

Example:
  corral revoke 82c407ff8cb7 && corral agent delete 82c407ff8cb7`,
      ),
  ).action(async (agent: string, flags: ConnectionFlags) => {
    const api = apiFor(flags, io);
    const id = await resolveAgentId(api, agent);
    const res = await api.request<{ id: string; name: string; events: number }>('DELETE', `/api/v1/agents/${id}/records`);
    if (flags.output === 'json') printJson(io, res);
    else io.stdout.write(`deleted ${res.name} (${res.id}) and ${res.events} event(s)\n`);
  });
}

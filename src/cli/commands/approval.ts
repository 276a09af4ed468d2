/** agent approve | reject: let a pending agent in, or refuse it for good. */
import type { Command } from 'commander';
import type { ApiAgentDetail } from '../api-types.js';
import { apiFor, printJson, withConnection, type CliIo, type ConnectionFlags } from '../context.js';
import { resolveAgentId } from './agents.js';

export function addApprovalSubcommands(agentCmd: Command, io: CliIo): void {
  for (const [action, description, help] of [
    [
      'approve',
      'Approve a pending agent: it gets its credential, config, packages and jobs from its next message on',
      '\nAgents wait as pending when the server runs with --require-approval, or when\nthey enrolled with a token created with --require-approval; corral agents shows them.\n\nExample:\n  corral agent approve 82c407ff8cb7',
    ],
    ['reject', 'Reject a pending agent: it is revoked, disconnected and refused from then on', '\nExample:\n  corral agent reject 82c407ff8cb7'],
  ] as const) {
    withConnection(agentCmd.command(action).description(description).argument('<agent>', 'agent id, or a unique prefix or suffix of it').addHelpText('after', help)).action(
      async (agent: string, flags: ConnectionFlags) => {
        const api = apiFor(flags, io);
        const id = await resolveAgentId(api, agent);
        const res = await api.request<ApiAgentDetail>('POST', `/api/v1/agents/${id}/${action}`);
        if (flags.output === 'json') return printJson(io, res);
        io.stdout.write(`${action === 'approve' ? 'approved' : 'rejected (revoked)'} ${res.name} (${res.id})\n`);
      },
    );
  }
}

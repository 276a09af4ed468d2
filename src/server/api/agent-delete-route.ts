/** REST: delete a revoked agent's records (`corral agent delete`). */
import type { ApiApp } from './api-env.js';
import { createRoute, z } from '@hono/zod-openapi';
import type { FleetService } from '../fleet/fleet-service.js';
import { actorOf, errors, json } from './openapi-helpers.js';

const DeletedAgent = z
  .object({
    id: z.string(),
    name: z.string(),
    events: z.number().int().openapi({ description: 'how many of its events were deleted with it' }),
  })
  .openapi('DeletedAgent');

export function addAgentDeleteRoute(app: ApiApp, fleet: FleetService): void {
  app.openapi(
    createRoute({
      method: 'delete',
      path: '/api/v1/agents/{id}/records',
      summary: "Delete a revoked agent's records: the agent, its events and its per-deployment revisions (409 AGENT_NOT_REVOKED for an agent that is not revoked)",
      request: { params: z.object({ id: z.string().min(1).max(64).openapi({ param: { name: 'id', in: 'path' } }) }) },
      responses: { 200: json(DeletedAgent, 'what was deleted'), ...errors },
    }),
    async (c) => c.json(await fleet.deleteAgent(c.req.valid('param').id, actorOf(c)), 200),
  );
}

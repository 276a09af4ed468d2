/** Approval of new agents (`corral server --require-approval`, or tokens created with requireApproval). */
import type { ApiApp } from './api-env.js';
import { createRoute, z } from '@hono/zod-openapi';
import type { FleetService } from '../fleet/fleet-service.js';
import { actorOf, errors, json } from './openapi-helpers.js';
import { AgentDetail } from './schemas.js';

const AgentId = z.object({ id: z.string().min(1).max(64).openapi({ param: { name: 'id', in: 'path' } }) });

export function addApprovalRoutes(app: ApiApp, fleet: FleetService): void {
  app.openapi(
    createRoute({
      method: 'post',
      path: '/api/v1/agents/{id}/approve',
      summary: 'Approve a pending agent: from its next message on it gets its credential, config, packages and jobs',
      request: { params: AgentId },
      responses: { 200: json(AgentDetail, 'the agent, approved'), ...errors },
    }),
    async (c) => c.json(await fleet.approveAgent(c.req.valid('param').id, actorOf(c)), 200),
  );
  app.openapi(
    createRoute({
      method: 'post',
      path: '/api/v1/agents/{id}/reject',
      summary: 'Reject a pending agent: it is revoked, disconnected and refused from then on',
      request: { params: AgentId },
      responses: { 200: json(AgentDetail, 'the agent, revoked'), ...errors },
    }),
    async (c) => c.json(await fleet.rejectAgent(c.req.valid('param').id, actorOf(c)), 200),
  );
}

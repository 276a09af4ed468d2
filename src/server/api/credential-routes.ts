/** REST for agent credential rotation: POST /api/v1/agents/rotate-credentials. */
import type { ApiApp } from './api-env.js';
import { createRoute, z } from '@hono/zod-openapi';
import type { FleetService } from '../fleet/fleet-service.js';
import { actorOf, errors, json } from './openapi-helpers.js';

const RotateInput = z
  .object({ selector: z.string().max(4096).openapi({ example: 'env=prod', description: "agents to rotate; '' for every agent" }) })
  .strict()
  .openapi('RotateCredentialsInput');

const RotateResult = z
  .object({
    agents: z.array(z.object({ id: z.string(), name: z.string() })),
  })
  .openapi('RotateCredentialsResult');

export function addCredentialRoutes(app: ApiApp, fleet: FleetService): void {
  app.openapi(
    createRoute({
      method: 'post',
      path: '/api/v1/agents/rotate-credentials',
      summary: 'Offer new credentials to the agents a selector matches; their old credential works for the grace window (--credential-grace), or until they use the new one',
      request: { body: { content: { 'application/json': { schema: RotateInput } }, required: true } },
      responses: { 200: json(RotateResult, 'the agents that will be offered a new credential'), ...errors },
    }),
    async (c) => c.json({ agents: await fleet.rotateCredentials(c.req.valid('json').selector, actorOf(c)) }, 200),
  );
}

import { it } from 'node:test';
import assert from 'node:assert/strict';
import { routeLabel } from './metrics.js';

it('keeps route labels low-cardinality by replacing ids', () => {
  assert.equal(routeLabel('GET', '/api/v1/agents'), 'GET /api/v1/agents');
  assert.equal(routeLabel('GET', '/api/v1/agents/0190aaaa-0000-7000-8000-000000000000'), 'GET /api/v1/agents/:id');
  assert.equal(routeLabel('GET', '/api/v1/configs/logging/status'), 'GET /api/v1/configs/:id/status');
  assert.equal(routeLabel('POST', '/v1/opamp'), 'POST /v1/opamp');
  assert.equal(routeLabel('GET', '/random/thing'), 'GET other');
});

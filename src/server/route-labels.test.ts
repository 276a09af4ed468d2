import { it } from 'node:test';
import assert from 'node:assert/strict';
import { routeLabeler } from './route-labels.js';

const label = routeLabeler([
  { method: 'ALL', path: '/api/v1/*' },
  { method: 'GET', path: '/api/v1/agents' },
  { method: 'GET', path: '/api/v1/agents/:id' },
  { method: 'GET', path: '/api/v1/configs/:name/status' },
  { method: 'GET', path: '/api/v1/rollouts/:ref' },
  { method: 'GET', path: '/api/v1/rollouts/active' },
  { method: 'POST', path: '/v1/opamp' },
]);

it('labels requests by route template, never by raw path', () => {
  assert.equal(label('GET', '/api/v1/agents'), 'GET /api/v1/agents');
  assert.equal(label('GET', '/api/v1/agents/0190aaaa-0000-7000-8000-000000000000'), 'GET /api/v1/agents/:id');
  assert.equal(label('GET', '/api/v1/configs/logging/status'), 'GET /api/v1/configs/:name/status');
  assert.equal(label('GET', '/api/v1/rollouts/active'), 'GET /api/v1/rollouts/active', 'static wins over a parameter');
  assert.equal(label('POST', '/v1/opamp'), 'POST /v1/opamp');
  assert.equal(label('HEAD', '/api/v1/agents'), 'HEAD /api/v1/agents');
});

it('collapses unknown paths and methods to one value each', () => {
  assert.equal(label('GET', '/random/thing'), 'GET unmatched');
  assert.equal(label('GET', '/api/v1/made-up-1234'), 'GET unmatched');
  assert.equal(label('GET', '/api/v1/agents/x/y/z'), 'GET unmatched');
  assert.equal(label('DELETE', '/api/v1/agents'), 'DELETE unmatched');
  assert.equal(label('BREW', '/api/v1/agents'), 'OTHER unmatched');
});

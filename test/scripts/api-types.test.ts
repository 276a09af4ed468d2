/**
 * The clients' REST types (src/protocol/gen/openapi.ts) come from the
 * server's OpenAPI document through npm run gen:api-types: the file must be
 * what the generator writes now, from the document the server really serves.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { API_TYPES_FILE, apiTypesSource } from '../../scripts/api-types.js';
import { apiDocument } from '../../src/server/api/api-document.js';
import { Fleet } from '../../src/testkit/fleet.js';

describe('generated REST API types', () => {
  let fleet: Fleet;
  before(async () => {
    fleet = await Fleet.start();
  });
  after(() => fleet?.close());

  it('are what npm run gen:api-types writes from the current server schemas', async () => {
    const expected = await apiTypesSource();
    assert.ok(expected.includes('Agent: {') && expected.includes('"/api/v1/agents/{id}"'), 'the generator renders schemas and paths');
    assert.ok(readFileSync(API_TYPES_FILE, 'utf8') === expected, 'src/protocol/gen/openapi.ts is out of date with the server\'s schemas: run npm run gen:api-types');
  });

  it('are generated from the document the running server serves at /api/v1/openapi.json', async () => {
    const res = await fetch(`${fleet.url}/api/v1/openapi.json`);
    assert.equal(res.status, 200);
    assert.deepEqual(JSON.parse(JSON.stringify(apiDocument())), await res.json(), 'apiDocument() (src/server/api/api-document.ts) builds the API differently from the server');
  });
});

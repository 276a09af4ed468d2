/**
 * npm run gen:api-types — regenerates src/protocol/gen/openapi.ts, the REST
 * API's types the console and the CLI use, from the server's OpenAPI document.
 * Run it after changing a route or a schema under src/server/api/.
 */
import { writeFileSync } from 'node:fs';
import { relative } from 'node:path';
import { API_TYPES_FILE, apiTypesSource } from './api-types.js';

writeFileSync(API_TYPES_FILE, await apiTypesSource());
console.log(`wrote ${relative(process.cwd(), API_TYPES_FILE)}`);

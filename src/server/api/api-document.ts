/**
 * The REST API's OpenAPI document without a running server, for
 * `npm run gen:api-types` (the clients' generated types) and its test.
 */
import { createApi, OPENAPI_DOCUMENT, type ApiDeps } from './routes.js';

/**
 * Stands in for every dependency: createApi only keeps references to its
 * deps for the handlers, so reading one is fine and calling one means an
 * app built for its document was asked to answer a request.
 */
function unusedDeps(path = 'deps'): unknown {
  return new Proxy(function unused() {}, {
    get: (_target, key) => (key === 'then' ? undefined : unusedDeps(`${path}.${String(key)}`)),
    apply: () => {
      throw new Error(`apiDocument(): ${path}() was called; the app built for its OpenAPI document answers no request`);
    },
    construct: () => {
      throw new Error(`apiDocument(): new ${path}() was called; the app built for its OpenAPI document answers no request`);
    },
  });
}

/** The document GET /api/v1/openapi.json serves, built from the same routes and schemas. */
export function apiDocument(): ReturnType<ReturnType<typeof createApi>['getOpenAPIDocument']> {
  return createApi(unusedDeps() as ApiDeps).getOpenAPIDocument(OPENAPI_DOCUMENT);
}

/**
 * Checks JSON answers (and request bodies) against a server's published OpenAPI document
 * (`/api/v1/openapi.json`), so a test's canned API answers cannot drift
 * from what the server really sends:
 *
 *   const doc = new OpenApiResponses(await (await fetch(`${url}/api/v1/openapi.json`)).json());
 *   assert.deepEqual(doc.problems('GET', '/api/v1/agents', 200, body), []);
 *
 * Objects are checked strictly (a field the server's schema does not have is
 * a problem too: a client reading it would read nothing from the real server).
 */
import { z } from 'zod';

type Json = Record<string, unknown>;

export interface OpenApiDocument {
  paths: Record<
    string,
    Record<string, { requestBody?: { content?: Record<string, { schema?: unknown }> }; responses?: Record<string, { content?: Record<string, { schema?: unknown }> }> }>
  >;
  components?: { schemas?: Record<string, unknown> };
}

/** The error body every route answers an error with (the API's one error shape). */
const ERROR_SCHEMA = { $ref: '#/components/schemas/Error' };

/** The JSON schema with objects closed (additionalProperties: false where it says nothing) and refs pointing at `definitions`. */
function strict(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(strict);
  if (typeof schema !== 'object' || schema === null) return schema;
  const out: Json = {};
  for (const [k, v] of Object.entries(schema)) {
    if (k === '$ref' && typeof v === 'string') out[k] = v.replace('#/components/schemas/', '#/definitions/');
    else if (k === 'properties' && typeof v === 'object' && v !== null) out[k] = Object.fromEntries(Object.entries(v).map(([p, s]) => [p, strict(s)]));
    else out[k] = strict(v);
  }
  if (out.type === 'object' && out.properties && out.additionalProperties === undefined) out.additionalProperties = false;
  return out;
}

export class OpenApiResponses {
  private readonly routes: { template: string; pattern: RegExp }[];
  private readonly compiled = new Map<string, z.ZodType>();

  constructor(private readonly doc: OpenApiDocument) {
    // Literal segments before parameters: /deployments/{name}/status is more specific than /deployments/{name}.
    this.routes = Object.keys(doc.paths)
      .map((template) => ({ template, pattern: new RegExp(`^${template.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/\{[^}]+\}/g, '[^/]+')}$`) }))
      .sort((a, b) => b.template.split('/').length - a.template.split('/').length || a.template.split('{').length - b.template.split('{').length);
  }

  /** The documented path template a concrete path (query ignored) belongs to, or null. */
  templateOf(path: string): string | null {
    const bare = path.split('?')[0]!;
    return this.routes.find((r) => r.pattern.test(bare))?.template ?? null;
  }

  /**
   * What is wrong with `body` as the server's `status` answer to `method`
   * `path`: the route or status not documented, or each place the body
   * departs from the response schema. [] when it fits. An error status the
   * route does not list is checked against the API's error body.
   */
  problems(method: string, path: string, status: number, body: unknown): string[] {
    const template = this.templateOf(path);
    const op = template ? this.doc.paths[template]![method.toLowerCase()] : undefined;
    if (!template || !op) return [`the server has no route ${method} ${path.split('?')[0]}`];
    const documented = op.responses?.[String(status)];
    const schema = documented ? documented.content?.['application/json']?.schema : status >= 400 ? ERROR_SCHEMA : undefined;
    if (!schema) return [`${method} ${template} does not answer ${status} with JSON`];
    return this.check(`${method} ${template} ${status}`, schema, body);
  }

  /** What is wrong with `body` as a JSON request body for `method` `path`: the route not documented, or not taking a body, or where it departs from the schema. */
  requestProblems(method: string, path: string, body: unknown): string[] {
    const template = this.templateOf(path);
    const op = template ? this.doc.paths[template]![method.toLowerCase()] : undefined;
    if (!template || !op) return [`the server has no route ${method} ${path.split('?')[0]}`];
    const schema = op.requestBody?.content?.['application/json']?.schema;
    if (!schema) return [`${method} ${template} takes no JSON body`];
    return this.check(`${method} ${template} request`, schema, body);
  }

  private check(key: string, schema: unknown, body: unknown): string[] {
    let validator = this.compiled.get(key);
    if (!validator) {
      validator = z.fromJSONSchema({ ...(strict(schema) as Json), definitions: strict(this.doc.components?.schemas ?? {}) } as Parameters<typeof z.fromJSONSchema>[0], { defaultTarget: 'openapi-3.0' });
      this.compiled.set(key, validator);
    }
    const result = validator.safeParse(body);
    return result.success ? [] : result.error.issues.map((i) => `${key}: ${i.path.join('.') || '(body)'}: ${i.message}`);
  }
}

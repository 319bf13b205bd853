// Every route the app serves, read from Fastify's own route tree, and the operations of /openapi.json: what the
// authorization table and the fuzzer walk, so that a route added later without an entry makes them fail.
import assert from 'node:assert/strict';
import type { FastifyInstance } from 'fastify';
import { ERROR_STATUS } from '../../src/http/errors.ts';

export interface RouteKey {
  method: string;
  /** Fastify's pattern, e.g. `/api/v1/segments/:id/count`. */
  path: string;
}

/**
 * The routes of `app.printRoutes({ commonPrefix: false })`, one per method, without the HEAD twins of GET routes
 * and the CORS plugin's catch-all OPTIONS route. Each tree line is a suffix of its parent's path.
 */
export function listRoutes(app: FastifyInstance): RouteKey[] {
  const tree = app.printRoutes({ commonPrefix: false });
  const stack: string[] = [];
  const out: RouteKey[] = [];
  for (const line of tree.split('\n')) {
    const m = /^([│ ]*)[├└]── (.*?)(?: \(([A-Z, ]+)\))?$/u.exec(line);
    if (!m) continue;
    const depth = [...(m[1] ?? '')].length / 4;
    stack.length = depth;
    const path = (stack[depth - 1] ?? '') + (m[2] ?? '');
    stack[depth] = path;
    for (const method of (m[3] ?? '').split(',').map((s) => s.trim()).filter(Boolean)) {
      if (method === 'HEAD' || (method === 'OPTIONS' && path === '*')) continue;
      out.push({ method, path });
    }
  }
  assert.ok(out.length > 20, `the route tree was read (${out.length} routes): ${tree.slice(0, 200)}`);
  return out;
}

export interface Operation {
  method: string;
  /** OpenAPI form, `/api/v1/segments/{id}/count`. */
  path: string;
  params: string[];
  query: Record<string, { required: boolean; schema: Record<string, unknown> }>;
  hasBody: boolean;
  /** Property names of the body schema, one level into arrays of objects too (what a fuzzer should aim at). */
  bodyKeys: string[];
  security: 'token' | 'writeKey' | 'none';
}

interface JsonSchema {
  properties?: Record<string, JsonSchema>;
  items?: JsonSchema;
}

function propertyNames(schema: JsonSchema | undefined, depth = 0): string[] {
  if (!schema || depth > 2) return [];
  const own = Object.entries(schema.properties ?? {}).flatMap(([k, v]) => [k, ...propertyNames(v.items ?? v, depth + 1)]);
  return [...new Set([...own, ...propertyNames(schema.items, depth + 1)])];
}

interface OpenApiDoc {
  paths: Record<string, Record<string, { parameters?: { in: string; name: string; required?: boolean; schema?: Record<string, unknown> }[]; requestBody?: { content?: Record<string, { schema?: JsonSchema }> }; security?: Record<string, unknown>[] }>>;
}

/** The operations of `/openapi.json`; the credential a route takes is read from its path (the contract of DESIGN §5). */
export async function listOperations(app: FastifyInstance): Promise<Operation[]> {
  const res = await app.inject({ method: 'GET', url: '/openapi.json' });
  assert.equal(res.statusCode, 200, res.body);
  const doc = res.json<OpenApiDoc>();
  const ops: Operation[] = [];
  for (const [path, methods] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(methods)) {
      const params = (op.parameters ?? []).filter((p) => p.in === 'path').map((p) => p.name);
      const query: Operation['query'] = {};
      for (const p of op.parameters ?? []) if (p.in === 'query') query[p.name] = { required: p.required === true, schema: p.schema ?? {} };
      const security = path.startsWith('/api/') ? (path === '/api/v1/ropa/purposes' ? 'none' : 'token') : path.startsWith('/v1/') && method === 'post' ? 'writeKey' : 'none';
      ops.push({ method: method.toUpperCase(), path, params, query, hasBody: op.requestBody !== undefined || method === 'post' || method === 'put', bodyKeys: propertyNames(op.requestBody?.content?.['application/json']?.schema), security });
    }
  }
  return ops;
}

export const fastifyPath = (openApiPath: string): string => openApiPath.replace(/\{([^}]+)\}/g, ':$1');

/** A 4xx/5xx answer is the JSON error shape with a code of the catalogue whose status is the answer's status. */
export function assertCataloguedError(res: { statusCode: number; body: string; headers: Record<string, unknown> }, what: string): void {
  let body: unknown;
  try {
    body = JSON.parse(res.body);
  } catch {
    assert.fail(`${what}: ${res.statusCode} with a non-JSON body: ${res.body.slice(0, 200)}`);
  }
  const error = (body as { error?: { code?: unknown; message?: unknown } }).error;
  assert.ok(error && typeof error.code === 'string' && typeof error.message === 'string', `${what}: the error shape {error: {code, message}}: ${res.body.slice(0, 300)}`);
  const code = error.code as string;
  assert.ok(Object.hasOwn(ERROR_STATUS, code), `${what}: ${code} is in the catalogue`);
  assert.equal(ERROR_STATUS[code as keyof typeof ERROR_STATUS], res.statusCode, `${what}: ${code} answers with its own status`);
}

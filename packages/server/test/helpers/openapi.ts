import assert from 'node:assert/strict';
import type { FastifyInstance } from 'fastify';
import { openApiPath } from '../../src/http/index.ts';

type Doc = { openapi: string; paths: Record<string, Record<string, { summary?: string }>> };

/**
 * `doc` (a server's /openapi.json) lists every route registered on `app` with a summary, and names no route that
 * fastify does not have.
 */
export function assertOpenApiListsEveryRoute(app: FastifyInstance, doc: unknown): void {
  const d = doc as Doc;
  assert.equal(d.openapi, '3.1.0');
  assert.ok(app.routesSeen.length >= 4, 'routes were recorded');
  for (const route of app.routesSeen) {
    const operation = d.paths[openApiPath(route.url)]?.[route.method.toLowerCase()];
    assert.ok(operation, `${route.method} ${route.url} is in /openapi.json`);
    assert.ok(operation.summary, `${route.method} ${route.url} has a summary`);
  }
  const fastifyUrl = (path: string) => path.replace(/\{wildcard\}/g, '*').replace(/\{([^}]+)\}/g, ':$1');
  for (const [path, operations] of Object.entries(d.paths)) {
    for (const method of Object.keys(operations)) {
      assert.ok(
        app.hasRoute({ method: method.toUpperCase() as 'GET', url: fastifyUrl(path) }),
        `${method} ${path} of /openapi.json is a route`,
      );
    }
  }
}

import type { FastifyInstance, RouteOptions } from 'fastify';

/** What a service says about itself at the top of its OpenAPI document. */
export interface OpenApiInfo {
  title: string;
  description?: string;
  version?: string;
  /** Top-level `security` requirement (e.g. mutual TLS). */
  security?: unknown[];
  /** `components` (schemas, securitySchemes) that the routes' `responses` and `requestBody` refer to. */
  components?: Record<string, unknown>;
}

/** A route as registered: what /openapi.json lists. */
export interface RouteSeen {
  method: string;
  url: string;
}

type JsonSchema = {
  type?: unknown;
  properties?: Record<string, JsonSchema & { description?: string }>;
  required?: string[];
  description?: string;
  [key: string]: unknown;
};

/** The OpenAPI error answer of every node server: a FHIR OperationOutcome (the SMP overrides it). */
export const OPERATION_OUTCOME_SCHEMA = {
  type: 'object',
  required: ['resourceType', 'issue'],
  properties: {
    resourceType: { const: 'OperationOutcome' },
    issue: { type: 'array', items: { type: 'object' } },
  },
};

/** `/inbox/:id` → `/inbox/{id}`; a wildcard `*` → `{wildcard}`. */
export function openApiPath(url: string): string {
  return url.replace(/:([A-Za-z0-9_]+)/g, '{$1}').replace(/\*/g, '{wildcard}');
}

function parameters(schema: JsonSchema | undefined, where: 'path' | 'query'): unknown[] {
  if (!schema?.properties) return [];
  return Object.entries(schema.properties).map(([name, s]) => {
    const { description, ...rest } = s;
    return {
      name: where === 'path' && name === '*' ? 'wildcard' : name,
      in: where,
      required: where === 'path' || (schema.required ?? []).includes(name),
      ...(description ? { description } : {}),
      schema: rest,
    };
  });
}

/**
 * Records every route registered on `app` (an onRoute hook, so it must be installed before the routes) and serves
 * `GET /openapi.json`: an OpenAPI 3.1 document built from the routes' schemas. A route's `schema` gives `summary`,
 * `description`, `tags`, `params` and `querystring` (validated by fastify, listed as parameters), `requestBody` and
 * `responses` (OpenAPI objects, documentation only: bodies are read by each role's own parsers and answers are not
 * reshaped by a serializer). Fastify's automatic HEAD routes are not listed. Returns the routes seen, as they are
 * registered (the tests compare them with the document).
 */
export function serveOpenApi(app: FastifyInstance, info: OpenApiInfo): RouteSeen[] {
  const routes: { route: RouteOptions; method: string }[] = [];
  const seen: RouteSeen[] = [];
  app.addHook('onRoute', (route) => {
    const methods = Array.isArray(route.method) ? route.method : [route.method];
    for (const m of methods) {
      const method = m.toUpperCase();
      if (method === 'HEAD') continue;
      routes.push({ route, method });
      seen.push({ method, url: route.url });
    }
  });
  let cached: unknown;
  const document = () => {
    const paths: Record<string, Record<string, unknown>> = {};
    for (const { route, method } of routes) {
      const s = (route.schema ?? {}) as Record<string, unknown>;
      const operation = {
        ...(s.summary ? { summary: s.summary } : {}),
        ...(s.description ? { description: s.description } : {}),
        ...(s.tags ? { tags: s.tags } : {}),
        ...(s.security ? { security: s.security } : {}),
        parameters: [
          ...parameters(s.params as JsonSchema | undefined, 'path'),
          ...parameters(s.querystring as JsonSchema | undefined, 'query'),
        ],
        ...(s.requestBody ? { requestBody: s.requestBody } : {}),
        responses: s.responses ?? { default: { description: 'See the service description' } },
      };
      if (operation.parameters.length === 0) delete (operation as { parameters?: unknown }).parameters;
      const path = openApiPath(route.url);
      paths[path] ??= {};
      paths[path]![method.toLowerCase()] = operation;
    }
    const components = (info.components ?? {}) as { schemas?: Record<string, unknown> };
    return {
      openapi: '3.1.0',
      info: {
        title: info.title,
        version: info.version ?? '1.0.0',
        ...(info.description ? { description: info.description } : {}),
      },
      ...(info.security ? { security: info.security } : {}),
      paths,
      components: {
        ...components,
        schemas: { OperationOutcome: OPERATION_OUTCOME_SCHEMA, ...components.schemas },
      },
    };
  };
  app.get(
    '/openapi.json',
    {
      schema: {
        summary: 'This document (OpenAPI 3.1)',
        security: [],
        responses: { '200': { description: 'OpenAPI 3.1 document of every route this server serves' } },
      },
    },
    async (_request, reply) => {
      cached ??= document();
      return reply.type('application/json; charset=utf-8').send(JSON.stringify(cached));
    },
  );
  return seen;
}

declare module 'fastify' {
  interface FastifySchema {
    /** OpenAPI operation summary. */
    summary?: string;
    /** OpenAPI operation description (Markdown). */
    description?: string;
    tags?: string[];
    /** OpenAPI security requirement of this operation (`[]`: open). */
    security?: unknown[];
    /** OpenAPI requestBody object (documentation; the route's parser reads the body). */
    requestBody?: unknown;
    /** OpenAPI responses object, by status. */
    responses?: Record<string, unknown>;
  }
}

import { EhmiError } from '@ehmi/errors';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ConsoleApiDeps } from '../session.ts';
import { mshOf } from './messages.ts';
import { upstreamError } from './upstream.ts';

const orgParams = {
  params: {
    type: 'object',
    required: ['org'],
    properties: { org: { type: 'string', pattern: '^[A-Za-z0-9._-]{1,64}$' } },
  },
};
const itemParams = {
  params: {
    type: 'object',
    required: ['org', 'id'],
    properties: {
      org: { type: 'string', pattern: '^[A-Za-z0-9._-]{1,64}$' },
      id: { type: 'string', pattern: '^[A-Za-z0-9._:-]{1,128}$' },
    },
  },
  querystring: {
    type: 'object',
    additionalProperties: false,
    properties: { format: { type: 'string', enum: ['json', 'xml'] } },
  },
};

/**
 * A message's content is patient data: only a user with the entitlement sees it, and the MSH records each read in its
 * audit log with the patient (the console never keeps or caches it, so every view is such a read).
 */
function requirePatientData(request: FastifyRequest): void {
  if (request.consoleUser?.patientData !== true) {
    throw new EhmiError(
      'EHMI_FORBIDDEN',
      'a message’s content is patient data: it needs the patient-data entitlement',
    );
  }
}

/** An organisation's inbox through its MSH's EUA API, as the signed-in user. */
export function registerInboxRoutes(app: FastifyInstance, deps: ConsoleApiDeps): void {
  // One page of the inbox at a time, newest first, paged by the MSH itself (its Link rel="next" gives `after`).
  app.get<{ Params: { org: string }; Querystring: { after?: string; limit?: number } }>(
    '/inbox/:org',
    {
      schema: {
        ...orgParams,
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            after: { type: 'string', maxLength: 300, pattern: '^[A-Za-z0-9_-]+$' },
            limit: { type: 'integer', minimum: 1, maximum: 200, default: 50 },
          },
        },
      },
    },
    async (request) => {
      const service = mshOf(deps, request.params.org);
      const search = new URLSearchParams({ order: 'desc', limit: String(request.query.limit ?? 50) });
      if (request.query.after) search.set('after', request.query.after);
      const res = await request.callApi(service, `/inbox?${search}`, {
        headers: { accept: 'application/json' },
      });
      if (!res.ok) throw await upstreamError(service, res);
      const link = /<([^>]*)>;\s*rel="next"/.exec(res.headers.get('link') ?? '')?.[1];
      const next = link ? new URLSearchParams(link.split('?')[1] ?? '').get('after') : null;
      return { items: (await res.json()) as unknown[], next };
    },
  );

  app.get<{ Params: { org: string; id: string }; Querystring: { format?: 'json' | 'xml' } }>(
    '/inbox/:org/:id',
    { schema: itemParams },
    async (request, reply) => {
      requirePatientData(request);
      const { org, id } = request.params;
      const service = mshOf(deps, org);
      const xml = request.query.format === 'xml';
      const res = await request.callApi(service, `/inbox/${encodeURIComponent(id)}`, {
        headers: { accept: xml ? 'application/fhir+xml' : 'application/fhir+json' },
      });
      if (!res.ok) throw await upstreamError(service, res);
      const body = Buffer.from(await res.arrayBuffer());
      // The item's content as the MSH gave it: JSON is parsed by the page, XML shown as text. No caching anywhere.
      return reply
        .header('cache-control', 'no-store')
        .type(xml ? 'text/plain; charset=utf-8' : 'application/json; charset=utf-8')
        .send(xml ? body.toString('utf8') : body);
    },
  );

  app.post<{ Params: { org: string; id: string } }>(
    '/inbox/:org/:id/acknowledge',
    { schema: { params: itemParams.params } },
    async (request, reply) => {
      const { org, id } = request.params;
      const service = mshOf(deps, org);
      const res = await request.callApi(service, `/inbox/${encodeURIComponent(id)}/$acknowledge`, {
        method: 'POST',
      });
      if (!res.ok) throw await upstreamError(service, res);
      return reply.status(202).send(await res.json());
    },
  );
}

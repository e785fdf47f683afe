import { EhmiError } from '@ehmi/errors';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ConsoleApiDeps } from '../session.ts';
import { ebmsMeaning } from './ebms-errors.ts';
import { visibleOrganisations } from './organisations.ts';
import { fhirJson, jsonList, upstreamError } from './upstream.ts';

export interface MessagesQuery {
  sender?: string;
  receiver?: string;
  type?: string;
  status?: string;
  from?: string;
  to?: string;
  patient?: string;
  offset?: number;
  limit?: number;
}

const STATUSES = ['accepted', 'sent', 'receipted', 'acknowledged', 'failed'];
/** The largest page the console asks for; the list itself is every message the MSHs answer with. */
const MAX_LIMIT = 200;

const messagesSchema = {
  querystring: {
    type: 'object',
    additionalProperties: false,
    properties: {
      sender: { type: 'string', maxLength: 64 },
      receiver: { type: 'string', maxLength: 64 },
      type: { type: 'string', maxLength: 128 },
      status: { type: 'string', enum: STATUSES },
      from: { type: 'string', format: 'date-time' },
      to: { type: 'string', format: 'date-time' },
      patient: { type: 'string', pattern: '^[0-9]{10}$' },
      offset: { type: 'integer', minimum: 0, default: 0 },
      limit: { type: 'integer', minimum: 1, maximum: MAX_LIMIT, default: 50 },
    },
  },
};

const idParams = {
  params: {
    type: 'object',
    required: ['org', 'id'],
    properties: {
      org: { type: 'string', pattern: '^[A-Za-z0-9._-]{1,64}$' },
      id: { type: 'string', pattern: '^[A-Za-z0-9._:-]{1,128}$' },
    },
  },
};

type Row = Record<string, unknown> & { organisation: string };

const bare = (party: unknown) => String(party ?? '').replace(/^0088:/, '');

/**
 * The console's messages: the sent messages of every MSH the user may read (`GET /messages` of each, as the user),
 * merged, filtered, newest first, one page at a time. An MSH that cannot be reached is named, not fatal.
 */
export function registerMessageRoutes(app: FastifyInstance, deps: ConsoleApiDeps): void {
  app.get<{ Querystring: MessagesQuery }>('/messages', { schema: messagesSchema }, async (request) => {
    const q = request.query;
    if (q.patient && request.consoleUser?.patientData !== true) {
      throw new EhmiError('EHMI_FORBIDDEN', 'searching by patient needs the patient-data entitlement');
    }
    const orgs = (await visibleOrganisations(request, deps)).filter((o) => o.services.includes('msh'));
    const search = new URLSearchParams();
    if (q.status) search.set('status', q.status);
    if (q.patient) search.set('patient', q.patient);
    const suffix = search.size > 0 ? `?${search}` : '';
    const unavailable: { organisation: string; reason: string }[] = [];
    const lists = await Promise.all(
      orgs.map(async (o) => {
        try {
          return (await jsonList(request, `msh:${o.key}`, `/messages${suffix}`)).map(
            (m): Row => ({ ...m, organisation: o.key }),
          );
        } catch (err) {
          if (err instanceof EhmiError && err.code === 'EHMI_UNAUTHORIZED') throw err;
          unavailable.push({ organisation: o.name, reason: (err as Error).message });
          return [];
        }
      }),
    );
    const all = lists.flat();
    const from = q.from ? Date.parse(q.from) : undefined;
    const to = q.to ? Date.parse(q.to) : undefined;
    const rows = all.filter((m) => {
      if (q.sender && bare(m.sender) !== bare(q.sender)) return false;
      if (q.receiver && bare(m.receiver) !== bare(q.receiver)) return false;
      if (q.type && m.type !== q.type) return false;
      const at = Date.parse(String(m.createdAt));
      if (from !== undefined && at < from) return false;
      if (to !== undefined && at > to) return false;
      return true;
    });
    rows.sort(
      (a, b) =>
        String(b.createdAt).localeCompare(String(a.createdAt)) || String(b.id).localeCompare(String(a.id)),
    );
    const offset = q.offset ?? 0;
    const limit = q.limit ?? 50;
    const facet = (key: string) => [...new Set(all.map((m) => String(m[key] ?? '')).filter(Boolean))].sort();
    return {
      total: rows.length,
      offset,
      limit,
      items: rows.slice(offset, offset + limit),
      facets: { senders: facet('sender'), receivers: facet('receiver'), types: facet('type') },
      unavailable,
    };
  });

  app.get('/organisations', async (request) => visibleOrganisations(request, deps));

  // One message and its journey: the sending MSH's record, and the journey it reads from EDS. EDS away (503) leaves
  // the MSH's own timeline.
  app.get<{ Params: { org: string; id: string } }>(
    '/messages/:org/:id',
    { schema: idParams },
    async (request) => {
      const { org, id } = request.params;
      const service = mshOf(deps, org);
      const message = await fhirJson(request, service, `/messages/${encodeURIComponent(id)}`);
      let journey: Record<string, unknown> | null = null;
      let journeyError: string | undefined;
      try {
        journey = await fhirJson(request, service, `/messages/${encodeURIComponent(id)}/journey`);
      } catch (err) {
        if (err instanceof EhmiError && err.code === 'EHMI_UNAUTHORIZED') throw err;
        journeyError = (err as Error).message;
      }
      // The message's dead-lettered jobs on its node, which the journey page offers to retry.
      let deadLetters: unknown = [];
      try {
        const res = await request.callApi(service, `/messages/${encodeURIComponent(id)}/dead-letters`, {
          headers: { accept: 'application/json' },
        });
        if (res.ok) deadLetters = await res.json();
        else await res.body?.cancel();
      } catch (err) {
        if (err instanceof EhmiError && err.code === 'EHMI_UNAUTHORIZED') throw err;
      }
      const failure = message.failure as { ebmsCode?: string } | null | undefined;
      return {
        message: { ...message, organisation: org },
        deadLetters,
        journey,
        ...(journeyError ? { journeyError } : {}),
        ...(failure?.ebmsCode ? { ebmsMeaning: ebmsMeaning(failure.ebmsCode) } : {}),
      };
    },
  );

  app.post<{ Params: { org: string; id: string } }>(
    '/messages/:org/:id/resend',
    { schema: idParams },
    async (request, reply) => {
      const { org, id } = request.params;
      const res = await request.callApi(mshOf(deps, org), `/messages/${encodeURIComponent(id)}/$resend`, {
        method: 'POST',
      });
      if (!res.ok) throw await upstreamError(mshOf(deps, org), res);
      return reply.status(202).send(await res.json());
    },
  );

  // Retry the message's dead-lettered jobs (or one: `job`) on its node: the organisation's operator, or the network
  // operator's support desk (the MSH decides, DESIGN-NOTES.md "The operator's actions").
  app.post<{ Params: { org: string; id: string }; Body: { job?: string } | undefined }>(
    '/messages/:org/:id/retry',
    {
      schema: {
        ...idParams,
        body: {
          type: ['object', 'null'],
          additionalProperties: false,
          properties: { job: { type: 'string', minLength: 1, maxLength: 200 } },
        },
      },
    },
    async (request, reply) => {
      const { org, id } = request.params;
      const service = mshOf(deps, org);
      const job = request.body?.job;
      const res = await request.callApi(
        service,
        `/messages/${encodeURIComponent(id)}/$retry${job ? `?job=${encodeURIComponent(job)}` : ''}`,
        { method: 'POST' },
      );
      if (!res.ok) throw await upstreamError(service, res);
      return reply.status(202).send(await res.json());
    },
  );
}

/** The service name of an organisation's MSH; an organisation the console does not know is a 404. */
export function mshOf(deps: ConsoleApiDeps, org: string): string {
  const service = `msh:${org}`;
  if (!deps.services[service]) throw new EhmiError('EHMI_NOT_FOUND', `no organisation ${org} with an MSH`);
  return service;
}

export type { FastifyRequest };

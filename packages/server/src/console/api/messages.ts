import { EhmiError } from '@ehmi/errors';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ConsoleApiDeps } from '../session.ts';
import { ebmsMeaning } from './ebms-errors.ts';
import { networkOrganisations, visibleOrganisations } from './organisations.ts';
import { fhirJson, upstreamError } from './upstream.ts';

export interface MessagesQuery {
  sender?: string;
  receiver?: string;
  type?: string;
  status?: string;
  from?: string;
  to?: string;
  patient?: string;
  after?: string;
  limit?: number;
}

const STATUSES = ['accepted', 'sent', 'receipted', 'acknowledged', 'failed'];
/** The largest page the console asks for. */
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
      after: { type: 'string', maxLength: 4000, pattern: '^[A-Za-z0-9_-]+$' },
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

type Row = Record<string, unknown> & { organisation: string; id: string; createdAt: string };

const bare = (party: unknown) => String(party ?? '').replace(/^0088:/, '');

/**
 * Where each MSH's list goes on: by organisation, the MSH's cursor after the last of its messages shown (the MSH's
 * documented cursor: base64url of `<createdAt epoch ms>.<id>`), `''` to start at its newest, absent once it has
 * nothing more. The console's own cursor is this, as base64url JSON.
 */
type Positions = Record<string, string>;

function mshCursor(row: Row): string {
  return Buffer.from(`${Date.parse(row.createdAt)}.${row.id}`, 'utf8').toString('base64url');
}

function readPositions(after: string | undefined, keys: string[]): Positions {
  if (after === undefined) return Object.fromEntries(keys.map((k) => [k, '']));
  try {
    const parsed = JSON.parse(Buffer.from(after, 'base64url').toString('utf8')) as unknown;
    if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) {
      const out: Positions = {};
      for (const [k, v] of Object.entries(parsed)) {
        if (keys.includes(k) && typeof v === 'string' && /^[A-Za-z0-9_-]*$/.test(v)) out[k] = v;
      }
      return out;
    }
  } catch {
    // not a cursor of ours: below
  }
  throw new EhmiError('EHMI_USAGE', 'after is not a cursor this list gave (take it from next)');
}

/**
 * The console's messages: the sent messages of every MSH the user may read, newest first, one page at a time. Each
 * MSH is asked for a page of its own (`GET /messages?order=desc&limit=…&after=…`, with the filters it applies:
 * status, patient, receiver, type, the time range), as the user; the pages are merged and the first `limit` shown;
 * the cursor of the next page holds where each MSH's list goes on. Nothing is fetched beyond one page per MSH, however
 * many thousands of messages the MSHs hold. An MSH that cannot be reached is named, not fatal.
 */
export function registerMessageRoutes(app: FastifyInstance, deps: ConsoleApiDeps): void {
  app.get<{ Querystring: MessagesQuery }>('/messages', { schema: messagesSchema }, async (request) => {
    const q = request.query;
    if (q.patient && request.consoleUser?.patientData !== true) {
      throw new EhmiError('EHMI_FORBIDDEN', 'searching by patient needs the patient-data entitlement');
    }
    const visible = await visibleOrganisations(request, deps);
    const everyone = await networkOrganisations(request, deps);
    const withMsh = visible.filter((o) => o.services.includes('msh'));
    // An MSH sends as its own organisation: a sender filter picks the MSHs to ask (and one whose GLN the register
    // did not give, whose rows are then filtered here).
    const orgs = q.sender ? withMsh.filter((o) => !o.gln || o.gln === bare(q.sender)) : withMsh;
    const limit = q.limit ?? 50;
    const positions = readPositions(
      q.after,
      orgs.map((o) => o.key),
    );
    const search = new URLSearchParams({ order: 'desc', limit: String(limit) });
    if (q.status) search.set('status', q.status);
    if (q.patient) search.set('patient', q.patient);
    if (q.receiver) search.set('receiver', bare(q.receiver));
    if (q.type) search.set('type', q.type);
    if (q.from) search.set('from', q.from);
    if (q.to) search.set('to', q.to);
    const unavailable: { organisation: string; reason: string }[] = [];
    const pages = await Promise.all(
      orgs
        .filter((o) => positions[o.key] !== undefined)
        .map(async (o) => {
          const own = new URLSearchParams(search);
          if (positions[o.key]) own.set('after', positions[o.key] as string);
          try {
            const res = await request.callApi(`msh:${o.key}`, `/messages?${own}`, {
              headers: { accept: 'application/json' },
            });
            if (!res.ok) throw await upstreamError(`msh:${o.key}`, res);
            const rows = ((await res.json()) as Record<string, unknown>[])
              .map((m): Row => ({ ...m, organisation: o.key }) as Row)
              .filter((m) => !q.sender || bare(m.sender) === bare(q.sender));
            return { key: o.key, rows, more: /rel="next"/.test(res.headers.get('link') ?? '') };
          } catch (err) {
            if (err instanceof EhmiError && err.code === 'EHMI_UNAUTHORIZED') throw err;
            unavailable.push({ organisation: o.name, reason: (err as Error).message });
            return { key: o.key, rows: [] as Row[], more: false, failed: true };
          }
        }),
    );
    const merged = pages
      .flatMap((p) => p.rows)
      .sort(
        (a, b) =>
          Date.parse(b.createdAt) - Date.parse(a.createdAt) || (b.id < a.id ? -1 : b.id > a.id ? 1 : 0),
      );
    const items = merged.slice(0, limit);
    const next: Positions = {};
    for (const p of pages) {
      const shown = items.filter((r) => r.organisation === p.key);
      const left = p.rows.length > shown.length || p.more;
      // An MSH that failed keeps its place, so the next page asks it again.
      if ('failed' in p) next[p.key] = positions[p.key] as string;
      else if (left)
        next[p.key] =
          shown.length > 0 ? mshCursor(shown[shown.length - 1] as Row) : (positions[p.key] as string);
    }
    const glns = (list: typeof everyone) =>
      list
        .filter((o) => o.gln && o.services.includes('msh'))
        .map((o) => `0088:${o.gln}`)
        .sort();
    return {
      limit,
      items,
      next: Object.keys(next).length > 0 ? Buffer.from(JSON.stringify(next)).toString('base64url') : null,
      facets: {
        senders: glns(withMsh),
        receivers: glns(everyone),
        types: [...new Set(items.map((m) => String(m.type ?? '')).filter(Boolean))].sort(),
      },
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

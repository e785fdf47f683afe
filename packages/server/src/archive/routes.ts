import { EhmiError } from '@ehmi/errors';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { noteAudit } from '../http/audit-note.ts';
import {
  addFhirContentTypes,
  fhirErrorResponse,
  fhirHandler,
  fhirResponse,
  sendFhir as send,
  splitSearchValues,
} from '../http/fhir-rest.ts';
import { parseDateValue } from '../http/fhir-search-date.ts';
import { type ArchiveViewer, archiveViewer } from './access.ts';
import { capabilityStatement } from './capability.ts';
import { CPR_SYSTEM, SOR_SYSTEM } from './document.ts';
import { type ArchivedDocument, type DocumentQuery, readDocument, searchDocuments } from './repository.ts';
import type { ArchiveStore } from './tables.ts';

export interface RouteOptions {
  store: ArchiveStore;
  baseUrl: () => string;
  search: { defaultCount: number; maxCount: number };
  version: string;
}

type Query = Record<string, string | string[] | undefined>;
type Route = { Params: { id: string }; Querystring: Query };

const FORMAT = {
  _format: { type: 'string', description: 'json or xml (FHIR R4 http.html §3.1.0.1.6); wins over Accept' },
};
const idParam = {
  type: 'object',
  required: ['id'],
  properties: { id: { type: 'string', description: 'Logical id' } },
};
const ID_RE = /^[A-Za-z0-9\-.]{1,64}$/;
/** Parameters that change the answer's shape, not its content. */
const IGNORED = new Set(['_format', '_pretty']);

function bad(message: string, expression: string): EhmiError {
  return new EhmiError('EHMI_USAGE', message, { expression: [expression] });
}

/** `system|value` or `value` of a token or `:identifier` search value. */
function token(raw: string): { system: string | undefined; value: string } {
  const bar = raw.indexOf('|');
  return bar < 0
    ? { system: undefined, value: raw }
    : { system: raw.slice(0, bar), value: raw.slice(bar + 1) };
}

/** The values of one search parameter: ORed by commas, the parameter repeated ANDs (search.html §3.1.1.4). */
function valuesOf(v: string | string[] | undefined): string[][] {
  return (Array.isArray(v) ? v : v === undefined ? [] : [v]).map(splitSearchValues);
}

/** Intersect the ANDed lists of one parameter (a document has one patient, one author, one status, one id). */
function allOf(lists: string[][]): string[] | undefined {
  if (lists.length === 0) return undefined;
  return lists.reduce((a, b) => a.filter((x) => b.includes(x)));
}

/**
 * Reads a search's query parameters. An unknown parameter is refused (400) rather than ignored, so a typo does not
 * silently widen the result (FHIR R4 search.html §3.1.1.3.2, `handling=strict`), as EDS does.
 */
export function parseArchiveSearch(query: Query, limits: RouteOptions['search']): DocumentQuery {
  const q: DocumentQuery = {
    dates: [],
    count: limits.defaultCount,
    offset: 0,
    ascending: false,
  };
  const patients: string[][] = [];
  const authors: string[][] = [];
  const statuses: string[][] = [];
  const ids: string[][] = [];
  for (const [key, raw] of Object.entries(query)) {
    if (raw === undefined || IGNORED.has(key)) continue;
    const single = () => {
      const v = Array.isArray(raw) ? raw[raw.length - 1]! : raw;
      return v;
    };
    switch (key) {
      case 'patient:identifier':
      case 'subject:identifier':
      case 'patient.identifier':
      case 'subject.identifier':
        for (const values of valuesOf(raw)) {
          patients.push(
            values.map((v) => {
              const t = token(v);
              if ((t.system !== undefined && t.system !== CPR_SYSTEM) || !/^\d{10}$/.test(t.value)) {
                throw bad(`${key}=${v}: expected ${CPR_SYSTEM}|<CPR> (10 digits)`, key);
              }
              return t.value;
            }),
          );
        }
        break;
      case 'author:identifier':
      case 'author.identifier':
        for (const values of valuesOf(raw)) {
          authors.push(
            values.map((v) => {
              const t = token(v);
              if ((t.system !== undefined && t.system !== SOR_SYSTEM) || t.value === '') {
                throw bad(`${key}=${v}: expected ${SOR_SYSTEM}|<SOR code>`, key);
              }
              return t.value;
            }),
          );
        }
        break;
      case 'type':
        for (const values of valuesOf(raw)) {
          const types = values.map((v) => {
            const t = token(v);
            if (t.value === '') throw bad(`type=${v}: expected system|code or code`, key);
            return t.system === undefined || t.system === ''
              ? { code: t.value }
              : { system: t.system, code: t.value };
          });
          // Repeated `type`: a document has one type, so both must name it; kept as separate ORs of one row.
          q.types = q.types ? q.types.filter((a) => types.some((b) => b.code === a.code)) : types;
        }
        break;
      case 'status':
        for (const values of valuesOf(raw)) statuses.push(values.map((v) => token(v).value));
        break;
      case '_id':
        for (const values of valuesOf(raw)) ids.push(values);
        break;
      case 'date':
        for (const values of valuesOf(raw)) q.dates.push(values.map((v) => parseDateValue(v, 'date')));
        break;
      case '_count': {
        const v = single();
        if (!/^\d{1,9}$/.test(v)) throw bad(`_count=${v}: expected a non-negative integer`, key);
        q.count = Math.min(Number(v), limits.maxCount);
        break;
      }
      case '_offset': {
        const v = single();
        if (!/^\d{1,9}$/.test(v)) throw bad(`_offset=${v}: expected a non-negative integer`, key);
        q.offset = Number(v);
        break;
      }
      case '_sort': {
        const v = single();
        if (v !== 'date' && v !== '-date') throw bad(`_sort=${v}: the archive sorts by date or -date`, key);
        q.ascending = v === 'date';
        break;
      }
      default:
        throw bad(
          `${key}: not a search parameter of the archive (patient:identifier, type, date, author:identifier, status, _id, _count, _offset, _sort)`,
          key,
        );
    }
  }
  const p = allOf(patients);
  if (p) q.patients = p;
  const a = allOf(authors);
  if (a) q.authors = a;
  const s = allOf(statuses);
  if (s) q.statuses = s;
  const i = allOf(ids);
  if (i) q.ids = i;
  return q;
}

/** Narrow a search to what the viewer may see: a token restricted to a patient sees that patient only. */
function forViewer(q: DocumentQuery, viewer: ArchiveViewer): DocumentQuery {
  if (viewer.patient === undefined) return q;
  return { ...q, patients: (q.patients ?? [viewer.patient]).filter((p) => p === viewer.patient) };
}

/** Whether the caller asked for the Binary resource (FHIR JSON or XML) rather than the document itself. */
function wantsBinaryResource(request: FastifyRequest): boolean {
  const format = (request.query as Query)._format;
  if (format) return true;
  return /application\/(fhir\+json|json\+fhir|fhir\+xml|xml\+fhir)/i.test(request.headers.accept ?? '');
}

/** The FHIR REST interactions of the archive: DocumentReference search and read, Binary read; metadata. */
export function registerRoutes(app: FastifyInstance, o: RouteOptions): void {
  addFhirContentTypes(app);
  const published = new Date().toISOString();
  const handle = fhirHandler<Route>;

  app.get<Route>(
    '/metadata',
    {
      schema: {
        summary: 'CapabilityStatement of the archive',
        querystring: { type: 'object', properties: FORMAT },
        responses: { '200': fhirResponse('CapabilityStatement') },
      },
    },
    handle(async (request, reply) =>
      send(request, reply, 200, capabilityStatement(o.baseUrl(), published, o.version)),
    ),
  );

  /** A document the viewer may read, or 404 (another patient's is as unknown as a missing one). */
  const readable = async (request: FastifyRequest, id: string, what: string): Promise<ArchivedDocument> => {
    const viewer = archiveViewer(request.access);
    const doc = ID_RE.test(id) ? await readDocument(o.store.db, id) : undefined;
    if (!doc || (viewer.patient !== undefined && doc.patient_cpr !== viewer.patient)) {
      throw new EhmiError('EHMI_NOT_FOUND', `${what}/${id} is not known`);
    }
    noteAudit(request, { patient: doc.patient_cpr });
    return doc;
  };

  app.get<Route>(
    '/DocumentReference',
    {
      schema: {
        summary: 'Search archived documents: a searchset Bundle with total, paged by _count and _offset',
        querystring: {
          type: 'object',
          description:
            'patient:identifier, type, date, author:identifier, status, _id, _count, _offset, _sort; an unknown parameter is refused with 400',
          properties: {
            ...FORMAT,
            // Each may be repeated (ANDed) and hold a comma-separated list (ORed): a string or a list of them.
            'patient:identifier': { description: `${CPR_SYSTEM}|<CPR>` },
            type: { description: 'system|code or code' },
            date: { description: 'a FHIR date with an optional prefix (ge2025-01-01)' },
            'author:identifier': { description: `${SOR_SYSTEM}|<SOR>` },
            status: { description: 'current, superseded, entered-in-error' },
            _count: { type: 'string', pattern: '^\\d{1,9}$' },
            _offset: { type: 'string', pattern: '^\\d{1,9}$' },
            _sort: { type: 'string', description: 'date or -date (the default: newest first)' },
          },
        },
        responses: {
          '200': fhirResponse('searchset Bundle'),
          '400': fhirErrorResponse('An unknown or bad search parameter'),
          '403': fhirErrorResponse('No patient-data entitlement'),
        },
      },
    },
    handle(async (request, reply) => {
      const asked = parseArchiveSearch(request.query, o.search);
      // Every document is a patient's: the search is audited, a search by patient flagged for MinLog (as EDS's by cpr).
      noteAudit(request, {
        operation: 'search-type',
        resource: 'DocumentReference',
        ...(asked.patients ? { patient: asked.patients.join(','), minlog: true } : {}),
      });
      const viewer = archiveViewer(request.access);
      const q = forViewer(asked, viewer);
      const result = await searchDocuments(o.store.db, q);
      const base = o.baseUrl();
      const self = new URL(`${base}${request.url}`);
      const page = (offset: number) => {
        const u = new URL(self);
        u.searchParams.set('_offset', String(offset));
        u.searchParams.set('_count', String(q.count));
        return u.toString();
      };
      const link = [{ relation: 'self', url: self.toString() }];
      if (q.count > 0 && q.offset + result.page.length < result.total) {
        link.push({ relation: 'next', url: page(q.offset + result.page.length) });
      }
      if (q.count > 0 && q.offset > 0)
        link.push({ relation: 'previous', url: page(Math.max(0, q.offset - q.count)) });
      const entry = result.page.map((d) => ({
        fullUrl: `${base}/DocumentReference/${d.id}`,
        resource: JSON.parse(d.content) as Record<string, unknown>,
        search: { mode: 'match' },
      }));
      // The patients this answer disclosed, for the audit record (the searched ones when it searched by patient).
      const seen = [...new Set(result.page.map((d) => d.patient_cpr))];
      if (!asked.patients && seen.length > 0) noteAudit(request, { patient: seen.join(',') });
      return send(request, reply, 200, {
        resourceType: 'Bundle',
        type: 'searchset',
        total: result.total,
        link,
        ...(entry.length > 0 ? { entry } : {}),
      });
    }),
  );

  app.get<Route>(
    '/DocumentReference/:id',
    {
      schema: {
        summary: 'Read an archived DocumentReference',
        params: idParam,
        querystring: { type: 'object', properties: FORMAT },
        responses: { '200': fhirResponse('The DocumentReference'), '404': fhirErrorResponse('Not known') },
      },
    },
    handle(async (request, reply) => {
      const { id } = request.params;
      noteAudit(request, { operation: 'read', resource: `DocumentReference/${id}` });
      const doc = await readable(request, id, 'DocumentReference');
      reply.header('etag', 'W/"1"');
      return send(request, reply, 200, JSON.parse(doc.content) as Record<string, unknown>);
    }),
  );

  app.get<Route>(
    '/Binary/:id',
    {
      schema: {
        summary:
          'Read an archived document: its octets in its own content type, or a Binary resource (Accept: application/fhir+json)',
        params: idParam,
        querystring: { type: 'object', properties: FORMAT },
        responses: { '200': { description: 'The document' }, '404': fhirErrorResponse('Not known') },
      },
    },
    handle(async (request, reply): Promise<FastifyReply> => {
      const { id } = request.params;
      noteAudit(request, { operation: 'read', resource: `Binary/${id}` });
      const doc = await readable(request, id, 'Binary');
      const bytes = await o.store.blobs.read({ hash: doc.document_hash, size: doc.document_size });
      if (wantsBinaryResource(request)) {
        return send(request, reply, 200, {
          resourceType: 'Binary',
          id: doc.id,
          contentType: doc.content_type,
          data: bytes.toString('base64'),
        });
      }
      return reply.status(200).type(doc.content_type).send(bytes);
    }),
  );

  // The archive is written by copies over eDelivery only: no create, update, patch or delete over this API.
  const notAllowed = handle(async (request, reply) => {
    reply.header('allow', 'GET');
    const message = `${request.method} is not allowed: the archive takes documents as copies over eDelivery (read and search only)`;
    return send(request, reply, 405, {
      resourceType: 'OperationOutcome',
      issue: [{ severity: 'error', code: 'not-supported', diagnostics: message, details: { text: message } }],
    });
  });
  app.addContentTypeParser('*', { parseAs: 'string' }, (_request, text, done) => done(null, text));
  for (const url of ['/DocumentReference', '/DocumentReference/:id', '/Binary', '/Binary/:id']) {
    app.route<Route>({
      method: ['POST', 'PUT', 'PATCH', 'DELETE'],
      url,
      schema: {
        summary: 'Not allowed: documents arrive as copies over eDelivery (405)',
        ...(url.endsWith(':id') ? { params: idParam } : {}),
        querystring: { type: 'object' },
        responses: { '405': fhirErrorResponse('Method not allowed') },
      },
      handler: notAllowed,
    });
  }
}

import { EhmiError } from '@ehmi/errors';
import { jsonToXml } from '@ehmi/fhir';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { FHIR_JSON } from '../http/server.ts';
import { auditEvent } from './event.ts';
import type { AuditLog, AuditQuery } from './log.ts';

/** The scope of the audit log's search: the operator's (no EHMI document names one; the node's own, as metrics'). */
export const AUDIT_SCOPE = 'ehmi/audit.read';

/** Where the node serves its audit log (on its own server): FHIR search of AuditEvent. */
export const AUDIT_PATH = '/audit/AuditEvent';

const DEFAULT_COUNT = 50;
const MAX_COUNT = 1000;
const CPR = /^\d{10}$/;

type Query = Record<string, string | string[] | undefined>;

const list = (v: string | string[] | undefined): string[] =>
  (Array.isArray(v) ? v : v === undefined ? [] : [v]).flatMap((x) => x.split(',')).filter((x) => x !== '');

const one = (q: Query, name: string): string | undefined => {
  const v = q[name];
  if (Array.isArray(v)) {
    if (v.length > 1) throw usage(name, `${name} may be given once`);
    return v[0];
  }
  return v;
};

function usage(name: string, message: string): EhmiError {
  return new EhmiError('EHMI_USAGE', message, { expression: [name] });
}

/** `date` values (FHIR search `date` with the prefixes ge, le, gt, lt, eq): bounds on the time recorded. */
function dateBounds(values: string[], q: AuditQuery): void {
  for (const raw of values) {
    const m = /^(ge|le|gt|lt|eq)?(\d{4}(-\d{2}(-\d{2}(T[0-9:.]+(Z|[+-]\d{2}:\d{2})?)?)?)?)$/.exec(raw);
    if (!m) throw usage('date', `date=${raw}: expected [ge|le|gt|lt|eq]YYYY[-MM[-DD[Thh:mm:ss[Z|±hh:mm]]]]`);
    const prefix = m[1] ?? 'eq';
    const value = m[2]!;
    // The precision of the value is a range: 2026-12 is the whole month.
    const start = Date.parse(
      value.length === 4
        ? `${value}-01-01T00:00:00Z`
        : value.length === 7
          ? `${value}-01T00:00:00Z`
          : value.length === 10
            ? `${value}T00:00:00Z`
            : value,
    );
    if (Number.isNaN(start)) throw usage('date', `date=${raw}: not a date`);
    const end = (() => {
      const d = new Date(start);
      if (value.length === 4) return Date.UTC(d.getUTCFullYear() + 1, 0, 1);
      if (value.length === 7) return Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1);
      if (value.length === 10) return start + 86_400_000;
      return start + 1;
    })();
    q.after ??= [];
    q.before ??= [];
    if (prefix === 'ge') q.after.push({ at: start, inclusive: true });
    else if (prefix === 'gt') q.after.push({ at: end, inclusive: true });
    else if (prefix === 'le') q.before.push({ at: end, inclusive: false });
    else if (prefix === 'lt') q.before.push({ at: start, inclusive: false });
    else {
      q.after.push({ at: start, inclusive: true });
      q.before.push({ at: end, inclusive: false });
    }
  }
}

/** The token value of a `system|value` search parameter (the system, when given, must be `system`). */
function tokenValue(name: string, raw: string, system?: string): string {
  const bar = raw.indexOf('|');
  if (bar < 0) return raw;
  const given = raw.slice(0, bar);
  if (system !== undefined && given !== '' && given !== system) {
    throw usage(name, `${name}: the system must be ${system}`);
  }
  return raw.slice(bar + 1);
}

/** The audit log query of a FHIR search's parameters (400 on an unknown or malformed one). */
export function auditQueryOf(query: Query): AuditQuery {
  const q: AuditQuery = { limit: DEFAULT_COUNT };
  for (const name of Object.keys(query)) {
    if (
      ![
        'date',
        'patient',
        'patient.identifier',
        'agent',
        'outcome',
        'subtype',
        'entity-id',
        'request-id',
        'source',
        'purpose',
        '_count',
        '_offset',
        '_sort',
        '_format',
      ].includes(name)
    ) {
      throw usage(name, `unknown search parameter ${name}`);
    }
  }
  dateBounds(list(query.date), q);
  const patient = one(query, 'patient') ?? one(query, 'patient.identifier');
  if (patient !== undefined) {
    const cpr = tokenValue('patient', patient, 'urn:oid:1.2.208.176.1.2');
    if (!CPR.test(cpr))
      throw usage('patient', 'patient: a CPR number (10 digits), as urn:oid:1.2.208.176.1.2|<cpr>');
    q.patient = cpr;
  }
  const agent = one(query, 'agent');
  if (agent !== undefined) q.clientId = tokenValue('agent', agent);
  const outcome = list(query.outcome);
  for (const o of outcome) {
    if (!['0', '4', '8', '12'].includes(tokenValue('outcome', o)))
      throw usage('outcome', `outcome=${o}: 0, 4, 8 or 12`);
  }
  if (outcome.length) q.outcome = outcome.map((o) => tokenValue('outcome', o));
  const subtype = list(query.subtype).map((s) => tokenValue('subtype', s));
  if (subtype.length) q.subtype = subtype;
  const entity = one(query, 'entity-id');
  if (entity !== undefined) q.entity = entity;
  const requestId = one(query, 'request-id');
  if (requestId !== undefined) q.requestId = requestId;
  const source = one(query, 'source');
  if (source !== undefined) q.service = source;
  const purpose = one(query, 'purpose');
  if (purpose !== undefined) {
    if (tokenValue('purpose', purpose) !== 'person-lookup')
      throw usage('purpose', 'purpose: only person-lookup (MinLog) is known');
    q.minlog = true;
  }
  const count = one(query, '_count');
  if (count !== undefined) {
    if (!/^\d{1,5}$/.test(count)) throw usage('_count', '_count: a whole number');
    q.limit = Math.min(Number(count), MAX_COUNT);
  }
  const offset = one(query, '_offset');
  if (offset !== undefined) {
    if (!/^\d{1,9}$/.test(offset)) throw usage('_offset', '_offset: a whole number');
    q.offset = Number(offset);
  }
  const sort = one(query, '_sort');
  if (sort !== undefined) {
    if (sort !== '-date' && sort !== 'date') throw usage('_sort', '_sort: date or -date');
    q.newestFirst = sort === '-date';
  }
  return q;
}

/**
 * `GET /audit/AuditEvent` on the node's own server: the audit log as a FHIR searchset Bundle of AuditEvents, newest
 * first (`_sort=date` for oldest first), `_count` a page (default 50, at most 1000) with a `next` link; FHIR XML
 * when `_format` or Accept asks for it. For the
 * operator only (`access`, {@link AUDIT_SCOPE}); the search is itself recorded, as every call is.
 */
export function serveAuditSearch(
  app: FastifyInstance,
  options: { log: AuditLog; access: (request: FastifyRequest, reply: FastifyReply) => Promise<void> },
): void {
  app.get(
    AUDIT_PATH,
    {
      onRequest: options.access,
      schema: {
        summary: "Search the node's audit log (FHIR AuditEvent, IHE BALP); the operator only",
        querystring: { type: 'object', additionalProperties: true },
      },
    },
    async (request, reply) => {
      const query = request.query as Query;
      const q = auditQueryOf(query);
      const rows = await options.log.search({ ...q, limit: q.limit + 1 });
      const more = rows.length > q.limit;
      const page = rows.slice(0, q.limit);
      const self = `${request.protocol}://${request.host}${request.url}`;
      const links: Record<string, string>[] = [{ relation: 'self', url: self }];
      if (more) {
        const next = new URLSearchParams();
        for (const [k, v] of Object.entries(query)) {
          if (k === '_offset') continue;
          for (const x of Array.isArray(v) ? v : [v ?? '']) next.append(k, x);
        }
        next.set('_offset', String((q.offset ?? 0) + q.limit));
        next.set('_count', String(q.limit));
        links.push({ relation: 'next', url: `${request.protocol}://${request.host}${AUDIT_PATH}?${next}` });
      }
      const bundle = {
        resourceType: 'Bundle',
        type: 'searchset',
        link: links,
        entry: page.map((r) => ({
          fullUrl: `urn:uuid:${r.id}`,
          resource: auditEvent(r),
          search: { mode: 'match' },
        })),
      };
      // FHIR XML when `_format` or Accept asks for it (FHIR R4 http.html §3.1.0.1.6), JSON otherwise.
      const format = one(query, '_format') ?? '';
      const accept = request.headers.accept ?? '';
      if (/xml/i.test(format) || (!format && /xml/i.test(accept) && !/json/i.test(accept))) {
        return reply
          .type('application/fhir+xml; charset=utf-8')
          .send(`<?xml version="1.0" encoding="UTF-8"?>${jsonToXml(bundle)}`);
      }
      return reply.type(FHIR_JSON).send(bundle);
    },
  );
}

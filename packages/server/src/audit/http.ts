import { randomUUID, type X509Certificate } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { EhmiError, toOperationOutcome } from '@ehmi/errors';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { clientCertificateOf } from '../http/client-certificate.ts';
import type { AuditLog } from './log.ts';
import { type AuditCaller, type AuditRecord, outcomeOf } from './record.ts';

/** What a server needs to record its calls: the node's audit log and the node's name for `source`. */
export interface ServerAudit {
  log: AuditLog;
  /** The node, as `AuditEvent.source.site` names it (its organisation's name or GLN, or its URL). */
  node: string;
}

/** The header that carries a call's request id, both ways (BALP's X-Request-Id entity). */
export const REQUEST_ID_HEADER = 'x-request-id';

/** A request id a client may choose: 1–128 characters of letters, digits and `-._:`; anything else is replaced. */
const SANE_REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** fastify's `genReqId`: the client's `X-Request-Id` when it has a sane shape, a new UUID otherwise. */
export function requestIdOf(raw: IncomingMessage): string {
  const given = raw.headers[REQUEST_ID_HEADER];
  return typeof given === 'string' && SANE_REQUEST_ID.test(given) ? given : randomUUID();
}

/** Query parameters whose values are secrets: kept by name, their values never recorded. */
const SECRET_PARAMETERS = new Set([
  'access_token',
  'id_token',
  'refresh_token',
  'code',
  'code_verifier',
  'client_secret',
  'client_assertion',
  'assertion',
  'token',
  'password',
]);

/** The query string of a URL, without `?`, with the values of secret parameters replaced. */
export function recordedQuery(url: string): string | undefined {
  const at = url.indexOf('?');
  if (at < 0 || at === url.length - 1) return undefined;
  return url
    .slice(at + 1)
    .split('&')
    .map((pair) => {
      const eq = pair.indexOf('=');
      const name = eq < 0 ? pair : pair.slice(0, eq);
      let key = name;
      try {
        key = decodeURIComponent(name);
      } catch {
        // recorded as sent
      }
      return eq >= 0 && SECRET_PARAMETERS.has(key.toLowerCase()) ? `${name}=REDACTED` : pair;
    })
    .join('&');
}

const subjects = new WeakMap<X509Certificate, string>();

/** A certificate's subject on one line (worked out once per certificate). */
function subjectOf(certificate: X509Certificate): string {
  let subject = subjects.get(certificate);
  if (subject === undefined) {
    subject = certificate.subject.replaceAll('\n', ', ');
    subjects.set(certificate, subject);
  }
  return subject;
}

/**
 * The subject of the request's client certificate: the one presented on its TLS connection, or the one a trusted
 * proxy forwarded (`clientCertificateOf`).
 */
export function certificateSubjectOf(request: FastifyRequest): string | undefined {
  const leaf = clientCertificateOf(request.raw).path[0];
  return leaf ? subjectOf(leaf) : undefined;
}

function callerOf(request: FastifyRequest): AuditCaller {
  const caller: AuditCaller = {};
  const certificate = certificateSubjectOf(request);
  if (certificate) caller.certificate = certificate;
  const proxy = clientCertificateOf(request.raw).proxy;
  if (proxy) caller.proxy = subjectOf(proxy);
  if (request.ip) caller.address = request.ip;
  const a = request.access;
  if (a) {
    caller.clientId = a.clientId;
    if (a.subject) caller.subject = a.subject;
    if (typeof a.payload.iss === 'string') caller.issuer = a.payload.iss;
    if (typeof a.payload.jti === 'string') caller.tokenId = a.payload.jti;
    const o = a.organisation;
    if (o) {
      caller.organisation = {
        ...(o.cvr ? { cvr: o.cvr } : {}),
        ...(o.name ? { name: o.name } : {}),
        ...(o.deviceId ? { deviceId: o.deviceId } : {}),
        ...(o.contexts.length > 0
          ? {
              contexts: o.contexts.map((c) => ({
                sor: c.sor,
                gln: c.gln,
                ...(c.name ? { name: c.name } : {}),
              })),
            }
          : {}),
      };
    }
  }
  return caller;
}

const FHIR_TYPE = /^[A-Z][A-Za-z]+$/;
const NOT_FHIR = new Set(['/health', '/metrics', '/openapi.json']);

/** The route's segments, a `:type` parameter replaced by the resource type it names (`/:type/:id`, as EER's). */
function fhirSegments(route: string, params: Record<string, unknown>): string[] {
  return route
    .split('/')
    .filter(Boolean)
    .map((s) =>
      s === ':type' && typeof params.type === 'string' && FHIR_TYPE.test(params.type) ? params.type : s,
    );
}

/** The FHIR interaction of a call to a FHIR route (`/Type…`, `/metadata`), or undefined for the node's other APIs. */
function interactionOf(method: string, route: string, params: Record<string, unknown>): string | undefined {
  if (NOT_FHIR.has(route)) return undefined;
  if (route === '/metadata') return 'capabilities';
  const segments = fhirSegments(route, params);
  if (!segments.some((s) => FHIR_TYPE.test(s))) return undefined;
  const last = segments.at(-1) ?? '';
  if (last === ':operation' && typeof params.operation === 'string') return params.operation;
  if (last.startsWith('$')) return last;
  if (method === 'GET' || method === 'HEAD') {
    if (last === ':vid') return 'vread';
    if (last === '_history') return segments.length > 2 ? 'history-instance' : 'history-type';
    return last.startsWith(':') ? 'read' : 'search-type';
  }
  if (method === 'POST') return 'create';
  if (method === 'PUT') return 'update';
  if (method === 'PATCH') return 'patch';
  if (method === 'DELETE') return 'delete';
  return undefined;
}

function actionOf(subtype: string, fhir: boolean): AuditRecord['action'] {
  if (fhir) {
    if (subtype === 'create') return 'C';
    if (subtype === 'update' || subtype === 'patch') return 'U';
    if (subtype === 'delete') return 'D';
    if (subtype.startsWith('$') || subtype === 'operation') return 'E';
    return 'R';
  }
  if (subtype === 'GET' || subtype === 'HEAD') return 'R';
  if (subtype === 'POST') return 'C';
  if (subtype === 'PUT' || subtype === 'PATCH') return 'U';
  if (subtype === 'DELETE') return 'D';
  return 'E';
}

/** The resource of a FHIR route (`/Organization/:id` → `Organization/<id>`), when the route did not note one. */
function resourceOf(route: string, params: Record<string, unknown>): string | undefined {
  const segments = fhirSegments(route, params);
  const type = segments.find((s) => FHIR_TYPE.test(s));
  if (!type) return undefined;
  const next = segments[segments.indexOf(type) + 1];
  if (next === ':id' && typeof params.id === 'string') return `${type}/${params.id}`;
  return type;
}

/** The audit record of a call answered with `status`. */
export function auditRecordOf(
  request: FastifyRequest,
  status: number,
  where: { node: string; service: string; now: number; detail?: string },
): AuditRecord {
  const note = request.auditNote ?? {};
  const route = request.routeOptions.url ?? request.url.split('?')[0] ?? '/';
  const params = (request.params ?? {}) as Record<string, unknown>;
  const interaction = note.operation ?? interactionOf(request.method, route, params);
  const fhir = interaction !== undefined;
  const subtype = interaction ?? request.method;
  const outcome = outcomeOf(status);
  const resource = note.resource ?? (fhir ? resourceOf(route, params) : undefined);
  const query = recordedQuery(request.url);
  const detail = note.detail ?? where.detail ?? request.auditFailure;
  return {
    id: randomUUID(),
    recorded: where.now,
    node: where.node,
    service: where.service,
    serverUrl: `${request.protocol}://${request.host}`,
    requestId: request.id,
    method: request.method,
    route,
    ...(query ? { query } : {}),
    status,
    outcome,
    subtype,
    fhir,
    action: actionOf(subtype, fhir),
    caller: callerOf(request),
    ...(note.patient ? { patient: note.patient } : {}),
    ...(note.minlog ? { minlog: true } : {}),
    ...(resource ? { resource } : {}),
    ...(outcome !== '0' && detail ? { detail } : {}),
  };
}

/**
 * Record every call to `app` in the node's audit log, with its true outcome (the status answered): buffered once the
 * answer is sent; a person-specific lookup (`noteAudit(request, { minlog: true })`) is written before its answer
 * leaves, and answered 503 when it cannot be written (a lookup that leaves no trace is not served). A call the client
 * abandons is recorded as a failure (499). Successful `GET /health` probes are not recorded: they disclose nothing.
 */
export function recordCalls(app: FastifyInstance, service: string, audit: ServerAudit): void {
  const { log, node } = audit;
  const done = new WeakSet<FastifyRequest>();
  const record = (request: FastifyRequest, status: number, detail?: string) => {
    if (done.has(request)) return undefined;
    done.add(request);
    return auditRecordOf(request, status, { node, service, now: log.now(), ...(detail ? { detail } : {}) });
  };
  app.addHook('onSend', async (request: FastifyRequest, reply: FastifyReply, payload: unknown) => {
    if (!request.auditNote?.minlog) return payload;
    const r = record(request, reply.statusCode);
    if (!r) return payload;
    try {
      await log.write(r);
      return payload;
    } catch (err) {
      request.log.error(
        { err },
        'audit log: cannot write the record of a person-specific lookup; refusing it',
      );
      const failed = {
        ...r,
        status: 503,
        outcome: outcomeOf(503),
        detail: 'EHMI_UNAVAILABLE audit log unavailable',
      };
      log.add(failed);
      reply.code(503).type('application/fhir+json; charset=utf-8');
      return JSON.stringify(
        toOperationOutcome(
          new EhmiError(
            'EHMI_UNAVAILABLE',
            'the audit log cannot record this person-specific lookup, so it is not answered',
          ),
        ),
      );
    }
  });
  app.addHook('onResponse', async (request, reply) => {
    if (reply.statusCode === 200 && request.routeOptions.url === '/health') return;
    const r = record(request, reply.statusCode);
    if (r) log.add(r);
  });
  app.addHook('onRequestAbort', async (request) => {
    const r = record(request, 499, 'the client closed the connection before the answer');
    if (r) log.add(r);
  });
}

declare module 'fastify' {
  interface FastifyRequest {
    /** Why the call was refused or failed (the error handler's code), for its audit record. */
    auditFailure?: string;
  }
}

import { EhmiError, isEhmiError, toOperationOutcome } from '@ehmi/errors';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { mayReadPatientData } from '../authz.ts';
import { noteAudit } from '../http/audit-note.ts';
import {
  addFhirContentTypes,
  fhirErrorResponse,
  fhirHandler,
  fhirResponse,
  prefersMinimal,
  sendFhir as send,
  wantsXml,
} from '../http/fhir-rest.ts';
import { FHIR_JSON } from '../http/index.ts';
import { registrationRefusal, type Viewer } from './access.ts';
import { capabilityStatement } from './capability.ts';
import type { EdsValidator, EventShape } from './profiles.ts';
import type { EdsRepository, Json, StoredEvent } from './repository.ts';
import { parseSearch, runSearch } from './search.ts';
import { agentOtherIds, agentSor, agentsOf, entityIdentifiers } from './search-params.ts';
import type { EdsStore } from './tables.ts';

export interface RouteOptions {
  repository: EdsRepository;
  validator: EdsValidator;
  store: EdsStore;
  baseUrl: () => string;
  search: { defaultCount: number; maxCount: number };
  /** Who is asking (access.ts `viewerOf` over the request's token). */
  viewer: (request: FastifyRequest) => Viewer;
  /** The software version the CapabilityStatement names. */
  version: string;
  /** The limits of a batch Bundle (eds.batch). */
  batch: { maxEntries: number; maxBytes: number };
  /** After an event is stored (the metrics). */
  onCreated?: () => void;
}

type Query = Record<string, string | string[] | undefined>;
type Route = { Params: { id: string }; Querystring: Query };

const err = fhirErrorResponse;
const fhir = fhirResponse;
const FORMAT = {
  _format: { type: 'string', description: 'json or xml (FHIR R4 http.html §3.1.0.1.6); wins over Accept' },
};
const formatQuery = { type: 'object', properties: FORMAT };
const idParam = {
  type: 'object',
  required: ['id'],
  properties: { id: { type: 'string', description: 'Logical id' } },
};
const searchQuery = {
  type: 'object',
  description:
    'date, _lastUpdated, outcome, _id and the EDS search parameters (search-params.ts); an unknown one is refused with 400',
  properties: {
    ...FORMAT,
    _count: {
      type: 'string',
      pattern: '^\\d{1,9}$',
      description: 'Page size (capped by eds.search.maxCount)',
    },
    _offset: { type: 'string', pattern: '^\\d{1,9}$', description: 'Matches to skip (paging)' },
    _sort: { type: 'string', description: 'date, -date, _lastUpdated or -_lastUpdated' },
    _summary: { type: 'string', description: "'count' (only the total) or 'false'" },
  },
};

const ID_RE = /^[A-Za-z0-9\-.]{1,64}$/;

function readBody(request: FastifyRequest): Json {
  const b = request.body;
  if (b === null || typeof b !== 'object' || Array.isArray(b)) {
    throw new EhmiError('EHMI_INPUT_UNREADABLE', 'the request body is not a FHIR resource');
  }
  const resource = b as Json;
  if (resource.resourceType !== 'AuditEvent') {
    throw new EhmiError(
      'EHMI_INPUT_UNREADABLE',
      `the body is a ${typeof resource.resourceType === 'string' ? resource.resourceType : 'resource without resourceType'}, EDS registers AuditEvent`,
      { expression: ['resourceType'] },
    );
  }
  return resource;
}

/** The organisations an event names as ehmiSender and ehmiReceiver (SOR ids and GLNs). */
function partiesOf(event: Json): { sors: string[]; glns: string[] } {
  const agents = [...agentsOf(event, 'ehmiSender'), ...agentsOf(event, 'ehmiReceiver')];
  return {
    sors: agents.map(agentSor).filter((s): s is string => s !== undefined),
    glns: agents.flatMap(agentOtherIds),
  };
}

/** The CPR of a patient event (the `ehmiPatient` entity), for the audit note. */
const patientOf = (event: Json): string | undefined => entityIdentifiers(event, 'ehmiPatient')[0];

/** The HL7 security label saying part of a resource was taken out (v3 ObservationValue `REDACTED`). */
const REDACTED = {
  system: 'http://terminology.hl7.org/CodeSystem/v3-ObservationValue',
  code: 'REDACTED',
  display: 'redacted',
};

/**
 * An event as a person without the patient-data entitlement sees it: a patient event without its patient (the
 * `ehmiPatient` entity, which holds the CPR) and labelled REDACTED; any other event as it is.
 */
function forViewer(request: FastifyRequest, event: Json): Json {
  if (mayReadPatientData(request.access) || patientOf(event) === undefined) return event;
  const entity = (event.entity as Json[]).filter((e) => (e.type as Json | undefined)?.code !== 'ehmiPatient');
  const meta = (event.meta as Json | undefined) ?? {};
  const security = [...((meta.security as Json[] | undefined) ?? []), REDACTED];
  const { entity: _patient, ...rest } = event;
  return { ...rest, meta: { ...meta, security }, ...(entity.length > 0 ? { entity } : {}) };
}

const STATUS_TEXT: Record<number, string> = { 200: '200 OK', 201: '201 Created' };

/** A batch-response entry for a stored event. */
function entryAnswer(status: number, e: StoredEvent, minimal = false): Json {
  return {
    ...(minimal ? {} : { resource: e.resource }),
    response: {
      status: STATUS_TEXT[status] ?? String(status),
      location: `AuditEvent/${e.id}/_history/1`,
      etag: 'W/"1"',
      lastModified: new Date(e.lastUpdated).toISOString(),
    },
  };
}

/** A batch-response entry for a refused one: its status and the OperationOutcome. */
function entryError(request: FastifyRequest, error: unknown): Json {
  if (!isEhmiError(error)) throw error;
  const outcome =
    (error.details as { outcome?: Json } | undefined)?.outcome ??
    (toOperationOutcome(error) as unknown as Json);
  request.log.info({ code: error.code, msg: error.message }, 'batch entry refused');
  return { response: { status: String(error.status), outcome } };
}

function versionHeaders(reply: FastifyReply, e: StoredEvent): void {
  reply.header('etag', 'W/"1"');
  reply.header('last-modified', new Date(e.lastUpdated).toUTCString());
}

/** The FHIR REST interactions of EDS (FHIR R4 http.html §3.1.0): create, read, search; metadata. */
export function registerRoutes(app: FastifyInstance, o: RouteOptions): void {
  addFhirContentTypes(app);
  // The CapabilityStatement's date: when this server started (what it states does not change while it runs).
  const published = new Date().toISOString();
  // Any other body is read as text: a PUT or PATCH (JSON Patch, FHIRPath Patch) is answered 405, not 415, and a
  // POST of something that is no AuditEvent 400.
  app.addContentTypeParser('*', { parseAs: 'string' }, (_request, text, done) => done(null, text));
  const handle = fhirHandler<Route>;

  app.get<Route>(
    '/metadata',
    {
      schema: {
        summary: 'CapabilityStatement of EDS',
        querystring: formatQuery,
        responses: { '200': fhir('CapabilityStatement') },
      },
    },
    handle(async (request, reply) =>
      send(request, reply, 200, capabilityStatement(o.baseUrl(), published, o.version)),
    ),
  );

  const answerStored = (request: FastifyRequest, reply: FastifyReply, e: StoredEvent, status: number) => {
    versionHeaders(reply, e);
    reply.header('location', `${o.baseUrl()}/AuditEvent/${e.id}/_history/1`);
    const minimal = prefersMinimal(request);
    return send(request, reply, status, minimal ? undefined : e.resource);
  };

  /**
   * Refuses an event `viewer` may not register (403) or that fails its EDS profile (422, nothing stored); else its
   * shape, when it has one (the repository's digest of it).
   */
  const admit = (viewer: Viewer, event: Json): EventShape | undefined => {
    const refusal = registrationRefusal(viewer, event, partiesOf(event));
    if (refusal) throw new EhmiError('EHMI_FORBIDDEN', refusal);
    const result = o.validator.validate(event);
    if (!result.ok) {
      throw new EhmiError(
        'EHMI_VALIDATION_FAILED',
        `the AuditEvent does not conform to ${result.profiles.join(' and ')}`,
        { details: { outcome: result.outcome } },
      );
    }
    return result.shape;
  };

  /** Conditional create (R4 http.html §3.1.0.8): no match → undefined (create); one → it; several → 412. */
  const conditionalMatch = async (condition: string, viewer: Viewer): Promise<StoredEvent | undefined> => {
    if (condition.trim() === '') return undefined;
    const params = new URLSearchParams(condition.replace(/^.*\?/, ''));
    const query: Query = {};
    for (const [k, v] of params) {
      const prev = query[k];
      query[k] = prev === undefined ? v : [...(Array.isArray(prev) ? prev : [prev]), v];
    }
    const found = await runSearch(
      o.store.db,
      { ...parseSearch(query, o.search), count: 2, offset: 0 },
      viewer,
    );
    if (found.total > 1) {
      throw new EhmiError(
        'EHMI_PRECONDITION_FAILED',
        `If-None-Exist (${condition}) matches ${found.total} events`,
      );
    }
    const match = found.matches[0];
    if (!match) return undefined;
    const resource = JSON.parse(match.content) as Json;
    const meta = resource.meta as { lastUpdated?: string } | undefined;
    return { id: match.id, resource, lastUpdated: Date.parse(meta?.lastUpdated ?? '') || 0 };
  };

  app.post<Route>(
    '/',
    {
      bodyLimit: o.batch.maxBytes,
      schema: {
        summary:
          `A batch Bundle (FHIR R4 http.html §3.1.0.11) of up to ${o.batch.maxEntries} entries, each a POST of an ` +
          'AuditEvent: answered by a batch-response Bundle with each entry’s own status (201, 200 for one EDS ' +
          'holds already, 400, 403, 412, 422) and OperationOutcome. The accepted entries are stored in one ' +
          'transaction. Prefer: return=minimal leaves the stored events out of the answer.',
        querystring: formatQuery,
        requestBody: {
          required: true,
          content: {
            'application/fhir+json': { schema: { type: 'object' } },
            'application/fhir+xml': { schema: { type: 'string' } },
          },
        },
        responses: {
          '200': fhir('batch-response Bundle: one entry per request entry, in order'),
          '400': err('Not a batch Bundle (a transaction is not supported)'),
          '413': err('More entries or octets than EDS takes in one batch'),
        },
      },
    },
    handle(async (request, reply) => {
      const bundle = request.body as Json | null;
      if (
        bundle === null ||
        typeof bundle !== 'object' ||
        Array.isArray(bundle) ||
        bundle.resourceType !== 'Bundle'
      ) {
        throw new EhmiError('EHMI_INPUT_UNREADABLE', 'POST [base] takes a Bundle of type batch');
      }
      if (bundle.type !== 'batch') {
        throw new EhmiError(
          'EHMI_NOT_SUPPORTED',
          `a Bundle of type ${String(bundle.type)}: EDS takes batch Bundles (each entry on its own), not transactions`,
          { expression: ['Bundle.type'] },
        );
      }
      const entries = Array.isArray(bundle.entry) ? (bundle.entry as unknown[]) : [];
      if (entries.length > o.batch.maxEntries) {
        throw new EhmiError(
          'EHMI_TOO_LARGE',
          `the batch has ${entries.length} entries; EDS takes at most ${o.batch.maxEntries} in one Bundle`,
          { expression: ['Bundle.entry'] },
        );
      }
      const viewer = o.viewer(request);
      const patients = new Set<string>();
      // Each entry: its answer, or the event to store (validated before the transaction).
      const answers: (Json | undefined)[] = [];
      const toStore: { index: number; event: Json; shape: EventShape | undefined }[] = [];
      for (const [index, raw] of entries.entries()) {
        try {
          const entry = raw !== null && typeof raw === 'object' && !Array.isArray(raw) ? (raw as Json) : {};
          const req = (entry.request ?? {}) as Json;
          const url = typeof req.url === 'string' ? req.url.replace(/^\/+/, '').replace(/\?.*$/, '') : '';
          if (req.method !== 'POST' || (url !== 'AuditEvent' && url !== `${o.baseUrl()}/AuditEvent`)) {
            throw new EhmiError(
              'EHMI_NOT_SUPPORTED',
              `entry ${index}: EDS takes POST AuditEvent in a batch, not ${String(req.method)} ${String(req.url)}`,
              { expression: [`Bundle.entry[${index}].request`] },
            );
          }
          const resource = entry.resource as Json | undefined;
          if (resource === null || typeof resource !== 'object' || resource.resourceType !== 'AuditEvent') {
            throw new EhmiError(
              'EHMI_INPUT_UNREADABLE',
              `entry ${index}: the resource is not an AuditEvent`,
              {
                expression: [`Bundle.entry[${index}].resource`],
              },
            );
          }
          const patient = patientOf(resource);
          if (patient) patients.add(patient);
          const shape = admit(viewer, resource);
          const match =
            typeof req.ifNoneExist === 'string' ? await conditionalMatch(req.ifNoneExist, viewer) : undefined;
          if (match) answers[index] = entryAnswer(200, match);
          else toStore.push({ index, event: resource, shape });
        } catch (error) {
          answers[index] = entryError(request, error);
        }
      }
      noteAudit(request, {
        operation: 'batch',
        resource: 'AuditEvent',
        ...(patients.size > 0 ? { patient: [...patients].join(',') } : {}),
      });
      const results =
        toStore.length > 0
          ? await o.repository.createMany(
              toStore.map((t) => t.event),
              toStore.map((t) => t.shape),
            )
          : [];
      const minimal = prefersMinimal(request);
      results.forEach(({ stored, created }, i) => {
        if (created) o.onCreated?.();
        answers[toStore[i]!.index] = entryAnswer(created ? 201 : 200, stored, minimal);
      });
      return send(request, reply, 200, {
        resourceType: 'Bundle',
        type: 'batch-response',
        ...(answers.length > 0 ? { entry: answers } : {}),
      });
    }),
  );

  app.post<Route>(
    '/AuditEvent',
    {
      schema: {
        summary:
          'Register a delivery status event (EdsBasicDeliveryStatus or EdsPatientDeliveryStatus). The same event ' +
          'again is stored once: 200 with the stored one. If-None-Exist: conditional create.',
        querystring: formatQuery,
        requestBody: {
          required: true,
          content: {
            'application/fhir+json': { schema: { type: 'object' } },
            'application/fhir+xml': { schema: { type: 'string' } },
          },
        },
        responses: {
          '200': fhir('Already registered (the same event, or If-None-Exist matched): the stored event'),
          '201': fhir('Registered; Location names AuditEvent/<id>/_history/1'),
          '400': err('Unreadable body, or not an AuditEvent'),
          '403': err('Not an event of the organisation or device of the access token'),
          '412': err('If-None-Exist matches more than one event'),
          '422': err('Fails its EDS profile; nothing stored'),
        },
      },
    },
    handle(async (request, reply) => {
      const event = readBody(request);
      const viewer = o.viewer(request);
      const patient = patientOf(event);
      noteAudit(request, { operation: 'create', resource: 'AuditEvent', ...(patient ? { patient } : {}) });
      const shape = admit(viewer, event);
      const condition = request.headers['if-none-exist'];
      const match = typeof condition === 'string' ? await conditionalMatch(condition, viewer) : undefined;
      if (match) return answerStored(request, reply, match, 200);
      const { stored, created } = await o.repository.create(event, shape);
      noteAudit(request, { resource: `AuditEvent/${stored.id}` });
      if (created) o.onCreated?.();
      return answerStored(request, reply, stored, created ? 201 : 200);
    }),
  );

  app.get<Route>(
    '/AuditEvent/:id',
    {
      schema: {
        summary: 'Read an event (one of a message the caller took part in)',
        params: idParam,
        querystring: formatQuery,
        responses: { '200': fhir('The event'), '404': err('Not known (or not the caller’s)') },
      },
    },
    handle(async (request, reply) => {
      const { id } = request.params;
      noteAudit(request, { operation: 'read', resource: `AuditEvent/${id}` });
      const e = ID_RE.test(id) ? await o.repository.read(id, o.viewer(request)) : undefined;
      if (!e) throw new EhmiError('EHMI_NOT_FOUND', `AuditEvent/${id} is not known`);
      const patient = mayReadPatientData(request.access) ? patientOf(e.resource) : undefined;
      if (patient) noteAudit(request, { patient });
      versionHeaders(reply, e);
      return send(request, reply, 200, forViewer(request, e.resource));
    }),
  );

  app.get<Route>(
    '/AuditEvent/:id/_history/:vid',
    {
      schema: {
        summary: 'Read the one version of an event (vread of version 1)',
        params: {
          type: 'object',
          required: ['id', 'vid'],
          properties: { id: { type: 'string' }, vid: { type: 'string' } },
        },
        querystring: formatQuery,
        responses: { '200': fhir('The event'), '404': err('Not known, or no such version') },
      },
    },
    handle(async (request, reply) => {
      const { id, vid } = request.params as { id: string; vid: string };
      noteAudit(request, { operation: 'vread', resource: `AuditEvent/${id}` });
      const e = ID_RE.test(id) && vid === '1' ? await o.repository.read(id, o.viewer(request)) : undefined;
      if (!e) throw new EhmiError('EHMI_NOT_FOUND', `AuditEvent/${id}/_history/${vid} is not known`);
      versionHeaders(reply, e);
      return send(request, reply, 200, forViewer(request, e.resource));
    }),
  );

  app.get<Route>(
    '/AuditEvent',
    {
      schema: {
        summary: 'Search events: a searchset Bundle with total, paged by _count and _offset',
        querystring: searchQuery,
        responses: { '200': fhir('searchset Bundle'), '400': err('An unknown or bad search parameter') },
      },
    },
    handle(async (request, reply) => {
      const req = parseSearch(request.query, o.search);
      const cpr = req.criteria.find((c) => c.code === 'cpr');
      // A search by patient is patient data: a person (a console user) searches by CPR only with `patient-data`.
      if (cpr && !mayReadPatientData(request.access)) {
        throw new EhmiError('EHMI_FORBIDDEN', 'a search by patient needs the patient-data entitlement');
      }
      // A search by CPR is person-specific: flagged for MinLog reporting.
      noteAudit(request, {
        operation: 'search-type',
        resource: 'AuditEvent',
        ...(cpr ? { patient: cpr.values.join(','), minlog: true } : {}),
      });
      const result = await runSearch(o.store.db, req, o.viewer(request));
      const base = o.baseUrl();
      const self = new URL(`${base}${request.url}`);
      const page = (offset: number) => {
        const u = new URL(self);
        u.searchParams.set('_offset', String(offset));
        u.searchParams.set('_count', String(req.count));
        return u.toString();
      };
      const link = [{ relation: 'self', url: self.toString() }];
      if (!req.summaryCount && req.count > 0) {
        if (req.offset + result.matches.length < result.total) {
          link.push({ relation: 'next', url: page(req.offset + result.matches.length) });
        }
        if (req.offset > 0)
          link.push({ relation: 'previous', url: page(Math.max(0, req.offset - req.count)) });
      }
      const bundle = { resourceType: 'Bundle', type: 'searchset', total: result.total, link };
      const fullUrl = (id: string) => `${base}/AuditEvent/${id}`;
      const redact = !mayReadPatientData(request.access);
      if (!wantsXml(request) && result.matches.length > 0 && !redact) {
        // JSON: the stored events go into the Bundle as the text they are, not parsed and written again.
        const head = JSON.stringify(bundle).slice(0, -1);
        const entries = result.matches.map(
          (m) =>
            `{"fullUrl":${JSON.stringify(fullUrl(m.id))},"resource":${m.content},"search":{"mode":"match"}}`,
        );
        return reply
          .status(200)
          .type(FHIR_JSON)
          .send(`${head},"entry":[${entries.join(',')}]}`);
      }
      const entry = result.matches.map((m) => ({
        fullUrl: fullUrl(m.id),
        resource: forViewer(request, JSON.parse(m.content) as Json),
        search: { mode: 'match' },
      }));
      // An empty result has no `entry` (FHIR JSON has no empty arrays, json.html §2.6.2).
      return send(request, reply, 200, { ...bundle, ...(entry.length > 0 ? { entry } : {}) });
    }),
  );

  // EDS keeps what happened: no update, patch or delete of an event (the CapabilityStatement lists none).
  const notAllowed = handle(async (request, reply) => {
    reply.header('allow', request.routeOptions.url === '/AuditEvent' ? 'GET, POST' : 'GET');
    const message = `${request.method} is not allowed: EDS registers AuditEvents once and never changes or deletes them (read, search and create only)`;
    return send(request, reply, 405, {
      resourceType: 'OperationOutcome',
      issue: [{ severity: 'error', code: 'not-supported', diagnostics: message, details: { text: message } }],
    });
  });
  for (const url of ['/AuditEvent', '/AuditEvent/:id']) {
    app.route<Route>({
      method: ['PUT', 'PATCH', 'DELETE'],
      url,
      schema: {
        summary: 'Not allowed: events are never changed or deleted (405)',
        ...(url.endsWith(':id') ? { params: idParam } : {}),
        querystring: { type: 'object' },
        responses: { '405': err('Method not allowed') },
      },
      handler: notAllowed,
    });
  }
}

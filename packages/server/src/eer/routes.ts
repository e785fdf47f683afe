import { EhmiError } from '@ehmi/errors';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { insufficientScope } from '../authz.ts';
import {
  addFhirContentTypes,
  fhirErrorResponse,
  fhirHandler,
  fhirResponse,
  prefersMinimal,
  sendFhir as send,
} from '../http/fhir-rest.ts';
import { noteAudit } from '../http/index.ts';
import { readScopes, writeScope } from './access.ts';
import { capabilityStatement } from './capability.ts';
import { checkOwnWrite, type OwnedWrite } from './ownership.ts';
import { type EerType, type EerValidator, isEerType } from './profiles.ts';
import { publicationParameters, publicationStatesOf } from './publication-status.ts';
import { deletedOutcome, type EerRepository, ID_RE, type Json, type StoredVersion } from './repository.ts';
import { parseSearch, runSearch } from './search.ts';
import type { EerStore } from './tables.ts';
import { processTransaction } from './transaction.ts';

export interface RouteOptions {
  /**
   * Access tokens are required: a transaction needs the write scope of every type it writes, a search the read
   * scope of every type it includes.
   */
  checkScopes?: boolean;
  repository: EerRepository;
  validator: EerValidator;
  store: EerStore;
  baseUrl: () => string;
  search: { defaultCount: number; maxCount: number };
  /** After a write has committed (wakes the propagation worker). */
  afterWrite: () => void;
}

type Params = { type: string; id: string; vid: string };

const err = fhirErrorResponse;
const fhir = fhirResponse;
const fhirBody = {
  required: true,
  content: {
    'application/fhir+json': { schema: { type: 'object' } },
    'application/fhir+xml': { schema: { type: 'string' } },
  },
};
const FORMAT = {
  _format: { type: 'string', description: 'json or xml (FHIR R4 http.html §3.1.0.1.6); wins over Accept' },
};
const formatQuery = { type: 'object', properties: FORMAT };
const typeParam = {
  type: 'string',
  description: 'Organization, Endpoint or Device (another type: 404)',
};
const params = (...names: ('type' | 'id' | 'vid')[]) => ({
  type: 'object',
  required: names,
  properties: Object.fromEntries(
    names.map((n) => [
      n,
      n === 'type' ? typeParam : { type: 'string', description: n === 'id' ? 'Logical id' : 'versionId' },
    ]),
  ),
});
const COUNT = {
  type: 'string',
  pattern: '^\\d{1,9}$',
  description: 'Page size (capped by eer.search.maxCount)',
};
const searchQuery = {
  type: 'object',
  description: 'Search parameters of the type (search-params.ts); an unknown one is refused with 400',
  properties: {
    ...FORMAT,
    _id: { type: 'string', description: 'Comma-separated logical ids' },
    _count: COUNT,
    _offset: { type: 'string', pattern: '^\\d{1,9}$', description: 'Matches to skip (paging)' },
    _summary: { type: 'string', description: "'count' (only the total) or 'false'" },
    _include: { description: 'Type:searchParam[:target], repeatable' },
    _revinclude: { description: 'Type:searchParam[:target], repeatable' },
  },
};
type Query = Record<string, string | string[] | undefined>;
/** What the route schemas let through to a handler (the params a route has not are absent). */
type Route = { Params: Params; Querystring: Query };

function eerType(type: string): EerType {
  if (!isEerType(type)) {
    throw new EhmiError('EHMI_NOT_FOUND', `EER serves Organization, Endpoint and Device, not '${type}'`);
  }
  return type;
}

function body(request: FastifyRequest, type: EerType): Json {
  const b = request.body;
  if (b === null || typeof b !== 'object' || Array.isArray(b)) {
    throw new EhmiError('EHMI_INPUT_UNREADABLE', 'the request body is not a FHIR resource (a JSON object)');
  }
  const resource = b as Json;
  if (resource.resourceType !== type) {
    throw new EhmiError(
      'EHMI_INPUT_UNREADABLE',
      `the body is a ${typeof resource.resourceType === 'string' ? resource.resourceType : 'resource without resourceType'}, the URL names ${type}`,
      { expression: ['resourceType'] },
    );
  }
  return resource;
}

/** `W/"3"`, `"3"` or `3` (FHIR R4 http.html §3.1.0.6 version-aware updates). */
function parseIfMatch(header: string | undefined): number | undefined {
  if (header === undefined) return undefined;
  const m = /^\s*(?:W\/)?"?(\d{1,9})"?\s*$/.exec(header);
  if (!m) throw new EhmiError('EHMI_INPUT_UNREADABLE', `If-Match ${header}: expected W/"<versionId>"`);
  return Number(m[1]);
}

function versionHeaders(reply: FastifyReply, v: StoredVersion): void {
  reply.header('etag', `W/"${v.versionId}"`);
  reply.header('last-modified', new Date(v.lastUpdated).toUTCString());
}

/** The FHIR REST interactions of EER (FHIR R4 http.html §3.1.0). */
export function registerRoutes(app: FastifyInstance, o: RouteOptions): void {
  addFhirContentTypes(app);

  /** An organisation's own client writes only its own organisation's resources (ownership.ts). */
  const own = (request: FastifyRequest, write: OwnedWrite, pending?: ReadonlyMap<string, Json>) =>
    checkOwnWrite(request.access, write, {
      db: o.store.db,
      base: o.baseUrl() || undefined,
      ...(pending ? { pending } : {}),
    });
  const write = async (
    request: FastifyRequest,
    reply: FastifyReply,
    type: EerType,
    resource: Json,
    run: () => Promise<{ version: StoredVersion; created: boolean }>,
    id?: string,
  ) => {
    await own(request, { type, id: id ?? '', after: resource });
    const result = o.validator.validate(type, resource);
    if (!result.ok) {
      // ehmi-core §4: a write that fails the EER profile is bad input → 422 with the OperationOutcome.
      throw new EhmiError('EHMI_VALIDATION_FAILED', `the ${type} does not conform to its EER profile`, {
        details: { outcome: result.outcome },
      });
    }
    const { version, created } = await run();
    o.afterWrite();
    versionHeaders(reply, version);
    const location = `${o.baseUrl()}/${type}/${version.id}/_history/${version.versionId}`;
    if (created) reply.header('location', location);
    else reply.header('content-location', location);
    return send(request, reply, created ? 201 : 200, prefersMinimal(request) ? undefined : version.resource);
  };

  const handle = fhirHandler<Route>;

  app.get<Route>(
    '/metadata',
    {
      schema: {
        summary: 'CapabilityStatement of the EER',
        querystring: formatQuery,
        responses: { '200': fhir('CapabilityStatement') },
      },
    },
    handle(async (request, reply) =>
      send(request, reply, 200, capabilityStatement(o.baseUrl(), new Date().toISOString())),
    ),
  );

  app.post<Route>(
    '/',
    {
      schema: {
        summary: 'Transaction or batch Bundle (FHIR R4 http.html §3.1.0.11)',
        querystring: formatQuery,
        requestBody: fhirBody,
        responses: {
          '200': fhir('transaction-response or batch-response Bundle'),
          '400': err('Not a Bundle, or a bad entry'),
          '422': err('An entry fails its EER profile'),
        },
      },
    },
    handle(async (request, reply) => {
      const b = request.body;
      if (b === null || typeof b !== 'object' || Array.isArray(b)) {
        throw new EhmiError('EHMI_INPUT_UNREADABLE', 'the request body is not a FHIR Bundle');
      }
      // The audit record names the interaction (the URL `/` does not say which).
      noteAudit(request, {
        operation: (b as Json).type === 'batch' ? 'batch' : 'transaction',
        resource: 'Bundle',
      });
      const { response, writes } = await processTransaction(b as Json, {
        repository: o.repository,
        validator: o.validator,
        baseUrl: o.baseUrl(),
        minimal: prefersMinimal(request),
        authorizeEntry: (entry, pending) =>
          own(request, { type: entry.type, id: entry.id, after: entry.resource }, pending),
        ...(o.checkScopes
          ? {
              authorize: (types: readonly EerType[]) => {
                const missing = types.map(writeScope).filter((s) => !request.access?.scopes.has(s));
                if (missing.length > 0) {
                  throw insufficientScope(
                    reply,
                    missing,
                    `the access token does not grant the scopes this transaction needs (${missing.join(' and ')})`,
                  );
                }
              },
            }
          : {}),
      });
      if (writes > 0) o.afterWrite();
      return send(request, reply, 200, response);
    }),
  );

  app.post<Route>(
    '/:type',
    {
      schema: {
        summary: 'Create a resource (the server assigns its id)',
        params: params('type'),
        querystring: formatQuery,
        requestBody: fhirBody,
        responses: {
          '201': fhir('Created; Location names the new version'),
          '400': err('Unreadable body, or a resourceType other than the URL'),
          '404': err('Not a type the EER serves'),
          '422': err('Fails its EER profile'),
        },
      },
    },
    handle(async (request, reply) => {
      const type = eerType(request.params.type);
      const { id: _ignored, ...resource } = body(request, type);
      // R4 http.html §3.1.0.7 create: "the server SHALL ignore" an id in the body and assign its own.
      return write(request, reply, type, { resourceType: type, ...resource }, async () => ({
        version: await o.repository.create(type, resource),
        created: true,
      }));
    }),
  );

  app.put<Route>(
    '/:type/:id',
    {
      schema: {
        summary: 'Update (or create with this id); If-Match for a version-aware update',
        params: params('type', 'id'),
        querystring: formatQuery,
        requestBody: fhirBody,
        responses: {
          '200': fhir('Updated'),
          '201': fhir('Created'),
          '400': err('Bad id, unreadable body, or an id other than the URL'),
          '404': err('Not a type the EER serves'),
          '412': err('If-Match is not the current version'),
          '422': err('Fails its EER profile'),
        },
      },
    },
    handle(async (request, reply) => {
      const { type: t, id } = request.params;
      const type = eerType(t);
      if (!ID_RE.test(id)) throw new EhmiError('EHMI_INPUT_UNREADABLE', `'${id}' is not a FHIR id`);
      const resource = body(request, type);
      // R4 http.html §3.1.0.4: no id, or one that disagrees with the URL → 400.
      if (resource.id !== id) {
        throw new EhmiError(
          'EHMI_INPUT_UNREADABLE',
          `the body's id (${String(resource.id)}) is not the URL's id (${id})`,
          {
            expression: [`${type}.id`],
          },
        );
      }
      const ifMatch = parseIfMatch(request.headers['if-match'] as string | undefined);
      return write(
        request,
        reply,
        type,
        resource,
        () => o.repository.update(type, id, resource, ifMatch),
        id,
      );
    }),
  );

  const readCurrent = async (type: EerType, id: string) => {
    const v = await o.repository.read(type, id);
    if (!v) throw new EhmiError('EHMI_NOT_FOUND', `${type}/${id} is not known`);
    if (v.deleted) throw new EhmiError('EHMI_GONE', `${type}/${id} was deleted (version ${v.versionId})`);
    return v;
  };

  app.get<Route>(
    '/:type/:id',
    {
      schema: {
        summary: 'Read the current version',
        params: params('type', 'id'),
        querystring: formatQuery,
        responses: {
          '200': fhir('The resource (ETag, Last-Modified)'),
          '404': err('Not known'),
          '410': err('Deleted'),
        },
      },
    },
    handle(async (request, reply) => {
      const { type: t, id } = request.params;
      const v = await readCurrent(eerType(t), id);
      versionHeaders(reply, v);
      return send(request, reply, 200, v.resource);
    }),
  );

  /**
   * A delete is answered 200 with an OperationOutcome saying what was deleted (R4 http.html §3.1.0.7: "200 OK if
   * the response contains a payload"; MedCom's EER TestScripts, AEER1–4, assert 200 on delete).
   */
  const deleted = (request: FastifyRequest, reply: FastifyReply, v: StoredVersion) => {
    o.afterWrite();
    reply.header('etag', `W/"${v.versionId}"`);
    return send(request, reply, 200, deletedOutcome(v));
  };

  app.delete<Route>(
    '/:type/:id',
    {
      schema: {
        summary: 'Delete (a new version that is the deletion)',
        params: params('type', 'id'),
        querystring: formatQuery,
        responses: { '200': err('Deleted: an OperationOutcome saying so'), '404': err('Not known') },
      },
    },
    handle(async (request, reply) => {
      const { type: t, id } = request.params;
      const type = eerType(t);
      await own(request, { type, id, after: undefined });
      const v = await o.repository.delete(type, id);
      if (!v) throw new EhmiError('EHMI_NOT_FOUND', `${type}/${id} is not known`);
      return deleted(request, reply, v);
    }),
  );

  app.delete<Route>(
    '/:type',
    {
      schema: {
        summary:
          'Conditional delete: the one resource the search parameters match (e.g. identifier=system|value)',
        params: params('type'),
        querystring: searchQuery,
        responses: {
          '200': err('Deleted, or nothing matched: an OperationOutcome saying which'),
          '400': err('No search parameter, or an unknown one'),
          '404': err('Not a type the EER serves'),
          '412': err('The parameters match more than one resource'),
        },
      },
    },
    handle(async (request, reply) => {
      const type = eerType(request.params.type);
      const req = parseSearch(type, request.query, o.search);
      if (req.criteria.length === 0 && !req.ids) {
        throw new EhmiError(
          'EHMI_USAGE',
          `a conditional delete needs search parameters (DELETE /${type}?identifier=system|value)`,
        );
      }
      const criteria = new URL(`${o.baseUrl()}${request.url}`).search.slice(1);
      const base = o.baseUrl();
      const v = await o.repository.deleteWhere(
        type,
        async (db) => {
          // Up to six ids: enough to name a few in the 412.
          const one = { ...req, count: 6, offset: 0, summaryCount: false, include: [], revinclude: [] };
          return (await runSearch(db, type, one, base)).matches.map((m) => m.id);
        },
        criteria,
      );
      if (v) return deleted(request, reply, v);
      // R4 http.html §3.1.0.7.1: no match is an ordinary delete of nothing (200), said in the outcome.
      const message = `no ${type} matches ${criteria}: nothing deleted`;
      return send(request, reply, 200, {
        resourceType: 'OperationOutcome',
        issue: [
          { severity: 'information', code: 'not-found', diagnostics: message, details: { text: message } },
        ],
      });
    }),
  );

  app.get<Route>(
    '/:type/:id/$publication-status',
    {
      schema: {
        summary:
          'Where publishing the resource to the SMP and EAS stands: a Parameters resource with one `publication` ' +
          '(organization, target, status pending/published/failed, requested, attempted, published, failures, ' +
          'retrying, reason) per organisation and target',
        params: params('type', 'id'),
        querystring: formatQuery,
        responses: { '200': fhir('Parameters'), '404': err('Not known') },
      },
    },
    handle(async (request, reply) => {
      const { type: t, id } = request.params;
      const type = eerType(t);
      // An operation rather than an element of the resource: the state changes without a new version (the SMP
      // fails after the write committed), and a client that reads, edits and PUTs a resource would write it back.
      const states = await publicationStatesOf(o.repository, o.store.db, type, id, o.baseUrl() || undefined);
      if (!states) throw new EhmiError('EHMI_NOT_FOUND', `${type}/${id} is not known`);
      return send(request, reply, 200, publicationParameters(states));
    }),
  );

  app.get<Route>(
    '/:type/:id/_history/:vid',
    {
      schema: {
        summary: 'Read one version (vread)',
        params: params('type', 'id', 'vid'),
        querystring: formatQuery,
        responses: {
          '200': fhir('That version'),
          '404': err('No such version'),
          '410': err('That version is the deletion'),
        },
      },
    },
    handle(async (request, reply) => {
      const { type: t, id, vid } = request.params;
      const type = eerType(t);
      if (!/^\d{1,9}$/.test(vid))
        throw new EhmiError('EHMI_NOT_FOUND', `${type}/${id} has no version '${vid}'`);
      const v = await o.repository.vread(type, id, Number(vid));
      if (!v) throw new EhmiError('EHMI_NOT_FOUND', `${type}/${id} has no version ${vid}`);
      if (v.deleted) throw new EhmiError('EHMI_GONE', `version ${vid} of ${type}/${id} is its deletion`);
      versionHeaders(reply, v);
      return send(request, reply, 200, v.resource);
    }),
  );

  app.get<Route>(
    '/:type/:id/_history',
    {
      schema: {
        summary: 'History of a resource: a history Bundle, newest first',
        params: params('type', 'id'),
        querystring: formatQuery,
        responses: { '200': fhir('history Bundle'), '404': err('Not known') },
      },
    },
    handle(async (request, reply) => {
      const { type: t, id } = request.params;
      const type = eerType(t);
      const versions = await o.repository.history(type, id);
      if (versions.length === 0) throw new EhmiError('EHMI_NOT_FOUND', `${type}/${id} is not known`);
      const base = o.baseUrl();
      // R4 http.html §3.1.0.12: a Bundle of type history, newest first, deletions as entries without a resource.
      return send(request, reply, 200, {
        resourceType: 'Bundle',
        type: 'history',
        total: versions.length,
        link: [{ relation: 'self', url: `${base}/${type}/${id}/_history` }],
        entry: versions.map((v) => ({
          fullUrl: `${base}/${type}/${id}`,
          ...(v.resource ? { resource: v.resource } : {}),
          request: { method: v.method, url: v.method === 'POST' ? type : `${type}/${id}` },
          response: {
            status: v.method === 'DELETE' ? '200' : v.versionId === 1 || v.method === 'POST' ? '201' : '200',
            etag: `W/"${v.versionId}"`,
            lastModified: new Date(v.lastUpdated).toISOString(),
          },
        })),
      });
    }),
  );

  app.get<Route>(
    '/:type',
    {
      schema: {
        summary: 'Search: a searchset Bundle with total, paged by _count and _offset',
        params: params('type'),
        querystring: searchQuery,
        responses: {
          '200': fhir('searchset Bundle'),
          '400': err('An unknown or bad search parameter'),
          '404': err('Not a type the EER serves'),
        },
      },
    },
    handle(async (request, reply) => {
      const type = eerType(request.params.type);
      const query = request.query;
      const req = parseSearch(type, query, o.search);
      const base = o.baseUrl();
      const result = await runSearch(o.store.db, type, req, base);
      if (o.checkScopes) {
        // _include and _revinclude hand out resources of other types: the token must read those too.
        const unreadable = [...new Set(result.included.map((m) => m.type))].filter(
          (t) => !readScopes(t).some((s) => request.access?.scopes.has(s)),
        );
        if (unreadable.length > 0) {
          throw insufficientScope(
            reply,
            unreadable.map((t) => readScopes(t)[0]!),
            `the search includes ${unreadable.join(' and ')} resources, which the access token does not grant reading`,
          );
        }
      }
      const self = new URL(`${base}${request.url}`);
      const link = [{ relation: 'self', url: self.toString() }];
      if (!req.summaryCount && req.offset + result.matches.length < result.total) {
        const next = new URL(self);
        next.searchParams.set('_offset', String(req.offset + result.matches.length));
        next.searchParams.set('_count', String(req.count));
        link.push({ relation: 'next', url: next.toString() });
      }
      const entry = [
        ...result.matches.map((m) => ({
          fullUrl: `${base}/${m.type}/${m.id}`,
          resource: m.resource,
          search: { mode: 'match' },
        })),
        ...result.included.map((m) => ({
          fullUrl: `${base}/${m.type}/${m.id}`,
          resource: m.resource,
          search: { mode: 'include' },
        })),
      ];
      // R4 search.html §3.1.1.2: a searchset Bundle with total; included resources have search.mode include.
      // An empty result has no `entry` (FHIR JSON has no empty arrays, json.html §2.6.2).
      return send(request, reply, 200, {
        resourceType: 'Bundle',
        type: 'searchset',
        total: result.total,
        link,
        ...(entry.length > 0 ? { entry } : {}),
      });
    }),
  );
}

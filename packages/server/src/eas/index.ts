import { EhmiError } from '@ehmi/errors';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { insufficientScope } from '../authz.ts';
import { createHttpServer, FHIR_JSON, listen, noteAudit, timeoutsOf } from '../http/index.ts';
import { METRICS_SCOPE, metricsAccess } from '../metrics-access.ts';
import { OPEN_PATHS, protectResourceServer } from '../resource-server.ts';
import type { Role, RoleContext } from '../roles.ts';
import { serveSmartConfiguration } from '../smart-configuration.ts';
import { EAS_ADMIN_SCOPE, EAS_ORGANIZATION_SCOPE, EAS_PATIENT_SCOPE, PATIENT_OPERATIONS } from './access.ts';
import { adminRoutes } from './admin.ts';
import type { EasConfig } from './config.ts';
import type { Json } from './fhir.ts';
import { cprOf, EasLookup } from './lookup.ts';
import {
  easOperations,
  inputFromParameters,
  inputFromQuery,
  type OperationDefinition,
  type OperationInput,
} from './operations.ts';
import { type PatientGpRegistry, TablePatientGpRegistry } from './registry.ts';
import { easOpenApi, schemas } from './schemas.ts';
import { EasIndex } from './store.ts';
import type { EasTables } from './tables.ts';

export { EAS_ADMIN_SCOPE, EAS_ORGANIZATION_SCOPE, EAS_PATIENT_SCOPE } from './access.ts';
export type { EasConfig } from './config.ts';
export { normaliseCpr } from './cpr.ts';
export { endpointActive, endpointReceives, sameMessageType } from './lookup.ts';
export { easOperation, easOperations } from './operations.ts';
export type { GpReference, PatientGpRegistry } from './registry.ts';
export { TablePatientGpRegistry } from './registry.ts';
export { EasIndex, type EerFeed, indexKeys, isGpPractice } from './store.ts';

export interface EasDeps {
  /** Where CPR → GP comes from; default the local table `eas_patient_gp` (a national registry in production). */
  registry?: PatientGpRegistry;
  /** Clock (endpoint periods, timestamps); tests fix it. */
  now?: () => number;
}

export interface EasRole extends Role {
  /** EAS's own index of what EER propagated. */
  readonly index: EasIndex;
  /** The local CPR → GP table (seeded from `eas.patients` and `PUT /admin/patients/{cpr}`). */
  readonly patients: TablePatientGpRegistry;
}

/**
 * The EHMI Addressing Service (ehmi-core §5; EAS IG 2.0.0): the four type-level Organization operations, GET (primitive
 * parameters only) and POST with Parameters, over EAS's own persisted index that EER feeds through the admin API.
 *
 * @example
 * const eas = await createEasRole(ctx);
 * await eas.start();
 * await fetch(`${eas.url}/Organization/$getReceivingOrganizationBySORId?sorId=1053851000016007`);
 */
export async function createEasRole(
  ctx: RoleContext<EasConfig, EasTables>,
  deps: EasDeps = {},
): Promise<EasRole> {
  const cfg = ctx.config;
  const now = deps.now ?? Date.now;
  const index = new EasIndex(ctx.store, now);
  const patients = new TablePatientGpRegistry(ctx.store, now);
  let url = '';
  const base = () => (cfg.publicUrl ?? url).replace(/\/+$/, '');
  const lookup = new EasLookup({ index, registry: deps.registry ?? patients, now, base });
  const started = new Date(now()).toISOString();
  const isPatientOperation = (request: FastifyRequest) =>
    request.routeOptions.url === '/Organization/:operation' &&
    PATIENT_OPERATIONS.has(String((request.params as { operation?: string }).operation).replace(/^\$/, ''));
  // mTLS and an access token for EAS (the node's `authorization`; only the `insecure` switch serves without). The
  // organisation lookups need `system/Organization.rs` here; a lookup by CPR needs a valid token here, and its scope
  // is checked by the route, once the body has named the patient, so that the refusal is audited with the CPR. The
  // admin API (EER's feed) needs `eas/index.write`.
  const audience = () => [...new Set([url, base()].filter(Boolean))];
  const protection = protectResourceServer(ctx, {
    role: 'eas',
    audience,
    scope: (request) => {
      if (request.routeOptions.url?.startsWith('/admin/')) return EAS_ADMIN_SCOPE;
      if (request.routeOptions.url !== '/Organization/:operation') return undefined;
      return isPatientOperation(request) ? undefined : EAS_ORGANIZATION_SCOPE;
    },
    open: new Set([...OPEN_PATHS, '/metadata']),
  });
  // Without tokens (insecure development only) the admin API keeps its static bearer token; with them, none is taken.
  const adminToken = protection.hook ? undefined : cfg.adminToken;
  if (!protection.hook && !adminToken) {
    throw new EhmiError(
      'EHMI_CONFIG_INVALID',
      'eas.adminToken: without authorization the eas role needs a token (16+ characters) for the admin API EER feeds it through',
    );
  }
  if (protection.hook && cfg.adminToken) {
    ctx.logger.warn(
      { role: 'eas' },
      'eas.adminToken is not used: the admin API takes access tokens (eas/index.write) of the node authorization server',
    );
  }
  const metrics = metricsAccess(ctx, {
    service: 'eas',
    audience,
    anchorsKey: 'tls.ca',
    verifier: protection.verifier,
  });

  const app = await createHttpServer({
    service: 'eas',
    audit: ctx.audit,
    logger: ctx.logger,
    bodyLimitBytes: ctx.node.http.bodyLimitBytes,
    timeouts: timeoutsOf(ctx.node.http),
    openapi: easOpenApi,
    readiness: () => ctx.store.ping(),
    metricsAccess: metrics.hook,
    ...(protection.tls ? { tls: protection.tls } : {}),
  });
  if (ctx.node.authorization) {
    serveSmartConfiguration(app, {
      metadata: async () => protection.verifier()?.metadata(),
      scopes: [EAS_ORGANIZATION_SCOPE, EAS_PATIENT_SCOPE, METRICS_SCOPE],
    });
  }
  const { hook } = protection;
  if (hook) {
    app.addHook('onRequest', async (request, reply) => {
      // A lookup by CPR is person-specific whatever becomes of it: its record is flagged for MinLog and written
      // before the answer, also when the hook refuses it (its body, the CPR, is not read for a refused caller).
      if (isPatientOperation(request)) noteAudit(request, { minlog: true });
      await hook(request, reply);
    });
  }
  app.addContentTypeParser(
    'application/fhir+json',
    { parseAs: 'string' },
    app.getDefaultJsonParser('error', 'error'),
  );

  const handlers: Record<string, (input: OperationInput) => Promise<Json>> = {
    getReceivingOrganizationBySORId: (i) => lookup.bySorId(i),
    getReceivingOrganizationByGPId: (i) => lookup.byGpId(i),
    getReceivingOrganizationByPatientId: (i) => lookup.byPatient(i),
    getListOfGpByPostalCode: (i) => lookup.gpsByPostalCode(i),
  };
  const send = (reply: FastifyReply, resource: Json) => reply.type(FHIR_JSON).send(resource);
  for (const op of easOperations()) {
    if (!handlers[op.code]) throw new Error(`no handler for $${op.code}`);
  }
  // One parametrised route, so `$` may also arrive percent-encoded (`%24`, as some clients write it): route
  // parameters are decoded, static path segments are not.
  const operation = (
    raw: string,
  ): { op: OperationDefinition; handler: (i: OperationInput) => Promise<Json> } => {
    const op = raw.startsWith('$') ? easOperations().find((o) => o.code === raw.slice(1)) : undefined;
    if (!op)
      throw new EhmiError(
        'EHMI_NOT_FOUND',
        `no operation Organization/${raw} (EAS serves ${easOperations()
          .map((o) => `$${o.code}`)
          .join(', ')})`,
      );
    return { op, handler: handlers[op.code]! };
  };
  app.get<{ Params: { operation: string }; Querystring: Record<string, string | string[]> }>(
    '/Organization/:operation',
    { schema: schemas.operationGet },
    async (request, reply) => {
      const { op, handler } = operation(request.params.operation);
      return send(reply, await handler(inputFromQuery(op, request.query)));
    },
  );
  app.post<{ Params: { operation: string } }>(
    '/Organization/:operation',
    { schema: schemas.operationPost },
    async (request, reply) => {
      const { op, handler } = operation(request.params.operation);
      if (!PATIENT_OPERATIONS.has(op.code)) {
        return send(reply, await handler(inputFromParameters(op, request.body)));
      }
      return personLookup(request, reply, op, handler);
    },
  );

  /**
   * A lookup by CPR: the scope of its own, and the patient in the call's audit record (flagged for MinLog, written
   * before the answer leaves, `src/audit/`) whatever the outcome: found, not found, refused or failed.
   */
  const personLookup = async (
    request: FastifyRequest,
    reply: FastifyReply,
    op: OperationDefinition,
    handler: (i: OperationInput) => Promise<Json>,
  ) => {
    noteAudit(request, { minlog: true, operation: `$${op.code}` });
    let input: OperationInput | undefined;
    let unreadable: unknown;
    try {
      input = inputFromParameters(op, request.body);
      const p = input.get('easCorePatient')![0]!;
      noteAudit(request, { patient: cprOf(p.value as Json, p.expression) });
    } catch (err) {
      unreadable = err;
    }
    if (hook && !request.access?.scopes.has(EAS_PATIENT_SCOPE)) {
      throw insufficientScope(
        reply,
        [EAS_PATIENT_SCOPE],
        `the access token does not grant the scope a lookup by CPR needs (${EAS_PATIENT_SCOPE})`,
      );
    }
    if (unreadable !== undefined) throw unreadable;
    return send(reply, await handler(input!));
  };

  app.get('/metadata', { schema: schemas.metadata }, async (_request, reply) =>
    send(reply, capabilityStatement(base(), started)),
  );
  app.get<{ Params: { id: string } }>(
    '/OperationDefinition/:id',
    { schema: schemas.operationDefinition },
    async (request, reply) => {
      const op = easOperations().find((o) => o.id === request.params.id);
      if (!op) throw new EhmiError('EHMI_NOT_FOUND', `no OperationDefinition/${request.params.id}`);
      return send(reply, op.resource);
    },
  );

  await app.register(adminRoutes, { ...(adminToken ? { token: adminToken } : {}), index, patients });

  return {
    name: 'eas',
    app,
    index,
    patients,
    get url() {
      return url;
    },
    async start() {
      for (const p of cfg.patients) {
        const { cpr, ...gp } = p;
        await patients.put(cpr, gp);
      }
      url = await listen(app, { host: cfg.host, port: cfg.port, https: !!ctx.tls });
      ctx.logger.info({ url, patients: cfg.patients.length }, 'eas started');
    },
    async close() {
      await app.close();
      await protection.close();
      await metrics.close();
    },
  };
}

/** The CapabilityStatement of this EAS server: Organization with the four EAS operations (the IG defines none). */
function capabilityStatement(base: string, date: string): Json {
  return {
    resourceType: 'CapabilityStatement',
    status: 'active',
    date,
    publisher: 'ehmi-node',
    kind: 'instance',
    software: { name: 'ehmi-node EHMI Addressing Service (EAS)' },
    implementation: { description: 'EHMI Addressing Service (EAS)', url: base },
    fhirVersion: '4.0.1',
    format: ['application/fhir+json'],
    implementationGuide: ['http://medcomehmi.dk/ig/eas/ImplementationGuide/dk.ehmi.eas|2.0.0'],
    rest: [
      {
        mode: 'server',
        resource: [
          {
            type: 'Organization',
            operation: easOperations().map((o: OperationDefinition) => ({ name: o.code, definition: o.url })),
          },
        ],
      },
    ],
  };
}

import type { FastifyInstance } from 'fastify';
import { Counter } from 'prom-client';
import { createHttpServer, listen, timeoutsOf } from '../http/index.ts';
import { METRICS_SCOPE, metricsAccess } from '../metrics-access.ts';
import { OPEN_PATHS, protectResourceServer } from '../resource-server.ts';
import type { Role, RoleContext } from '../roles.ts';
import { serveSmartConfiguration } from '../smart-configuration.ts';
import { EDS_ALL_SCOPE, EDS_CREATE_SCOPE, EDS_READ_SCOPE, edsScopes, viewerOf } from './access.ts';
import type { EdsConfig } from './config.ts';
import { EdsValidator } from './profiles.ts';
import { EdsRepository } from './repository.ts';
import { registerRoutes } from './routes.ts';
import type { EdsTables } from './tables.ts';

export { EDS_ALL_SCOPE, EDS_CREATE_SCOPE, EDS_READ_SCOPE } from './access.ts';

export interface EdsRole extends Role {
  readonly repository: EdsRepository;
}

const VERSION = '0.1.0';

/**
 * The EDS role (EHMI Delivery Status, ehmi-core §3): a FHIR R4 server for AuditEvent (create, read, search), every
 * registration validated against the EDS profiles and stored once, read and searched by the organisations that
 * took part in the message (and the network operator).
 */
export async function createEdsRole(
  ctx: RoleContext<EdsConfig, EdsTables>,
  deps: { validator?: EdsValidator } = {},
): Promise<EdsRole> {
  const { node: config, config: cfg, logger } = ctx;
  const log = logger.child({ role: 'eds' });
  let url = '';
  const baseUrl = () => (cfg.publicUrl ?? url).replace(/\/+$/, '') || undefined;
  const audience = () => [...new Set([url, baseUrl()].filter((u): u is string => !!u))];
  const repository = new EdsRepository({ store: ctx.store });
  const validator = deps.validator ?? new EdsValidator();
  // With the node's `authorization`: mTLS and an access token for EDS with `system/AuditEvent.c` to register and
  // `system/AuditEvent.rs` to read (or `.crs`); `/metadata` stays open (FHIR R4 http.html §3.1.0.14).
  const protection = protectResourceServer(ctx, {
    role: 'eds',
    audience,
    scope: edsScopes,
    open: new Set([...OPEN_PATHS, '/metadata']),
    // A token restricted to one patient sees that patient's events only (search.ts `visibleTo`).
    honoursPatientRestriction: true,
  });
  const metrics = metricsAccess(ctx, {
    service: 'eds',
    audience,
    anchorsKey: 'tls.ca',
    verifier: protection.verifier,
  });
  const app: FastifyInstance = await createHttpServer({
    service: 'eds',
    audit: ctx.audit,
    logger,
    bodyLimitBytes: config.http.bodyLimitBytes,
    timeouts: timeoutsOf(config.http),
    openapi: {
      title: 'EHMI Delivery Status (EDS): FHIR R4 API',
      version: '1.0.0',
      description:
        'AuditEvent resources (EdsBasicDeliveryStatus, EdsPatientDeliveryStatus) of every step of every message: ' +
        'create, read and search, JSON and XML. Errors are FHIR OperationOutcome resources.',
    },
    readiness: () => ctx.store.ping(),
    metricsAccess: metrics.hook,
    ...(protection.tls ? { tls: protection.tls } : {}),
  });
  if (protection.hook) app.addHook('onRequest', protection.hook);
  if (config.authorization) {
    serveSmartConfiguration(app, {
      metadata: async () => protection.verifier()?.metadata(),
      scopes: [EDS_CREATE_SCOPE, EDS_READ_SCOPE, EDS_ALL_SCOPE, METRICS_SCOPE],
    });
  }
  const registered = new Counter({
    name: 'ehmi_eds_events_registered_total',
    help: 'AuditEvents EDS stored (a repeat of a stored event is not counted)',
    registers: [app.metrics],
  });
  const operators = new Set(config.authorization?.operatorClients ?? []);
  registerRoutes(app, {
    repository,
    validator,
    store: ctx.store,
    baseUrl: () => baseUrl() ?? '',
    search: cfg.search,
    batch: cfg.batch,
    viewer: (request) => viewerOf(request.access, operators),
    version: VERSION,
    onCreated: () => registered.inc(),
  });

  return {
    name: 'eds',
    app,
    repository,
    get url() {
      return url;
    },
    async start() {
      validator.warmUp();
      url = await listen(app, { host: cfg.host, port: cfg.port, https: !!ctx.tls });
      log.info({ url }, 'eds started');
    },
    async close() {
      await app.close();
      await protection.close();
      await metrics.close();
    },
  };
}

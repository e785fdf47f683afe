import { EhmiError } from '@ehmi/errors';
import type { FastifyInstance } from 'fastify';
import { Counter } from 'prom-client';
import type { MshBackend } from '../contract.ts';
import { createHttpServer, listen, timeoutsOf } from '../http/index.ts';
import { METRICS_SCOPE, metricsAccess } from '../metrics-access.ts';
import { OPEN_PATHS, protectResourceServer } from '../resource-server.ts';
import type { Role, RoleContext } from '../roles.ts';
import { serveSmartConfiguration } from '../smart-configuration.ts';
import { ARCHIVE_BINARY_SCOPE, ARCHIVE_READ_SCOPE, archiveScopes } from './access.ts';
import type { ArchiveConfig } from './config.ts';
import { archiveBackend } from './ingest.ts';
import { registerRoutes } from './routes.ts';
import type { ArchiveTables } from './tables.ts';

export { ARCHIVE_BINARY_SCOPE, ARCHIVE_READ_SCOPE } from './access.ts';

export interface ArchiveRole extends Role {
  /** Where the node's access point hands the copies it received (the node's `msh.backend`). */
  readonly backend: MshBackend;
}

const VERSION = '0.1.0';

/**
 * The archive role (the document archive, EMR/DDS, ehmi-core §1.3): the receiving end of the copies the MSHs send
 * of the messages configured for sharing. The node's access point receives them as for any participant and hands
 * them to the archive (`msh.backend`), which validates each and stores the document with its DocumentReference; a
 * FHIR R4 server serves DocumentReference search and read and the documents (Binary) to clients with access tokens.
 */
export async function createArchiveRole(
  ctx: RoleContext<ArchiveConfig, ArchiveTables>,
): Promise<ArchiveRole> {
  const { node: config, config: cfg, logger } = ctx;
  const log = logger.child({ role: 'archive' });
  const organisation = config.organisation;
  if (!organisation) {
    throw new EhmiError(
      'EHMI_CONFIG_INVALID',
      'organisation: the archive role takes the copies addressed to its participant (organisation.gln), and EDS names it by organisation.sor',
    );
  }
  let url = '';
  const baseUrl = () => (cfg.publicUrl ?? url).replace(/\/+$/, '');
  const audience = () => [...new Set([url, baseUrl()].filter((u): u is string => !!u))];
  // With the node's `authorization`: mTLS and an access token for the archive; `/metadata` stays open.
  const protection = protectResourceServer(ctx, {
    role: 'archive',
    audience,
    scope: archiveScopes,
    open: new Set([...OPEN_PATHS, '/metadata']),
    // A token restricted to one patient sees that patient's documents only (routes.ts).
    honoursPatientRestriction: true,
  });
  const metrics = metricsAccess(ctx, {
    service: 'archive',
    audience,
    anchorsKey: 'tls.ca',
    verifier: protection.verifier,
  });
  const app: FastifyInstance = await createHttpServer({
    service: 'archive',
    audit: ctx.audit,
    logger,
    bodyLimitBytes: config.http.bodyLimitBytes,
    timeouts: timeoutsOf(config.http),
    openapi: {
      title: 'EHMI document archive (EMR): FHIR R4 API',
      version: '1.0.0',
      description:
        'The documents the network shares, each with its MedCom DocumentReference (XDS metadata): ' +
        'DocumentReference search and read, Binary read, JSON and XML. Errors are FHIR OperationOutcome resources.',
    },
    readiness: () => ctx.store.ping(),
    metricsAccess: metrics.hook,
    ...(protection.tls ? { tls: protection.tls } : {}),
  });
  if (protection.hook) app.addHook('onRequest', protection.hook);
  if (config.authorization) {
    serveSmartConfiguration(app, {
      metadata: async () => protection.verifier()?.metadata(),
      scopes: [ARCHIVE_READ_SCOPE, ARCHIVE_BINARY_SCOPE, METRICS_SCOPE],
    });
  }
  const archived = new Counter({
    name: 'ehmi_archive_documents_archived_total',
    help: 'Copies the archive validated and stored',
    registers: [app.metrics],
  });
  const refused = new Counter({
    name: 'ehmi_archive_copies_refused_total',
    help: 'Copies the archive refused (not a valid ehmiSBDH with a usable DocumentReference)',
    registers: [app.metrics],
  });
  registerRoutes(app, { store: ctx.store, baseUrl, search: cfg.search, version: VERSION });
  const backend = archiveBackend({
    store: ctx.store,
    participant: `0088:${organisation.gln}`,
    maxEnvelopeBytes: cfg.maxEnvelopeBytes,
    eds: ctx.deliveryStatus,
    logger: log,
    binaryUrl: (id) => `${baseUrl()}/Binary/${id}`,
    onArchived: () => archived.inc(),
    onRefused: () => refused.inc(),
  });

  return {
    name: 'archive',
    app,
    backend,
    get url() {
      return url;
    },
    async start() {
      url = await listen(app, { host: cfg.host, port: cfg.port, https: !!ctx.tls });
      log.info({ url }, 'archive started');
    },
    async close() {
      await app.close();
      await protection.close();
      await metrics.close();
    },
  };
}

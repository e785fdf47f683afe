import { X509Certificate } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import type { Counter } from 'prom-client';
import { Agent, fetch as undiciFetch } from 'undici';
import { createHttpServer, listen, timeoutsOf } from '../http/index.ts';
import { OPEN_PATHS, protectResourceServer } from '../resource-server.ts';
import { type Role, type RoleContext, readPem, requireTrustConfiguration } from '../roles.ts';
import { Worker } from '../store/worker.ts';
import { eerScopes } from './access.ts';
import { EerValidator } from './profiles.ts';
import {
  EasAdminClient,
  PROPAGATE_QUEUE,
  type PropagateJob,
  Propagator,
  type SmpPublisher,
} from './propagate.ts';
import { publicationIssues } from './publication.ts';
import { PublicationLedger, publicationMetrics } from './publication-status.ts';
import { EerRepository } from './repository.ts';
import { registerRoutes } from './routes.ts';
import { SmpAdminClient } from './smp-admin-client.ts';

export { PROPAGATE_QUEUE, type PropagateJob } from './propagate.ts';
export {
  DEFAULT_MESSAGE_TYPES,
  type EerOrganisationInput,
  type EerOrganisationResources,
  eerResourcesFor,
  type SeedEerResult,
  seedEer,
} from './seed.ts';

import type { EerConfig } from './config.ts';
import type { EerTables } from './tables.ts';

export interface EerRole extends Role {
  readonly repository: EerRepository;
  /** The `eer.propagate` worker (tests wait on the queue through it). */
  readonly worker: Worker<PropagateJob>;
}

export interface EerDeps {
  /** Instead of the SMP admin client built from `eer.smp` (tests). */
  smp?: SmpPublisher;
  validator?: EerValidator;
}

/**
 * The EER role (EHMI Endpoint Register, ehmi-core §4): a FHIR R4 REST server for the EER Organization, Endpoint and
 * Device (create, read, vread, update, delete, history, search), every write validated against the EER profiles,
 * and a worker that pushes each changed organisation to the SMP and to EAS through the job queue.
 */
export async function createEerRole(
  ctx: RoleContext<EerConfig, EerTables>,
  deps: EerDeps = {},
): Promise<EerRole> {
  const { node: config, config: cfg, logger } = ctx;
  const log = logger.child({ role: 'eer' });
  // TLS clients (EAS, an HTTPS SMP) trust the node's CAs and present the node's TLS client certificate.
  const agent = ctx.tls
    ? new Agent({
        connect: {
          ...(ctx.tls.ca.length > 0 ? { ca: ctx.tls.ca } : {}),
          cert: ctx.tls.client.cert,
          key: ctx.tls.client.key,
        },
      })
    : undefined;
  const targetFetch = (agent
    ? (url: string, init: RequestInit) => undiciFetch(url, { ...(init as object), dispatcher: agent })
    : fetch) as unknown as typeof fetch;
  const smp: SmpPublisher | undefined =
    deps.smp ??
    (cfg.smp
      ? (new SmpAdminClient({
          baseUrl: cfg.smp.url,
          token: cfg.smp.adminToken,
          timeoutMs: cfg.propagation.timeoutMs,
          fetch: targetFetch,
        }) as unknown as SmpPublisher)
      : undefined);
  const eas = cfg.eas
    ? new EasAdminClient({
        baseUrl: cfg.eas.url,
        token: cfg.eas.adminToken,
        timeoutMs: cfg.propagation.timeoutMs,
        fetch: targetFetch,
      })
    : undefined;
  if (!smp) log.info('eer.smp is not set: endpoints are not published to an SMP');
  if (!eas) log.info('eer.eas is not set: organisations are not pushed to EAS');

  let url = '';
  const baseUrl = () => (cfg.publicUrl ?? url).replace(/\/+$/, '') || undefined;
  const ledger = new PublicationLedger();
  // The failure counter lives on the EER server's /metrics, created with the server below.
  let failures: Counter<'target'> | undefined;
  const propagator = new Propagator({
    store: ctx.store,
    logger: log,
    baseUrl,
    smp,
    eas,
    ledger,
    onFailure: (target) => failures?.inc({ target }),
  });
  const repository = new EerRepository({ store: ctx.store, baseUrl, onWrite: propagator.hook(ctx.queue) });
  const worker = new Worker<PropagateJob>(ctx.queue, PROPAGATE_QUEUE, (job) => propagator.run(job), {
    concurrency: cfg.propagation.concurrency,
    pollIntervalMs: config.queue.pollIntervalMs,
    logger: log,
  });
  requireTrustConfiguration({ node: config, logger: log }, 'eer', {
    missing: cfg.smp !== undefined && cfg.apTrustAnchors.length === 0,
    refusal:
      'eer.apTrustAnchors: publishing access points to the SMP needs the CAs their certificates must chain to',
    insecureNote: 'eer.apTrustAnchors is not set; AP certificates are published unchecked',
  });
  const apTrustAnchors = cfg.apTrustAnchors.map(
    (file) => new X509Certificate(readPem(file, 'eer.apTrustAnchors')),
  );
  const validator =
    deps.validator ??
    new EerValidator(
      undefined,
      // A register that feeds an SMP accepts only access points every sender would accept.
      smp
        ? (type, resource) =>
            publicationIssues(type, resource, { trustAnchors: apTrustAnchors, insecure: config.insecure })
        : undefined,
    );
  // With the node's `authorization`: mTLS and an access token for EER (its own URLs as the audience) with the
  // scope of the resource type, read or write; `/metadata` stays open (FHIR R4 http.html §3.1.0.14).
  const protection = protectResourceServer(ctx, {
    role: 'eer',
    audience: () => [...new Set([url, baseUrl()].filter((u): u is string => !!u))],
    scope: eerScopes,
    open: new Set([...OPEN_PATHS, '/metadata']),
  });
  const app: FastifyInstance = await createHttpServer({
    service: 'eer',
    logger,
    bodyLimitBytes: config.http.bodyLimitBytes,
    timeouts: timeoutsOf(config.http),
    openapi: {
      title: 'EHMI endpoint register (EER): FHIR R4 API',
      version: '1.0.0',
      description:
        'Organization, Endpoint and Device resources of the EHMI network: FHIR R4 REST (read, vread, history, ' +
        'search, create, update, delete, transaction). Errors are FHIR OperationOutcome resources.',
    },
    readiness: () => ctx.store.ping(),
    ...(protection.tls ? { tls: protection.tls } : {}),
  });
  if (protection.hook) app.addHook('onRequest', protection.hook);
  failures = publicationMetrics(app.metrics, ctx.store, propagator.targets);
  registerRoutes(app, {
    checkScopes: protection.hook !== undefined,
    repository,
    validator,
    store: ctx.store,
    baseUrl: () => baseUrl() ?? '',
    search: cfg.search,
    afterWrite: () => worker.wake(),
  });

  return {
    name: 'eer',
    app,
    repository,
    worker,
    get url() {
      return url;
    },
    async start() {
      validator.warmUp();
      url = await listen(app, { host: cfg.host, port: cfg.port, https: !!ctx.tls });
      worker.start();
      log.info({ url }, 'eer started');
      protection.started();
    },
    async close() {
      await app.close();
      await worker.stop();
      await agent?.close();
      await protection.close();
    },
  };
}

import { X509Certificate } from 'node:crypto';
import { EhmiError } from '@ehmi/errors';
import type { FastifyInstance } from 'fastify';
import type { Counter } from 'prom-client';
import { type Dispatcher, fetch as undiciFetch } from 'undici';
import { EAS_ADMIN_SCOPE, SMP_ADMIN_SCOPE } from '../admin-scopes.ts';
import { createHttpServer, listen, nodeAgent, timeoutsOf } from '../http/index.ts';
import { METRICS_SCOPE, metricsAccess } from '../metrics-access.ts';
import { OPEN_PATHS, protectResourceServer } from '../resource-server.ts';
import { type Role, type RoleContext, readPem, requireTrustConfiguration } from '../roles.ts';
import { serveSmartConfiguration } from '../smart-configuration.ts';
import { Worker } from '../store/worker.ts';
import { TokenClient } from '../token-client.ts';
import { eerScopes, readScopes } from './access.ts';
import { EER_TYPES, EerValidator } from './profiles.ts';
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
  // TLS clients (EAS, the SMP's admin API) trust the node's CAs and present the propagation's TLS client
  // certificate (`eer.propagation.tls`, else the node's).
  const clientTls = cfg.propagation.tls
    ? {
        cert: readPem(cfg.propagation.tls.cert, 'eer.propagation.tls.cert'),
        key: readPem(cfg.propagation.tls.key, 'eer.propagation.tls.key'),
      }
    : ctx.tls?.client;
  const agent =
    ctx.tls || clientTls
      ? nodeAgent({
          connect: {
            ...(ctx.tls && ctx.tls.ca.length > 0 ? { ca: ctx.tls.ca } : {}),
            ...(clientTls ? { cert: clientTls.cert, key: clientTls.key } : {}),
          },
        })
      : undefined;
  const targetFetch = (agent
    ? (url: string, init: RequestInit) => undiciFetch(url, { ...(init as object), dispatcher: agent })
    : fetch) as unknown as typeof fetch;
  const targets = propagationAuth(ctx, agent, clientTls !== undefined);
  const smp: SmpPublisher | undefined =
    deps.smp ??
    (cfg.smp
      ? (new SmpAdminClient({
          baseUrl: cfg.smp.url,
          ...targets.auth('eer.smp', cfg.smp, SMP_ADMIN_SCOPE, targetFetch),
          timeoutMs: cfg.propagation.timeoutMs,
        }) as unknown as SmpPublisher)
      : undefined);
  const eas = cfg.eas
    ? new EasAdminClient({
        baseUrl: cfg.eas.url,
        ...targets.auth('eer.eas', cfg.eas, EAS_ADMIN_SCOPE, targetFetch),
        timeoutMs: cfg.propagation.timeoutMs,
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
    audience: () => audience(),
    scope: eerScopes,
    open: new Set([...OPEN_PATHS, '/metadata']),
  });
  const audience = () => [...new Set([url, baseUrl()].filter((u): u is string => !!u))];
  const metrics = metricsAccess(ctx, {
    service: 'eer',
    audience,
    anchorsKey: 'tls.ca',
    verifier: protection.verifier,
  });
  const app: FastifyInstance = await createHttpServer({
    service: 'eer',
    audit: ctx.audit,
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
    metricsAccess: metrics.hook,
    ...(protection.tls ? { tls: protection.tls } : {}),
  });
  if (protection.hook) app.addHook('onRequest', protection.hook);
  if (ctx.node.authorization) {
    serveSmartConfiguration(app, {
      metadata: async () => protection.verifier()?.metadata(),
      // A read scope and the write scope (`.cruds`, which reads too) of each type.
      scopes: [...EER_TYPES.flatMap(readScopes), METRICS_SCOPE],
    });
  }
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
    },
    async close() {
      await app.close();
      await worker.stop();
      await agent?.close();
      await protection.close();
      await metrics.close();
    },
  };
}

/**
 * How EER authenticates to the SMP's and EAS's admin APIs: with the node's `authorization`, access tokens of the
 * authorization server for `eer.propagation.clientId` (client credentials over mTLS, one token per target, renewed
 * before it expires; the static admin tokens are not sent); without it (the `insecure` development switch), each
 * target's static `adminToken`.
 */
function propagationAuth(
  ctx: RoleContext<EerConfig, EerTables>,
  agent: Dispatcher | undefined,
  hasClientCertificate: boolean,
): {
  auth(
    key: string,
    target: { url: string; adminToken?: string | undefined },
    scope: string,
    targetFetch: typeof fetch,
  ): { token?: string; fetch: typeof fetch };
} {
  const { node, config: cfg, logger } = ctx;
  const authorization = node.authorization;
  let tokens: TokenClient | undefined;
  if (authorization && (cfg.smp || cfg.eas)) {
    if (!cfg.propagation.clientId) {
      throw new EhmiError(
        'EHMI_CONFIG_INVALID',
        "eer.propagation.clientId: with authorization, EER asks the authorization server for access tokens to the SMP's and EAS's admin APIs as this registered client",
      );
    }
    if (!agent || !hasClientCertificate) {
      throw new EhmiError(
        'EHMI_CONFIG_INVALID',
        "eer.propagation.tls: EER authenticates to the authorization server with a TLS client certificate (tls_client_auth), so it needs the node's tls or eer.propagation.tls",
      );
    }
    tokens = new TokenClient({
      issuer: authorization.issuer,
      clientId: cfg.propagation.clientId,
      dispatcher: agent,
    });
  }
  return {
    auth(key, target, scope, targetFetch) {
      if (tokens) {
        if (target.adminToken !== undefined) {
          logger.warn(
            { role: 'eer' },
            `${key}.adminToken is not used: EER sends access tokens of ${cfg.propagation.clientId} (authorization is set)`,
          );
        }
        return { fetch: tokens.fetch({ resource: target.url.replace(/\/+$/, ''), scope }) };
      }
      if (target.adminToken === undefined) {
        throw new EhmiError(
          'EHMI_CONFIG_INVALID',
          `${key}.adminToken: without authorization (the insecure development switch) EER needs the service's static admin token`,
        );
      }
      return { token: target.adminToken, fetch: targetFetch };
    },
  };
}

import { EhmiError } from '@ehmi/errors';
import { Counter, Histogram } from 'prom-client';
import { linkSignal } from '../abort.ts';
import { AccessTokenVerifier, accessTokenVerifierOptions } from '../authz.ts';
import type { AccessPointGateway, MshBackend } from '../contract.ts';
import { noReporter } from '../delivery-status/index.ts';
import { createHttpServer, listen, nodeAgent, timeoutsOf } from '../http/index.ts';
import { METRICS_SCOPE, metricsAccess } from '../metrics-access.ts';
import { QUEUES } from '../path.ts';
import { organisationOf, type Role, type RoleContext, readPem, requireTrustConfiguration } from '../roles.ts';
import { serveSmartConfiguration } from '../smart-configuration.ts';
import { type IdleState, Worker } from '../store/index.ts';
import { askForClientCertificate } from '../trust.ts';
import { MSH_SCOPE, requireMshAccess } from './access.ts';
import type { MshConfig } from './config.ts';
import { inboxItem, type MshCore, partyOf } from './core.ts';
import type { DispatchPayload } from './envelopes.ts';
import { warmUpProfileValidation } from './fhir-body.ts';
import { deliver, prepareDelivery } from './inbound/deliver.ts';
import { dispatchJob, recordOutcome } from './outbound/dispatch.ts';
import { inboxSince } from './repository.ts';
import { registerRoutes, TOKEN_OPEN_PATHS } from './routes.ts';
import { mshOpenApi } from './schemas.ts';
import { InboxHub } from './sse.ts';
import { type SweepResult, sweep } from './sweep.ts';
import type { MshTables } from './tables.ts';
import { type WebhookJob, webhookEmitter } from './webhooks/events.ts';
import { sendWebhook, WebhookAttemptFailed, webhookRetryDelay } from './webhooks/send.ts';
import { publicOnlyLookup } from './webhooks/target.ts';

export { mshOpenApi } from './schemas.ts';
export type { SweepResult } from './sweep.ts';

export interface MessageServiceHandler extends Role {
  /** What the access point hands received envelopes and send outcomes to. */
  readonly backend: MshBackend;
  /** Run the deadline and retention sweep now (as the timer does), as if the time were `now`. */
  sweep(now?: number): Promise<SweepResult>;
  /**
   * Resolves once no dispatch job (an envelope, receipt or acknowledgement for the access point) is due or running;
   * with `drained`, once none waits either. See `Worker.idle`.
   */
  idle(options?: { drained?: boolean }): Promise<IdleState>;
  /** Resolves once no webhook delivery is due or running (with `drained`, once none waits for a retry either). */
  webhooksIdle(options?: { drained?: boolean }): Promise<IdleState>;
}

export interface MshDeps {
  accessPoint: AccessPointGateway;
}

/**
 * The message service handler role (ehmiMSH, ehmi-core §1.1): the EUA API over HTTPS (mTLS when
 * `msh.clientTrustAnchors` is set), the ehmiSBDH layer, reliable messaging (EnvelopeReceipts, duplicate handling,
 * deadlines, resends), and the hand-over to its access point through `contract.ts`.
 *
 * @example
 * const msh = await createMsh(ctx, { accessPoint: ap.gateway });
 * await msh.start(); // msh.url → https://127.0.0.1:8710
 */
export async function createMsh(
  ctx: RoleContext<MshConfig, MshTables>,
  deps: MshDeps,
): Promise<MessageServiceHandler> {
  const { node: config, config: mshConfig, store, queue, logger } = ctx;
  const organisation = organisationOf(config, 'message service handler');
  const anchors = mshConfig.clientTrustAnchors.map((file) => readPem(file, 'msh.clientTrustAnchors'));
  // Fail closed: the EUA API holds patients' data; it is served only to clients with an access token of the node's
  // authorization server, bound to a certificate under msh.clientTrustAnchors. The `insecure` development switch
  // serves it on mTLS alone (with msh.clientTrustAnchors), or to whoever connects (without).
  const authorization = config.authorization;
  requireTrustConfiguration(ctx, 'msh', {
    missing: !authorization,
    refusal:
      "authorization: the message service handler serves its API only to clients with an access token of the node's authorization server (authorization.issuer), bound to a certificate issued under msh.clientTrustAnchors",
    insecureNote:
      anchors.length > 0
        ? 'the MSH API is served without access tokens, to any client with a certificate under msh.clientTrustAnchors, for this organisation'
        : 'the MSH API is served without client authentication',
  });
  if (anchors.length > 0 && !ctx.tls) {
    throw new EhmiError(
      'EHMI_CONFIG_INVALID',
      "msh.clientTrustAnchors: mutual TLS needs the node's tls certificate and key",
    );
  }
  if (authorization && anchors.length === 0) {
    throw new EhmiError(
      'EHMI_CONFIG_INVALID',
      "msh.clientTrustAnchors: access tokens are bound to client certificates (authorization is set), so the message service handler needs the CAs of its clients' certificates (and tls)",
    );
  }
  const tls = ctx.tls && askForClientCertificate(ctx.tls, anchors);
  const log = logger.child({ role: 'msh', organisation: organisation.name });
  // Access tokens (docs/architecture.md "Who is asking"). Their audience is this MSH's URL(s), known once it
  // listens: the verifier is made in start().
  let verifier: AccessTokenVerifier | undefined;
  const metrics = metricsAccess(ctx, {
    service: 'msh',
    // The token's audience is the API's, checked by its verifier.
    audience: () => [],
    anchorsKey: 'msh.clientTrustAnchors',
    verifier: () => verifier,
  });
  const app = await createHttpServer({
    service: 'msh',
    audit: ctx.audit,
    logger: log,
    bodyLimitBytes: mshConfig.bodyLimitBytes,
    timeouts: timeoutsOf(config.http),
    openapi: mshOpenApi,
    readiness: () => store.ping(),
    metricsAccess: metrics.hook,
    ...(tls ? { tls } : {}),
  });
  const hub = new InboxHub({
    pollMs: mshConfig.ssePollMs,
    since: async (since) =>
      (await inboxSince(store.db, since)).map((r) => ({
        id: r.id,
        receivedAt: r.received_at,
        patientCpr: r.patient_cpr,
        json: inboxItem(r),
      })),
    onError: (err) => log.warn({ err }, 'inbox event poll failed'),
  });
  let worker: Worker<DispatchPayload> | undefined;
  // Submit → EnvelopeReceipt, per envelope: the latency of the network as its users feel it (the console's health
  // page charts it), beside the HTTP durations every server keeps.
  const receiptSeconds = new Histogram({
    name: 'ehmi_msh_receipt_seconds',
    help: 'Time from an envelope’s submission to its EnvelopeReceipt (EDS step 10.1), seconds',
    buckets: [0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600],
    registers: [app.metrics],
  });
  let url = '';
  const core: MshCore = {
    config: mshConfig,
    organisation,
    party: partyOf(organisation.gln),
    store,
    queue,
    logger: log,
    accessPoint: deps.accessPoint,
    hub,
    eds: ctx.deliveryStatus ?? noReporter(queue),
    webhooks: webhookEmitter({
      queue,
      maxAttempts: mshConfig.webhooks.maxAttempts,
      now: () => Date.now(),
      base: () => url,
    }),
    ...(ctx.deliveryStatusSearch
      ? { journey: { search: ctx.deliveryStatusSearch, due: config.deliveryStatus.due } }
      : {}),
    // The dispatch worker hears of its jobs from the queue once they commit; only EDS reports may need a look.
    wake: () => core.eds.wake(),
    observeReceipt: (seconds) => receiptSeconds.observe(seconds),
    now: () => Date.now(),
  };
  worker = new Worker<DispatchPayload>(
    queue,
    QUEUES.dispatch,
    (job, context) => dispatchJob(core, job, context),
    {
      concurrency: mshConfig.dispatchConcurrency,
      pollIntervalMs: config.queue.pollIntervalMs,
      logger: log,
      // dispatchJob decides itself when a failure is final (it marks the message failed); anything thrown is retried.
      isPermanent: () => false,
    },
  );
  const dispatcher = worker;
  // Push delivery (docs/architecture.md "Push delivery"): the node's HTTP client, trusting the receivers' CAs
  // (msh.webhooks.trustAnchors, else the node's), presenting the node's certificate when a receiver asks for one,
  // with the connect and response timeouts; without allowPrivateTargets every address it connects to must be public.
  const hooks = mshConfig.webhooks;
  const receiverCas = hooks.trustAnchors.map((file) => readPem(file, 'msh.webhooks.trustAnchors'));
  const webhookCa =
    receiverCas.length > 0 ? receiverCas : ctx.tls && ctx.tls.ca.length > 0 ? ctx.tls.ca : undefined;
  const webhookAgent = nodeAgent({
    connect: {
      ...(webhookCa ? { ca: webhookCa } : {}),
      ...(ctx.tls ? { cert: ctx.tls.client.cert, key: ctx.tls.client.key } : {}),
      minVersion: 'TLSv1.2',
      timeout: hooks.connectTimeoutMs,
      ...(hooks.allowPrivateTargets ? {} : { lookup: publicOnlyLookup }),
    },
    headersTimeout: hooks.responseTimeoutMs,
    bodyTimeout: hooks.responseTimeoutMs,
    connections: hooks.concurrency,
  });
  const webhookCounter = new Counter({
    name: 'ehmi_msh_webhook_deliveries_total',
    help: 'Webhook tries by result: delivered, retried (a failed try, tried again), failed (on the failure list); the queue depth is ehmi_queue_jobs{queue="msh.webhook"}',
    labelNames: ['result'] as const,
    registers: [app.metrics],
  });
  // Closing aborts a try in flight: it counts as failed and is tried again after the restart.
  const closingWebhooks = new AbortController();
  const webhookWorker = new Worker<WebhookJob>(
    queue,
    QUEUES.webhook,
    async (job, context) => {
      const { signal, unlink } = linkSignal(context.signal, closingWebhooks.signal);
      try {
        await sendWebhook(
          {
            store,
            agent: webhookAgent,
            allowPrivateTargets: hooks.allowPrivateTargets,
            tryTimeoutMs: hooks.connectTimeoutMs + hooks.responseTimeoutMs,
            logger: log,
            now: () => Date.now(),
            counter: webhookCounter,
          },
          job,
          { complete: context.complete, signal },
        );
      } finally {
        unlink();
      }
    },
    {
      concurrency: hooks.concurrency,
      pollIntervalMs: config.queue.pollIntervalMs,
      logger: log,
      isPermanent: (err) => err instanceof WebhookAttemptFailed && err.permanent,
      retryDelay: (job, err) => webhookRetryDelay(job.attempt, err, hooks),
    },
  );
  const accessTokens =
    authorization &&
    requireMshAccess({
      verifier: () => verifier,
      gln: organisation.gln,
      // The node's operator clients, and those the MSH adds.
      operatorClients: [...authorization.operatorClients, ...mshConfig.operatorClients],
      open: TOKEN_OPEN_PATHS,
    });
  registerRoutes(app, core, {
    ...(anchors.length > 0 ? { clientCertificates: ctx.revocation } : {}),
    ...(accessTokens ? { accessTokens } : {}),
  });
  if (authorization) {
    serveSmartConfiguration(app, {
      metadata: async () => {
        if (!verifier) throw new EhmiError('EHMI_UNAVAILABLE', 'the message service handler is starting');
        return verifier.metadata();
      },
      scopes: [...Object.values(MSH_SCOPE), METRICS_SCOPE],
    });
  }

  const backend: MshBackend = {
    sharesStore: (db) => db === core.store.db,
    deliver: (inbound, part) => deliver(core, inbound, part),
    prepareDelivery: (inbound) => prepareDelivery(core, inbound),
    outcome: (outcome, part) => recordOutcome(core, outcome, part),
  };
  let timer: NodeJS.Timeout | undefined;
  let sweeping: Promise<unknown> = Promise.resolve();
  let lastRetention = 0;
  const runSweep = (now?: number, periodic = false): Promise<SweepResult> => {
    const at = now ?? Date.now();
    const retention = !periodic || at - lastRetention >= mshConfig.retentionIntervalMs;
    if (retention) lastRetention = at;
    const run = sweeping.then(() => sweep(core, at, { retention }));
    sweeping = run.catch(() => {});
    return run;
  };

  return {
    name: 'msh',
    app,
    backend,
    get url() {
      return url;
    },
    sweep: (now?: number) => runSweep(now),
    idle: (options) => dispatcher.idle(options),
    webhooksIdle: (options) => webhookWorker.idle(options),
    async start() {
      if (mshConfig.validateProfiles) warmUpProfileValidation();
      const listenUrl = await listen(app, { host: mshConfig.host, port: mshConfig.port, https: !!tls });
      const publicUrl = mshConfig.publicUrl?.replace(/\/+$/, '');
      url = publicUrl ?? listenUrl;
      if (authorization) {
        // RFC 8707: a token is for this MSH when its audience is one of its URLs (as clients reach it, as it listens).
        verifier = new AccessTokenVerifier(
          accessTokenVerifierOptions(authorization, {
            audience: [...new Set([listenUrl, ...(publicUrl ? [publicUrl] : [])])],
            ...(ctx.tls && ctx.tls.ca.length > 0 ? { ca: ctx.tls.ca } : {}),
          }),
        );
      }
      worker?.start();
      webhookWorker.start();
      timer = setInterval(() => {
        runSweep(undefined, true).catch((err) => log.error({ err }, 'msh sweep failed'));
      }, mshConfig.sweepIntervalMs);
      timer.unref();
      log.info({ url }, 'message service handler started');
    },
    async close() {
      clearInterval(timer);
      hub.close();
      await app.close();
      await verifier?.close();
      await metrics.close();
      await worker?.stop();
      closingWebhooks.abort();
      await webhookWorker.stop();
      await webhookAgent.close();
      await sweeping;
    },
  };
}

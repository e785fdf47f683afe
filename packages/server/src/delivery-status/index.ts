import { EhmiError } from '@ehmi/errors';
import type { EdsSearch } from '@ehmi/sbdh';
import type { Logger } from 'pino';
import { Counter, type Registry } from 'prom-client';
import { linkSignal } from '../abort.ts';
import type { NodeConfig } from '../config/index.ts';
import { nodeAgent } from '../http/index.ts';
import { QUEUES } from '../path.ts';
import { requireTrustConfiguration } from '../roles.ts';
import { type AnyStore, type IdleState, JobQueue, Worker } from '../store/index.ts';
import { TokenClient } from '../token-client.ts';
import { EDS_READ_SCOPE, edsSearch } from './reader.ts';
import { DeliveryStatusReporter, type ReportPayload } from './reporter.ts';
import {
  EDS_REPORT_SCOPE,
  plainFetch,
  ReportRefused,
  type ReportResult,
  reportBatchHandler,
} from './sender.ts';

export { EDS_READ_SCOPE, edsSearch } from './reader.ts';
export { DeliveryStatusReporter, noReporter, type StepTaken } from './reporter.ts';
export { EDS_REPORT_SCOPE } from './sender.ts';

/** The node's EDS reporting: the reporter its stations call, and the worker that POSTs what they queued. */
export interface DeliveryStatusService {
  reporter: DeliveryStatusReporter;
  /**
   * Search EDS as this node (`system/AuditEvent.rs`, the same client and certificate as the reports), for the
   * journey of a message (track'n'trace); absent without `deliveryStatus.url`.
   */
  search?: EdsSearch;
  /** Count reports in the node's `/metrics` (`ehmi_eds_reports_total`). */
  registerMetrics(registry: Registry): void;
  start(): void;
  /** Resolves once no report is due or running; with `drained`, once none waits either (see `Worker.idle`). */
  idle(options?: { drained?: boolean }): Promise<IdleState>;
  close(): Promise<void>;
}

/**
 * Set up EDS reporting from the node's `deliveryStatus` settings. Without `url` the node reports nothing (and says so
 * once). With it, the reports go with certificate-bound access tokens of `deliveryStatus.clientId` (scope
 * `system/AuditEvent.c`, resource = the EDS URL), so the node needs `authorization` and a TLS client certificate; it
 * refuses to start without them unless `insecure` is set (then it POSTs without a token).
 */
export function createDeliveryStatus(
  node: NodeConfig,
  deps: {
    store: AnyStore;
    logger: Logger;
    tls?: { ca: string[]; client: { key: string; cert: string } } | undefined;
  },
): DeliveryStatusService {
  const cfg = node.deliveryStatus;
  const logger = deps.logger.child({ component: 'eds-report' });
  const queue = new JobQueue(deps.store, {
    leaseMs: node.queue.leaseMs,
    maxAttempts: node.queue.maxAttempts,
    backoffBaseMs: cfg.backoffBaseMs,
    backoffMaxMs: cfg.backoffMaxMs,
  });
  let worker: Worker<ReportPayload> | undefined;
  const url = cfg.url?.replace(/\/+$/, '');
  const enabled = url !== undefined && node.organisation !== undefined;
  const reporter = new DeliveryStatusReporter({
    organisation: node.organisation,
    devices: cfg.devices,
    enabled,
    queue,
    logger,
    batchWindowMs: cfg.batchWindowMs,
    wake: () => worker?.wake(),
  });
  const counts = new Map<ReportResult, number>();
  let counter: Counter<'result'> | undefined;
  const count = (result: ReportResult) => {
    counts.set(result, (counts.get(result) ?? 0) + 1);
    counter?.inc({ result });
  };
  if (!url || !enabled) {
    if (node.organisation) {
      logger.info('deliveryStatus.url is not set: this node reports no steps to EHMI Delivery Status (EDS)');
    }
    return {
      reporter,
      registerMetrics: () => {},
      start: () => {},
      idle: async () => ({ next: undefined }),
      close: async () => {},
    };
  }
  if (!/^https:\/\//i.test(url) && !node.insecure) {
    throw new EhmiError(
      'EHMI_CONFIG_INVALID',
      `deliveryStatus.url must be https (it carries patients' CPR numbers), not ${url}; set insecure: true for development only`,
    );
  }
  const authorization = node.authorization;
  requireTrustConfiguration({ node, logger }, 'eds-report', {
    missing: !authorization,
    refusal:
      "authorization: the node reports to EDS with certificate-bound access tokens of the node's authorization server (authorization.issuer, deliveryStatus.clientId)",
    insecureNote: `delivery status events are POSTed to ${url} without an access token`,
  });
  const agent = nodeAgent({
    connect: {
      ...(deps.tls && deps.tls.ca.length > 0 ? { ca: deps.tls.ca } : {}),
      ...(deps.tls ? { cert: deps.tls.client.cert, key: deps.tls.client.key } : {}),
    },
  });
  let doFetch: typeof fetch;
  let forgetToken: (() => void) | undefined;
  let search: EdsSearch;
  if (authorization) {
    if (!cfg.clientId) {
      throw new EhmiError(
        'EHMI_CONFIG_INVALID',
        'deliveryStatus.clientId: with authorization, the node asks the authorization server for access tokens to EDS as this registered client',
      );
    }
    if (!deps.tls) {
      throw new EhmiError(
        'EHMI_CONFIG_INVALID',
        'tls: the node authenticates to the authorization server and to EDS with its TLS client certificate (tls_client_auth), so deliveryStatus needs tls',
      );
    }
    const tokens = new TokenClient({
      issuer: authorization.issuer,
      clientId: cfg.clientId,
      dispatcher: agent,
      name: `${cfg.clientId} (EDS reporting)`,
    });
    const request = { resource: url, scope: EDS_REPORT_SCOPE };
    doFetch = tokens.fetch(request);
    forgetToken = () => tokens.forget(request);
    const reading = { resource: url, scope: EDS_READ_SCOPE };
    search = edsSearch({
      url,
      fetch: tokens.fetch(reading),
      timeoutMs: cfg.timeoutMs,
      forgetToken: () => tokens.forget(reading),
    });
  } else {
    doFetch = plainFetch(agent);
    search = edsSearch({ url, fetch: doFetch, timeoutMs: cfg.timeoutMs });
  }
  // Closing aborts a POST in flight: its job is tried again after the restart.
  const closing = new AbortController();
  const post = reportBatchHandler({
    url,
    fetch: doFetch,
    timeoutMs: cfg.timeoutMs,
    logger,
    count,
    size: cfg.batchSize,
    ...(forgetToken ? { forgetToken } : {}),
  });
  worker = new Worker<ReportPayload>(
    queue,
    QUEUES.edsReport,
    {
      size: post.size,
      run: async (jobs, { signal }) => {
        const linked = linkSignal(signal, closing.signal);
        try {
          return await post.run(jobs, { signal: linked.signal });
        } finally {
          linked.unlink();
        }
      },
    },
    {
      concurrency: cfg.concurrency,
      pollIntervalMs: node.queue.pollIntervalMs,
      logger,
      // Only EDS's own refusal is final; everything else waits for EDS to come back.
      isPermanent: (err) => err instanceof ReportRefused,
    },
  );
  const running = worker;
  let purge: NodeJS.Timeout | undefined;
  return {
    reporter,
    search,
    registerMetrics(registry) {
      counter = new Counter({
        name: 'ehmi_eds_reports_total',
        help: 'Delivery status events POSTed to EDS, by result (reported, retried, dead); the queue depth is ehmi_queue_jobs{queue="eds.report"}',
        labelNames: ['result'] as const,
        registers: [registry],
      });
      for (const r of ['reported', 'retried', 'dead'] as const)
        counter.inc({ result: r }, counts.get(r) ?? 0);
    },
    start() {
      running.start();
      // The outbox of reports does not grow without end: finished jobs go after deliveryStatus.retentionMs.
      purge = setInterval(
        () => {
          queue
            .purgeFinished(Date.now() - cfg.retentionMs, { queue: QUEUES.edsReport })
            .catch((err) => logger.warn({ err }, 'purging finished EDS reports failed'));
        },
        Math.min(cfg.retentionMs, 3_600_000),
      );
      purge.unref();
      logger.info({ url, clientId: cfg.clientId }, 'reporting delivery status to EDS');
    },
    idle: (options) => running.idle(options),
    async close() {
      clearInterval(purge);
      closing.abort();
      await running.stop();
      await agent.close();
    },
  };
}

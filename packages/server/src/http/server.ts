import type { TLSSocket } from 'node:tls';
import { EhmiError, toOperationOutcome } from '@ehmi/errors';
import Fastify, {
  type FastifyBaseLogger,
  type FastifyError,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
  LogController,
} from 'fastify';
import type { Logger } from 'pino';
import { Counter, collectDefaultMetrics, Histogram, Registry } from 'prom-client';
import { REQUEST_ID_HEADER, recordCalls, requestIdOf, type ServerAudit } from '../audit/http.ts';
import { commitsDurable, durableCommits } from '../store/durability.ts';
import { watchBodyRate } from './body-rate.ts';
import { certificatesOfPem, resolveClientCertificate, type TrustedProxies } from './client-certificate.ts';
import { type OpenApiInfo, type RouteSeen, serveOpenApi } from './openapi.ts';
import { DEFAULT_HTTP_TIMEOUTS, type HttpTimeouts } from './timeouts.ts';

/** How often each server's event-loop-delay metric samples the loop (`nodejs_eventloop_lag_*`). */
const EVENT_LOOP_SAMPLE_MS = 1000;
export interface HttpServerOptions {
  /** Names the server in logs and in the `service` label of its metrics. */
  service: string;
  logger: Logger;
  /** Largest request body accepted by the generic parsers (REST/FHIR); larger gets 413. */
  bodyLimitBytes: number;
  /** Resolves when the server can do its work; rejects (or throws) with the reason when it cannot. */
  readiness?: () => Promise<void>;
  /** Serve HTTPS with this key and certificate (PEM); plain HTTP without. */
  tls?: HttpsOptions;
  /** Title and description of the server's OpenAPI document (`GET /openapi.json`). */
  openapi?: OpenApiInfo;
  /** Connection timeouts; DEFAULT_HTTP_TIMEOUTS for those not given. */
  timeouts?: Partial<HttpTimeouts>;
  /**
   * Who may read `GET /metrics`: an `onRequest` hook of that route that throws to refuse. Required, so that every
   * server decides (the node's servers take `metricsAccess` of `src/metrics-access.ts`: the operator only).
   */
  metricsAccess: (request: FastifyRequest, reply: FastifyReply) => Promise<void>;
  /**
   * The node's audit log: every call to this server is recorded in it (`src/audit/`). Every server of a running
   * node has it (its roles pass their `RoleContext.audit`); undefined only for a server outside a node (tests).
   */
  audit?: ServerAudit | undefined;
}

export interface HttpsOptions {
  /** PEM private key. */
  key: string | Buffer;
  /** PEM certificate, followed by its intermediates. */
  cert: string | Buffer;
  /** CAs (PEM) that client certificates must chain to, when `requestCert` is set. */
  ca?: (string | Buffer)[];
  /** Ask for a client certificate (mTLS). */
  requestCert?: boolean;
  /** Refuse the TLS handshake when the client has no certificate that chains to `ca`. */
  rejectUnauthorized?: boolean;
  /**
   * TLS-terminating proxies whose forwarded client certificates (RFC 9440 `Client-Cert`) the server takes, checked
   * against `ca` (`client-certificate.ts`; config `http.trustedProxies`). Without: a forwarded certificate is refused.
   */
  proxies?: TrustedProxies;
}

/**
 * The TLS 1.2 cipher suites of BCP 195 (RFC 9325 §4.2, "recommended"): ECDHE key exchange and AES-GCM or
 * ChaCha20-Poly1305, in that preference; no CBC, no static RSA key exchange, no SHA-1 MAC. TLS 1.3 suites are
 * OpenSSL's defaults, all AEAD.
 */
export const TLS12_CIPHERS = [
  'ECDHE-ECDSA-AES128-GCM-SHA256',
  'ECDHE-RSA-AES128-GCM-SHA256',
  'ECDHE-ECDSA-AES256-GCM-SHA384',
  'ECDHE-RSA-AES256-GCM-SHA384',
  'ECDHE-ECDSA-CHACHA20-POLY1305',
  'ECDHE-RSA-CHACHA20-POLY1305',
].join(':');

export const FHIR_JSON = 'application/fhir+json; charset=utf-8';

const HEALTH = {
  type: 'object',
  required: ['status', 'service'],
  properties: {
    status: { enum: ['ok', 'unavailable'] },
    service: { type: 'string' },
    reason: { type: 'string' },
  },
};

/** Fastify's own errors for bad requests, as our stable codes. */
function fromFastifyError(err: FastifyError): EhmiError {
  const status = err.statusCode ?? 500;
  if (status === 413) return new EhmiError('EHMI_TOO_LARGE', 'request body is too large', { cause: err });
  if (status === 415) return new EhmiError('EHMI_UNSUPPORTED_MEDIA_TYPE', err.message, { cause: err });
  if (status === 404) return new EhmiError('EHMI_NOT_FOUND', err.message, { cause: err });
  if (status === 406) return new EhmiError('EHMI_NOT_ACCEPTABLE', err.message, { cause: err });
  if (err.validation) {
    // A URL parameter or query parameter that fails its route schema is a bad request (400), like any other
    // malformed input; a body that fails its schema is unprocessable (422).
    const where = err.validationContext;
    const field = err.validation[0]?.instancePath.replace(/^\//, '') ?? '';
    const missing = (err.validation[0]?.params as { missingProperty?: string } | undefined)?.missingProperty;
    const name = missing ?? field;
    if (where === 'querystring' || where === 'params' || where === 'headers') {
      return new EhmiError('EHMI_USAGE', err.message, {
        cause: err,
        ...(name ? { expression: [name] } : {}),
      });
    }
    return new EhmiError('EHMI_VALIDATION_FAILED', err.message, { cause: err });
  }
  if (status >= 400 && status < 500)
    return new EhmiError('EHMI_INPUT_UNREADABLE', err.message, { cause: err });
  return new EhmiError('EHMI_INTERNAL', err.message, { cause: err });
}

/**
 * A fastify server with what every server of the node has: `GET /health` (200 when ready, 503 otherwise),
 * `GET /metrics` (Prometheus text format, to whom `metricsAccess` lets through), request metrics, and errors as FHIR OperationOutcome with the status of
 * their code. Roles register their routes as plugins on it.
 */
export async function createHttpServer(options: HttpServerOptions): Promise<FastifyInstance> {
  const timeouts = { ...DEFAULT_HTTP_TIMEOUTS, ...options.timeouts };
  const headersTimeout = timeouts.headersTimeoutMs;
  const nodeServerOptions = {
    headersTimeout,
    // No total request time (a 2 GiB upload on a slow link is legitimate): bodies have a minimum rate instead.
    requestTimeout: 0,
    // Node checks the headers and request timeouts of open connections at this interval (30 s by default, which
    // would let a trickling client stay up to twice the timeout).
    connectionsCheckingInterval: Math.max(10, Math.min(5_000, Math.floor(headersTimeout / 4))),
  };
  const app = Fastify({
    requestTimeout: 0,
    connectionTimeout: timeouts.idleTimeoutMs,
    keepAliveTimeout: timeouts.keepAliveTimeoutMs,
    ...(options.tls
      ? {
          https: {
            ...nodeServerOptions,
            key: options.tls.key,
            cert: options.tls.cert,
            ...(options.tls.ca ? { ca: options.tls.ca } : {}),
            requestCert: options.tls.requestCert ?? false,
            rejectUnauthorized: options.tls.rejectUnauthorized ?? false,
            minVersion: 'TLSv1.2' as const, // eDelivery AS4 1.15: TLS 1.2 MUST, 1.3 MAY
            // BCP 195 (RFC 9325 §4.2): on TLS 1.2 only AEAD suites with forward secrecy; TLS 1.3's are all AEAD.
            ciphers: TLS12_CIPHERS,
            honorCipherOrder: true,
          },
        }
      : { http: nodeServerOptions }),
    loggerInstance: options.logger.child({ service: options.service }) as FastifyBaseLogger,
    bodyLimit: options.bodyLimitBytes,
    // Secure defaults (fastify's own advice): reject prototype-poisoning JSON instead of stripping it.
    onProtoPoisoning: 'error',
    onConstructorPoisoning: 'error',
    // Probes hit /health and /metrics every few seconds; logging each would drown the useful lines.
    logController: new LogController({
      disableRequestLogging: (request) => request.url === '/health' || request.url === '/metrics',
    }),
    return503OnClosing: true,
    // The request id: the client's X-Request-Id when sane (so client and server records correlate), else a UUID.
    requestIdHeader: false,
    genReqId: requestIdOf,
  }) as unknown as FastifyInstance;

  if (options.tls) {
    // A peer's certificate is the connection's for its life (`peerCertificatePath` reads it once): refuse TLS 1.2
    // renegotiation, by which a client could present another one (TLS 1.3 has no renegotiation).
    app.server.on('secureConnection', (socket: TLSSocket) => socket.disableRenegotiation());
  }
  // Node's close() ends idle connections only: one that is mid-request (a client that sent half its headers, a
  // stalled upload) would hold the close, and the ports, until its own timeout. After the grace, end them all.
  let forceClose: NodeJS.Timeout | undefined;
  app.addHook('preClose', async () => {
    forceClose = setTimeout(() => app.server.closeAllConnections(), timeouts.closeGraceMs);
    forceClose.unref();
  });
  app.addHook('onClose', async () => clearTimeout(forceClose));
  app.addHook('onRequest', async (request, reply) => {
    reply.header(REQUEST_ID_HEADER, request.id);
  });
  if (options.audit) recordCalls(app, options.service, options.audit);
  // Who is asking, by certificate: the one presented, or the one a trusted proxy forwards (checked against the
  // server's client CAs), resolved once per request before any role's hook asks (`client-certificate.ts`). A
  // forwarded certificate from anyone else is refused on every server, whatever the route.
  const proxies = options.tls?.requestCert ? options.tls.proxies : undefined;
  const anchors = proxies && proxies.certificates.length > 0 ? certificatesOfPem(options.tls?.ca ?? []) : [];
  app.addHook('onRequest', async (request) => {
    resolveClientCertificate(request.raw, { proxies, anchors });
  });
  // No answer leaves before the commits it may report are durable: an MSH's 201, an AP's AS4 receipt, any write
  // (docs/architecture.md "Durability"). The last onSend hook of the server's own, after the audit log's (which may
  // commit a record before the answer); at once when nothing was committed since the last sync.
  app.addHook('onSend', (_request, _reply, payload, done) => {
    if (commitsDurable()) return done(null, payload);
    durableCommits().then(
      () => done(null, payload),
      (err: unknown) => done(err as Error),
    );
  });
  watchBodyRate(app, { windowMs: timeouts.bodyRateWindowMs, minBytes: timeouts.minBodyBytesPerWindow });

  const routes = serveOpenApi(app, options.openapi ?? { title: `EHMI ${options.service}` });
  app.decorate('routesSeen', routes);

  const registry = new Registry();
  registry.setDefaultLabels({ service: options.service });
  // The event-loop-delay histogram samples with a timer of this period; prom-client's default (10 ms) wakes an idle
  // process 100 times a second for each server, most of an idle node's CPU. Once a second still records how late
  // the loop runs (each sample is the delay at a random moment), with a hundredth of the wake-ups.
  collectDefaultMetrics({ register: registry, eventLoopMonitoringPrecision: EVENT_LOOP_SAMPLE_MS });
  const requests = new Counter({
    name: 'ehmi_http_requests_total',
    help: 'HTTP requests answered, by method, route and status',
    labelNames: ['method', 'route', 'status'] as const,
    registers: [registry],
  });
  const duration = new Histogram({
    name: 'ehmi_http_request_duration_seconds',
    help: 'Time to answer an HTTP request',
    labelNames: ['method', 'route'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });
  app.decorate('metrics', registry);
  app.addHook('onResponse', async (request, reply) => {
    const route = request.routeOptions.url ?? 'unmatched';
    requests.inc({ method: request.method, route, status: String(reply.statusCode) });
    duration.observe({ method: request.method, route }, reply.elapsedTime / 1000);
  });

  app.setErrorHandler((error: FastifyError | EhmiError, request, reply) => {
    const err = error instanceof EhmiError ? error : fromFastifyError(error);
    request.auditFailure = err.code;
    if (err.status >= 500) request.log.error({ err: error }, 'request failed');
    else request.log.info({ code: err.code, msg: err.message }, 'request refused');
    return reply.status(err.status).type(FHIR_JSON).send(toOperationOutcome(err));
  });
  app.setNotFoundHandler((request, reply) => {
    const err = new EhmiError(
      'EHMI_NOT_FOUND',
      `no route for ${request.method} ${request.url.split('?')[0]}`,
    );
    return reply.status(404).type(FHIR_JSON).send(toOperationOutcome(err));
  });

  app.get(
    '/health',
    {
      schema: {
        summary: 'Readiness: 200 when the server can do its work, 503 with the reason when not',
        security: [],
        responses: {
          '200': { description: 'Ready', content: { 'application/json': { schema: HEALTH } } },
          '503': { description: 'Not ready', content: { 'application/json': { schema: HEALTH } } },
        },
      },
    },
    async (_request, reply) => {
      try {
        await options.readiness?.();
        return reply.send({ status: 'ok', service: options.service });
      } catch (err) {
        return reply
          .status(503)
          .send({ status: 'unavailable', service: options.service, reason: (err as Error).message });
      }
    },
  );
  app.get(
    '/metrics',
    {
      schema: {
        summary: 'Prometheus metrics (text format); the operator only',
        responses: {
          '200': { description: 'Metrics', content: { 'text/plain': { schema: { type: 'string' } } } },
        },
      },
      onRequest: options.metricsAccess,
    },
    async (_request, reply) => reply.type(registry.contentType).send(await registry.metrics()),
  );
  return app;
}

declare module 'fastify' {
  interface FastifyInstance {
    /** This server's Prometheus registry; roles add their own metrics to it. */
    metrics: Registry;
    /** Every route registered on this server (but fastify's automatic HEAD routes), as its OpenAPI lists them. */
    routesSeen: readonly RouteSeen[];
  }
}

/** A host as it goes in a URL: a wildcard address becomes the loopback one, an IPv6 address gets brackets. */
export function hostForUrl(host: string): string {
  if (host === '0.0.0.0') return '127.0.0.1';
  if (host === '::') return '[::1]';
  return host.includes(':') ? `[${host}]` : host;
}

/**
 * Listen on `host:port` (port 0 picks a free one) and return the server's base URL, without a trailing slash:
 * `publicUrl` when the operator set one (a proxy in front), else the scheme, host and port actually bound.
 */
export async function listen(
  app: FastifyInstance,
  where: { host: string; port: number; https: boolean; publicUrl?: string | undefined },
): Promise<string> {
  await app.listen({ host: where.host, port: where.port });
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : where.port;
  const url = where.publicUrl ?? `${where.https ? 'https' : 'http'}://${hostForUrl(where.host)}:${port}`;
  return url.replace(/\/+$/, '');
}

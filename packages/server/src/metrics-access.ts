import type { TLSSocket } from 'node:tls';
import { EhmiError } from '@ehmi/errors';
import type { FastifyReply, FastifyRequest } from 'fastify';
import {
  AccessTokenVerifier,
  accessTokenVerifierOptions,
  isNetworkOperator,
  requireAccessToken,
} from './authz.ts';
import type { RoleContext } from './roles.ts';
import { requireClientCertificate } from './trust.ts';

/**
 * The scope of `GET /metrics` on every server of the node. No EHMI document names one (the metrics are the node's
 * own); the network's own, in the style of the MSH's `msh/messages.read`.
 */
export const METRICS_SCOPE = 'ehmi/metrics.read';

/** Who may read a server's `/metrics`: the `metricsAccess` of `createHttpServer`. */
export interface MetricsAccess {
  /** The `onRequest` hook of `GET /metrics`. */
  hook: (request: FastifyRequest, reply: FastifyReply) => Promise<void>;
  /** Release the verifier's connections to the issuer, when it made one. */
  close(): Promise<void>;
}

/**
 * `/metrics` for the operator only (docs/architecture.md "Who is asking"). With the node's `authorization`: a TLS
 * client certificate the server's TLS verified (meant for TLS clients, not revoked), then a certificate-bound access
 * token for this server (`audience`) with {@link METRICS_SCOPE}, of a client of `authorization.operatorClients`.
 * The server must ask for client certificates (`askForClientCertificate`), and serve HTTPS: over plain HTTP no token
 * can be bound, so `/metrics` is refused there. Without `authorization`, `/metrics` is refused (403) unless the
 * node's `insecure` development switch is set; `/health` stays open either way.
 *
 * @example
 * const metrics = metricsAccess(ctx, { service: 'ap', audience: () => [url], anchorsKey: 'tls.ca' });
 * const app = await createHttpServer({ …, metricsAccess: metrics.hook });
 */
export function metricsAccess(
  ctx: Pick<RoleContext, 'node' | 'tls' | 'revocation' | 'logger'>,
  options: OperatorAccessOptions,
): MetricsAccess {
  return operatorAccess(ctx, { ...options, scope: METRICS_SCOPE, what: '/metrics' });
}

/** Where an operator-only endpoint is served (see {@link metricsAccess}). */
export interface OperatorAccessOptions {
  /** Names the server in the warning of an insecure node. */
  service: string;
  /** The server's own URL(s), known once it listens: the token's audience. */
  audience: () => string[];
  /** The config key of the CAs the server asks client certificates under (for the error). */
  anchorsKey: string;
  /**
   * The verifier of the server's own API, when it has one for the same audience: reused, so that the issuer's
   * metadata and keys are fetched once per server. Otherwise one is made at the first request.
   */
  verifier?: () => AccessTokenVerifier | undefined;
}

/**
 * An endpoint for the operator only, as `/metrics` is ({@link metricsAccess}): a certificate-bound access token of
 * scope `scope` from a client of `authorization.operatorClients`; `what` names the endpoint in refusals. The audit
 * log's search (`audit/search.ts`) is one.
 */
export function operatorAccess(
  ctx: Pick<RoleContext, 'node' | 'tls' | 'revocation' | 'logger'>,
  options: OperatorAccessOptions & { scope: string; what: string },
): MetricsAccess {
  const { what, scope } = options;
  const authorization = ctx.node.authorization;
  if (!authorization) {
    if (ctx.node.insecure) {
      ctx.logger.warn(
        { service: options.service, insecure: true },
        `INSECURE (development): ${options.service} serves ${what} to anyone (the node has no authorization configured)`,
      );
      return { hook: async () => {}, close: async () => {} };
    }
    return {
      hook: async () => {
        throw new EhmiError(
          'EHMI_FORBIDDEN',
          `the node has no authorization configured, so ${what} is served to no one: set authorization (the operator reads it with a certificate-bound access token of scope ${scope}), or insecure: true for development only`,
        );
      },
      close: async () => {},
    };
  }
  const operators = new Set(authorization.operatorClients);
  const certificate = requireClientCertificate({
    revocation: ctx.revocation,
    anchorsKey: options.anchorsKey,
    bearer: true,
  });
  let own: AccessTokenVerifier | undefined;
  let token: { of: AccessTokenVerifier; hook: ReturnType<typeof requireAccessToken> } | undefined;
  return {
    async hook(request, reply) {
      if (!(request.raw.socket as Partial<TLSSocket>).encrypted) {
        throw new EhmiError(
          'EHMI_FORBIDDEN',
          `${options.service} serves plain HTTP, where no access token can be bound to a client certificate (RFC 8705), so ${what} is served to no one here`,
        );
      }
      await certificate(request, reply);
      own ??= options.verifier
        ? undefined
        : new AccessTokenVerifier(
            accessTokenVerifierOptions(authorization, {
              audience: options.audience(),
              ...(ctx.tls && ctx.tls.ca.length > 0 ? { ca: ctx.tls.ca } : {}),
            }),
          );
      const verifier = options.verifier?.() ?? own;
      if (!verifier) throw new EhmiError('EHMI_UNAVAILABLE', `${options.service} is starting`);
      if (token?.of !== verifier) {
        token = { of: verifier, hook: requireAccessToken(verifier, { scope: () => scope }) };
      }
      await token.hook(request, reply);
      const clientId = request.access!.clientId;
      if (!isNetworkOperator(request.access!, operators)) {
        throw new EhmiError(
          'EHMI_FORBIDDEN',
          `client ${clientId} is not one of authorization.operatorClients: ${what} is the operator's`,
        );
      }
    },
    async close() {
      await own?.close();
    },
  };
}

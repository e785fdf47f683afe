import { EhmiError } from '@ehmi/errors';
import type { FastifyReply, FastifyRequest } from 'fastify';
import {
  AccessTokenVerifier,
  accessTokenVerifierOptions,
  type RequireAccessTokenOptions,
  requireAccessToken,
} from './authz.ts';
import type { HttpsOptions } from './http/index.ts';
import type { RoleContext } from './roles.ts';
import { SMART_CONFIGURATION_PATH } from './smart-configuration.ts';
import { askForClientCertificate, requireClientCertificate } from './trust.ts';

/**
 * Paths of every role's server that this hook lets through: they need neither certificate nor token, but `/metrics`,
 * which has its own check (the operator's token, `metrics-access.ts`).
 */
export const OPEN_PATHS: ReadonlySet<string> = new Set([
  '/health',
  '/openapi.json',
  SMART_CONFIGURATION_PATH,
  '/metrics',
]);

/** How a FHIR resource server of the node (EER, EAS) is protected. */
export interface ResourceProtection {
  /** The HTTPS options its server listens with. */
  tls: HttpsOptions | undefined;
  /**
   * The `onRequest` hook: a TLS client certificate issued under the node's `tls.ca`, then an access token for this
   * server with the scope the request needs. Undefined when the node has no `authorization`: the API is open.
   */
  hook: ((request: FastifyRequest, reply: FastifyReply) => Promise<void>) | undefined;
  /** Once the server listens: without `authorization`, warn that the API is not protected by access tokens. */
  started(): void;
  /** Release the verifier's connections to the issuer. */
  close(): Promise<void>;
  /** The access token verifier (made at its first use); undefined without `authorization`. */
  verifier(): AccessTokenVerifier | undefined;
}

/**
 * The protection of a resource server of the node (docs/architecture.md "Who is asking"; FAPI 2.0 §5.3.3): with
 * the node's `authorization` set, the server asks for a client certificate (checked against `tls.ca`, purpose,
 * revocation) and every request outside `open` needs a certificate-bound access token whose audience is one of
 * `audience` (the server's URLs, known only once it listens, hence a function). Without `authorization` it serves as
 * before, and says at start that the API is not protected by access tokens.
 */
export function protectResourceServer(
  ctx: Pick<RoleContext, 'node' | 'tls' | 'revocation' | 'logger'>,
  options: {
    role: string;
    audience: () => string[];
    scope: RequireAccessTokenOptions['scope'];
    open: ReadonlySet<string>;
  },
): ResourceProtection {
  const authorization = ctx.node.authorization;
  const log = ctx.logger.child({ role: options.role });
  if (!authorization) {
    return {
      tls: ctx.tls ? { key: ctx.tls.key, cert: ctx.tls.cert, ca: ctx.tls.ca } : undefined,
      hook: undefined,
      started: () =>
        log.warn(
          `${options.role}: the node has no authorization configured, so the ${options.role} API is not protected by access tokens`,
        ),
      close: async () => {},
      verifier: () => undefined,
    };
  }
  // RFC 8705: a certificate-bound token is checked against the TLS client certificate, so there must be TLS.
  if (!ctx.tls || ctx.tls.ca.length === 0) {
    throw new EhmiError(
      'EHMI_CONFIG_INVALID',
      `tls: the ${options.role} role checks certificate-bound access tokens (authorization is set), so it needs tls.cert, tls.key and tls.ca (the CAs of its clients' certificates)`,
    );
  }
  let verifier: AccessTokenVerifier | undefined;
  const verifierOf = () => {
    verifier ??= new AccessTokenVerifier(
      accessTokenVerifierOptions(authorization, { audience: options.audience(), ca: ctx.tls?.ca }),
    );
    return verifier;
  };
  const certificate = requireClientCertificate({
    revocation: ctx.revocation,
    anchorsKey: 'tls.ca',
    open: options.open,
    bearer: true,
  });
  let token: ReturnType<typeof requireAccessToken> | undefined;
  return {
    tls: askForClientCertificate(ctx.tls, ctx.tls.ca),
    async hook(request, reply) {
      await certificate(request, reply);
      token ??= requireAccessToken(verifierOf(), { scope: options.scope, open: options.open });
      await token(request, reply);
    },
    started: () => {},
    async close() {
      await verifier?.close();
    },
    verifier: verifierOf,
  };
}

/** An `insufficient_scope` refusal (RFC 6750 §3.1) from a handler, once the body says what the request needs. */
export function insufficientScope(
  reply: FastifyReply,
  needed: readonly string[],
  message: string,
): EhmiError {
  const scope = needed.join(' ');
  reply.header(
    'www-authenticate',
    `Bearer error="insufficient_scope", error_description="${message.replace(/[^\x20-\x7e]|["\\]/g, ' ')}", scope="${scope}"`,
  );
  return new EhmiError('EHMI_FORBIDDEN', message, {
    details: { oauthError: 'insufficient_scope', scope },
  });
}

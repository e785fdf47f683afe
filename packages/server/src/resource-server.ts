import { EhmiError } from '@ehmi/errors';
import type { FastifyReply, FastifyRequest } from 'fastify';
import {
  AccessTokenVerifier,
  accessTokenVerifierOptions,
  type RequireAccessTokenOptions,
  requireAccessToken,
} from './authz.ts';
import type { HttpsOptions } from './http/index.ts';
import { type RoleContext, requireTrustConfiguration } from './roles.ts';
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

/** How a resource server of the node (EER, EAS, the SMP's admin API) is protected. */
export interface ResourceProtection {
  /** The HTTPS options its server listens with. */
  tls: HttpsOptions | undefined;
  /**
   * The `onRequest` hook: a TLS client certificate issued under the node's `tls.ca`, then an access token for this
   * server with the scope the request needs. Undefined when the node has no `authorization` (allowed only under the
   * node's `insecure` development switch): the API is then not protected by access tokens.
   */
  hook: ((request: FastifyRequest, reply: FastifyReply) => Promise<void>) | undefined;
  /** Release the verifier's connections to the issuer. */
  close(): Promise<void>;
  /** The access token verifier (made at its first use); undefined without `authorization`. */
  verifier(): AccessTokenVerifier | undefined;
}

/**
 * The protection of a resource server of the node (docs/architecture.md "Who is asking"; FAPI 2.0 §5.3.3): the
 * server asks for a client certificate (checked against `tls.ca`, purpose, revocation) and every request outside
 * `open` (and that `covers`, when given) needs a certificate-bound access token whose audience is one of `audience`
 * (the server's URLs, known only once it listens, hence a function), with the scope `scope` names.
 *
 * Fail closed: without the node's `authorization` the role refuses to start (EHMI_CONFIG_INVALID), unless the node's
 * `insecure` development switch is set; then it serves without tokens, and says so once (INSECURE).
 */
export function protectResourceServer(
  ctx: Pick<RoleContext, 'node' | 'tls' | 'revocation' | 'logger'>,
  options: {
    role: string;
    /** What the API is, for the refusal and the warning (`the EER API`, `the SMP admin API`). */
    api?: string;
    audience: () => string[];
    scope: RequireAccessTokenOptions['scope'];
    open: ReadonlySet<string>;
    /** The requests this protection is for; default every request outside `open`. */
    covers?: (request: FastifyRequest) => boolean;
    /** The server limits what it serves to a token's patient (`RequireAccessTokenOptions`); default false. */
    honoursPatientRestriction?: boolean;
  },
): ResourceProtection {
  const authorization = ctx.node.authorization;
  const api = options.api ?? `the ${options.role} API`;
  requireTrustConfiguration(ctx, options.role, {
    missing: !authorization,
    refusal: `authorization: the ${options.role} role serves ${api} only to clients with an access token of the node's authorization server (authorization.issuer)`,
    insecureNote: `${api} is served without access tokens (the node has no authorization)`,
  });
  if (!authorization) {
    return {
      tls: ctx.tls ? { key: ctx.tls.key, cert: ctx.tls.cert, ca: ctx.tls.ca } : undefined,
      hook: undefined,
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
      if (options.covers && !options.covers(request)) return;
      await certificate(request, reply);
      token ??= requireAccessToken(verifierOf(), {
        scope: options.scope,
        open: options.open,
        honoursPatientRestriction: options.honoursPatientRestriction ?? false,
      });
      await token(request, reply);
    },
    async close() {
      await verifier?.close();
    },
    verifier: verifierOf,
  };
}

import type { TLSSocket } from 'node:tls';
import { asEhmiError, EhmiError } from '@ehmi/errors';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Provider } from 'oidc-provider';
import { createHttpServer, listen, peerCertificatePath, timeoutsOf } from '../http/index.ts';
import { metricsAccess } from '../metrics-access.ts';
import { type Role, type RoleContext, requireTrustConfiguration } from '../roles.ts';
import { askForClientCertificate, checkTlsClientCertificate } from '../trust.ts';
import type { AuthConfig } from './config.ts';
import { type SigningKey, SigningKeys } from './keys.ts';
import { buildProvider } from './provider.ts';
import type { AuthTables } from './tables.ts';

export { organisationClaims } from './claims.ts';
export type { AuthClient, AuthConfig } from './config.ts';
export { jwkThumbprint, type SigningKey } from './keys.ts';
export { subjectMatches } from './subject.ts';

/** How often an instance looks for a due rotation and for keys another instance added. */
const KEY_CHECK_MS = 60_000;

export interface AuthDeps {
  /** Clock of key rotation and expiry; tests fix it. */
  now?: () => number;
}

export interface AuthRole extends Role {
  /** The issuer identifier (valid after `start()`). */
  readonly issuer: string;
  /** Add a signing key that signs from now on (operators after a suspected compromise; tests). */
  rotateKeys(): Promise<void>;
  /** Rotate when due and drop expired keys now (what the role's timer does every minute). */
  maintainKeys(): Promise<void>;
  /** The keys kept, oldest first; the last one signs. */
  signingKeys(): readonly SigningKey[];
}

const OAUTH_ERROR = {
  type: 'object',
  required: ['error'],
  properties: { error: { type: 'string' }, error_description: { type: 'string' } },
};
const json = (description: string, schema: object = { type: 'object' }) => ({
  description,
  content: { 'application/json': { schema } },
});
const OAUTH_ROUTES = [
  {
    method: 'GET' as const,
    url: '/.well-known/oauth-authorization-server',
    summary: 'Authorization server metadata (RFC 8414)',
    responses: { '200': json('Metadata') },
  },
  {
    method: 'GET' as const,
    url: '/.well-known/openid-configuration',
    summary: 'Authorization server metadata (OpenID Connect Discovery form)',
    responses: { '200': json('Metadata') },
  },
  {
    method: 'GET' as const,
    url: '/jwks',
    summary: 'The public keys access tokens are signed with (JWKS)',
    responses: { '200': json('JWK Set') },
  },
  {
    method: 'POST' as const,
    url: '/token',
    summary: 'Token endpoint: client_credentials over mutual TLS (tls_client_auth), certificate-bound JWT',
    responses: {
      '200': json('Access token'),
      '400': json('invalid_request, invalid_scope, invalid_target …', OAUTH_ERROR),
      '401': json('invalid_client', OAUTH_ERROR),
    },
  },
];

/**
 * The authorization server (docs/specs/security.md 1a–1c): FAPI 2.0 with mutual TLS only, standing in for the
 * national one. Statically registered system clients authenticate with their certificate (`tls_client_auth`) and
 * get, with the client credentials grant, a JWT access token for one resource server, bound to that certificate.
 *
 * @example
 * const auth = await createAuthRole(ctx);
 * await auth.start(); // metadata at `${auth.issuer}/.well-known/oauth-authorization-server`
 */
export async function createAuthRole(
  ctx: RoleContext<AuthConfig, AuthTables>,
  deps: AuthDeps = {},
): Promise<AuthRole> {
  const cfg = ctx.config;
  const log = ctx.logger.child({ role: 'auth' });
  checkClients(cfg);
  // Fail closed (docs/architecture.md "Who is asking"): clients authenticate by their TLS certificate only.
  const anchors = ctx.tls?.ca ?? [];
  requireTrustConfiguration({ node: ctx.node, logger: log }, 'auth', {
    missing: !ctx.tls || anchors.length === 0,
    refusal:
      'tls: the auth role authenticates clients by mutual TLS and needs the node’s tls certificate, key and ca (the CAs of client certificates)',
    insecureNote: 'the authorization server runs without mutual TLS and can authenticate no client',
  });
  // A client without a certificate gets invalid_client, not a failed handshake.
  const tls = ctx.tls && askForClientCertificate(ctx.tls, anchors);
  let url = '';
  const metrics = metricsAccess(ctx, { service: 'auth', audience: () => [url], anchorsKey: 'tls.ca' });
  const app = await createHttpServer({
    service: 'auth',
    audit: ctx.audit,
    logger: log,
    bodyLimitBytes: ctx.node.http.bodyLimitBytes,
    timeouts: timeoutsOf(ctx.node.http),
    openapi: {
      title: 'EHMI authorization server',
      description:
        'FAPI 2.0, mutual TLS (tls_client_auth), certificate-bound client-credentials access tokens',
    },
    readiness: () => ctx.store.ping(),
    metricsAccess: metrics.hook,
    ...(tls ? { tls } : {}),
  });

  const now = deps.now ?? Date.now;
  const keyStore = new SigningKeys(ctx.store, {
    alg: cfg.signingAlg,
    rotationDays: cfg.keyRotationDays,
    tokenTtlSeconds: cfg.accessTokenTtlSeconds,
    now,
  });
  let issuer = '';
  let keys: SigningKey[] = [];
  let provider: Provider | undefined;
  let handle: ReturnType<Provider['callback']> | undefined;
  const useKeys = (next: SigningKey[]) => {
    const same = next.length === keys.length && next.every((k, i) => k.kid === keys[i]!.kid);
    if (same && provider) return;
    keys = next;
    provider = buildProvider({ issuer, config: cfg, keys });
    provider.on('server_error', (_ctx, err) => log.error({ err }, 'authorization server error'));
    provider.on('grant.error', (_ctx, err) =>
      log.info({ err: (err as Error).message, code: (err as { error?: string }).error }, 'token refused'),
    );
    handle = provider.callback();
    log.info({ signer: keys.at(-1)?.kid, keys: keys.length }, 'auth signing keys loaded');
  };

  await app.register(async (scope: FastifyInstance) => {
    // oidc-provider is a koa application that reads and parses its own request bodies. Its routes are fastify
    // routes here (so /health, /metrics, the OpenAPI document and fastify's timeouts stay as on every server) whose
    // handlers hand the untouched request to provider.callback(): these parsers leave the body stream unread.
    scope.addContentTypeParser('*', (_request, _payload, done) => done(null, undefined));
    scope.addContentTypeParser('application/x-www-form-urlencoded', (_request, _payload, done) =>
      done(null, undefined),
    );
    scope.addContentTypeParser('application/json', (_request, _payload, done) => done(null, undefined));
    for (const route of OAUTH_ROUTES) {
      scope.route({
        method: route.method,
        url: route.url,
        schema: { summary: route.summary, security: [], responses: route.responses } as object,
        ...(route.url === '/token' ? { preHandler: checkClientCertificate } : {}),
        handler: async (request, reply) => {
          if (!handle) throw new EhmiError('EHMI_UNAVAILABLE', 'the authorization server is starting');
          reply.hijack();
          handle(request.raw, reply.raw);
        },
      });
    }
  });

  // A certificate node's TLS verified is a client's credential only when it is meant for TLS client authentication
  // and not revoked (docs/architecture.md "Who is asking"); oidc-provider's own hooks are synchronous, so the
  // asynchronous revocation check runs here, before the request reaches it.
  async function checkClientCertificate(request: FastifyRequest, reply: FastifyReply): Promise<void> {
    const socket = request.raw.socket as TLSSocket;
    // No verified certificate (none, another CA's, or a resumed session without one): oidc-provider answers
    // invalid_client.
    if (!socket.authorized || peerCertificatePath(socket).length === 0) return;
    try {
      await checkTlsClientCertificate(socket, ctx.revocation);
    } catch (err) {
      const e = asEhmiError(err);
      log.info({ code: e.code, msg: e.message }, 'client certificate refused');
      // RFC 6749 §5.2: a failed client authentication is invalid_client, 401.
      await reply
        .status(401)
        .header('cache-control', 'no-store')
        .send({ error: 'invalid_client', error_description: e.message });
    }
  }

  let timer: NodeJS.Timeout | undefined;
  const maintainKeys = async () => useKeys(await keyStore.maintain());

  return {
    name: 'auth',
    app,
    get url() {
      return url;
    },
    get issuer() {
      return issuer;
    },
    signingKeys: () => keys,
    maintainKeys,
    async rotateKeys() {
      useKeys(await keyStore.rotate());
      log.info({ signer: keys.at(-1)?.kid }, 'auth signing key rotated');
    },
    async start() {
      url = await listen(app, { host: cfg.host, port: cfg.port, https: !!tls });
      issuer = (cfg.issuer ?? url).replace(/\/+$/, '');
      await maintainKeys();
      timer = setInterval(() => {
        maintainKeys().catch((err) => log.error({ err }, 'auth key maintenance failed'));
      }, KEY_CHECK_MS);
      timer.unref();
      log.info({ url, issuer, clients: cfg.clients.length }, 'authorization server started');
    },
    async close() {
      clearInterval(timer);
      await app.close();
      await metrics.close();
    },
  };
}

/** Refuse a config whose clients cannot work: a duplicate client id, or a scope no resource offers. */
function checkClients(cfg: AuthConfig): void {
  const offered = new Set(Object.values(cfg.resources).flatMap((s) => s.split(' ')));
  const ids = new Set<string>();
  cfg.clients.forEach((client, i) => {
    if (ids.has(client.clientId)) {
      throw new EhmiError(
        'EHMI_CONFIG_INVALID',
        `auth.clients.${i}.clientId: ${client.clientId} is registered twice`,
      );
    }
    ids.add(client.clientId);
    for (const s of client.scope.split(' ')) {
      if (!offered.has(s)) {
        throw new EhmiError(
          'EHMI_CONFIG_INVALID',
          `auth.clients.${i}.scope: no resource in auth.resources offers the scope ${s}`,
        );
      }
    }
  });
}

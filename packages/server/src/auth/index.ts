import { createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { asEhmiError, EhmiError } from '@ehmi/errors';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Provider } from 'oidc-provider';
import type { Logger } from 'pino';
import { clientCertificateOf, createHttpServer, listen, timeoutsOf } from '../http/index.ts';
import { metricsAccess } from '../metrics-access.ts';
import { type Role, type RoleContext, requireTrustConfiguration } from '../roles.ts';
import { askForClientCertificate, checkTlsClientCertificate } from '../trust.ts';
import { Accounts } from './accounts.ts';
import { purgeExpiredOidcRecords } from './adapter.ts';
import type { AuthConfig } from './config.ts';
import { type SigningKey, SigningKeys } from './keys.ts';
import { registerLogin } from './login.ts';
import { buildProvider, OIDC_SCOPES } from './provider.ts';
import type { AuthTables } from './tables.ts';

export {
  ACCOUNT_ROLES,
  type Account,
  type AccountRole,
  Accounts,
  checkNewAccount,
  type NewAccount,
} from './accounts.ts';
export { organisationClaims } from './claims.ts';
export type { AuthClient, AuthConfig } from './config.ts';
export { jwkThumbprint, type SigningKey } from './keys.ts';
export { generatePassword } from './passwords.ts';
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
  /** The accounts of the people who sign in here. */
  readonly accounts: Accounts;
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
const OAUTH_ROUTES: {
  method: 'GET' | 'POST';
  url: string;
  summary: string;
  responses: Record<string, object>;
  /** The client authenticates with its certificate on this endpoint. */
  client?: boolean;
}[] = [
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
    summary:
      'Token endpoint over mutual TLS (tls_client_auth): client_credentials, authorization_code, refresh_token; certificate-bound JWT',
    responses: {
      '200': json('Access token'),
      '400': json('invalid_request, invalid_scope, invalid_target …', OAUTH_ERROR),
      '401': json('invalid_client', OAUTH_ERROR),
    },
    client: true,
  },
  {
    method: 'POST' as const,
    url: '/request',
    summary: 'Pushed authorization request (RFC 9126) over mutual TLS; required before /auth (FAPI 2.0)',
    responses: { '201': json('request_uri and expires_in'), '400': json('invalid_request …', OAUTH_ERROR) },
    client: true,
  },
  {
    method: 'GET' as const,
    url: '/auth',
    summary: 'Authorization endpoint: a pushed request by its request_uri, the person signs in',
    responses: { '303': { description: 'To the sign-in page, or back to the client with a code' } },
  },
  {
    method: 'GET' as const,
    url: '/auth/:uid',
    summary: 'Where the sign-in page sends the browser back to',
    responses: { '303': { description: 'Back to the client with a code or an error' } },
  },
  {
    method: 'POST' as const,
    url: '/token/revocation',
    summary: 'Token revocation (RFC 7009) over mutual TLS: a client ends a sign-in',
    responses: { '200': { description: 'Revoked (or unknown)' } },
    client: true,
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
  const accounts = new Accounts(ctx.store, { now });
  let issuer = '';
  let keys: SigningKey[] = [];
  // The keys of the provider's cookies and of the sign-in form's token: derived from the signing keys, so that
  // every instance on one database has them and they change with the keys (newest first).
  const cookieKeys = () =>
    [...keys]
      .reverse()
      .map((k) =>
        createHmac('sha256', JSON.stringify(k.jwk)).update('ehmi auth cookies').digest('base64url'),
      );
  let provider: Provider | undefined;
  let handle: ReturnType<Provider['callback']> | undefined;
  const useKeys = (next: SigningKey[]) => {
    const same = next.length === keys.length && next.every((k, i) => k.kid === keys[i]!.kid);
    if (same && provider) return;
    keys = next;
    provider = buildProvider({
      issuer,
      config: cfg,
      keys,
      store: ctx.store,
      accounts,
      cookieKeys: cookieKeys(),
      now,
    });
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
        ...(route.client ? { preHandler: checkClientCertificate } : {}),
        handler: async (request, reply) => {
          if (!handle) throw new EhmiError('EHMI_UNAVAILABLE', 'the authorization server is starting');
          reply.hijack();
          handle(request.raw, reply.raw);
        },
      });
    }
  });

  await registerLogin(app, {
    provider: () => provider,
    accounts,
    origin: () => new URL(issuer || url).origin,
    clientOrigins: [...new Set(cfg.clients.flatMap((c) => c.redirectUris.map((u) => new URL(u).origin)))],
    formKey: () => Buffer.from(cookieKeys()[0] ?? ''),
    logger: log,
  });

  // A certificate node's TLS verified is a client's credential only when it is meant for TLS client authentication
  // and not revoked (docs/architecture.md "Who is asking"); oidc-provider's own hooks are synchronous, so the
  // asynchronous revocation check runs here, before the request reaches it.
  async function checkClientCertificate(request: FastifyRequest, reply: FastifyReply): Promise<void> {
    // No verified certificate (none, another CA's, or a resumed session without one): oidc-provider answers
    // invalid_client. The certificate is the one presented, or the one a trusted proxy forwarded.
    if (!clientCertificateOf(request.raw).verified) return;
    try {
      await checkTlsClientCertificate(request.raw, ctx.revocation);
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
  const maintainKeys = async () => {
    useKeys(await keyStore.maintain());
    // The code flow's records past their expiry (oidc-provider finds none of them any more).
    const purged = await purgeExpiredOidcRecords(ctx.store, now());
    if (purged > 0) log.debug({ purged }, 'expired authorization records purged');
  };

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
    accounts,
    maintainKeys,
    async rotateKeys() {
      useKeys(await keyStore.rotate());
      log.info({ signer: keys.at(-1)?.kid }, 'auth signing key rotated');
    },
    async start() {
      await createConfiguredAccounts(cfg, accounts, log);
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

/** The accounts `auth.accounts` names that do not exist yet, made with the password of their file. */
async function createConfiguredAccounts(cfg: AuthConfig, accounts: Accounts, log: Logger): Promise<void> {
  for (const [i, a] of cfg.accounts.entries()) {
    if (await accounts.find(a.username)) continue;
    let password: string;
    try {
      password = (readFileSync(a.passwordFile, 'utf8').split(/\r?\n/)[0] ?? '').trim();
    } catch (err) {
      throw new EhmiError(
        'EHMI_CONFIG_INVALID',
        `auth.accounts.${i}.passwordFile: cannot read ${a.passwordFile}: ${(err as Error).message}`,
      );
    }
    await accounts.create({
      username: a.username,
      password,
      name: a.name,
      roles: a.roles,
      ...(a.organisation ? { organisation: a.organisation } : {}),
    });
    log.info({ user: a.username, roles: a.roles }, 'account created');
  }
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
    const signsIn = client.grantTypes.includes('authorization_code');
    if (signsIn && (client.redirectUris.length === 0 || !client.grantTypes.includes('refresh_token'))) {
      throw new EhmiError(
        'EHMI_CONFIG_INVALID',
        `auth.clients.${i}: a client of the authorization_code grant needs its redirectUris and the refresh_token grant`,
      );
    }
    for (const uri of client.redirectUris) {
      if (!uri.startsWith('https://')) {
        throw new EhmiError('EHMI_CONFIG_INVALID', `auth.clients.${i}.redirectUris: ${uri} is not https`);
      }
    }
    for (const s of client.scope.split(' ')) {
      if (signsIn && (OIDC_SCOPES as readonly string[]).includes(s)) continue;
      if (!offered.has(s)) {
        throw new EhmiError(
          'EHMI_CONFIG_INVALID',
          `auth.clients.${i}.scope: no resource in auth.resources offers the scope ${s}`,
        );
      }
    }
  });
}

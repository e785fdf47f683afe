import type { X509Certificate } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { errors, interactionPolicy, Provider } from 'oidc-provider';
import { clientCertificateOf } from '../http/index.ts';
import type { Account, Accounts } from './accounts.ts';
import { databaseAdapter } from './adapter.ts';
import { organisationClaims } from './claims.ts';
import type { AuthClient, AuthConfig } from './config.ts';
import type { SigningKey } from './keys.ts';
import { interactionPath } from './login.ts';
import { PATIENT_DETAILS_TYPE, patientClaims, patientDetailsOf, validatePatientDetail } from './patient.ts';
import { subjectMatches } from './subject.ts';
import type { AuthStore } from './tables.ts';

/** What oidc-provider hands its hooks (a koa context): the request's socket and the OAuth request. */
interface OidcContext {
  /** The node request (koa's `ctx.req`), whose client certificate `clientCertificateOf` resolved. */
  req?: IncomingMessage;
  oidc: {
    params?: { scope?: unknown; authorization_details?: unknown; grant_type?: unknown; resource?: unknown };
    client?: OidcClient;
    session?: { accountId?: string; grantIdFor(clientId: string): string | undefined };
    result?: { consent?: { grantId?: string } };
    resourceServers?: Record<string, unknown>;
    requestParamScopes?: Set<string>;
    provider: {
      Grant: {
        new (options: { clientId: string; accountId: string }): OidcGrant;
        find(id: string): Promise<OidcGrant | undefined>;
      };
    };
  };
}

interface OidcGrant {
  addOIDCScope(scope: string): void;
  addResourceScope(resource: string, scope: string): void;
  save(): Promise<string>;
}

interface OidcClient {
  clientId: string;
  scope?: string;
}

interface OidcToken {
  clientId?: string;
  /** The person the token is for (authorization code flow); none for client credentials. */
  accountId?: string;
  /** The token's authorization details (RFC 9396), as `authorizationDetailsForAccessToken` gave them. */
  rar?: unknown;
}

const scopesOf = (list: string | undefined): string[] => (list ?? '').split(' ').filter(Boolean);

/** The OpenID Connect scopes of a client that signs people in; no resource offers them. */
export const OIDC_SCOPES = ['openid', 'profile', 'offline_access'] as const;

/** The claims of a person's tokens: the roles and, for an organisation's user, its organisation. */
export const ROLES_CLAIM = 'ehmi:roles';

/** The claims a person's tokens carry (id token and access tokens): roles, organisation, name. */
export function accountClaims(account: Account): Record<string, unknown> {
  const org = account.organisation;
  return {
    [ROLES_CLAIM]: [...account.roles],
    ...(org
      ? {
          'ehmi:org_context': [{ ...(org.name ? { name: org.name } : {}), sor: org.sor, gln: org.gln }],
          ...(org.name ? { org_name: org.name } : {}),
        }
      : {}),
  };
}

/**
 * The interaction policy: sign in, and no consent prompt. Every client is registered by this server's operator,
 * which is the consent; what a person is granted is decided by their roles (loadExistingGrant), never asked.
 */
function signInOnly() {
  const policy = interactionPolicy.base();
  policy.remove('consent');
  return policy;
}

/** The scopes a person with these roles may be granted (`auth.userScopes`), whichever resource offers them. */
function userScopes(config: AuthConfig, account: Account): Set<string> {
  return new Set(account.roles.flatMap((r) => scopesOf(config.userScopes[r])));
}

/** The client's certificate: presented on the TLS connection, or forwarded by a trusted proxy (`clientCertificateOf`). */
function peerCertificate(ctx: OidcContext): X509Certificate | undefined {
  return ctx.req ? clientCertificateOf(ctx.req).path[0] : undefined;
}

/**
 * The oidc-provider of this authorization server: FAPI 2.0 (`features.fapi` profile '2.0'), clients authenticated by
 * mutual TLS only (RFC 8705 `tls_client_auth`, EHMI PDF §3: "alene OAuth-MTLS"), the client credentials grant for
 * system clients, and JWT access tokens (RFC 9068) per resource (RFC 8707) bound to the client certificate
 * (`cnf.x5t#S256`, RFC 8705 §3). A new provider is built whenever the signing keys change (its keystore is fixed).
 */
export function buildProvider(options: {
  issuer: string;
  config: AuthConfig;
  keys: readonly SigningKey[];
  /** Where the code flow's sessions, codes, grants and refresh tokens are kept. */
  store: AuthStore;
  accounts: Accounts;
  /** Keys of the provider's signed cookies, newest first (shared by every instance). */
  cookieKeys: readonly string[];
  now: () => number;
}): Provider {
  const { config, keys, accounts } = options;
  const signer = keys.at(-1);
  if (!signer) throw new Error('the authorization server has no signing key');
  const resources = new Map(Object.entries(config.resources).map(([aud, s]) => [aud, new Set(scopesOf(s))]));
  const clients = new Map<string, AuthClient>(config.clients.map((c) => [c.clientId, c]));
  const allScopes = new Set([
    ...[...resources.values()].flatMap((s) => [...s]),
    ...config.clients.flatMap((c) => scopesOf(c.scope)),
  ]);
  const requested = (ctx: OidcContext) =>
    typeof ctx.oidc.params?.scope === 'string' ? scopesOf(ctx.oidc.params.scope) : [];

  const codeFlow = (ctx: OidcContext) => ctx.oidc.params?.grant_type !== 'client_credentials';
  const ttl = config.userSessionTtlSeconds;

  return new Provider(options.issuer, {
    clients: config.clients.map((c) => ({
      client_id: c.clientId,
      // EHMI PDF §3.3: static enrolment, tls_client_auth, client_credentials for system clients; a client that
      // signs people in (the console) uses the authorization code grant instead, as a confidential client on mTLS.
      token_endpoint_auth_method: 'tls_client_auth',
      tls_client_auth_subject_dn: c.subjectDn,
      tls_client_certificate_bound_access_tokens: true,
      grant_types: c.grantTypes,
      response_types: c.grantTypes.includes('authorization_code') ? ['code'] : [],
      redirect_uris: c.redirectUris,
      scope: c.scope,
      // RFC 9396 §10: the authorization details types this client may ask for (none unless registered).
      authorization_details_types: c.authorizationDetailsTypes,
    })),
    // The code flow's state in the database (adapter.ts); client-credentials tokens are JWTs and never stored.
    adapter: databaseAdapter(options.store, options.now),
    clientAuthMethods: ['tls_client_auth'],
    cookies: {
      keys: [...options.cookieKeys],
      long: { httpOnly: true, sameSite: 'lax', signed: true },
      short: { httpOnly: true, sameSite: 'lax', signed: true },
    },
    // People sign in on this server's own page (login.ts); their accounts are auth_accounts (accounts.ts).
    interactions: {
      url: async (_ctx: unknown, interaction: { uid: string }) => interactionPath(interaction.uid),
      policy: signInOnly(),
    },
    findAccount: async (_ctx: unknown, sub: string) => {
      const account = await accounts.find(sub);
      // A disabled account is no account: its refresh tokens are refused from then on.
      if (!account || account.disabled) return undefined;
      return {
        accountId: account.username,
        claims: async () => ({ sub: account.username, name: account.name, ...accountClaims(account) }),
      };
    },
    claims: { openid: ['sub'], profile: ['name', ROLES_CLAIM, 'ehmi:org_context', 'org_name'] },
    // The id token carries the person's name, roles and organisation (the console has no userinfo call to make).
    conformIdTokenClaims: false,
    // Every client is registered statically by the operator of this server: consent is given by registering it.
    // The grant is the person's roles' scopes (auth.userScopes) for each resource asked for, as far as the
    // resource offers them and the client is registered for them.
    loadExistingGrant: async (ctx: OidcContext) => {
      const client = ctx.oidc.client;
      const accountId = ctx.oidc.session?.accountId;
      if (!client || !accountId) return undefined;
      const existing = ctx.oidc.result?.consent?.grantId ?? ctx.oidc.session?.grantIdFor(client.clientId);
      if (existing) {
        const grant = await ctx.oidc.provider.Grant.find(existing);
        if (grant) return grant;
      }
      const account = await accounts.find(accountId);
      if (!account || account.disabled) return undefined;
      const allowed = userScopes(config, account);
      const registered = new Set(scopesOf(client.scope));
      const grant = new ctx.oidc.provider.Grant({ clientId: client.clientId, accountId });
      grant.addOIDCScope(OIDC_SCOPES.filter((s) => registered.has(s)).join(' '));
      for (const resource of Object.keys(ctx.oidc.resourceServers ?? {})) {
        const offered = resources.get(resource) ?? new Set<string>();
        const scope = [...offered].filter((s) => allowed.has(s) && registered.has(s));
        if (scope.length > 0) grant.addResourceScope(resource, scope.join(' '));
      }
      await grant.save();
      return grant;
    },
    // A client of the refresh_token grant (the console) gets a refresh token with each sign-in, without asking for
    // offline access (which OpenID Connect ties to a consent prompt): it lives as long as the person's session at
    // this server (auth.userSessionTtlSeconds) and ends with it.
    issueRefreshToken: async (_ctx: unknown, client: { grantTypeAllowed(type: string): boolean }) =>
      client.grantTypeAllowed('refresh_token'),
    // RFC 9700 §4.14.2: a refresh token bound to the client's certificate (mTLS) need not rotate; not rotating
    // spares the console a race between two renewals of one session.
    rotateRefreshToken: false,
    // Every scope a resource offers or a client is registered for: a client asking for one it is not registered
    // for gets invalid_scope (oidc-provider checks the client's scope only for scopes it knows).
    scopes: [...allScopes],
    jwks: { keys: keys.map((k) => k.jwk) },
    // FAPI 2.0 §5.4: PS256, ES256 (or EdDSA); never none, never HS*.
    enabledJWA: {
      idTokenSigningAlgValues: ['PS256', 'ES256'],
      requestObjectSigningAlgValues: ['PS256', 'ES256'],
      authorizationSigningAlgValues: ['PS256', 'ES256'],
      introspectionSigningAlgValues: ['PS256', 'ES256'],
      userinfoSigningAlgValues: ['PS256', 'ES256'],
      clientAuthSigningAlgValues: ['PS256', 'ES256'],
    },
    // FAPI 2.0 §5.3.1.2: only the code flow; no implicit or hybrid response type is offered in the metadata.
    responseTypes: ['code'],
    // FAPI 2.0 §5.3.1.2: PKCE with S256 (oidc-provider requires it under the 2.0 profile and knows no other
    // method) and PAR: an authorization request is only taken by reference to one pushed before.
    pkce: { required: () => true },
    clientDefaults: {
      grant_types: ['client_credentials'],
      response_types: [],
      token_endpoint_auth_method: 'tls_client_auth',
      id_token_signed_response_alg: signer.alg,
    },
    features: {
      fapi: { enabled: true, profile: '2.0' },
      clientCredentials: { enabled: true },
      // EHMI binds tokens with mTLS only (EHMI PDF §4.2 decision); DPoP stays off.
      dPoP: { enabled: false },
      devInteractions: { enabled: false },
      pushedAuthorizationRequests: { enabled: true, requirePushedAuthorizationRequests: true },
      rpInitiatedLogout: { enabled: false },
      mTLS: {
        enabled: true,
        tlsClientAuth: true,
        certificateBoundAccessTokens: true,
        // The certificate the client presented on this TLS connection (the server asks for one; it does not
        // require one, so a client without gets an OAuth error rather than a failed handshake).
        getCertificate: (ctx: OidcContext) => peerCertificate(ctx)?.toString(),
        // Only a certificate verified against the node's CAs (by node's TLS, or a trusted proxy's forwarded one by
        // the server) authenticates a client.
        certificateAuthorized: (ctx: OidcContext) =>
          !!ctx.req && clientCertificateOf(ctx.req).verified && peerCertificate(ctx) !== undefined,
        certificateSubjectMatches: (ctx: OidcContext, property: string, expected: string) => {
          const cert = peerCertificate(ctx);
          return property === 'tls_client_auth_subject_dn' && !!cert && subjectMatches(cert, expected);
        },
      },
      // RFC 9396 on the client credentials grant: a client registered for `ehmi_patient` may ask for a token
      // restricted to one patient (`authorization_details=[{"type":"ehmi_patient","cpr":"…"}]`, patient.ts).
      richAuthorizationRequests: {
        enabled: true,
        types: {
          [PATIENT_DETAILS_TYPE]: {
            validate: (_ctx: OidcContext, detail: Record<string, unknown>) => validatePatientDetail(detail),
          },
        },
        authorizationDetailsForAccessToken: (ctx: OidcContext) =>
          patientDetailsOf(ctx.oidc.params?.authorization_details),
        // Only client credentials is enabled: there is no grant (code, refresh token) to carry details from, and
        // no introspection endpoint.
        authorizationDetailsForGrantSource: () => undefined,
        authorizationDetailsForIntrospection: () => undefined,
      },
      resourceIndicators: {
        enabled: true,
        // EHMI PDF §3.4.1: the token request need not name the resource; the AS derives the audience from the
        // scope. Without a `resource` parameter, the one resource offering every requested scope is meant.
        defaultResource: (ctx: OidcContext, _client: unknown, oneOf?: string | string[]) => {
          // A person's code or refresh token names several resources: without a `resource` parameter the token is
          // for none (the id token's userinfo), and a resource server's token is asked for by name.
          if (codeFlow(ctx)) return Array.isArray(oneOf) ? undefined : oneOf;
          const wanted = requested(ctx);
          const fits = [...resources].filter(([, offered]) => wanted.every((s) => offered.has(s)));
          if (wanted.length > 0 && fits.length === 1) return fits[0]![0];
          throw new errors.InvalidTarget(
            fits.length > 1
              ? 'the requested scope fits several resources: name one with the resource parameter'
              : 'no resource offers the requested scope: name one with the resource parameter',
          );
        },
        useGrantedResource: () => false,
        getResourceServerInfo: (ctx: OidcContext, resource: string, client: OidcClient) => {
          const offered = resources.get(resource);
          if (!offered) throw new errors.InvalidTarget(`unknown resource ${resource}`);
          if (codeFlow(ctx)) {
            // A person's token (PAR, the authorization code and refresh token grants): what the grant holds for
            // this resource (loadExistingGrant), within what it offers and the client is registered for.
            const registered = new Set(scopesOf(client.scope));
            return {
              scope: [...offered].filter((s) => registered.has(s)).join(' '),
              audience: resource,
              accessTokenTTL: config.accessTokenTtlSeconds,
              accessTokenFormat: 'jwt',
              jwt: { sign: { alg: signer.alg, kid: signer.kid } },
            };
          }
          const wanted = requested(ctx);
          if (wanted.length === 0) throw new errors.InvalidScope('a scope is required');
          const registered = new Set(scopesOf(client.scope));
          // FAPI 2.0 §5.3.2.1: privileges restricted to the minimum; refused rather than narrowed silently.
          for (const s of wanted) {
            if (!registered.has(s)) throw new errors.InvalidScope('requested scope is not allowed', s);
            if (!offered.has(s))
              throw new errors.InvalidScope(`${resource} does not offer the scope ${s}`, s);
          }
          return {
            scope: [...offered].join(' '),
            audience: resource,
            accessTokenTTL: config.accessTokenTtlSeconds,
            accessTokenFormat: 'jwt',
            jwt: { sign: { alg: signer.alg, kid: signer.kid } },
          };
        },
      },
    },
    ttl: {
      ClientCredentials: config.accessTokenTtlSeconds,
      AccessToken: config.accessTokenTtlSeconds,
      AuthorizationCode: 60,
      // FAPI 2.0 §5.3.2.2: a request_uri lives under 600 s.
      PushedAuthorizationRequest: 60,
      IdToken: 300,
      Interaction: 600,
      Session: ttl,
      Grant: ttl,
      RefreshToken: ttl,
    },
    extraTokenClaims: async (_ctx: OidcContext, token: OidcToken) => {
      if (token.accountId) {
        // A person's token: their roles and organisation, as the account says now (sub is the account).
        const account = await accounts.find(token.accountId);
        if (!account || account.disabled) throw new errors.InvalidGrant('the account is disabled');
        return accountClaims(account);
      }
      const client = token.clientId ? clients.get(token.clientId) : undefined;
      const claims = { ...(client ? organisationClaims(client) : {}), ...patientClaims(token.rar) };
      return Object.keys(claims).length > 0 ? claims : undefined;
    },
  });
}

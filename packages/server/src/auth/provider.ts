import type { X509Certificate } from 'node:crypto';
import type { TLSSocket } from 'node:tls';
import { errors, Provider } from 'oidc-provider';
import { peerCertificatePath } from '../http/index.ts';
import { organisationClaims } from './claims.ts';
import type { AuthClient, AuthConfig } from './config.ts';
import type { SigningKey } from './keys.ts';
import { PATIENT_DETAILS_TYPE, patientClaims, patientDetailsOf, validatePatientDetail } from './patient.ts';
import { subjectMatches } from './subject.ts';

/** What oidc-provider hands its hooks (a koa context): the request's socket and the OAuth request. */
interface OidcContext {
  socket: TLSSocket;
  oidc: { params?: { scope?: unknown; authorization_details?: unknown } };
}

interface OidcClient {
  clientId: string;
  scope?: string;
}

interface OidcToken {
  clientId?: string;
  /** The token's authorization details (RFC 9396), as `authorizationDetailsForAccessToken` gave them. */
  rar?: unknown;
}

/**
 * The provider's storage. This server issues only client-credentials JWT access tokens, which are self-contained and
 * never stored (RFC 9068); it keeps no sessions, codes, grants or replay records (no authorization endpoint flows,
 * no DPoP, no client assertions). So nothing is kept, and anything looked up is not found, which fails closed: this
 * replaces oidc-provider's development-only in-memory adapter, which would be one more per-instance state.
 */
class NoStorage {
  async upsert(): Promise<void> {}
  async find(): Promise<undefined> {
    return undefined;
  }
  async findByUserCode(): Promise<undefined> {
    return undefined;
  }
  async findByUid(): Promise<undefined> {
    return undefined;
  }
  async consume(): Promise<void> {}
  async destroy(): Promise<void> {}
  async revokeByGrantId(): Promise<void> {}
}

const scopesOf = (list: string | undefined): string[] => (list ?? '').split(' ').filter(Boolean);

/** The peer certificate of a TLS connection, when the client sent one. */
function peerCertificate(ctx: OidcContext): X509Certificate | undefined {
  return ctx.socket ? peerCertificatePath(ctx.socket)[0] : undefined;
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
}): Provider {
  const { config, keys } = options;
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

  return new Provider(options.issuer, {
    clients: config.clients.map((c) => ({
      client_id: c.clientId,
      // EHMI PDF §3.3: static enrolment, tls_client_auth, client_credentials for system clients.
      token_endpoint_auth_method: 'tls_client_auth',
      tls_client_auth_subject_dn: c.subjectDn,
      tls_client_certificate_bound_access_tokens: true,
      grant_types: ['client_credentials'],
      response_types: [],
      redirect_uris: [],
      scope: c.scope,
      // RFC 9396 §10: the authorization details types this client may ask for (none unless registered).
      authorization_details_types: c.authorizationDetailsTypes,
    })),
    adapter: NoStorage,
    clientAuthMethods: ['tls_client_auth'],
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
      mTLS: {
        enabled: true,
        tlsClientAuth: true,
        certificateBoundAccessTokens: true,
        // The certificate the client presented on this TLS connection (the server asks for one; it does not
        // require one, so a client without gets an OAuth error rather than a failed handshake).
        getCertificate: (ctx: OidcContext) => peerCertificate(ctx)?.toString(),
        // Only a certificate node's TLS verified against the node's CAs authenticates a client.
        certificateAuthorized: (ctx: OidcContext) =>
          ctx.socket?.authorized === true && peerCertificate(ctx) !== undefined,
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
        defaultResource: (ctx: OidcContext) => {
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
    ttl: { ClientCredentials: config.accessTokenTtlSeconds },
    extraTokenClaims: (_ctx: OidcContext, token: OidcToken) => {
      const client = token.clientId ? clients.get(token.clientId) : undefined;
      const claims = { ...(client ? organisationClaims(client) : {}), ...patientClaims(token.rar) };
      return Object.keys(claims).length > 0 ? claims : undefined;
    },
  });
}

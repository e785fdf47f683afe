import { createHash } from 'node:crypto';
import { EhmiError } from '@ehmi/errors';
import type { FastifyReply, FastifyRequest } from 'fastify';
import {
  createRemoteJWKSet,
  customFetch,
  type FetchImplementation,
  type JWTPayload,
  errors as joseErrors,
  jwtVerify,
} from 'jose';
import { type Agent, fetch as undiciFetch } from 'undici';
import type { NodeConfig } from './config/index.ts';
import { clientCertificateOf, nodeAgent } from './http/index.ts';

/** The JWS algorithms FAPI 2.0 §5.4 allows; `none` and the HMAC ones never. */
export type AccessTokenAlgorithm = 'PS256' | 'ES256' | 'EdDSA';

/** One organisation context of a token (`ehmi:org_context`, dk-ehmi-eds security page: `{ name, sor, gln }`). */
export interface OrganisationContext {
  readonly name?: string;
  /** SOR code (urn:oid:1.2.208.176.1.1). */
  readonly sor: string;
  /** GLN. */
  readonly gln: string;
}

/** The organisation a client acts for, as its token states it (the claims `auth/claims.ts` issues). */
export interface AccessOrganisation {
  /** `ehmi:org_context`; empty when the token carries none. */
  readonly contexts: readonly OrganisationContext[];
  /** `cvr`. */
  readonly cvr?: string;
  /** `org_name`. */
  readonly name?: string;
  /** `ehmi:eer:device_id`: the client's EER Device id. */
  readonly deviceId?: string;
}

/** What a verified access token says about who is asking. */
export interface AccessClaims {
  /** `client_id` (RFC 9068 §2.2). */
  readonly clientId: string;
  /** `sub`, when present. */
  readonly subject: string | undefined;
  /** `scope`, split on spaces (RFC 9068 §2.2.3, SMART-style `system/Endpoint.rs`). */
  readonly scopes: ReadonlySet<string>;
  /** Undefined when the token carries no organisation claims. */
  readonly organisation: AccessOrganisation | undefined;
  /**
   * A patient restriction: the claim `ehmi:patient` (`{ "cpr": "<10 digits>" }`) limits the token to one citizen.
   * EHMI names no claim for it yet (its EDS searches by the citizen's `cpr` claim for citizen users); this one is
   * ours: the auth role issues it to a client that asks with the authorization details type `ehmi_patient`
   * (RFC 9396, `auth/patient.ts`). Undefined: no restriction to one patient.
   */
  readonly patient: { readonly cpr: string } | undefined;
  /**
   * The person a token is for (the authorization code flow: a console user), with the roles of their account
   * (`ehmi:roles`); undefined for a system client's token. A person's organisation is in `organisation` as a
   * client's is. `network-operator` reads what the network's operator clients read; `patient-data` entitles to
   * patient data (see {@link isNetworkOperator}, {@link mayReadPatientData}).
   */
  readonly user: AccessUser | undefined;
  /** `exp`. */
  readonly expiresAt: Date;
  /** Every claim of the token, for checks this module does not make. */
  readonly payload: Readonly<JWTPayload>;
}

/** A person's token (`sub` and `ehmi:roles`). */
export interface AccessUser {
  readonly subject: string;
  readonly roles: ReadonlySet<string>;
}

/** The claim of a person's roles (the auth role issues it: `auth/provider.ts`). */
export const ROLES_CLAIM = 'ehmi:roles';

/**
 * Whether a token is the network operator's: a system client of `operatorClients`, or a person whose account has
 * the role `network-operator`. A person's token is judged by the person's roles only, whichever client holds it.
 */
export function isNetworkOperator(claims: AccessClaims, operatorClients: ReadonlySet<string>): boolean {
  if (claims.user) return claims.user.roles.has('network-operator');
  return operatorClients.has(claims.clientId);
}

/** Whether a token may read patient data: a system client's may (its scopes decide), a person's with `patient-data`. */
export function mayReadPatientData(claims: AccessClaims | undefined): boolean {
  return !claims?.user || claims.user.roles.has('patient-data');
}

export interface AccessTokenVerifierOptions {
  /** The issuer identifier the tokens' `iss` must equal (`authorization.issuer`). */
  issuer: string;
  /**
   * The JWKS. Default: the `jwks_uri` of `<issuer>/.well-known/oauth-authorization-server` (RFC 8414), or
   * `<issuer>/jwks` when the issuer publishes no metadata (404).
   */
  jwksUrl?: string | undefined;
  /** This resource server's own URL(s): the token's `aud` must name one (RFC 8707, RFC 9068 §4). */
  audience: string | readonly string[];
  /** Clock skew tolerated on `exp`, `nbf` and `iat`. Default 30. */
  skewSeconds?: number;
  /** Default PS256, ES256, EdDSA. */
  algorithms?: readonly AccessTokenAlgorithm[];
  /** CAs (PEM) trusted for the issuer's HTTPS (the node's `tls.ca`); the system's CAs when absent. */
  ca?: readonly string[];
  /** A JWKS is used for this long before it is fetched again. Default 10 minutes. */
  cacheMaxAgeMs?: number;
  /** A token with an unknown `kid` fetches the JWKS again at most this often. Default 30 s. */
  cooldownMs?: number;
  /** Time to fetch the metadata or the JWKS. Default 5 s. */
  timeoutMs?: number;
  /**
   * A token that verified is taken from memory, without its signature checked again, for at most this long (and
   * never past its `exp`). Default 60 s; 0 checks every token in full on every call.
   */
  verifiedCacheMs?: number;
  /** Verified tokens kept at most (the least recently verified out first). Default 1,000. */
  verifiedCacheSize?: number;
  /** The clock the token's times are checked against; tests fix it. */
  now?: () => number;
}

const ALGORITHMS: readonly AccessTokenAlgorithm[] = ['PS256', 'ES256', 'EdDSA'];

/** The claim of a token restricted to one patient: `{ "cpr": "<10 digits>" }` (`AccessClaims.patient`). */
export const PATIENT_CLAIM = 'ehmi:patient';

/** A CPR number as a patient restriction names it: its 10 digits, no hyphen. */
export const CPR_NUMBER = /^\d{10}$/;

/**
 * The options of a verifier for this node's `authorization` settings; the resource server adds its own URL(s).
 *
 * @example
 * const verifier = new AccessTokenVerifier(
 *   accessTokenVerifierOptions(config.authorization, { audience: eerUrl, ca: config.tls?.ca }),
 * );
 */
export function accessTokenVerifierOptions(
  config: NonNullable<NodeConfig['authorization']>,
  resource: Pick<AccessTokenVerifierOptions, 'audience' | 'ca' | 'now'>,
): AccessTokenVerifierOptions {
  return {
    issuer: config.issuer,
    jwksUrl: config.jwksUrl,
    skewSeconds: config.skewSeconds,
    algorithms: config.algorithms,
    ...resource,
  };
}

/**
 * Verifies the access tokens of one authorization server for one resource server (FAPI 2.0 §5.3.3): a JWT signed by
 * the issuer's current keys with an allowed algorithm, issued by it, for this resource server, not expired, and
 * bound to the client's TLS certificate (RFC 8705 §3, `cnf.x5t#S256`): the one presented on the connection, or the one
 * a trusted proxy forwarded (`clientCertificateOf`).
 *
 * @example
 * const verifier = new AccessTokenVerifier({ issuer: 'https://auth.example', audience: 'https://eer.example' });
 * const claims = await verifier.verify(token, certificateDer);
 * claims.scopes.has('system/Endpoint.rs');
 */
export class AccessTokenVerifier {
  readonly issuer: string;
  readonly #options: AccessTokenVerifierOptions;
  readonly #audience: string[];
  readonly #algorithms: AccessTokenAlgorithm[];
  readonly #skew: number;
  readonly #agent: Agent;
  readonly #fetch: FetchImplementation;
  #jwks: Promise<ReturnType<typeof createRemoteJWKSet>> | undefined;
  #metadata: Promise<AuthorizationServerMetadata | undefined> | undefined;
  /** Tokens that verified, by their exact text (no hash to trust): their claims, binding and how long they stand. */
  readonly #verified = new Map<string, VerifiedToken>();
  readonly #verifiedCacheMs: number;
  readonly #verifiedCacheSize: number;
  #signatureChecks = 0;

  constructor(options: AccessTokenVerifierOptions) {
    this.#options = options;
    this.issuer = options.issuer;
    this.#audience = typeof options.audience === 'string' ? [options.audience] : [...options.audience];
    if (this.#audience.length === 0) throw new TypeError('an access token verifier needs its audience');
    this.#algorithms = [...(options.algorithms ?? ALGORITHMS)].filter((a) => ALGORITHMS.includes(a));
    if (this.#algorithms.length === 0) throw new TypeError('an access token verifier needs an algorithm');
    this.#skew = options.skewSeconds ?? 30;
    this.#verifiedCacheMs = options.verifiedCacheMs ?? 60_000;
    this.#verifiedCacheSize = options.verifiedCacheSize ?? 1_000;
    const timeout = options.timeoutMs ?? 5_000;
    this.#agent = nodeAgent({
      connect: { ...(options.ca ? { ca: [...options.ca] } : {}), timeout },
      headersTimeout: timeout,
      bodyTimeout: timeout,
    });
    this.#fetch = ((url: string, init: Parameters<FetchImplementation>[1]) =>
      undiciFetch(url, {
        method: init.method,
        redirect: init.redirect,
        signal: init.signal,
        headers: Object.fromEntries(init.headers.entries()),
        dispatcher: this.#agent,
      })) as unknown as FetchImplementation;
  }

  /**
   * The claims of `token` when it is valid for this resource server and bound to `clientCertificateDer`, the DER of
   * the client's certificate (`clientCertificateOf`: presented on this TLS connection, or forwarded by a trusted
   * proxy; undefined when there is none). Throws
   * EHMI_UNAUTHORIZED (`invalid_token`) when it is not, EHMI_UNAVAILABLE when the issuer's keys cannot be had.
   */
  async verify(token: string, clientCertificateDer: Uint8Array | undefined): Promise<AccessClaims> {
    const now = (this.#options.now ?? Date.now)();
    let known = this.#verified.get(token);
    if (known && !this.#stands(known, now)) {
      this.#verified.delete(token);
      known = undefined;
    }
    if (!known) {
      known = await this.#verifyInFull(token, now);
      this.#remember(token, known);
    }
    // RFC 8705 §3: a certificate-bound token is accepted only on a connection authenticated by that certificate,
    // checked on every call: the same token may come on another connection.
    if (!clientCertificateDer) {
      throw invalidToken(
        'the access token is bound to a certificate, and no client certificate was presented',
      );
    }
    if (thumbprintOf(clientCertificateDer) !== known.bound) {
      throw invalidToken('the access token is bound to another certificate than the one presented');
    }
    return known.claims;
  }

  /** Full signature and claim checks this verifier made (a token taken from memory is not one). */
  get signatureChecks(): number {
    return this.#signatureChecks;
  }

  /**
   * Whether a token verified earlier still stands at `now` without its signature checked again: its `exp` and `nbf`
   * are compared with the clock as jose compares them (with the skew), and it is kept no longer than
   * `verifiedCacheMs`, so that a key the issuer withdraws from its JWKS stops being accepted about as soon as with
   * a check of every token (jose keeps the JWKS `cacheMaxAgeMs`).
   */
  #stands(known: VerifiedToken, now: number): boolean {
    if (now - known.at >= this.#verifiedCacheMs || now < known.at) return false;
    const seconds = Math.floor(now / 1000);
    const { exp, nbf } = known.claims.payload;
    if (typeof exp === 'number' && exp <= seconds - this.#skew) return false;
    if (typeof nbf === 'number' && nbf > seconds + this.#skew) return false;
    return true;
  }

  #remember(token: string, known: VerifiedToken): void {
    if (this.#verifiedCacheMs <= 0 || this.#verifiedCacheSize <= 0) return;
    this.#verified.delete(token);
    this.#verified.set(token, known);
    if (this.#verified.size > this.#verifiedCacheSize) {
      const oldest = this.#verified.keys().next().value;
      if (oldest !== undefined) this.#verified.delete(oldest);
    }
  }

  /** The checks of a token not seen before: signature, algorithm, typ, issuer, audience, times, binding, claims. */
  async #verifyInFull(token: string, now: number): Promise<VerifiedToken> {
    const jwks = await this.#keys();
    let payload: JWTPayload;
    this.#signatureChecks++;
    try {
      ({ payload } = await jwtVerify(token, jwks, {
        issuer: this.issuer,
        audience: this.#audience,
        algorithms: this.#algorithms,
        clockTolerance: this.#skew,
        // RFC 9068 §4: a resource server checks the typ header is at+jwt (application/at+jwt), so that another JWT
        // of the issuer (an ID token, a client assertion) is never taken for an access token.
        typ: 'at+jwt',
        // RFC 9068 §2.2: exp, iat and client_id are required in a JWT access token.
        requiredClaims: ['exp', 'iat', 'client_id'],
        currentDate: new Date(now),
      }));
    } catch (err) {
      throw fromJoseError(err);
    }
    // RFC 8705 §3: the token must be certificate-bound; which certificate is checked on every call (verify).
    const bound = (payload.cnf as Record<string, unknown> | undefined)?.['x5t#S256'];
    if (typeof bound !== 'string') {
      throw invalidToken('the access token is not bound to a certificate (no cnf.x5t#S256)');
    }
    return { claims: claimsOf(payload), bound, at: now };
  }

  /** Release the connections to the issuer; a second call does nothing (a role closed twice). */
  async close(): Promise<void> {
    if (this.#agent.closed || this.#agent.destroyed) return;
    await this.#agent.close();
  }

  /** The issuer's key set: fetched once and cached by jose (`cacheMaxAgeMs`, `cooldownMs`). */
  #keys(): Promise<ReturnType<typeof createRemoteJWKSet>> {
    this.#jwks ??= this.#jwksUrl().then((url) =>
      createRemoteJWKSet(new URL(url), {
        cacheMaxAge: this.#options.cacheMaxAgeMs ?? 600_000,
        cooldownDuration: this.#options.cooldownMs ?? 30_000,
        timeoutDuration: this.#options.timeoutMs ?? 5_000,
        [customFetch]: this.#fetch,
      }),
    );
    // A failed discovery is tried again with the next token.
    this.#jwks.catch(() => {
      this.#jwks = undefined;
    });
    return this.#jwks;
  }

  /**
   * The issuer's authorization server metadata (RFC 8414), fetched once and kept for the verifier's life (a failed
   * fetch is tried again on the next call); undefined when the issuer publishes none (404). What the JWKS is found
   * through, and what a resource server tells its clients (`smart-configuration.ts`). EHMI_UNAVAILABLE when it
   * cannot be had or is not the issuer's.
   */
  metadata(): Promise<AuthorizationServerMetadata | undefined> {
    if (!this.#metadata) {
      const fetching = this.#fetchMetadata();
      this.#metadata = fetching;
      fetching.catch(() => {
        if (this.#metadata === fetching) this.#metadata = undefined;
      });
    }
    return this.#metadata;
  }

  async #jwksUrl(): Promise<string> {
    if (this.#options.jwksUrl) return this.#options.jwksUrl;
    return (await this.metadata())?.jwks_uri ?? `${this.issuer.replace(/\/+$/, '')}/jwks`;
  }

  async #fetchMetadata(): Promise<AuthorizationServerMetadata | undefined> {
    const base = this.issuer.replace(/\/+$/, '');
    const where = `${base}/.well-known/oauth-authorization-server`;
    let res: Awaited<ReturnType<typeof undiciFetch>>;
    try {
      res = await undiciFetch(where, {
        dispatcher: this.#agent,
        headers: { accept: 'application/json' },
        redirect: 'manual',
        signal: AbortSignal.timeout(this.#options.timeoutMs ?? 5_000),
      });
    } catch (err) {
      throw unavailable(`the authorization server's metadata (${where}) cannot be fetched`, err);
    }
    if (res.status === 404) {
      await res.body?.cancel();
      return undefined;
    }
    const meta = res.status === 200 ? ((await res.json().catch(() => undefined)) as unknown) : undefined;
    const m = meta as { issuer?: unknown; jwks_uri?: unknown } | undefined;
    // RFC 8414 §3.3: the metadata's issuer must be the one asked for.
    if (!m || m.issuer !== this.issuer || typeof m.jwks_uri !== 'string') {
      throw unavailable(
        `the authorization server's metadata (${where}) is not usable: HTTP ${res.status}, issuer ${JSON.stringify(m?.issuer)}, jwks_uri ${JSON.stringify(m?.jwks_uri)}`,
      );
    }
    return m as AuthorizationServerMetadata;
  }
}

/** A token that verified in full: what it says, the certificate it is bound to, and when it was checked. */
interface VerifiedToken {
  readonly claims: AccessClaims;
  /** `cnf.x5t#S256`. */
  readonly bound: string;
  /** The verifier's clock when it was checked. */
  readonly at: number;
}

/**
 * The SHA-256 thumbprint (base64url) of a certificate's DER, as `cnf.x5t#S256` names it; kept per octets object, as
 * a connection's certificate is the same object on each of its requests (`peerCertificatePath`), and a forwarded
 * one is the same object for the same octets (`toCertificate`).
 */
const thumbprints = new WeakMap<Uint8Array, string>();
function thumbprintOf(der: Uint8Array): string {
  let t = thumbprints.get(der);
  if (t === undefined) {
    t = createHash('sha256').update(der).digest('base64url');
    thumbprints.set(der, t);
  }
  return t;
}

/** An authorization server's metadata (RFC 8414 §2), as far as the node reads it. */
export interface AuthorizationServerMetadata {
  readonly issuer: string;
  readonly jwks_uri: string;
  readonly token_endpoint?: string;
  readonly grant_types_supported?: readonly string[];
  readonly token_endpoint_auth_methods_supported?: readonly string[];
  readonly scopes_supported?: readonly string[];
  /** RFC 8705 §3.3. */
  readonly tls_client_certificate_bound_access_tokens?: boolean;
  /** RFC 8705 §5. */
  readonly mtls_endpoint_aliases?: Readonly<Record<string, string>>;
  readonly introspection_endpoint?: string;
  readonly revocation_endpoint?: string;
  readonly [name: string]: unknown;
}

/** The hook options of {@link requireAccessToken}. */
export interface RequireAccessTokenOptions {
  /**
   * The scopes the request needs, any one of which suffices; undefined: a valid token with any scope. Called per
   * request, so one hook can serve routes of different scopes (`request.routeOptions.config`, the method).
   */
  scope: (request: FastifyRequest) => string | readonly string[] | undefined;
  /** Paths that need no token (health, metrics, the OpenAPI document). */
  open?: ReadonlySet<string>;
  /**
   * Whether this server limits what it serves to a token's patient (`AccessClaims.patient`). Until it does, a token
   * restricted to one patient is refused (403): it would otherwise reach every patient's data.
   */
  honoursPatientRestriction?: boolean;
}

/**
 * An `onRequest` (or `preHandler`) hook for a resource server (FAPI 2.0 §5.3.3): the request must carry an access
 * token in `Authorization: Bearer` (never in the query string), valid for this server, bound to the client
 * certificate of the request (`clientCertificateOf`) and granting one of the scopes the request needs. The claims of a
 * valid token are `request.access`, also when the request is then refused for its scope (so that the audit log names
 * the client). Refusals follow RFC 6750 §3.1, with an OperationOutcome body:
 *
 * - no token: 401 and `WWW-Authenticate: Bearer` without an error code (§3.1: a request that lacks any
 *   authentication information);
 * - a token in the query string, or a malformed Authorization header: 400 `error="invalid_request"`;
 * - a token that is not valid, or not bound to the certificate presented: 401 `error="invalid_token"`;
 * - a valid token without the scope: 403 `error="insufficient_scope"`, with the scope needed.
 *
 * It checks the binding only; that the certificate chains to the trust anchors, is meant for TLS client
 * authentication and is not revoked is `requireClientCertificate`'s work, which runs before it.
 *
 * @example
 * app.addHook('onRequest', requireClientCertificate({ revocation, anchorsKey: 'eer.clientTrustAnchors', open }));
 * app.addHook('onRequest', requireAccessToken(verifier, { scope: () => 'system/Endpoint.rs', open }));
 */
export function requireAccessToken(
  verifier: AccessTokenVerifier,
  options: RequireAccessTokenOptions,
): (request: FastifyRequest, reply: FastifyReply) => Promise<void> {
  return async (request, reply) => {
    const [path, query] = splitUrl(request.url);
    if (options.open?.has(path)) return;
    const needed = scopesNeeded(options.scope(request));
    const challenge = (params: Record<string, string>) =>
      reply.header('www-authenticate', bearerChallenge(params));
    try {
      // FAPI 2.0 §5.3.3: access tokens are not accepted in query parameters (RFC 6750 §2.3).
      if (query !== undefined && new URLSearchParams(query).has('access_token')) {
        throw invalidRequest('an access token is not accepted in the query string: send it in Authorization');
      }
      const token = bearerToken(request.headers.authorization);
      if (token === undefined) {
        challenge(needed.length > 0 ? { scope: needed.join(' ') } : {});
        throw new EhmiError('EHMI_UNAUTHORIZED', 'an access token is required (Authorization: Bearer)');
      }
      // The certificate presented on this connection, or the one a trusted proxy forwarded (never the proxy's own).
      const leaf = clientCertificateOf(request.raw).path[0];
      const claims = await verifier.verify(token, leaf?.raw);
      // A valid token says who asks, also when what it grants does not suffice: the audit log records the refusal
      // as that client's (BALP: the requesting agent), not as an unauthenticated caller's.
      request.access = claims;
      if (needed.length > 0 && !needed.some((s) => claims.scopes.has(s))) {
        throw insufficientScopeError(
          needed,
          `the access token does not grant the scope this request needs (${needed.join(' or ')})`,
        );
      }
      if (claims.patient && !options.honoursPatientRestriction) {
        throw insufficientScopeError(
          needed,
          'the access token is restricted to one patient, and this service cannot limit what it serves to one patient',
        );
      }
    } catch (err) {
      challengeFor(reply, err);
      throw err;
    }
  };
}

/**
 * An `insufficient_scope` refusal (RFC 6750 §3.1) from a route handler, once the body says what the request needs
 * (a transaction's types, the patient of a lookup): 403 with the challenge naming the scope, as the hook answers.
 */
export function insufficientScope(
  reply: FastifyReply,
  needed: readonly string[],
  message: string,
): EhmiError {
  const err = insufficientScopeError(needed, message);
  challengeFor(reply, err);
  return err;
}

function insufficientScopeError(needed: readonly string[], message: string): EhmiError {
  return new EhmiError('EHMI_FORBIDDEN', message, {
    details: { oauthError: 'insufficient_scope', scope: needed.join(' ') },
  });
}

/** The RFC 6750 §3 challenge of an OAuth refusal (an error with `details.oauthError`); nothing for other errors. */
function challengeFor(reply: FastifyReply, err: unknown): void {
  if (err instanceof EhmiError && typeof err.details.oauthError === 'string') {
    reply.header(
      'www-authenticate',
      bearerChallenge({
        error: err.details.oauthError,
        error_description: err.message,
        ...(typeof err.details.scope === 'string' && err.details.scope !== ''
          ? { scope: err.details.scope }
          : {}),
      }),
    );
  }
}

declare module 'fastify' {
  interface FastifyRequest {
    /** The verified access token of the request, once `requireAccessToken` let it through. */
    access?: AccessClaims;
  }
}

function splitUrl(url: string): [string, string | undefined] {
  const i = url.indexOf('?');
  return i < 0 ? [url, undefined] : [url.slice(0, i), url.slice(i + 1)];
}

function scopesNeeded(scope: string | readonly string[] | undefined): string[] {
  if (scope === undefined) return [];
  return (typeof scope === 'string' ? [scope] : [...scope]).filter(Boolean);
}

/** RFC 6750 §2.1: `Bearer` and a token of b64token characters; undefined when no Authorization header is sent. */
function bearerToken(header: string | undefined): string | undefined {
  if (header === undefined) return undefined;
  const match = /^Bearer +([A-Za-z0-9\-._~+/]+=*) *$/i.exec(header);
  if (!match) {
    throw invalidRequest('the Authorization header is not of the form "Bearer <access token>"');
  }
  return match[1];
}

/** RFC 6750 §3: auth-params as quoted strings; `error_description` and `scope` take no `"` or `\`. */
function bearerChallenge(params: Record<string, string>): string {
  const parts = Object.entries(params).map(
    ([k, v]) => `${k}="${v.replace(/[^\x20-\x7e]|["\\]/g, (c) => (c === '"' ? "'" : ' '))}"`,
  );
  return parts.length > 0 ? `Bearer ${parts.join(', ')}` : 'Bearer';
}

function invalidToken(message: string, cause?: unknown): EhmiError {
  return new EhmiError('EHMI_UNAUTHORIZED', message, {
    ...(cause === undefined ? {} : { cause }),
    details: { oauthError: 'invalid_token' },
  });
}

function invalidRequest(message: string): EhmiError {
  return new EhmiError('EHMI_USAGE', message, { details: { oauthError: 'invalid_request' } });
}

function unavailable(message: string, cause?: unknown): EhmiError {
  return new EhmiError('EHMI_UNAVAILABLE', message, cause === undefined ? {} : { cause });
}

/**
 * A jose failure as our error: anything wrong with the token is `invalid_token`; the issuer's keys not to be had
 * (timeout, HTTP error, not a JWKS) is the server's trouble, 503, and says nothing about the token.
 */
function fromJoseError(err: unknown): EhmiError {
  if (err instanceof joseErrors.JWTExpired) return invalidToken('the access token has expired', err);
  if (err instanceof joseErrors.JWTClaimValidationFailed && err.claim === 'typ') {
    return invalidToken('the access token is not of type at+jwt (its JWT typ header, RFC 9068 §4)', err);
  }
  if (err instanceof joseErrors.JWTClaimValidationFailed) {
    return invalidToken(`the access token's ${err.claim} claim is not valid: ${err.reason}`, err);
  }
  if (err instanceof joseErrors.JOSEAlgNotAllowed) {
    return invalidToken('the access token is signed with an algorithm not allowed', err);
  }
  if (err instanceof joseErrors.JWSSignatureVerificationFailed) {
    return invalidToken('the access token signature does not verify', err);
  }
  if (err instanceof joseErrors.JWKSNoMatchingKey || err instanceof joseErrors.JWKSMultipleMatchingKeys) {
    return invalidToken('the access token is not signed with a key of the issuer', err);
  }
  if (
    err instanceof joseErrors.JWSInvalid ||
    err instanceof joseErrors.JWTInvalid ||
    err instanceof joseErrors.JOSENotSupported
  ) {
    return invalidToken(`the access token is malformed: ${err.message}`, err);
  }
  return unavailable(
    `the authorization server's keys cannot be had: ${err instanceof Error ? err.message : String(err)}`,
    err,
  );
}

function claimsOf(payload: JWTPayload): AccessClaims {
  const clientId = payload.client_id;
  if (typeof clientId !== 'string' || clientId === '')
    throw invalidToken('the access token has no client_id');
  const scope = payload.scope ?? '';
  if (typeof scope !== 'string') throw invalidToken('the access token scope is not a string');
  return {
    clientId,
    subject: typeof payload.sub === 'string' ? payload.sub : undefined,
    scopes: new Set(scope.split(' ').filter(Boolean)),
    organisation: organisationOf(payload),
    patient: patientOf(payload[PATIENT_CLAIM]),
    user: userOf(payload),
    expiresAt: new Date(Number(payload.exp) * 1000),
    payload,
  };
}

function organisationOf(payload: JWTPayload): AccessOrganisation | undefined {
  const context = payload['ehmi:org_context'];
  const { cvr, org_name: name, 'ehmi:eer:device_id': deviceId } = payload;
  if (context === undefined && cvr === undefined && name === undefined && deviceId === undefined)
    return undefined;
  if (context !== undefined && !Array.isArray(context)) throw invalidToken('ehmi:org_context is not a list');
  const contexts = ((context ?? []) as unknown[]).map((c): OrganisationContext => {
    const o = c as Record<string, unknown> | null;
    if (!o || typeof o.sor !== 'string' || typeof o.gln !== 'string') {
      throw invalidToken('an ehmi:org_context entry has no sor or gln');
    }
    return { ...(typeof o.name === 'string' ? { name: o.name } : {}), sor: o.sor, gln: o.gln };
  });
  for (const [claim, value] of [
    ['cvr', cvr],
    ['org_name', name],
    ['ehmi:eer:device_id', deviceId],
  ] as const) {
    if (value !== undefined && typeof value !== 'string') throw invalidToken(`${claim} is not a string`);
  }
  return {
    contexts,
    ...(typeof cvr === 'string' ? { cvr } : {}),
    ...(typeof name === 'string' ? { name } : {}),
    ...(typeof deviceId === 'string' ? { deviceId } : {}),
  };
}

function userOf(payload: JWTPayload): AccessUser | undefined {
  const roles = payload[ROLES_CLAIM];
  if (roles === undefined) return undefined;
  if (!Array.isArray(roles) || !roles.every((r) => typeof r === 'string')) {
    throw invalidToken(`${ROLES_CLAIM} is not a list of roles`);
  }
  // A person's token names the person: roles without a subject cannot be attributed, so they are not taken.
  if (typeof payload.sub !== 'string' || payload.sub === '') throw invalidToken(`${ROLES_CLAIM} without sub`);
  return { subject: payload.sub, roles: new Set(roles) };
}

function patientOf(claim: unknown): { cpr: string } | undefined {
  if (claim === undefined) return undefined;
  const cpr = (claim as { cpr?: unknown } | null)?.cpr;
  // A restriction that cannot be read must not read as none.
  if (typeof cpr !== 'string' || !CPR_NUMBER.test(cpr))
    throw invalidToken('ehmi:patient names no CPR number');
  return { cpr };
}

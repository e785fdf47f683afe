import { EhmiError } from '@ehmi/errors';
import { createLocalJWKSet, jwtVerify } from 'jose';
import * as oauth from 'oauth4webapi';
import { type Dispatcher, fetch as undiciFetch } from 'undici';
import { type CustomFetch, oauthFetch, ServerMetadata } from '../token-client.ts';
import { type ConsoleUser, PATIENT_DATA, USER_ROLES, type UserRole } from './session.ts';

export interface SignInClientOptions {
  issuer: string;
  clientId: string;
  /** The console's `/auth/callback`, as registered. */
  redirectUri: string;
  /** The resources (service base URLs) the console asks the person's grant to cover (RFC 8707). */
  resources: readonly string[];
  /** The resources' scopes the console asks for (space-separated), beside `openid profile`. */
  scope?: string;
  /** Presents the console's client certificate, trusts the network's CAs. */
  dispatcher: Dispatcher;
  now?: () => number;
}

/** A sign-in about to be sent to the authorization server. */
export interface StartedSignIn {
  /** Where to send the browser: the authorization endpoint with the pushed request's `request_uri`. */
  url: string;
  state: string;
  nonce: string;
  codeVerifier: string;
}

/**
 * The scopes the console asks for besides the resources' (an id token and its claims); the refresh token comes with
 * the code (the authorization server issues one to a client of the refresh_token grant).
 */
const OIDC_SCOPE = 'openid profile';
/** An access token is asked for again this long before it expires. */
const RENEW_BEFORE_MS = 30_000;

/**
 * The console as a confidential client of the authorization server (FAPI 2.0): every request over mutual TLS with
 * the console's certificate (`tls_client_auth`), the authorization request pushed first (PAR, RFC 9126) with PKCE
 * S256, state and nonce; the code exchanged and the id token checked (signature with the issuer's keys, issuer,
 * audience, nonce, times); then per resource a certificate-bound access token from the refresh token (RFC 8707
 * `resource`).
 */
export class SignInClient {
  readonly #options: SignInClientOptions;
  readonly #client: oauth.Client;
  readonly #metadata: ServerMetadata;

  constructor(options: SignInClientOptions) {
    if (!/^https:\/\//i.test(options.issuer)) {
      throw new EhmiError(
        'EHMI_CONFIG_INVALID',
        `console.issuer must be an https URL, got ${options.issuer}`,
      );
    }
    this.#options = options;
    this.#client = { client_id: options.clientId };
    this.#metadata = new ServerMetadata(options.issuer, oauthFetch(options.dispatcher));
  }

  /**
   * Push the authorization request and give the browser's next stop. `language` (`en`, `da`) is the console's
   * language choice, passed as `ui_locales` (OpenID Connect Core §3.1.2.1) for the sign-in page.
   */
  async start(language?: 'en' | 'da'): Promise<StartedSignIn> {
    const as = await this.#as();
    const codeVerifier = oauth.generateRandomCodeVerifier();
    const state = oauth.generateRandomState();
    const nonce = oauth.generateRandomNonce();
    const params = new URLSearchParams({
      response_type: 'code',
      redirect_uri: this.#options.redirectUri,
      scope: [OIDC_SCOPE, this.#options.scope ?? ''].join(' ').trim(),
      state,
      nonce,
      code_challenge: await oauth.calculatePKCECodeChallenge(codeVerifier),
      code_challenge_method: 'S256',
    });
    if (language) params.set('ui_locales', language);
    for (const r of this.#options.resources) params.append('resource', r);
    const answer = await this.#call('the pushed authorization request', async (o) =>
      oauth.processPushedAuthorizationResponse(
        as,
        this.#client,
        await oauth.pushedAuthorizationRequest(as, this.#client, oauth.TlsClientAuth(), params, o),
      ),
    );
    const url = new URL(as.authorization_endpoint ?? `${this.#options.issuer}/auth`);
    url.searchParams.set('client_id', this.#options.clientId);
    url.searchParams.set('request_uri', answer.request_uri);
    return { url: url.href, state, nonce, codeVerifier };
  }

  /**
   * The callback: check the response (state, `iss`, RFC 9207), exchange the code, check the id token. Returns the
   * person and the refresh token. EHMI_UNAUTHORIZED when anything does not match.
   */
  async finish(
    callbackUrl: URL,
    login: { state: string; nonce: string; codeVerifier: string },
  ): Promise<{ user: ConsoleUser; refreshToken: string }> {
    const as = await this.#as();
    let params: URLSearchParams;
    try {
      params = oauth.validateAuthResponse(as, this.#client, callbackUrl, login.state);
    } catch (err) {
      throw refused('the authorization response', err);
    }
    const tokens = await this.#call('the code exchange', async (o) =>
      oauth.processAuthorizationCodeResponse(
        as,
        this.#client,
        await oauth.authorizationCodeGrantRequest(
          as,
          this.#client,
          oauth.TlsClientAuth(),
          params,
          this.#options.redirectUri,
          login.codeVerifier,
          o,
        ),
        { expectedNonce: login.nonce, requireIdToken: true },
      ),
    );
    const idToken = tokens.id_token;
    if (!idToken || !tokens.refresh_token) {
      throw new EhmiError(
        'EHMI_UNAUTHORIZED',
        'the authorization server gave no id token or no refresh token',
      );
    }
    const claims = await this.#verifyIdToken(as, idToken, login.nonce);
    return { user: userOf(claims), refreshToken: tokens.refresh_token };
  }

  /** A new access token for `resource` from the refresh token (the person's roles as the account says now). */
  async accessToken(refreshToken: string, resource: string): Promise<{ token: string; expiresAt: number }> {
    const as = await this.#as();
    const started = (this.#options.now ?? Date.now)();
    const answer = await this.#call(`a token for ${resource}`, async (o) =>
      oauth.processRefreshTokenResponse(
        as,
        this.#client,
        await oauth.refreshTokenGrantRequest(as, this.#client, oauth.TlsClientAuth(), refreshToken, {
          ...o,
          additionalParameters: { resource },
        }),
      ),
    );
    return {
      token: answer.access_token,
      expiresAt:
        typeof answer.expires_in === 'number'
          ? started + answer.expires_in * 1000 - RENEW_BEFORE_MS
          : started + 60_000,
    };
  }

  /** Revoke the refresh token (and with it the grant's tokens) at sign-out; a failure is not the person's. */
  async revoke(refreshToken: string): Promise<void> {
    const as = await this.#as();
    await this.#call('the revocation', async (o) =>
      oauth.processRevocationResponse(
        await oauth.revocationRequest(as, this.#client, oauth.TlsClientAuth(), refreshToken, o),
      ),
    );
  }

  async #verifyIdToken(as: oauth.AuthorizationServer, idToken: string, nonce: string) {
    // oauth4webapi checked iss, aud, azp, nonce and times; the signature is checked here against the issuer's
    // published keys too (OpenID Connect Core §3.1.3.7 would allow TLS alone; one check more costs little).
    const res = await undiciFetch(as.jwks_uri ?? `${this.#options.issuer}/jwks`, {
      dispatcher: this.#options.dispatcher,
    });
    if (!res.ok) throw new EhmiError('EHMI_UNAVAILABLE', `the issuer's keys: HTTP ${res.status}`);
    const jwks = createLocalJWKSet((await res.json()) as Parameters<typeof createLocalJWKSet>[0]);
    try {
      const { payload } = await jwtVerify(idToken, jwks, {
        issuer: this.#options.issuer,
        audience: this.#options.clientId,
        algorithms: ['PS256', 'ES256'],
      });
      if (payload.nonce !== nonce) throw new Error('nonce mismatch');
      return payload;
    } catch (err) {
      throw refused('the id token', err);
    }
  }

  async #call<T>(what: string, run: (o: { [oauth.customFetch]: CustomFetch }) => Promise<T>): Promise<T> {
    try {
      return await run({ [oauth.customFetch]: this.#fetch() });
    } catch (err) {
      if (err instanceof oauth.ResponseBodyError) {
        throw new EhmiError(
          'EHMI_UNAUTHORIZED',
          `the authorization server refused ${what}: ${err.error}${err.error_description ? `: ${err.error_description}` : ''}`,
          { cause: err, details: { oauthError: err.error } },
        );
      }
      if (err instanceof EhmiError) throw err;
      if (err instanceof oauth.OperationProcessingError || err instanceof TypeError) throw refused(what, err);
      throw new EhmiError(
        'EHMI_UNAVAILABLE',
        `the authorization server: ${what} failed: ${(err as Error).message}`,
        {
          cause: err,
        },
      );
    }
  }

  #as(): Promise<oauth.AuthorizationServer> {
    return this.#metadata.get();
  }

  #fetch(): CustomFetch {
    return oauthFetch(this.#options.dispatcher);
  }
}

function refused(what: string, err: unknown): EhmiError {
  return new EhmiError('EHMI_UNAUTHORIZED', `${what} is not valid: ${(err as Error).message}`, {
    cause: err,
  });
}

/** The person of an id token (`sub`, `name`, `ehmi:roles`, `ehmi:org_context`). */
export function userOf(claims: Record<string, unknown>): ConsoleUser {
  const subject = claims.sub;
  if (typeof subject !== 'string' || subject === '') throw refused('the id token', new Error('no sub'));
  const given = Array.isArray(claims['ehmi:roles']) ? (claims['ehmi:roles'] as unknown[]) : [];
  const roles = given.filter((r): r is UserRole => (USER_ROLES as readonly unknown[]).includes(r));
  const context = Array.isArray(claims['ehmi:org_context'])
    ? (claims['ehmi:org_context'][0] as Record<string, unknown> | undefined)
    : undefined;
  const organisation =
    context && typeof context.gln === 'string' && typeof context.sor === 'string'
      ? {
          gln: context.gln,
          sor: context.sor,
          ...(typeof context.name === 'string' ? { name: context.name } : {}),
        }
      : undefined;
  return {
    subject,
    name: typeof claims.name === 'string' ? claims.name : subject,
    roles,
    patientData: given.includes(PATIENT_DATA),
    ...(organisation ? { organisation } : {}),
  };
}

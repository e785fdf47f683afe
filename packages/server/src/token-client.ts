// The client side of the network's access tokens: a registered system client obtains certificate-bound access
// tokens from the authorization server and calls resource servers with them. A light entry point
// (`@ehmi/server/token-client`): it loads no role, so the CLI uses it too.
import { EhmiError } from '@ehmi/errors';
import * as oauth from 'oauth4webapi';
import { type Dispatcher, fetch as undiciFetch } from 'undici';

/** oauth4webapi's `customFetch`, for its GET (metadata) and POST (token) requests alike. */
export type CustomFetch = (
  url: string,
  init: oauth.CustomFetchOptions<'GET' | 'POST', URLSearchParams | undefined>,
) => Promise<Response>;

export interface TokenClientOptions {
  /** The authorization server's issuer identifier (its metadata at `<issuer>/.well-known/oauth-authorization-server`). */
  issuer: string;
  /** The client's registered `client_id`. */
  clientId: string;
  /**
   * The connections to the authorization server: an undici dispatcher that presents the client's TLS certificate
   * (`tls_client_auth`, RFC 8705 §2: it authenticates the client, and the token is bound to it) and trusts the
   * server's CA. The resource servers must be called with the same certificate.
   */
  dispatcher: Dispatcher;
  /** A token is asked for again this long before it expires. Default 30 s. */
  renewBeforeMs?: number;
  /** Names the client in errors (`gp`, `eer`); default the client id. */
  name?: string;
  /** Clock; tests fix it. */
  now?: () => number;
}

/** What a token is asked for: a resource server (RFC 8707 `resource`) and the scopes, space-separated. */
export interface TokenRequest {
  resource: string;
  /** Space-separated; none asks for the client's registered scopes the resource offers. */
  scope?: string;
  /**
   * RFC 9396 `authorization_details` (JSON), e.g. `[{"type":"ehmi_patient","cpr":"…"}]` for a token restricted to
   * one patient.
   */
  authorizationDetails?: string;
}

interface CachedToken {
  accessToken: string;
  /** Epoch ms; Infinity when the server named no lifetime. */
  expiresAt: number;
}

const RENEW_BEFORE_MS = 30_000;

/**
 * A system client of the authorization server (docs/specs/security.md 1c): client credentials over mTLS
 * (`tls_client_auth`, RFC 8705), one certificate-bound access token per resource and scope, cached and asked for
 * again `renewBeforeMs` before it expires; concurrent callers share one request. A token the server refuses is
 * `EHMI_UNAUTHORIZED` with the server's `error` and `error_description` (and `details.oauthError`); a server that
 * cannot be reached, or answers with something that is not OAuth, is `EHMI_UNAVAILABLE` with the cause.
 *
 * @example
 * const tokens = new TokenClient({ issuer, clientId: 'central-eer', dispatcher: agent });
 * const call = tokens.fetch({ resource: 'https://eas.example', scope: 'eas/index.write' });
 * await call('https://eas.example/admin/organizations/x', { method: 'DELETE' });
 */
export class TokenClient {
  readonly issuer: string;
  readonly clientId: string;
  readonly #options: TokenClientOptions;
  readonly #tokens = new Map<string, Promise<CachedToken>>();
  readonly #metadata: ServerMetadata;

  constructor(options: TokenClientOptions) {
    if (!/^https:\/\//i.test(options.issuer)) {
      throw new EhmiError(
        'EHMI_CONFIG_INVALID',
        `the authorization server's issuer must be an https URL, got ${JSON.stringify(options.issuer)}`,
      );
    }
    if (!options.clientId) throw new EhmiError('EHMI_CONFIG_INVALID', 'a token client needs its client id');
    this.issuer = options.issuer;
    this.clientId = options.clientId;
    this.#options = options;
    this.#metadata = new ServerMetadata(options.issuer, oauthFetch(options.dispatcher));
  }

  /** An access token for `request`, from the cache while it is not about to expire. */
  async token(request: TokenRequest): Promise<string> {
    const key = keyOf(request);
    const now = this.#now();
    const cached = this.#tokens.get(key);
    if (cached) {
      const t = await cached.catch(() => undefined);
      if (t && now < t.expiresAt - (this.#options.renewBeforeMs ?? RENEW_BEFORE_MS)) return t.accessToken;
      if (this.#tokens.get(key) === cached) this.#tokens.delete(key);
    }
    let pending = this.#tokens.get(key);
    if (!pending) {
      const asked = this.#request(request);
      pending = asked;
      this.#tokens.set(key, asked);
      // A refused or failed request is not cached: the next call asks again.
      asked.catch(() => {
        if (this.#tokens.get(key) === asked) this.#tokens.delete(key);
      });
    }
    return (await pending).accessToken;
  }

  /** Drop the cached token of `request` (a resource server no longer takes it: the issuer's keys changed). */
  forget(request: TokenRequest): void {
    this.#tokens.delete(keyOf(request));
  }

  /**
   * A fetch that calls the resource server of `request` through `dispatcher` (the same client certificate as the
   * token's) with `Authorization: Bearer <token>`; a 401 `invalid_token` answer to a cached token is tried once more
   * with a new one.
   */
  fetch(request: TokenRequest, dispatcher: Dispatcher = this.#options.dispatcher): typeof fetch {
    const call = async (url: string, init: RequestInit, token: string) => {
      const headers: Record<string, string> = {};
      new Headers(init.headers).forEach((value, name) => {
        headers[name] = value;
      });
      headers.authorization = `Bearer ${token}`;
      return undiciFetch(url, { ...(init as object), headers, dispatcher });
    };
    return (async (url: string, init: RequestInit = {}) => {
      const res = await call(url, init, await this.token(request));
      if (res.status !== 401 || !/invalid_token/.test(res.headers.get('www-authenticate') ?? '')) return res;
      await res.body?.cancel();
      this.forget(request);
      return call(url, init, await this.token(request));
    }) as unknown as typeof fetch;
  }

  /** Forget every token and the server's metadata. */
  clear(): void {
    this.#tokens.clear();
    this.#metadata.forget();
  }

  #now(): number {
    return (this.#options.now ?? Date.now)();
  }

  async #request(request: TokenRequest): Promise<CachedToken> {
    const fetchOptions = { [oauth.customFetch]: oauthFetch(this.#options.dispatcher) };
    let as: oauth.AuthorizationServer;
    try {
      as = await this.#metadata.get();
    } catch (err) {
      throw unavailable(this.issuer, `its metadata cannot be had: ${(err as Error).message}`, err);
    }
    const client: oauth.Client = { client_id: this.clientId };
    const started = this.#now();
    let answer: oauth.TokenEndpointResponse;
    try {
      const res = await oauth.clientCredentialsGrantRequest(
        as,
        client,
        oauth.TlsClientAuth(),
        {
          ...(request.scope ? { scope: request.scope } : {}),
          resource: request.resource,
          ...(request.authorizationDetails ? { authorization_details: request.authorizationDetails } : {}),
        },
        fetchOptions,
      );
      answer = await oauth.processClientCredentialsResponse(as, client, res);
    } catch (err) {
      if (err instanceof oauth.ResponseBodyError) {
        throw new EhmiError(
          'EHMI_UNAUTHORIZED',
          `the authorization server ${this.issuer} refused ${this.#options.name ?? this.clientId}'s token request for ${request.resource} (HTTP ${err.status}): ${err.error}${err.error_description ? `: ${err.error_description}` : ''}`,
          {
            cause: err,
            details: {
              oauthError: err.error,
              ...(err.error_description ? { oauthErrorDescription: err.error_description } : {}),
            },
          },
        );
      }
      throw unavailable(this.issuer, `no token: ${(err as Error).message}`, err);
    }
    return {
      accessToken: answer.access_token,
      expiresAt: typeof answer.expires_in === 'number' ? started + answer.expires_in * 1000 : Infinity,
    };
  }
}

/** oauth4webapi's fetch: undici with the client's `dispatcher`, so each request presents the client's certificate. */
export function oauthFetch(dispatcher: Dispatcher | undefined): CustomFetch {
  return (url, init) =>
    undiciFetch(url, {
      method: init.method,
      redirect: init.redirect,
      signal: init.signal ?? null,
      headers: init.headers,
      ...(init.body !== undefined ? { body: init.body.toString() } : {}),
      dispatcher,
    }) as unknown as Promise<Response>;
}

/**
 * An authorization server's metadata (RFC 8414), fetched once through `fetch` and kept; a failed fetch is tried
 * again at the next `get`.
 */
export class ServerMetadata {
  readonly #issuer: URL;
  readonly #fetch: CustomFetch;
  #pending: Promise<oauth.AuthorizationServer> | undefined;

  constructor(issuer: string, fetch: CustomFetch) {
    this.#issuer = new URL(issuer);
    this.#fetch = fetch;
  }

  get(): Promise<oauth.AuthorizationServer> {
    if (!this.#pending) {
      const url = this.#issuer;
      const pending = oauth
        .discoveryRequest(url, { algorithm: 'oauth2', [oauth.customFetch]: this.#fetch })
        .then((res) => oauth.processDiscoveryResponse(url, res));
      this.#pending = pending;
      pending.catch(() => {
        if (this.#pending === pending) this.#pending = undefined;
      });
    }
    return this.#pending;
  }

  /** Fetch it again at the next `get`. */
  forget(): void {
    this.#pending = undefined;
  }
}

function keyOf(request: TokenRequest): string {
  return `${request.resource} ${request.scope ?? ''} ${request.authorizationDetails ?? ''}`;
}

function unavailable(issuer: string, message: string, cause: unknown): EhmiError {
  return new EhmiError('EHMI_UNAVAILABLE', `the authorization server ${issuer}: ${message}`, {
    cause,
    details: { issuer },
  });
}

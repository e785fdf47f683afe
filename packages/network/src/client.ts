import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { EhmiError } from '@ehmi/errors';
import * as oauth from 'oauth4webapi';
import { Agent, request, fetch as undiciFetch } from 'undici';
import { EER_READ_SCOPES, MSH_SCOPES } from './auth.ts';
import {
  type ManifestNetworkClient,
  type ManifestOrganisation,
  type NetworkManifest,
  readNetworkManifest,
} from './manifest.ts';

export { type OrganisationSecrets, readOrganisationSecrets } from './secrets.ts';

/** An answer from an MSH: its status and its body, parsed when it is JSON. */
export interface MshResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  /** Parsed JSON body, or undefined. */
  json: unknown;
  text: string;
}

/** One issue of an OperationOutcome, as the CLI prints it. */
export interface OutcomeIssue {
  severity: string;
  code: string;
  diagnostics: string;
  expression: string[];
}

/** Who calls an MSH: an organisation's EUA, or a network-level client (the operator); `name` keys its agent. */
type Caller = Pick<ManifestOrganisation, 'name' | 'tls' | 'clientId' | 'scope'>;

/** oauth4webapi's `customFetch`, for its GET (metadata) and POST (token) requests alike. */
type CustomFetch = (
  url: string,
  init: oauth.CustomFetchOptions<'GET' | 'POST', URLSearchParams | undefined>,
) => Promise<Response>;

/** A token is renewed this long before it expires. */
const RENEW_BEFORE_MS = 30_000;

interface CachedToken {
  accessToken: string;
  /** Epoch ms; Infinity when the server named no lifetime. */
  expiresAt: number;
}

/**
 * The network as the CLI commands see it: its manifest and an HTTPS client per organisation that trusts the
 * network's root CA and presents the organisation's TLS certificate (its EUA's client certificate, mTLS). When
 * network.json names the authorization server (`services.auth`), each call carries an access token for the MSH
 * (`Authorization: Bearer`), obtained with client credentials over mTLS (`tls_client_auth`, RFC 8705: bound to the
 * same certificate) for the MSH as resource (RFC 8707) and the MSH scopes the client is registered for, cached per
 * (client, MSH) and renewed 30 s before it expires.
 *
 * @example
 * const net = NetworkClient.open('.ehmi');
 * const res = await net.call('gp', 'GET', '/inbox');
 * await net.close();
 */
export class NetworkClient {
  readonly dataDir: string;
  readonly manifest: NetworkManifest;
  readonly #agents = new Map<string, Agent>();
  readonly #ca: string;
  readonly #tokens = new Map<string, Promise<CachedToken>>();
  #authorizationServer: Promise<oauth.AuthorizationServer> | undefined;

  private constructor(dataDir: string, manifest: NetworkManifest) {
    this.dataDir = dataDir;
    this.manifest = manifest;
    try {
      this.#ca = readFileSync(manifest.trustAnchor, 'utf8');
    } catch (err) {
      throw new EhmiError(
        'EHMI_CONFIG_INVALID',
        `cannot read the network's trust anchor ${manifest.trustAnchor}: ${(err as Error).message}`,
        { cause: err },
      );
    }
  }

  /** Read `<dataDir>/network.json`; no manifest → `EHMI_UNAVAILABLE` (exit 4). */
  static open(dataDir: string): NetworkClient {
    const dir = resolve(dataDir);
    return new NetworkClient(dir, readNetworkManifest(dir));
  }

  /** The organisation called `name`; an unknown name is a usage error naming the known ones (exit 2). */
  organisation(name: string): ManifestOrganisation {
    const org = this.manifest.organisations.find((o) => o.name === name);
    if (!org) {
      throw new EhmiError(
        'EHMI_USAGE',
        `unknown organisation "${name}" (known: ${this.manifest.organisations.map((o) => o.name).join(', ')})`,
      );
    }
    return org;
  }

  /** The organisation whose participant identifier is `0088:<GLN>`, if it is in the network. */
  byParticipant(participant: string): ManifestOrganisation | undefined {
    return this.manifest.organisations.find((o) => `0088:${o.gln}` === participant);
  }

  #agent(org: Caller): Agent {
    let agent = this.#agents.get(org.name);
    if (!agent) {
      let cert: string;
      let key: string;
      try {
        cert = readFileSync(org.tls.cert, 'utf8');
        key = readFileSync(org.tls.key, 'utf8');
      } catch (err) {
        throw new EhmiError(
          'EHMI_CONFIG_INVALID',
          `cannot read ${org.name}'s TLS credential: ${(err as Error).message}`,
          { cause: err },
        );
      }
      agent = new Agent({
        connect: { ca: this.#ca, cert, key, timeout: 5_000 },
        headersTimeout: 120_000,
        bodyTimeout: 120_000,
      });
      this.#agents.set(org.name, agent);
    }
    return agent;
  }

  /**
   * Call an organisation's MSH as that organisation's EUA. A refused or failed connection is `EHMI_UNAVAILABLE`
   * (exit 4) naming the URL; every HTTP answer, error or not, is returned. A token the authorization server refuses
   * is `EHMI_UNAUTHORIZED` with its error and description.
   */
  async call(
    orgName: string,
    method: 'GET' | 'POST' | 'DELETE',
    path: string,
    body?: { bytes: Uint8Array | string; contentType: string },
    accept = 'application/fhir+json, application/json',
  ): Promise<MshResponse> {
    const org = this.organisation(orgName);
    return this.#call(org, mshTarget(org), method, path, body, accept);
  }

  /**
   * Call an organisation's MSH as the network's operator (network.json `operator`: its certificate, and its tokens,
   * which name no organisation and grant reading only).
   */
  async callAsOperator(
    orgName: string,
    method: 'GET' | 'POST' | 'DELETE',
    path: string,
    body?: { bytes: Uint8Array | string; contentType: string },
    accept = 'application/fhir+json, application/json',
  ): Promise<MshResponse> {
    return this.#call(
      operatorCaller(this.manifest.operator),
      mshTarget(this.organisation(orgName)),
      method,
      path,
      body,
      accept,
    );
  }

  /**
   * Read the network's endpoint register (EER, `services.eer`) as the network's operator: its certificate, and a
   * token for EER with the operator's EER read scopes (`system/<Type>.rs`).
   */
  async readRegister(path: string, accept = 'application/fhir+json'): Promise<MshResponse> {
    const eer = this.manifest.services.eer;
    if (!eer) throw new EhmiError('EHMI_UNAVAILABLE', `network.json in ${this.dataDir} names no EER`);
    return this.#call(
      operatorCaller(this.manifest.operator),
      { label: 'the EER', base: eer, scopes: EER_READ_SCOPES },
      'GET',
      path,
      undefined,
      accept,
    );
  }

  async #call(
    caller: Caller,
    target: Target,
    method: 'GET' | 'POST' | 'DELETE',
    path: string,
    body: { bytes: Uint8Array | string; contentType: string } | undefined,
    accept: string,
  ): Promise<MshResponse> {
    const url = `${target.base}${path}`;
    const send = async (token: string | undefined) => {
      try {
        return await request(url, {
          method,
          dispatcher: this.#agent(caller),
          headers: {
            accept,
            ...(body ? { 'content-type': body.contentType } : {}),
            ...(token ? { authorization: `Bearer ${token}` } : {}),
          },
          ...(body ? { body: body.bytes } : {}),
        });
      } catch (err) {
        throw unreachable(target.label, url, err, this.dataDir);
      }
    };
    let token = await this.#accessToken(caller, target);
    let res = await send(token);
    // A cached token the MSH no longer takes (the authorization server started again with new keys): once more
    // with a new one.
    if (token && res.statusCode === 401 && /invalid_token/.test(String(res.headers['www-authenticate']))) {
      await res.body.dump();
      this.#tokens.delete(tokenKey(caller, target.base));
      token = await this.#accessToken(caller, target);
      res = await send(token);
    }
    const text = await res.body.text();
    let json: unknown;
    const type = String(res.headers['content-type'] ?? '');
    if (/json/.test(type) && text.length > 0) {
      try {
        json = JSON.parse(text);
      } catch {
        json = undefined;
      }
    }
    return { status: res.statusCode, headers: res.headers, json, text };
  }

  /**
   * An access token for `caller` at `target` (an MSH, the EER) as resource, with the scopes it offers, from the
   * cache while it has more than 30 s left; undefined when network.json names no authorization server (the servers
   * then take mTLS alone).
   */
  async #accessToken(caller: Caller, target: Target): Promise<string | undefined> {
    const issuer = this.manifest.services.auth;
    if (!issuer) return undefined;
    const resource = target.base;
    const key = tokenKey(caller, resource);
    const cached = this.#tokens.get(key);
    if (cached) {
      const t = await cached.catch(() => undefined);
      if (t && Date.now() < t.expiresAt - RENEW_BEFORE_MS) return t.accessToken;
      if (this.#tokens.get(key) === cached) this.#tokens.delete(key);
    }
    let pending = this.#tokens.get(key);
    if (!pending) {
      pending = this.#requestToken(issuer, caller, resource, target.scopes);
      this.#tokens.set(key, pending);
      // A refused or failed request is not cached: the next call asks again.
      pending.catch(() => {
        if (this.#tokens.get(key) === pending) this.#tokens.delete(key);
      });
    }
    return (await pending).accessToken;
  }

  async #requestToken(
    issuer: string,
    caller: Caller,
    resource: string,
    offered: readonly string[],
  ): Promise<CachedToken> {
    // A resource offers only its own scopes: ask for those of the client's registered scopes.
    const scope = caller.scope
      .split(' ')
      .filter((s) => offered.includes(s))
      .join(' ');
    const fetchOptions = { [oauth.customFetch]: this.#fetch(caller) };
    let as: oauth.AuthorizationServer;
    try {
      as = await this.#metadata(issuer, fetchOptions);
    } catch (err) {
      throw authUnavailable(issuer, err, this.dataDir);
    }
    const client: oauth.Client = { client_id: caller.clientId };
    const started = Date.now();
    let answer: oauth.TokenEndpointResponse;
    try {
      const res = await oauth.clientCredentialsGrantRequest(
        as,
        client,
        oauth.TlsClientAuth(),
        { ...(scope ? { scope } : {}), resource },
        fetchOptions,
      );
      answer = await oauth.processClientCredentialsResponse(as, client, res);
    } catch (err) {
      if (err instanceof oauth.ResponseBodyError) {
        throw new EhmiError(
          'EHMI_UNAUTHORIZED',
          `the authorization server ${issuer} refused ${caller.name}'s token request for ${resource} (HTTP ${err.status}): ${err.error}${err.error_description ? `: ${err.error_description}` : ''}`,
          { cause: err, details: { oauthError: err.error } },
        );
      }
      throw authUnavailable(issuer, err, this.dataDir);
    }
    return {
      accessToken: answer.access_token,
      expiresAt: typeof answer.expires_in === 'number' ? started + answer.expires_in * 1000 : Infinity,
    };
  }

  /** The authorization server's metadata (RFC 8414), fetched once per client; a failure is asked again next time. */
  #metadata(issuer: string, options: oauth.DiscoveryRequestOptions): Promise<oauth.AuthorizationServer> {
    if (!this.#authorizationServer) {
      const url = new URL(issuer);
      const pending = oauth
        .discoveryRequest(url, { ...options, algorithm: 'oauth2' })
        .then((res) => oauth.processDiscoveryResponse(url, res));
      this.#authorizationServer = pending;
      pending.catch(() => {
        if (this.#authorizationServer === pending) this.#authorizationServer = undefined;
      });
    }
    return this.#authorizationServer;
  }

  /** oauth4webapi's fetch for `caller`: undici with its agent, so the token request presents its certificate. */
  #fetch(caller: Caller): CustomFetch {
    const dispatcher = this.#agent(caller);
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
   * Ask every organisation's MSH for a sent message (`GET /messages/{id}`) and return the first that knows it.
   * None knows it → `EHMI_NOT_FOUND` (exit 1); none answered at all, or none that answered knows it while some did
   * not answer → `EHMI_UNAVAILABLE` (exit 4).
   */
  async findMessage(id: string): Promise<{ organisation: ManifestOrganisation; message: unknown }> {
    const path = `/messages/${encodeURIComponent(id)}`;
    const answers = await Promise.allSettled(
      this.manifest.organisations.map(async (o) => ({ o, res: await this.call(o.name, 'GET', path) })),
    );
    const down: string[] = [];
    let firstDown: unknown;
    for (const a of answers) {
      if (a.status === 'rejected') {
        firstDown ??= a.reason;
        continue;
      }
      if (a.value.res.status === 200) return { organisation: a.value.o, message: a.value.res.json };
    }
    answers.forEach((a, i) => {
      if (a.status === 'rejected') down.push(this.manifest.organisations[i]!.name);
    });
    if (down.length === this.manifest.organisations.length) throw firstDown;
    if (down.length > 0) {
      throw new EhmiError(
        'EHMI_UNAVAILABLE',
        `message ${id} is unknown to the MSHs that answered; ${down.join(', ')} did not answer`,
      );
    }
    throw new EhmiError(
      'EHMI_NOT_FOUND',
      `no organisation's MSH knows message ${id} (asked ${this.manifest.organisations.map((o) => o.name).join(', ')})`,
    );
  }

  async close(): Promise<void> {
    await Promise.all([...this.#agents.values()].map((a) => a.close()));
    this.#agents.clear();
    this.#tokens.clear();
    this.#authorizationServer = undefined;
  }
}

/** A server the client calls: its base URL, how an error names it, and the scopes it offers. */
interface Target {
  label: string;
  base: string;
  scopes: readonly string[];
}

function mshTarget(org: ManifestOrganisation): Target {
  return { label: `${org.name}'s MSH`, base: org.msh, scopes: MSH_SCOPES };
}

function operatorCaller(operator: ManifestNetworkClient): Caller {
  return { name: operator.name, tls: operator.tls, clientId: operator.clientId, scope: operator.scope };
}

function tokenKey(caller: Caller, resource: string): string {
  return `${caller.name} ${resource}`;
}

function authUnavailable(issuer: string, err: unknown, dataDir: string): EhmiError {
  const code = errorCode(err);
  if (code === 'ECONNREFUSED' || code === 'ECONNRESET' || code === 'UND_ERR_CONNECT_TIMEOUT') {
    return new EhmiError(
      'EHMI_UNAVAILABLE',
      `the local network in ${dataDir} is not running (the authorization server at ${issuer} ${code === 'ECONNREFUSED' ? 'refuses connections' : 'does not answer'}): start it with 'ehmi up --data ${dataDir}'`,
      { cause: err },
    );
  }
  return new EhmiError(
    'EHMI_UNAVAILABLE',
    `cannot get an access token from the authorization server at ${issuer}: ${(err as Error).message}${code ? ` (${code})` : ''}`,
    { cause: err },
  );
}

function errorCode(err: unknown): string | undefined {
  let e = err as { code?: string; cause?: unknown } | undefined;
  for (let i = 0; e && i < 5; i++) {
    if (e.code && e.code !== 'UND_ERR_SOCKET' && e.code !== 'UND_ERR') return e.code;
    e = e.cause as typeof e;
  }
  return (err as { code?: string })?.code;
}

function unreachable(label: string, url: string, err: unknown, dataDir: string): EhmiError {
  const code = errorCode(err);
  if (code === 'ECONNREFUSED' || code === 'ECONNRESET' || code === 'UND_ERR_CONNECT_TIMEOUT') {
    return new EhmiError(
      'EHMI_UNAVAILABLE',
      `the local network in ${dataDir} is not running (${label} at ${url} ${code === 'ECONNREFUSED' ? 'refuses connections' : 'does not answer'}): start it with 'ehmi up --data ${dataDir}'`,
      { cause: err },
    );
  }
  return new EhmiError(
    'EHMI_UNAVAILABLE',
    `cannot reach ${label} at ${url}: ${(err as Error).message}${code ? ` (${code})` : ''}`,
    { cause: err },
  );
}

/** The issues of an OperationOutcome body; one synthetic issue when the body is something else. */
export function outcomeIssues(res: MshResponse): OutcomeIssue[] {
  const oo = res.json as
    | {
        resourceType?: string;
        issue?: {
          severity?: string;
          code?: string;
          diagnostics?: string;
          details?: { text?: string };
          expression?: string[];
        }[];
      }
    | undefined;
  if (oo?.resourceType === 'OperationOutcome' && Array.isArray(oo.issue) && oo.issue.length > 0) {
    return oo.issue.map((i) => ({
      severity: i.severity ?? 'error',
      code: i.code ?? 'unknown',
      // The MSH (toOperationOutcome, the profile validator) puts its text in details.text, FHIR R4 OperationOutcome
      // allows either: print both when both are there.
      diagnostics: [i.details?.text, i.diagnostics]
        .filter((t) => typeof t === 'string' && t !== '')
        .join(': '),
      expression: i.expression ?? [],
    }));
  }
  return [
    {
      severity: 'error',
      code: 'unknown',
      diagnostics: `HTTP ${res.status}${res.text ? `: ${res.text.slice(0, 200)}` : ''}`,
      expression: [],
    },
  ];
}

/** CLI exit code for an MSH error answer (DESIGN-NOTES: 1 failed/invalid, 2 unreadable input, 4 unavailable). */
export function exitCodeForStatus(status: number): number {
  if (status === 400 || status === 415 || status === 406) return 2;
  if (status === 502 || status === 503 || status === 504) return 4;
  return 1;
}

/** Print an MSH error answer on stderr (a summary line, then each OperationOutcome issue) and return its exit code. */
export function writeFailure(stderr: NodeJS.WritableStream, what: string, res: MshResponse): number {
  stderr.write(`ehmi: ${what} failed: HTTP ${res.status}\n`);
  for (const i of outcomeIssues(res)) {
    const at = i.expression.length > 0 ? ` (at ${i.expression.join(', ')})` : '';
    stderr.write(`  ${i.severity} ${i.code}: ${i.diagnostics}${at}\n`);
  }
  return exitCodeForStatus(res.status);
}

/** The data folder a command looks in: `--data`, else `EHMI_DATA_DIR`, else `./.ehmi`. */
export function networkDataDir(option: string | undefined, env: NodeJS.ProcessEnv, cwd: string): string {
  return resolve(cwd, option ?? env.EHMI_DATA_DIR ?? '.ehmi');
}

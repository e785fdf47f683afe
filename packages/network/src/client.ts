import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { EhmiError } from '@ehmi/errors';
import { TokenClient, type TokenRequest } from '@ehmi/server/token-client';
import { Agent, request } from 'undici';
import {
  ARCHIVE_SCOPES,
  AUDIT_SCOPES,
  EDS_READ_SCOPES,
  EER_READ_SCOPES,
  METRICS_SCOPES,
  MSH_SCOPES,
} from './auth.ts';
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
  /** The body's octets as received (a payload that is not UTF-8 text: EDIFACT, ISO-8859-1 XML). */
  bytes: Buffer;
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

/** How a NetworkClient asks for its tokens. */
export interface NetworkClientOptions {
  /**
   * Ask for tokens restricted to this patient (a CPR, 10 digits): RFC 9396 `authorization_details`
   * `[{"type":"ehmi_patient","cpr":"…"}]`; the MSHs then serve that patient's messages only.
   */
  patient?: string;
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
  /** One token client per caller (`@ehmi/server/token-client`: cached, renewed 30 s before expiry). */
  readonly #tokenClients = new Map<string, TokenClient>();
  /** RFC 9396 `authorization_details` of every token request (JSON), when the tokens are restricted. */
  readonly #authorizationDetails: string | undefined;

  private constructor(dataDir: string, manifest: NetworkManifest, options: NetworkClientOptions = {}) {
    this.dataDir = dataDir;
    this.manifest = manifest;
    this.#authorizationDetails =
      options.patient === undefined
        ? undefined
        : JSON.stringify([{ type: 'ehmi_patient', cpr: options.patient }]);
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
  static open(dataDir: string, options: NetworkClientOptions = {}): NetworkClient {
    const dir = resolve(dataDir);
    return new NetworkClient(dir, readNetworkManifest(dir), options);
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
    return this.#call(org, org, method, path, body, accept);
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
      this.organisation(orgName),
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
    return this.#request(
      operatorCaller(this.manifest.operator),
      { base: eer, what: 'the EER', scopes: EER_READ_SCOPES },
      'GET',
      path,
      undefined,
      accept,
    );
  }

  /**
   * Search EHMI Delivery Status (`services.eds`, `GET /AuditEvent?…`) and follow the searchset's `next` links: as the
   * network's operator, who reads every event, or as the organisation `as` (its EUA's client), which reads the events
   * of the messages it took part in; with a token of scope `system/AuditEvent.rs`. A refusal is `EHMI_UNAUTHORIZED`
   * (401) or `EHMI_FORBIDDEN` (403) with EDS's diagnostics; any other answer but a searchset is `EHMI_UNAVAILABLE`.
   */
  async searchEds(params: [string, string][], as?: string): Promise<Record<string, unknown>[]> {
    const eds = this.manifest.services.eds?.replace(/\/+$/, '');
    if (!eds) throw new EhmiError('EHMI_UNAVAILABLE', `network.json in ${this.dataDir} names no EDS`);
    return this.#searchAll({ base: eds, what: 'EDS', scopes: EDS_READ_SCOPES }, 'AuditEvent', params, as);
  }

  /**
   * Search the document archive (`services.archive`, `GET /DocumentReference?…`, e.g.
   * `patient:identifier=urn:oid:1.2.208.176.1.2|<CPR>`) and follow the searchset's `next` links: as the network's
   * operator, or as the organisation `as` (its EUA's client); with a token of the archive's read scopes. Refusals as
   * {@link searchEds}.
   */
  async searchArchive(params: [string, string][], as?: string): Promise<Record<string, unknown>[]> {
    const archive = this.manifest.services.archive?.replace(/\/+$/, '');
    if (!archive) {
      throw new EhmiError('EHMI_UNAVAILABLE', `network.json in ${this.dataDir} names no document archive`);
    }
    return this.#searchAll(
      { base: archive, what: 'the archive', scopes: ARCHIVE_SCOPES },
      'DocumentReference',
      params,
      as,
    );
  }

  /** Every match of a FHIR search (`next` links followed, at most 20 pages of 200). */
  async #searchAll(
    target: { base: string; what: string; scopes: readonly string[] },
    type: string,
    params: [string, string][],
    as: string | undefined,
  ): Promise<Record<string, unknown>[]> {
    const base = target.base;
    const caller = as === undefined ? operatorCaller(this.manifest.operator) : this.organisation(as);
    const found: Record<string, unknown>[] = [];
    let path: string | undefined = `/${type}?${new URLSearchParams([...params, ['_count', '200']])}`;
    for (let page = 0; path !== undefined && page < 20; page++) {
      const res = await this.#request(caller, target, 'GET', path, undefined, 'application/fhir+json');
      const bundle = res.json as
        | {
            resourceType?: string;
            entry?: { resource?: Record<string, unknown> }[];
            link?: { relation?: string; url?: string }[];
          }
        | undefined;
      if (res.status !== 200 || bundle?.resourceType !== 'Bundle') {
        const why = outcomeIssues(res)
          .map((i) => i.diagnostics)
          .join('; ');
        const code =
          res.status === 401
            ? 'EHMI_UNAUTHORIZED'
            : res.status === 403
              ? 'EHMI_FORBIDDEN'
              : res.status === 400
                ? 'EHMI_USAGE'
                : 'EHMI_UNAVAILABLE';
        throw new EhmiError(code, `${target.what} answered ${res.status} to ${path}: ${why}`);
      }
      for (const e of bundle.entry ?? []) {
        if (e.resource?.resourceType === type) found.push(e.resource);
      }
      const next = bundle.link?.find((l) => l.relation === 'next')?.url;
      // The next page is the server's own URL; only its path and query are taken, so the request stays with it.
      path =
        next === undefined ? undefined : next.startsWith(base) ? next.slice(base.length) : nextPath(next);
    }
    return found;
  }

  /**
   * Read from the document archive (`services.archive`): a DocumentReference or a document (`/Binary/{id}`), as the
   * operator or the organisation `as`.
   */
  async readArchive(path: string, as?: string, accept = 'application/fhir+json'): Promise<MshResponse> {
    const archive = this.manifest.services.archive?.replace(/\/+$/, '');
    if (!archive) {
      throw new EhmiError('EHMI_UNAVAILABLE', `network.json in ${this.dataDir} names no document archive`);
    }
    const caller = as === undefined ? operatorCaller(this.manifest.operator) : this.organisation(as);
    return this.#request(
      caller,
      { base: archive, what: 'the archive', scopes: ARCHIVE_SCOPES },
      'GET',
      path,
      undefined,
      accept,
    );
  }

  #call(
    caller: Caller,
    org: ManifestOrganisation,
    method: 'GET' | 'POST' | 'DELETE',
    path: string,
    body: { bytes: Uint8Array | string; contentType: string } | undefined,
    accept: string,
  ): Promise<MshResponse> {
    // The MSH offers only its own scopes: the token asks for those of the client's registered scopes.
    return this.#request(
      caller,
      { base: org.msh, what: `${org.name}'s MSH`, scopes: MSH_SCOPES },
      method,
      path,
      body,
      accept,
    );
  }

  /**
   * Read a server's `/metrics` (Prometheus text) as the network's operator (network.json `operator`, scope
   * `ehmi/metrics.read`, a token for that server). `server` is a server's base URL (as `ehmi up` prints them).
   */
  async metrics(server: string): Promise<MshResponse> {
    const base = server.replace(/\/+$/, '');
    return this.#request(
      operatorCaller(this.manifest.operator),
      { base, what: base, scopes: METRICS_SCOPES },
      'GET',
      '/metrics',
      undefined,
      'text/plain',
    );
  }

  /**
   * Search a node's audit log (`GET /audit/AuditEvent`, FHIR search parameters in `query`) as the network's
   * operator (scope `ehmi/audit.read`, a token for that node's own server). `node` is the node's own server URL.
   */
  async audit(node: string, query: URLSearchParams): Promise<MshResponse> {
    const base = node.replace(/\/+$/, '');
    const q = query.toString();
    return this.#request(
      operatorCaller(this.manifest.operator),
      { base, what: `the audit log of ${base}`, scopes: AUDIT_SCOPES },
      'GET',
      `/audit/AuditEvent${q ? `?${q}` : ''}`,
      undefined,
      'application/fhir+json',
    );
  }

  async #request(
    caller: Caller,
    target: { base: string; what: string; scopes: readonly string[] },
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
        throw unreachable(target.what, url, err, this.dataDir);
      }
    };
    let token = await this.#accessToken(caller, target.base, target.scopes);
    let res = await send(token);
    // A cached token the server no longer takes (the authorization server started again with new keys): once more
    // with a new one.
    if (token && res.statusCode === 401 && /invalid_token/.test(String(res.headers['www-authenticate']))) {
      await res.body.dump();
      this.#tokenClient(caller)?.forget(
        tokenRequest(caller, target.base, target.scopes, this.#authorizationDetails),
      );
      token = await this.#accessToken(caller, target.base, target.scopes);
      res = await send(token);
    }
    const bytes = Buffer.from(await res.body.arrayBuffer());
    const text = bytes.toString('utf8');
    let json: unknown;
    const type = String(res.headers['content-type'] ?? '');
    if (/json/.test(type) && text.length > 0) {
      try {
        json = JSON.parse(text);
      } catch {
        json = undefined;
      }
    }
    return { status: res.statusCode, headers: res.headers, json, text, bytes };
  }

  /**
   * An access token for `caller` at the server `resource` with those of `scopes` the client is registered for;
   * undefined when network.json names no authorization server (the MSHs then take mTLS alone). A refused request is
   * `EHMI_UNAUTHORIZED` with the server's error and description; a server that cannot be reached says how to start
   * the network.
   */
  async #accessToken(
    caller: Caller,
    resource: string,
    scopes: readonly string[],
  ): Promise<string | undefined> {
    const client = this.#tokenClient(caller);
    if (!client) return undefined;
    try {
      return await client.token(tokenRequest(caller, resource, scopes, this.#authorizationDetails));
    } catch (err) {
      if (err instanceof EhmiError && err.code === 'EHMI_UNAVAILABLE') {
        throw authUnavailable(client.issuer, err.cause ?? err, this.dataDir);
      }
      throw err;
    }
  }

  #tokenClient(caller: Caller): TokenClient | undefined {
    const issuer = this.manifest.services.auth;
    if (!issuer) return undefined;
    let client = this.#tokenClients.get(caller.name);
    if (!client) {
      client = new TokenClient({
        issuer,
        clientId: caller.clientId,
        name: caller.name,
        dispatcher: this.#agent(caller),
      });
      this.#tokenClients.set(caller.name, client);
    }
    return client;
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
    this.#tokenClients.clear();
  }
}

function nextPath(url: string): string {
  const u = new URL(url);
  return `${u.pathname.replace(/^.*(?=\/AuditEvent)/, '')}${u.search}`;
}

function operatorCaller(operator: ManifestNetworkClient): Caller {
  return { name: operator.name, tls: operator.tls, clientId: operator.clientId, scope: operator.scope };
}

/** A server offers only its own scopes: a token for it asks for those of the client's registered scopes. */
function tokenRequest(
  caller: Caller,
  resource: string,
  scopes: readonly string[],
  authorizationDetails: string | undefined,
): TokenRequest {
  return {
    resource,
    ...(authorizationDetails ? { authorizationDetails } : {}),
    scope: caller.scope
      .split(' ')
      .filter((s) => scopes.includes(s))
      .join(' '),
  };
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

function unreachable(what: string, url: string, err: unknown, dataDir: string): EhmiError {
  const code = errorCode(err);
  if (code === 'ECONNREFUSED' || code === 'ECONNRESET' || code === 'UND_ERR_CONNECT_TIMEOUT') {
    return new EhmiError(
      'EHMI_UNAVAILABLE',
      `the local network in ${dataDir} is not running (${what} at ${url} ${code === 'ECONNREFUSED' ? 'refuses connections' : 'does not answer'}): start it with 'ehmi up --data ${dataDir}'`,
      { cause: err },
    );
  }
  return new EhmiError(
    'EHMI_UNAVAILABLE',
    `cannot reach ${what} at ${url}: ${(err as Error).message}${code ? ` (${code})` : ''}`,
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

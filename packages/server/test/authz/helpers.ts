import type { FastifyInstance } from 'fastify';
import { decodeJwt, importJWK, SignJWT } from 'jose';
import pino from 'pino';
import { type Agent, fetch } from 'undici';
import type { AuthRole } from '../../src/auth/index.ts';
import { AccessTokenVerifier, type AccessTokenVerifierOptions, requireAccessToken } from '../../src/authz.ts';
import { createHttpServer, listen } from '../../src/http/index.ts';
import { EER, requestToken, type TestPki } from '../auth/helpers.ts';

/** The scope each route of the test resource server needs (any one of a list). */
export const ROUTE_SCOPES: Record<string, string | readonly string[] | undefined> = {
  '/Endpoint': 'system/Endpoint.rs',
  '/Device': ['system/Device.rs', 'system/Endpoint.cruds'],
  '/any': undefined,
};

/** A resource server (HTTPS, asks for a client certificate) with every route behind `requireAccessToken`. */
export interface TestResourceServer {
  app: FastifyInstance;
  url: string;
  /** Every answer, with the client the request was from as the node's audit log sees it (`request.access`). */
  answered: { url: string; status: number; clientId: string | undefined }[];
  verifier: AccessTokenVerifier;
  close(): Promise<void>;
}

export async function startResourceServer(
  pki: TestPki,
  verifierOptions: AccessTokenVerifierOptions,
  hook: { honoursPatientRestriction?: boolean } = {},
): Promise<TestResourceServer> {
  const verifier = new AccessTokenVerifier(verifierOptions);
  const app = await createHttpServer({
    service: 'authz-test',
    logger: pino({ level: 'silent' }),
    bodyLimitBytes: 1024 * 1024,
    metricsAccess: async () => {},
    tls: {
      key: pki.server.privateKeyPem,
      cert: pki.server.certificatePem,
      ca: [pki.caPem],
      requestCert: true,
      rejectUnauthorized: false,
    },
  });
  app.addHook(
    'onRequest',
    requireAccessToken(verifier, {
      scope: (request) => ROUTE_SCOPES[request.routeOptions.url ?? ''],
      open: new Set(['/health']),
      ...hook,
    }),
  );
  const answered: TestResourceServer['answered'] = [];
  app.addHook('onResponse', async (request, reply) => {
    answered.push({ url: request.url, status: reply.statusCode, clientId: request.access?.clientId });
  });
  const answer = async (request: import('fastify').FastifyRequest) => {
    const access = request.access!;
    return {
      clientId: access.clientId,
      scopes: [...access.scopes],
      organisation: access.organisation,
      patient: access.patient ?? null,
    };
  };
  for (const url of Object.keys(ROUTE_SCOPES)) app.get(url, answer);
  const url = await listen(app, { host: '127.0.0.1', port: 0, https: true });
  return {
    app,
    url,
    answered,
    verifier,
    async close() {
      await app.close();
      await verifier.close();
    },
  };
}

/** An access token of the registered client `msh-gp` (certificate `pki.client`) for `resource`. */
export async function clientToken(
  auth: AuthRole,
  pki: TestPki,
  scope = 'system/Organization.rs system/Endpoint.rs',
  resource = EER,
): Promise<string> {
  const agent = pki.agent(pki.client);
  try {
    const { status, body } = await requestToken(auth.url, agent, { client_id: 'msh-gp', scope, resource });
    if (status !== 200) throw new Error(`token request: ${status} ${JSON.stringify(body)}`);
    return String(body.access_token);
  } finally {
    await agent.close();
  }
}

/** A JWT signed with the authorization server's own current key: what it would issue, claims as given. */
export async function signedByIssuer(auth: AuthRole, claims: Record<string, unknown>): Promise<string> {
  const key = auth.signingKeys().at(-1)!;
  return new SignJWT(claims)
    .setProtectedHeader({ alg: key.alg, kid: key.kid, typ: 'at+jwt' })
    .sign(await importJWK(key.jwk as Parameters<typeof importJWK>[0], key.alg));
}

/** The claims of a token as the authorization server issued it (to forge variants of it). */
export const claimsOf = (token: string): Record<string, unknown> => ({ ...decodeJwt(token) });

export interface Answer {
  status: number;
  challenge: string | null;
  body: Record<string, unknown>;
}

/** GET `path` on the resource server over a connection of `agent`, with the token as a bearer token. */
export async function call(
  rs: TestResourceServer,
  agent: Agent,
  path: string,
  token?: string,
): Promise<Answer> {
  const res = await fetch(`${rs.url}${path}`, {
    dispatcher: agent,
    headers: token === undefined ? {} : { authorization: `Bearer ${token}` },
  });
  const text = await res.text();
  return {
    status: res.status,
    challenge: res.headers.get('www-authenticate'),
    body: text ? (JSON.parse(text) as Record<string, unknown>) : {},
  };
}

/** The EHMI error code of an OperationOutcome body. */
export const codeOf = (body: Record<string, unknown>): string | undefined =>
  (body as { issue?: { details?: { coding?: { code: string }[] } }[] }).issue?.[0]?.details?.coding?.[0]
    ?.code;

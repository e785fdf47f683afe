import { constants, createHash, createPublicKey, type JsonWebKey, verify } from 'node:crypto';
import { type Credential, createCertificateAuthority, issueCertificate } from '@ehmi/pki';
import pino from 'pino';
import { Agent, fetch } from 'undici';
import { type AuthDeps, type AuthRole, createAuthRole } from '../../src/auth/index.ts';
import { authRole } from '../../src/auth/role.ts';
import { roleContext } from '../../src/node.ts';
import { type ConfigInput, loadConfig } from '../../src/role-list.ts';
import { JobQueue } from '../../src/store/index.ts';
import type { TestStore } from '../helpers/engines.ts';

export const EER = 'https://eer.ehmi.test';
export const EAS = 'https://eas.ehmi.test';
export const MSH = 'https://msh.gp.ehmi.test';
export const CLIENT_DN = 'CN=msh.gp, O=Lægehuset, C=DK';
export const ORGANISATION = {
  gln: '5790000123452',
  sor: '1053851000016007',
  cvr: '12345678',
  name: 'Lægehuset',
};

/** A test PKI: one CA, the server's certificate, a registered client's and a stranger's. */
export interface TestPki {
  caPem: string;
  server: Credential;
  client: Credential;
  stranger: Credential;
  /** Calls without a client certificate. */
  anonymous: Agent;
  agent(client: Credential): Agent;
}

export async function testPki(): Promise<TestPki> {
  const ca = await createCertificateAuthority({ subject: 'CN=Auth test CA, O=EHMI Test, C=DK' });
  const server = await issueCertificate(ca, {
    subject: 'CN=127.0.0.1, O=EHMI Test, C=DK',
    purposes: ['tls-server'],
    ipAddresses: ['127.0.0.1'],
  });
  const client = await issueCertificate(ca, { subject: CLIENT_DN, purposes: ['tls-client'] });
  const stranger = await issueCertificate(ca, {
    subject: 'CN=stranger, O=Other, C=DK',
    purposes: ['tls-client'],
  });
  const caPem = ca.certificatePem;
  return {
    caPem,
    server,
    client,
    stranger,
    anonymous: new Agent({ connect: { ca: [caPem] } }),
    agent: (c) => new Agent({ connect: { ca: [caPem], cert: c.certificatePem, key: c.privateKeyPem } }),
  };
}

export function authConfig(ts: TestStore, auth: NonNullable<ConfigInput['auth']> = {}) {
  return loadConfig({
    env: {},
    overrides: {
      dataDir: ts.dataDir,
      auth: {
        enabled: true,
        port: 0,
        resources: {
          [EER]: 'system/Organization.rs system/Endpoint.rs system/Device.rs system/Endpoint.cruds',
          [EAS]: 'system/Organization.rs',
          [MSH]: 'system/MessageHeader.c system/MessageHeader.rs',
        },
        clients: [
          {
            clientId: 'msh-gp',
            subjectDn: CLIENT_DN,
            scope: 'system/Organization.rs system/Endpoint.rs system/MessageHeader.c',
            organisation: ORGANISATION,
          },
        ],
        ...auth,
      },
    },
  });
}

export async function startAuth(
  ts: TestStore,
  pki: TestPki | undefined,
  config = authConfig(ts),
  deps: AuthDeps = {},
): Promise<AuthRole> {
  const role = await createAuthRole(
    roleContext(authRole, {
      config,
      store: ts.store,
      queue: new JobQueue(ts.store, {
        leaseMs: 30_000,
        maxAttempts: 5,
        backoffBaseMs: 100,
        backoffMaxMs: 1000,
      }),
      logger: pino({ level: 'silent' }),
      ...(pki
        ? { tls: { key: pki.server.privateKeyPem, cert: pki.server.certificatePem, ca: [pki.caPem] } }
        : {}),
    }),
    deps,
  );
  await role.start();
  return role;
}

/** A token request (RFC 6749 §4.4.2) over the given TLS connection. */
export async function requestToken(
  url: string,
  dispatcher: Agent,
  params: Record<string, string>,
): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${url}/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'client_credentials', ...params }).toString(),
    dispatcher,
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

export async function getJson(url: string, dispatcher: Agent): Promise<Record<string, unknown>> {
  const res = await fetch(url, { dispatcher });
  if (res.status !== 200) throw new Error(`GET ${url}: ${res.status}`);
  return (await res.json()) as Record<string, unknown>;
}

const b64 = (part: string) =>
  JSON.parse(Buffer.from(part, 'base64url').toString('utf8')) as Record<string, unknown>;

/** Verify a JWS (PS256 or ES256) against a JWKS; returns its header and payload, or throws. */
export function verifyJwt(
  jwt: string,
  jwks: { keys: (JsonWebKey & { kid: string })[] },
): { header: Record<string, unknown>; payload: Record<string, unknown> } {
  const [h, p, s] = jwt.split('.');
  if (!h || !p || !s) throw new Error('not a JWS compact serialization');
  const header = b64(h);
  const jwk = jwks.keys.find((k) => k.kid === header.kid);
  if (!jwk) throw new Error(`no key ${String(header.kid)} in the JWKS`);
  const key = createPublicKey({ key: jwk, format: 'jwk' });
  const data = Buffer.from(`${h}.${p}`);
  const signature = Buffer.from(s, 'base64url');
  const ok =
    header.alg === 'PS256'
      ? verify('sha256', data, { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 }, signature)
      : header.alg === 'ES256'
        ? verify('sha256', data, { key, dsaEncoding: 'ieee-p1363' }, signature)
        : false;
  if (!ok) throw new Error('signature does not verify');
  return { header, payload: b64(p) };
}

/** RFC 8705 §3.1: the base64url SHA-256 of the certificate's DER. */
export const x5tS256 = (c: Credential) => createHash('sha256').update(c.certificate.raw).digest('base64url');

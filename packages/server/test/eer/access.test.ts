// EER with the node's `authorization`: mTLS and certificate-bound access tokens of a real authorization server
// (the `auth` role), reads by the read scopes, writes by `.cruds` (docs/specs/security.md 1c).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type Agent, fetch } from 'undici';
import type { AuthRole } from '../../src/auth/index.ts';
import {
  authConfig,
  CLIENT_DN,
  EAS,
  EER,
  requestToken,
  startAuth,
  type TestPki,
  testPki,
} from '../auth/helpers.ts';
import { engines, type TestStore } from '../helpers/engines.ts';
import { fixture, type Json, type RunningEer, startEer, withSor } from './helpers.ts';

const engine = engines()[0]!;
const READS = 'system/Organization.rs system/Endpoint.rs system/Device.rs';
const WRITES = 'system/Organization.cruds system/Endpoint.cruds system/Device.cruds';
const STRANGER_DN = 'CN=stranger, O=Other, C=DK';

interface Answer {
  status: number;
  challenge: string | null;
  body: Json;
}

describe('EER: access tokens when the node has authorization (FAPI 2.0 §5.3.3, RFC 6750 §3.1)', () => {
  let ts: TestStore;
  let pki: TestPki;
  let auth: AuthRole;
  let eer: RunningEer;
  let reader: Agent;
  let maintainer: Agent;

  const token = async (agent: Agent, clientId: string, scope: string, resource = EER) => {
    const { status, body } = await requestToken(auth.url, agent, { client_id: clientId, scope, resource });
    assert.equal(status, 200, JSON.stringify(body));
    return String(body.access_token);
  };
  const call = async (
    agent: Agent,
    method: string,
    path: string,
    bearer?: string,
    body?: Json,
  ): Promise<Answer> => {
    const res = await fetch(`${eer.url}${path}`, {
      method,
      dispatcher: agent,
      headers: {
        accept: 'application/fhir+json',
        ...(body ? { 'content-type': 'application/fhir+json' } : {}),
        ...(bearer ? { authorization: `Bearer ${bearer}` } : {}),
      },
      ...(body ? { body: JSON.stringify(body) } : {}),
    });
    const text = await res.text();
    return {
      status: res.status,
      challenge: res.headers.get('www-authenticate'),
      body: text ? (JSON.parse(text) as Json) : {},
    };
  };
  const organisation = () => {
    const { id: _id, ...org } = withSor(fixture('Organization-example-eer-messaging-organization.json'));
    return org;
  };

  before(async () => {
    pki = await testPki();
    ts = await engine.open();
    auth = await startAuth(
      ts,
      pki,
      authConfig(ts, {
        resources: { [EER]: `${READS} ${WRITES}`, [EAS]: 'system/Organization.rs' },
        clients: [
          { clientId: 'gp-eua', subjectDn: CLIENT_DN, scope: `${READS} system/Organization.rs` },
          { clientId: 'maintainer', subjectDn: STRANGER_DN, scope: WRITES },
        ],
      }),
    );
    eer = await startEer(
      ts,
      { publicUrl: EER },
      {},
      undefined,
      { key: pki.server.privateKeyPem, cert: pki.server.certificatePem, ca: [pki.caPem] },
      { authorization: { issuer: auth.issuer } },
    );
    reader = pki.agent(pki.client);
    maintainer = pki.agent(pki.stranger);
  });
  after(async () => {
    await eer?.close();
    await auth?.close();
    await reader?.close();
    await maintainer?.close();
    await pki?.anonymous.close();
    await ts?.cleanup();
  });

  it('a write with the maintainer token (system/Organization.cruds): 201', async () => {
    const answer = await call(
      maintainer,
      'POST',
      '/Organization',
      await token(maintainer, 'maintainer', WRITES),
      organisation(),
    );
    assert.equal(answer.status, 201, JSON.stringify(answer.body));
  });

  it('a read with a read token (system/Organization.rs): 200', async () => {
    const bearer = await token(reader, 'gp-eua', READS);
    const search = await call(reader, 'GET', '/Organization', bearer);
    assert.equal(search.status, 200, JSON.stringify(search.body));
    assert.equal(search.body.resourceType, 'Bundle');
  });

  it('a write with a read-only token: 403 insufficient_scope naming system/Organization.cruds', async () => {
    const answer = await call(
      reader,
      'POST',
      '/Organization',
      await token(reader, 'gp-eua', READS),
      organisation(),
    );
    assert.equal(answer.status, 403, JSON.stringify(answer.body));
    assert.match(
      answer.challenge ?? '',
      /^Bearer error="insufficient_scope", .*scope="system\/Organization\.cruds"$/,
    );
    assert.equal(answer.body.resourceType, 'OperationOutcome');
  });

  it('a write without a token: 401 with WWW-Authenticate: Bearer', async () => {
    const answer = await call(maintainer, 'POST', '/Organization', undefined, organisation());
    assert.equal(answer.status, 401, JSON.stringify(answer.body));
    assert.match(answer.challenge ?? '', /^Bearer/);
  });

  it('a read without a client certificate: 401, even with a token', async () => {
    const answer = await call(pki.anonymous, 'GET', '/Organization', await token(reader, 'gp-eua', READS));
    assert.equal(answer.status, 401, JSON.stringify(answer.body));
  });

  it('a token for another audience (EAS): 401 invalid_token', async () => {
    const bearer = await token(reader, 'gp-eua', 'system/Organization.rs', EAS);
    const answer = await call(reader, 'GET', '/Organization', bearer);
    assert.equal(answer.status, 401, JSON.stringify(answer.body));
    assert.match(answer.challenge ?? '', /^Bearer error="invalid_token"/);
  });

  it('a transaction needs .cruds of every type it writes: Organization.cruds alone is refused 403, nothing written', async () => {
    const bearer = await token(maintainer, 'maintainer', 'system/Organization.cruds');
    const before = await call(reader, 'GET', '/Organization', await token(reader, 'gp-eua', READS));
    const bundle = {
      resourceType: 'Bundle',
      type: 'transaction',
      entry: [
        { resource: organisation(), request: { method: 'POST', url: 'Organization' } },
        { request: { method: 'DELETE', url: 'Endpoint/nothing-here' } },
      ],
    };
    const answer = await call(maintainer, 'POST', '/', bearer, bundle);
    assert.equal(answer.status, 403, JSON.stringify(answer.body));
    assert.match(answer.challenge ?? '', /insufficient_scope.*scope="system\/Endpoint\.cruds"$/);
    const after = await call(reader, 'GET', '/Organization', await token(reader, 'gp-eua', READS));
    assert.equal(after.body.total, before.body.total);
  });

  it('a search that _includes Endpoints needs system/Endpoint.rs too: 403 with Organization.rs alone, 200 with both', async () => {
    const writer = await token(maintainer, 'maintainer', WRITES);
    for (const name of [
      'Endpoint-example-endpoint.json',
      'Organization-example-eer-messaging-organization.json',
    ]) {
      const r = fixture(name);
      const put = await call(maintainer, 'PUT', `/${String(r.resourceType)}/${String(r.id)}`, writer, r);
      assert.ok(put.status === 200 || put.status === 201, JSON.stringify(put.body));
    }
    const path = '/Organization?_id=example-eer-messaging-organization&_include=Organization:endpoint';
    const narrow = await call(reader, 'GET', path, await token(reader, 'gp-eua', 'system/Organization.rs'));
    assert.equal(narrow.status, 403, JSON.stringify(narrow.body));
    assert.match(narrow.challenge ?? '', /insufficient_scope.*scope="system\/Endpoint\.rs"$/);
    const wide = await call(reader, 'GET', path, await token(reader, 'gp-eua', READS));
    assert.equal(wide.status, 200, JSON.stringify(wide.body));
    assert.equal((wide.body.entry as unknown[]).length, 2);
  });

  it('/metadata, /health and /openapi.json need neither certificate nor token', async () => {
    for (const path of ['/metadata', '/health', '/openapi.json']) {
      const answer = await call(pki.anonymous, 'GET', path);
      assert.equal(answer.status, 200, `${path}: ${JSON.stringify(answer.body)}`);
    }
  });
});

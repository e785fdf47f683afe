// EER's write rules with access tokens of a real authorization server: a client whose token names an organisation
// (`ehmi:org_context`) writes only that organisation's own resources; the network's maintainer (no organisation)
// writes any. docs/architecture.md "Who is asking".
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type Agent, fetch } from 'undici';
import type { AuthRole } from '../../src/auth/index.ts';
import { eerResourcesFor } from '../../src/eer/seed.ts';
import {
  authConfig,
  CLIENT_DN,
  EER,
  ORGANISATION,
  requestToken,
  startAuth,
  type TestPki,
  testPki,
} from '../auth/helpers.ts';
import { engines, type TestStore } from '../helpers/engines.ts';
import { type Json, type RunningEer, startEer } from './helpers.ts';

const engine = engines()[0]!;
const WRITES =
  'system/Organization.cruds system/Endpoint.cruds system/Device.cruds system/Organization.rs system/Endpoint.rs';
const STRANGER_DN = 'CN=stranger, O=Other, C=DK';
const OTHER = { sor: '698131000016001', gln: '5790002401428' };

interface Answer {
  status: number;
  body: Json;
}

describe('EER: an organisation writes only its own resources; the maintainer writes any', () => {
  let ts: TestStore;
  let pki: TestPki;
  let auth: AuthRole;
  let eer: RunningEer;
  let own: Agent;
  let network: Agent;
  let ownToken: string;
  let maintainerToken: string;

  const call = async (agent: Agent, bearer: string, method: string, path: string, body?: Json) => {
    const res = await fetch(`${eer.url}${path}`, {
      method,
      dispatcher: agent,
      headers: {
        accept: 'application/fhir+json',
        authorization: `Bearer ${bearer}`,
        ...(body ? { 'content-type': 'application/fhir+json' } : {}),
      },
      ...(body ? { body: JSON.stringify(body) } : {}),
    });
    const text = await res.text();
    return { status: res.status, body: text ? (JSON.parse(text) as Json) : {} } satisfies Answer;
  };
  const resources = (key: string, sor: string, gln: string) =>
    eerResourcesFor({
      key,
      title: key,
      sor,
      gln,
      apUrl: `https://${key}.ehmi.test/as4`,
      apCertificate: pki.server.certificatePem,
    });
  const forbidden = (answer: Answer, what: RegExp) => {
    assert.equal(answer.status, 403, JSON.stringify(answer.body));
    assert.equal(answer.body.resourceType, 'OperationOutcome');
    const text = JSON.stringify(answer.body);
    assert.match(text, /EHMI_FORBIDDEN/);
    assert.match(text, what);
  };

  before(async () => {
    pki = await testPki();
    ts = await engine.open();
    auth = await startAuth(
      ts,
      pki,
      authConfig(ts, {
        resources: { [EER]: WRITES },
        clients: [
          // The GP practice's own register maintainer: its token names the practice (SOR, GLN).
          { clientId: 'gp-maintainer', subjectDn: CLIENT_DN, scope: WRITES, organisation: ORGANISATION },
          // The network's maintainer: no organisation.
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
    own = pki.agent(pki.client);
    network = pki.agent(pki.stranger);
    const token = async (agent: Agent, clientId: string) => {
      const { status, body } = await requestToken(auth.url, agent, {
        client_id: clientId,
        scope: WRITES,
        resource: EER,
      });
      assert.equal(status, 200, JSON.stringify(body));
      return String(body.access_token);
    };
    ownToken = await token(own, 'gp-maintainer');
    maintainerToken = await token(network, 'maintainer');
    // Another organisation, registered by the network's maintainer.
    const other = resources('other', OTHER.sor, OTHER.gln);
    for (const [type, r] of [
      ['Device', other.device],
      ['Organization', other.organization],
      ['Endpoint', other.endpoint],
    ] as const) {
      const answer = await call(network, maintainerToken, 'PUT', `/${type}/${String(r.id)}`, r);
      assert.equal(answer.status, 201, JSON.stringify(answer.body));
    }
  });
  after(async () => {
    await eer?.close();
    await auth?.close();
    await own?.close();
    await network?.close();
    await pki?.anonymous.close();
    await ts?.cleanup();
  });

  it('its own Organization (its SOR), Device and Endpoint (managed by it): 201', async () => {
    const gp = resources('gp', ORGANISATION.sor, ORGANISATION.gln);
    const org = await call(own, ownToken, 'PUT', '/Organization/gp', gp.organization);
    assert.equal(org.status, 201, JSON.stringify(org.body));
    const device = await call(own, ownToken, 'PUT', '/Device/gp-ap', {
      ...gp.device,
      owner: { reference: 'Organization/gp' },
    });
    assert.equal(device.status, 201, JSON.stringify(device.body));
    const endpoint = await call(own, ownToken, 'PUT', '/Endpoint/gp-endpoint', gp.endpoint);
    assert.equal(endpoint.status, 201, JSON.stringify(endpoint.body));
  });

  it("another organisation's Organization cannot be created: 403 OperationOutcome", async () => {
    const { id: _id, ...org } = resources('third', '52581000016005', '5790000127092').organization;
    forbidden(await call(own, ownToken, 'POST', '/Organization', org), /would belong to/);
  });

  it("another organisation's Endpoint cannot be changed, nor moved to its own organisation: 403, nothing written", async () => {
    const other = resources('other', OTHER.sor, OTHER.gln);
    forbidden(
      await call(own, ownToken, 'PUT', '/Endpoint/other-endpoint', {
        ...other.endpoint,
        managingOrganization: { reference: 'Organization/gp' },
        address: 'https://attacker.ehmi.test/as4',
      }),
      /Endpoint\/other-endpoint belongs to another organisation/,
    );
    forbidden(
      await call(own, ownToken, 'PUT', '/Endpoint/other-endpoint', { ...other.endpoint, name: 'changed' }),
      /belongs to another organisation/,
    );
    const now = await call(network, maintainerToken, 'GET', '/Endpoint/other-endpoint');
    assert.equal(now.body.address, 'https://other.ehmi.test/as4');
    assert.deepEqual(now.body.managingOrganization, { reference: 'Organization/other' });
  });

  it('its own Endpoint cannot be given to another organisation: 403', async () => {
    const gp = resources('gp', ORGANISATION.sor, ORGANISATION.gln);
    forbidden(
      await call(own, ownToken, 'PUT', '/Endpoint/gp-endpoint', {
        ...gp.endpoint,
        managingOrganization: { reference: 'Organization/other' },
      }),
      /would belong to another organisation/,
    );
  });

  it("another organisation's resources cannot be deleted: 403; nor its Device (referenced by its Endpoint)", async () => {
    forbidden(await call(own, ownToken, 'DELETE', '/Endpoint/other-endpoint'), /belongs to another/);
    forbidden(await call(own, ownToken, 'DELETE', '/Device/other-ap'), /Device\/other-ap belongs to another/);
    forbidden(await call(own, ownToken, 'DELETE', '/Organization/other'), /belongs to another/);
  });

  it("a transaction that touches another organisation's Endpoint is refused whole: 403", async () => {
    const gp = resources('gp', ORGANISATION.sor, ORGANISATION.gln);
    const other = resources('other', OTHER.sor, OTHER.gln);
    const bundle = {
      resourceType: 'Bundle',
      type: 'transaction',
      entry: [
        {
          resource: { ...gp.endpoint, name: 'renamed' },
          request: { method: 'PUT', url: 'Endpoint/gp-endpoint' },
        },
        {
          resource: { ...other.endpoint, name: 'taken' },
          request: { method: 'PUT', url: 'Endpoint/other-endpoint' },
        },
      ],
    };
    forbidden(await call(own, ownToken, 'POST', '/', bundle), /other-endpoint belongs to another/);
    const mine = await call(own, ownToken, 'GET', '/Endpoint/gp-endpoint');
    assert.notEqual(mine.body.name, 'renamed');
  });

  it("the network's maintainer (no organisation) changes any organisation's Endpoint: 200", async () => {
    const gp = resources('gp', ORGANISATION.sor, ORGANISATION.gln);
    const answer = await call(network, maintainerToken, 'PUT', '/Endpoint/gp-endpoint', {
      ...gp.endpoint,
      name: 'by the maintainer',
    });
    assert.equal(answer.status, 200, JSON.stringify(answer.body));
  });
});

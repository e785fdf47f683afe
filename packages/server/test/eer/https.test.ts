import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createCertificateAuthority, issueCertificate } from '@ehmi/pki';
import { Agent, fetch as undiciFetch } from 'undici';
import { engines, type TestStore } from '../helpers/engines.ts';
import { drained, fixture, Recorder, type RunningEer, startEer } from './helpers.ts';

describe('EER over HTTPS', () => {
  let ts: TestStore;
  let eer: RunningEer;
  let eas: Recorder;
  let agent: Agent;
  before(async () => {
    const ca = await createCertificateAuthority({ subject: 'CN=EER test CA, O=EHMI Test, C=DK' });
    const server = await issueCertificate(ca, {
      subject: 'CN=127.0.0.1, O=EHMI Test, C=DK',
      purposes: ['tls-server'],
      ipAddresses: ['127.0.0.1'],
    });
    const tls = { key: server.privateKeyPem, cert: server.certificatePem, ca: [ca.certificatePem] };
    agent = new Agent({ connect: { ca: tls.ca } });
    eas = await new Recorder().start({ key: tls.key, cert: tls.cert });
    ts = await engines()[0]!.open();
    eer = await startEer(
      ts,
      { eas: { url: eas.url, adminToken: 'eas-admin-token-0123456789' } },
      {},
      undefined,
      tls,
    );
  });
  after(async () => {
    await eer?.close();
    await eas?.close();
    await ts?.cleanup();
    await agent?.close();
  });

  it('serves HTTPS with the node certificate and reaches an HTTPS EAS through the node CAs', async () => {
    assert.match(eer.url, /^https:\/\/127\.0\.0\.1:\d+$/);
    const org = fixture('Organization-example-eer-messaging-organization.json');
    const res = await undiciFetch(`${eer.url}/Organization/${org.id}`, {
      method: 'PUT',
      headers: { 'content-type': 'application/fhir+json' },
      body: JSON.stringify(org),
      dispatcher: agent,
    });
    assert.equal(res.status, 201);
    assert.equal(res.headers.get('location'), `${eer.url}/Organization/${org.id}/_history/1`);
    await drained(eer.role);
    assert.ok(eas.requests.some((r) => r.method === 'PUT' && r.path === `/admin/organizations/${org.id}`));
  });
});

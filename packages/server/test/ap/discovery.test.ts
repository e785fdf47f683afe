import 'reflect-metadata';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { X509Certificate as PeculiarCertificate } from '@peculiar/x509';
import { endpointCertificate, staticDiscovery } from '../../src/ap/discovery.ts';
import { type ApCredentials, createPki, issueApCredentials } from './helpers.ts';

describe('static discovery (ap.discovery.static)', () => {
  let dir: string;
  let creds: ApCredentials;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ehmi-ap-discovery-'));
    creds = await issueApCredentials(await createPki(dir), 'b');
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it('finds a participant whatever the case or scheme prefix, with its certificate', async () => {
    const d = staticDiscovery({
      '0088:5790000000002': {
        url: 'https://b.example/as4',
        certificate: creds.files.signingCert,
        transportProfile: 'bdxr-transport-ebms3-as4-v1p0',
      },
    });
    const e = await d.lookup('iso6523-actorid-upis::0088:5790000000002', 'doc', 'proc');
    assert.equal(e.endpointUrl, 'https://b.example/as4');
    assert.equal(e.transportProfile, 'bdxr-transport-ebms3-as4-v1p0');
    assert.ok(endpointCertificate(e).raw.equals(creds.signing.certificate.raw));
  });

  it('EHMI_SMP_NOT_REGISTERED for an unknown participant', async () => {
    await assert.rejects(staticDiscovery({}).lookup('0088:5790000000099', 'doc'), {
      code: 'EHMI_SMP_NOT_REGISTERED',
    });
  });

  it("refuses a certificate that is not node:crypto's (the contract's one type)", () => {
    const peculiar = new PeculiarCertificate(creds.signing.certificatePem) as never;
    assert.throws(
      () => endpointCertificate({ endpointUrl: 'x', certificate: peculiar, transportProfile: 't' }),
      {
        code: 'EHMI_SMP_RESPONSE_INVALID',
      },
    );
  });
});

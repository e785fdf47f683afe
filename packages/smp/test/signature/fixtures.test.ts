import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { EhmiError } from '@ehmi/errors';
import { parseXml } from '@ehmi/xml';
import { DSIG, verifyEnvelopedSignature, verifySignedServiceMetadata } from '../../src/index.ts';
import { smpFixture, smpFixtureBytes } from '../helpers/fixtures.ts';

const reason = (code: string, why: string) => (err: unknown) => {
  assert.ok(err instanceof EhmiError, String(err));
  assert.equal(err.code, code);
  assert.equal(err.details.reason, why, err.message);
  return true;
};

// as4-smp.md §3: peppol-signed-service-metadata2.xml verifies with xmlsec1; NEG-…1 must fail (peppol-commons test);
// the Domibus OASIS sample was reformatted, so its document digest cannot match.
describe('real signed SMP responses', () => {
  it('peppol-signed-service-metadata2.xml: the signature verifies (exc-c14n, RSA-SHA1)', () => {
    const r = verifyEnvelopedSignature(parseXml(smpFixture('peppol-signed-service-metadata2.xml')));
    assert.equal(r.signatureMethod, DSIG.rsaSha1);
    assert.equal(r.canonicalizationMethod, DSIG.excC14n);
    assert.match(r.certificate.subject, /CN=PNO000070/);
  });

  it('peppol-signed-service-metadata2.xml: verifies completely with its SMP certificate pinned, at a time it was valid', () => {
    const xml = smpFixture('peppol-signed-service-metadata2.xml');
    const smpCert = verifyEnvelopedSignature(parseXml(xml)).certificate;
    const r = verifySignedServiceMetadata(xml, {
      trustAnchors: [smpCert],
      at: new Date('2020-06-01T00:00:00Z'),
    });
    assert.equal(r.serviceMetadata.serviceInformation?.participant.value, '0088:5060482240009');
    assert.equal(r.path.length, 1);
  });

  it('peppol-signed-service-metadata2.xml: refused today against the Peppol test SMP CAs (production CA, expired 2021)', () => {
    const xml = smpFixture('peppol-signed-service-metadata2.xml');
    assert.throws(
      () =>
        verifySignedServiceMetadata(xml, {
          trustAnchors: [
            smpFixture('PEPPOL_SMP_TEST_CA-G3.pem'),
            smpFixtureBytes('Peppol_Test_SMP_CA-2018.cer'),
          ],
        }),
      (err: unknown) => err instanceof EhmiError && err.code === 'EHMI_SMP_CERTIFICATE_UNTRUSTED',
    );
  });

  it('peppol-signed-service-metadata2.xml: refused at a valid time when the anchors do not issue it', () => {
    const xml = smpFixture('peppol-signed-service-metadata2.xml');
    assert.throws(
      () =>
        verifySignedServiceMetadata(xml, {
          trustAnchors: [smpFixtureBytes('Peppol_Test_SMP_CA-2018.cer')],
          at: new Date('2020-06-01T00:00:00Z'),
        }),
      /does not chain to a trust anchor/,
    );
  });

  it('NEG-peppol-signed-service-metadata1.xml: the signature does not verify', () => {
    assert.throws(
      () => verifyEnvelopedSignature(parseXml(smpFixture('NEG-peppol-signed-service-metadata1.xml'))),
      reason('EHMI_SMP_SIGNATURE_INVALID', 'signature-value'),
    );
  });

  it('NEG-peppol-signed-service-metadata1.xml: refused by verifySignedServiceMetadata whatever the trust', () => {
    const xml = smpFixture('NEG-peppol-signed-service-metadata1.xml');
    // Even with the SMP certificate it carries pinned, at a time it was valid: the signature is what fails.
    const pinned = smpFixture('peppol-signed-service-metadata2.xml').match(/<X509Certificate>([^<]+)</)![1]!;
    assert.throws(
      () =>
        verifySignedServiceMetadata(xml, {
          trustAnchors: [Buffer.from(pinned, 'base64')],
          at: new Date('2020-06-01T00:00:00Z'),
        }),
      (err: unknown) => err instanceof EhmiError && err.code === 'EHMI_SMP_SIGNATURE_INVALID',
    );
  });

  it('domibus-struct-oasis-smp1-signed-service-metadata.xml: SignedInfo verifies (inclusive C14N 1.0) but the reformatted document does not', () => {
    assert.throws(
      () =>
        verifyEnvelopedSignature(
          parseXml(smpFixture('domibus-struct-oasis-smp1-signed-service-metadata.xml')),
        ),
      reason('EHMI_SMP_SIGNATURE_INVALID', 'digest'),
    );
  });

  it('refuses RSA-SHA1 when allowSha1 is false', () => {
    const xml = smpFixture('peppol-signed-service-metadata2.xml');
    const smpCert = verifyEnvelopedSignature(parseXml(xml)).certificate;
    assert.throws(
      () =>
        verifySignedServiceMetadata(xml, {
          trustAnchors: [smpCert],
          at: new Date('2020-06-01'),
          allowSha1: false,
        }),
      reason('EHMI_SMP_SIGNATURE_INVALID', 'algorithm'),
    );
  });
});

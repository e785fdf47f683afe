import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { EhmiError } from '@ehmi/errors';
import {
  buildSignedServiceMetadata,
  parseSignedServiceMetadata,
  verifySignedServiceMetadata,
} from '../../src/index.ts';
import { HCO_CURRENT, sampleMetadata } from '../helpers/model.ts';
import { type TestPki, testPki } from '../helpers/pki.ts';

let pki: TestPki;
let signed: string;
before(async () => {
  pki = await testPki();
  signed = buildSignedServiceMetadata(sampleMetadata(pki.ap.certificate.raw), {
    key: pki.smp.key,
    certificate: pki.smp.certificate,
  });
});

const fails = (code: string, why?: string) => (err: unknown) => {
  assert.ok(err instanceof EhmiError, String(err));
  assert.equal(err.code, code, err.message);
  if (why) assert.equal(err.details.reason, why, err.message);
  return true;
};
const anchors = () => ({ trustAnchors: [pki.root] });

describe('buildSignedServiceMetadata → verifySignedServiceMetadata', () => {
  it('verifies against the root CA and returns the model', () => {
    const r = verifySignedServiceMetadata(signed, anchors());
    assert.equal(r.serviceMetadata.serviceInformation?.documentType.value, HCO_CURRENT);
    assert.equal(r.certificate.fingerprint256, pki.smp.certificate.fingerprint256);
    assert.equal(r.path.length, 2);
  });

  it('signs with RSA-SHA256, SHA-256 and exclusive c14n over URI=""', () => {
    assert.match(
      signed,
      /<SignatureMethod Algorithm="http:\/\/www.w3.org\/2001\/04\/xmldsig-more#rsa-sha256"\/>/,
    );
    assert.match(
      signed,
      /<Reference URI=""><Transforms><Transform Algorithm="http:\/\/www.w3.org\/2000\/09\/xmldsig#enveloped-signature"\/>/,
    );
    assert.match(signed, /<DigestMethod Algorithm="http:\/\/www.w3.org\/2001\/04\/xmlenc#sha256"\/>/);
  });

  it('parses as the same model', () => {
    const md = parseSignedServiceMetadata(signed);
    assert.deepEqual(
      md.serviceInformation?.processes[0]?.endpoints[0],
      sampleMetadata(pki.ap.certificate.raw).serviceInformation?.processes[0]?.endpoints[0],
    );
  });

  it('verifies the Peppol flavour too', () => {
    const xml = buildSignedServiceMetadata(sampleMetadata(pki.ap.certificate.raw, { flavour: 'peppol' }), {
      key: pki.smp.key,
      certificate: pki.smp.certificate,
    });
    assert.equal(verifySignedServiceMetadata(xml, anchors()).serviceMetadata.flavour, 'peppol');
  });

  it('refuses a key that does not belong to the certificate', () => {
    assert.throws(
      () =>
        buildSignedServiceMetadata(sampleMetadata(pki.ap.certificate.raw), {
          key: pki.ap.key,
          certificate: pki.smp.certificate,
        }),
      fails('EHMI_USAGE'),
    );
  });
});

describe('tampered or misplaced signatures', () => {
  it('refuses a changed endpoint address (digest)', () => {
    const xml = signed.replace('https://ap.ehmi.test/as4', 'https://evil.test/as4');
    assert.throws(
      () => verifySignedServiceMetadata(xml, anchors()),
      fails('EHMI_SMP_SIGNATURE_INVALID', 'digest'),
    );
  });

  it('refuses a changed SignedInfo (signature value)', () => {
    const xml = signed.replace(
      /<DigestValue>[^<]+</,
      '<DigestValue>AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=<',
    );
    assert.throws(
      () => verifySignedServiceMetadata(xml, anchors()),
      fails('EHMI_SMP_SIGNATURE_INVALID', 'signature-value'),
    );
  });

  it('refuses a response whose certificate was swapped for another trusted one', () => {
    const other = pki.smpViaIntermediate.certificate.raw.toString('base64');
    const xml = signed.replace(/<X509Certificate>[^<]+</, `<X509Certificate>${other}<`);
    assert.throws(
      () => verifySignedServiceMetadata(xml, anchors()),
      fails('EHMI_SMP_SIGNATURE_INVALID', 'signature-value'),
    );
  });

  it('refuses a forged ServiceMetadata placed before the signed one (wrapping)', () => {
    const forged = sampleMetadata(pki.ap.certificate.raw, { endpointUrl: 'https://evil.test/as4' });
    const forgedXml = buildSignedServiceMetadata(forged, {
      key: pki.smp.key,
      certificate: pki.smp.certificate,
    });
    const forgedMd = /<ServiceMetadata>.*<\/ServiceMetadata>/.exec(forgedXml)![0];
    const xml = signed.replace('<ServiceMetadata>', `${forgedMd}<ServiceMetadata>`);
    assert.throws(
      () => verifySignedServiceMetadata(xml, anchors()),
      fails('EHMI_SMP_SIGNATURE_INVALID', 'structure'),
    );
  });

  it('refuses the signed document wrapped inside a forged one (wrapping)', () => {
    const inner = signed
      .replace(/^<SignedServiceMetadata[^>]*>/, '')
      .replace(/<\/SignedServiceMetadata>$/, '');
    const forged = sampleMetadata(pki.ap.certificate.raw, { endpointUrl: 'https://evil.test/as4' });
    const forgedXml = buildSignedServiceMetadata(forged, {
      key: pki.rogueSmp.key,
      certificate: pki.rogueSmp.certificate,
    });
    const sigStart = inner.indexOf('<Signature ');
    const xml = forgedXml.replace(/<Signature [\s\S]*<\/Signature>/, inner.slice(sigStart));
    assert.throws(
      () => verifySignedServiceMetadata(xml, anchors()),
      fails('EHMI_SMP_SIGNATURE_INVALID', 'digest'),
    );
  });

  it('refuses a reference to part of the document', () => {
    const xml = signed.replace('<Reference URI="">', '<Reference URI="#x">');
    assert.throws(
      () => verifySignedServiceMetadata(xml, anchors()),
      fails('EHMI_SMP_SIGNATURE_INVALID', 'reference'),
    );
  });

  it('refuses an XPath transform', () => {
    const xml = signed.replace(
      '<Transform Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/>',
      '<Transform Algorithm="http://www.w3.org/TR/1999/REC-xpath-19991116"/>',
    );
    assert.throws(
      () => verifySignedServiceMetadata(xml, anchors()),
      fails('EHMI_SMP_SIGNATURE_INVALID', 'transform'),
    );
  });

  it('refuses a response without signature', () => {
    const xml = signed.replace(/<Signature [\s\S]*<\/Signature>/, '');
    assert.throws(() => verifySignedServiceMetadata(xml, anchors()), fails('EHMI_SMP_SIGNATURE_INVALID'));
  });

  it('refuses a KeyInfo stuffed with certificates (at most 8 are read)', () => {
    const one = `<X509Certificate>${pki.smp.certificate.raw.toString('base64')}</X509Certificate>`;
    const xml = signed.replace(/<X509Certificate>[^<]+<\/X509Certificate>/, one.repeat(9));
    assert.throws(
      () => verifySignedServiceMetadata(xml, anchors()),
      fails('EHMI_SMP_SIGNATURE_INVALID', 'key-info'),
    );
  });

  it('refuses a DOCTYPE before looking at the signature', () => {
    assert.throws(
      () => verifySignedServiceMetadata(`<!DOCTYPE x>${signed}`, anchors()),
      fails('EHMI_XML_DOCTYPE_FORBIDDEN'),
    );
  });
});

describe('SMP certificate trust', () => {
  const sign = (party: TestPki['smp'], chain?: TestPki['smp']['certificate'][]) =>
    buildSignedServiceMetadata(sampleMetadata(pki.ap.certificate.raw), {
      key: party.key,
      certificate: chain ?? party.certificate,
    });

  it('refuses a valid signature by a certificate from an untrusted CA', () => {
    assert.throws(
      () => verifySignedServiceMetadata(sign(pki.rogueSmp), anchors()),
      fails('EHMI_SMP_CERTIFICATE_UNTRUSTED'),
    );
  });

  it('refuses an expired SMP certificate', () => {
    assert.throws(
      () => verifySignedServiceMetadata(sign(pki.expiredSmp), anchors()),
      (err: unknown) =>
        fails('EHMI_SMP_CERTIFICATE_UNTRUSTED')(err) && /not valid at/.test((err as Error).message),
    );
  });

  it('refuses a certificate that is not yet valid', () => {
    assert.throws(
      () => verifySignedServiceMetadata(signed, { ...anchors(), at: new Date('2024-01-01T00:00:00Z') }),
      fails('EHMI_SMP_CERTIFICATE_UNTRUSTED'),
    );
  });

  it('follows a chain signed with RSASSA-PSS (as OCES3 certificates are)', () => {
    // id-RSASSA-PSS (1.2.840.113549.1.1.10) as the certificate's signature algorithm
    assert.ok(pki.smpUnderPss.certificate.raw.includes(Buffer.from('06092a864886f70d01010a', 'hex')));
    const r = verifySignedServiceMetadata(sign(pki.smpUnderPss), { trustAnchors: [pki.pssRoot] });
    assert.equal(r.path.length, 2);
  });

  it('follows an intermediate CA carried in KeyInfo', () => {
    const xml = sign(pki.smpViaIntermediate, [pki.smpViaIntermediate.certificate, pki.intermediate]);
    assert.equal(verifySignedServiceMetadata(xml, anchors()).path.length, 3);
  });

  it('follows an intermediate CA given in the options', () => {
    const xml = sign(pki.smpViaIntermediate);
    assert.equal(
      verifySignedServiceMetadata(xml, { ...anchors(), intermediates: [pki.intermediate] }).path.length,
      3,
    );
  });

  it('refuses a path with a missing intermediate', () => {
    assert.throws(
      () => verifySignedServiceMetadata(sign(pki.smpViaIntermediate), anchors()),
      fails('EHMI_SMP_CERTIFICATE_UNTRUSTED'),
    );
  });

  it('accepts a pinned SMP certificate as its own anchor', () => {
    assert.equal(verifySignedServiceMetadata(signed, { trustAnchors: [pki.smp.certificate] }).path.length, 1);
  });

  it('accepts anchors given as PEM text', () => {
    assert.ok(verifySignedServiceMetadata(signed, { trustAnchors: [pki.root.toString()] }));
  });

  it('needs trust anchors (no default trust)', () => {
    assert.throws(
      () => verifySignedServiceMetadata(signed, { trustAnchors: [] }),
      fails('EHMI_CONFIG_INVALID'),
    );
  });
});

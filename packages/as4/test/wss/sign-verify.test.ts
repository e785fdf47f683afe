import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import { parseXml, serializeXml } from '@ehmi/xml';
import { ALG } from '../../src/wss/algorithms.ts';
import { NS, SWA } from '../../src/wss/ns.ts';

const WSSE = NS.wsse;

import { signEnvelope } from '../../src/wss/sign.ts';
import { verifyEnvelope } from '../../src/wss/verify.ts';
import {
  memoryAttachment,
  psSignedParty,
  rejectsWith,
  reparse,
  testPki,
  trustRoot,
  userMessageXml,
} from './helpers.ts';

const payload = () =>
  memoryAttachment('payload-1@test', Buffer.from('<Bundle xmlns="http://hl7.org/fhir"/>'), {
    'content-type': 'application/gzip',
  });

describe('sign → verify round trips (WSS 1.1.1 §8, eDelivery AS4 1.15 §2.2.6.2)', () => {
  it('RSA-SHA256 with a BinarySecurityToken X509v3 verifies after serialisation', async () => {
    const pki = await testPki();
    const doc = parseXml(userMessageXml());
    await signEnvelope(doc, [payload()], { privateKey: pki.rsa.key, certificate: pki.rsa.certificate });
    const r = await verifyEnvelope(reparse(doc), [payload()], { trust: trustRoot(pki.root) });
    assert.equal(r.signatureMethod, ALG.rsaSha256);
    assert.equal(r.tokenReference, 'BinarySecurityToken');
    assert.equal(r.certificate.fingerprint256, pki.rsa.certificate.fingerprint256);
    assert.deepEqual(
      r.references.map((x) => x.target),
      ['Messaging', 'Body', 'attachment'],
    );
    assert.ok(r.references.every((x) => x.digestVerified));
  });

  it('the cid: reference uses the Attachment-Content-Signature-Transform and SHA-256', async () => {
    const pki = await testPki();
    const doc = parseXml(userMessageXml());
    const { references } = await signEnvelope(doc, [payload()], {
      privateKey: pki.rsa.key,
      certificate: pki.rsa.certificate,
    });
    const cid = references.find((r) => r.uri === 'cid:payload-1@test')!;
    assert.deepEqual(cid.transforms, [{ algorithm: SWA.contentSignatureTransform }]);
    assert.equal(cid.digestMethod, ALG.sha256);
  });

  it('X509PKIPathv1 token carries the chain and the signer is its last certificate', async () => {
    const pki = await testPki();
    const doc = parseXml(userMessageXml());
    await signEnvelope(doc, [payload()], {
      privateKey: pki.rsa.key,
      certificate: pki.rsa.chain,
      bstValueType: 'X509PKIPathv1',
    });
    const r = await verifyEnvelope(reparse(doc), [payload()], { trust: trustRoot(pki.root) });
    assert.equal(r.chain.length, 2);
    assert.equal(r.certificate.fingerprint256, pki.rsa.certificate.fingerprint256);
    assert.equal(r.chain[1]!.fingerprint256, pki.root.fingerprint256);
  });

  it('IssuerSerial reference resolves against a known partner certificate', async () => {
    const pki = await testPki();
    const doc = parseXml(userMessageXml());
    await signEnvelope(doc, [payload()], {
      privateKey: pki.rsa.key,
      certificate: pki.rsa.certificate,
      tokenReference: 'IssuerSerial',
    });
    const r = await verifyEnvelope(reparse(doc), [payload()], {
      trust: trustRoot(pki.root),
      knownCertificates: [pki.rsa2.certificate, pki.rsa.certificate],
    });
    assert.equal(r.tokenReference, 'IssuerSerial');
    assert.equal(r.certificate.fingerprint256, pki.rsa.certificate.fingerprint256);
  });

  it('SKI reference resolves against a known partner certificate', async () => {
    const pki = await testPki();
    const doc = parseXml(userMessageXml());
    await signEnvelope(doc, [payload()], {
      privateKey: pki.rsa.key,
      certificate: pki.rsa.certificate,
      tokenReference: 'SKI',
    });
    const r = await verifyEnvelope(reparse(doc), [payload()], {
      trust: trustRoot(pki.root),
      knownCertificates: [pki.rsa.certificate],
    });
    assert.equal(r.tokenReference, 'SKI');
  });

  it('EBMS:0101 when an SKI reference matches no known certificate', async () => {
    const pki = await testPki();
    const doc = parseXml(userMessageXml());
    await signEnvelope(doc, [payload()], {
      privateKey: pki.rsa.key,
      certificate: pki.rsa.certificate,
      tokenReference: 'SKI',
    });
    await rejectsWith(
      verifyEnvelope(reparse(doc), [payload()], {
        trust: trustRoot(pki.root),
        knownCertificates: [pki.rsa2.certificate],
      }),
      'EBMS:0101',
      'key-info',
    );
  });

  it('ThumbprintSHA1 key identifier (as WSS4J writes it) resolves against a known certificate, and only a matching one', async () => {
    const pki = await testPki();
    const doc = parseXml(userMessageXml());
    await signEnvelope(doc, [payload()], {
      privateKey: pki.rsa.key,
      certificate: pki.rsa.certificate,
      tokenReference: 'Thumbprint',
    });
    const keyId = reparse(doc).getElementsByTagNameNS(WSSE, 'KeyIdentifier')[0]!;
    assert.equal(
      keyId.getAttribute('ValueType'),
      'http://docs.oasis-open.org/wss/oasis-wss-soap-message-security-1.1#ThumbprintSHA1',
    );
    assert.equal(keyId.textContent, createHash('sha1').update(pki.rsa.certificate.raw).digest('base64'));
    const r = await verifyEnvelope(reparse(doc), [payload()], {
      trust: trustRoot(pki.root),
      knownCertificates: [pki.rsa2.certificate, pki.rsa.certificate],
    });
    assert.equal(r.tokenReference, 'Thumbprint');
    assert.equal(r.certificate.fingerprint256, pki.rsa.certificate.fingerprint256);
    await rejectsWith(
      verifyEnvelope(reparse(doc), [payload()], {
        trust: trustRoot(pki.root),
        knownCertificates: [pki.rsa2.certificate],
      }),
      'EBMS:0101',
      'key-info',
    );
  });

  it('the other key references XML Signature and WSS allow resolve to the signer: X509v3 KeyIdentifier, ds:X509Data without a token reference', async () => {
    const pki = await testPki();
    const doc = parseXml(userMessageXml());
    await signEnvelope(doc, [payload()], {
      privateKey: pki.rsa.key,
      certificate: pki.rsa.certificate,
      tokenReference: 'SKI',
    });
    const signed = serializeXml(doc);
    const keyId = /<wsse:KeyIdentifier[^>]*>[^<]*<\/wsse:KeyIdentifier>/.exec(signed)![0];
    const str = /<wsse:SecurityTokenReference[^>]*>[\s\S]*?<\/wsse:SecurityTokenReference>/.exec(signed)![0];
    const der = pki.rsa.certificate.raw.toString('base64');
    const ski = /<wsse:KeyIdentifier[^>]*>([^<]*)</.exec(keyId)![1]!;
    const ds = 'xmlns:ds="http://www.w3.org/2000/09/xmldsig#"';
    const variants: [string, string, string[]][] = [
      [
        'X509v3 KeyIdentifier',
        signed.replace(
          keyId,
          `<wsse:KeyIdentifier ValueType="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-x509-token-profile-1.0#X509v3">${der}</wsse:KeyIdentifier>`,
        ),
        [],
      ],
      [
        'ds:X509Data/ds:X509SKI',
        signed.replace(str, `<ds:X509Data ${ds}><ds:X509SKI>${ski}</ds:X509SKI></ds:X509Data>`),
        ['known'],
      ],
      [
        'ds:X509Data/ds:X509Certificate',
        signed.replace(
          str,
          `<ds:X509Data ${ds}><ds:X509Certificate>${der}</ds:X509Certificate></ds:X509Data>`,
        ),
        [],
      ],
    ];
    for (const [name, xml, needs] of variants) {
      assert.notEqual(xml, signed, name);
      const r = await verifyEnvelope(parseXml(xml), [payload()], {
        trust: trustRoot(pki.root),
        ...(needs.includes('known') ? { knownCertificates: [pki.rsa.certificate] } : {}),
      });
      assert.equal(r.certificate.fingerprint256, pki.rsa.certificate.fingerprint256, name);
    }
    // A named certificate that is not known is refused, not guessed.
    await rejectsWith(
      verifyEnvelope(parseXml(variants[1]![1]), [payload()], { trust: trustRoot(pki.root) }),
      'EBMS:0101',
      'key-info',
    );
  });

  it('eDelivery AS4 2.0: Ed25519 signature verifies under the 2.0 profile', async () => {
    const pki = await testPki();
    const doc = parseXml(userMessageXml());
    await signEnvelope(doc, [payload()], {
      privateKey: pki.ed25519.key,
      certificate: pki.ed25519.certificate,
    });
    const r = await verifyEnvelope(reparse(doc), [payload()], {
      trust: trustRoot(pki.root),
      profile: 'edelivery-2.0',
    });
    assert.equal(r.signatureMethod, ALG.ed25519);
  });

  it('eDelivery AS4 2.0 EC enhancement: ECDSA P-256 signature verifies', async () => {
    const pki = await testPki();
    const doc = parseXml(userMessageXml());
    await signEnvelope(doc, [payload()], { privateKey: pki.ecdsa.key, certificate: pki.ecdsa.certificate });
    const r = await verifyEnvelope(reparse(doc), [payload()], {
      trust: trustRoot(pki.root),
      profile: 'edelivery-2.0',
    });
    assert.equal(r.signatureMethod, ALG.ecdsaSha256);
  });

  it('EBMS:0103 for an Ed25519 signature under the 1.15 profile', async () => {
    const pki = await testPki();
    const doc = parseXml(userMessageXml());
    await signEnvelope(doc, [payload()], {
      privateKey: pki.ed25519.key,
      certificate: pki.ed25519.certificate,
    });
    await rejectsWith(verifyEnvelope(reparse(doc), [payload()], { trust: trustRoot(pki.root) }), 'EBMS:0103');
  });

  it('SwA Attachment-Complete-Signature-Transform covers the MIME headers', async () => {
    const pki = await testPki();
    const doc = parseXml(userMessageXml());
    await signEnvelope(doc, [payload()], {
      privateKey: pki.rsa.key,
      certificate: pki.rsa.certificate,
      attachmentTransform: 'complete',
    });
    const signed = reparse(doc);
    await verifyEnvelope(signed, [payload()], { trust: trustRoot(pki.root) });
    const changedHeader = memoryAttachment(
      'payload-1@test',
      Buffer.from('<Bundle xmlns="http://hl7.org/fhir"/>'),
      {
        'content-type': 'application/xml',
      },
    );
    await rejectsWith(
      verifyEnvelope(signed, [changedHeader], { trust: trustRoot(pki.root) }),
      'EBMS:0101',
      'digest',
    );
  });

  it('a receipt envelope (no attachments) is signed over eb:Messaging and Body', async () => {
    const pki = await testPki();
    const doc = parseXml(userMessageXml());
    const { references } = await signEnvelope(doc, [], {
      privateKey: pki.rsa.key,
      certificate: pki.rsa.certificate,
    });
    assert.equal(references.length, 2);
    const r = await verifyEnvelope(reparse(doc), [], { trust: trustRoot(pki.root) });
    assert.deepEqual(
      r.references.map((x) => x.target),
      ['Messaging', 'Body'],
    );
  });

  it('the verified references carry URI, transforms, digest method and value for the NRR receipt', async () => {
    const pki = await testPki();
    const doc = parseXml(userMessageXml());
    const signed = await signEnvelope(doc, [payload()], {
      privateKey: pki.rsa.key,
      certificate: pki.rsa.certificate,
    });
    const r = await verifyEnvelope(reparse(doc), [payload()], { trust: trustRoot(pki.root) });
    assert.deepEqual(
      r.references.map(({ uri, transforms, digestMethod, digestValue }) => ({
        uri,
        transforms,
        digestMethod,
        digestValue,
      })),
      signed.references.map(({ uri, transforms, digestMethod, digestValue }) => ({
        uri,
        transforms,
        digestMethod,
        digestValue,
      })),
    );
    assert.equal(r.references[0]!.element.localName, 'Reference');
  });

  it('EBMS:0101 when the trust hook refuses the signer', async () => {
    const pki = await testPki();
    const doc = parseXml(userMessageXml());
    await signEnvelope(doc, [payload()], { privateKey: pki.rsa.key, certificate: pki.rsa.certificate });
    await rejectsWith(
      verifyEnvelope(reparse(doc), [payload()], { trust: () => false }),
      'EBMS:0101',
      'untrusted',
    );
  });

  it('the trust hook is required (no default trust)', async () => {
    const doc = parseXml(userMessageXml());
    await assert.rejects(
      verifyEnvelope(doc, [], {} as never),
      (err: Error & { code?: string }) => err.code === 'EHMI_CONFIG_INVALID',
    );
  });

  it('signing refuses a key that does not match the certificate', async () => {
    const pki = await testPki();
    const doc = parseXml(userMessageXml());
    await assert.rejects(
      signEnvelope(doc, [], { privateKey: pki.rsa2.key, certificate: pki.rsa.certificate }),
      /does not belong/,
    );
  });
});

describe('SOAP 1.1 envelopes', () => {
  it('a SOAP 1.1 envelope is signed with mustUnderstand="1" and verifies', async () => {
    const pki = await testPki();
    const xml = userMessageXml()
      .replaceAll('http://www.w3.org/2003/05/soap-envelope', 'http://schemas.xmlsoap.org/soap/envelope/')
      .replaceAll('S12:', 'S11:')
      .replace('xmlns:S12', 'xmlns:S11');
    const doc = parseXml(xml);
    await signEnvelope(doc, [payload()], { privateKey: pki.rsa.key, certificate: pki.rsa.certificate });
    const signed = reparse(doc);
    const sec = signed.getElementsByTagNameNS(
      'http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd',
      'Security',
    )[0]!;
    assert.equal(sec.getAttributeNS('http://schemas.xmlsoap.org/soap/envelope/', 'mustUnderstand'), '1');
    await verifyEnvelope(signed, [payload()], { trust: trustRoot(pki.root) });
  });
});

describe('OCES3-style certificates', () => {
  it('a certificate signed with RSASSA-PSS by its CA carries an RSA key that signs and verifies, via SKI too', async () => {
    const oces = await psSignedParty();
    const root = oces.chain[1]!;
    assert.equal(oces.certificate.publicKey.asymmetricKeyDetails?.modulusLength, 3072);
    // signatureAlgorithm id-RSASSA-PSS (1.2.840.113549.1.1.10)
    assert.ok(oces.certificate.raw.includes(Buffer.from('06092a864886f70d01010a', 'hex')));
    const doc = parseXml(userMessageXml());
    await signEnvelope(doc, [payload()], {
      privateKey: oces.key,
      certificate: oces.certificate,
      tokenReference: 'SKI',
    });
    const r = await verifyEnvelope(reparse(doc), [payload()], {
      trust: trustRoot(root),
      knownCertificates: [oces.certificate],
    });
    assert.match(r.certificate.subject, /funktionscertifikat/);
  });
});

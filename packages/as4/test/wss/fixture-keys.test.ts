import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { describe, it } from 'node:test';
import { parseXml } from '@ehmi/xml';
import { memorySink } from '../../src/mime/sink.ts';
import { decryptAttachments } from '../../src/wss/decrypt.ts';
import { encryptAttachments } from '../../src/wss/encrypt.ts';
import { signEnvelope } from '../../src/wss/sign.ts';
import { verifyEnvelope } from '../../src/wss/verify.ts';
import {
  fixtureKey,
  fixturePem,
  memoryAttachment,
  readAll,
  rejectsWith,
  reparse,
  userMessageXml,
} from './helpers.ts';

const blue = () => ({
  key: fixtureKey('domibus-blue_gw.key.pem'),
  cert: new X509Certificate(fixturePem('domibus-blue_gw.cert.pem')),
});
const red = () => ({
  key: fixtureKey('domibus-red_gw.key.pem'),
  cert: new X509Certificate(fixturePem('domibus-red_gw.cert.pem')),
});
const payload = () => memoryAttachment('payload@ehmi', Buffer.from('<Bundle xmlns="http://hl7.org/fhir"/>'));
const pinned = (cert: X509Certificate) => (chain: X509Certificate[]) =>
  chain[0]!.fingerprint256 === cert.fingerprint256;

describe('round trips with the fixture keys (Domibus blue_gw/red_gw, phase4 ph-as4)', () => {
  it('red_gw signs with an SKI reference; blue_gw verifies knowing red_gw from its truststore', async () => {
    const r = red();
    const doc = parseXml(userMessageXml());
    await signEnvelope(doc, [payload()], { privateKey: r.key, certificate: r.cert, tokenReference: 'SKI' });
    const result = await verifyEnvelope(reparse(doc), [payload()], {
      trust: pinned(r.cert),
      knownCertificates: [blue().cert, r.cert],
    });
    assert.match(result.certificate.subject, /CN=red_gw/);
  });

  it('IssuerSerial of red_gw is written so that it resolves again', async () => {
    const r = red();
    const doc = parseXml(userMessageXml());
    await signEnvelope(doc, [], { privateKey: r.key, certificate: r.cert, tokenReference: 'IssuerSerial' });
    const result = await verifyEnvelope(reparse(doc), [], {
      trust: pinned(r.cert),
      knownCertificates: [r.cert],
    });
    assert.equal(result.tokenReference, 'IssuerSerial');
  });

  it('phase4 ph-as4 key signs with a BinarySecurityToken and verifies', async () => {
    const cert = new X509Certificate(fixturePem('phase4-ph-as4.cert.pem'));
    const doc = parseXml(userMessageXml());
    await signEnvelope(doc, [payload()], {
      privateKey: fixtureKey('phase4-ph-as4.key.pem'),
      certificate: cert,
    });
    await verifyEnvelope(reparse(doc), [payload()], { trust: pinned(cert) });
  });

  it('encrypted to blue_gw decrypts with the blue_gw key, and the EncryptedKey names blue_gw', async () => {
    const b = blue();
    const doc = parseXml(userMessageXml());
    const enc = await encryptAttachments(doc, [payload()], {
      recipientCertificate: b.cert,
      tokenReference: 'SKI',
    });
    const wire = memoryAttachment('payload@ehmi', await readAll(enc.attachments[0]!));
    const dec = await decryptAttachments(reparse(doc), [wire], {
      privateKey: b.key,
      certificate: b.cert,
      sink: memorySink(),
    });
    assert.deepEqual(await readAll(dec.attachments[0]!), await readAll(payload()));
    await rejectsWith(
      decryptAttachments(reparse(doc), [wire], { privateKey: red().key, certificate: red().cert }),
      'EBMS:0102',
      'recipient',
    );
  });
});

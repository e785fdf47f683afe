import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Readable } from 'node:stream';
import { describe, it } from 'node:test';
import { EhmiError } from '@ehmi/errors';
import { type Element, parseXml } from '@ehmi/xml';
import { readMimeMessage } from '../../src/mime/parse.ts';
import { memorySink } from '../../src/mime/sink.ts';
import type { As4Attachment } from '../../src/model/attachment.ts';
import { PROFILES } from '../../src/wss/algorithms.ts';
import { decryptAttachments, unwrapContentKey } from '../../src/wss/decrypt.ts';
import { buildIdMap } from '../../src/wss/ids.ts';
import { NS } from '../../src/wss/ns.ts';
import { verifyEnvelope } from '../../src/wss/verify.ts';
import { AS4, fixtureKey, fixturePem, memoryAttachment, trustAll } from './helpers.ts';

/** Reads a vector: HTTP/MIME headers split off (.as4in, .mime), MIME parts parsed, the envelope parsed. */
async function vector(name: string) {
  let raw = readFileSync(AS4 + name);
  let contentType = 'application/soap+xml';
  if (/\.(as4in|mime)$/.test(name)) {
    let sep = raw.indexOf('\r\n\r\n');
    let len = 4;
    const lf = raw.indexOf('\n\n');
    if (sep < 0 || (lf >= 0 && lf < sep)) {
      sep = lf;
      len = 2;
    }
    const head = raw
      .subarray(0, sep)
      .toString('latin1')
      .replace(/\r?\n[ \t]+/g, ' ');
    contentType = /^content-type:\s*(.*)$/im.exec(head)?.[1]?.trim() ?? contentType;
    raw = raw.subarray(sep + len);
    if (!readFileSync(AS4 + name).includes(0x0d))
      raw = Buffer.from(raw.toString('latin1').replace(/\n/g, '\r\n'), 'latin1');
  }
  const mime = await readMimeMessage(Readable.from([raw]), { contentType, sink: memorySink() });
  return { doc: parseXml(mime.envelope, { source: name }), attachments: mime.attachments as As4Attachment[] };
}

async function rejects(p: Promise<unknown>, code: string, reason?: string): Promise<EhmiError> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof EhmiError, String(err));
    assert.equal(err.ebmsCode, code, `${err.code}: ${err.message}`);
    if (reason) assert.equal(err.details.reason, reason, err.message);
    return err;
  }
  assert.fail('expected a rejection');
}

describe('interop vectors (fixtures/as4, SOURCES-as4-smp.md)', () => {
  it('phase4 signed NRR receipt from the Peppol test AP POP000306 verifies (eb:Messaging + Body)', async () => {
    const { doc, attachments } = await vector('phase4-receipt-helger-POP000306.as4in');
    const r = await verifyEnvelope(doc, attachments, { trust: trustAll });
    assert.match(r.certificate.subject, /CN=POP000306/);
    assert.deepEqual(
      r.references.map((x) => x.target),
      ['Messaging', 'Body'],
    );
  });

  it('EBMS:0101 for the phase4 receipt when one NonRepudiationInformation digest is altered', async () => {
    const { doc, attachments } = await vector('phase4-receipt-helger-POP000306.as4in');
    const nri = doc.getElementsByTagNameNS(
      'http://docs.oasis-open.org/ebxml-bp/ebbp-signals-2.0',
      'MessagePartNRInformation',
    )[0] as Element;
    const dv = nri.getElementsByTagNameNS(NS.ds, 'DigestValue')[0]!;
    dv.textContent = `A${dv.textContent!.slice(1)}`;
    const err = await rejects(verifyEnvelope(doc, attachments, { trust: trustAll }), 'EBMS:0101', 'digest');
    assert.equal(err.details.target, 'Messaging');
  });

  it('Dataport receipt with the quirky mustUnderstand prefix verifies', async () => {
    const { doc, attachments } = await vector('dataport-receipt-PDE000357.as4in');
    const r = await verifyEnvelope(doc, attachments, { trust: trustAll });
    assert.match(r.certificate.subject, /PDE000357/);
  });

  it('EBMS:0101 for NEG-dataport-receipt-tampered-prefix (eb:Messaging digest mismatch)', async () => {
    const { doc, attachments } = await vector('NEG-dataport-receipt-tampered-prefix.as4in');
    const err = await rejects(verifyEnvelope(doc, attachments, { trust: trustAll }), 'EBMS:0101', 'digest');
    assert.equal(err.details.target, 'Messaging');
  });

  it('phase4 SOAP 1.1 receipt verifies with the ph-as4 certificate from keys/', async () => {
    const { doc, attachments } = await vector('phase4-receipt-soap11-selfsigned.xml');
    const expected = fixturePem('phase4-ph-as4.cert.pem');
    const r = await verifyEnvelope(doc, attachments, {
      trust: (chain) => chain[0]!.fingerprint256 === new X509Certificate(expected).fingerprint256,
      requireSignedMessaging: false,
    });
    assert.match(r.certificate.subject, /CN=ph-as4/);
  });

  it('phase4 SOAP 1.1 signed UserMessage verifies', async () => {
    const { doc, attachments } = await vector('phase4-usermessage-soap11-signed.xml');
    const r = await verifyEnvelope(doc, attachments, { trust: trustAll, requireSignedMessaging: false });
    assert.match(r.certificate.subject, /APP_1000000101/);
  });

  it('EBMS:0103 for the phase4 SOAP 1.1 UserMessage under the default policy (eb:Messaging unsigned)', async () => {
    const { doc, attachments } = await vector('phase4-usermessage-soap11-signed.xml');
    await rejects(verifyEnvelope(doc, attachments, { trust: trustAll }), 'EBMS:0103', 'messaging-unsigned');
  });

  it('EBMS:0101 for NEG-phase4-wrong-signing-algorithm (unknown SignatureMethod)', async () => {
    const { doc, attachments } = await vector('NEG-phase4-wrong-signing-algorithm.xml');
    await rejects(verifyEnvelope(doc, attachments, { trust: trustAll }), 'EBMS:0101', undefined);
  });

  it('EBMS:0101 for NEG-phase4-wrong-digest (unknown DigestMethod)', async () => {
    const { doc, attachments } = await vector('NEG-phase4-wrong-digest.xml');
    await rejects(verifyEnvelope(doc, attachments, { trust: trustAll }), 'EBMS:0101', undefined);
  });

  it('phase4 signed+encrypted Peppol MIME message: SignatureValue and eb:Messaging/Body digests verify, the cid: digest waits for decryption', async () => {
    const { doc, attachments } = await vector('phase4-peppol-usermessage-signed-encrypted.mime');
    assert.equal(attachments.length, 1);
    const r = await verifyEnvelope(doc, attachments, { trust: trustAll, deferAttachmentDigests: true });
    assert.match(r.certificate.subject, /CN=POP000306/);
    assert.deepEqual(
      r.references.map((x) => [x.target, x.digestVerified]),
      [
        ['Messaging', true],
        ['Body', true],
        ['attachment', false],
      ],
    );
  });

  it('phase4 signed+encrypted MIME message: EBMS:0101 when the plaintext digest is checked against the ciphertext', async () => {
    const { doc, attachments } = await vector('phase4-peppol-usermessage-signed-encrypted.mime');
    await rejects(verifyEnvelope(doc, attachments, { trust: trustAll }), 'EBMS:0101', 'digest');
  });

  it('phase4 signed+encrypted MIME message: its EncryptedKey/EncryptedData are understood; without the recipient key EBMS:0102', async () => {
    const { doc, attachments } = await vector('phase4-peppol-usermessage-signed-encrypted.mime');
    // The recipient's Peppol test key is not public: any other RSA key unwraps to garbage and fails at the GCM tag.
    await rejects(
      decryptAttachments(doc, attachments, {
        privateKey: fixtureKey('phase4-ph-as4.key.pem'),
        sink: memorySink(),
      }),
      'EBMS:0102',
      'tag',
    );
  });

  it('Domibus X509PKIPathv1 token: the path decodes with the leaf last (structural vector: SignatureValue fails)', async () => {
    const { doc, attachments } = await vector('domibus-struct-bst_X509PKIPathv1_incoming_message.xml');
    const err = await rejects(
      verifyEnvelope(doc, attachments, { trust: trustAll }),
      'EBMS:0101',
      'signature-value',
    );
    assert.match(String(err.details.subject), /CN=LEAF CERTIFICATE/);
  });

  it('Domibus X509v3 token (structural vector): key resolved, SignatureValue fails as SOURCES says', async () => {
    const { doc, attachments } = await vector('domibus-struct-bst_x509v3_incoming_message.xml');
    await rejects(verifyEnvelope(doc, attachments, { trust: trustAll }), 'EBMS:0101', 'signature-value');
  });

  it('Domibus IssuerSerial vector: the signer is not in the message, so EBMS:0101 at the key reference', async () => {
    const { doc, attachments } = await vector('domibus-struct-is_incoming_message.xml');
    await rejects(
      verifyEnvelope(doc, attachments, { trust: trustAll, knownCertificates: domibusCerts() }),
      'EBMS:0101',
      'key-info',
    );
  });

  it('Domibus IssuerSerial vector: the EncryptedKey names red_gw (issuer written C=BE,O=eDelivery,CN=red_gw)', async () => {
    const { doc } = await vector('domibus-struct-is_incoming_message.xml');
    const dummy = [memoryAttachment('message', Buffer.alloc(64))];
    const red = {
      certificate: domibusCerts()[1]!,
      privateKey: fixtureKey('domibus-red_gw.key.pem'),
      sink: memorySink(),
    };
    const blue = {
      certificate: domibusCerts()[0]!,
      privateKey: fixtureKey('domibus-blue_gw.key.pem'),
      sink: memorySink(),
    };
    // Addressed to red: the recipient check passes and decryption proceeds to the (dummy) ciphertext.
    await rejects(decryptAttachments(doc, dummy, red), 'EBMS:0102', 'tag');
    await rejects(decryptAttachments(doc, dummy, blue), 'EBMS:0102', 'recipient');
  });

  it('Domibus SKI vector: the EncryptedKey names red_gw by subject key identifier', async () => {
    const { doc } = await vector('domibus-struct-ski_incoming_message.xml');
    const dummy = [memoryAttachment('message', Buffer.alloc(64))];
    const red = {
      certificate: domibusCerts()[1]!,
      privateKey: fixtureKey('domibus-red_gw.key.pem'),
      sink: memorySink(),
    };
    const blue = {
      certificate: domibusCerts()[0]!,
      privateKey: fixtureKey('domibus-blue_gw.key.pem'),
      sink: memorySink(),
    };
    await rejects(decryptAttachments(doc, dummy, red), 'EBMS:0102', 'tag');
    await rejects(decryptAttachments(doc, dummy, blue), 'EBMS:0102', 'recipient');
  });

  it('Domibus MSHAS4Request: its EncryptedKey (RSA-OAEP, SHA-256, MGF1-SHA256) unwraps with the blue_gw key', async () => {
    const { doc } = await vector('domibus-struct-request-sign-encrypt-ski.xml');
    const ek = doc.getElementsByTagNameNS(NS.xenc, 'EncryptedKey')[0] as Element;
    const security = ek.parentNode as Element;
    const ctx = { idMap: buildIdMap(doc), security, ours: domibusCerts()[0] };
    const policy = PROFILES['edelivery-1.15'];
    const blue = fixtureKey('domibus-blue_gw.key.pem');
    const cek = await unwrapContentKey(ek, blue, policy, ctx);
    assert.equal(cek.length, 16);
    // Deterministic: a real unwrap, not the random key used when OAEP decoding fails.
    assert.deepEqual(await unwrapContentKey(ek, blue, policy, ctx), cek);
    const red = fixtureKey('domibus-red_gw.key.pem');
    assert.notDeepEqual(
      await unwrapContentKey(ek, red, policy, { ...ctx, ours: undefined }),
      await unwrapContentKey(ek, red, policy, { ...ctx, ours: undefined }),
    );
  });

  it('Domibus NRR receipt SKI reference resolves to blue_gw', async () => {
    const { doc, attachments } = await vector('domibus-struct-nrr-receipt-ski.xml');
    const err = await rejects(
      verifyEnvelope(doc, attachments, { trust: trustAll, knownCertificates: domibusCerts() }),
      'EBMS:0101',
      'signature-value',
    );
    assert.match(String(err.details.subject), /CN=blue_gw/);
  });

  it('EBMS:0101 for a Domibus SKI reference when the partner certificate is unknown', async () => {
    const { doc, attachments } = await vector('domibus-struct-ski_incoming_message.xml');
    await rejects(verifyEnvelope(doc, attachments, { trust: trustAll }), 'EBMS:0101', 'key-info');
  });
});

function domibusCerts(): X509Certificate[] {
  return [fixturePem('domibus-blue_gw.cert.pem'), fixturePem('domibus-red_gw.cert.pem')].map(
    (p) => new X509Certificate(p),
  );
}

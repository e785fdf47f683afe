import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Readable } from 'node:stream';
import { describe, it } from 'node:test';
import { EhmiError } from '@ehmi/errors';
import { parseXml } from '@ehmi/xml';
import { readMimeMessage } from '../../src/mime/parse.ts';
import { memorySink } from '../../src/mime/sink.ts';
import type { As4Attachment } from '../../src/model/attachment.ts';
import { verifyEnvelope } from '../../src/wss/verify.ts';
import { AS4, fixturePem, trustAll } from './helpers.ts';

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
});

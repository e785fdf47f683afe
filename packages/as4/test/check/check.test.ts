import assert from 'node:assert/strict';
import { createHash, createPrivateKey, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { EhmiError } from '@ehmi/errors';
import { parseXml, serializeXml } from '@ehmi/xml';
import {
  addTimestamp,
  checkAs4Message,
  decryptAs4Message,
  inspectAs4Message,
  openAs4Message,
  signEnvelope,
  splitAs4File,
} from '../../src/index.ts';
import { userMessageEnvelope } from '../helpers.ts';
import { testPki } from '../wss/helpers.ts';

/** <repo>/fixtures/as4/, resolved from this file (packages/as4/test/check → repo root). */
const AS4 = fileURLToPath(new URL('../../../../fixtures/as4/', import.meta.url));
const NET = `${AS4}as4net/`;
const read = (name: string) => readFileSync(AS4 + name);
const pem = (name: string) => readFileSync(NET + name, 'utf8');

async function notAs4(p: Promise<unknown>): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(err instanceof EhmiError);
    assert.equal(err.code, 'EHMI_INPUT_UNREADABLE', err.message);
    assert.match(err.message, /not an AS4 message/);
    return true;
  });
}

describe('splitAs4File: the forms a saved AS4 message comes in', () => {
  it('HTTP response headers (no status line) with LF line ends: Content-Type from the headers', () => {
    const f = splitAs4File(read('phase4-receipt-helger-POP000306.as4in'));
    assert.equal(f.contentType, 'application/soap+xml;charset=UTF-8');
    assert.ok(f.body.toString('utf8').startsWith('<'));
    assert.equal(f.headers['x-frame-options'], 'DENY, SAMEORIGIN');
  });

  it('a status line, folded MIME headers, a chunked body', () => {
    const chunked = Buffer.from(
      'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Type: multipart/related;\r\n\tboundary="b1"\r\n\r\n' +
        '6\r\n--b1\r\n\r\n1;ext=1\r\nX\r\n0\r\n\r\n',
    );
    const f = splitAs4File(chunked);
    assert.equal(f.startLine, 'HTTP/1.1 200 OK');
    assert.equal(f.contentType, 'multipart/related; boundary="b1"');
    assert.equal(f.body.toString(), '--b1\r\nX');
  });

  it('a bare multipart body: the boundary from its first line; a BOM and blank lines skipped; LF-only files get CRLF', () => {
    const f = splitAs4File(readFileSync(`${NET}as4-multihop-message.as4`));
    assert.equal(f.contentType, 'multipart/related; boundary="=-M/sMGEhQK8RBNg/21Nf7Ig=="');
    assert.ok(f.body.toString('latin1').startsWith('--=-M/sMGEhQK8RBNg/21Nf7Ig==\r\nContent-Type'));
    assert.deepEqual(f.headers, {});
  });

  it('a bare SOAP envelope (XML declaration, then a comment)', () => {
    const f = splitAs4File(read('phase4-usermessage-unsigned.xml'));
    assert.equal(f.contentType, 'application/soap+xml');
    assert.ok(f.body.toString().startsWith('<?xml'));
  });

  it('anything else is not an AS4 message', async () => {
    for (const bytes of ['', '   \n', 'hello world', 'Content-Type text/plain\n\nx', 'X-A: 1\r\n\r\nbody']) {
      await notAs4((async () => splitAs4File(Buffer.from(bytes)))());
    }
  });
});

describe('checkAs4Message over the interop vectors', () => {
  it('the phase4 receipt from POP000306 is valid (BinarySecurityToken, eb:Messaging + Body)', async () => {
    const r = await checkAs4Message(read('phase4-receipt-helger-POP000306.as4in'));
    assert.equal(r.valid, true, r.reason);
    assert.equal(r.kind, 'Receipt');
    assert.equal(r.tokenReference, 'BinarySecurityToken');
    assert.match(r.signer!.subject, /CN=POP000306/);
    assert.deepEqual(
      r.references.map((x) => [x.target, x.ok]),
      [
        ['Messaging', true],
        ['Body', true],
      ],
    );
  });

  it('NEG-dataport-receipt-tampered-prefix: EBMS:0101, and the report shows eb:Messaging broken, the Body intact', async () => {
    const r = await checkAs4Message(read('NEG-dataport-receipt-tampered-prefix.as4in'));
    assert.equal(r.valid, false);
    assert.equal(r.errorCode, 'EBMS:0101');
    assert.equal(r.reasonCode, 'digest');
    assert.deepEqual(
      r.references.map((x) => [x.target, x.ok]),
      [
        ['Messaging', false],
        ['Body', true],
      ],
    );
  });

  it('the phase4 signed+encrypted message without a key: not valid, incomplete, no error code', async () => {
    const r = await checkAs4Message(read('phase4-peppol-usermessage-signed-encrypted.mime'));
    assert.equal(r.valid, false);
    assert.equal(r.complete, false);
    assert.equal(r.errorCode, undefined);
    assert.match(r.reason!, /cannot be checked without the decryption key/);
    assert.deepEqual(
      r.references.map((x) => [x.target, x.ok]),
      [
        ['Messaging', true],
        ['Body', true],
        ['attachment', null],
      ],
    );
    assert.equal(r.encrypted.length, 1);
  });

  it('as4-encrypted-signed-issuerserial with --key and --cert: decrypted, every reference valid over the plaintext', async () => {
    const r = await checkAs4Message(readFileSync(`${NET}as4-encrypted-signed-issuerserial.as4`), {
      certificate: pem('AccessPointA.cert.pem'),
      privateKey: createPrivateKey(pem('AccessPointB.key.pem')),
    });
    assert.equal(r.valid, true, r.reason);
    assert.equal(r.tokenReference, 'IssuerSerial');
    assert.equal(r.references.length, 4);
    assert.ok(r.references.every((x) => x.ok === true));
    assert.deepEqual(
      r.decrypted.map((d) => d.size).sort((a, b) => a! - b!),
      [164, 296385],
    );
  });

  it('as4-encrypted-signed-issuerserial: without --cert EBMS:0101 (no certificate for the IssuerSerial); a wrong --cert too', async () => {
    const key = createPrivateKey(pem('AccessPointB.key.pem'));
    const bytes = readFileSync(`${NET}as4-encrypted-signed-issuerserial.as4`);
    const none = await checkAs4Message(bytes, { privateKey: key });
    assert.equal(none.errorCode, 'EBMS:0101');
    assert.equal(none.reasonCode, 'key-info');
    const wrong = await checkAs4Message(bytes, {
      privateKey: key,
      certificate: pem('AccessPointB.cert.pem'),
    });
    assert.equal(wrong.errorCode, 'EBMS:0101');
  });

  it('a flipped ciphertext octet: EBMS:0102; a flipped octet in eb:Messaging: EBMS:0101; a broken tag in a signed envelope: EBMS:0101', async () => {
    const bytes = readFileSync(`${NET}as4-encrypted-signed-issuerserial.as4`);
    const opts = {
      certificate: pem('AccessPointA.cert.pem'),
      privateKey: createPrivateKey(pem('AccessPointB.key.pem')),
    };
    const ct = Buffer.from(bytes);
    ct[ct.length - 1000]! ^= 1;
    const r1 = await checkAs4Message(ct, opts);
    assert.equal(r1.errorCode, 'EBMS:0102', r1.reason);
    const text = Buffer.from(bytes);
    text[text.indexOf('org:holodeckb2b:test:conversation') + 4]! ^= 1;
    const r2 = await checkAs4Message(text, opts);
    assert.equal(r2.errorCode, 'EBMS:0101', r2.reason);
    assert.equal(r2.reasonCode, 'digest');
    const tag = Buffer.from(bytes);
    tag[tag.indexOf('<eb3:Action>') + 3]! ^= 1;
    const r3 = await checkAs4Message(tag, opts);
    assert.equal(r3.errorCode, 'EBMS:0101', r3.reason);
    assert.equal(r3.reasonCode, 'malformed');
  });

  it('unsigned: EBMS:0103; SOAP 1.1 UserMessage whose eb:Messaging is unsigned: EBMS:0103', async () => {
    const r = await checkAs4Message(read('phase4-usermessage-unsigned.xml'));
    assert.equal(r.errorCode, 'EBMS:0103');
    assert.equal(r.reasonCode, 'unsigned');
    const s = await checkAs4Message(read('phase4-usermessage-soap11-signed.xml'));
    assert.equal(s.errorCode, 'EBMS:0103');
  });

  it('not an AS4 message: a P-Mode file, a bare eb:Messaging, a JPEG', async () => {
    await notAs4(checkAs4Message(read('holodeck-pmode-push-nrr-init.xml')));
    await notAs4(checkAs4Message(read('domibus-valid-4corner-messaging.xml')));
    await notAs4(checkAs4Message(Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0, 0x10])));
  });

  it('the timestamp window only when asked for; the algorithm profile as asked for', async () => {
    const pki = await testPki();
    const noPart = parseXml(userMessageEnvelope());
    addTimestamp(noPart, { clock: () => new Date('2020-01-01T00:00:00Z'), ttlSeconds: 300 });
    await signEnvelope(noPart, [], { privateKey: pki.rsa.key, certificate: pki.rsa.certificate });
    const b2 = Buffer.from(serializeXml(noPart));
    assert.equal((await checkAs4Message(b2)).valid, true);
    const strict = await checkAs4Message(b2, { timestampWindow: true });
    assert.equal(strict.errorCode, 'EBMS:0101');
    assert.equal(strict.reasonCode, 'timestamp-expired');
    const trusted = await checkAs4Message(b2, {
      trust: (chain) => chain[0]!.checkIssued(pki.root),
    });
    assert.equal(trusted.valid, true);
    const untrusted = await checkAs4Message(b2, { trust: () => false });
    assert.equal(untrusted.errorCode, 'EBMS:0101');
    assert.equal(untrusted.reasonCode, 'untrusted');
    const ap115 = await checkAs4Message(b2, { profile: 'edelivery-2.0' });
    assert.equal(ap115.errorCode, 'EBMS:0103');
  });
});

describe('decryptAs4Message and inspectAs4Message', () => {
  it('decrypts and decompresses the issuerserial vector per its PartInfo (gzip → JPEG and XML)', async () => {
    const d = await decryptAs4Message(readFileSync(`${NET}as4-encrypted-signed-issuerserial.as4`), {
      privateKey: createPrivateKey(pem('AccessPointB.key.pem')),
    });
    try {
      const got: Record<string, [boolean, boolean, string]> = {};
      for (const p of d.parts) {
        const h = createHash('sha256');
        for await (const c of p.attachment.open()) h.update(c as Buffer);
        got[p.contentId.replace(/^.*-(\d+)@.*$/, '$1')] = [p.decrypted, p.decompressed, h.digest('hex')];
      }
      assert.deepEqual(got, {
        '291596031': [true, true, '060364613d88080a698ed6720d1a2288a30fdff223b4fb0cca280d3c3c67e93f'],
        '1650194442': [true, true, 'df3d563a69eef2cc166afde17715eb803399df573737be357f15a64c37995170'],
      });
      assert.equal(d.messageId, 'b545c3a0-e57f-46aa-862f-381eb4b70097@CLT-SMOREELS.mshome.net');
    } finally {
      await d.dispose();
    }
  });

  it('refuses a message with nothing to decrypt (EHMI_USAGE)', async () => {
    await assert.rejects(
      decryptAs4Message(readFileSync(`${NET}signed_holodeck_message.as4`), {
        privateKey: createPrivateKey(pem('AccessPointB.key.pem')),
      }),
      (err: unknown) => err instanceof EhmiError && err.code === 'EHMI_USAGE',
    );
  });

  it('inspect: header, parts and security of the Holodeck message', async () => {
    const s = await inspectAs4Message(readFileSync(`${NET}signed_holodeck_message.as4`));
    assert.equal(s.kind, 'UserMessage');
    assert.equal(s.messageId, 'cdcc838c-96ed-414a-b127-0937f5cd6549@CLT-FGHEYSELS.ad.codit.eu');
    assert.deepEqual(s.from, { partyIds: [{ value: 'org:holodeckb2b:example:company:A' }], role: 'Sender' });
    assert.deepEqual(s.service, { value: 'Test', type: 'org:holodeckb2b:services' });
    assert.equal(s.agreement?.pmode, '8.3.4-pmode');
    assert.deepEqual(
      s.parts.map((p) => [p.mimeType, p.compressionType, p.encrypted]),
      [
        ['image/jpeg', 'application/gzip', false],
        ['application/xml', 'application/gzip', false],
      ],
    );
    assert.equal(s.security.signature?.method, 'http://www.w3.org/2001/04/xmldsig-more#rsa-sha384');
    assert.equal(s.security.signature?.keyReference, 'SKI');
    assert.equal(s.security.encrypted, false);
  });

  it('inspect: an error signal and the encrypted AS4.NET message', async () => {
    const e = await inspectAs4Message(read('phase4-error-signal.xml'));
    assert.equal(e.kind, 'Error');
    assert.ok(e.errors.length > 0);
    const x = await inspectAs4Message(readFileSync(`${NET}as4_encrypted_message`));
    assert.equal(x.security.signed, false);
    assert.deepEqual(x.security.encryption?.keys, [
      {
        algorithm: 'http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p',
        digest: 'http://www.w3.org/2001/04/xmlenc#sha256',
        keyReference: 'BinarySecurityToken (X509v3)',
      },
    ]);
    assert.ok(x.parts.every((p) => p.encrypted));
  });

  it('openAs4Message: a MIME message whose parts disagree with PayloadInfo is an AS4 message that fails (EBMS:0011)', async () => {
    await assert.rejects(
      openAs4Message(read('domibus-struct-is_incoming_message.xml')),
      (err: unknown) => err instanceof EhmiError && err.ebmsCode === 'EBMS:0011',
    );
    assert.ok(new X509Certificate(pem('partyC.cert.pem')));
  });
});

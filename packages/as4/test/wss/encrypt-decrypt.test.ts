import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Readable, Writable } from 'node:stream';
import { describe, it } from 'node:test';
import type { EhmiError } from '@ehmi/errors';
import { type Document, type Element, parseXml, serializeXml } from '@ehmi/xml';
import { type AttachmentSink, memorySink } from '../../src/mime/sink.ts';
import type { As4Attachment } from '../../src/model/attachment.ts';
import { ALG } from '../../src/wss/algorithms.ts';
import { decryptAttachments } from '../../src/wss/decrypt.ts';
import { encryptAttachments } from '../../src/wss/encrypt.ts';
import { NS, SWA } from '../../src/wss/ns.ts';
import { signEnvelope } from '../../src/wss/sign.ts';
import { verifyAttachmentReferences, verifyEnvelope } from '../../src/wss/verify.ts';
import {
  memoryAttachment,
  readAll,
  rejectsWith,
  reparse,
  testPki,
  trustRoot,
  userMessageXml,
} from './helpers.ts';

const PLAIN = randomBytes(70_000);
const payload = () => memoryAttachment('payload-1@test', PLAIN, { 'content-type': 'application/gzip' });

/** Copies an attachment's (encrypted) body into memory so a test can flip bytes in it. */
async function materialise(att: As4Attachment, mutate?: (b: Buffer) => void): Promise<As4Attachment> {
  const body = await readAll(att);
  mutate?.(body);
  return memoryAttachment(att.contentId, body, att.headers);
}

function first(doc: Document, ns: string, name: string): Element {
  return doc.getElementsByTagNameNS(ns, name)[0] as Element;
}

describe('encrypt → decrypt (eDelivery AS4 1.15 §2.2.6.3, SwA Profile 1.1 §5.4, XML Encryption 1.1)', () => {
  it('RSA-OAEP (SHA-256, MGF1-SHA256) + AES-128-GCM round trip restores the bytes and the MIME type', async () => {
    const pki = await testPki();
    const doc = parseXml(userMessageXml());
    const enc = await encryptAttachments(doc, [payload()], { recipientCertificate: pki.rsa2.certificate });
    assert.equal(enc.attachments[0]!.headers['content-type'], 'application/octet-stream');
    const wire = await materialise(enc.attachments[0]!);
    assert.equal(wire.size, PLAIN.length + 28);
    assert.notDeepEqual((await readAll(wire)).subarray(12, 112), PLAIN.subarray(0, 100));
    const dec = await decryptAttachments(reparse(doc), [wire], {
      privateKey: pki.rsa2.key,
      sink: memorySink(),
    });
    assert.deepEqual(await readAll(dec.attachments[0]!), PLAIN);
    assert.equal(dec.attachments[0]!.headers['content-type'], 'application/gzip');
    assert.equal(dec.attachments[0]!.size, PLAIN.length);
    assert.deepEqual(dec.decrypted, ['payload-1@test']);
  });

  it('writes EncryptedKey (rsa-oaep, sha256, mgf1sha256) and EncryptedData (Attachment-Content-Only, CipherReference)', async () => {
    const pki = await testPki();
    const doc = parseXml(userMessageXml());
    await encryptAttachments(doc, [payload()], { recipientCertificate: pki.rsa2.certificate });
    const d = reparse(doc);
    const ekMethod = first(d, NS.xenc, 'EncryptedKey').getElementsByTagNameNS(
      NS.xenc,
      'EncryptionMethod',
    )[0]!;
    assert.equal(ekMethod.getAttribute('Algorithm'), ALG.rsaOaep);
    assert.equal(
      ekMethod.getElementsByTagNameNS(NS.xenc11, 'MGF')[0]!.getAttribute('Algorithm'),
      ALG.mgf1sha256,
    );
    assert.equal(
      ekMethod.getElementsByTagNameNS(NS.ds, 'DigestMethod')[0]!.getAttribute('Algorithm'),
      ALG.sha256,
    );
    const ed = first(d, NS.xenc, 'EncryptedData');
    assert.equal(ed.getAttribute('Type'), SWA.contentOnly);
    assert.equal(ed.getAttribute('MimeType'), 'application/gzip');
    assert.equal(first(d, NS.xenc, 'CipherReference').getAttribute('URI'), 'cid:payload-1@test');
  });

  it('eb:Messaging and the Body are never encrypted', async () => {
    const pki = await testPki();
    const doc = parseXml(userMessageXml());
    await encryptAttachments(doc, [payload()], { recipientCertificate: pki.rsa2.certificate });
    const d = reparse(doc);
    assert.ok(first(d, NS.eb, 'MessageId'));
    for (const ed of Array.from(d.getElementsByTagNameNS(NS.xenc, 'EncryptedData'))) {
      assert.equal((ed as Element).parentNode!.localName, 'Security');
    }
  });

  it('eDelivery AS4 2.0: X25519 + HKDF + AES-128 key wrap round trip', async () => {
    const pki = await testPki();
    const doc = parseXml(userMessageXml());
    const enc = await encryptAttachments(doc, [payload()], { recipientCertificate: pki.x25519.certificate });
    const d = reparse(doc);
    assert.equal(first(d, NS.xenc, 'AgreementMethod').getAttribute('Algorithm'), ALG.x25519);
    const wire = await materialise(enc.attachments[0]!);
    const dec = await decryptAttachments(d, [wire], {
      privateKey: pki.x25519.key,
      certificate: pki.x25519.certificate,
      profile: 'edelivery-2.0',
      sink: memorySink(),
    });
    assert.deepEqual(await readAll(dec.attachments[0]!), PLAIN);
  });

  it('eDelivery AS4 2.0 EC enhancement: ECDH-ES (P-256) + HKDF + AES-128 key wrap round trip', async () => {
    const pki = await testPki();
    const doc = parseXml(userMessageXml());
    const enc = await encryptAttachments(doc, [payload()], { recipientCertificate: pki.ecdsa.certificate });
    const d = reparse(doc);
    assert.equal(first(d, NS.xenc, 'AgreementMethod').getAttribute('Algorithm'), ALG.ecdhEs);
    assert.equal(first(d, NS.dsig11, 'NamedCurve').getAttribute('URI'), 'urn:oid:1.2.840.10045.3.1.7');
    const dec = await decryptAttachments(d, [await materialise(enc.attachments[0]!)], {
      privateKey: pki.ecdsa.key,
      certificate: pki.ecdsa.certificate,
      sink: memorySink(),
    });
    assert.deepEqual(await readAll(dec.attachments[0]!), PLAIN);
  });

  it('EBMS:0102 when an ECDH-ES message is decrypted with an X25519 key', async () => {
    const pki = await testPki();
    const doc = parseXml(userMessageXml());
    const enc = await encryptAttachments(doc, [payload()], { recipientCertificate: pki.ecdsa.certificate });
    await rejectsWith(
      decryptAttachments(reparse(doc), [await materialise(enc.attachments[0]!)], {
        privateKey: pki.x25519.key,
      }),
      'EBMS:0102',
    );
  });

  it('2.0: the originator key is also read as ds:KeyValue/dsig11:ECKeyValue, and KeyLength in bits', async () => {
    const pki = await testPki();
    const doc = parseXml(userMessageXml());
    const enc = await encryptAttachments(doc, [payload()], { recipientCertificate: pki.x25519.certificate });
    const d = reparse(doc);
    const derEl = first(d, NS.dsig11, 'DEREncodedKeyValue');
    const raw = Buffer.from(derEl.textContent!, 'base64').subarray(12);
    const oki = derEl.parentNode as Element;
    oki.removeChild(derEl);
    const kv = d.createElementNS(NS.ds, 'ds:KeyValue');
    const ec = d.createElementNS(NS.dsig11, 'dsig11:ECKeyValue');
    const pub = d.createElementNS(NS.dsig11, 'dsig11:PublicKey');
    pub.appendChild(d.createTextNode(raw.toString('base64')));
    ec.appendChild(pub);
    kv.appendChild(ec);
    oki.appendChild(kv);
    first(d, NS.dsigMore, 'KeyLength').textContent = '128';
    const dec = await decryptAttachments(reparse(d), [await materialise(enc.attachments[0]!)], {
      privateKey: pki.x25519.key,
      sink: memorySink(),
    });
    assert.deepEqual(await readAll(dec.attachments[0]!), PLAIN);
  });

  it('EBMS:0102 FailedDecryption when one ciphertext byte changes, and no plaintext is handed over', async () => {
    const pki = await testPki();
    const doc = parseXml(userMessageXml());
    const enc = await encryptAttachments(doc, [payload()], { recipientCertificate: pki.rsa2.certificate });
    const wire = await materialise(enc.attachments[0]!, (b) => {
      b[5000] = b[5000]! ^ 1;
    });
    // A sink commits a part when its writable finishes; a failed tag must never let it finish.
    const sink = memorySink();
    const finishedParts: string[] = [];
    const watching = {
      create: (p: Parameters<typeof sink.create>[0]) => {
        const target = sink.create(p);
        target.writable.on('finish', () => finishedParts.push(p.contentId));
        return target;
      },
      dispose: sink.dispose,
    };
    await rejectsWith(
      decryptAttachments(reparse(doc), [wire], { privateKey: pki.rsa2.key, sink: watching }),
      'EBMS:0102',
      'tag',
    );
    assert.deepEqual(finishedParts, []);
  });

  it('EHMI_STORE_UNAVAILABLE (retryable), not EBMS:0102, when the sink cannot write the plaintext (a full disk)', async () => {
    const pki = await testPki();
    const doc = parseXml(userMessageXml());
    const enc = await encryptAttachments(doc, [payload()], { recipientCertificate: pki.rsa2.certificate });
    const whole = await readAll(await materialise(enc.attachments[0]!));
    // Read in 8 KiB chunks, so the plaintext reaches the sink in several writes.
    const wire: As4Attachment = {
      ...enc.attachments[0]!,
      size: whole.length,
      open: () =>
        Readable.from(
          Array.from({ length: Math.ceil(whole.length / 8192) }, (_, i) =>
            whole.subarray(i * 8192, (i + 1) * 8192),
          ),
        ),
    };
    for (const failAfter of [0, 1, 3]) {
      let writes = 0;
      const full: AttachmentSink = {
        create: () => ({
          writable: new Writable({
            highWaterMark: 1024,
            write(_c, _e, cb) {
              if (writes++ < failAfter) setImmediate(cb);
              else
                setImmediate(() => cb(Object.assign(new Error('ENOSPC: no space left'), { code: 'ENOSPC' })));
            },
          }),
          open: () => Readable.from([]),
        }),
        dispose: async () => {},
      };
      await assert.rejects(
        decryptAttachments(reparse(doc), [wire], { privateKey: pki.rsa2.key, sink: full }),
        (err: EhmiError) =>
          err.code === 'EHMI_STORE_UNAVAILABLE' && err.ebmsCode === 'EBMS:0004' && err.transient,
        `failing after ${failAfter} writes`,
      );
    }
  });

  it('EBMS:0102 FailedDecryption when the GCM tag is cut off', async () => {
    const pki = await testPki();
    const doc = parseXml(userMessageXml());
    const enc = await encryptAttachments(doc, [payload()], { recipientCertificate: pki.rsa2.certificate });
    const body = await readAll(enc.attachments[0]!);
    const wire = memoryAttachment('payload-1@test', body.subarray(0, body.length - 16));
    await rejectsWith(decryptAttachments(reparse(doc), [wire], { privateKey: pki.rsa2.key }), 'EBMS:0102');
  });

  it('EBMS:0102 FailedDecryption with the wrong private key (no padding oracle: fails at the tag)', async () => {
    const pki = await testPki();
    const doc = parseXml(userMessageXml());
    const enc = await encryptAttachments(doc, [payload()], { recipientCertificate: pki.rsa2.certificate });
    const wire = await materialise(enc.attachments[0]!);
    await rejectsWith(
      decryptAttachments(reparse(doc), [wire], { privateKey: pki.rsa.key }),
      'EBMS:0102',
      'tag',
    );
  });

  it('EBMS:0102 when the EncryptedKey is addressed to another certificate', async () => {
    const pki = await testPki();
    const doc = parseXml(userMessageXml());
    const enc = await encryptAttachments(doc, [payload()], { recipientCertificate: pki.rsa2.certificate });
    const wire = await materialise(enc.attachments[0]!);
    await rejectsWith(
      decryptAttachments(reparse(doc), [wire], { privateKey: pki.rsa.key, certificate: pki.rsa.certificate }),
      'EBMS:0102',
      'recipient',
    );
  });

  it('a rollover: the key the EncryptedKey names is used, the current one or a previous one, by BST, IssuerSerial, SKI or thumbprint', async () => {
    const pki = await testPki();
    // Current key rsa, previous key rsa2: a sender with an older register answer encrypts to rsa2.
    const keys = { privateKey: pki.rsa.key, certificate: pki.rsa.certificate };
    const previousKeys = [{ privateKey: pki.rsa2.key, certificate: pki.rsa2.certificate }];
    for (const tokenReference of ['BinarySecurityToken', 'IssuerSerial', 'SKI', 'Thumbprint'] as const) {
      for (const to of [pki.rsa, pki.rsa2]) {
        const doc = parseXml(userMessageXml());
        const enc = await encryptAttachments(doc, [payload()], {
          recipientCertificate: to.certificate,
          tokenReference,
        });
        const wire = await materialise(enc.attachments[0]!);
        const dec = await decryptAttachments(reparse(doc), [wire], {
          ...keys,
          previousKeys,
          sink: memorySink(),
        });
        assert.deepEqual(
          await readAll(dec.attachments[0]!),
          PLAIN,
          `${tokenReference} to ${to.certificate.subject}`,
        );
      }
    }
    // X25519 (2.0): the RecipientKeyInfo names the previous key.
    const doc = parseXml(userMessageXml());
    const enc = await encryptAttachments(doc, [payload()], { recipientCertificate: pki.x25519.certificate });
    const wire = await materialise(enc.attachments[0]!);
    const dec = await decryptAttachments(reparse(doc), [wire], {
      ...keys,
      previousKeys: [{ privateKey: pki.x25519.key, certificate: pki.x25519.certificate }],
      profile: 'edelivery-2.0',
      sink: memorySink(),
    });
    assert.deepEqual(await readAll(dec.attachments[0]!), PLAIN);
  });

  it('a rollover: an EncryptedKey naming a certificate of neither key is EBMS:0102, no key tried', async () => {
    const pki = await testPki();
    const doc = parseXml(userMessageXml());
    const enc = await encryptAttachments(doc, [payload()], {
      recipientCertificate: pki.rsa2.certificate,
      tokenReference: 'IssuerSerial',
    });
    const wire = await materialise(enc.attachments[0]!);
    await rejectsWith(
      decryptAttachments(reparse(doc), [wire], {
        privateKey: pki.rsa.key,
        certificate: pki.rsa.certificate,
        previousKeys: [{ privateKey: pki.x25519.key, certificate: pki.x25519.certificate }],
      }),
      'EBMS:0102',
      'recipient',
    );
  });

  it('EBMS:0102 when an encrypted attachment is missing', async () => {
    const pki = await testPki();
    const doc = parseXml(userMessageXml());
    await encryptAttachments(doc, [payload()], { recipientCertificate: pki.rsa2.certificate });
    await rejectsWith(
      decryptAttachments(reparse(doc), [], { privateKey: pki.rsa2.key }),
      'EBMS:0102',
      'attachment-missing',
    );
  });

  it('EBMS:0103 when encryption is required and an attachment came in clear', async () => {
    const pki = await testPki();
    await rejectsWith(
      decryptAttachments(parseXml(userMessageXml()), [payload()], {
        privateKey: pki.rsa2.key,
        requireEncryption: true,
      }),
      'EBMS:0103',
      'unencrypted',
    );
  });

  it('EBMS:0103 for AES-CBC data encryption (not allowed by the profile)', async () => {
    const pki = await testPki();
    const doc = parseXml(userMessageXml());
    const enc = await encryptAttachments(doc, [payload()], { recipientCertificate: pki.rsa2.certificate });
    const d = reparse(doc);
    first(d, NS.xenc, 'EncryptedData')
      .getElementsByTagNameNS(NS.xenc, 'EncryptionMethod')[0]!
      .setAttribute('Algorithm', 'http://www.w3.org/2001/04/xmlenc#aes128-cbc');
    await rejectsWith(
      decryptAttachments(d, [await materialise(enc.attachments[0]!)], { privateKey: pki.rsa2.key }),
      'EBMS:0103',
    );
  });

  it('sign, then encrypt, over the wire, then decrypt and verify (1.15 pipeline)', async () => {
    const pki = await testPki();
    const doc = parseXml(userMessageXml());
    await signEnvelope(doc, [payload()], { privateKey: pki.rsa.key, certificate: pki.rsa.certificate });
    const enc = await encryptAttachments(doc, [payload()], { recipientCertificate: pki.rsa2.certificate });
    const received = parseXml(serializeXml(doc));
    const wire = [await materialise(enc.attachments[0]!)];
    const dec = await decryptAttachments(received, wire, { privateKey: pki.rsa2.key });
    try {
      const r = await verifyEnvelope(received, dec.attachments, { trust: trustRoot(pki.root) });
      assert.equal(r.references.length, 3);
    } finally {
      await dec.dispose();
    }
  });

  it('verify first with deferred attachment digests, then decrypt and check them (2.0 pipeline)', async () => {
    const pki = await testPki();
    const doc = parseXml(userMessageXml());
    await signEnvelope(doc, [payload()], {
      privateKey: pki.ed25519.key,
      certificate: pki.ed25519.certificate,
    });
    const enc = await encryptAttachments(doc, [payload()], { recipientCertificate: pki.x25519.certificate });
    const received = reparse(doc);
    const wire = [await materialise(enc.attachments[0]!)];
    const r = await verifyEnvelope(received, wire, {
      trust: trustRoot(pki.root),
      profile: 'edelivery-2.0',
      deferAttachmentDigests: true,
    });
    assert.equal(r.references.find((x) => x.target === 'attachment')!.digestVerified, false);
    const dec = await decryptAttachments(received, wire, { privateKey: pki.x25519.key, sink: memorySink() });
    await verifyAttachmentReferences(r, dec.attachments);
    assert.ok(r.references.every((x) => x.digestVerified));
  });

  it('EBMS:0101 when the signed plaintext digest is checked against the ciphertext', async () => {
    const pki = await testPki();
    const doc = parseXml(userMessageXml());
    await signEnvelope(doc, [payload()], { privateKey: pki.rsa.key, certificate: pki.rsa.certificate });
    const enc = await encryptAttachments(doc, [payload()], { recipientCertificate: pki.rsa2.certificate });
    const wire = [await materialise(enc.attachments[0]!)];
    await rejectsWith(
      verifyEnvelope(reparse(doc), wire, { trust: trustRoot(pki.root) }),
      'EBMS:0101',
      'digest',
    );
  });
});

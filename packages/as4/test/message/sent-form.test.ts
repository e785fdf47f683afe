import assert from 'node:assert/strict';
import { createHash, createPrivateKey, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Readable } from 'node:stream';
import { describe, it } from 'node:test';
import { childElement, childElements, type Document, type Element, parseXml } from '@ehmi/xml';
import { compressAttachment, decompressAttachment } from '../../src/compression/gzip.ts';
import { buildUserMessage } from '../../src/message/build.ts';
import { readMimeMessage } from '../../src/mime/parse.ts';
import { memorySink } from '../../src/mime/sink.ts';
import { writeAs4Message } from '../../src/mime/write.ts';
import type { As4Attachment } from '../../src/model/attachment.ts';
import type { PartInfo } from '../../src/model/user-message.ts';
import { digestAttachment } from '../../src/wss/attachment-digest.ts';
import { decryptAttachments } from '../../src/wss/decrypt.ts';
import { encryptAttachments } from '../../src/wss/encrypt.ts';
import { NS, SWA } from '../../src/wss/ns.ts';
import { signEnvelope } from '../../src/wss/sign.ts';
import { verifyEnvelope } from '../../src/wss/verify.ts';
import { AS4_FIXTURES, readVector } from '../helpers.ts';

/**
 * What a sent message looks like on the wire, against foreign senders' messages (fixtures/as4,
 * SOURCES-as4-smp.md): for each payload, its PartProperties, the Content-Type of its MIME part, and the MimeType of
 * the xenc:EncryptedData that encrypts it (phase4 and AS4.NET: `application/gzip` for a compressed part, the type
 * before encryption; the MIME part itself is `application/octet-stream`).
 */
const EB = 'http://docs.oasis-open.org/ebxml-msg/ebms/v3.0/ns/core/200704/';

interface PartForm {
  properties: Record<string, string>;
  wireType: string;
  encryptedMimeType: string | undefined;
}

function descendants(root: Document | Element, ns: string, name: string): Element[] {
  return Array.from(root.getElementsByTagNameNS(ns, name)) as Element[];
}

/** The form of every payload of a parsed message, by Content-ID. */
function formOf(doc: Document, attachments: readonly As4Attachment[]): Map<string, PartForm> {
  const encrypted = new Map<string, string | undefined>();
  for (const ed of descendants(doc, NS.xenc, 'EncryptedData')) {
    const cd = childElement(ed, NS.xenc, 'CipherData');
    const uri = cd && childElement(cd, NS.xenc, 'CipherReference')?.getAttribute('URI');
    if (uri) encrypted.set(uri.slice(4), ed.getAttribute('MimeType') ?? undefined);
  }
  const out = new Map<string, PartForm>();
  for (const pi of descendants(doc, EB, 'PartInfo')) {
    const id = (pi.getAttribute('href') ?? '').slice(4);
    const properties: Record<string, string> = {};
    const pp = childElement(pi, EB, 'PartProperties');
    for (const p of pp ? childElements(pp, EB, 'Property') : [])
      properties[p.getAttribute('name')!] = (p.textContent ?? '').trim();
    const att = attachments.find((a) => a.contentId === id);
    assert.ok(att, `MIME part ${id}`);
    out.set(id, {
      properties,
      wireType: att.headers['content-type']!.split(';')[0]!.trim(),
      encryptedMimeType: encrypted.get(id),
    });
  }
  return out;
}

/**
 * A vector from fixtures/as4: `.mime`/`.as4in` with their headers (the shared reader), or one of AS4.NET's `.as4`
 * files, which are a bare multipart body: the boundary is the first line's.
 */
async function parse(name: string) {
  let contentType: string;
  let body: Buffer;
  if (name.endsWith('.as4')) {
    body = readFileSync(AS4_FIXTURES + name);
    const first = body.toString('latin1', 0, 200).trimStart().split(/\r?\n/)[0]!;
    contentType = `multipart/related; boundary="${first.slice(2)}"; type="application/soap+xml"`;
  } else {
    ({ contentType, body } = readVector(name));
  }
  const mime = await readMimeMessage(Readable.from([body]), { contentType, sink: memorySink() });
  const doc = parseXml(mime.envelope, { source: name });
  return { doc, attachments: mime.attachments as As4Attachment[] };
}

async function bytesOf(r: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of r) chunks.push(Buffer.from(c as Uint8Array));
  return Buffer.concat(chunks);
}

const pem = (file: string) => readFileSync(`${AS4_FIXTURES}as4net/${file}`, 'utf8');
const senderKey = createPrivateKey(pem('AccessPointA.key.pem'));
const senderCert = new X509Certificate(pem('AccessPointA.cert.pem'));
const receiverKey = createPrivateKey(pem('AccessPointB.key.pem'));
const receiverCert = new X509Certificate(pem('AccessPointB.cert.pem'));
const XML = Buffer.from('<?xml version="1.0" encoding="UTF-8"?>\n<doc xmlns="urn:x">  <a>æøå</a>\n</doc>\n');

/** A message as we send one: one XML payload, gzip, signed, encrypted (the access point's order), then parsed back. */
async function ours() {
  const { attachment, partProperties } = compressAttachment(
    {
      contentId: 'payload-1@ehmi.test',
      headers: { 'content-type': 'application/xml; charset=UTF-8' },
      open: () => Readable.from([XML]),
    },
    { mimeType: 'application/xml; charset=UTF-8' },
  );
  const built = buildUserMessage({
    from: { partyIds: [{ value: 'A' }], role: 'urn:r:a' },
    to: { partyIds: [{ value: 'B' }], role: 'urn:r:b' },
    service: { value: 'urn:s' },
    action: 'urn:a',
    payloadInfo: [{ href: `cid:${attachment.contentId}`, partProperties }],
  });
  await signEnvelope(built.document, [attachment], { privateKey: senderKey, certificate: senderCert });
  const encrypted = await encryptAttachments(built.document, [attachment], {
    recipientCertificate: receiverCert,
  });
  const written = writeAs4Message(built.document, encrypted.attachments);
  const mime = await readMimeMessage(Readable.from([await bytesOf(written.body)]), {
    contentType: written.contentType,
    sink: memorySink(),
  });
  const doc = parseXml(mime.envelope, { source: 'ours' });
  return { doc, attachments: mime.attachments as As4Attachment[], partProperties };
}

describe('the form of a sent payload, against phase4 and AS4.NET messages', () => {
  it('EncryptedData/@MimeType is application/gzip for a compressed part, the MIME part octet-stream (phase4 Peppol)', async () => {
    const phase4 = await parse('phase4-peppol-usermessage-signed-encrypted.mime');
    const [theirs] = [...formOf(phase4.doc, phase4.attachments).values()];
    assert.deepEqual(theirs, {
      properties: { MimeType: 'application/xml', CompressionType: 'application/gzip' },
      wireType: 'application/octet-stream',
      encryptedMimeType: 'application/gzip',
    });
    const sent = await ours();
    const [mine] = [...formOf(sent.doc, sent.attachments).values()];
    assert.equal(mine!.encryptedMimeType, theirs!.encryptedMimeType);
    assert.equal(mine!.wireType, theirs!.wireType);
    // phase4's properties, same names and values, plus the RECOMMENDED CharacterSet.
    assert.deepEqual(mine!.properties, { ...theirs!.properties, CharacterSet: 'UTF-8' });
  });

  it('AS4.NET writes the same EncryptedData/@MimeType for each compressed part', async () => {
    for (const name of [
      'as4net/as4-encrypted-compressed-message.as4',
      'as4net/as4-encrypted-signed-issuerserial.as4',
    ]) {
      const v = await parse(name);
      const eds = descendants(v.doc, NS.xenc, 'EncryptedData');
      assert.ok(eds.length >= 2, name);
      for (const ed of eds) {
        assert.equal(ed.getAttribute('MimeType'), 'application/gzip', name);
        assert.equal(ed.getAttribute('Type'), SWA.contentOnly, name);
      }
      for (const a of v.attachments)
        assert.equal(a.headers['content-type'], 'application/octet-stream', name);
    }
    // Where AS4.NET writes PartProperties, a gzip part says CompressionType application/gzip, as ours does.
    const signed = await parse('as4net/as4-encrypted-signed-issuerserial.as4');
    for (const form of formOf(signed.doc, signed.attachments).values()) {
      assert.equal(form.properties.CompressionType, 'application/gzip');
      assert.equal(form.encryptedMimeType, 'application/gzip');
    }
  });

  it('CharacterSet has the name phase4 uses; its value names the same charset', async () => {
    // phase4's own test message (UserMessageWithCompressedPayload12.xml) is not well-formed XML, so the property is
    // read from the text. phase4's sender writes the name `CharacterSet` (MessageHelperMethods.PART_PROPERTY_CHARACTER_SET)
    // and the value `Charset.name()`, i.e. `UTF-8`; its receiver reads the value case-insensitively.
    const text = readFileSync(`${AS4_FIXTURES}phase4-usermessage-compressed-soap12.xml`, 'utf8');
    const m = /<eb:Property name="(CharacterSet)">([^<]*)<\/eb:Property>/.exec(text);
    assert.ok(m, 'the phase4 vector carries a CharacterSet property');
    const sent = await ours();
    const mine = sent.partProperties.find((p) => p.name === m[1]);
    assert.ok(mine, 'our PartProperties carry CharacterSet under the same name');
    assert.equal(mine.value.toLowerCase(), m[2]!.trim().toLowerCase());
  });

  it('received back: the decrypted part is application/gzip again, its digest is over the octets, and it verifies', async () => {
    const sent = await ours();
    const { attachments: plain, dispose } = await decryptAttachments(sent.doc, sent.attachments, {
      privateKey: receiverKey,
    });
    try {
      const gz = plain[0]!;
      assert.equal(gz.headers['content-type'], 'application/gzip');
      // Binary: the content transform hashes the gzip octets as they are (no c14n, no CRLF rewriting).
      const raw = await bytesOf(gz.open());
      const digest = await digestAttachment(gz, SWA.contentSignatureTransform, 'sha256');
      assert.deepEqual(digest, createHash('sha256').update(raw).digest());
      const verified = await verifyEnvelope(sent.doc, plain, { trust: () => true });
      assert.ok(verified.references.some((r) => r.uri === `cid:${gz.contentId}`));
      const part: PartInfo = { href: `cid:${gz.contentId}`, partProperties: sent.partProperties };
      const out = await decompressAttachment(gz, part, { sink: memorySink() });
      assert.equal(out.headers['content-type'], 'application/xml; charset=UTF-8');
      assert.deepEqual(await bytesOf(out.open()), XML);
    } finally {
      await dispose();
    }
  });

  it('received from AS4.NET: the decrypted parts take their type from EncryptedData/@MimeType and verify', async () => {
    // Signed (RSA-SHA384, IssuerSerial) then encrypted (rsa-oaep-mgf1p): outside the 1.15 policy, so `permissive`.
    const v = await parse('as4net/as4-encrypted-signed-issuerserial.as4');
    const { attachments: plain, dispose } = await decryptAttachments(v.doc, v.attachments, {
      privateKey: receiverKey,
      profile: 'permissive',
    });
    try {
      assert.equal(plain.length, 2);
      for (const a of plain) assert.equal(a.headers['content-type'], 'application/gzip');
      const verified = await verifyEnvelope(v.doc, plain, {
        trust: (chain) => chain[0]!.fingerprint256 === senderCert.fingerprint256,
        knownCertificates: [senderCert],
        profile: 'permissive',
      });
      assert.equal(verified.references.filter((r) => r.uri?.startsWith('cid:')).length, 2);
    } finally {
      await dispose();
    }
  });
});

import assert from 'node:assert/strict';
import { createHash, createPrivateKey, verify, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Readable } from 'node:stream';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import { EhmiError } from '@ehmi/errors';
import { ancestorNamespaceDeclarations, type Document, type Element, parseXml } from '@ehmi/xml';
import { ExclusiveCanonicalization } from 'xml-crypto';
import { splitAs4File } from '../../src/check/file.ts';
import { parseMessaging } from '../../src/ebms/parse.ts';
import { readMimeMessage } from '../../src/mime/parse.ts';
import { memorySink } from '../../src/mime/sink.ts';
import type { As4Attachment } from '../../src/model/attachment.ts';
import { createPMode } from '../../src/pmode/profiles.ts';
import { decompressStep } from '../../src/receive/decompress.ts';
import { receiveAs4Message } from '../../src/receive/pipeline.ts';
import { ALG } from '../../src/wss/algorithms.ts';
import { decryptAttachments } from '../../src/wss/decrypt.ts';
import { NS } from '../../src/wss/ns.ts';
import { verifyEnvelope } from '../../src/wss/verify.ts';

/** <repo>/fixtures/as4/as4net/, resolved from this file (packages/as4/test/interop → repo root). */
const AS4NET = fileURLToPath(new URL('../../../../fixtures/as4/as4net/', import.meta.url));

const key = (name: string) => createPrivateKey(readFileSync(AS4NET + name));
const cert = (name: string) => new X509Certificate(readFileSync(AS4NET + name));
const A = cert('AccessPointA.cert.pem');
const B = cert('AccessPointB.cert.pem');
/** The signer must be this very certificate (what `--cert` means to `ehmi as4 verify`). */
const only = (c: X509Certificate) => (chain: X509Certificate[]) =>
  chain[0]!.fingerprint256 === c.fingerprint256;

interface Loaded {
  doc: Document;
  attachments: As4Attachment[];
}

/** A vector as the wire carries it: the file split (no HTTP headers here), MIME read, envelope parsed. */
async function load(name: string, mutate?: (raw: Buffer) => void): Promise<Loaded> {
  const raw = Buffer.from(readFileSync(AS4NET + name));
  mutate?.(raw);
  const { contentType, body } = splitAs4File(raw);
  const mime = await readMimeMessage(Readable.from([body]), { contentType, sink: memorySink() });
  return { doc: parseXml(mime.envelope, { source: name }), attachments: mime.attachments };
}

async function bytesOf(att: As4Attachment): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of att.open()) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/** Content-ID → SHA-256 of the body. */
async function hashes(atts: readonly As4Attachment[]): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const a of atts) out[a.contentId] = sha256(await bytesOf(a));
  return out;
}

/** Flips one octet of the file at the first occurrence of `marker` plus `offset`. */
function flipAt(marker: string, offset = 0) {
  return (raw: Buffer) => {
    const at = raw.indexOf(marker);
    assert.ok(at >= 0, `marker ${marker} not in the file`);
    raw[at + offset]! ^= 0x01;
  };
}

/** Flips one octet in the middle of the body of the MIME part with this Content-ID. */
function flipInPart(contentId: string) {
  return (raw: Buffer) => {
    const header = raw.toString('latin1').toLowerCase().indexOf(`content-id: <${contentId.toLowerCase()}>`);
    assert.ok(header >= 0, `no part ${contentId}`);
    const body = raw.indexOf('\r\n\r\n', header) + 4;
    raw[body + 100]! ^= 0x01;
  };
}

async function rejects(p: Promise<unknown>, ebms: string, reason?: string): Promise<EhmiError> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof EhmiError, String(err));
    assert.equal(err.ebmsCode, ebms, `${err.code}: ${err.message}`);
    if (reason !== undefined) assert.equal(err.details.reason, reason, err.message);
    return err;
  }
  assert.fail(`expected ${ebms}`);
}

/**
 * Expected SHA-256 values, computed once with Python `cryptography` (RSA-OAEP with the MGF named separately,
 * AES-GCM) and `gzip`, independently of this library. The two Holodeck payloads are the same files in
 * as4-encrypted-signed-issuerserial.as4 (encrypted) and signed_holodeck_message.as4 (in the clear); the flower image is
 * the same in as4_encrypted_message and as4-encrypted-compressed-message.as4.
 */
const HOLODECK_JPEG_GZ = 'f4b7702c70321d016469efd9b2584a4d069681864fe60d2cbf7828fe101bbfbe';
const HOLODECK_JPEG = '060364613d88080a698ed6720d1a2288a30fdff223b4fb0cca280d3c3c67e93f';
const HOLODECK_XML_GZ = '70e06fd5cf42545c39d1aee1f1cd1d6c8956964b56abd0abd1b3e2a6d67fc147';
const HOLODECK_XML = 'df3d563a69eef2cc166afde17715eb803399df573737be357f15a64c37995170';
const FLOWER2_JPEG = 'e0db2f28cae1db7513b71dff19a87cd7b71858132af48eda6c4b7358e8ddb464';
const FLOWER_JPEG = 'f66549e18fd9fe2ec2c1c199b68351aa3920e2c257a48867bbc4f159e1e3ea40';
const FLOWER_GZ = 'e594c6b9379c4e275e92b3417a9466cc2678f05156308e821613635796d902b3';
const XMLDOC_GZ = 'f7c234cab1abb241e9cfc7f9bd1eef20b922840467f39608bc31a5404125b60a';
const XMLDOC = 'c5bb2294a9a79594429cc368a8aee9e6485993c8a0887b1080b80a0c9cad6b5b';

const ISSUERSERIAL = 'as4-encrypted-signed-issuerserial.as4';
const IS_JPEG = 'b545c3a0-e57f-46aa-862f-381eb4b7009-291596031@CLT-SMOREELS.mshome.net';
const IS_XML = 'b545c3a0-e57f-46aa-862f-381eb4b7009-1650194442@CLT-SMOREELS.mshome.net';
const HOLODECK = 'signed_holodeck_message.as4';
const HD_JPEG = 'cdcc838c-96ed-414a-b127-0937f5cd654-341439240@CLT-FGHEYSELS.ad.codit.eu';
const HD_XML = 'cdcc838c-96ed-414a-b127-0937f5cd654-445037483@CLT-FGHEYSELS.ad.codit.eu';
const ENCRYPTED = 'as4_encrypted_message';
const COMPRESSED = 'as4-encrypted-compressed-message.as4';

/** Decrypt, verify over the plaintext, decompress per PartInfo: a receiver's whole path, permissive algorithms. */
async function openIssuerSerial(mutate?: (raw: Buffer) => void) {
  const { doc, attachments } = await load(ISSUERSERIAL, mutate);
  const verified = await verifyEnvelope(doc, attachments, {
    trust: only(A),
    knownCertificates: [A],
    profile: 'permissive',
    deferAttachmentDigests: true,
  });
  const dec = await decryptAttachments(doc, attachments, {
    privateKey: key('AccessPointB.key.pem'),
    profile: 'permissive',
    sink: memorySink(),
  });
  return { doc, verified, dec };
}

describe('AS4.NET / Holodeck B2B signed and encrypted vectors (fixtures/as4/as4net, SOURCES-as4-smp.md)', () => {
  it(`${ISSUERSERIAL}: decrypts with AccessPointB (rsa-oaep-mgf1p, SHA-256 digest, MGF1-SHA1), verifies with AccessPointA by IssuerSerial over the plaintext, decompresses`, async () => {
    const { doc, attachments } = await load(ISSUERSERIAL);
    const dec = await decryptAttachments(doc, attachments, {
      privateKey: key('AccessPointB.key.pem'),
      profile: 'permissive',
      sink: memorySink(),
    });
    assert.deepEqual(dec.decrypted.sort(), [IS_JPEG, IS_XML].sort());
    assert.deepEqual(await hashes(dec.attachments), {
      [IS_JPEG]: HOLODECK_JPEG_GZ,
      [IS_XML]: HOLODECK_XML_GZ,
    });
    // EncryptedData/@MimeType restores the type the signature digested (application/gzip: raw octets).
    assert.ok(dec.attachments.every((a) => a.headers['content-type'] === 'application/gzip'));
    const r = await verifyEnvelope(doc, dec.attachments, {
      trust: only(A),
      knownCertificates: [A],
      profile: 'permissive',
    });
    assert.equal(r.tokenReference, 'IssuerSerial');
    assert.equal(r.signatureMethod, ALG.rsaSha384);
    assert.match(r.certificate.subject, /CN=AccessPointA/);
    assert.deepEqual(
      r.references.map((x) => [x.target, x.digestVerified]),
      [
        ['Messaging', true],
        ['Body', true],
        ['attachment', true],
        ['attachment', true],
      ],
    );
    const messaging = parseMessaging(doc.getElementsByTagNameNS(NS.eb, 'Messaging')[0] as Element);
    assert.equal(messaging.kind, 'user');
    if (messaging.kind !== 'user') return;
    const plain = await decompressStep(messaging.userMessage, dec.attachments, memorySink(), {
      maxDecompressedBytes: 10_000_000,
    });
    assert.deepEqual(await hashes(plain), { [IS_JPEG]: HOLODECK_JPEG, [IS_XML]: HOLODECK_XML });
  });

  it(`${ISSUERSERIAL}: verify first (attachment digests deferred), then decrypt, then the digests — the receive order`, async () => {
    const { verified, dec } = await openIssuerSerial();
    assert.deepEqual(
      verified.references.map((r) => r.digestVerified),
      [true, true, false, false],
    );
    const { verifyAttachmentReferences } = await import('../../src/wss/verify.ts');
    await verifyAttachmentReferences(verified, dec.attachments);
    assert.ok(verified.references.every((r) => r.digestVerified));
  });

  it(`${ISSUERSERIAL}: the signer resolves only against the certificate it names (AccessPointB does not match)`, async () => {
    const { doc, attachments } = await load(ISSUERSERIAL);
    await rejects(
      verifyEnvelope(doc, attachments, {
        trust: () => true,
        knownCertificates: [B],
        profile: 'permissive',
        deferAttachmentDigests: true,
      }),
      'EBMS:0101',
      'key-info',
    );
  });

  it(`${ISSUERSERIAL}: EBMS:0102 for a flipped ciphertext octet (the AES-GCM tag), and for a flipped wrapped key`, async () => {
    for (const mutate of [flipInPart(IS_JPEG), flipInPart(IS_XML), flipAt('<xenc:CipherValue>GD6q', 30)]) {
      const { doc, attachments } = await load(ISSUERSERIAL, mutate);
      await rejects(
        decryptAttachments(doc, attachments, {
          privateKey: key('AccessPointB.key.pem'),
          profile: 'permissive',
          sink: memorySink(),
        }),
        'EBMS:0102',
        'tag',
      );
    }
  });

  it(`${ISSUERSERIAL}: EBMS:0101 for a flipped octet in eb:Messaging, in the SignatureValue`, async () => {
    await rejects(openIssuerSerial(flipAt('org:holodeckb2b:test:conversation', 5)), 'EBMS:0101', 'digest');
    await rejects(openIssuerSerial(flipAt('<ds:SignatureValue>sC7O', 40)), 'EBMS:0101', 'signature-value');
  });

  it(`${ISSUERSERIAL}: under the eDelivery AS4 1.15 profile (an access point's P-Mode) RSA-SHA384 and rsa-oaep-mgf1p are EBMS:0103`, async () => {
    const { doc, attachments } = await load(ISSUERSERIAL);
    const err = await rejects(
      verifyEnvelope(doc, attachments, {
        trust: () => true,
        knownCertificates: [A],
        deferAttachmentDigests: true,
      }),
      'EBMS:0103',
    );
    assert.equal(err.details.algorithm, ALG.rsaSha384);
    const dec = await rejects(
      decryptAttachments(doc, attachments, {
        privateKey: key('AccessPointB.key.pem'),
        profile: 'edelivery-1.15',
        sink: memorySink(),
      }),
      'EBMS:0103',
    );
    assert.equal(dec.details.algorithm, ALG.rsaOaepMgf1p);
    // The default decryption policy (both eDelivery profiles) refuses it too.
    await rejects(
      decryptAttachments(doc, attachments, { privateKey: key('AccessPointB.key.pem'), sink: memorySink() }),
      'EBMS:0103',
    );
  });

  it(`${ENCRYPTED}: decrypts with partyC (rsa-oaep-mgf1p, AES-128-GCM), image/jpeg restored, flower2.jpg hash`, async () => {
    const { doc, attachments } = await load(ENCRYPTED);
    const dec = await decryptAttachments(doc, attachments, {
      privateKey: key('partyC.key.pem'),
      certificate: readFileSync(`${AS4NET}partyC.cert.pem`, 'utf8'),
      profile: 'permissive',
      sink: memorySink(),
    });
    assert.deepEqual(await hashes(dec.attachments), {
      '30392f3c-bc9c-4a1f-ba5e-5d4d81382ee-1427821804@CLT-SNEIRINCK': FLOWER_JPEG,
      '30392f3c-bc9c-4a1f-ba5e-5d4d81382ee-1136335733@CLT-SNEIRINCK': FLOWER2_JPEG,
    });
    assert.deepEqual(
      dec.attachments.map((a) => [a.headers['content-type'], a.size]),
      [
        ['image/jpeg', 290403],
        ['image/jpeg', 3342844],
      ],
    );
    // Encrypted only: no signature, which a receiver refuses.
    await rejects(
      verifyEnvelope(doc, dec.attachments, { trust: () => true, profile: 'permissive' }),
      'EBMS:0103',
      'unsigned',
    );
  });

  it(`${ENCRYPTED}: EBMS:0102 for a flipped ciphertext octet; the EncryptedKey names partyC, not AccessPointB`, async () => {
    const { doc, attachments } = await load(
      ENCRYPTED,
      flipInPart('30392f3c-bc9c-4a1f-ba5e-5d4d81382ee-1136335733@CLT-SNEIRINCK'),
    );
    await rejects(
      decryptAttachments(doc, attachments, {
        privateKey: key('partyC.key.pem'),
        profile: 'permissive',
        sink: memorySink(),
      }),
      'EBMS:0102',
      'tag',
    );
    const clean = await load(ENCRYPTED);
    await rejects(
      decryptAttachments(clean.doc, clean.attachments, {
        privateKey: key('AccessPointB.key.pem'),
        certificate: B,
        profile: 'permissive',
        sink: memorySink(),
      }),
      'EBMS:0102',
      'recipient',
    );
  });

  it(`${COMPRESSED}: xmlenc11#rsa-oaep (SHA-256 digest, default MGF1-SHA1), gzip plaintext restored as application/gzip`, async () => {
    const { doc, attachments } = await load(COMPRESSED);
    const dec = await decryptAttachments(doc, attachments, {
      privateKey: key('partyC.key.pem'),
      profile: 'permissive',
      sink: memorySink(),
    });
    assert.deepEqual(await hashes(dec.attachments), { flower: FLOWER_GZ, xmldoc: XMLDOC_GZ });
    assert.deepEqual(
      dec.attachments.map((a) => [a.contentId, a.headers['content-type'], a.size]),
      [
        ['flower', 'application/gzip', 290161],
        ['xmldoc', 'application/gzip', 86],
      ],
    );
    // Its PartInfo elements carry no CompressionType, so a receiver hands the gzip on as it is; unzipped, the parts
    // are the flower image of as4_encrypted_message and a 63-octet XML document.
    const [flower, xmldoc] = await Promise.all(dec.attachments.map(bytesOf));
    assert.equal(sha256(gunzipSync(flower!)), FLOWER_JPEG);
    assert.equal(sha256(gunzipSync(xmldoc!)), XMLDOC);
    assert.equal(gunzipSync(xmldoc!).length, 63);
  });

  it(`${COMPRESSED}: EBMS:0102 for a flipped ciphertext octet`, async () => {
    const { doc, attachments } = await load(COMPRESSED, flipInPart('flower'));
    await rejects(
      decryptAttachments(doc, attachments, {
        privateKey: key('partyC.key.pem'),
        profile: 'permissive',
        sink: memorySink(),
      }),
      'EBMS:0102',
      'tag',
    );
  });

  it(`${HOLODECK}: RSA-SHA384 with a SubjectKeyIdentifier reference verifies with AccessPointB; the gzip parts decompress`, async () => {
    const { doc, attachments } = await load(HOLODECK);
    const r = await verifyEnvelope(doc, attachments, {
      trust: only(B),
      knownCertificates: [B],
      profile: 'permissive',
    });
    assert.equal(r.tokenReference, 'SKI');
    assert.equal(r.signatureMethod, ALG.rsaSha384);
    assert.ok(r.references.every((x) => x.digestVerified));
    assert.deepEqual(await hashes(attachments), { [HD_JPEG]: HOLODECK_JPEG_GZ, [HD_XML]: HOLODECK_XML_GZ });
    const messaging = parseMessaging(doc.getElementsByTagNameNS(NS.eb, 'Messaging')[0] as Element);
    if (messaging.kind !== 'user') assert.fail('a UserMessage');
    const plain = await decompressStep(messaging.userMessage, attachments, memorySink(), {
      maxDecompressedBytes: 10_000_000,
    });
    assert.deepEqual(await hashes(plain), { [HD_JPEG]: HOLODECK_JPEG, [HD_XML]: HOLODECK_XML });
  });

  it(`${HOLODECK}: EBMS:0101 for a flipped attachment octet, an unknown SKI (AccessPointA only)`, async () => {
    const flipped = await load(HOLODECK, flipInPart(HD_XML));
    await rejects(
      verifyEnvelope(flipped.doc, flipped.attachments, {
        trust: only(B),
        knownCertificates: [B],
        profile: 'permissive',
      }),
      'EBMS:0101',
      'digest',
    );
    const { doc, attachments } = await load(HOLODECK);
    await rejects(
      verifyEnvelope(doc, attachments, { trust: () => true, knownCertificates: [A], profile: 'permissive' }),
      'EBMS:0101',
      'key-info',
    );
  });

  it('as4-soap-signed-message.txt and as4-multihop-message.as4 verify with their embedded token', async () => {
    for (const name of ['as4-soap-signed-message.txt', 'as4-multihop-message.as4']) {
      const { doc, attachments } = await load(name);
      const r = await verifyEnvelope(doc, attachments, { trust: () => true, profile: 'permissive' });
      assert.equal(r.tokenReference, 'BinarySecurityToken', name);
      assert.deepEqual(
        r.references.map((x) => x.target),
        ['Messaging', 'Body'],
        name,
      );
    }
  });
});

describe('the receive pipeline keeps to its P-Mode: permissive algorithms only where asked for', () => {
  const pmode = (permissiveEncryption = false) => {
    const p = createPMode({
      id: 'holodeck-test',
      service: { value: 'Test', type: 'org:holodeckb2b:services' },
      action: 'StoreMessage',
      fourCorner: false,
    });
    if (permissiveEncryption) p.leg.security.x509.encryption.required = false;
    return p;
  };
  const receive = async (verify: Parameters<typeof receiveAs4Message>[1]['verify'], p = pmode()) => {
    const { contentType, body } = splitAs4File(readFileSync(AS4NET + HOLODECK));
    return receiveAs4Message(Readable.from([body]), {
      contentType,
      sink: memorySink(),
      selectPMode: () => p,
      verify,
    });
  };

  it('an eDelivery AS4 1.15 P-Mode refuses the RSA-SHA384 Holodeck message with EBMS:0103', async () => {
    const err = await rejects(receive({ trust: only(B), knownCertificates: [B] }), 'EBMS:0103');
    assert.equal(err.details.algorithm, ALG.rsaSha384);
  });

  it('the same message passes the pipeline when the caller chooses the permissive profile (and no encryption)', async () => {
    const rx = await receive({ trust: only(B), knownCertificates: [B], profile: 'permissive' }, pmode(true));
    try {
      assert.equal(rx.kind, 'user');
      if (rx.kind !== 'user') return;
      assert.deepEqual(await hashes(rx.payloads), { [HD_JPEG]: HOLODECK_JPEG, [HD_XML]: HOLODECK_XML });
    } finally {
      await rx.dispose();
    }
  });
});

/** xml-crypto's Exc-C14N (namespace order corrected to code points, as in c14n.test.ts): not our canonicaliser. */
class XmlCryptoC14n extends ExclusiveCanonicalization {
  override nsCompare(a: { prefix: string }, b: { prefix: string }): number {
    return a.prefix < b.prefix ? -1 : a.prefix > b.prefix ? 1 : 0;
  }
}

function otherC14n(el: Element, inclusive: string[]): string {
  return new XmlCryptoC14n().process(el as never, {
    inclusiveNamespacesPrefixList: inclusive.length > 0 ? inclusive : ['-none-'],
    ancestorNamespaces: ancestorNamespaceDeclarations(el).filter((n) => n.prefix !== ''),
    defaultNs: '',
  });
}

describe('the same verdicts from other code: xml-crypto canonicalises, node:crypto verifies, attachments hashed directly', () => {
  const prefixes = (el: Element | undefined) =>
    (
      el
        ?.getElementsByTagNameNS('http://www.w3.org/2001/10/xml-exc-c14n#', 'InclusiveNamespaces')[0]
        ?.getAttribute('PrefixList') ?? ''
    )
      .split(/\s+/)
      .filter(Boolean);

  async function independentlyValid(name: string, signer: X509Certificate, bodies: Record<string, Buffer>) {
    const { doc } = await load(name);
    const si = doc.getElementsByTagNameNS(NS.ds, 'SignedInfo')[0] as Element;
    const c14nMethod = si.getElementsByTagNameNS(NS.ds, 'CanonicalizationMethod')[0] as Element;
    const sigValue = Buffer.from(
      doc.getElementsByTagNameNS(NS.ds, 'SignatureValue')[0]!.textContent!.replace(/\s+/g, ''),
      'base64',
    );
    assert.ok(
      verify('sha384', Buffer.from(otherC14n(si, prefixes(c14nMethod))), signer.publicKey, sigValue),
      name,
    );
    const byId = new Map<string, Element>();
    for (const el of Array.from(doc.getElementsByTagName('*')) as Element[]) {
      const id = el.getAttributeNS(NS.wsu, 'Id');
      if (id) byId.set(id, el);
    }
    for (const ref of Array.from(si.getElementsByTagNameNS(NS.ds, 'Reference')) as Element[]) {
      const uri = ref.getAttribute('URI')!;
      const want = ref.getElementsByTagNameNS(NS.ds, 'DigestValue')[0]!.textContent!.trim();
      const transform = ref.getElementsByTagNameNS(NS.ds, 'Transform')[0] as Element;
      const bytes = uri.startsWith('cid:')
        ? bodies[uri.slice(4)]!
        : Buffer.from(otherC14n(byId.get(uri.slice(1))!, prefixes(transform)));
      assert.equal(createHash('sha256').update(bytes).digest('base64'), want, `${name} ${uri}`);
    }
  }

  it(`${HOLODECK}: SignatureValue (RSA-SHA384) and all four digests`, async () => {
    const { attachments } = await load(HOLODECK);
    const bodies = Object.fromEntries(
      await Promise.all(attachments.map(async (a) => [a.contentId, await bytesOf(a)])),
    );
    await independentlyValid(HOLODECK, B, bodies);
  });

  it(`${ISSUERSERIAL}: SignatureValue (RSA-SHA384) and all four digests, the cid: ones over the gzip plaintext`, async () => {
    // The plaintext of the encrypted parts is the Holodeck message's gzip bodies, byte for byte.
    const { attachments } = await load(HOLODECK);
    const gz = Object.fromEntries(
      await Promise.all(attachments.map(async (a) => [a.contentId, await bytesOf(a)] as const)),
    );
    assert.equal(sha256(gz[HD_JPEG]!), HOLODECK_JPEG_GZ);
    await independentlyValid(ISSUERSERIAL, A, { [IS_JPEG]: gz[HD_JPEG]!, [IS_XML]: gz[HD_XML]! });
  });
});

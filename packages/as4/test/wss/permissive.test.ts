import assert from 'node:assert/strict';
import {
  constants,
  createCipheriv,
  createHash,
  type KeyObject,
  publicEncrypt,
  randomBytes,
  sign,
} from 'node:crypto';
import { describe, it } from 'node:test';
import { type Document, type Element, excC14n, parseXml } from '@ehmi/xml';
import { memorySink } from '../../src/mime/sink.ts';
import { ALG, type HashName, PROFILES } from '../../src/wss/algorithms.ts';
import { digestAttachment } from '../../src/wss/attachment-digest.ts';
import { decryptAttachments } from '../../src/wss/decrypt.ts';
import { buildIdMap } from '../../src/wss/ids.ts';
import { NS, SWA } from '../../src/wss/ns.ts';
import { inclusivePrefixesOf } from '../../src/wss/references.ts';
import { decodeOaep, rsaOaepDecrypt } from '../../src/wss/rsa-oaep.ts';
import { signEnvelope } from '../../src/wss/sign.ts';
import { verifyEnvelope } from '../../src/wss/verify.ts';
import {
  memoryAttachment,
  readAll,
  rejectsWith,
  reparse,
  testPki,
  trustRoot,
  userMessageXml,
} from './helpers.ts';

const BODY = Buffer.from('<Bundle xmlns="http://hl7.org/fhir"><id value="1"/></Bundle>');
const payload = () =>
  memoryAttachment('payload-1@test', BODY, { 'content-type': 'application/octet-stream' });

const first = (doc: Document, ns: string, name: string) => doc.getElementsByTagNameNS(ns, name)[0] as Element;

/**
 * Signs with our signer, then moves the signature to another SignatureMethod and DigestMethod: every digest is
 * computed again and SignedInfo signed again, as another implementation would have produced it.
 */
async function signedWith(
  method: string,
  digest: string,
  signWith: (data: Buffer, key: KeyObject) => Buffer,
  party: 'rsa' | 'ecdsa' = 'rsa',
): Promise<{ doc: Document; trust: ReturnType<typeof trustRoot> }> {
  const pki = await testPki();
  const doc = parseXml(userMessageXml());
  await signEnvelope(doc, [payload()], { privateKey: pki[party].key, certificate: pki[party].certificate });
  const d = reparse(doc);
  const ids = buildIdMap(d);
  const hash = { [ALG.sha384]: 'sha384', [ALG.sha512]: 'sha512', [ALG.sha224]: 'sha224' }[digest] as HashName;
  for (const ref of Array.from(d.getElementsByTagNameNS(NS.ds, 'Reference')) as Element[]) {
    first(ref as unknown as Document, NS.ds, 'DigestMethod').setAttribute('Algorithm', digest);
    const uri = ref.getAttribute('URI')!;
    const transform = first(ref as unknown as Document, NS.ds, 'Transform');
    const value = uri.startsWith('cid:')
      ? await digestAttachment(payload(), transform.getAttribute('Algorithm')!, hash)
      : createHash(hash)
          .update(
            excC14n(ids.get(uri.slice(1))!, { inclusivePrefixes: inclusivePrefixesOf(transform) ?? [] }),
            'utf8',
          )
          .digest();
    first(ref as unknown as Document, NS.ds, 'DigestValue').textContent = value.toString('base64');
  }
  first(d, NS.ds, 'SignatureMethod').setAttribute('Algorithm', method);
  const si = first(d, NS.ds, 'SignedInfo');
  const c14n = first(d, NS.ds, 'CanonicalizationMethod');
  const bytes = Buffer.from(excC14n(si, { inclusivePrefixes: inclusivePrefixesOf(c14n) ?? [] }), 'utf8');
  first(d, NS.ds, 'SignatureValue').textContent = signWith(bytes, pki[party].key).toString('base64');
  return { doc: reparse(d), trust: trustRoot(pki.root) };
}

describe('the permissive algorithm profile (what WSS4J accepts), for checking other implementations', () => {
  const cases: [string, string, string, (data: Buffer, key: KeyObject) => Buffer, ('rsa' | 'ecdsa')?][] = [
    ['RSA-SHA384 / SHA-384', ALG.rsaSha384, ALG.sha384, (d, k) => sign('sha384', d, k)],
    ['RSA-SHA512 / SHA-512', ALG.rsaSha512, ALG.sha512, (d, k) => sign('sha512', d, k)],
    ['RSA-SHA224 / SHA-224', ALG.rsaSha224, ALG.sha224, (d, k) => sign('sha224', d, k)],
    [
      'RSASSA-PSS SHA-256 / SHA-512',
      ALG.rsaPssSha256,
      ALG.sha512,
      (d, k) => sign('sha256', d, { key: k, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 }),
    ],
    [
      'RSASSA-PSS SHA-512 / SHA-384',
      ALG.rsaPssSha512,
      ALG.sha384,
      (d, k) => sign('sha512', d, { key: k, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 64 }),
    ],
    [
      'ECDSA-SHA384 (P-256) / SHA-384',
      ALG.ecdsaSha384,
      ALG.sha384,
      (d, k) => sign('sha384', d, { key: k, dsaEncoding: 'ieee-p1363' }),
      'ecdsa',
    ],
  ];
  for (const [name, method, digest, signer, party] of cases) {
    it(`${name}: verifies under 'permissive', EBMS:0103 under eDelivery AS4 1.15 and 2.0`, async () => {
      const { doc, trust } = await signedWith(method, digest, signer, party);
      const r = await verifyEnvelope(doc, [payload()], { trust, profile: 'permissive' });
      assert.equal(r.signatureMethod, method);
      assert.ok(r.references.every((x) => x.digestMethod === digest && x.digestVerified));
      for (const profile of ['edelivery-1.15', 'edelivery-2.0'] as const) {
        await rejectsWith(verifyEnvelope(doc, [payload()], { trust, profile }), 'EBMS:0103');
      }
    });
  }

  it('EBMS:0101 when a SHA-512 digest or an RSA-SHA512 SignatureValue is wrong', async () => {
    const { doc, trust } = await signedWith(ALG.rsaSha512, ALG.sha512, (d, k) => sign('sha512', d, k));
    const tampered = memoryAttachment('payload-1@test', Buffer.concat([BODY, Buffer.from(' ')]));
    await rejectsWith(
      verifyEnvelope(doc, [tampered], { trust, profile: 'permissive' }),
      'EBMS:0101',
      'digest',
    );
    // The right key, the wrong hash: a SHA-256 signature presented as RSA-SHA512.
    const bad = await signedWith(ALG.rsaSha512, ALG.sha512, (d, k) => sign('sha256', d, k));
    await rejectsWith(
      verifyEnvelope(bad.doc, [payload()], { trust: bad.trust, profile: 'permissive' }),
      'EBMS:0101',
      'signature-value',
    );
  });

  it('an access point profile lists exactly the eDelivery AS4 algorithms', () => {
    assert.deepEqual(PROFILES['edelivery-1.15'].keyTransport, [ALG.rsaOaep]);
    assert.deepEqual(PROFILES['edelivery-1.15'].oaep, { digest: [ALG.sha256], mgf: [ALG.mgf1sha256] });
    assert.deepEqual(PROFILES['edelivery-1.15'].signature, [ALG.rsaSha256]);
    assert.ok(PROFILES.permissive.keyTransport.includes(ALG.rsaOaepMgf1p));
  });
});

/** EME-OAEP encoding (RFC 8017 §7.1.1), written out here so the decoder is tested against a second implementation. */
function oaepEncode(
  m: Buffer,
  k: number,
  hash: HashName,
  mgfHash: HashName,
  label = Buffer.alloc(0),
): Buffer {
  const lHash = createHash(hash).update(label).digest();
  const hLen = lHash.length;
  const db = Buffer.concat([lHash, Buffer.alloc(k - m.length - 2 * hLen - 2), Buffer.from([1]), m]);
  const seed = randomBytes(hLen);
  const mgf = (s: Buffer, len: number) => {
    const out: Buffer[] = [];
    for (let c = 0; Buffer.concat(out).length < len; c++) {
      const ctr = Buffer.alloc(4);
      ctr.writeUInt32BE(c);
      out.push(createHash(mgfHash).update(s).update(ctr).digest());
    }
    return Buffer.concat(out).subarray(0, len);
  };
  const maskedDb = Buffer.from(db.map((b, i) => b ^ mgf(seed, db.length)[i]!));
  const maskedSeed = Buffer.from(seed.map((b, i) => b ^ mgf(maskedDb, hLen)[i]!));
  return Buffer.concat([Buffer.from([0]), maskedSeed, maskedDb]);
}

describe('RSA-OAEP with the digest and the MGF chosen separately (XML Encryption 1.1 §5.5.2)', () => {
  const combos: [HashName, HashName][] = [
    ['sha256', 'sha1'],
    ['sha1', 'sha256'],
    ['sha384', 'sha512'],
    ['sha512', 'sha224'],
    ['sha256', 'sha256'],
    ['sha1', 'sha1'],
    ['sha224', 'sha224'],
  ];
  for (const [hash, mgf] of combos) {
    it(`digest ${hash}, MGF1-${mgf}: decodes, with and without a label`, async () => {
      const pki = await testPki();
      const cek = randomBytes(16);
      for (const label of [Buffer.alloc(0), Buffer.from('label')]) {
        const em = oaepEncode(cek, 256, hash, mgf, label);
        const c = publicEncrypt(
          { key: pki.rsa.certificate.publicKey, padding: constants.RSA_NO_PADDING },
          em,
        );
        assert.deepEqual(await rsaOaepDecrypt(pki.rsa.key, c, hash, mgf, label), cek);
        assert.equal(await rsaOaepDecrypt(pki.rsa.key, c, hash, mgf, Buffer.from('other')), undefined);
      }
    });
  }

  it('a damaged encoding yields no key (and no exception): Y, lHash, the 0x01 separator', () => {
    const cek = randomBytes(16);
    const em = oaepEncode(cek, 256, 'sha256', 'sha1');
    assert.deepEqual(decodeOaep(em, 256, 'sha256', 'sha1', Buffer.alloc(0)), cek);
    const y = Buffer.from(em);
    y[0] = 1;
    assert.equal(decodeOaep(y, 256, 'sha256', 'sha1', Buffer.alloc(0)), undefined);
    for (let i = 1; i < 256; i += 17) {
      const bad = Buffer.from(em);
      bad[i]! ^= 0x80;
      assert.equal(decodeOaep(bad, 256, 'sha256', 'sha1', Buffer.alloc(0)), undefined, `octet ${i}`);
    }
    assert.equal(decodeOaep(em, 256, 'sha256', 'sha256', Buffer.alloc(0)), undefined);
  });
});

interface Crafted {
  dataAlg: string;
  type?: string;
  keyTransport?: { alg: string; digest?: string; mgf?: string; hash: HashName; mgfHash: HashName };
  /** Plaintext as the sender encrypts it (for Attachment-Complete: MIME headers, CRLF, content). */
  plaintext: Buffer;
  mimeType?: string;
  mutate?: (wire: Buffer) => void;
}

/** An envelope with one EncryptedKey and one EncryptedData over `cid:p1@test`, made here byte by byte. */
async function crafted(c: Crafted) {
  const pki = await testPki();
  const keyBytes = /aes256/.test(c.dataAlg) ? 32 : /aes192/.test(c.dataAlg) ? 24 : 16;
  const gcm = c.dataAlg.includes('gcm');
  const cek = randomBytes(keyBytes);
  const iv = randomBytes(gcm ? 12 : 16);
  const cipher = createCipheriv(`aes-${keyBytes * 8}-${gcm ? 'gcm' : 'cbc'}`, cek, iv);
  let plain = c.plaintext;
  if (!gcm) {
    // XML Encryption 1.1 §5.2: arbitrary padding octets, the last one counting them.
    const pad = 16 - (plain.length % 16);
    plain = Buffer.concat([plain, randomBytes(pad - 1), Buffer.from([pad])]);
    cipher.setAutoPadding(false);
  }
  const parts: Buffer[] = [iv, cipher.update(plain), cipher.final()];
  if (gcm) parts.push((cipher as ReturnType<typeof createCipheriv> & { getAuthTag(): Buffer }).getAuthTag());
  const wire = Buffer.concat(parts);
  c.mutate?.(wire);
  const kt = c.keyTransport ?? {
    alg: ALG.rsaOaep,
    digest: ALG.sha256,
    mgf: ALG.mgf1sha256,
    hash: 'sha256',
    mgfHash: 'sha256',
  };
  const em = oaepEncode(cek, 256, kt.hash, kt.mgfHash);
  const wrapped = publicEncrypt(
    { key: pki.rsa.certificate.publicKey, padding: constants.RSA_NO_PADDING },
    em,
  );
  const ds = `xmlns:ds="${NS.ds}"`;
  const xml =
    `<S12:Envelope xmlns:S12="${NS.soap12}"><S12:Header>` +
    `<wsse:Security xmlns:wsse="${NS.wsse}" xmlns:xenc="${NS.xenc}">` +
    `<xenc:EncryptedKey Id="EK-1"><xenc:EncryptionMethod Algorithm="${kt.alg}">` +
    (kt.digest ? `<ds:DigestMethod ${ds} Algorithm="${kt.digest}"/>` : '') +
    (kt.mgf ? `<xenc11:MGF xmlns:xenc11="${NS.xenc11}" Algorithm="${kt.mgf}"/>` : '') +
    `</xenc:EncryptionMethod><ds:KeyInfo ${ds}><wsse:SecurityTokenReference><wsse:KeyIdentifier ValueType="x">AA==</wsse:KeyIdentifier></wsse:SecurityTokenReference></ds:KeyInfo>` +
    `<xenc:CipherData><xenc:CipherValue>${wrapped.toString('base64')}</xenc:CipherValue></xenc:CipherData>` +
    '<xenc:ReferenceList><xenc:DataReference URI="#ED-1"/></xenc:ReferenceList></xenc:EncryptedKey>' +
    `<xenc:EncryptedData Id="ED-1" Type="${c.type ?? SWA.contentOnly}"${c.mimeType ? ` MimeType="${c.mimeType}"` : ''}>` +
    `<xenc:EncryptionMethod Algorithm="${c.dataAlg}"/><xenc:CipherData><xenc:CipherReference URI="cid:p1@test">` +
    `<xenc:Transforms><ds:Transform ${ds} Algorithm="${SWA.ciphertextTransform}"/></xenc:Transforms>` +
    '</xenc:CipherReference></xenc:CipherData></xenc:EncryptedData></wsse:Security>' +
    userMessageXml().replace(/^.*<S12:Header>/s, '');
  const doc = parseXml(xml);
  const attachment = memoryAttachment('p1@test', wire, {
    'content-type': 'application/octet-stream',
    'content-id': '<p1@test>',
  });
  return { doc, attachment, key: pki.rsa.key };
}

describe('decryption beyond eDelivery AS4 1.15: AES-192/256-GCM, AES-CBC, Attachment-Complete', () => {
  const TEXT = Buffer.from('0123456789abcdef'.repeat(40)); // a whole number of blocks: CBC pads a full block

  for (const dataAlg of [ALG.aes192Gcm, ALG.aes256Gcm, ALG.aes128Cbc, ALG.aes256Cbc]) {
    it(`${dataAlg.split('#')[1]}: decrypts under 'permissive', EBMS:0103 under eDelivery AS4 1.15`, async () => {
      const { doc, attachment, key } = await crafted({ dataAlg, plaintext: TEXT, mimeType: 'text/plain' });
      const dec = await decryptAttachments(doc, [attachment], {
        privateKey: key,
        profile: 'permissive',
        sink: memorySink(),
      });
      assert.deepEqual(await readAll(dec.attachments[0]!), TEXT);
      assert.equal(dec.attachments[0]!.headers['content-type'], 'text/plain');
      await rejectsWith(
        decryptAttachments(doc, [attachment], {
          privateKey: key,
          profile: 'edelivery-1.15',
          sink: memorySink(),
        }),
        'EBMS:0103',
      );
    });
  }

  it('AES-CBC: EBMS:0102 when the padding octet is out of range (flipped in the previous ciphertext block)', async () => {
    const { doc, attachment, key } = await crafted({
      dataAlg: ALG.aes128Cbc,
      plaintext: TEXT,
      mutate: (wire) => {
        wire[wire.length - 17]! ^= 0x01; // pad 16 → 17
      },
    });
    await rejectsWith(
      decryptAttachments(doc, [attachment], { privateKey: key, profile: 'permissive', sink: memorySink() }),
      'EBMS:0102',
      'padding',
    );
  });

  it('Attachment-Complete: the decrypted MIME headers replace the outer ones, Content-ID kept', async () => {
    const plaintext = Buffer.from(
      'Content-Type: application/xml; charset=UTF-8\r\nContent-Description: a\r\n  folded description\r\n\r\n<a/>',
    );
    const { doc, attachment, key } = await crafted({ dataAlg: ALG.aes128Gcm, type: SWA.complete, plaintext });
    const dec = await decryptAttachments(doc, [attachment], {
      privateKey: key,
      profile: 'permissive',
      sink: memorySink(),
    });
    const att = dec.attachments[0]!;
    assert.equal((await readAll(att)).toString(), '<a/>');
    assert.equal(att.size, 4);
    assert.deepEqual(att.headers, {
      'content-type': 'application/xml; charset=UTF-8',
      'content-description': 'a folded description',
      'content-id': '<p1@test>',
    });
  });

  it('Attachment-Complete: EBMS:0102 when the plaintext has no end of headers', async () => {
    const { doc, attachment, key } = await crafted({
      dataAlg: ALG.aes128Gcm,
      type: SWA.complete,
      plaintext: Buffer.from('Content-Type: text/plain\r\nno blank line'),
    });
    await rejectsWith(
      decryptAttachments(doc, [attachment], { privateKey: key, profile: 'permissive', sink: memorySink() }),
      'EBMS:0102',
      'headers',
    );
  });

  it('Attachment-Complete is refused under eDelivery AS4 1.15 (EncryptedData/@Type is not signed: a sender could switch it)', async () => {
    const { doc, attachment, key } = await crafted({
      dataAlg: ALG.aes128Gcm,
      type: SWA.complete,
      plaintext: Buffer.from('Content-Type: text/plain\r\n\r\nhello'),
    });
    await rejectsWith(
      decryptAttachments(doc, [attachment], {
        privateKey: key,
        profile: 'edelivery-1.15',
        sink: memorySink(),
      }),
      'EBMS:0102',
      'type',
    );
  });

  it('Attachment-Complete: flipped ciphertext fails at the tag, whatever the flip makes of the headers (no format oracle)', async () => {
    const plaintext = Buffer.from('Content-Type: text/plain\r\n\r\nhello');
    // Flips that turn the decrypted headers malformed, endless, or still well-formed: GCM is a counter mode, so a
    // flipped ciphertext octet flips the same plaintext octet (after the 12-octet IV).
    const flip = (offset: number, from: string, to: string) => (wire: Buffer) => {
      wire[12 + offset]! ^= from.charCodeAt(0) ^ to.charCodeAt(0);
    };
    const flips: [string, (wire: Buffer) => void][] = [
      ['a malformed header line', flip(12, ':', 'x')],
      ['no end of headers', flip(26, '\r', ' ')],
      ['still well-formed', flip(16, 't', 'T')],
    ];
    for (const [name, mutate] of flips) {
      const { doc, attachment, key } = await crafted({
        dataAlg: ALG.aes128Gcm,
        type: SWA.complete,
        plaintext,
        mutate,
      });
      await rejectsWith(
        decryptAttachments(doc, [attachment], { privateKey: key, profile: 'permissive', sink: memorySink() }),
        'EBMS:0102',
        'tag',
      ).catch((err: unknown) => {
        throw new Error(`${name}: ${(err as Error).message}`);
      });
    }
  });

  it('rsa-oaep-mgf1p and xmlenc11#rsa-oaep with mixed digest and MGF, as the policy allows them', async () => {
    const combos = [
      { alg: ALG.rsaOaepMgf1p, digest: ALG.sha256, hash: 'sha256', mgfHash: 'sha1' },
      { alg: ALG.rsaOaepMgf1p, hash: 'sha1', mgfHash: 'sha1' },
      { alg: ALG.rsaOaep, digest: ALG.sha512, mgf: ALG.mgf1sha384, hash: 'sha512', mgfHash: 'sha384' },
      { alg: ALG.rsaOaep, digest: ALG.sha256, hash: 'sha256', mgfHash: 'sha1' },
    ] as const;
    for (const keyTransport of combos) {
      const { doc, attachment, key } = await crafted({
        dataAlg: ALG.aes128Gcm,
        plaintext: TEXT,
        keyTransport,
      });
      const dec = await decryptAttachments(doc, [attachment], {
        privateKey: key,
        profile: 'permissive',
        sink: memorySink(),
      });
      assert.deepEqual(await readAll(dec.attachments[0]!), TEXT);
      await rejectsWith(
        decryptAttachments(doc, [attachment], {
          privateKey: key,
          profile: 'edelivery-1.15',
          sink: memorySink(),
        }),
        'EBMS:0103',
      );
    }
  });
});

import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { addTimestamp, signEnvelope } from '@ehmi/as4';
import { createCertificateAuthority, issueCertificate } from '@ehmi/pki';
import { parseXml, serializeXml } from '@ehmi/xml';
import { FIXTURES, runEhmi } from './helpers.ts';

const AS4 = `${FIXTURES}as4/`;
const NET = `${AS4}as4net/`;
const ISSUERSERIAL = `${NET}as4-encrypted-signed-issuerserial.as4`;
const HOLODECK = `${NET}signed_holodeck_message.as4`;
const ehmi = (...argv: string[]) => runEhmi(argv);

function tempDir(): string {
  return mkdtempSync(join(tmpdir(), 'ehmi-as4-cli-'));
}

/** A copy of a vector with one octet flipped at `marker` + `offset` (a negative marker position fails the test). */
function tampered(file: string, at: (raw: Buffer) => number): string {
  const raw = Buffer.from(readFileSync(file));
  const i = at(raw);
  assert.ok(i >= 0 && i < raw.length);
  raw[i]! ^= 0x01;
  const out = join(tempDir(), 'tampered.as4');
  writeFileSync(out, raw);
  return out;
}

/** Offset of the middle of the MIME part body with this Content-ID. */
function inPart(contentId: string) {
  return (raw: Buffer) => {
    const h = raw.toString('latin1').toLowerCase().indexOf(`content-id: <${contentId.toLowerCase()}>`);
    assert.ok(h >= 0, contentId);
    return raw.indexOf('\r\n\r\n', h) + 4 + 100;
  };
}

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

describe('ehmi as4 verify', () => {
  it('exit 0 and "valid" for the phase4 receipt from POP000306 (HTTP headers on top)', async () => {
    const r = await ehmi('as4', 'verify', `${AS4}phase4-receipt-helger-POP000306.as4in`);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.equal(r.stdout.split('\n')[0], 'valid');
    assert.match(r.stdout, /signer: .*CN=POP000306.* by BinarySecurityToken, rsa-sha256/);
    assert.match(r.stdout, /^ok +#\S+ \(Messaging\)$/m);
  });

  it('exit 1 with EBMS:0101 for NEG-dataport-receipt-tampered-prefix; the Body reference is shown intact', async () => {
    const r = await ehmi('as4', 'verify', `${AS4}NEG-dataport-receipt-tampered-prefix.as4in`);
    assert.equal(r.code, 1);
    assert.match(
      r.stdout,
      /^invalid: EBMS:0101 FailedAuthentication: the digest of #\S+ \(Messaging\) does not match$/m,
    );
    assert.match(r.stdout, /^FAILED +#\S+ \(Messaging\)$/m);
    assert.match(r.stdout, /^ok +#\S+ \(Body\)$/m);
  });

  it('as4-encrypted-signed-issuerserial with --key and --cert: valid over the plaintext; --json says so', async () => {
    const args = [
      'as4',
      'verify',
      ISSUERSERIAL,
      '--key',
      `${NET}AccessPointB.key.pem`,
      '--cert',
      `${NET}AccessPointA.cert.pem`,
    ];
    const r = await ehmi(...args);
    assert.equal(r.code, 0, r.stdout);
    assert.match(r.stdout, /^valid$/m);
    assert.match(r.stdout, /by IssuerSerial, rsa-sha384/);
    assert.equal((r.stdout.match(/^ok /gm) ?? []).length, 4);
    const j = await ehmi(...args, '--json');
    const result = JSON.parse(j.stdout);
    assert.equal(result.valid, true);
    assert.equal(result.messageId, 'b545c3a0-e57f-46aa-862f-381eb4b70097@CLT-SMOREELS.mshome.net');
    assert.deepEqual(
      result.references.map((x: { ok: boolean }) => x.ok),
      [true, true, true, true],
    );
    assert.equal(result.signer.subject, 'CN=AccessPointA');
    assert.equal(result.decrypted.length, 2);
  });

  it('the IssuerSerial vector without --cert: exit 1, EBMS:0101, and a hint to give the certificate', async () => {
    const r = await ehmi('as4', 'verify', ISSUERSERIAL, '--key', `${NET}AccessPointB.key.pem`);
    assert.equal(r.code, 1);
    assert.match(r.stdout, /EBMS:0101 .*X509IssuerSerial.*--cert/);
  });

  it("signed_holodeck_message (RSA-SHA384, SKI) verifies with AccessPointB's certificate; not with AccessPointA's", async () => {
    const r = await ehmi('as4', 'verify', HOLODECK, '--cert', `${NET}AccessPointB.cert.pem`, '--json');
    assert.equal(r.code, 0, r.stdout);
    const j = JSON.parse(r.stdout);
    assert.equal(j.tokenReference, 'SKI');
    assert.equal(j.signatureMethod, 'http://www.w3.org/2001/04/xmldsig-more#rsa-sha384');
    assert.equal(j.references.length, 4);
    const a = await ehmi('as4', 'verify', HOLODECK, '--cert', `${NET}AccessPointA.cert.pem`);
    assert.equal(a.code, 1);
    assert.match(a.stdout, /EBMS:0101/);
  });

  it('the phase4 signed+encrypted message without --key: exit 1 "incomplete", no ebMS code, the cid: reference unchecked', async () => {
    const r = await ehmi('as4', 'verify', `${AS4}phase4-peppol-usermessage-signed-encrypted.mime`);
    assert.equal(r.code, 1);
    assert.match(
      r.stdout,
      /^incomplete: the attachments are encrypted: cid:\S+ cannot be checked without the decryption key/m,
    );
    assert.doesNotMatch(r.stdout, /EBMS:/);
    assert.match(r.stdout, /^ok +#\S+ \(Messaging\)$/m);
    assert.match(r.stdout, /^encrypted +cid:\S+ \(attachment\)$/m);
    const j = JSON.parse(
      (await ehmi('as4', 'verify', `${AS4}phase4-peppol-usermessage-signed-encrypted.mime`, '--json')).stdout,
    );
    assert.equal(j.valid, false);
    assert.equal(j.complete, false);
    assert.equal(j.errorCode, undefined);
  });

  it('tampered copies: a flipped ciphertext octet → EBMS:0102; a flipped octet in a signed part → EBMS:0101', async () => {
    const keyCert = ['--key', `${NET}AccessPointB.key.pem`, '--cert', `${NET}AccessPointA.cert.pem`];
    const ct = tampered(
      ISSUERSERIAL,
      inPart('b545c3a0-e57f-46aa-862f-381eb4b7009-291596031@CLT-SMOREELS.mshome.net'),
    );
    const r1 = await ehmi('as4', 'verify', ct, ...keyCert);
    assert.equal(r1.code, 1);
    assert.match(
      r1.stdout,
      /^invalid: EBMS:0102 FailedDecryption: the AES-GCM tag of cid:\S+ does not verify$/m,
    );
    const messaging = tampered(ISSUERSERIAL, (raw) => raw.indexOf('org:holodeckb2b:test:conversation') + 3);
    const r2 = await ehmi('as4', 'verify', messaging, ...keyCert);
    assert.equal(r2.code, 1);
    assert.match(r2.stdout, /^invalid: EBMS:0101 FailedAuthentication: the digest of #\S+ \(Messaging\)/m);
    const attachment = tampered(
      HOLODECK,
      inPart('cdcc838c-96ed-414a-b127-0937f5cd654-341439240@CLT-FGHEYSELS.ad.codit.eu'),
    );
    const r3 = await ehmi('as4', 'verify', attachment, '--cert', `${NET}AccessPointB.cert.pem`);
    assert.equal(r3.code, 1);
    assert.match(r3.stdout, /^invalid: EBMS:0101 .*attachment cid:\S+ does not match/m);
    assert.match(r3.stdout, /^FAILED +cid:cdcc838c-96ed-414a-b127-0937f5cd654-341439240\S+ \(attachment\)$/m);
    const sigValue = tampered(HOLODECK, (raw) => raw.indexOf('<ds:SignatureValue>') + 30);
    const r4 = await ehmi('as4', 'verify', sigValue, '--cert', `${NET}AccessPointB.cert.pem`);
    assert.match(r4.stdout, /^invalid: EBMS:0101 FailedAuthentication: the SignatureValue does not verify$/m);
    // An element name in eb:Messaging: the signed envelope no longer parses.
    const tag = tampered(HOLODECK, (raw) => raw.indexOf('<eb3:Action>') + 3);
    const r5 = await ehmi('as4', 'verify', tag, '--cert', `${NET}AccessPointB.cert.pem`);
    assert.equal(r5.code, 1);
    assert.match(r5.stdout, /^invalid: EBMS:0101 FailedAuthentication: a signed part no longer parses/m);
  });

  it('an unsigned message: exit 1 with EBMS:0103; an encrypted-only one too', async () => {
    const r = await ehmi('as4', 'verify', `${AS4}phase4-usermessage-unsigned.xml`);
    assert.equal(r.code, 1);
    assert.match(r.stdout, /^invalid: EBMS:0103 PolicyNoncompliance: the message is not signed$/m);
    const e = await ehmi('as4', 'verify', `${NET}as4_encrypted_message`, '--key', `${NET}partyC.key.pem`);
    assert.equal(e.code, 1);
    assert.match(e.stdout, /EBMS:0103/);
  });

  it('exit 2: not a file, no such file, not an AS4 message, a --cert that is not a certificate', async () => {
    for (const args of [
      [AS4],
      [`${AS4}no-such-file.as4`],
      [`${AS4}holodeck-pmode-push-nrr-init.xml`],
      [`${AS4}domibus-valid-4corner-messaging.xml`],
      [`${NET}AccessPointA.cert.pem`],
      [HOLODECK, '--cert', `${NET}AccessPointA.key.pem`],
    ]) {
      const r = await ehmi('as4', 'verify', ...args);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stdout}${r.stderr}`);
      assert.equal(r.stdout, '');
      assert.match(r.stderr, /^ehmi: /);
    }
    const notAs4 = await ehmi('as4', 'verify', `${NET}AccessPointA.cert.pem`);
    assert.match(notAs4.stderr, /not an AS4 message/);
  });

  describe('--strict: the timestamp window and the trust anchors of the configuration', () => {
    async function setup() {
      const dir = tempDir();
      const notBefore = new Date(Date.now() - 86_400_000);
      const notAfter = new Date(Date.now() + 365 * 86_400_000);
      const ca = await createCertificateAuthority({ subject: 'CN=Test AS4 CA, C=DK', notBefore, notAfter });
      const other = await createCertificateAuthority({ subject: 'CN=Other CA, C=DK', notBefore, notAfter });
      const ap = await issueCertificate(ca, {
        subject: 'CN=Test AP, C=DK',
        keyType: 'rsa-2048',
        purposes: ['signing'],
        notBefore,
        notAfter,
      });
      writeFileSync(join(dir, 'ca.pem'), ca.certificate.toString());
      writeFileSync(join(dir, 'other.pem'), other.certificate.toString());
      writeFileSync(join(dir, 'trusted.json'), JSON.stringify({ ap: { trustAnchors: ['ca.pem'] } }));
      writeFileSync(join(dir, 'other.json'), JSON.stringify({ ap: { trustAnchors: ['other.pem'] } }));
      const message = async (created: Date, name: string) => {
        const doc = parseXml(
          '<S12:Envelope xmlns:S12="http://www.w3.org/2003/05/soap-envelope"><S12:Header>' +
            '<eb:Messaging xmlns:eb="http://docs.oasis-open.org/ebxml-msg/ebms/v3.0/ns/core/200704/" S12:mustUnderstand="true"><eb:UserMessage>' +
            '<eb:MessageInfo><eb:Timestamp>2026-01-01T00:00:00Z</eb:Timestamp><eb:MessageId>m1@test</eb:MessageId></eb:MessageInfo>' +
            '<eb:PartyInfo><eb:From><eb:PartyId type="urn:t">a</eb:PartyId><eb:Role>urn:r1</eb:Role></eb:From>' +
            '<eb:To><eb:PartyId type="urn:t">b</eb:PartyId><eb:Role>urn:r2</eb:Role></eb:To></eb:PartyInfo>' +
            '<eb:CollaborationInfo><eb:Service>urn:s</eb:Service><eb:Action>urn:a</eb:Action><eb:ConversationId>c1</eb:ConversationId></eb:CollaborationInfo>' +
            '</eb:UserMessage></eb:Messaging></S12:Header><S12:Body/></S12:Envelope>',
        );
        addTimestamp(doc, { clock: () => created, ttlSeconds: 300 });
        await signEnvelope(doc, [], { privateKey: ap.privateKey, certificate: ap.certificate });
        const file = join(dir, name);
        writeFileSync(file, `<?xml version="1.0" encoding="UTF-8"?>\n${serializeXml(doc)}`);
        return file;
      };
      return {
        dir,
        fresh: await message(new Date(), 'fresh.xml'),
        old: await message(new Date('2024-01-01T00:00:00Z'), 'old.xml'),
      };
    }

    it('valid when the signer chains to ap.trustAnchors and the timestamp is current', async () => {
      const { dir, fresh } = await setup();
      const r = await runEhmi(['as4', 'verify', fresh, '--strict', '--config', 'trusted.json'], { cwd: dir });
      assert.equal(r.code, 0, r.stdout + r.stderr);
      const viaEnv = await runEhmi(['as4', 'verify', fresh, '--strict'], {
        cwd: dir,
        env: { EHMI_CONFIG: join(dir, 'trusted.json') },
      });
      assert.equal(viaEnv.code, 0, viaEnv.stdout + viaEnv.stderr);
    });

    it('EBMS:0101 for a signer outside the anchors, and for an expired timestamp (which passes without --strict)', async () => {
      const { dir, fresh, old } = await setup();
      const untrusted = await runEhmi(['as4', 'verify', fresh, '--strict', '--config', 'other.json'], {
        cwd: dir,
      });
      assert.equal(untrusted.code, 1);
      assert.match(untrusted.stdout, /^invalid: EBMS:0101 FailedAuthentication: .*signer's certificate/m);
      const expired = await runEhmi(['as4', 'verify', old, '--strict', '--config', 'trusted.json'], {
        cwd: dir,
      });
      assert.equal(expired.code, 1);
      assert.match(expired.stdout, /^invalid: EBMS:0101 FailedAuthentication: wsu:Timestamp has expired$/m);
      const relaxed = await runEhmi(['as4', 'verify', old], { cwd: dir });
      assert.equal(relaxed.code, 0, relaxed.stdout);
    });

    it('a usage error (exit 2) when no trust anchors are configured', async () => {
      const { dir, fresh } = await setup();
      const r = await runEhmi(['as4', 'verify', fresh, '--strict'], { cwd: dir });
      assert.equal(r.code, 2);
      assert.match(r.stderr, /--strict .*ap\.trustAnchors.*names none/);
      assert.equal(r.stdout, '');
    });
  });
});

describe('ehmi as4 decrypt', () => {
  it('writes each decrypted, decompressed part to ./<message-id>/ and prints Content-ID, octets, SHA-256', async () => {
    const cwd = tempDir();
    const r = await runEhmi(['as4', 'decrypt', ISSUERSERIAL, '--key', `${NET}AccessPointB.key.pem`], { cwd });
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(r.stdout.trim().split('\n').sort(), [
      'b545c3a0-e57f-46aa-862f-381eb4b7009-1650194442@CLT-SMOREELS.mshome.net\t206\tdf3d563a69eef2cc166afde17715eb803399df573737be357f15a64c37995170',
      'b545c3a0-e57f-46aa-862f-381eb4b7009-291596031@CLT-SMOREELS.mshome.net\t296454\t060364613d88080a698ed6720d1a2288a30fdff223b4fb0cca280d3c3c67e93f',
    ]);
    const dir = join(cwd, 'b545c3a0-e57f-46aa-862f-381eb4b70097@CLT-SMOREELS.mshome.net');
    const jpeg = readFileSync(
      join(dir, 'b545c3a0-e57f-46aa-862f-381eb4b7009-291596031@CLT-SMOREELS.mshome.net'),
    );
    assert.equal(sha256(jpeg), '060364613d88080a698ed6720d1a2288a30fdff223b4fb0cca280d3c3c67e93f');
    assert.deepEqual([...jpeg.subarray(0, 3)], [0xff, 0xd8, 0xff]);
    // Never overwritten: the second run refuses before writing anything.
    const again = await runEhmi(['as4', 'decrypt', ISSUERSERIAL, '--key', `${NET}AccessPointB.key.pem`], {
      cwd,
    });
    assert.equal(again.code, 2);
    assert.match(again.stderr, /exists: not overwritten/);
  });

  it('as4_encrypted_message into --out: the flower2.jpg hash; --json', async () => {
    const out = join(tempDir(), 'parts');
    const r = await ehmi(
      'as4',
      'decrypt',
      `${NET}as4_encrypted_message`,
      '--key',
      `${NET}partyC.key.pem`,
      '--out',
      out,
      '--json',
    );
    assert.equal(r.code, 0, r.stderr);
    const j = JSON.parse(r.stdout);
    assert.ok(
      j.parts.some(
        (p: { sha256: string; size: number; contentType: string }) =>
          p.sha256 === 'e0db2f28cae1db7513b71dff19a87cd7b71858132af48eda6c4b7358e8ddb464' &&
          p.size === 3342844 &&
          p.contentType === 'image/jpeg',
      ),
    );
    assert.equal(readdirSync(out).length, 2);
  });

  it('as4-encrypted-compressed-message: its PartInfo names no CompressionType, so the gzip is written as carried', async () => {
    const out = join(tempDir(), 'parts');
    const r = await ehmi(
      'as4',
      'decrypt',
      `${NET}as4-encrypted-compressed-message.as4`,
      '--key',
      `${NET}partyC.key.pem`,
      '--out',
      out,
    );
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^xmldoc\t86\tf7c234cab1abb241e9cfc7f9bd1eef20b922840467f39608bc31a5404125b60a$/m);
    assert.deepEqual([...readFileSync(join(out, 'xmldoc')).subarray(0, 2)], [0x1f, 0x8b]);
  });

  it('a Content-ID with path characters stays inside the output folder', async () => {
    const raw = readFileSync(`${NET}as4-encrypted-compressed-message.as4`, 'latin1').replaceAll(
      'xmldoc',
      '../../evil',
    );
    const file = join(tempDir(), 'evil.as4');
    writeFileSync(file, Buffer.from(raw, 'latin1'));
    const out = join(tempDir(), 'parts');
    const r = await ehmi('as4', 'decrypt', file, '--key', `${NET}partyC.key.pem`, '--out', out);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^\.\.\/\.\.\/evil\t86\t/m);
    assert.deepEqual(readdirSync(out).sort(), ['__.._evil', 'flower']);
    assert.equal(existsSync(join(out, '..', '..', 'evil')), false);
  });

  it('exit 1 with EBMS:0102 for a flipped ciphertext octet or the wrong key; exit 2 without --key or with nothing to decrypt', async () => {
    const ct = tampered(
      `${NET}as4_encrypted_message`,
      inPart('30392f3c-bc9c-4a1f-ba5e-5d4d81382ee-1427821804@CLT-SNEIRINCK'),
    );
    const r = await ehmi(
      'as4',
      'decrypt',
      ct,
      '--key',
      `${NET}partyC.key.pem`,
      '--out',
      join(tempDir(), 'x'),
    );
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^ehmi: EBMS:0102 FailedDecryption: the AES-GCM tag of cid:\S+ does not verify$/m);
    const wrong = await ehmi(
      'as4',
      'decrypt',
      `${NET}as4_encrypted_message`,
      '--key',
      `${NET}AccessPointA.key.pem`,
      '--out',
      join(tempDir(), 'x'),
    );
    assert.equal(wrong.code, 1);
    assert.match(wrong.stderr, /EBMS:0102/);
    const noKey = await ehmi('as4', 'decrypt', `${NET}as4_encrypted_message`);
    assert.equal(noKey.code, 2);
    const plain = await ehmi(
      'as4',
      'decrypt',
      HOLODECK,
      '--key',
      `${NET}AccessPointB.key.pem`,
      '--out',
      join(tempDir(), 'x'),
    );
    assert.equal(plain.code, 2);
    assert.match(plain.stderr, /no encrypted parts/);
  });
});

describe('ehmi as4 inspect', () => {
  it('the header, the parts with their properties and the security of the IssuerSerial vector', async () => {
    const r = await ehmi('as4', 'inspect', ISSUERSERIAL);
    assert.equal(r.code, 0, r.stderr);
    for (const line of [
      /^kind: +UserMessage \(SOAP 1\.2\)$/m,
      /^message id: +b545c3a0-e57f-46aa-862f-381eb4b70097@CLT-SMOREELS\.mshome\.net$/m,
      /^from: +org:holodeckb2b:example:company:A, role Sender$/m,
      /^service: +Test \(type org:holodeckb2b:services\)$/m,
      /^agreement: +http:\/\/agreements\.holodeckb2b\.org\/examples\/agreement0, pmode 8\.3\.8-pmode$/m,
      /^part: +cid:\S+ CompressionType=application\/gzip, MimeType=image\/jpeg; carried application\/octet-stream, 296413 octets, encrypted$/m,
      /^signed: +yes: rsa-sha384, digests sha256, key by IssuerSerial, 4 reference\(s\)$/m,
      /^encrypted: +yes: key rsa-oaep-mgf1p digest sha256 by IssuerSerial; 2 part\(s\) aes128-gcm Attachment-Content-Only$/m,
    ]) {
      assert.match(r.stdout, line);
    }
  });

  it('--json; signals: a receipt and an error', async () => {
    const r = await ehmi('as4', 'inspect', `${AS4}phase4-receipt-helger-POP000306.as4in`, '--json');
    const j = JSON.parse(r.stdout);
    assert.equal(j.kind, 'Receipt');
    assert.equal(j.refToMessageId, '3b3775c9-e88d-47f9-be5a-8e045ca2bc07@phase4');
    assert.deepEqual(j.receipt, { nonRepudiation: true, references: 3 });
    assert.equal(j.security.signature.keyReference, 'BinarySecurityToken (X509v3)');
    const e = await ehmi('as4', 'inspect', `${AS4}phase4-error-signal.xml`);
    assert.match(e.stdout, /^kind: +Error/m);
    assert.match(e.stdout, /^error: +EBMS:0001 failure ValueNotRecognized/m);
  });

  it('exit 1 with the ebMS code for an invalid header; exit 2 for what is not AS4', async () => {
    const r = await ehmi('as4', 'inspect', `${AS4}NEG-phase4-two-usermessages.xml`);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^ehmi: EBMS:0003 ValueInconsistent: /);
    const n = await ehmi('as4', 'inspect', `${AS4}oxalis-eDeliveryAS4Policy.xml`);
    assert.equal(n.code, 2);
    assert.match(n.stderr, /not an AS4 message/);
  });
});

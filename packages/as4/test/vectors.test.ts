// Every AS4 vector in fixtures/as4 (provenance: fixtures/SOURCES-as4-smp.md), through the public API.
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { describe, it } from 'node:test';
import {
  decompressStep,
  memorySink,
  type ParsedAs4Message,
  parseAs4Message,
  parseEnvelope,
  parseMessaging,
  propertyValue,
  verifyReceipt,
  verifySignatureStep,
} from '../src/index.ts';
import { AS4_FIXTURES, chunked, ebmsCodeOf, readVector } from './helpers.ts';

async function parseVector(name: string): Promise<ParsedAs4Message> {
  const v = readVector(name);
  return parseAs4Message(chunked(v.body, 512), { contentType: v.contentType, sink: memorySink() });
}

function userOf(m: ParsedAs4Message) {
  assert.equal(m.messaging.kind, 'user');
  if (m.messaging.kind !== 'user') throw new Error('unreachable');
  return m.messaging.userMessage;
}

function signalOf(m: ParsedAs4Message) {
  assert.equal(m.messaging.kind, 'signal');
  if (m.messaging.kind !== 'signal') throw new Error('unreachable');
  assert.equal(m.messaging.signalMessages.length, 1);
  return m.messaging.signalMessages[0]!;
}

// Files that are not AS4 messages (configuration and policy references).
const NOT_MESSAGES = new Set([
  'domibus-pmode-sample-valid.xml',
  'holodeck-pmode-push-nrr-init.xml',
  'holodeck-pmode-push-nrr-resp.xml',
  'oxalis-eDeliveryAS4Policy.xml',
  'oxalis-eDeliveryAS4Policy_BST.xml',
]);

const tested = new Set<string>();
const vector = (name: string) => {
  tested.add(name);
  return name;
};

describe('AS4 vectors: receipts', () => {
  it('phase4 (Peppol test AP) NRR receipt: three NRI references incl. the cid: attachment', async () => {
    const s = signalOf(await parseVector(vector('phase4-receipt-helger-POP000306.as4in')));
    assert.equal(s.messageInfo.refToMessageId, '3b3775c9-e88d-47f9-be5a-8e045ca2bc07@phase4');
    const nri = s.receipt?.nonRepudiationInformation ?? [];
    assert.equal(nri.length, 3);
    assert.equal(nri[2]?.uri, 'cid:phase4-att-8f153eee-52ce-4a39-96a6-2a13296991bb@cid');
    assert.equal(nri[2]?.digestValue, 'QqSdtJKU3B3E1EoRPoVrCfgkGhfUaGNDmKdyA4WdJ+A=');
    assert.equal(
      nri[2]?.transforms[0]?.algorithm,
      'http://docs.oasis-open.org/wss/oasis-wss-SwAProfile-1.1#Attachment-Content-Signature-Transform',
    );
  });

  it('phase4 receipt verifies and matches the NRI of what was sent', async () => {
    const m = await parseVector('phase4-receipt-helger-POP000306.as4in');
    const s = signalOf(m);
    const sent = {
      messageId: s.messageInfo.refToMessageId!,
      references: s.receipt!.nonRepudiationInformation!,
    };
    const { verified } = await verifyReceipt(m.envelope, sent, { trust: () => true });
    assert.match(verified.certificate.subject, /POP000306/);
  });

  it('EBMS:0302 for the phase4 receipt when our sent digest of the attachment differs', async () => {
    const m = await parseVector('phase4-receipt-helger-POP000306.as4in');
    const s = signalOf(m);
    const references = s.receipt!.nonRepudiationInformation!.map((r) =>
      r.uri.startsWith('cid:') ? { ...r, digestValue: Buffer.alloc(32, 1).toString('base64') } : r,
    );
    const code = await ebmsCodeOf(() =>
      verifyReceipt(
        m.envelope,
        { messageId: s.messageInfo.refToMessageId!, references },
        { trust: () => true },
      ),
    );
    assert.equal(code, 'EBMS:0302');
  });

  it('Dataport receipt (odd mustUnderstand prefix) parses and verifies', async () => {
    const m = await parseVector(vector('dataport-receipt-PDE000357.as4in'));
    const s = signalOf(m);
    assert.equal(s.receipt?.nonRepudiationInformation?.length, 3);
    const sent = {
      messageId: s.messageInfo.refToMessageId!,
      references: s.receipt!.nonRepudiationInformation!,
    };
    await verifyReceipt(m.envelope, sent, { trust: () => true });
  });

  it('EBMS:0101 for the tampered Dataport receipt (eb:Messaging digest mismatch)', async () => {
    const m = await parseVector(vector('NEG-dataport-receipt-tampered-prefix.as4in'));
    const s = signalOf(m);
    const sent = {
      messageId: s.messageInfo.refToMessageId!,
      references: s.receipt!.nonRepudiationInformation!,
    };
    assert.equal(await ebmsCodeOf(() => verifyReceipt(m.envelope, sent, { trust: () => true })), 'EBMS:0101');
  });

  it('phase4 SOAP 1.1 receipt echoing the whole received envelope parses (no NRI)', async () => {
    const m = await parseVector(vector('phase4-receipt-soap11-selfsigned.xml'));
    assert.equal(m.envelope.soapVersion, '1.1');
    const s = signalOf(m);
    assert.deepEqual(s.receipt, { userMessageEcho: true });
    assert.equal(s.messageInfo.refToMessageId, 'ph-as4@2babaddd-282e-461e-b645-730c5abebcce');
  });

  it('Domibus NRR receipt (SKI) parses with three NRI references', async () => {
    const s = signalOf(await parseVector(vector('domibus-struct-nrr-receipt-ski.xml')));
    assert.equal(s.receipt?.nonRepudiationInformation?.length, 3);
  });

  it('Domibus receipt 2 parses with two NRI references', async () => {
    const s = signalOf(await parseVector(vector('domibus-struct-receipt2.xml')));
    assert.equal(s.receipt?.nonRepudiationInformation?.length, 2);
  });
});

describe('AS4 vectors: other signals', () => {
  it('phase4 error signal: EBMS:0001 with refToMessageInError', async () => {
    const s = signalOf(await parseVector(vector('phase4-error-signal.xml')));
    assert.equal(s.errors[0]?.errorCode, 'EBMS:0001');
    assert.equal(s.errors[0]?.refToMessageInError, 'ph-as4@42ec020f-9553-4b6d-ba8e-265cf1f6fd34');
    assert.equal(s.errors[0]?.shortDescription, 'ValueNotRecognized');
  });

  it('phase4 pull request: its mpc', async () => {
    const s = signalOf(await parseVector(vector('phase4-pullrequest-soap12.xml')));
    assert.equal(s.pullRequest?.mpc, 'http://as4.bigco.example.com/queues/q_456');
  });
});

describe('AS4 vectors: user messages', () => {
  it('phase4 Peppol signed+encrypted MIME message: model, one attachment, signature over Messaging and Body', async () => {
    const m = await parseVector(vector('phase4-peppol-usermessage-signed-encrypted.mime'));
    const um = userOf(m);
    assert.equal(um.messageInfo.messageId, '17a7c374-efe3-41e2-ac0d-8a8f47529e47@phase4');
    assert.equal(um.payloadInfo[0]?.href, 'cid:phase4-att-ff0f8ad5-f982-48ba-b8e2-26997600f496@cid');
    assert.equal(propertyValue(um.payloadInfo[0]!.partProperties, 'CompressionType'), 'application/gzip');
    assert.ok(um.messageProperties.some((p) => p.name === 'originalSender'));
    assert.equal(m.attachments.length, 1);
    const verified = await verifySignatureStep(m.envelope, m.attachments, undefined, { trust: () => true });
    assert.deepEqual(
      verified.references.map((r) => [r.target, r.digestVerified]),
      [
        ['Messaging', true],
        ['Body', true],
        ['attachment', false], // encrypted: the digest is over plaintext, checked after decryption
      ],
    );
  });

  it('phase4 unsigned UserMessage parses (body payload, SOAP 1.2)', async () => {
    const um = userOf(await parseVector(vector('phase4-usermessage-unsigned.xml')));
    assert.equal(um.messageInfo.messageId, 'UUID-1@requester.example.com');
    assert.deepEqual(um.payloadInfo, [{ partProperties: [] }]);
  });

  it('EBMS:0103 for the phase4 unsigned UserMessage at the signature step', async () => {
    const m = await parseVector('phase4-usermessage-unsigned.xml');
    assert.equal(
      await ebmsCodeOf(() =>
        verifySignatureStep(m.envelope, m.attachments, undefined, { trust: () => true }),
      ),
      'EBMS:0103',
    );
  });

  it('phase4 SOAP 1.1 signed UserMessage parses', async () => {
    const m = await parseVector(vector('phase4-usermessage-soap11-signed.xml'));
    assert.equal(m.envelope.soapVersion, '1.1');
    assert.equal(userOf(m).collaborationInfo.conversationId.length > 0, true);
  });

  for (const name of [
    'domibus-struct-bst_x509v3_incoming_message.xml',
    'domibus-struct-bst_X509PKIPathv1_incoming_message.xml',
    'domibus-struct-is_incoming_message.xml',
    'domibus-struct-ski_incoming_message.xml',
    'domibus-struct-request-sign-encrypt-ski.xml',
  ]) {
    it(`${vector(name)}: header parses into the model (four corner properties present)`, () => {
      const v = readVector(name);
      const messaging = parseMessaging(parseEnvelope(v.body).messaging);
      assert.equal(messaging.kind, 'user');
      if (messaging.kind !== 'user') return;
      const um = messaging.userMessage;
      assert.match(um.messageInfo.messageId, /@domibus\.eu$/);
      assert.match(propertyValue(um.messageProperties, 'originalSender') ?? '', /C1$/);
      assert.match(propertyValue(um.messageProperties, 'finalRecipient') ?? '', /C4$/);
    });

    it(`${name}: EBMS:0011 as a whole message, since its attachment is not included`, async () => {
      assert.equal(await ebmsCodeOf(() => parseVector(name)), 'EBMS:0011');
    });
  }

  it('Domibus four-corner eb:Messaging fragment: EBMS:0009 without MessageInfo, else originalSender/finalRecipient', () => {
    const v = readVector(vector('domibus-valid-4corner-messaging.xml'));
    const doc = parseEnvelope(
      `<S12:Envelope xmlns:S12="http://www.w3.org/2003/05/soap-envelope"><S12:Header>${v.body.toString('utf8')}</S12:Header><S12:Body/></S12:Envelope>`,
    );
    assert.throws(() => parseMessaging(doc.messaging), { ebmsCode: 'EBMS:0009', message: /MessageInfo/ });
    const withInfo = v.body
      .toString('utf8')
      .replace(
        '<ns:PartyInfo>',
        '<ns:MessageInfo><ns:Timestamp>2026-11-26T00:00:00Z</ns:Timestamp><ns:MessageId>x@y</ns:MessageId></ns:MessageInfo><ns:PartyInfo>',
      );
    const env = parseEnvelope(
      `<S12:Envelope xmlns:S12="http://www.w3.org/2003/05/soap-envelope"><S12:Header>${withInfo}</S12:Header><S12:Body/></S12:Envelope>`,
    );
    const m = parseMessaging(env.messaging);
    assert.equal(m.kind, 'user');
    if (m.kind !== 'user') return;
    assert.equal(
      propertyValue(m.userMessage.messageProperties, 'originalSender'),
      'urn:oasis:names:tc:ebcore:partyid-type:unregistered:C1',
    );
    assert.equal(
      propertyValue(m.userMessage.messageProperties, 'finalRecipient'),
      'urn:oasis:names:tc:ebcore:partyid-type:unregistered:C4',
    );
  });
});

describe('AS4 vectors: negative', () => {
  it('EBMS:0003 for phase4 TwoUserMessages', async () => {
    assert.equal(await ebmsCodeOf(() => parseVector(vector('NEG-phase4-two-usermessages.xml'))), 'EBMS:0003');
  });

  it('EBMS:0009 for phase4 UserMessageNoPartyID', async () => {
    assert.equal(
      await ebmsCodeOf(() => parseVector(vector('NEG-phase4-usermessage-no-partyid.xml'))),
      'EBMS:0009',
    );
  });

  it('EBMS:0303 for phase4 WrongCompression.mime at the decompression step', async () => {
    const m = await parseVector(vector('NEG-phase4-wrong-compression.mime'));
    const um = userOf(m);
    assert.equal(
      await ebmsCodeOf(() => decompressStep(um, m.attachments, memorySink(), { maxDecompressedBytes: 1e6 })),
      'EBMS:0303',
    );
  });

  it('EBMS:0101 for phase4 WrongSigningAlgorithm', async () => {
    const m = await parseVector(vector('NEG-phase4-wrong-signing-algorithm.xml'));
    assert.equal(
      await ebmsCodeOf(() =>
        verifySignatureStep(m.envelope, m.attachments, undefined, { trust: () => true }),
      ),
      'EBMS:0101',
    );
  });

  it('EBMS:0101 for phase4 WrongSigningDigestAlgorithm', async () => {
    const m = await parseVector(vector('NEG-phase4-wrong-digest.xml'));
    assert.equal(
      await ebmsCodeOf(() =>
        verifySignatureStep(m.envelope, m.attachments, undefined, { trust: () => true }),
      ),
      'EBMS:0101',
    );
  });

  it('phase4 UserMessageWithCompressedPayload12.xml is rejected: upstream file is not well-formed XML', async () => {
    // The file has an unclosed <eb:Property name="MimeType"> (a copy error upstream), so a strict parser must refuse it.
    await assert.rejects(parseVector(vector('phase4-usermessage-compressed-soap12.xml')), {
      code: 'EHMI_XML_MALFORMED',
    });
  });
});

describe('AS4 vectors: coverage', () => {
  it('every .xml/.mime/.as4in vector is either tested above or listed as not a message', () => {
    const files = readdirSync(AS4_FIXTURES).filter((f) => /\.(xml|mime|as4in)$/.test(f));
    const untested = files.filter((f) => !tested.has(f) && !NOT_MESSAGES.has(f));
    assert.deepEqual(untested, []);
  });
});

// The package as another project sees it: everything through '@ehmi/as4'.
import assert from 'node:assert/strict';
import { createPrivateKey, randomBytes } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import * as as4 from '@ehmi/as4';
import { AS4_FIXTURES } from './helpers.ts';

async function bytesOf(r: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of r) chunks.push(Buffer.from(c));
  return Buffer.concat(chunks);
}

describe('@ehmi/as4 public API', () => {
  it('exports the composition points of the message layer', () => {
    for (const name of [
      'buildUserMessage',
      'parseAs4Message',
      'writeAs4Message',
      'receiveAs4Message',
      'buildReceipt',
      'signReceipt',
      'verifyReceipt',
      'checkReceiptNri',
      'buildErrorSignal',
      'createPMode',
      'findPMode',
      'compressAttachment',
      'decompressAttachment',
      'tempFileSink',
      'memorySink',
      'resolveLimits',
    ] as const) {
      assert.equal(typeof as4[name], 'function', name);
    }
    // The test Service/Action a connectivity-test P-Mode needs (AS4 Profile §5.1.5).
    assert.equal(
      as4.EBMS_URI.testAction,
      'http://docs.oasis-open.org/ebxml-msg/ebms/v3.0/ns/core/200704/test',
    );
  });

  it('builds, writes and parses back a UserMessage with an attachment, with no server involved', async () => {
    const pmode = as4.createPMode({
      id: 'p',
      initiator: {
        partyIds: [{ value: '5790000000001', type: 'urn:oasis:names:tc:ebcore:partyid-type:iso6523:0088' }],
      },
      responder: {
        partyIds: [{ value: '5790000000002', type: 'urn:oasis:names:tc:ebcore:partyid-type:iso6523:0088' }],
      },
      service: { value: 'urn:s' },
      action: 'urn:a',
    });
    const payload: as4.As4Attachment = {
      contentId: 'p1@ehmi.test',
      headers: { 'content-type': 'application/xml' },
      open: () => Readable.from([Buffer.from('<x/>')]),
    };
    const { attachment, partProperties } = as4.compressAttachment(payload, { mimeType: 'application/xml' });
    const built = as4.buildUserMessage(
      {
        messageProperties: [
          { name: 'originalSender', value: '0088:5790000000001', type: 'iso6523-actorid-upis' },
          { name: 'finalRecipient', value: '0088:5790000000002', type: 'iso6523-actorid-upis' },
        ],
        payloadInfo: [{ href: `cid:${attachment.contentId}`, partProperties }],
      },
      pmode,
    );
    const { contentType, body } = as4.writeAs4Message(built.document, [attachment]);
    const msg = await as4.parseAs4Message(body, { contentType });
    try {
      assert.equal(msg.messaging.kind, 'user');
      if (msg.messaging.kind !== 'user') return;
      assert.deepEqual(msg.messaging.userMessage, built.userMessage);
      assert.equal(as4.findPMode([pmode], msg.messaging.userMessage), pmode);
      const [plain] = await as4.decompressStep(msg.messaging.userMessage, msg.attachments, msg.sink, {
        maxDecompressedBytes: 1024,
      });
      const chunks: Buffer[] = [];
      for await (const c of plain!.open()) chunks.push(Buffer.from(c));
      assert.equal(Buffer.concat(chunks).toString(), '<x/>');
    } finally {
      await msg.dispose();
    }
  });

  it('sends and receives a signed, encrypted two-payload message end to end, with the default (temp-file) sink', async () => {
    // Sender phase4-ph-as4, receiver domibus-red_gw: each side only has its own private key.
    const senderKey = createPrivateKey(readFileSync(`${AS4_FIXTURES}keys/phase4-ph-as4.key.pem`));
    const senderCert = readFileSync(`${AS4_FIXTURES}keys/phase4-ph-as4.cert.pem`, 'utf8');
    const receiverKey = createPrivateKey(readFileSync(`${AS4_FIXTURES}keys/domibus-red_gw.key.pem`));
    const receiverCert = readFileSync(`${AS4_FIXTURES}keys/domibus-red_gw.cert.pem`, 'utf8');
    const gln = 'urn:oasis:names:tc:ebcore:partyid-type:iso6523:0088';
    const pmode = as4.createPMode({
      id: 'e2e',
      agreement: { value: 'urn:ehmi:agreement' },
      initiator: { partyIds: [{ value: '5790000000001', type: gln }] },
      responder: { partyIds: [{ value: '5790000000002', type: gln }] },
      service: { value: 'urn:ehmi:service', type: 'urn:ehmi:service-type' },
      action: 'urn:ehmi:action',
    });
    pmode.leg.security.x509.encryption.required = true;
    const xml = Buffer.from('<Bundle xmlns="http://hl7.org/fhir"><id value="1"/></Bundle>');
    const binary = randomBytes(300_000); // incompressible: more than one 64 KiB read and 16 KiB high-water mark
    const source = (contentId: string, type: string, bytes: Buffer): as4.As4Attachment => ({
      contentId,
      headers: { 'content-type': type },
      open: () => Readable.from([bytes]),
    });
    const parts = [
      as4.compressAttachment(source('xml@ehmi.test', 'application/xml', xml), {
        mimeType: 'application/xml',
        characterSet: 'UTF-8',
      }),
      as4.compressAttachment(source('pdf@ehmi.test', 'application/pdf', binary), {
        mimeType: 'application/pdf',
      }),
    ];
    const built = as4.buildUserMessage(
      {
        conversationId: 'conversation-1',
        messageProperties: [
          { name: 'originalSender', value: '0088:5790000000001', type: 'iso6523-actorid-upis' },
          { name: 'finalRecipient', value: '0088:5790000000002', type: 'iso6523-actorid-upis' },
        ],
        payloadInfo: parts.map((p) => ({
          href: `cid:${p.attachment.contentId}`,
          partProperties: p.partProperties,
        })),
      },
      pmode,
    );
    const attachments = parts.map((p) => p.attachment);
    const signed = await as4.signEnvelope(built.document, attachments, {
      privateKey: senderKey,
      certificate: senderCert,
    });
    const encrypted = await as4.encryptAttachments(built.document, attachments, {
      recipientCertificate: receiverCert,
    });
    const written = as4.writeAs4Message(built.document, encrypted.attachments);
    const wire = await bytesOf(written.body);

    const rx = await as4.receiveAs4Message(Readable.from([wire]), {
      contentType: written.contentType,
      selectPMode: (um) => as4.findPMode([pmode], um),
      verify: { trust: (chain) => chain[0]!.checkPrivateKey(senderKey) },
      decrypt: (env, atts, sink) =>
        as4.decryptAttachments(env.document, atts, { privateKey: receiverKey, sink }),
    });
    assert.equal(rx.kind, 'user');
    if (rx.kind !== 'user') return;
    try {
      assert.equal(rx.userMessage.collaborationInfo.agreementRef?.value, 'urn:ehmi:agreement');
      assert.equal(rx.userMessage.collaborationInfo.conversationId, 'conversation-1');
      assert.equal(as4.finalRecipient(rx.userMessage)?.value, '0088:5790000000002');
      assert.deepEqual(await bytesOf(rx.payloads[0]!.open()), xml);
      assert.deepEqual(await bytesOf(rx.payloads[1]!.open()), binary);
      const signedReceipt = await as4.signReceipt(rx.receipt, {
        privateKey: receiverKey,
        certificate: receiverCert,
      });
      const receipt = await bytesOf(as4.writeAs4Message(signedReceipt.xml, []).body);
      const sent = { messageId: built.userMessage.messageInfo.messageId, references: signed.references };
      const trust = { trust: () => true };
      const { signal } = await as4.verifyReceipt(receipt, sent, trust);
      assert.equal(signal.receipt?.nonRepudiationInformation?.length, 4);
      const tampered = receipt
        .toString('utf8')
        .replace(/<ds:DigestValue>./, (m) => m.slice(0, -1) + (m.endsWith('A') ? 'B' : 'A'));
      await assert.rejects(as4.verifyReceipt(tampered, sent, trust), { ebmsCode: 'EBMS:0101' });
      await assert.rejects(as4.verifyReceipt(receipt, { ...sent, messageId: 'other@ehmi.test' }, trust), {
        ebmsCode: 'EBMS:0302',
      });
    } finally {
      await rx.dispose();
    }
  });

  it('declares every package it imports at run time (package.json dependencies)', () => {
    const root = fileURLToPath(new URL('../', import.meta.url));
    const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { dependencies: object };
    const declared = new Set(Object.keys(pkg.dependencies));
    const walk = (dir: string): string[] =>
      readdirSync(dir).flatMap((n) =>
        statSync(join(dir, n)).isDirectory() ? walk(join(dir, n)) : [join(dir, n)],
      );
    for (const file of walk(join(root, 'src')).filter((f) => f.endsWith('.ts'))) {
      // Type-only imports count too: a consumer's type check resolves them.
      for (const [, spec] of readFileSync(file, 'utf8').matchAll(
        /^\s*(?:import|export)[^'"]*?from '([^'.][^']*)'/gm,
      )) {
        if (spec!.startsWith('node:')) continue;
        const name = spec!.startsWith('@') ? spec!.split('/').slice(0, 2).join('/') : spec!.split('/')[0]!;
        assert.ok(declared.has(name), `${file} imports ${name}, which package.json does not declare`);
      }
    }
  });
});

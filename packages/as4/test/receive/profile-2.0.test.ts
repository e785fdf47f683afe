// eDelivery AS4 2.0 end to end through the message layer: Ed25519 signatures, X25519 + HKDF + AES-KW key agreement.
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { describe, it } from 'node:test';
import {
  type As4Attachment,
  buildUserMessage,
  compressAttachment,
  createPMode,
  findPMode,
  receiveAs4Message,
  securityProfileOf,
  signReceipt,
  verifyReceipt,
  writeAs4Message,
} from '../../src/index.ts';
import { decryptAttachments } from '../../src/wss/decrypt.ts';
import { encryptAttachments } from '../../src/wss/encrypt.ts';
import { signEnvelope } from '../../src/wss/sign.ts';
import { ebmsCodeOf } from '../helpers.ts';
import { testPki, trustRoot } from '../wss/helpers.ts';

async function collect(r: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of r) chunks.push(Buffer.from(c));
  return Buffer.concat(chunks);
}

describe('eDelivery AS4 2.0 P-Mode, end to end', async () => {
  const pki = await testPki();
  const trust = trustRoot(pki.root);
  const pmode = createPMode({
    id: 'ehmi-2.0',
    profile: 'edelivery-as4-2.0',
    service: { value: 'urn:ehmi:service' },
    action: 'urn:ehmi:action',
  });
  const payload: As4Attachment = {
    contentId: 'p1@ehmi.test',
    headers: { 'content-type': 'application/xml' },
    open: () => Readable.from([Buffer.from('<Bundle/>')]),
  };

  async function send(signer = pki.ed25519) {
    const { attachment, partProperties } = compressAttachment(payload, { mimeType: 'application/xml' });
    const built = buildUserMessage(
      {
        from: { partyIds: [{ value: 'a', type: 'urn:t' }], role: pmode.initiator.role },
        to: { partyIds: [{ value: 'b', type: 'urn:t' }], role: pmode.responder.role },
        messageProperties: [
          { name: 'originalSender', value: '0088:1' },
          { name: 'finalRecipient', value: '0088:2' },
        ],
        payloadInfo: [{ href: `cid:${attachment.contentId}`, partProperties }],
      },
      pmode,
    );
    const signed = await signEnvelope(built.document, [attachment], {
      privateKey: signer.key,
      certificate: signer.chain,
    });
    const { attachments } = await encryptAttachments(built.document, [attachment], {
      recipientCertificate: pki.x25519.certificate,
      profile: securityProfileOf(pmode),
    });
    const w = writeAs4Message(built.document, attachments);
    return { built, signed, contentType: w.contentType, body: await collect(w.body) };
  }

  const receive = (sent: Awaited<ReturnType<typeof send>>) =>
    receiveAs4Message(Readable.from([sent.body]), {
      contentType: sent.contentType,
      selectPMode: (um) => findPMode([pmode], um),
      verify: { trust },
      decrypt: (env, atts, sink) =>
        decryptAttachments(env.document, atts, { privateKey: pki.x25519.key, sink }),
    });

  it('receives, decrypts and decompresses, and the Ed25519-signed receipt verifies at the sender', async () => {
    const sent = await send();
    const rx = await receive(sent);
    assert.equal(rx.kind, 'user');
    if (rx.kind !== 'user') return;
    try {
      assert.equal((await collect(rx.payloads[0]!.open())).toString(), '<Bundle/>');
      const signed = await signReceipt(rx.receipt, {
        privateKey: pki.ed25519.key,
        certificate: pki.ed25519.chain,
      });
      const response = writeAs4Message(signed.xml, []);
      await verifyReceipt(
        await collect(response.body),
        { messageId: sent.built.userMessage.messageInfo.messageId, references: sent.signed.references },
        { trust, profile: securityProfileOf(pmode) },
      );
    } finally {
      await rx.dispose();
    }
  });

  it('EBMS:0103 for an RSA signature under the 2.0 P-Mode', async () => {
    assert.equal(await ebmsCodeOf(async () => receive(await send(pki.rsa))), 'EBMS:0103');
  });
});

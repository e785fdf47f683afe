// The package as another project sees it: everything through '@ehmi/as4'.
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { describe, it } from 'node:test';
import * as as4 from '@ehmi/as4';

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
});

import assert from 'node:assert/strict';
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Readable } from 'node:stream';
import { describe, it } from 'node:test';
import {
  decryptAttachments,
  type ParsedAs4Message,
  parseAs4Message,
  partCharacterSet,
  propertyValue,
  receiveAs4Message,
} from '@ehmi/as4';
import type { Element } from '@ehmi/xml';
import { buildOutboundMessage } from '../../src/ap/message.ts';
import { FIXTURES } from '../helpers/fixtures.ts';

/** fixtures/as4 of the repository (provenance in fixtures/SOURCES-as4-smp.md). */
const AS4 = `${FIXTURES}as4/`;
const XENC = 'http://www.w3.org/2001/04/xmlenc#';

const pem = (file: string) => readFileSync(`${AS4}as4net/${file}`, 'utf8');
const signingKey = createPrivateKey(pem('AccessPointA.key.pem'));
const signingCert = new X509Certificate(pem('AccessPointA.cert.pem'));
const receiverKey = createPrivateKey(pem('AccessPointB.key.pem'));
const receiverCert = new X509Certificate(pem('AccessPointB.cert.pem'));
const SBDH = Buffer.from(
  '<?xml version="1.0" encoding="UTF-8"?>\n<StandardBusinessDocument xmlns="http://www.unece.org/cefact/namespaces/StandardBusinessDocumentHeader"><n>Ærø</n></StandardBusinessDocument>',
);

async function bytesOf(r: AsyncIterable<unknown>): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of r) chunks.push(Buffer.from(c as Uint8Array));
  return Buffer.concat(chunks);
}

/** One payload's form: PartProperties, the MIME part's Content-Type, the EncryptedData/@MimeType. */
function payloadForm(msg: ParsedAs4Message) {
  assert.equal(msg.messaging.kind, 'user');
  if (msg.messaging.kind !== 'user') throw new Error('unreachable');
  const [part] = msg.messaging.userMessage.payloadInfo;
  const ed = msg.envelope.document.getElementsByTagNameNS(XENC, 'EncryptedData')[0] as Element | undefined;
  return {
    part: part!,
    properties: Object.fromEntries(part!.partProperties.map((p) => [p.name, p.value.trim()])),
    wireType: msg.attachments[0]!.headers['content-type'],
    encryptedMimeType: ed?.getAttribute('MimeType'),
  };
}

function newMessage() {
  return buildOutboundMessage({
    messageId: 'form-1@test.ehmi',
    timestamp: new Date(),
    sender: '0088:5790000000001',
    receiver: '0088:5790000000002',
    process: 'urn:p',
    documentType: 'urn:d',
    payload: { size: SBDH.length, open: () => Readable.from([SBDH]) },
    signing: { privateKey: signingKey, chain: [signingCert] },
    recipientCertificate: receiverCert,
  });
}

describe('the access point sends its payload in the form phase4 does', () => {
  it('same EncryptedData/@MimeType and part properties as phase4’s Peppol message, plus CharacterSet UTF-8', async () => {
    // phase4-peppol-usermessage-signed-encrypted.mime: HTTP-style headers, a blank line, the MIME body.
    const raw = readFileSync(`${AS4}phase4-peppol-usermessage-signed-encrypted.mime`);
    const sep = raw.indexOf('\r\n\r\n');
    const contentType = /^content-type:\s*(.*)$/im.exec(raw.subarray(0, sep).toString('latin1'))![1]!.trim();
    const phase4 = await parseAs4Message(Readable.from([raw.subarray(sep + 4)]), { contentType });
    const sent = await newMessage();
    const ours = await parseAs4Message(Readable.from([await bytesOf(sent.body)]), {
      contentType: sent.contentType,
    });
    try {
      const theirs = payloadForm(phase4);
      const mine = payloadForm(ours);
      assert.equal(theirs.encryptedMimeType, 'application/gzip');
      assert.equal(mine.encryptedMimeType, theirs.encryptedMimeType);
      assert.equal(mine.wireType, theirs.wireType);
      assert.deepEqual(mine.properties, { ...theirs.properties, CharacterSet: 'UTF-8' });
      // phase4's order (MessageHelperMethods.createEbms3PartInfo): MimeType, CharacterSet, CompressionType.
      assert.deepEqual(
        mine.part.partProperties.map((p) => p.name),
        ['MimeType', 'CharacterSet', 'CompressionType'],
      );
      // phase4's message has no CharacterSet: its absence is no error for a receiver.
      assert.equal(partCharacterSet(theirs.part), undefined);
    } finally {
      await phase4.dispose();
      await ours.dispose();
    }
  });

  it('received: the signature verifies over the gzip octets, and the payload comes out typed with its charset', async () => {
    const sent = await newMessage();
    const rx = await receiveAs4Message(Readable.from([await bytesOf(sent.body)]), {
      contentType: sent.contentType,
      selectPMode: () => sent.pmode,
      verify: { trust: (chain) => chain[0]!.fingerprint256 === signingCert.fingerprint256 },
      decrypt: (env, attachments, sink) =>
        decryptAttachments(env.document, attachments, { privateKey: receiverKey, sink }),
    });
    try {
      assert.equal(rx.kind, 'user');
      if (rx.kind !== 'user') return;
      const part = rx.userMessage.payloadInfo[0]!;
      assert.equal(propertyValue(part.partProperties, 'CharacterSet'), 'UTF-8');
      assert.equal(rx.payloads[0]!.headers['content-type'], 'application/xml; charset=UTF-8');
      assert.deepEqual(await bytesOf(rx.payloads[0]!.open()), SBDH);
      assert.ok(rx.verified.references.some((r) => r.uri === part.href));
    } finally {
      await rx.dispose();
    }
  });
});

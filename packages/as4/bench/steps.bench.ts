// One message through the AS4 package, step by step, as the access points do it per message: build → sign →
// encrypt → write (the sending AP's buildOutboundMessage), then read MIME → envelope and header → P-Mode → verify →
// decrypt + digest + decompress (receiveAs4Message), the receipt built and signed, and on the sending side the
// receipt's parse, verification and NonRepudiationInformation check. A 10 KB payload, RSA-2048 test keys, the
// BinarySecurityToken as X509PKIPathv1 (as the nodes send). CPU per call (process.cpuUsage: node:crypto's thread
// pool included, so the RSA signature counts in the sign steps).
// Run: node --conditions=ehmi-source --import tsx packages/as4/bench/steps.bench.ts
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import {
  buildReceipt,
  buildUserMessage,
  checkReceiptNri,
  compressAttachment,
  createPMode,
  decryptAttachments,
  encryptAttachmentsText,
  envelopeXml,
  memorySink,
  parseEnvelope,
  parseMessaging,
  readMimeMessage,
  receiveAs4Message,
  signEnvelopeText,
  signReceipt,
  verifyEnvelope,
  writeAs4Message,
} from '../src/index.ts';
import { testPki } from '../test/wss/helpers.ts';
import { rate } from './rate.ts';

const pki = await testPki();
const sender = pki.rsa;
const receiver = pki.rsa2;
const GLN = 'urn:oasis:names:tc:ebcore:partyid-type:iso6523:0088';
const SECONDS = Number(process.env.EHMI_BENCH_SECONDS ?? 2);
const payload = Buffer.from(
  `<sbd xmlns="urn:bench">${randomBytes(7680).toString('base64')}</sbd>`, // about 10 KB of envelope
);
const pmodeOf = () =>
  createPMode({
    id: 'ehmi-send',
    initiator: { partyIds: [{ value: '5790000000001', type: GLN }] },
    responder: { partyIds: [{ value: '5790000000002', type: GLN }] },
    service: { value: 'urn:ehmi:bench-service' },
    action: 'urn:ehmi:bench-action',
  });
const signing = {
  privateKey: sender.key,
  certificate: sender.chain,
  tokenReference: 'BinarySecurityToken' as const,
  bstValueType: 'X509PKIPathv1' as const,
};

let seq = 0;
function build() {
  const pmode = pmodeOf();
  const { attachment, partProperties } = compressAttachment(
    {
      contentId: `payload-${++seq}@ehmi.bench`,
      headers: { 'content-type': 'application/xml' },
      open: () => Readable.from([payload]),
      size: payload.length,
    },
    { mimeType: 'application/xml' },
  );
  const built = buildUserMessage(
    {
      messageProperties: [
        { name: 'originalSender', value: '0088:5790000000001', type: 'iso6523-actorid-upis' },
        { name: 'finalRecipient', value: '0088:5790000000002', type: 'iso6523-actorid-upis' },
      ],
      payloadInfo: [{ href: `cid:${attachment.contentId}`, partProperties }],
    },
    pmode,
  );
  return { pmode, attachment, built };
}

async function drain(body: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of body) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

/** The sending AP's buildOutboundMessage: build, sign, encrypt, write; the body read whole. */
async function outbound() {
  const { attachment, built } = build();
  const signed = await signEnvelopeText(built, [attachment], signing);
  const encrypted = await encryptAttachmentsText([attachment], {
    recipientCertificate: receiver.certificate,
  });
  const written = writeAs4Message(
    envelopeXml(built, encrypted.securityXml + signed.securityXml),
    encrypted.attachments,
  );
  return { contentType: written.contentType, wire: await drain(written.body), references: signed.references };
}

const receiveOptions = (contentType: string) => ({
  contentType,
  sink: memorySink(),
  selectPMode: pmodeOf,
  verify: { trust: () => true },
  decrypt: (
    env: { document: Parameters<typeof decryptAttachments>[0] },
    attachments: Parameters<typeof decryptAttachments>[1],
    sink: Parameters<typeof decryptAttachments>[2]['sink'],
  ) =>
    decryptAttachments(env.document, attachments, {
      privateKey: receiver.key,
      certificate: receiver.certificate,
      profile: 'edelivery-1.15',
      sink,
      onRead: true,
    }),
});

async function inbound(sent: { contentType: string; wire: Buffer }) {
  const rx = await receiveAs4Message(Readable.from([sent.wire]), receiveOptions(sent.contentType));
  if (rx.kind !== 'user') throw new Error('not a user message');
  for (const p of rx.payloads) await drain(p.open() as Readable);
  const signed = await signReceipt(rx.receipt, { privateKey: receiver.key, certificate: receiver.chain });
  await rx.dispose();
  return signed.xml;
}

const sent = await outbound();
const receiptXml = await inbound(sent);
console.log(
  `UserMessage on the wire ${sent.wire.length} bytes, Receipt ${receiptXml.length}; node ${process.version}`,
);

// The sending side, step by step.
await rate('send: createPMode', SECONDS, () => pmodeOf());
await rate('send: compressAttachment + buildUserMessage (text)', SECONDS, () => build());
const one = build();
await rate('send: signEnvelopeText (digests, SignedInfo, RSA-2048 signature)', SECONDS, () =>
  signEnvelopeText(one.built, [one.attachment], signing),
);
await rate('send: encryptAttachmentsText (RSA-OAEP key transport)', SECONDS, () =>
  encryptAttachmentsText([one.attachment], { recipientCertificate: receiver.certificate }),
);
await rate('send: the whole outbound message, body read (build, sign, encrypt, write)', SECONDS, outbound);

// The receiving side.
await rate('receive: readMimeMessage', SECONDS, () =>
  readMimeMessage(Readable.from([sent.wire]), { contentType: sent.contentType, sink: memorySink() }),
);
const mime = await readMimeMessage(Readable.from([sent.wire]), {
  contentType: sent.contentType,
  sink: memorySink(),
});
await rate('receive: parseEnvelope + parseMessaging (UserMessage)', SECONDS, () =>
  parseMessaging(parseEnvelope(mime.envelope).messaging),
);
const env = parseEnvelope(mime.envelope);
await rate('receive: verifyEnvelope (UserMessage, attachment digest deferred)', SECONDS, () =>
  verifyEnvelope(env.document, mime.attachments, { trust: () => true, deferAttachmentDigests: true }),
);
const verified = await verifyEnvelope(env.document, mime.attachments, {
  trust: () => true,
  deferAttachmentDigests: true,
});
await rate('receive: buildReceipt', SECONDS, () =>
  buildReceipt({ refToMessageId: 'm@bench', references: verified.references }),
);
const receipt = buildReceipt({ refToMessageId: 'm@bench', references: verified.references });
await rate('receive: signReceipt (RSA-2048 signature)', SECONDS, () =>
  signReceipt(receipt, { privateKey: receiver.key, certificate: receiver.chain }),
);
await rate('receive: the whole inbound message, receipt signed (receiveAs4Message)', SECONDS, () =>
  inbound(sent),
);

// The sending side reads the receipt.
const receiptBytes = Buffer.from(receiptXml);
await rate('send: parseEnvelope + parseMessaging (Receipt)', SECONDS, () =>
  parseMessaging(parseEnvelope(receiptBytes).messaging),
);
const renv = parseEnvelope(receiptBytes);
const rsignal = parseMessaging(renv.messaging);
await rate('send: verifyEnvelope (Receipt)', SECONDS, () =>
  verifyEnvelope(renv.document, [], { trust: () => true }),
);
const sentMessageId = rsignal.kind === 'signal' ? rsignal.signalMessages[0]!.messageInfo.refToMessageId! : '';
await rate('send: checkReceiptNri', SECONDS, () => {
  if (rsignal.kind !== 'signal') throw new Error('not a signal');
  checkReceiptNri(rsignal.signalMessages[0]!, { messageId: sentMessageId, references: sent.references });
});

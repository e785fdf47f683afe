// What the received AS4 envelope's DOM costs per message: a signed and encrypted UserMessage as the nodes send it
// (eb:Messaging with four-corner properties, one compressed payload part), parsed the way the receive path parses
// it (xmldom tree via parseEnvelope), against xmldom's SAX into the lean tree (parseXmlLean), plus the signature
// check over the DOM and the heap a retained tree holds. CPU per operation (process.cpuUsage, GC included).
// Run: node --conditions=ehmi-source --expose-gc --max-semi-space-size=128 --import tsx packages/as4/bench/envelope-dom.bench.ts
import { createPrivateKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Readable } from 'node:stream';
import { parseXml, parseXmlLean, serializeXml } from '@ehmi/xml';
import {
  buildReceipt,
  buildUserMessage,
  compressAttachment,
  createPMode,
  parseEnvelope,
  signReceipt,
  verifyReceipt,
} from '../src/index.ts';
import { encryptAttachments } from '../src/wss/encrypt.ts';
import { signEnvelope } from '../src/wss/sign.ts';
import { verifyEnvelope } from '../src/wss/verify.ts';
import { AS4_FIXTURES } from '../test/helpers.ts';
import { rate } from './rate.ts';

const key = createPrivateKey(readFileSync(`${AS4_FIXTURES}keys/phase4-ph-as4.key.pem`));
const cert = readFileSync(`${AS4_FIXTURES}keys/phase4-ph-as4.cert.pem`, 'utf8');
const GLN = 'urn:oasis:names:tc:ebcore:partyid-type:iso6523:0088';
const pmode = createPMode({
  id: 'bench',
  initiator: { partyIds: [{ value: '5790000000001', type: GLN }] },
  responder: { partyIds: [{ value: '5790000000002', type: GLN }] },
  service: { value: 'urn:ehmi:bench-service' },
  action: 'urn:ehmi:bench-action',
});
pmode.leg.security.x509.encryption.required = true;
const part = compressAttachment(
  {
    contentId: 'payload-1@ehmi.bench',
    headers: { 'content-type': 'application/xml' },
    open: () => Readable.from([Buffer.from('<Bundle xmlns="http://hl7.org/fhir"/>')]),
  },
  { mimeType: 'application/xml', characterSet: 'utf-8' },
);
const built = buildUserMessage(
  {
    messageProperties: [
      { name: 'originalSender', value: '0088:5790000000001', type: 'iso6523-actorid-upis' },
      { name: 'finalRecipient', value: '0088:5790000000002', type: 'iso6523-actorid-upis' },
    ],
    payloadInfo: [{ href: `cid:${part.attachment.contentId}`, partProperties: part.partProperties }],
  },
  pmode,
);
await signEnvelope(built.document, [part.attachment], { privateKey: key, certificate: cert });
const sent = (await encryptAttachments(built.document, [part.attachment], { recipientCertificate: cert }))
  .attachments;
const xml = Buffer.from(serializeXml(built.document));
const verified = await verifyEnvelope(parseEnvelope(xml).document, sent, {
  trust: () => true,
  deferAttachmentDigests: true,
});
const receiptXml = Buffer.from(
  (
    await signReceipt(buildReceipt({ refToMessageId: 'm@bench', references: verified.references }), {
      privateKey: key,
      certificate: cert,
    })
  ).xml,
);

/** Heap a retained tree holds (needs --expose-gc): 200 trees kept, the heap before and after, per tree. */
function retained(label: string, make: () => unknown): void {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) return;
  gc();
  const before = process.memoryUsage().heapUsed;
  const keep = Array.from({ length: 200 }, make);
  gc();
  const after = process.memoryUsage().heapUsed;
  console.log(
    `${label.padEnd(64)} ${((after - before) / keep.length / 1024).toFixed(1).padStart(7)} KiB per tree`,
  );
}

/**
 * Bytes allocated per call (needs --expose-gc and a young generation large enough that no scavenge runs in the
 * batch, e.g. --max-semi-space-size=128): the heap grown over 100 calls whose results are dropped.
 */
function allocated(label: string, fn: () => unknown): void {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) return;
  gc();
  const before = process.memoryUsage().heapUsed;
  for (let i = 0; i < 100; i++) fn();
  const after = process.memoryUsage().heapUsed;
  console.log(`${label.padEnd(64)} ${((after - before) / 100 / 1024).toFixed(1).padStart(7)} KiB allocated`);
}

if (!(globalThis as { gc?: unknown }).gc)
  console.log('(heap figures need --expose-gc --max-semi-space-size=128)');
console.log(`UserMessage envelope (signed, encrypted): ${xml.length} bytes; node ${process.version}`);
const secs = Number(process.env.EHMI_BENCH_SECONDS ?? 2);
await rate('parseXml (xmldom DOM, no locator)', secs, () => parseXml(xml, { locator: false }));
await rate('parseEnvelope (xmldom DOM + SOAP/ebMS structure checks)', secs, () => parseEnvelope(xml));
await rate('parseXmlLean (xmldom SAX, lean tree)', secs, () => parseXmlLean(xml, { source: 'bench' }));
const env = parseEnvelope(xml);
await rate('verifyEnvelope over the DOM (RSA-2048, digests deferred)', secs, () =>
  verifyEnvelope(env.document, sent, { trust: () => true, deferAttachmentDigests: true }),
);
retained('retained: xmldom DOM', () => parseXml(xml, { locator: false }));
retained('retained: lean tree', () => parseXmlLean(xml, { source: 'bench' }));
allocated('allocated: parseEnvelope', () => parseEnvelope(xml));
allocated('allocated: parseXmlLean', () => parseXmlLean(xml, { source: 'bench' }));
console.log(`signed Receipt envelope: ${receiptXml.length} bytes`);
await rate('parseEnvelope (Receipt)', secs, () => parseEnvelope(receiptXml));
await rate('parseXmlLean (Receipt)', secs, () => parseXmlLean(receiptXml, { source: 'bench' }));
await rate('verifyReceipt over the DOM (RSA-2048)', secs, () =>
  verifyReceipt(receiptXml, { messageId: 'm@bench', references: verified.references }, { trust: () => true }),
);
retained('retained: xmldom DOM (Receipt)', () => parseXml(receiptXml, { locator: false }));
allocated('allocated: parseEnvelope (Receipt)', () => parseEnvelope(receiptXml));
allocated('allocated: parseXmlLean (Receipt)', () => parseXmlLean(receiptXml, { source: 'bench' }));

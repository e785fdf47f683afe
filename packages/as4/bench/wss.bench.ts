// WS-Security throughput: sign + verify of a 50 KB envelope, per second (RSA-2048 / Ed25519), and streaming
// AES-128-GCM encrypt + decrypt of a 1 MiB attachment.
// Run: node --conditions=ehmi-source --import tsx packages/as4/bench/wss.bench.ts
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { parseXml, serializeXml } from '@ehmi/xml';
import { memorySink } from '../src/mime/sink.ts';
import type { As4Attachment } from '../src/model/attachment.ts';
import { decryptAttachments } from '../src/wss/decrypt.ts';
import { encryptAttachments } from '../src/wss/encrypt.ts';
import { signEnvelope } from '../src/wss/sign.ts';
import { verifyEnvelope } from '../src/wss/verify.ts';
import { memoryAttachment, readAll, type TestParty, testPki, trustRoot } from '../test/wss/helpers.ts';
import { rate } from './rate.ts';

const pki = await testPki();
const trust = trustRoot(pki.root);

/** A SOAP 1.2 AS4 envelope of about `bytes` octets: eb:Messaging plus an XML body of repeated elements. */
function envelope(bytes: number): string {
  const item = '<p:Item xmlns:p="urn:bench" a="1" b="two">Some text &amp; more text 0123456789</p:Item>';
  const body = item.repeat(Math.ceil(bytes / item.length));
  return (
    '<S12:Envelope xmlns:S12="http://www.w3.org/2003/05/soap-envelope"><S12:Header>' +
    '<eb:Messaging xmlns:eb="http://docs.oasis-open.org/ebxml-msg/ebms/v3.0/ns/core/200704/" S12:mustUnderstand="true">' +
    '<eb:UserMessage><eb:MessageInfo><eb:Timestamp>2026-11-26T00:00:00Z</eb:Timestamp><eb:MessageId>m@bench</eb:MessageId>' +
    '</eb:MessageInfo></eb:UserMessage></eb:Messaging></S12:Header>' +
    `<S12:Body>${body}</S12:Body></S12:Envelope>`
  );
}

/** Like {@link rate}, for a fixed number of runs (each run consumes prepared input). */
async function fixed(label: string, runs: number, fn: (i: number) => Promise<void>): Promise<void> {
  const cpu0 = process.cpuUsage();
  const start = performance.now();
  for (let i = 0; i < runs; i++) await fn(i);
  const elapsed = (performance.now() - start) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const cpuMs = (cpu.user + cpu.system) / 1000 / runs;
  console.log(
    `${label.padEnd(84)} ${(runs / elapsed).toFixed(1).padStart(8)} /s wall  ${cpuMs.toFixed(2).padStart(7)} ms cpu/op  (${(1000 / cpuMs).toFixed(0)} /s per core)`,
  );
}

const xml50k = envelope(50 * 1024);
console.log(`envelope: ${Buffer.byteLength(xml50k)} bytes; node ${process.version}`);
const parsed = parseXml(xml50k);
await rate('context: parseXml 50 KB (@ehmi/xml, xmldom)', 2, async () => {
  parseXml(xml50k);
});
await rate('context: serializeXml 50 KB', 2, async () => {
  serializeXml(parsed);
});

for (const [name, party, profile] of [
  ['RSA-2048', pki.rsa, 'edelivery-1.15'],
  ['Ed25519', pki.ed25519, 'edelivery-2.0'],
] as const) {
  const signOnce = async (p: TestParty, atts: As4Attachment[], xml: string) => {
    const doc = parseXml(xml);
    await signEnvelope(doc, atts, { privateKey: p.key, certificate: p.certificate });
    return serializeXml(doc);
  };
  const signed = await signOnce(party, [], xml50k);
  const signedDoc = parseXml(signed);
  // Signing changes the DOM, so each run needs its own: parse a pool outside the timed loop, sign each once.
  const pool = Array.from({ length: 200 }, () => parseXml(xml50k));
  await fixed(`sign 50 KB envelope, DOM in hand (${name})`, pool.length, async (i) => {
    await signEnvelope(pool[i]!, [], { privateKey: party.key, certificate: party.certificate });
  });
  await rate(`verify 50 KB envelope, DOM in hand (${name})`, 2, async () => {
    await verifyEnvelope(signedDoc, [], { trust, profile });
  });
  await rate(`sign + serialize + parse + verify 50 KB envelope (${name})`, 2, async () => {
    const s = await signOnce(party, [], xml50k);
    await verifyEnvelope(parseXml(s), [], { trust, profile });
  });
  const att = memoryAttachment('payload@bench', randomBytes(50 * 1024));
  const small = envelope(0);
  await rate(`sign + serialize + parse + verify: 1 KB envelope + 50 KB attachment (${name})`, 2, async () => {
    const s = await signOnce(party, [att], small);
    await verifyEnvelope(parseXml(s), [att], { trust, profile });
  });
}

const mib = memoryAttachment('big@bench', randomBytes(1024 * 1024));
await rate('encrypt + decrypt 1 MiB attachment (RSA-OAEP, AES-128-GCM, streamed)', 2, async () => {
  const doc = parseXml(envelope(0));
  const enc = await encryptAttachments(doc, [mib], { recipientCertificate: pki.rsa2.certificate });
  const wire = memoryAttachment('big@bench', await readAll(enc.attachments[0]!));
  const dec = await decryptAttachments(doc, [wire], { privateKey: pki.rsa2.key, sink: memorySink() });
  await readAll(dec.attachments[0]!);
});

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { childElement, descendantElements, type Element, excC14n, parseXml } from '@ehmi/xml';
import { userMessageXml } from '../../src/ebms/build.ts';
import { buildUserMessage } from '../../src/message/build.ts';
import type { UserMessage } from '../../src/model/user-message.ts';
import { buildReceipt } from '../../src/receipt/build.ts';
import { signReceipt } from '../../src/receipt/sign.ts';
import { buildErrorSignal } from '../../src/signals/error.ts';
import { buildEnvelope, envelopeXml } from '../../src/soap/build.ts';
import { checkEnvelope } from '../../src/soap/envelope.ts';
import { decryptAttachments } from '../../src/wss/decrypt.ts';
import { encryptAttachmentsText } from '../../src/wss/encrypt.ts';
import { NS } from '../../src/wss/ns.ts';
import { signEnvelope } from '../../src/wss/sign.ts';
import { signEnvelopeText } from '../../src/wss/sign-text.ts';
import { verifyEnvelope } from '../../src/wss/verify.ts';
import { memoryAttachment, readAll, testPki, trustRoot, XMLSEC1, xmlsec1Verify } from './helpers.ts';

/** A small deterministic generator, so that a failure names the seed that made it. */
function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// Characters c14n treats specially in text or attributes, markup look-alikes, and non-ASCII.
const PIECES = [
  'a',
  'Z',
  '0',
  ' ',
  '&',
  '<',
  '>',
  '"',
  "'",
  '\t',
  '\n',
  '\r',
  'æøå',
  '€',
  '😀',
  ']]>',
  '&amp;',
  '=',
  '#',
];

function value(rand: () => number, min = 0): string {
  const n = min + Math.floor(rand() * 6);
  let s = '';
  for (let i = 0; i < n; i++) s += PIECES[Math.floor(rand() * PIECES.length)];
  return s === '' && min > 0 ? 'x' : s;
}

function userMessage(rand: () => number, payloads: number): UserMessage {
  const nonBlank = () => `v${value(rand, 1)}`;
  const um: UserMessage = {
    messageInfo: { timestamp: '2026-12-07T00:00:00.000Z', messageId: `${nonBlank()}@ehmi` },
    partyInfo: {
      from: { partyIds: [{ value: value(rand), type: value(rand) }], role: nonBlank() },
      to: { partyIds: [{ value: value(rand) }, { value: value(rand), type: 'urn:x' }], role: nonBlank() },
    },
    collaborationInfo: {
      service: rand() < 0.5 ? { value: nonBlank() } : { value: nonBlank(), type: value(rand) },
      action: nonBlank(),
      conversationId: nonBlank(),
    },
    messageProperties: Array.from({ length: Math.floor(rand() * 4) }, () => ({
      name: value(rand, 1),
      value: value(rand),
      ...(rand() < 0.5 ? { type: value(rand) } : {}),
    })),
    payloadInfo: Array.from({ length: payloads }, (_, i) => ({
      href: `cid:part-${i}${value(rand)}@test`,
      partProperties: [{ name: 'MimeType', value: value(rand) }],
    })),
  };
  if (rand() < 0.5) um.messageInfo.refToMessageId = value(rand);
  if (rand() < 0.5) um.mpc = value(rand);
  if (rand() < 0.5) {
    um.collaborationInfo.agreementRef = {
      value: value(rand),
      ...(rand() < 0.5 ? { type: value(rand) } : {}),
      ...(rand() < 0.5 ? { pmode: value(rand) } : {}),
    };
  }
  return um;
}

/** eb:Messaging, the Body and SignedInfo of a parsed envelope. */
function partsOf(xml: string): { messaging: Element; body: Element; signedInfo: Element | undefined } {
  const env = checkEnvelope(parseXml(xml));
  const signature = env.security && childElement(env.security, NS.ds, 'Signature');
  return {
    messaging: env.messaging,
    body: env.body,
    signedInfo: signature ? childElement(signature, NS.ds, 'SignedInfo') : undefined,
  };
}

const payloadOf = (i: number, contentId: string) =>
  memoryAttachment(contentId, Buffer.from(`<p n="${i}"/>`), { 'content-type': 'application/gzip' });

describe('the text signer: our envelopes written canonical, signed without a DOM', () => {
  it('each fragment we write is its own exclusive c14n, over 300 generated messages', async () => {
    const pki = await testPki();
    for (let seed = 1; seed <= 300; seed++) {
      const rand = prng(seed);
      const payloads = Math.floor(rand() * 4);
      const um = userMessage(rand, payloads);
      // An id prefix with what attribute escaping touches (no white space or '#': a reference URI is `#id`).
      const idPrefix = `p${value(rand).replace(/[\s#]/g, '')}`;
      const built = buildEnvelope(userMessageXml(um), { idPrefix });
      const attachments = um.payloadInfo.map((p, i) => payloadOf(i, p.href!.slice(4)));
      const signed = await signEnvelopeText(built, attachments, {
        privateKey: pki.rsa.key,
        certificate: pki.rsa.certificate,
      });
      const xml = envelopeXml(built, signed.securityXml);
      const parts = partsOf(xml);
      assert.equal(excC14n(parts.messaging), built.messagingXml, `seed ${seed}: eb:Messaging`);
      assert.equal(excC14n(parts.body), built.bodyXml, `seed ${seed}: Body`);
      const signedInfo = excC14n(parts.signedInfo!);
      assert.ok(xml.includes(signedInfo), `seed ${seed}: SignedInfo is written canonical`);
      assert.equal(signed.references.length, 2 + payloads);
      const verified = await verifyEnvelope(parseXml(xml), attachments, { trust: trustRoot(pki.root) });
      assert.ok(
        verified.references.every((r) => r.digestVerified),
        `seed ${seed}: every reference verifies`,
      );
    }
  });

  it('the same signature as the DOM signer: equal canonical envelopes once the fresh ids are aligned', async () => {
    const pki = await testPki();
    for (const tokenReference of ['BinarySecurityToken', 'IssuerSerial', 'SKI', 'Thumbprint'] as const) {
      const built = buildUserMessage({
        from: { partyIds: [{ value: '5790000000001', type: 'urn:gln' }], role: 'r1' },
        to: { partyIds: [{ value: '5790000000002' }], role: 'r2' },
        service: { value: 'urn:s', type: 't&<>"' },
        action: 'a',
        messageProperties: [{ name: 'originalSender', value: 'x & <y>', type: 'iso6523-actorid-upis' }],
        payloadInfo: [{ href: 'cid:p1@x', partProperties: [{ name: 'MimeType', value: 'application/xml' }] }],
      });
      const options = {
        privateKey: pki.rsa.key,
        certificate: pki.rsa.chain,
        tokenReference,
        bstValueType: 'X509PKIPathv1' as const,
      };
      const text = await signEnvelopeText(built, [payloadOf(0, 'p1@x')], options);
      const dom = await signEnvelope(built.document, [payloadOf(0, 'p1@x')], options);
      const align = (xml: string) => xml.replace(/\b(SIG|KI|X509)-[0-9a-f-]{36}/g, '$1-id');
      assert.equal(
        align(excC14n(parseXml(envelopeXml(built, text.securityXml)).documentElement!)),
        align(excC14n(built.document.documentElement!)),
        tokenReference,
      );
      assert.deepEqual(
        text.references,
        dom.references.map(({ uri, transforms, digestMethod, digestValue }) => ({
          uri,
          transforms,
          digestMethod,
          digestValue,
        })),
      );
    }
  });

  it('signed and encrypted as text, the envelope verifies and its attachment decrypts (1.15 and 2.0 keys)', async () => {
    const pki = await testPki();
    for (const recipient of [pki.rsa2, pki.x25519]) {
      const built = buildUserMessage({
        from: { partyIds: [{ value: '1' }], role: 'r1' },
        to: { partyIds: [{ value: '2' }], role: 'r2' },
        service: { value: 's' },
        action: 'a',
        payloadInfo: [{ href: 'cid:p1@x', partProperties: [] }],
      });
      const attachment = payloadOf(7, 'p1@x');
      const signed = await signEnvelopeText(built, [attachment], {
        privateKey: pki.rsa.key,
        certificate: pki.rsa.chain,
        bstValueType: 'X509PKIPathv1',
      });
      const encrypted = await encryptAttachmentsText([attachment], {
        recipientCertificate: recipient.certificate,
      });
      const doc = parseXml(envelopeXml(built, encrypted.securityXml + signed.securityXml));
      const { attachments } = await decryptAttachments(doc, encrypted.attachments, {
        privateKey: recipient.key,
      });
      assert.equal((await readAll(attachments[0]!)).toString(), '<p n="7"/>');
      const verified = await verifyEnvelope(doc, attachments, { trust: trustRoot(pki.root) });
      assert.ok(verified.references.every((r) => r.digestVerified));
    }
  });

  it('a receipt echoing references written with any prefix, or none, is its own canonical form and verifies', async () => {
    const pki = await testPki();
    const signedElsewhere = parseXml(
      '<S xmlns:d="http://www.w3.org/2000/09/xmldsig#" xmlns:eb="urn:not-ebms"><d:SignedInfo>' +
        '<d:Reference URI="#a&amp;&quot;&lt;&gt;"><d:Transforms><d:Transform Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"><ec:InclusiveNamespaces xmlns:ec="http://www.w3.org/2001/10/xml-exc-c14n#" PrefixList="eb S12"/></d:Transform></d:Transforms><d:DigestMethod Algorithm="http://www.w3.org/2001/04/xmlenc#sha256"/><d:DigestValue>\n  AA==\n</d:DigestValue></d:Reference></d:SignedInfo>' +
        '<Signature xmlns="http://www.w3.org/2000/09/xmldsig#"><Reference URI="#b"><DigestValue>AQ==</DigestValue></Reference></Signature>' +
        '<ds:Reference xmlns:ds="http://www.w3.org/2000/09/xmldsig#" xmlns:wsu="urn:other" wsu:x="1" URI="cid:c"><ds:DigestValue>Ag==</ds:DigestValue></ds:Reference></S>',
    );
    const elements = descendantElements(signedElsewhere, NS.ds, 'Reference');
    const receipt = buildReceipt({
      refToMessageId: 'm&1@test',
      references: elements.map((element) => ({
        uri: element.getAttribute('URI')!,
        transforms: [],
        digestMethod: '',
        digestValue: '',
        element,
      })),
    });
    const signed = await signReceipt(receipt, { privateKey: pki.rsa.key, certificate: pki.rsa.certificate });
    const parts = partsOf(signed.xml);
    assert.equal(excC14n(parts.messaging), receipt.messagingXml);
    const echoed = descendantElements(parts.messaging, NS.ds, 'Reference');
    assert.deepEqual(
      echoed.map((r) => excC14n(r)),
      elements.map((r) => excC14n(r)),
    );
    const verified = await verifyEnvelope(parseXml(signed.xml), [], { trust: trustRoot(pki.root) });
    assert.ok(verified.references.every((r) => r.digestVerified));
  });

  it('a reception-awareness receipt echoes the received eb:UserMessage in its canonical form', () => {
    const received = buildUserMessage({
      from: { partyIds: [{ value: '1' }], role: 'r1' },
      to: { partyIds: [{ value: '2' }], role: 'r2' },
      service: { value: 's' },
      action: 'a & b',
    });
    const um = childElement(received.document.documentElement!, NS.soap12, 'Header')!;
    const userMessage = descendantElements(um, NS.eb, 'UserMessage')[0]!;
    const receipt = buildReceipt({ refToMessageId: 'm1@test', userMessage });
    assert.equal(excC14n(partsOf(envelopeXml(receipt)).messaging), receipt.messagingXml);
  });

  it('an error signal is written canonical too, with eb:Error and xml:lang in c14n order', () => {
    const signal = buildErrorSignal(new Error('x'), { refToMessageInError: 'm<1>@x' });
    assert.equal(excC14n(partsOf(envelopeXml(signal)).messaging), signal.messagingXml);
  });

  it('refuses a value holding a character XML forbids, as a parse would (EHMI_XML_MALFORMED)', () => {
    for (const bad of ['a\u0001b', 'a\uD800b', 'a\uFFFEb']) {
      assert.throws(
        () =>
          buildUserMessage({
            messageId: `${bad}@x`,
            from: { partyIds: [{ value: '1' }], role: 'r1' },
            to: { partyIds: [{ value: '2' }], role: 'r2' },
            service: { value: 's' },
            action: 'a',
          }),
        { code: 'EHMI_XML_MALFORMED' },
      );
    }
  });

  it('the envelope is parsed only when its DOM is asked for', () => {
    const built = buildUserMessage({
      from: { partyIds: [{ value: '1' }], role: 'r1' },
      to: { partyIds: [{ value: '2' }], role: 'r2' },
      service: { value: 's' },
      action: 'a',
    });
    const first = built.document;
    assert.equal(built.document, first);
    assert.equal(excC14n(checkEnvelope(first).messaging), built.messagingXml);
  });
});

describe('text-signed envelopes verify with xmlsec1 (independent implementation)', {
  skip: !XMLSEC1 && 'no xmlsec1',
}, () => {
  it('a user message and the receipt for it, over generated values; a changed value fails', async () => {
    const pki = await testPki();
    const pem = pki.rsa.certificate.toString();
    for (let seed = 1; seed <= 12; seed++) {
      const rand = prng(1000 + seed);
      const built = buildEnvelope(userMessageXml(userMessage(rand, 0)));
      const signed = await signEnvelopeText(built, [], {
        privateKey: pki.rsa.key,
        certificate: pki.rsa.certificate,
      });
      const xml = envelopeXml(built, signed.securityXml);
      const r = xmlsec1Verify(xml, pem);
      assert.ok(r.ok, `seed ${seed}: ${r.output}`);
      const receipt = buildReceipt({
        refToMessageId: 'm1@test',
        references: descendantElements(parseXml(xml), NS.ds, 'Reference').map((element) => ({
          uri: element.getAttribute('URI')!,
          transforms: [],
          digestMethod: '',
          digestValue: '',
          element,
        })),
      });
      const signedReceipt = await signReceipt(receipt, {
        privateKey: pki.rsa.key,
        certificate: pki.rsa.certificate,
      });
      const rr = xmlsec1Verify(signedReceipt.xml, pem);
      assert.ok(rr.ok, `seed ${seed} receipt: ${rr.output}`);
      assert.equal(
        xmlsec1Verify(signedReceipt.xml.replace('m1@test', 'm2@test'), pem).ok,
        false,
        'xmlsec1 refuses a changed receipt',
      );
    }
  });
});

import { createHash, type KeyObject, sign } from 'node:crypto';
import { describe, it } from 'node:test';
import { childElement, type Document, type Element, excC14n, parseXml } from '@ehmi/xml';
import { ALG } from '../../src/wss/algorithms.ts';
import { NS } from '../../src/wss/ns.ts';
import { signEnvelope } from '../../src/wss/sign.ts';
import { MAX_SIGNATURE_REFERENCES, verifyEnvelope } from '../../src/wss/verify.ts';
import { memoryAttachment, rejectsWith, reparse, testPki, trustRoot, userMessageXml } from './helpers.ts';

const LEGACY = {
  signature: [ALG.rsaSha256, ALG.rsaSha1],
  digest: [ALG.sha256, ALG.sha1],
  dataEncryption: [],
  keyTransport: [],
};
const BODY = Buffer.from('payload bytes 0123456789');
const payload = (body = BODY, id = 'payload-1@test') => memoryAttachment(id, body);

async function signed(
  attachments = [payload()],
): Promise<{ doc: Document; trust: ReturnType<typeof trustRoot> }> {
  const pki = await testPki();
  const doc = parseXml(userMessageXml());
  await signEnvelope(doc, attachments, { privateKey: pki.rsa.key, certificate: pki.rsa.certificate });
  return { doc: reparse(doc), trust: trustRoot(pki.root) };
}

function el(doc: Document, ns: string, name: string): Element {
  return doc.getElementsByTagNameNS(ns, name)[0] as Element;
}

/** Re-signs SignedInfo after a test changed it, so only the change under test can fail. */
function resign(doc: Document, key: KeyObject, hash: 'sha256' | 'sha1' = 'sha256'): void {
  const si = el(doc, NS.ds, 'SignedInfo');
  const value = sign(hash, Buffer.from(excC14n(si), 'utf8'), key).toString('base64');
  el(doc, NS.ds, 'SignatureValue').textContent = value;
}

describe('hardening: tampering and signature wrapping (EBMS:0101 / EBMS:0103)', () => {
  it('EBMS:0101 FailedAuthentication when one byte of the attachment changes', async () => {
    const { doc, trust } = await signed();
    const tampered = Buffer.from(BODY);
    tampered[3] = tampered[3]! ^ 1;
    await rejectsWith(verifyEnvelope(doc, [payload(tampered)], { trust }), 'EBMS:0101', 'digest');
  });

  it('EBMS:0101 FailedAuthentication when eb:Messaging changes', async () => {
    const { doc, trust } = await signed();
    el(doc, NS.eb, 'MessageId').textContent = 'other@test';
    await rejectsWith(verifyEnvelope(reparse(doc), [payload()], { trust }), 'EBMS:0101', 'digest');
  });

  it('EBMS:0101 FailedAuthentication when the SOAP Body changes', async () => {
    const { doc, trust } = await signed();
    const body = el(doc, NS.soap12, 'Body');
    body.appendChild(doc.createTextNode('x'));
    await rejectsWith(verifyEnvelope(reparse(doc), [payload()], { trust }), 'EBMS:0101', 'digest');
  });

  it('EBMS:0101 FailedAuthentication when the SignatureValue changes', async () => {
    const { doc, trust } = await signed();
    const sv = el(doc, NS.ds, 'SignatureValue');
    const bytes = Buffer.from(sv.textContent!, 'base64');
    bytes[10] = bytes[10]! ^ 1;
    sv.textContent = bytes.toString('base64');
    await rejectsWith(verifyEnvelope(doc, [payload()], { trust }), 'EBMS:0101', 'signature-value');
  });

  it('EBMS:0101 for signature wrapping: the signed eb:Messaging moved aside and a forged one put in its place', async () => {
    const { doc, trust } = await signed();
    const header = el(doc, NS.soap12, 'Header');
    const original = el(doc, NS.eb, 'Messaging');
    const forged = original.cloneNode(true) as Element;
    forged.removeAttributeNS(NS.wsu, 'Id');
    childElement(
      childElement(childElement(forged, NS.eb, 'UserMessage')!, NS.eb, 'MessageInfo')!,
      NS.eb,
      'MessageId',
    )!.textContent = 'forged@evil';
    const wrapper = doc.createElementNS('urn:evil', 'evil:Wrapper');
    header.replaceChild(forged, original);
    wrapper.appendChild(original);
    header.appendChild(wrapper);
    await rejectsWith(
      verifyEnvelope(reparse(doc), [payload()], { trust }),
      'EBMS:0101',
      'reference-misplaced',
    );
  });

  it('EBMS:0101 for signature wrapping: the signed Body moved into a header and a new Body inserted', async () => {
    const { doc, trust } = await signed();
    const envelope = doc.documentElement!;
    const header = el(doc, NS.soap12, 'Header');
    const body = el(doc, NS.soap12, 'Body');
    const wrapper = doc.createElementNS('urn:evil', 'evil:Wrapper');
    wrapper.appendChild(body);
    header.appendChild(wrapper);
    const forged = doc.createElementNS(NS.soap12, 'S12:Body');
    forged.appendChild(doc.createTextNode('forged'));
    envelope.appendChild(forged);
    await rejectsWith(
      verifyEnvelope(reparse(doc), [payload()], { trust }),
      'EBMS:0101',
      'reference-misplaced',
    );
  });

  it('EBMS:0101 for a duplicate wsu:Id (a forged eb:Messaging copying the signed id)', async () => {
    const { doc, trust } = await signed();
    const header = el(doc, NS.soap12, 'Header');
    const original = el(doc, NS.eb, 'Messaging');
    const wrapper = doc.createElementNS('urn:evil', 'evil:Wrapper');
    wrapper.appendChild(original.cloneNode(true));
    header.appendChild(wrapper);
    await rejectsWith(verifyEnvelope(reparse(doc), [payload()], { trust }), 'EBMS:0101', 'duplicate-id');
  });

  it('EBMS:0101 when a signed attachment is missing', async () => {
    const { doc, trust } = await signed();
    await rejectsWith(verifyEnvelope(doc, [], { trust }), 'EBMS:0101', 'attachment-missing');
  });

  it('EBMS:0103 when an attachment is present but not signed', async () => {
    const { doc, trust } = await signed();
    const extra = payload(Buffer.from('smuggled'), 'extra@test');
    await rejectsWith(verifyEnvelope(doc, [payload(), extra], { trust }), 'EBMS:0103', 'attachment-unsigned');
  });

  it('EBMS:0103 for an unsigned attachment even when the digests are deferred', async () => {
    const { doc, trust } = await signed();
    const extra = payload(Buffer.from('smuggled'), 'extra@test');
    await rejectsWith(
      verifyEnvelope(doc, [payload(), extra], { trust, deferAttachmentDigests: true }),
      'EBMS:0103',
      'attachment-unsigned',
    );
  });

  it('EBMS:0101 for a missing signed attachment even when the digests are deferred', async () => {
    const { doc, trust } = await signed();
    await rejectsWith(
      verifyEnvelope(doc, [], { trust, deferAttachmentDigests: true }),
      'EBMS:0101',
      'attachment-missing',
    );
  });

  it('EBMS:0101 for two attachments with the same Content-ID', async () => {
    const { doc, trust } = await signed();
    await rejectsWith(
      verifyEnvelope(doc, [payload(), payload()], { trust }),
      'EBMS:0101',
      'duplicate-content-id',
    );
  });

  it('EBMS:0103 when the only signature sits in a Security header for another SOAP role', async () => {
    const { doc, trust } = await signed();
    const sec = el(doc, NS.wsse, 'Security');
    sec.setAttributeNS(NS.soap12, 'S12:role', 'urn:some-intermediary');
    await rejectsWith(verifyEnvelope(reparse(doc), [payload()], { trust }), 'EBMS:0103', 'unsigned');
  });

  it('a Security header for the role "next" is processed', async () => {
    const { doc, trust } = await signed();
    const sec = el(doc, NS.wsse, 'Security');
    sec.setAttributeNS(NS.soap12, 'S12:role', 'http://www.w3.org/2003/05/soap-envelope/role/next');
    await verifyEnvelope(reparse(doc), [payload()], { trust });
  });

  it('EBMS:0103 when the message carries no signature at all', async () => {
    const { trust } = await signed();
    await rejectsWith(verifyEnvelope(parseXml(userMessageXml()), [], { trust }), 'EBMS:0103', 'unsigned');
  });

  it('EBMS:0103 for RSA-SHA1 (known, but not allowed by eDelivery AS4 1.15)', async () => {
    const pki = await testPki();
    const { doc, trust } = await signed();
    el(doc, NS.ds, 'SignatureMethod').setAttribute('Algorithm', ALG.rsaSha1);
    resign(doc, pki.rsa.key, 'sha1');
    await rejectsWith(verifyEnvelope(doc, [payload()], { trust }), 'EBMS:0103');
    await verifyEnvelope(doc, [payload()], { trust, profile: LEGACY });
  });

  it('EBMS:0103 for a SHA-1 reference digest', async () => {
    const pki = await testPki();
    const { doc, trust } = await signed();
    const ref = el(doc, NS.ds, 'Reference');
    childElement(ref, NS.ds, 'DigestMethod')!.setAttribute('Algorithm', ALG.sha1);
    const target = el(doc, NS.eb, 'Messaging');
    childElement(ref, NS.ds, 'DigestValue')!.textContent = createHash('sha1')
      .update(excC14n(target))
      .digest('base64');
    resign(doc, pki.rsa.key);
    await rejectsWith(verifyEnvelope(doc, [payload()], { trust }), 'EBMS:0103');
    // The same message verifies under a policy that allows SHA-1: only the algorithm made it fail.
    await verifyEnvelope(doc, [payload()], { trust, profile: LEGACY });
  });

  it('EBMS:0101 for a reference to an element that is neither eb:Messaging, Body, Timestamp nor token', async () => {
    const pki = await testPki();
    const { doc, trust } = await signed();
    // Point the first reference at the eb:UserMessage inside eb:Messaging (given an id) and re-sign honestly.
    const um = el(doc, NS.eb, 'UserMessage');
    um.setAttributeNS(NS.wsu, 'wsu:Id', 'inner');
    const ref = el(doc, NS.ds, 'Reference');
    ref.setAttribute('URI', '#inner');
    childElement(ref, NS.ds, 'DigestValue')!.textContent = createHash('sha256')
      .update(excC14n(um))
      .digest('base64');
    resign(doc, pki.rsa.key);
    await rejectsWith(
      verifyEnvelope(reparse(doc), [payload()], { trust }),
      'EBMS:0101',
      'reference-misplaced',
    );
  });

  it('EBMS:0101 when SignedInfo references the same part twice', async () => {
    const pki = await testPki();
    const { doc, trust } = await signed();
    const ref = el(doc, NS.ds, 'Reference');
    ref.parentNode!.appendChild(ref.cloneNode(true));
    resign(doc, pki.rsa.key);
    await rejectsWith(verifyEnvelope(doc, [payload()], { trust }), 'EBMS:0101', 'duplicate-reference');
  });

  it('EBMS:0101 when SignedInfo has more references than MAX_SIGNATURE_REFERENCES (one over)', async () => {
    const pki = await testPki();
    const { doc, trust } = await signed();
    const ref = el(doc, NS.ds, 'Reference');
    const count = doc.getElementsByTagNameNS(NS.ds, 'Reference').length;
    for (let i = count; i < MAX_SIGNATURE_REFERENCES + 1; i++) {
      const copy = ref.cloneNode(true) as Element;
      copy.setAttribute('URI', `cid:extra-${i}@test`);
      ref.parentNode!.appendChild(copy);
    }
    resign(doc, pki.rsa.key);
    await rejectsWith(verifyEnvelope(doc, [payload()], { trust }), 'EBMS:0101', 'too-many-references');
  });

  it('exactly MAX_SIGNATURE_REFERENCES references pass the count check (they fail later, on the missing parts)', async () => {
    const pki = await testPki();
    const { doc, trust } = await signed();
    const ref = el(doc, NS.ds, 'Reference');
    const count = doc.getElementsByTagNameNS(NS.ds, 'Reference').length;
    for (let i = count; i < MAX_SIGNATURE_REFERENCES; i++) {
      const copy = ref.cloneNode(true) as Element;
      copy.setAttribute('URI', `cid:extra-${i}@test`);
      ref.parentNode!.appendChild(copy);
    }
    resign(doc, pki.rsa.key);
    await rejectsWith(verifyEnvelope(doc, [payload()], { trust }), 'EBMS:0101', 'transform');
  });

  it('EBMS:0101 for an XPath-style reference URI', async () => {
    const pki = await testPki();
    const { doc, trust } = await signed();
    el(doc, NS.ds, 'Reference').setAttribute('URI', "#xpointer(//*[local-name()='Messaging'])");
    resign(doc, pki.rsa.key);
    await rejectsWith(verifyEnvelope(doc, [payload()], { trust }), 'EBMS:0101', 'reference');
  });

  it('EBMS:0101 when KeyInfo points at an element that is not a BinarySecurityToken of the header', async () => {
    const { doc, trust } = await signed();
    const bodyId = el(doc, NS.soap12, 'Body').getAttributeNS(NS.wsu, 'Id');
    const ref = el(doc, NS.ds, 'KeyInfo').getElementsByTagNameNS(NS.wsse, 'Reference')[0] as Element;
    ref.setAttribute('URI', `#${bodyId}`);
    await rejectsWith(verifyEnvelope(doc, [payload()], { trust }), 'EBMS:0101', 'key-info');
  });

  it('EBMS:0101 for a second ds:Signature in the Security header', async () => {
    const { doc, trust } = await signed();
    const sig = el(doc, NS.ds, 'Signature');
    sig.parentNode!.appendChild(sig.cloneNode(true));
    await rejectsWith(verifyEnvelope(doc, [payload()], { trust }), 'EBMS:0101', 'signatures');
  });
});

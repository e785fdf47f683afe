import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { descendantElements, excC14n, parseXml, serializeXml } from '@ehmi/xml';
import { parseMessaging } from '../../src/ebms/parse.ts';
import { NS } from '../../src/lib/ns.ts';
import { buildReceipt, signedInfoReferences } from '../../src/receipt/build.ts';
import { checkEnvelope, parseEnvelope } from '../../src/soap/envelope.ts';
import { readVector, userMessageEnvelope } from '../helpers.ts';

describe('buildReceipt', () => {
  const received = parseEnvelope(readVector('phase4-receipt-helger-POP000306.as4in').body);
  const refs = signedInfoReferences(received.security!);

  it('echoes every ds:Reference in its canonical form in ebbp:MessagePartNRInformation (AS4 Profile §5.1.8)', () => {
    const uris = refs.map((r) => r.getAttribute('URI'));
    const receipt = buildReceipt({
      refToMessageId: 'm1@test',
      references: refs.map((element) => ({
        uri: element.getAttribute('URI')!,
        transforms: [],
        digestMethod: '',
        digestValue: '',
        element,
      })),
    });
    const copied = descendantElements(receipt.document, NS.DS, 'Reference');
    assert.deepEqual(
      copied.map((r) => r.getAttribute('URI')),
      uris,
    );
    // The receipt carries each received reference as exclusive c14n writes it: the same canonical bytes (and so the
    // same DigestValue text and transforms) as the received one, whatever its prefixes and empty-element tags.
    assert.deepEqual(
      copied.map((r) => excC14n(r)),
      refs.map((r) => excC14n(r)),
    );
    for (const r of refs) assert.ok(receipt.messagingXml.includes(excC14n(r)));
    for (const r of copied) assert.equal(r.parentNode?.localName, 'MessagePartNRInformation');
  });

  it('echoes a ds:Reference written with another prefix or none in its namespace, through a round trip', () => {
    const signed = parseXml(
      '<S xmlns:d="http://www.w3.org/2000/09/xmldsig#"><d:SignedInfo><d:Reference URI="#a"><d:DigestValue>AA==</d:DigestValue></d:Reference></d:SignedInfo>' +
        '<Signature xmlns="http://www.w3.org/2000/09/xmldsig#"><Reference URI="#b"><DigestValue>AQ==</DigestValue></Reference></Signature></S>',
    );
    const elements = descendantElements(signed, NS.DS, 'Reference');
    const receipt = buildReceipt({
      refToMessageId: 'm1@test',
      references: elements.map((element) => ({
        uri: element.getAttribute('URI')!,
        transforms: [],
        digestMethod: '',
        digestValue: '',
        element,
      })),
    });
    const back = parseEnvelope(serializeXml(receipt.document));
    const copied = descendantElements(back.document, NS.DS, 'Reference');
    assert.deepEqual(
      copied.map((r) => [r.prefix, r.getAttribute('URI'), r.textContent]),
      [
        ['d', '#a', 'AA=='],
        [null, '#b', 'AQ=='],
      ],
    );
    assert.equal(excC14n(back.messaging), excC14n(checkEnvelope(receipt.document).messaging));
  });

  it('builds a well-formed receipt envelope that parses back to the same model', () => {
    const references = [
      {
        uri: 'cid:p1@x',
        transforms: [
          {
            algorithm:
              'http://docs.oasis-open.org/wss/oasis-wss-SwAProfile-1.1#Attachment-Content-Signature-Transform',
          },
        ],
        digestMethod: 'http://www.w3.org/2001/04/xmlenc#sha256',
        digestValue: Buffer.alloc(32, 9).toString('base64'),
      },
      {
        uri: '#body',
        transforms: [{ algorithm: 'http://www.w3.org/2001/10/xml-exc-c14n#', inclusivePrefixes: ['S12'] }],
        digestMethod: 'http://www.w3.org/2001/04/xmlenc#sha256',
        digestValue: Buffer.alloc(32, 8).toString('base64'),
      },
    ];
    const receipt = buildReceipt({ refToMessageId: 'm1@test', references, messageId: 'r1@test' });
    const env = checkEnvelope(receipt.document);
    const m = parseMessaging(env.messaging);
    assert.equal(m.kind, 'signal');
    if (m.kind !== 'signal') return;
    assert.deepEqual(m.signalMessages[0], receipt.signal);
    assert.deepEqual(m.signalMessages[0]?.receipt?.nonRepudiationInformation, references);
    assert.equal(m.signalMessages[0]?.messageInfo.refToMessageId, 'm1@test');
  });

  it('echoes the eb:UserMessage for a reception-awareness receipt without signature', () => {
    const env = parseEnvelope(userMessageEnvelope());
    const um = descendantElements(env.messaging, NS.EB, 'UserMessage')[0]!;
    const receipt = buildReceipt({ refToMessageId: 'm1@test', userMessage: um });
    const m = parseMessaging(checkEnvelope(receipt.document).messaging);
    assert.equal(m.kind === 'signal' && m.signalMessages[0]?.receipt?.userMessageEcho, true);
  });

  it('EBMS:0103 for a non-repudiation receipt without references', () => {
    assert.throws(() => buildReceipt({ refToMessageId: 'm1@test', references: [] }), {
      ebmsCode: 'EBMS:0103',
    });
  });

  it('gives eb:Messaging and Body a wsu:Id so the receipt can be signed', () => {
    const receipt = buildReceipt({
      refToMessageId: 'm1@test',
      userMessage: parseEnvelope(userMessageEnvelope()).messaging,
    });
    const env = checkEnvelope(receipt.document);
    assert.equal(env.ids.get(receipt.messagingId), env.messaging);
    assert.equal(env.ids.get(receipt.bodyId), env.body);
  });
});

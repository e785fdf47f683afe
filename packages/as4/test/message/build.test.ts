import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { serializeXml } from '@ehmi/xml';
import { parseMessaging } from '../../src/ebms/parse.ts';
import { buildUserMessage } from '../../src/message/build.ts';
import { createPMode } from '../../src/pmode/profiles.ts';
import { checkEnvelope, parseEnvelope } from '../../src/soap/envelope.ts';

const pmode = createPMode({
  id: 'p',
  agreement: { value: 'urn:ehmi:agreement' },
  initiator: {
    partyIds: [{ value: '5790000000001', type: 'urn:oasis:names:tc:ebcore:partyid-type:iso6523:0088' }],
  },
  responder: {
    partyIds: [{ value: '5790000000002', type: 'urn:oasis:names:tc:ebcore:partyid-type:iso6523:0088' }],
  },
  service: { value: 'urn:ehmi:service' },
  action: 'urn:ehmi:action',
  fourCorner: false,
});

describe('buildUserMessage', () => {
  it('fills parties, service, action and agreement from the P-Mode', () => {
    const built = buildUserMessage({}, pmode);
    const um = built.userMessage;
    assert.equal(um.partyInfo.from.partyIds[0]?.value, '5790000000001');
    assert.equal(
      um.partyInfo.to.role,
      'http://docs.oasis-open.org/ebxml-msg/ebms/v3.0/ns/core/200704/responder',
    );
    assert.equal(um.collaborationInfo.action, 'urn:ehmi:action');
    assert.equal(um.collaborationInfo.agreementRef?.value, 'urn:ehmi:agreement');
    assert.equal(um.collaborationInfo.conversationId, um.messageInfo.messageId);
  });

  it('generates a UUID-based MessageId and a UTC timestamp', () => {
    const um = buildUserMessage({ idDomain: 'ap.ehmi.dk' }, pmode).userMessage;
    assert.match(um.messageInfo.messageId, /^[0-9a-f-]{36}@ap\.ehmi\.dk$/);
    assert.match(um.messageInfo.timestamp, /Z$/);
  });

  it('keeps a given MessageId (retries reuse it)', () => {
    assert.equal(
      buildUserMessage({ messageId: 'fixed@x' }, pmode).userMessage.messageInfo.messageId,
      'fixed@x',
    );
  });

  it('round-trips through the parser to the same model', () => {
    const built = buildUserMessage(
      {
        refToMessageId: 'prev@x',
        messageProperties: [{ name: 'originalSender', value: '0088:1', type: 'iso6523-actorid-upis' }],
        payloadInfo: [{ href: 'cid:p1@x', partProperties: [{ name: 'MimeType', value: 'application/xml' }] }],
        mpc: 'urn:mpc',
      },
      pmode,
    );
    const m = parseMessaging(parseEnvelope(serializeXml(built.document)).messaging);
    assert.equal(m.kind, 'user');
    assert.deepEqual(m.kind === 'user' && m.userMessage, built.userMessage);
  });

  it('puts wsu:Ids on eb:Messaging and Body, mustUnderstand on eb:Messaging, and leaves the Body empty', () => {
    const built = buildUserMessage({}, pmode);
    const env = checkEnvelope(built.document);
    assert.equal(env.ids.get(built.messagingId), env.messaging);
    assert.equal(env.ids.get(built.bodyId), env.body);
    assert.equal(
      env.messaging.getAttributeNS('http://www.w3.org/2003/05/soap-envelope', 'mustUnderstand'),
      'true',
    );
    assert.equal(env.body.childNodes.length, 0);
  });

  it('escapes values so markup in a property cannot inject elements', () => {
    const built = buildUserMessage(
      { messageProperties: [{ name: 'a"b', value: '</eb:Property><x/>' }] },
      pmode,
    );
    const m = parseMessaging(parseEnvelope(serializeXml(built.document)).messaging);
    assert.deepEqual(m.kind === 'user' && m.userMessage.messageProperties, [
      { name: 'a"b', value: '</eb:Property><x/>' },
    ]);
  });

  it('refuses a message without the properties the P-Mode requires (four corner)', () => {
    const strict = createPMode({ id: 's', service: { value: 'urn:s' }, action: 'urn:a' });
    const party = { partyIds: [{ value: 'a', type: 'urn:t' }], role: 'urn:r' };
    const input = { from: party, to: party };
    assert.throws(() => buildUserMessage(input, strict), {
      code: 'EHMI_VALIDATION_FAILED',
      message: /originalSender/,
    });
    buildUserMessage(
      {
        ...input,
        messageProperties: [
          { name: 'originalSender', value: '0088:1' },
          { name: 'finalRecipient', value: '0088:2' },
        ],
      },
      strict,
    );
  });

  it('refuses an empty Action', () => {
    assert.throws(() => buildUserMessage({ action: ' ' }, pmode), { code: 'EHMI_VALIDATION_FAILED' });
  });

  it('refuses to build without parties or service when there is no P-Mode', () => {
    assert.throws(() => buildUserMessage({ action: 'a' }), TypeError);
  });
});

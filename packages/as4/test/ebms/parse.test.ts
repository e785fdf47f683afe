import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseMessaging } from '../../src/ebms/parse.ts';
import { finalRecipient, originalSender } from '../../src/model/user-message.ts';
import { parseEnvelope } from '../../src/soap/envelope.ts';
import { userMessageEnvelope } from '../helpers.ts';

const parse = (xml: string) => parseMessaging(parseEnvelope(xml).messaging);
const replace = (from: string | RegExp, to: string) => userMessageEnvelope(['p1@x']).replace(from, to);

describe('parseMessaging: UserMessage (ebMS3 Core §5.2.2)', () => {
  it('reads MessageInfo, PartyInfo, CollaborationInfo and PayloadInfo', () => {
    const m = parse(userMessageEnvelope(['p1@x']));
    assert.equal(m.kind, 'user');
    if (m.kind !== 'user') return;
    const um = m.userMessage;
    assert.deepEqual(um.messageInfo, { timestamp: '2026-11-26T00:00:00Z', messageId: 'm1@test' });
    assert.deepEqual(um.partyInfo.from, { partyIds: [{ value: 'a', type: 'urn:t' }], role: 'urn:r1' });
    assert.equal(um.collaborationInfo.action, 'urn:a');
    assert.deepEqual(um.payloadInfo, [
      { href: 'cid:p1@x', partProperties: [{ name: 'MimeType', value: 'application/xml' }] },
    ]);
  });

  it('reads AgreementRef with @type and @pmode', () => {
    const m = parse(
      replace('<eb:Service>', '<eb:AgreementRef type="t" pmode="p">urn:ag</eb:AgreementRef><eb:Service>'),
    );
    assert.equal(m.kind, 'user');
    if (m.kind === 'user') {
      assert.deepEqual(m.userMessage.collaborationInfo.agreementRef, {
        value: 'urn:ag',
        type: 't',
        pmode: 'p',
      });
    }
  });

  it('reads originalSender and finalRecipient with their type (four corner)', () => {
    const props =
      '<eb:MessageProperties><eb:Property name="originalSender" type="iso6523-actorid-upis">0088:1</eb:Property>' +
      '<eb:Property name="finalRecipient" type="iso6523-actorid-upis">0088:2</eb:Property></eb:MessageProperties>';
    const m = parse(replace('<eb:PayloadInfo>', `${props}<eb:PayloadInfo>`));
    assert.equal(m.kind, 'user');
    if (m.kind !== 'user') return;
    assert.deepEqual(originalSender(m.userMessage), {
      name: 'originalSender',
      value: '0088:1',
      type: 'iso6523-actorid-upis',
    });
    assert.equal(finalRecipient(m.userMessage)?.value, '0088:2');
  });

  it('EBMS:0009 when eb:PartyId is missing', () => {
    assert.throws(() => parse(replace('<eb:PartyId type="urn:t">a</eb:PartyId>', '')), {
      ebmsCode: 'EBMS:0009',
    });
  });

  it('EBMS:0009 when eb:Action is missing', () => {
    assert.throws(() => parse(replace('<eb:Action>urn:a</eb:Action>', '')), { ebmsCode: 'EBMS:0009' });
  });

  it('EBMS:0009 when eb:MessageId is empty', () => {
    assert.throws(() => parse(replace('m1@test', '')), { ebmsCode: 'EBMS:0009' });
  });

  it('EBMS:0009 when eb:Timestamp is not an xsd:dateTime', () => {
    assert.throws(() => parse(replace('2026-11-26T00:00:00Z', 'yesterday')), { ebmsCode: 'EBMS:0009' });
  });

  it('EBMS:0009 when eb:ConversationId is repeated', () => {
    const dup = '<eb:ConversationId>c1</eb:ConversationId><eb:ConversationId>c2</eb:ConversationId>';
    assert.throws(() => parse(replace('<eb:ConversationId>c1</eb:ConversationId>', dup)), {
      ebmsCode: 'EBMS:0009',
    });
  });

  it('EBMS:0009 for an eb:Property without a name', () => {
    const props = '<eb:MessageProperties><eb:Property>x</eb:Property></eb:MessageProperties>';
    assert.throws(() => parse(replace('<eb:PayloadInfo>', `${props}<eb:PayloadInfo>`)), {
      ebmsCode: 'EBMS:0009',
    });
  });

  it('EBMS:0003 for two UserMessages (AS4: one per message)', () => {
    const xml = userMessageEnvelope();
    const um = xml.slice(xml.indexOf('<eb:UserMessage>'), xml.indexOf('</eb:UserMessage>') + 17);
    assert.throws(() => parse(xml.replace(um, um + um)), { ebmsCode: 'EBMS:0003' });
  });

  it('EBMS:0009 for an empty eb:Messaging', () => {
    const xml = userMessageEnvelope();
    const um = xml.slice(xml.indexOf('<eb:UserMessage>'), xml.indexOf('</eb:UserMessage>') + 17);
    assert.throws(() => parse(xml.replace(um, '')), { ebmsCode: 'EBMS:0009' });
  });
});

const signal = (inner: string, ref = '<eb:RefToMessageId>m1@test</eb:RefToMessageId>') =>
  '<S12:Envelope xmlns:S12="http://www.w3.org/2003/05/soap-envelope"><S12:Header>' +
  '<eb:Messaging xmlns:eb="http://docs.oasis-open.org/ebxml-msg/ebms/v3.0/ns/core/200704/"><eb:SignalMessage>' +
  `<eb:MessageInfo><eb:Timestamp>2026-11-26T00:00:00Z</eb:Timestamp><eb:MessageId>s1@test</eb:MessageId>${ref}</eb:MessageInfo>` +
  `${inner}</eb:SignalMessage></eb:Messaging></S12:Header><S12:Body/></S12:Envelope>`;

describe('parseMessaging: SignalMessage (ebMS3 Core §5.2.3)', () => {
  it('reads an eb:Error with every attribute and its ErrorDetail', () => {
    const m = parse(
      signal(
        '<eb:Error errorCode="EBMS:0303" severity="failure" category="Communication" origin="ebMS" shortDescription="DecompressionFailure" refToMessageInError="m1@test"><eb:Description xml:lang="en">bad</eb:Description><eb:ErrorDetail>EHMI_AS4_DECOMPRESSION_FAILURE</eb:ErrorDetail></eb:Error>',
      ),
    );
    assert.equal(m.kind, 'signal');
    if (m.kind !== 'signal') return;
    assert.deepEqual(m.signalMessages[0]?.errors[0], {
      errorCode: 'EBMS:0303',
      severity: 'failure',
      category: 'Communication',
      origin: 'ebMS',
      shortDescription: 'DecompressionFailure',
      refToMessageInError: 'm1@test',
      description: 'bad',
      errorDetail: 'EHMI_AS4_DECOMPRESSION_FAILURE',
    });
  });

  it('reads a PullRequest with its mpc', () => {
    const m = parse(signal('<eb:PullRequest mpc="urn:mpc"/>', ''));
    assert.equal(m.kind === 'signal' && m.signalMessages[0]?.pullRequest?.mpc, 'urn:mpc');
  });

  it('EBMS:0009 for a Receipt without RefToMessageId', () => {
    const nri =
      '<eb:Receipt><ebbp:NonRepudiationInformation xmlns:ebbp="http://docs.oasis-open.org/ebxml-bp/ebbp-signals-2.0"/></eb:Receipt>';
    assert.throws(() => parse(signal(nri, '')), { ebmsCode: 'EBMS:0009' });
  });

  it('EBMS:0009 for an empty eb:Receipt', () => {
    assert.throws(() => parse(signal('<eb:Receipt/>')), { ebmsCode: 'EBMS:0009' });
  });

  it('EBMS:0009 for a SignalMessage with both a Receipt and an Error', () => {
    const both =
      '<eb:Receipt><eb:UserMessage/></eb:Receipt><eb:Error errorCode="EBMS:0004" severity="failure"/>';
    assert.throws(() => parse(signal(both)), { ebmsCode: 'EBMS:0009' });
  });

  it('EBMS:0009 for an eb:Error without errorCode', () => {
    assert.throws(() => parse(signal('<eb:Error severity="failure"/>')), { ebmsCode: 'EBMS:0009' });
  });
});

describe('parseMessaging: MessageId (ebMS3 Core §5.2.2.1)', () => {
  it('EBMS:0009 for a MessageId with whitespace or angle brackets', () => {
    const xml = userMessageEnvelope();
    assert.throws(() => parse(xml.replace('m1@test', 'm1 @test')), { ebmsCode: 'EBMS:0009' });
    assert.throws(() => parse(xml.replace('m1@test', '&lt;m1@test&gt;')), { ebmsCode: 'EBMS:0009' });
  });
});

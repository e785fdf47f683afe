import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { EBMS_URI, type UserMessage } from '@ehmi/as4';
import { normaliseParticipant, participantOfProperty } from '../../src/ap/discovery.ts';
import { GLN_PARTY_TYPE } from '../../src/ap/message.ts';
import { receivingPMode } from '../../src/ap/receive.ts';

const us = { participant: '0088:5790000000002', profile: 'edelivery-as4-1.15' as const };

function userMessage(
  overrides: Partial<UserMessage> & { finalRecipient?: { value: string; type?: string } | null } = {},
): UserMessage {
  const { finalRecipient, ...rest } = overrides;
  const props = [{ name: 'originalSender', value: '0088:5790000000001', type: 'iso6523-actorid-upis' }];
  if (finalRecipient !== null)
    props.push({
      name: 'finalRecipient',
      type: 'iso6523-actorid-upis',
      ...(finalRecipient ?? { value: '0088:5790000000002' }),
    });
  return {
    messageInfo: { timestamp: '2026-01-01T00:00:00Z', messageId: 'm@x' },
    partyInfo: {
      from: { partyIds: [{ value: '5790000000001', type: GLN_PARTY_TYPE }], role: EBMS_URI.defaultFrom },
      to: { partyIds: [{ value: '5790000000002', type: GLN_PARTY_TYPE }], role: EBMS_URI.defaultTo },
    },
    collaborationInfo: {
      service: { value: 'sdn-emergence', type: 'dk-medcom-messaging' },
      action: 'urn:doc',
      conversationId: 'c',
    },
    messageProperties: props,
    payloadInfo: [{ href: 'cid:p@x', partProperties: [] }],
    ...rest,
  } as UserMessage;
}

const mismatch = { code: 'EHMI_AS4_PMODE_MISMATCH' };

describe('receiving P-Mode (Dynamic Receiver, Four Corner)', () => {
  it('takes Service and Action from the message and requires the four-corner properties', () => {
    const p = receivingPMode(userMessage(), us);
    assert.equal(p.leg.businessInfo.service.value, 'sdn-emergence');
    assert.equal(p.leg.businessInfo.service.type, 'dk-medcom-messaging');
    assert.equal(p.leg.businessInfo.action, 'urn:doc');
    assert.deepEqual(p.leg.businessInfo.requiredProperties, ['originalSender', 'finalRecipient']);
    assert.equal(p.leg.security.x509.encryption.required, true);
  });

  it('EBMS:0010 for a finalRecipient that is not us, or none', () => {
    assert.throws(
      () => receivingPMode(userMessage({ finalRecipient: { value: '0088:5790000000099' } }), us),
      mismatch,
    );
    assert.throws(() => receivingPMode(userMessage({ finalRecipient: null }), us), mismatch);
  });

  it('EBMS:0010 for a GLN-typed To party that is not us; another To party type is left to finalRecipient', () => {
    const to = (value: string, type: string) => ({
      to: { partyIds: [{ value, type }], role: EBMS_URI.defaultTo },
    });
    const um = userMessage();
    assert.throws(
      () =>
        receivingPMode({ ...um, partyInfo: { ...um.partyInfo, ...to('5790000000099', GLN_PARTY_TYPE) } }, us),
      mismatch,
    );
    const other = {
      ...um,
      partyInfo: { ...um.partyInfo, ...to('ap-gp', 'urn:oasis:names:tc:ebcore:partyid-type:unregistered') },
    };
    assert.equal(receivingPMode(other, us).id, 'ehmi-receive');
  });

  it('EBMS:0010 for anything but one payload (the ehmiSBDH envelope)', () => {
    assert.throws(() => receivingPMode(userMessage({ payloadInfo: [] }), us), mismatch);
  });

  it('the test service needs no four-corner properties and no payload', () => {
    const um = userMessage({
      finalRecipient: null,
      payloadInfo: [],
      collaborationInfo: {
        service: { value: EBMS_URI.testService },
        action: EBMS_URI.testAction,
        conversationId: 'c',
      },
    });
    const p = receivingPMode(um, us);
    assert.equal(p.id, 'ehmi-test-service');
    assert.deepEqual(p.leg.businessInfo.requiredProperties, []);
  });

  it('reads participants in the Peppol and the ebCore forms alike', () => {
    assert.equal(
      participantOfProperty({ value: '0088:5790000000002', type: 'iso6523-actorid-upis' }),
      '0088:5790000000002',
    );
    assert.equal(
      participantOfProperty({
        value: '5790000000002',
        type: 'urn:oasis:names:tc:ebcore:partyid-type:iso6523:0088',
      }),
      '0088:5790000000002',
    );
    assert.equal(normaliseParticipant('iso6523-actorid-upis::0088:579000000000X'), '0088:579000000000x');
    assert.equal(
      normaliseParticipant('urn:oasis:names:tc:ebcore:partyid-type:iso6523:0088:5790000000002'),
      '0088:5790000000002',
    );
    const ebcore = userMessage({
      finalRecipient: { value: '5790000000002', type: 'urn:oasis:names:tc:ebcore:partyid-type:iso6523:0088' },
    });
    assert.equal(receivingPMode(ebcore, us).id, 'ehmi-receive');
  });
});

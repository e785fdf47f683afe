import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { UserMessage } from '../../src/model/user-message.ts';
import { findPMode } from '../../src/pmode/match.ts';
import { createPMode } from '../../src/pmode/profiles.ts';

const T = 'urn:oasis:names:tc:ebcore:partyid-type:iso6523:0088';
const a = createPMode({ id: 'a', service: { value: 'urn:s' }, action: 'urn:a1' });
const b = createPMode({
  id: 'b',
  service: { value: 'urn:s' },
  action: 'urn:a2',
  agreement: { value: 'urn:ag' },
  responder: { partyIds: [{ value: '579', type: T }] },
});
const um = (
  action: string,
  extra: Partial<UserMessage['collaborationInfo']> = {},
  to = '579',
): UserMessage => ({
  messageInfo: { timestamp: '2026-11-26T00:00:00Z', messageId: 'm@x' },
  partyInfo: {
    from: { partyIds: [{ value: '1', type: T }], role: 'r' },
    to: { partyIds: [{ value: to, type: T }], role: 'r' },
  },
  collaborationInfo: { service: { value: 'urn:s' }, action, conversationId: 'c', ...extra },
  messageProperties: [],
  payloadInfo: [],
});

describe('findPMode', () => {
  it('selects by Service and Action when the P-Mode names no parties (Dynamic Receiver template)', () => {
    assert.equal(findPMode([a, b], um('urn:a1')), a);
  });

  it('selects by AgreementRef/@pmode when it names a known P-Mode', () => {
    assert.equal(findPMode([a, b], um('urn:a1', { agreementRef: { value: 'x', pmode: 'b' } })), b);
  });

  it('ignores an unknown @pmode and falls back to matching (messages without a known @pmode are accepted)', () => {
    assert.equal(findPMode([a, b], um('urn:a1', { agreementRef: { value: 'x', pmode: 'zz' } })), a);
  });

  it('requires the AgreementRef when the P-Mode names an agreement', () => {
    assert.equal(findPMode([a, b], um('urn:a2')), undefined);
    assert.equal(findPMode([a, b], um('urn:a2', { agreementRef: { value: 'urn:ag' } })), b);
  });

  it('requires the responder party when the P-Mode names it', () => {
    assert.equal(findPMode([b], um('urn:a2', { agreementRef: { value: 'urn:ag' } }, '999')), undefined);
  });

  it('undefined when nothing matches', () => {
    assert.equal(findPMode([a, b], um('urn:other')), undefined);
  });
});

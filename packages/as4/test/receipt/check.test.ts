import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { MessagePartReference, SignalMessage } from '../../src/model/signal-message.ts';
import { checkReceiptNri } from '../../src/receipt/check.ts';

const SHA256 = 'http://www.w3.org/2001/04/xmlenc#sha256';
const ref = (uri: string, fill: number): MessagePartReference => ({
  uri,
  transforms: [],
  digestMethod: SHA256,
  digestValue: Buffer.alloc(32, fill).toString('base64'),
});
const sentRefs = [ref('#msg', 1), ref('#body', 2), ref('cid:p1@x', 3)];
const receipt = (nri: MessagePartReference[] | undefined, refTo = 'm1@x'): SignalMessage => ({
  messageInfo: { timestamp: '2026-11-26T00:00:00Z', messageId: 'r1@x', refToMessageId: refTo },
  errors: [],
  receipt: nri ? { userMessageEcho: false, nonRepudiationInformation: nri } : { userMessageEcho: true },
});
const sent = { messageId: 'm1@x', references: sentRefs };

describe('checkReceiptNri', () => {
  it('accepts a receipt that echoes every sent reference, in any order', () => {
    checkReceiptNri(receipt([...sentRefs].reverse()), sent);
  });

  it('accepts a digest written with whitespace (base64 is compared as octets)', () => {
    const spaced = {
      ...ref('cid:p1@x', 3),
      digestValue: `${ref('cid:p1@x', 3).digestValue.slice(0, 10)}\n  ${ref('cid:p1@x', 3).digestValue.slice(10)}`,
    };
    checkReceiptNri(receipt([sentRefs[0]!, sentRefs[1]!, spaced]), sent);
  });

  it('EBMS:0302 when the receipt refers to another message', () => {
    assert.throws(() => checkReceiptNri(receipt(sentRefs, 'other@x'), sent), { ebmsCode: 'EBMS:0302' });
  });

  it('EBMS:0302 when a sent reference is not acknowledged', () => {
    assert.throws(() => checkReceiptNri(receipt(sentRefs.slice(0, 2)), sent), { ebmsCode: 'EBMS:0302' });
  });

  it('EBMS:0302 when a digest differs', () => {
    assert.throws(() => checkReceiptNri(receipt([sentRefs[0]!, sentRefs[1]!, ref('cid:p1@x', 4)]), sent), {
      ebmsCode: 'EBMS:0302',
    });
  });

  it('EBMS:0302 when the digest method differs', () => {
    const sha1 = { ...sentRefs[2]!, digestMethod: 'http://www.w3.org/2000/09/xmldsig#sha1' };
    assert.throws(() => checkReceiptNri(receipt([sentRefs[0]!, sentRefs[1]!, sha1]), sent), {
      ebmsCode: 'EBMS:0302',
    });
  });

  it('EBMS:0302 when the receipt acknowledges something that was not sent', () => {
    assert.throws(() => checkReceiptNri(receipt([...sentRefs, ref('cid:extra@x', 5)]), sent), {
      ebmsCode: 'EBMS:0302',
    });
  });

  it('EBMS:0302 when a reference is listed twice', () => {
    assert.throws(() => checkReceiptNri(receipt([...sentRefs, sentRefs[0]!]), sent), {
      ebmsCode: 'EBMS:0302',
    });
  });

  it('EBMS:0302 for a receipt without NonRepudiationInformation', () => {
    assert.throws(() => checkReceiptNri(receipt(undefined), sent), { ebmsCode: 'EBMS:0302' });
  });
});

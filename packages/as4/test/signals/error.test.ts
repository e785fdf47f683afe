import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { EBMS_ERRORS, EhmiError, type EhmiErrorCode, ERROR_CODES } from '@ehmi/errors';
import { parseMessaging } from '../../src/ebms/parse.ts';
import { buildErrorSignal, ebmsErrorElement } from '../../src/signals/error.ts';
import { checkEnvelope } from '../../src/soap/envelope.ts';

describe('ebmsErrorElement', () => {
  // ebMS3 Core §6.7 and AS4 Profile §3.5: one EHMI_AS4_* code per ebMS error; each must come out with its code.
  const as4Codes = (Object.keys(ERROR_CODES) as EhmiErrorCode[]).filter((c) => c.startsWith('EHMI_AS4_'));

  it('covers every ebMS error code EBMS:0001–0011, 0101–0103, 0201–0202, 0301–0303', () => {
    const produced = new Set(as4Codes.map((c) => ebmsErrorElement(new EhmiError(c, 'x')).errorCode));
    assert.deepEqual([...produced].sort(), Object.keys(EBMS_ERRORS).sort());
  });

  for (const code of as4Codes) {
    const ebms = ERROR_CODES[code].ebms!;
    it(`${code} → ${ebms} ${EBMS_ERRORS[ebms].shortDescription} with severity, category and origin`, () => {
      const e = ebmsErrorElement(new EhmiError(code, 'why'), 'm1@x');
      assert.equal(e.errorCode, ebms);
      assert.equal(e.shortDescription, EBMS_ERRORS[ebms].shortDescription);
      assert.equal(e.severity, EBMS_ERRORS[ebms].severity);
      assert.equal(e.category, EBMS_ERRORS[ebms].category);
      assert.equal(e.refToMessageInError, 'm1@x');
      assert.equal(e.errorDetail, code);
    });
  }

  it('does not leak the message of an unexpected error (EBMS:0004 "Internal error")', () => {
    const e = ebmsErrorElement(new Error('db password wrong'));
    assert.equal(e.errorCode, 'EBMS:0004');
    assert.equal(e.description, 'Internal error');
  });
});

describe('buildErrorSignal', () => {
  it('builds an eb:SignalMessage with RefToMessageId and refToMessageInError that parses back', () => {
    const built = buildErrorSignal(new EhmiError('EHMI_AS4_DECOMPRESSION_FAILURE', 'bad gzip'), {
      refToMessageInError: 'm1@x',
      messageId: 'e1@x',
    });
    const m = parseMessaging(checkEnvelope(built.document).messaging);
    assert.equal(m.kind, 'signal');
    if (m.kind !== 'signal') return;
    assert.deepEqual(m.signalMessages[0], built.signal);
    assert.equal(m.signalMessages[0]?.messageInfo.refToMessageId, 'm1@x');
    assert.equal(m.signalMessages[0]?.errors[0]?.refToMessageInError, 'm1@x');
    assert.equal(m.signalMessages[0]?.errors[0]?.errorCode, 'EBMS:0303');
  });

  it('takes RefToMessageInError from err.details.messageId', () => {
    const built = buildErrorSignal(
      new EhmiError('EHMI_AS4_INVALID_HEADER', 'x', { details: { messageId: 'm2@x' } }),
    );
    assert.equal(built.signal.errors[0]?.refToMessageInError, 'm2@x');
  });

  it('omits RefToMessageId when the message in error is unknown (unparseable input)', () => {
    const built = buildErrorSignal(new EhmiError('EHMI_AS4_MIME_INCONSISTENCY', 'x'));
    assert.equal(built.signal.messageInfo.refToMessageId, undefined);
    assert.equal(built.signal.errors[0]?.refToMessageInError, undefined);
  });

  it('carries several errors in one signal', () => {
    const built = buildErrorSignal([
      new EhmiError('EHMI_AS4_INVALID_HEADER', 'a'),
      new EhmiError('EHMI_AS4_POLICY_NONCOMPLIANCE', 'b'),
    ]);
    assert.deepEqual(
      built.signal.errors.map((e) => e.errorCode),
      ['EBMS:0009', 'EBMS:0103'],
    );
  });

  it('escapes markup in descriptions', () => {
    const built = buildErrorSignal(new EhmiError('EHMI_AS4_OTHER', '<b>&"x"'));
    const m = parseMessaging(checkEnvelope(built.document).messaging);
    assert.equal(m.kind === 'signal' && m.signalMessages[0]?.errors[0]?.description, '<b>&"x"');
  });
});

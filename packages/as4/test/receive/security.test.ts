import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { checkSignedCoverage, isEncrypted } from '../../src/receive/security.ts';
import { parseEnvelope } from '../../src/soap/envelope.ts';
import type { VerifyResult } from '../../src/wss/verify.ts';
import { readVector, userMessageEnvelope } from '../helpers.ts';

const result = (messaging: unknown, body: unknown) =>
  ({
    references: [
      { target: 'Messaging', signedElement: messaging },
      { target: 'Body', signedElement: body },
    ],
  }) as unknown as VerifyResult;

describe('checkSignedCoverage (the element processed is the element signed)', () => {
  const env = parseEnvelope(userMessageEnvelope());

  it('accepts a signature over the very eb:Messaging and Body that were parsed', () => {
    checkSignedCoverage(env, result(env.messaging, env.body));
  });

  it('EBMS:0101 when the signed eb:Messaging is another element (wrapping)', () => {
    const other = parseEnvelope(userMessageEnvelope()).messaging;
    assert.throws(() => checkSignedCoverage(env, result(other, env.body)), { ebmsCode: 'EBMS:0101' });
  });

  it('EBMS:0101 when the Body is not among the signed elements', () => {
    assert.throws(() => checkSignedCoverage(env, result(env.messaging, undefined)), {
      ebmsCode: 'EBMS:0101',
    });
  });
});

describe('isEncrypted', () => {
  it('true for the phase4 signed+encrypted message', () => {
    const v = readVector('phase4-peppol-usermessage-signed-encrypted.mime');
    const xml = v.body.toString('latin1');
    const start = xml.indexOf('<?xml');
    const end = xml.indexOf('</S12:Envelope>') + '</S12:Envelope>'.length;
    assert.equal(isEncrypted(parseEnvelope(Buffer.from(xml.slice(start, end), 'latin1'))), true);
  });

  it('false for a message without a Security header', () => {
    assert.equal(isEncrypted(parseEnvelope(userMessageEnvelope())), false);
  });
});

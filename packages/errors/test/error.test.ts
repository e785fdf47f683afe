import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  EBMS_ERRORS,
  EhmiError,
  ERROR_CODES,
  toCliExit,
  toEbmsError,
  toHttpStatus,
  toOperationOutcome,
} from '../src/index.ts';

describe('EhmiError', () => {
  it('maps a validation error to 422, an OperationOutcome naming the element, and exit 1', () => {
    const err = new EhmiError('EHMI_VALIDATION_FAILED', 'MessageHeader must be the first entry', {
      expression: ['Bundle.entry[0].resource'],
    });
    assert.equal(toHttpStatus(err), 422);
    const oo = toOperationOutcome(err);
    assert.equal(oo.resourceType, 'OperationOutcome');
    assert.equal(oo.issue[0]?.severity, 'error');
    assert.equal(oo.issue[0]?.code, 'invalid');
    assert.deepEqual(oo.issue[0]?.expression, ['Bundle.entry[0].resource']);
    assert.equal(oo.issue[0]?.details?.coding?.[0]?.code, 'EHMI_VALIDATION_FAILED');
    assert.deepEqual(toCliExit(err), {
      exitCode: 1,
      message: 'ehmi: MessageHeader must be the first entry (at Bundle.entry[0].resource)',
    });
  });

  it('carries the ebMS code of an AS4 condition into the error signal with RefToMessageInError', () => {
    const err = new EhmiError('EHMI_AS4_FAILED_AUTHENTICATION', 'digest mismatch on cid:p1');
    const signal = toEbmsError(err, 'abc@ehmi');
    assert.equal(signal.code, 'EBMS:0101');
    assert.equal(signal.shortDescription, 'FailedAuthentication');
    assert.equal(signal.category, 'Processing');
    assert.equal(signal.origin, 'security');
    assert.equal(signal.severity, 'failure');
    assert.equal(signal.refToMessageInError, 'abc@ehmi');
    assert.equal(signal.errorDetail, 'EHMI_AS4_FAILED_AUTHENTICATION');
  });

  it('lets a caller override the ebMS code for a more precise mapping', () => {
    const err = new EhmiError('EHMI_XML_MALFORMED', 'SOAP header is not XML', { ebms: 'EBMS:0009' });
    assert.equal(toEbmsError(err).code, 'EBMS:0009');
  });

  it('turns an unexpected error into EHMI_INTERNAL without leaking its message to clients', () => {
    const oo = toOperationOutcome(new TypeError('secret path /etc/x'));
    assert.equal(oo.issue[0]?.severity, 'fatal');
    assert.equal(oo.issue[0]?.details?.text, 'Internal error');
    assert.equal(toHttpStatus(new Error('x')), 500);
    assert.equal(toCliExit(new Error('x')).exitCode, 70);
    assert.equal(toEbmsError(new Error('secret')).description, 'Internal error');
  });

  it('makes a multi-line message one line for the CLI', () => {
    const { message } = toCliExit(new EhmiError('EHMI_USAGE', 'first\n  second'));
    assert.equal(message, 'ehmi: first second');
  });

  it('defines every AS4 ebMS code exactly once, each with a known ebMS entry', () => {
    const mapped = Object.entries(ERROR_CODES)
      .filter(([code]) => code.startsWith('EHMI_AS4_'))
      .map(([, d]) => ('ebms' in d ? d.ebms : undefined));
    assert.deepEqual([...mapped].sort(), Object.keys(EBMS_ERRORS).sort());
  });

  it('tells a revoked certificate from an untrusted one, both a 403 security issue and EBMS:0101 over AS4', () => {
    const err = new EhmiError('EHMI_CERTIFICATE_REVOKED', 'the certificate "CN=ap.gp" was revoked');
    assert.equal(toHttpStatus(err), 403);
    assert.equal(toOperationOutcome(err).issue[0]?.code, 'security');
    assert.equal(toEbmsError(err).code, 'EBMS:0101');
    assert.equal(toCliExit(err).exitCode, 1);
    assert.deepEqual(ERROR_CODES.EHMI_CERTIFICATE_REVOKED, {
      ...ERROR_CODES.EHMI_CERTIFICATE_UNTRUSTED,
    });
  });
});

import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Bundle } from '@medplum/fhirtypes';
import { buildAcknowledgement, buildHomeCareObservationMessage, validateResource } from '../../src/index.ts';
import { sampleInput } from './input.ts';

// Cross-check with the package's profile validator (HomeCareObservation 1.2.1, Acknowledgement 2.0.3 and their
// dependencies): a built message must raise no error, only the warnings MedCom's own examples raise.
function errors(bundle: Bundle): string[] {
  return validateResource(bundle)
    .issue.filter((i) => i.severity === 'error' || i.severity === 'fatal')
    .map((i) => `${i.expression?.join(',')}: ${i.diagnostics ?? i.details?.text}`);
}

test('a built HomeCareObservation message passes the MedCom profile validator', () => {
  assert.deepEqual(errors(buildHomeCareObservationMessage(sampleInput())), []);
});

test('a built HomeCareObservation message without requester initials passes the validator', () => {
  const input = sampleInput();
  input.receiver.requesterInitials = undefined;
  assert.deepEqual(errors(buildHomeCareObservationMessage({ ...input, restricted: true })), []);
});

test('built ok, transient-error and fatal-error acknowledgements pass the validator', () => {
  const msg = buildHomeCareObservationMessage(sampleInput());
  assert.deepEqual(errors(buildAcknowledgement(msg, { code: 'ok' })), []);
  for (const code of ['transient-error', 'fatal-error'] as const) {
    const ack = buildAcknowledgement(msg, {
      code,
      issues: [{ severity: 'error', code: 'value', details: 'MSG_VALUESET_VALUE_UNKNOWN', text: 'x' }],
    });
    assert.deepEqual(errors(ack), [], code);
  }
});

test('the validator cross-check can fail: a message without its sender Organization has errors', () => {
  const msg = buildHomeCareObservationMessage(sampleInput());
  msg.entry = msg.entry?.filter(
    (e) => !e.resource?.meta?.profile?.[0]?.endsWith('medcom-producer-organization'),
  );
  assert.notDeepEqual(errors(msg), []);
});

test('built modifying and retracting messages pass the validator (HomeCare messaging activities)', () => {
  for (const change of ['modified', 'retracted'] as const) {
    const input = { ...sampleInput(), replaces: { messageHeaderId: crypto.randomUUID(), change } };
    assert.deepEqual(errors(buildHomeCareObservationMessage(input)), [], change);
  }
});

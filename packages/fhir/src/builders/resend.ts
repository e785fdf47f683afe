import type { Bundle } from '@medplum/fhirtypes';
import { type BuildContext, instant, invalidInput, resolveContext } from './common.ts';

/**
 * The same message, sent again: a copy with a new `Bundle.id` and `Bundle.timestamp` and everything else
 * unchanged, MessageHeader.id included. MedCom reliable messaging: a resent message gets a new envelope id and
 * time (Rules_Messaging MR7.R; 020 §1.1 "change the MessageEnvelopeId and MessageSentTime"), and a resent
 * acknowledgement carries "the same ack content" as the first (020 §1.1, scenario #2). The input is not modified.
 *
 * @example
 * const again = resendMessage(firstAck); // again.id !== firstAck.id; again.entry equals firstAck.entry
 */
export function resendMessage(message: Bundle, context: BuildContext = {}): Bundle {
  if (message?.resourceType !== 'Bundle' || message.type !== 'message') {
    throw invalidInput('Bundle', 'is not a FHIR message Bundle (type = message)');
  }
  const { now, newId } = resolveContext(context);
  const copy = structuredClone(message);
  copy.id = newId();
  copy.timestamp = instant(now());
  return copy;
}

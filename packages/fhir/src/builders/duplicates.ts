/**
 * What a receiver does with a message, by whether its Bundle.id and MessageHeader.id were seen before
 * (MedCom 043 Reliable Messaging FHIR, duplicate table; Rules_Messaging MR8.R):
 * - `new`: both new; process it and acknowledge it.
 * - `duplicate`: both seen; the acknowledgement was lost. Send the original acknowledgement again
 *   (`buildAcknowledgement(received, { previous })`), do not show the message to the user again.
 * - `resent`: MessageHeader.id seen, Bundle.id new: the sender resent it unchanged (scenario #3). MR8.R makes it
 *   a duplicate: acknowledge it as the original was (043 also allows reprocessing or rejecting it).
 * - `bundle-id-reused`: Bundle.id seen with a new MessageHeader.id. An error: a Bundle.id is never reused.
 */
export type ReceivedMessageCase = 'new' | 'duplicate' | 'resent' | 'bundle-id-reused';

/**
 * Classify a received message for duplicate handling; the caller looks the ids up in its own durable cache
 * (kept at least 1 minute longer than the sender's timeout, 043).
 *
 * @example
 * classifyReceivedMessage({ bundleIdSeen: true, messageHeaderIdSeen: true }); // 'duplicate'
 */
export function classifyReceivedMessage(seen: {
  bundleIdSeen: boolean;
  messageHeaderIdSeen: boolean;
}): ReceivedMessageCase {
  if (seen.messageHeaderIdSeen) return seen.bundleIdSeen ? 'duplicate' : 'resent';
  return seen.bundleIdSeen ? 'bundle-id-reused' : 'new';
}

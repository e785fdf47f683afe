import { buildAcknowledgement, classifyReceivedMessage, stringifyFhirJson } from '@ehmi/fhir';
import { type EhmiEnvelope, wrapMessage } from '@ehmi/sbdh';
import type { InboundEnvelope } from '../../contract.ts';
import { type MshCore, putBlob } from '../core.ts';
import { factsNow } from '../delivery-status.ts';
import { addSubmission, type BuiltEnvelope, envelopeIdOf } from '../envelopes.ts';
import { fhirText } from '../fhir-body.ts';
import { transition } from '../lifecycle.ts';
import { claimReceived, findInboxItem, seenKeys } from '../repository.ts';
import { receiptFor } from './receipts.ts';

/** FHIR Bundle as the @ehmi/fhir builders type it. */
type Bundle = Parameters<typeof buildAcknowledgement>[0];

/** What identifies a received message for the duplicate cache. */
export interface MessageKeys {
  mh?: string;
  bundle?: string;
  type: string;
  resource?: Record<string, unknown>;
}

export type DuplicateVerdict =
  | { kind: 'new'; keys: string[] }
  | { kind: 'duplicate'; inboxId: string; classification: string }
  | { kind: 'reused'; reason: string };

/**
 * Duplicate cache (ehmi-core §6.1; MedCom 043; MR8.R) on the SBDH InstanceIdentifier, the MessageHeader.id and the
 * Bundle.id, scoped by the sending party, as unique keys: on one PostgreSQL two instances cannot both deliver a
 * message. A key reused for another message is refused (`reused`).
 */
export async function checkDuplicate(
  core: MshCore,
  env: EhmiEnvelope,
  info: MessageKeys,
): Promise<DuplicateVerdict> {
  const sender = env.sender.value.toLowerCase();
  const keys = {
    env: `env:${sender}|${envelopeIdOf(env)}`,
    ...(info.mh ? { mh: `mh:${sender}|${info.mh}` } : {}),
    ...(info.bundle ? { bundle: `bundle:${sender}|${info.bundle}` } : {}),
  };
  const all = Object.values(keys);
  const seen = new Map((await seenKeys(core.store.db, all)).map((r) => [r.key, r.inbox_id]));
  if (seen.size === 0) return { kind: 'new', keys: all };
  const byHeader = keys.mh ? seen.get(keys.mh) : undefined;
  const byEnvelope = seen.get(keys.env);
  const classification = classifyReceivedMessage({
    bundleIdSeen: keys.bundle ? seen.has(keys.bundle) : false,
    messageHeaderIdSeen: byHeader !== undefined,
  });
  // MR8.R: the same MessageHeader.id is a duplicate, whatever its envelope ('duplicate' or 'resent').
  if (byHeader) return { kind: 'duplicate', inboxId: byHeader, classification };
  if (byEnvelope && !keys.mh) return { kind: 'duplicate', inboxId: byEnvelope, classification: 'duplicate' };
  if (byEnvelope) {
    return {
      kind: 'reused',
      reason: `EnvelopeIdentifier ${envelopeIdOf(env)} was used before for another message (ehmiSBDH: EnvelopeIdentifier values SHALL never be reused)`,
    };
  }
  return {
    kind: 'reused',
    reason: `Bundle.id ${info.bundle} was used before with another MessageHeader.id (MedCom 043: a Bundle.id is never reused)`,
  };
}

/**
 * A duplicate (MR8.R; 020 §1.2 #2): not shown, logged, answered with the same EnvelopeReceipt content (the first
 * receipt's MESSAGEIDENTIFIER, for this envelope) and, when the EUA acknowledged the original, the stored
 * acknowledgement again with a new Bundle.id and timestamp.
 */
export async function deliverDuplicate(
  core: MshCore,
  inbound: InboundEnvelope,
  env: EhmiEnvelope,
  info: MessageKeys,
  inboxId: string,
  kind: string,
): Promise<void> {
  const item = await findInboxItem(core.store.db, inboxId);
  const receipt = receiptFor(env, item?.receipt_message_id);
  const receiptBlob = await putBlob(core, receipt.xml);
  const ack =
    item?.ack_hash && item.ack_message_id && info.resource
      ? await acknowledgementAgain(core, item.ack_hash, info.resource, env)
      : undefined;
  const now = core.now();
  await core.store.transaction(async (trx) => {
    const detail = `duplicate (${kind}) of inbox item ${inboxId}, envelope ${envelopeIdOf(env)}`;
    if (!(await claimReceived(trx, inbound.as4MessageId, 'duplicate', inboxId, detail, now))) return;
    await addSubmission(core, trx, receipt, receiptBlob, 'receipt', null);
    if (ack && item?.ack_message_id) {
      await transition(trx, { id: item.ack_message_id }, 'wrapped', {
        detail: `acknowledgement sent again for a duplicate: envelope ${envelopeIdOf(ack.built.envelope)}`,
        time: now,
        report: { eds: core.eds, facts: factsNow(core, ack.built.envelope) },
      });
      await addSubmission(core, trx, ack.built, ack.blob, 'message', item.ack_message_id);
    }
  });
  core.wake();
  // "Never show duplicates, SHALL log them" (ehmi-core §6.1).
  core.logger.info(
    { inboxId, messageHeaderId: info.mh, envelopeId: envelopeIdOf(env), kind },
    'duplicate message not delivered again (MR8.R)',
  );
}

/** The stored acknowledgement sent again for a duplicate (MedCom 020 §1.1: same content, new Bundle.id/timestamp). */
async function acknowledgementAgain(
  core: MshCore,
  ackHash: string,
  received: Record<string, unknown>,
  receivedEnvelope: EhmiEnvelope,
): Promise<{ built: BuiltEnvelope; blob: { hash: string; size: number } }> {
  const previous = JSON.parse(fhirText(await core.store.blobs.read(ackHash), 'json')) as Bundle;
  const again = buildAcknowledgement(received as unknown as Bundle, { code: 'ok', previous });
  const wrapped = await wrapMessage(stringifyFhirJson(again), { original: receivedEnvelope });
  const blob = await putBlob(core, wrapped.xml);
  return { built: { xml: wrapped.xml, envelope: wrapped.envelope }, blob };
}

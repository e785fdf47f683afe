import { EhmiError } from '@ehmi/errors';
import {
  type EhmiEnvelope,
  payloadOf,
  type ReceiptKeys,
  receiptKeysOf,
  scopeValue,
  serializeEnvelope,
} from '@ehmi/sbdh';
import { QUEUES } from '../path.ts';
import type { Db, MshCore } from './core.ts';
import { factsJson } from './delivery-status.ts';
import { type FhirFormat, formatOfMime, readFhir } from './fhir-body.ts';
import type { MshSubmissionsTable } from './tables.ts';

/** The job of the `msh.dispatch` queue: one submission to hand to the access point. */
export interface DispatchPayload {
  submissionId: string;
}

/** A built envelope, ready to be stored and queued. */
export interface BuiltEnvelope {
  xml: string;
  envelope: EhmiEnvelope;
}

export function builtEnvelope(envelope: EhmiEnvelope): BuiltEnvelope {
  return { xml: serializeEnvelope(envelope), envelope };
}

/** SBDH InstanceIdentifier: the envelope's id, and its AP submissionId. */
export function envelopeIdOf(envelope: EhmiEnvelope): string {
  return envelope.documentIdentification.instanceIdentifier;
}

/** The AP's view of an envelope: who to, and the SMP document type and process (its DOCUMENTID/PROCESSID). */
export function routing(envelope: EhmiEnvelope) {
  return {
    sender: envelope.sender.value,
    receiver: envelope.receiver.value,
    document_type: scopeValue(envelope, 'DOCUMENTID') ?? '',
    process: scopeValue(envelope, 'PROCESSID') ?? '',
  };
}

/**
 * Add a submission (one envelope for the AP, its id the SBDH InstanceIdentifier) and, unless it is held, its
 * dispatch job, in the caller's transaction.
 */
export async function addSubmission(
  core: MshCore,
  trx: Db,
  built: BuiltEnvelope,
  blob: { hash: string; size: number },
  purpose: MshSubmissionsTable['purpose'],
  messageId: string | null,
  held = false,
): Promise<string> {
  const now = core.now();
  const id = envelopeIdOf(built.envelope);
  await trx
    .insertInto('msh_submissions')
    .values({
      id,
      message_id: messageId,
      purpose,
      status: held ? 'held' : 'queued',
      ...routing(built.envelope),
      envelope_hash: blob.hash,
      envelope_size: blob.size,
      as4_message_id: null,
      ebms_code: null,
      reason: null,
      created_at: now,
      updated_at: now,
      // Its AP reports 03.x/08.x/13.x/18.x with these. An archive copy's are its own delivery's, pointing to the
      // message it copies (`edsFactsOf`: ehmiOrigMessage), so they stay out of the message's journey.
      eds_facts: factsJson(core, built.envelope),
      receipt_keys: receiptKeysJson(built.envelope),
    })
    .execute();
  if (!held) await queueDispatch(core, trx, id);
  return id;
}

/** What a submission keeps of its envelope for its EnvelopeReceipt's check: the keys its row does not hold. */
function receiptKeysJson(envelope: EhmiEnvelope): string {
  const { envelopeIdentifier: _id, sender: _s, receiver: _r, ...rest } = receiptKeysOf(envelope);
  return JSON.stringify(rest);
}

/** The {@link ReceiptKeys} a submission kept (undefined for a row from before they were kept). */
export function receiptKeysOfRow(row: {
  id: string;
  sender: string;
  receiver: string;
  receipt_keys: string | null;
}): ReceiptKeys | undefined {
  if (!row.receipt_keys) return undefined;
  const rest = JSON.parse(row.receipt_keys) as Omit<
    ReceiptKeys,
    'envelopeIdentifier' | 'sender' | 'receiver'
  >;
  return { ...rest, envelopeIdentifier: row.id, sender: row.sender, receiver: row.receiver };
}

/** The `msh.dispatch` job of a submission, in the caller's transaction. */
export async function queueDispatch(core: MshCore, trx: Db, submissionId: string): Promise<void> {
  await core.queue.enqueue(trx, {
    queue: QUEUES.dispatch,
    payload: { submissionId } satisfies DispatchPayload,
  });
}

/** A MedCom message's Bundle from its envelope, and the format it travels in. */
export function bundleOfEnvelope(envelope: EhmiEnvelope): {
  bundle: Record<string, unknown>;
  format: FhirFormat;
} {
  const format = formatOfMime(envelope.binaryContent.mimeType);
  if (!format) {
    throw new EhmiError(
      'EHMI_NOT_SUPPORTED',
      `the payload is ${envelope.binaryContent.mimeType}, not a FHIR message`,
    );
  }
  return { bundle: readFhir(payloadOf(envelope), format), format };
}

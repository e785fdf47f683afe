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
import { insertRow } from '../store/index.ts';
import type { Db, MshCore } from './core.ts';
import { factsKept } from './delivery-status.ts';
import { type FhirFormat, formatOfMime, readFhir } from './fhir-body.ts';
import { transition } from './lifecycle.ts';
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
 * Add a submission (one envelope for the AP, its id the SBDH InstanceIdentifier) in the caller's transaction, and
 * unless it is held hand it over: to an AP on the same store in this same transaction (`submitIn`: the AP's record,
 * its send job, and the hand-over's 02.2 and 03.1 commit with the caller's rows, and no `msh.dispatch` job is
 * written), else by its dispatch job. An archive copy and an envelope the AP would refuse (a routing field missing)
 * go by the job, whose failure path records why.
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
  const route = routing(built.envelope);
  // Its AP reports 03.x/08.x/13.x/18.x with these. An archive copy's are its own delivery's, pointing to the
  // message it copies (`edsFactsOf`: ehmiOrigMessage), so they stay out of the message's journey.
  const facts = factsKept(core, built.envelope);
  const row = {
    id,
    message_id: messageId,
    purpose,
    status: held ? ('held' as const) : ('queued' as const),
    ...route,
    envelope_hash: blob.hash,
    envelope_size: blob.size,
    as4_message_id: null as string | null,
    ebms_code: null,
    reason: null,
    created_at: now,
    updated_at: now,
    eds_facts: facts ? JSON.stringify(facts) : null,
    receipt_keys: receiptKeysJson(built.envelope),
  };
  const ap = core.accessPoint;
  const direct =
    !held &&
    purpose !== 'archive' &&
    ap.submitIn !== undefined &&
    ap.sharesStore?.(core.store.db) === true &&
    // What the AP refuses (`checkSubmission`: a value empty once trimmed) goes by the dispatch job, where that
    // refusal fails the one submission rather than the caller's whole transaction.
    [route.sender, route.receiver, route.document_type, route.process].every((v) => v.trim() !== '');
  if (!direct) {
    await insertRow(trx, 'msh_submissions', row);
    if (!held) await queueDispatch(core, trx, id, row);
    return id;
  }
  const accepted = await ap.submitIn!(trx, {
    submissionId: id,
    sender: route.sender,
    receiver: route.receiver,
    documentType: route.document_type,
    process: route.process,
    envelope: { size: blob.size, hash: blob.hash, open: () => core.store.blobs.open(blob) },
    ...(messageId ? { trackingIdentifier: messageId } : {}),
    ...(facts ? { eds: facts } : {}),
  });
  await insertRow(trx, 'msh_submissions', {
    ...row,
    status: 'submitted',
    as4_message_id: accepted.as4MessageId,
  });
  // The hand-over's steps of the message (02.2, 03.1), as the dispatch job records them.
  if (messageId && purpose === 'message') {
    const tracked = { id: messageId, envelopeId: id };
    const handedOver = await transition(trx, tracked, 'handedOver', {
      detail: `envelope ${id}`,
      time: now,
      report: { eds: core.eds, facts },
      webhooks: core.webhooks,
      firstForEnvelope: true,
    });
    if (handedOver) {
      await transition(trx, tracked, 'takenOver', {
        detail: `AS4 MessageId ${accepted.as4MessageId}`,
        time: now,
      });
    }
  }
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

/**
 * The `msh.dispatch` job of a submission, in the caller's transaction. `row`: the submission the caller just wrote,
 * handed to the job so that it does not read it back.
 */
export async function queueDispatch(
  core: MshCore,
  trx: Db,
  submissionId: string,
  row?: MshSubmissionsTable,
): Promise<void> {
  await core.queue.enqueue(trx, {
    queue: QUEUES.dispatch,
    payload: { submissionId } satisfies DispatchPayload,
    ...(row ? { local: row } : {}),
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

import { EhmiError } from '@ehmi/errors';
import {
  type AcknowledgementCode,
  type AcknowledgementIssue,
  buildAcknowledgement,
  stringifyFhirJson,
} from '@ehmi/fhir';
import { parse, wrapMessage } from '@ehmi/sbdh';
import { type MshCore, putBlob } from '../core.ts';
import { takeInboxItem } from '../delivery-status.ts';
import { bundleOfEnvelope } from '../envelopes.ts';
import { findInboxItem, noteAcknowledgement, type PatientRestriction } from '../repository.ts';
import { commitMessage, newMessage } from './message.ts';

/** FHIR Bundle as the @ehmi/fhir builders type it. */
type Bundle = Parameters<typeof buildAcknowledgement>[0];

export interface AcknowledgeBody {
  code?: unknown;
  issues?: unknown;
  text?: unknown;
}

const ACK_CODES: readonly AcknowledgementCode[] = ['ok', 'transient-error', 'fatal-error'];

/**
 * EUA API 9: the MedCom acknowledgement of a received message, built by the MSH for the EUA (Acknowledgement IG
 * 2.0.3), stored (a duplicate of the message gets it again, MedCom 020 §1.2 #2) and sent once, as a tracked message
 * of its own.
 */
export async function acknowledgeInbox(
  core: MshCore,
  inboxId: string,
  body: AcknowledgeBody,
  patient?: PatientRestriction,
  /** Who acknowledges (`client:<id>` or `person:<account>`), kept with the item and in the timeline. */
  by?: string,
): Promise<string> {
  const code = body.code ?? 'ok';
  if (typeof code !== 'string' || !(ACK_CODES as readonly string[]).includes(code)) {
    throw new EhmiError('EHMI_USAGE', `code must be one of ${ACK_CODES.join(', ')}`, {
      expression: ['code'],
    });
  }
  const item = await findInboxItem(core.store.db, inboxId, patient);
  if (!item) throw new EhmiError('EHMI_NOT_FOUND', `no inbox item ${inboxId}`);
  if (item.ack_message_id) {
    throw new EhmiError(
      'EHMI_CONFLICT',
      `inbox item ${inboxId} was acknowledged already (${item.ack_code}); an acknowledgement is sent once`,
      {
        details: { id: item.ack_message_id },
      },
    );
  }
  const received = parse(await core.store.blobs.read(item.envelope_hash));
  const { bundle } = bundleOfEnvelope(received);
  let issues = Array.isArray(body.issues) ? (body.issues as AcknowledgementIssue[]) : undefined;
  if (!issues && code !== 'ok') {
    // medcom-acknowledgement-1: a negative acknowledgement carries an OperationOutcome.
    const text =
      typeof body.text === 'string'
        ? body.text
        : code === 'fatal-error'
          ? 'The message was rejected by the receiving system'
          : 'The receiving system could not process the message now';
    issues = [{ severity: 'error', code: code === 'fatal-error' ? 'processing' : 'transient', text }];
  }
  const ack = buildAcknowledgement(bundle as unknown as Bundle, {
    code: code as AcknowledgementCode,
    ...(issues ? { issues } : {}),
  });
  const ackText = stringifyFhirJson(ack);
  const wrapped = await wrapMessage(ackText, { original: received });
  const ackBlob = await putBlob(core, ackText);
  const built = { xml: wrapped.xml, envelope: wrapped.envelope };
  const row = newMessage(core, {
    kind: 'acknowledgement',
    built,
    messageHeaderId: wrapped.facts.messageHeaderId,
    bundleId: wrapped.facts.bundleId,
    type: wrapped.facts.eventCode,
    // An acknowledgement names no Patient; it is about the acknowledged message's patient, so that a token
    // restricted to that patient tracks what it sent (DESIGN-NOTES.md "Tokens restricted to one patient").
    patientCpr: item.patient_cpr,
    // KR2.R: an acknowledgement is never acknowledged.
    expectsAcknowledgement: false,
    inboxId,
  });
  await commitMessage(core, row, built, {
    submitted: `acknowledgement ${code} of MessageHeader ${item.message_header_id}${by ? ` by ${by}` : ''}`,
    first: async (trx) => {
      const acknowledgement = {
        messageId: row.id,
        hash: ackBlob.hash,
        code,
        at: row.created_at,
        by: by ?? null,
      };
      if (!(await noteAcknowledgement(trx, inboxId, acknowledgement))) {
        throw new EhmiError(
          'EHMI_CONFLICT',
          `inbox item ${inboxId} was acknowledged already; an acknowledgement is sent once`,
        );
      }
      // Acknowledging takes the message, if the EUA had not read it before: 06.1.
      await takeInboxItem(core, item, trx);
    },
  });
  return row.id;
}

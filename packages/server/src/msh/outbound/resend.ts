import { EhmiError } from '@ehmi/errors';
import { jsonToXml, resendMessage, stringifyFhirJson } from '@ehmi/fhir';
import { parse, wrapMessage } from '@ehmi/sbdh';
import { type MshCore, putBlob } from '../core.ts';
import { factsNow } from '../delivery-status.ts';
import { addSubmission, bundleOfEnvelope, envelopeIdOf } from '../envelopes.ts';
import type { FhirFormat } from '../fhir-body.ts';
import { transition } from '../lifecycle.ts';
import { findMessage, type PatientRestriction } from '../repository.ts';
import type { MshMessagesTable } from '../tables.ts';

/** FHIR Bundle as the @ehmi/fhir builders type it. */
type Bundle = Parameters<typeof resendMessage>[0];

function fhirBytes(resource: Record<string, unknown>, format: FhirFormat): string {
  return format === 'xml'
    ? `<?xml version="1.0" encoding="UTF-8"?>${jsonToXml(resource)}`
    : stringifyFhirJson(resource);
}

/**
 * EUA API 5: resend a MedCom message (020 §1.1, MR7.R): a new SBDH InstanceIdentifier, a new Bundle.id and
 * timestamp, the same MessageHeader.id; at most `maxResends` times. Resending is always explicit (043 §1.1:
 * "Re-dispatches are always done manually").
 */
export async function resend(
  core: MshCore,
  id: string,
  patient?: PatientRestriction,
): Promise<MshMessagesTable> {
  const row = await findMessage(core.store.db, id, patient);
  if (!row) throw new EhmiError('EHMI_NOT_FOUND', `no sent message ${id}`);
  if (row.kind !== 'fhir') {
    throw new EhmiError(
      'EHMI_CONFLICT',
      `message ${id} is ${row.kind === 'payload' ? 'a payload' : 'an acknowledgement'}; only MedCom messages are resent`,
    );
  }
  if (row.status === 'acknowledged') {
    throw new EhmiError('EHMI_CONFLICT', `message ${id} is acknowledged (${row.ack_code}); it is not resent`);
  }
  if (row.resends >= core.config.maxResends) {
    // MedCom 020 §1.1: "The sender SHALL NOT resend more than 2 times".
    throw new EhmiError(
      'EHMI_CONFLICT',
      `message ${id} was resent ${row.resends} times, the most allowed (msh.maxResends)`,
      {
        details: { resends: row.resends },
      },
    );
  }
  const previous = parse(await core.store.blobs.read(row.envelope_hash));
  const { bundle, format } = bundleOfEnvelope(previous);
  const again = resendMessage(bundle as unknown as Bundle) as unknown as Record<string, unknown>;
  const wrapped = await wrapMessage(fhirBytes(again, format));
  const blob = await putBlob(core, wrapped.xml);
  const now = core.now();
  const envelopeId = envelopeIdOf(wrapped.envelope);
  const n = row.resends + 1;
  await core.store.transaction(async (trx) => {
    const moved = await transition(trx, { id }, 'resent', {
      detail: `resend ${n}: envelope ${envelopeId}, Bundle.id ${wrapped.facts.bundleId}`,
      time: now,
      resends: row.resends,
      report: { eds: core.eds, facts: factsNow(core, wrapped.envelope) },
      set: {
        failure_reason: null,
        failure_ebms: null,
        bundle_id: wrapped.facts.bundleId,
        envelope_id: envelopeId,
        envelope_hash: blob.hash,
        envelope_size: blob.size,
        resends: n,
        receipt_due: now + core.config.receiptTimeoutMs,
        ack_due: row.ack_code ? null : now + core.config.acknowledgementTimeoutMs,
      },
    });
    if (!moved) {
      throw new EhmiError('EHMI_CONFLICT', `message ${id} changed while it was being resent; try again`);
    }
    await addSubmission(core, trx, { xml: wrapped.xml, envelope: wrapped.envelope }, blob, 'message', id);
  });
  core.wake();
  return (await findMessage(core.store.db, id))!;
}
